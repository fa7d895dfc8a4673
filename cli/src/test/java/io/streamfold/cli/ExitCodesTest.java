package io.streamfold.cli;

import io.streamfold.data.NdArray;
import io.streamfold.data.Npy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static io.streamfold.cli.CliTestSupport.example;
import static io.streamfold.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Issue 11, defects 6, 7 and 8: every exit code means what it says, in one line. */
class ExitCodesTest {

    @TempDir
    Path tmp;

    static void assertOneLine(CliTestSupport.Run r) {
        assertEquals(1, r.err().lines().count(), r.err());
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception"), r.err());
    }

    /** Option values outside their range, with the option each must name. */
    static Stream<List<String>> badOptions() {
        String m = example("mlp_bn").toString();
        List<List<String>> l = new ArrayList<>();
        for (String[] o : new String[][] {
            {"--weight-bits", "0"}, {"--weight-bits", "63"}, {"--act-bits", "0"}, {"--act-bits", "x"}, {"--fold", "/0/Gemm=0x8"},
            {"--fold", "/0/Gemm"}, {"--fold", "/0/Gemm=4x-8"}, {"--fold", "/0/Gemm=4x8@0"}, {"--fold", "/0/Gemm=4x8@"}, {"--fifo-depth", "1"}, {"--fifo-depth", "1000000000"},
            {"--percentile", "0"}, {"--percentile", "101"}, {"--percentile", "NaN"}, {"--input-elems", "0"}, {"--gaps", "1"},
            {"--gaps", "-0.1"}, {"--stalls", "0.999999"}, {"--dsp-budget", "-1"}, {"--tb-count", "0"}, {"--lut-index-bits", "0"},
            {"--lut-index-bits", "21"}, {"--target", "ecp5"}, {"--calibration", "minmax"}, {"--target-agreement", "1.5"}, {"--target-sqnr", "0"}, {"--target-sqnr", "x"}}) {
            l.add(List.of("convert", m, "-o", "unused", o[0], o[1]));
        }
        l.add(List.of("simulate", m, "--input", m, "--limit", "0"));
        l.add(List.of("simulate", m, "--input", m, "--limit", "-1"));
        l.add(List.of("verify", m, "--limit", "0"));
        l.add(List.of("verify", m, "--min-agreement", "95"));
        l.add(List.of("inspect", m, "--fold", "/0/Gemm=0x1"));
        l.add(List.of("batch", m, "-j", "0"));
        l.add(List.of("demo", "--dsp-budget", "-1"));
        l.add(List.of("convert", m, "-o", "unused", "--calibration", "mse", "--percentile", "99.9"));
        return l.stream();
    }

    @ParameterizedTest
    @MethodSource("badOptions")
    void optionValuesOutOfRangeAreUsageErrorsNamingTheOption(List<String> args) {
        CliTestSupport.Run r = run(args.toArray(String[]::new));
        assertEquals(2, r.code(), args + ": " + r.err());
        assertOneLine(r);
        String option = args.stream().filter(a -> a.startsWith("-")).reduce((a, b) -> b).orElseThrow();
        assertTrue(r.err().contains(option), r.err());
        assertFalse(Files.exists(Path.of("unused")));
    }

    @Test
    void inspectFailsOnAFoldThatDoesNotFit() {
        CliTestSupport.Run r = run("inspect", example("mlp_bn").toString(), "--fold", "/0/Gemm=5x8");
        assertEquals(3, r.code(), r.out() + r.err());
        assertOneLine(r);
        assertTrue(r.err().contains("/0/Gemm"), r.err());
    }

    @Test
    void aMissingCalibOrPlanSaysWhy() {
        Path calib = tmp.resolve("calib.npy");
        CliTestSupport.Run r = run("convert", example("mlp_bn").toString(), "-o", tmp.resolve("o").toString(), "--calib", calib.toString());
        assertEquals(3, r.code(), r.err());
        assertOneLine(r);
        assertNotEquals("error: " + calib + ": " + calib, r.err().strip());
        Path plan = tmp.resolve("plan.json");
        r = run("convert", example("mlp_bn").toString(), "-o", tmp.resolve("o").toString(), "--plan", plan.toString());
        assertEquals(3, r.code(), r.err());
        assertOneLine(r);
        assertTrue(r.err().startsWith("error: " + plan + ": "), r.err());
        assertFalse(Files.exists(tmp.resolve("o")));
    }

