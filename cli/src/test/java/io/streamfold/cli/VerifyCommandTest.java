package io.streamfold.cli;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static io.streamfold.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
    @Tag("eda")
    void rtlUnderIcarusPasses() {
        CliTestSupport.Run r = run("verify", CliTestSupport.example("mlp_bn").toString(), "--limit", "10", "--rtl", "icarus",
                "--rtl-count", "2", "--dsp-budget", "64");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("RTL (icarus): PASS"), r.out());
    }
}
