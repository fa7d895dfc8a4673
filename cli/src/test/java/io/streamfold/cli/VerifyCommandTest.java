package io.streamfold.cli;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.data.NdArray;
import io.streamfold.data.Npy;
import io.streamfold.ir.Graph;
import io.streamfold.reference.FloatInterpreter;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static io.streamfold.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VerifyCommandTest {

    @TempDir
    Path tmp;

    @Test
    void mlpPassesWithAgreementAccuracyAndOnnxRuntime() {
        CliTestSupport.Run r = run("verify", CliTestSupport.example("mlp_bn").toString(), "--limit", "100");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("top-1 agreement float vs fixed: 100/100"), r.out());
        assertTrue(r.out().contains("accuracy: float"), "labels.npy beside the model is the default: " + r.out());
        assertTrue(r.out().contains("cycle simulator vs integer reference: 100/100 outputs identical"), r.out());
        assertTrue(r.out().contains("ONNX Runtime: max |diff| vs float64"), r.out());
        assertTrue(r.out().contains("/0/Gemm") && r.out().contains("SQNR"), "per-layer table: " + r.out());
        assertTrue(r.out().contains("verdict: PASS"), r.out());
        assertEquals("", r.err());
    }

    @Test
    void jsonHoldsEveryFigureThePrintedReportShows() throws Exception {
        java.nio.file.Path file = tmp.resolve("verify.json");
        CliTestSupport.Run r = run("verify", CliTestSupport.example("mlp_bn").toString(), "--limit", "40", "--json", file.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        com.fasterxml.jackson.databind.JsonNode j = new com.fasterxml.jackson.databind.ObjectMapper().readTree(file.toFile());
        assertEquals("streamfold-verify/1", j.path("schema").asText());
        assertEquals(40, j.path("samples").asInt());
        assertEquals("PASS", j.path("verdict").asText());
        assertEquals(0, j.path("failures").size());
        int agree = j.path("agreement").path("agree").asInt();
        assertTrue(r.out().contains("top-1 agreement float vs fixed: " + agree + "/40"), r.out());
        assertTrue(j.path("agreement").path("ok").asBoolean());
        assertEquals(40, j.path("simulator").path("identical").asInt());
        assertTrue(j.path("simulator").path("latency").asLong() > 0);
        assertTrue(j.path("accuracy").path("float").asDouble() > 0.5);
        com.fasterxml.jackson.databind.JsonNode first = j.path("layers").get(0);
        assertTrue(j.path("layers").size() >= 4 && first.has("node") && first.has("sqnr_db") && first.has("max_abs_error"), j.toString());
        for (com.fasterxml.jackson.databind.JsonNode l : j.path("layers")) {
            assertTrue(l.path("bound").isNumber() && l.path("max_abs_error").asDouble() <= l.path("bound").asDouble(), l.toString());
            assertTrue(l.path("bound_may_saturate").isBoolean(), l.toString());
        }
        assertTrue(j.path("error_bound").path("ok").asBoolean(), j.path("error_bound").toString());
        assertEquals(40, j.path("error_bound").path("verified_samples").asInt());
        assertEquals(0, j.path("error_bound").path("violations").size());
        String ort = j.path("onnx_runtime").path("status").asText();
        assertTrue(ort.equals("ok") ? j.path("onnx_runtime").path("max_abs_diff_vs_float").asDouble() < 1e-3 : ort.equals("unavailable"), ort);
        assertTrue(j.path("rtl").isNull());
    }

    /**
     * Every example: the per-layer table has a bound beside each measured error, none is exceeded,
     * and the printed figures are the JSON's.
     */
    @Test
    void theProvedBoundHoldsOnEveryExample() throws Exception {
        for (String model : io.streamfold.testutil.Examples.MODELS) {
            Path file = tmp.resolve(model + ".json");
            CliTestSupport.Run r = run("verify", CliTestSupport.example(model).toString(), "--limit", "30", "--json", file.toString());
            assertEquals(0, r.code(), model + ": " + r.out() + r.err());
            assertTrue(r.out().contains("max |err|       bound"), "bound column: " + r.out());
            assertTrue(r.out().contains("every measured error is within its bound: OK"), r.out());
            assertTrue(r.out().contains("per-element hull of 200 calibration and 30 verified samples"), r.out());
            com.fasterxml.jackson.databind.JsonNode j = new com.fasterxml.jackson.databind.ObjectMapper().readTree(file.toFile());
            for (com.fasterxml.jackson.databind.JsonNode l : j.path("layers")) {
                double bound = l.path("bound").asDouble();
                assertTrue(l.path("max_abs_error").asDouble() <= bound, model + " " + l);
                String line = r.out().lines().filter(x -> x.startsWith("  " + l.path("node").asText() + " ")).findFirst().orElseThrow();
                assertTrue(line.contains(io.streamfold.flow.Reports.number(bound) + (l.path("bound_may_saturate").asBoolean() ? "*" : " ")),
                        line + " shows " + bound);
            }
        }
    }

    @Test
    void agreementBelowTheThresholdFailsWithOne() {
        CliTestSupport.Run r = run("verify", CliTestSupport.example("mlp_bn").toString(), "--weight-bits", "4", "--act-bits", "4",
                "--min-agreement", "1.0");
        assertEquals(1, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("verdict: FAIL (top-1 agreement"), r.out());
    }

    @Test
    void minAgreementOutsideZeroToOneIsAUsageError() {
        assertEquals(2, run("verify", CliTestSupport.example("mlp_bn").toString(), "--min-agreement", "95").code());
    }

    @Test
    void nonIntegerLabelIsBadInputInOneLine() throws Exception {
        Path labels = tmp.resolve("labels.csv");
        Files.writeString(labels, "1\n2.5\n3\n");
        CliTestSupport.Run r = run("verify", CliTestSupport.example("mlp_bn").toString(), "--labels", labels.toString());
        assertEquals(3, r.code(), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("error: " + labels) && r.err().contains("label 1 is 2.5"), r.err());
    }

    @Test
    void labelCountMustMatchTheInputs() throws Exception {
        Path labels = tmp.resolve("labels.csv");
        Files.writeString(labels, "1\n2\n3\n");
        CliTestSupport.Run r = run("verify", CliTestSupport.example("mlp_bn").toString(), "--labels", labels.toString());
        assertEquals(3, r.code(), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().contains("3 labels for 300 inputs"), r.err());
    }

    @Test
    void missingDefaultInputsIsBadInputWithAHint() throws Exception {
        Path model = tmp.resolve("model.onnx");
        Files.copy(CliTestSupport.example("mlp_bn"), model);
        CliTestSupport.Run r = run("verify", model.toString(), "--calib", CliTestSupport.example("mlp_bn").resolveSibling("calib.npy").toString());
        assertEquals(3, r.code(), r.err());
        assertTrue(r.err().contains("no test inputs") && r.err().contains("--inputs"), r.err());
    }

    /** The first {@code n} rows of an example's (N, F) data file (from row {@code from}) as an .npy in {@code tmp}. */
    private Path rows(String file, int from, int n, String name) throws Exception {
        NdArray a = Npy.read(CliTestSupport.example("mlp_bn").resolveSibling(file));
        int per = a.data().length / a.shape()[0];
        int[] shape = a.shape().clone();
        shape[0] = n;
        Path out = tmp.resolve(name);
        Npy.write(out, new NdArray(shape, java.util.Arrays.copyOfRange(a.data(), from * per, (from + n) * per)));
        return out;
    }

    @Test
    void withoutCalibrationDataTheFirstHalfOfTheInputsCalibratesAndTheRestIsMeasured() throws Exception {
        Path model = tmp.resolve("model.onnx");
        Files.copy(CliTestSupport.example("mlp_bn"), model); // no calib.npy beside it
        Path inputs = rows("inputs.npy", 0, 120, "inputs.npy");
        Path labels = rows("labels.npy", 0, 120, "labels.npy");
        Path json = tmp.resolve("v.json");
        CliTestSupport.Run r = run("verify", model.toString(), "--inputs", inputs.toString(), "--labels", labels.toString(), "--json",
                json.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        List<String> lines = r.out().lines().filter(l -> l.startsWith("calibration: ")).toList();
        assertEquals(1, lines.size(), r.out());
        assertTrue(lines.get(0).startsWith("calibration: no --calib and no calib.npy beside the model: inputs 0-59 calibrate, "
                + "inputs 60-119 are measured; auto: "), lines.get(0));
        assertTrue(r.out().contains("verify " + model + ": 60 samples from " + inputs), r.out());
        com.fasterxml.jackson.databind.JsonNode j = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json.toFile());
        assertEquals(60, j.path("samples").asInt());
        com.fasterxml.jackson.databind.JsonNode cal = j.path("calibration");
        assertEquals(inputs.toString(), cal.path("file").asText());
        assertEquals(60, cal.path("samples").asInt());
        assertTrue(cal.path("from_inputs").asBoolean());
        assertEquals(60, cal.path("first_measured").asInt());
        assertTrue(cal.path("method").asText().startsWith("auto: "), cal.toString());
        assertEquals(60, j.path("agreement").path("samples").asInt());

        // The same as calibrating on the first 60 inputs given as a file and measuring the other 60.
        Path first = rows("inputs.npy", 0, 60, "first.npy");
        Path second = rows("inputs.npy", 60, 60, "second.npy");
        Path secondLabels = rows("labels.npy", 60, 60, "second_labels.npy");
        Path json2 = tmp.resolve("v2.json");
        CliTestSupport.Run split = run("verify", model.toString(), "--calib", first.toString(), "--inputs", second.toString(), "--labels",
                secondLabels.toString(), "--json", json2.toString());
        assertEquals(0, split.code(), split.out() + split.err());
        com.fasterxml.jackson.databind.JsonNode j2 = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json2.toFile());
        assertEquals(j.path("agreement"), j2.path("agreement"));
        assertEquals(j.path("accuracy"), j2.path("accuracy"));
        assertEquals(j.path("layers"), j2.path("layers"));
        assertFalse(j2.path("calibration").path("from_inputs").asBoolean());
        assertEquals(0, j2.path("calibration").path("first_measured").asInt());
        assertTrue(split.out().contains("calibration: 60 samples from " + first + "; auto: "), split.out());
    }

    @Test
    void oneInputAndNoCalibrationDataCannotBeSplit() throws Exception {
        Path model = tmp.resolve("model.onnx");
        Files.copy(CliTestSupport.example("mlp_bn"), model);
        CliTestSupport.Run r = run("verify", model.toString(), "--inputs", CliTestSupport.example("mlp_bn").resolveSibling("inputs.npy").toString(),
                "--limit", "1");
        assertEquals(3, r.code(), r.out() + r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().contains("cannot be split") && r.err().contains("--calib"), r.err());
    }

    @Test
    void onnxRuntimeRefusingAModelIsReportedNotThrown() throws Exception {
        Path junk = tmp.resolve("junk.onnx");
        Files.writeString(junk, "not a protobuf");
        OrtReference.Result r = OrtReference.run(junk, new int[] {4}, java.util.List.of(new double[4]));
        assertNull(r.outputs());
        assertNotNull(r.unavailable());
        assertTrue(!r.unavailable().isBlank());
    }

    @Test
    void jsonModelSaysOnnxRuntimeIsNotApplicable() {
        Path mlp = CliTestSupport.example("mlp_bn").getParent();
        Path json = mlp.getParent().resolve("json_mlp").resolve("model.json");
        CliTestSupport.Run r = run("verify", json.toString(), "--calib", mlp.resolve("calib.npy").toString(), "--inputs",
                mlp.resolve("inputs.npy").toString(), "--labels", mlp.resolve("labels.npy").toString(), "--limit", "20");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("ONNX Runtime: not applicable"), r.out());
    }

    @Test
    void dumpWritesFloatFixedAndOrtOutputs() throws Exception {
        Path out = tmp.resolve("dump");
        Path model = CliTestSupport.example("mlp_bn");
        CliTestSupport.Run r = run("verify", model.toString(), "--limit", "20", "--dump", out.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("dumped float.npy, fixed.npy, ort.npy"), r.out());
        NdArray f = Npy.read(out.resolve("float.npy"));
        NdArray q = Npy.read(out.resolve("fixed.npy"));
        NdArray o = Npy.read(out.resolve("ort.npy"));
        Graph g = ModelLoader.load(model);
        List<double[]> xs = DataFiles.samples(model.resolveSibling("inputs.npy"), g);
        for (NdArray a : List.of(f, q, o)) {
            assertArrayEquals(new int[] {20, 10}, a.shape());
        }
        double range = java.util.Arrays.stream(f.data()).max().orElseThrow() - java.util.Arrays.stream(f.data()).min().orElseThrow();
        for (int s = 0; s < 20; s++) {
            assertArrayEquals(FloatInterpreter.run(g, xs.get(s)), f.row(s), 0.0, "float.npy is the float64 reference");
            assertArrayEquals(f.row(s), o.row(s), 1e-4, "ORT agrees with the float reference");
            assertArrayEquals(f.row(s), q.row(s), 0.05 * range, "fixed.npy is the dequantized 8-bit output");
        }
        int frac = 0;
        while (frac < 16 && !onGrid(q.data(), frac)) {
            frac++;
        }
        assertTrue(frac < 16, "dequantized values are 8-bit fixed-point numbers (a few fractional bits), not floats");
    }

    private static boolean onGrid(double[] v, int frac) {
        return java.util.Arrays.stream(v).allMatch(x -> Math.scalb(x, frac) == Math.rint(Math.scalb(x, frac)));
    }

    /** The peer's onnxmltools Keras export reads channels-last inputs and dumps outputs comparable with its reference. */
    @Test
    void kerasNhwcModelVerifiesOnItsOwnDataAndDumpsItsOwnLayout() throws Exception {
        Path dir = CliTestSupport.peerFixture("conv2d_small_keras");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(dir.resolve("model.onnx")), "peer fixtures absent: " + dir);
        Path out = tmp.resolve("dump");
        CliTestSupport.Run r = run("verify", dir.resolve("model.onnx").toString(), "--calib", dir.resolve("inputs.npy").toString(),
                "--limit", "50", "--weight-bits", "16", "--act-bits", "16", "--dump", out.toString(), "--min-agreement", "0.9");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("ONNX Runtime: max |diff| vs float64"), r.out());
        NdArray want = Npy.read(dir.resolve("outputs.npy"));
        NdArray f = Npy.read(out.resolve("float.npy"));
        assertArrayEquals(new int[] {50, 10}, f.shape());
        for (int s = 0; s < 50; s++) {
            assertArrayEquals(want.row(s), f.row(s), 1e-6, "sample " + s);
        }
        CliTestSupport.Run inspect = run("inspect", dir.resolve("model.onnx").toString(), "--no-quant");
        assertEquals(0, inspect.code(), inspect.err());
        assertTrue(inspect.out().contains("note: conv2d_1_input_0: the input is channels last"), inspect.out());
    }

    /**
     * The model's own layout travels with its graph; {@code --data-layout} changes how the data files
     * are read and nothing else: ONNX Runtime is still fed the model's (N, H, W, C).
     */
    @Test
    void dataLayoutOverridesOnlyHowDataFilesAreRead() throws Exception {
        Path dir = CliTestSupport.peerFixture("conv2d_small_keras");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(dir.resolve("model.onnx")), "peer fixtures absent: " + dir);
        String model = dir.resolve("model.onnx").toString();
        NdArray nhwc = Npy.read(dir.resolve("inputs.npy"));
        int[] s = nhwc.shape();
        assertEquals(1, s[3], "one channel: (N, H, W, 1) and (N, 1, H, W) hold the same values in the same order");
        Path chw = tmp.resolve("chw.npy");
        Npy.write(chw, new NdArray(new int[] {s[0], s[3], s[1], s[2]}, nhwc.data()));

        CliTestSupport.Run wrong = run("verify", model, "--calib", chw.toString(), "--inputs", chw.toString(), "--limit", "10");
        assertEquals(ExitCodes.BAD_INPUT, wrong.code(), wrong.out() + wrong.err());
        assertTrue(wrong.err().contains("--data-layout channels_first"), wrong.err());

        CliTestSupport.Run r = run("verify", model, "--calib", chw.toString(), "--inputs", chw.toString(), "--data-layout", "channels_first",
                "--limit", "20", "--weight-bits", "16", "--act-bits", "16", "--min-agreement", "0.9");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("ONNX Runtime: max |diff| vs float64") && r.out().contains("top-1 agreement with float 100.00%"), r.out());
    }

    @Test
    @Tag("eda")
    void rtlUnderIcarusPasses() {
        CliTestSupport.Run r = run("verify", CliTestSupport.example("mlp_bn").toString(), "--limit", "10", "--rtl", "icarus",
                "--rtl-count", "2", "--dsp-budget", "64");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("RTL (icarus): PASS"), r.out());
    }
}