    @Test
    void aConfigFileErrorNamesTheConfigFile() throws Exception {
        Path cfg = Files.writeString(tmp.resolve("q.json"), "{\"layers\": {\"/0/Gemm\": {\"act\": {\"bits\": 8, \"frac\": -1000}}}}");
        CliTestSupport.Run r = run("convert", example("mlp_bn").toString(), "-o", tmp.resolve("o").toString(), "--config", cfg.toString());
        assertEquals(3, r.code(), r.err());
        assertOneLine(r);
        assertTrue(r.err().startsWith("error: " + cfg + ": "), r.err());
        Path unknown = Files.writeString(tmp.resolve("u.json"), "{\"layers\": {\"/9/Nope\": {\"weight_bits\": 4}}}");
        r = run("convert", example("mlp_bn").toString(), "-o", tmp.resolve("o").toString(), "--config", unknown.toString());
        assertEquals(3, r.code(), r.err());
        assertTrue(r.err().startsWith("error: " + unknown + ": /9/Nope: "), r.err());
    }

    @Test
    void environmentFailuresAreOneLineAndNotInternal() throws Exception {
        String m = example("mlp_bn").toString();
        // a name longer than the file system allows
        CliTestSupport.Run r = run("convert", m, "-o", tmp.resolve("x".repeat(300)).toString(), "--tb-count", "1");
        assertEquals(3, r.code(), r.err());
        assertOneLine(r);
        // a VCD into a folder that does not exist, and onto a full disk
        for (String vcd : List.of(tmp.resolve("missing").resolve("run.vcd").toString(), "/dev/full")) {
            if (vcd.equals("/dev/full") && !Files.exists(Path.of(vcd))) {
                continue;
            }
            r = run("simulate", m, "--input", example("mlp_bn").resolveSibling("inputs.npy").toString(), "--limit", "2", "--vcd", vcd);
            assertEquals(3, r.code(), vcd + ": " + r.err());
            assertOneLine(r);
            assertTrue(r.err().contains(vcd), r.err());
        }
        assertFalse(Files.exists(tmp.resolve("missing")));
    }

    @Test
    void anUnwritableFolderIsBadInputInOneLine() throws Exception {
        Path ro = Files.createDirectory(tmp.resolve("ro"));
        Files.setPosixFilePermissions(ro, java.nio.file.attribute.PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            org.junit.jupiter.api.Assumptions.assumeFalse(Files.isWritable(ro), "permissions are not enforced for this user (root)");
            CliTestSupport.Run r = run("convert", example("mlp_bn").toString(), "-o", ro.resolve("out").toString(), "--tb-count", "1");
            assertEquals(3, r.code(), r.err());
            assertOneLine(r);
            assertTrue(r.err().contains("permission denied"), r.err());
        } finally {
            Files.setPosixFilePermissions(ro, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    @Test
    void aFiveThousandCharacterNodeNameConverts() throws Exception {
        Path json = example("mlp_bn").getParent().getParent().resolve("json_mlp");
        Path model = tmp.resolve("long").resolve("model.json");
        Files.createDirectories(model.getParent());
        Files.copy(json.resolve("model.npz"), model.resolveSibling("model.npz"));
        String name = "relu" + "_very_long".repeat(500);
        Files.writeString(model, Files.readString(json.resolve("model.json")).replace("\"name\": \"relu1\"", "\"name\": \"" + name + "\""));
        Path out = tmp.resolve("out");
        CliTestSupport.Run r = run("convert", model.toString(), "--calib", json.resolve("calib.npy").toString(), "-o", out.toString(),
                "--tb-count", "1");
        assertEquals(0, r.code(), r.err());
        try (Stream<Path> s = Files.list(out)) {
            assertTrue(s.allMatch(p -> p.getFileName().toString().length() < 120));
        }
    }

    @Test
    void oneSampleHasNoMeasuredIntervalAndSaysSo() {
        Path inputs = example("mlp_bn").resolveSibling("inputs.npy");
        CliTestSupport.Run r = run("simulate", example("mlp_bn").toString(), "--input", inputs.toString(), "--limit", "1");
        assertEquals(0, r.code(), r.err());
        assertFalse(r.out().contains("II -1"), r.out());
        assertTrue(r.out().contains("schedule 4096"), r.out());
    }

    @Test
    void aLabelBeyond32BitsIsBadInput() throws Exception {
        Path labels = tmp.resolve("labels.npy");
        double[] ys = new double[300];
        ys[7] = 1e10;
        Npy.write(labels, new NdArray(new int[] {300}, ys));
        CliTestSupport.Run r = run("verify", example("mlp_bn").toString(), "--labels", labels.toString(), "--limit", "2");
        assertEquals(3, r.code(), r.err());
        assertOneLine(r);
        assertFalse(r.err().contains("2147483647"), r.err());
    }
}
