package io.streamfold.hw;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.compile.Pipeline;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.quant.QuantConfig;
import io.streamfold.testutil.Examples;
import io.streamfold.verilog.MemFile;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link PlaceWeights}: weight sets go to SPRAM largest first, only as far as block RAM needs it and
 * the SPRAM blocks allow; {@link DeviceTarget#checkFits} counts both memories; the weight-load
 * stream is the ROM's rows cut into 16-bit words.
 */
class PlaceWeightsTest {

    // mlp_bn: /0/Gemm 64x64 (32 kbit at 8 bits), /3/Gemm 32x64 (16 kbit), /6/Gemm 10x32 (2.5 kbit), plus biases
    private static Pipeline.Result compile(ParallelismPlan plan, DeviceTarget t) {
        Graph g = ModelLoader.load(Examples.onnx("mlp_bn"));
        List<double[]> calib = DataFiles.samples(Examples.dir("mlp_bn").resolve("calib.npy"), g.inputShape());
        return Pipeline.compile(g, new Pipeline.Settings(QuantConfig.defaults(), plan, 0, t), calib);
    }

    private static DeviceTarget device(long blockRamKbit, int sprams) {
        return new DeviceTarget("test", "", "", "", 0, -1, blockRamKbit * 1024, sprams, 48);
    }

    private static List<String> inSpram(HwDesign d) {
        return d.spramStages().stream().map(Stage.MatVec::source).toList();
    }

    @Test
    void nothingMovesWhileBlockRamHoldsEverything() {
        Pipeline.Result r = compile(ParallelismPlan.serial(), DeviceTarget.ICE40_UP5K);
        assertEquals(List.of(), inSpram(r.design()));
        assertEquals(r.design().romBits(), r.design().blockRomBits());
        assertEquals(0, r.design().weightLoad().length);
        assertEquals(0, r.context().counter(PlaceWeights.NAME, "weight sets in SPRAM"));
    }

    @Test
    void theLargestSetsMoveUntilTheRestFits() {
        Pipeline.Result one = compile(ParallelismPlan.serial(), device(30, 4));
        assertEquals(List.of("/0/Gemm"), inSpram(one.design()));
        assertEquals(1, one.context().counter(PlaceWeights.NAME, "weight sets in SPRAM"));
        assertTrue(one.design().blockRomBits() <= 30 * 1024);
        assertEquals(one.design().romBits() - 8L * 64 * 64, one.design().blockRomBits());
        // 4,096 rows of 8 bits: one block; the load stream is one word per row
        assertEquals(1, one.design().spramBlocks());
        assertEquals(4096, one.design().weightLoad().length);

        Pipeline.Result two = compile(ParallelismPlan.serial(), device(10, 4));
        assertEquals(List.of("/0/Gemm", "/3/Gemm"), inSpram(two.design()));
    }

    @Test
    void aSetTooWideForTheBlocksLeftIsSkippedForTheNext() {
        // /0/Gemm at PE 8 x SIMD 8: rows of 512 bits would take 32 blocks side by side
        Pipeline.Result r = compile(ParallelismPlan.serial().with("/0/Gemm", 8, 8), device(40, 4));
        assertEquals(List.of("/3/Gemm"), inSpram(r.design()));
    }

    @Test
    void whatStillDoesNotFitIsRefused() {
        ModelException e = assertThrows(ModelException.class, () -> compile(ParallelismPlan.serial(), device(10, 1)));
        assertEquals(Diagnostic.SF_UNSUPPORTED_HW, e.id());
        HwDesign d = compile(ParallelismPlan.serial(), device(10, 4)).design();
        // a hand-made placement beyond the device's blocks
        ModelException blocks = assertThrows(ModelException.class, () -> device(64, 1).checkFits(d));
        assertEquals(Diagnostic.SF_UNSUPPORTED_HW, blocks.id());
    }

    @Test
    void theLoadStreamIsEachRowCutIntoSixteenBitWordsLowBitsFirst() {
        // /0/Gemm too wide as above; /3/Gemm at PE 4 x SIMD 2: rows of 64 bits, four words each
        HwDesign d = compile(ParallelismPlan.serial().with("/0/Gemm", 8, 8).with("/3/Gemm", 4, 2), device(40, 4)).design();
        Stage.MatVec m = d.spramStages().get(0);
        assertEquals("/3/Gemm", m.source());
        assertEquals(64, m.rowBits());
        assertEquals(4, m.spramBlocks());
        String[] rows = MemFile.packed(m.weights(), m.pe() * m.simd(), m.op().weight().bits()).split("\n");
        int[] words = d.weightLoad();
        assertEquals(rows.length * 4, words.length);
        for (int r = 0; r < rows.length; r++) {
            for (int c = 0; c < 4; c++) {
                String hex = rows[r].substring(rows[r].length() - 4 * (c + 1), rows[r].length() - 4 * c);
                assertEquals(Integer.parseInt(hex, 16), words[r * 4 + c], "row " + r + " word " + c);
            }
        }
    }
}
