package io.streamfold.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static io.streamfold.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SimulateCommandTest {

    @TempDir
    Path tmp;

    @Test
    void printsOutputsTimingAndWritesAVcd() throws Exception {
        Path model = CliTestSupport.example("mlp_bn");
        Path vcd = tmp.resolve("t.vcd");
        CliTestSupport.Run r = run("simulate", model.toString(), "--input", model.resolveSibling("inputs.npy").toString(), "--limit", "3",
                "--vcd", vcd.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(3, r.out().lines().filter(l -> l.startsWith("sample ")).count(), r.out());
        assertTrue(r.out().contains("II 4096 cycles"), r.out());
        assertTrue(Files.readString(vcd).contains("m_axis_tvalid"));
    }

    @Test
    void simulatesAFolderWrittenByConvertWithItsPlanAndFormats() {
        Path model = CliTestSupport.example("mlp_bn");
        Path out = tmp.resolve("design");
        assertEquals(0, run("convert", model.toString(), "-o", out.toString(), "--dsp-budget", "64", "--tb-count", "1").code());
        CliTestSupport.Run r = run("simulate", out.toString(), "--input", model.resolveSibling("inputs.npy").toString(), "--limit", "4");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("II 128 cycles (schedule 128)"), r.out());
        CliTestSupport.Run bad = run("simulate", tmp.toString(), "--input", model.resolveSibling("inputs.npy").toString());
        assertEquals(3, bad.code());
        assertTrue(bad.err().contains("not a folder written by convert"), bad.err());
    }

    @Test
    void aFolderIsRebuiltWithItsCalibrationAndOldFoldersWithMaxAbs() throws Exception {
        Path model = CliTestSupport.example("mlp_bn");
        Path out = tmp.resolve("design");
        String inputs = model.resolveSibling("inputs.npy").toString();
        assertEquals(0, run("convert", model.toString(), "-o", out.toString(), "--calibration", "max-abs", "--tb-count", "1").code());
        assertTrue(Files.readString(out.resolve("source.json")).contains("\"calibration\" : \"max-abs\""));
        assertTrue(Files.readString(out.resolve("report.json")).contains("\"calibration\" : \"max-abs\""));
        String want = run("simulate", model.toString(), "--calibration", "max-abs", "--input", inputs, "--limit", "20").out();
        assertEquals(want, run("simulate", out.toString(), "--input", inputs, "--limit", "20").out());
        // A folder written before --calibration existed has no such key: it was calibrated by max-abs.
        String source = Files.readString(out.resolve("source.json")).replace("\"calibration\" : \"max-abs\"", "\"unused\" : null");
        Files.writeString(out.resolve("source.json"), source);
        assertEquals(want, run("simulate", out.toString(), "--input", inputs, "--limit", "20").out());
    }

    @Test
    void csvInputOfTheWrongWidthIsBadInput() throws Exception {
        Path csv = tmp.resolve("x.csv");
        Files.writeString(csv, "1,2,3\n4,5,6\n");
        Path model = CliTestSupport.example("mlp_bn");
        CliTestSupport.Run r = run("simulate", model.toString(), "--input", csv.toString());
        assertEquals(3, r.code(), r.err());
        assertTrue(r.err().contains("x.csv"), r.err());
    }

    @Test
    void budgetAndArgmaxHead() throws Exception {
        Path model = CliTestSupport.example("mlp_bn");
        CliTestSupport.Run r = run("simulate", model.toString(), "--input", model.resolveSibling("inputs.npy").toString(), "--limit", "4",
                "--dsp-budget", "6464", "--argmax");
        org.junit.jupiter.api.Assertions.assertEquals(0, r.code(), r.err());
        org.junit.jupiter.api.Assertions.assertTrue(r.out().contains("(argmax head)") && r.out().contains("II 1 cycles"), r.out());
    }
}
