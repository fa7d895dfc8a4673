package io.streamfold.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static io.streamfold.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InspectCommandTest {

    @TempDir
    Path tmp;

    @Test
    void printsTheGraph() {
        CliTestSupport.Run r = run("inspect", CliTestSupport.example("cnn_seed").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("BatchNormalization"), r.out());
        assertTrue(r.out().contains("[8x4x4]"), r.out());
    }

    @Test
    void explainsFoldingAndPrintsFormats() {
        CliTestSupport.Run r = run("inspect", CliTestSupport.example("cnn_seed").toString(), "--act-bits", "12");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("/0/BatchNormalization: kept standalone: next conv /1/Conv is padded"), r.out());
        assertTrue(r.out().contains("moved past maxpool: 1"), r.out());
        assertTrue(r.out().contains("== quantize"), r.out());
        assertTrue(r.out().contains("Q(12,"), r.out());
        assertTrue(r.out().contains("== lower-to-hardware"), r.out());
        assertTrue(r.out().contains("SlidingWindow"), r.out());
    }

    @Test
    void printsThePlannedStages() {
        CliTestSupport.Run r = run("inspect", CliTestSupport.example("mlp_bn").toString(), "--dsp-budget", "64");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("planned for 64 DSP blocks"), r.out());
        assertTrue(r.out().contains("II 128 cycles, 52 multipliers (52 DSP blocks on generic)"), r.out());
    }

    @Test
    void aFoldMayGiveAConvSeveralPixelsPerWindow() {
        String m = CliTestSupport.example("cnn_seed").toString();
        CliTestSupport.Run r = run("inspect", m, "--fold", "/1/Conv=16x2@2", "--input-elems", "2");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("PE 16 x SIMD 2, 2 px"), r.out());
        assertTrue(r.out().contains("note: lower-to-hardware: /1/Conv: 2 pixels per window"), r.out());
        assertTrue(r.out().contains("s_axis 2 x"), r.out());
        // 3 pixels do not divide the row of 8; a Dense has no pixels: bad plans naming the layer, on one line
        for (String fold : new String[] {"/1/Conv=8x1@3", "/6/Gemm=1x1@2"}) {
            CliTestSupport.Run bad = run("inspect", m, "--fold", fold);
            assertEquals(3, bad.code(), fold + ": " + bad.err());
            assertTrue(bad.err().contains(fold.substring(0, fold.indexOf('='))), bad.err());
            assertEquals(1, bad.err().strip().lines().count(), bad.err());
        }
    }

    @Test
    void withoutCalibrationDataQuantizationIsABadInput() throws Exception {
        Path copy = tmp.resolve("m.onnx");
        Files.copy(CliTestSupport.example("mlp_bn"), copy);
        CliTestSupport.Run r = run("inspect", copy.toString());
        assertEquals(3, r.code());
        assertTrue(r.err().contains("no calibration data"), r.err());
        assertEquals(0, run("inspect", "--no-quant", copy.toString()).code());
    }

    @Test
    void missingFileIsBadInputOnOneLine() {
        CliTestSupport.Run r = run("inspect", tmp.resolve("none.onnx").toString());
        assertEquals(3, r.code());
        assertTrue(r.err().startsWith("error: "), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test
    void corruptModelIsBadInput() throws Exception {
        Path f = tmp.resolve("corrupt.onnx");
        Files.write(f, new byte[] {8, 7, 18, 3, 1, 2});
        CliTestSupport.Run r = run("inspect", f.toString());
        assertEquals(3, r.code());
        assertTrue(r.err().contains("corrupt.onnx"), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
    }

    @Test
    void usageErrorsExitWith2() {
        assertEquals(2, run("inspect").code());
        assertEquals(2, run("frobnicate").code());
        assertEquals(2, run().code());
    }
}
