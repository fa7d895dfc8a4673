package io.streamfold.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static io.streamfold.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The commands on Keras models: hls4ml's architecture .json + weights .h5 files, read in place from
 * {@code ../shared/fixtures/peer} (copied only into temporary folders), skipped when absent. Their
 * data is channels last, the default for Keras models.
 */
class KerasCommandsTest {

    @TempDir
    Path tmp;

    private static Path fixture(String name) {
        Path dir = CliTestSupport.peerFixture(name);
        assumeTrue(Files.isDirectory(dir), "Keras fixtures not found at " + dir + "; skipped");
        return dir;
    }

    @Test
    void verifyReadsKerasDataChannelsLast() {
        Path fx = fixture("KERAS_conv1d_small");
        String model = fx.resolve("KERAS_conv1d_small.json").toString();
        String data = fx.resolve("inputs.npy").toString();
        CliTestSupport.Run ok = run("verify", model, "--calib", data, "--limit", "100", "--weight-bits", "16", "--act-bits", "16");
        assertEquals(0, ok.code(), ok.out() + ok.err());
        assertTrue(ok.out().contains("not applicable (not an ONNX model)"), ok.out());

        // The same (N, L, C) file read channels first does not fit the model's (C, L) input.
        CliTestSupport.Run wrong = run("verify", model, "--calib", data, "--data-layout", "channels_first");
        assertEquals(ExitCodes.BAD_INPUT, wrong.code(), wrong.err());
        assertTrue(wrong.err().startsWith("error: "), wrong.err());

        assertEquals(ExitCodes.USAGE, run("verify", model, "--calib", data, "--data-layout", "nhwc").code());
    }

    @Test
    void convertWithWeightsThenSimulateTheFolder() throws Exception {
        Path fx = fixture("KERAS_conv2d_model");
        // weights under a name convert cannot guess: only --weights finds them, and simulate DIR must too
        Path weights = tmp.resolve("trained.h5");
        Files.copy(fx.resolve("KERAS_conv2d_model_weights.h5"), weights);
        Path arch = tmp.resolve("arch.json");
        Files.copy(fx.resolve("KERAS_conv2d_model.json"), arch);
        String data = fx.resolve("inputs.npy").toString();

        CliTestSupport.Run missing = run("convert", arch.toString(), "--calib", data, "-o", tmp.resolve("x").toString());
        assertEquals(ExitCodes.BAD_INPUT, missing.code(), missing.err());

        Path out = tmp.resolve("out");
        CliTestSupport.Run c = run("convert", arch.toString(), "--weights", weights.toString(), "--calib", data, "-o", out.toString(),
                "--tb-count", "1");
        assertEquals(0, c.code(), c.err());
        assertTrue(Files.readString(out.resolve("source.json")).contains("trained.h5"));

        CliTestSupport.Run s = run("simulate", out.toString(), "--input", data, "--limit", "2");
        assertEquals(0, s.code(), s.err());
        assertTrue(s.out().contains("sample 1: class "), s.out());

        CliTestSupport.Run i = run("inspect", arch.toString(), "--weights", weights.toString(), "--no-quant");
        assertEquals(0, i.code(), i.err());
        assertTrue(i.out().contains("flatten_1"), i.out());
    }

    @Test
    void batchFindsKerasModelsButNotTheirWeights() throws Exception {
        Path fx = fixture("KERAS_1layer");
        Path models = tmp.resolve("models/jets");
        Files.createDirectories(models);
        for (String f : new String[] {"KERAS_1layer.json", "KERAS_1layer_weights.h5"}) {
            Files.copy(fx.resolve(f), models.resolve(f));
        }
        Files.copy(fx.resolve("inputs.npy"), models.resolve("calib.npy"));
        assertTrue(BatchInputs.isModel(models.resolve("KERAS_1layer.json")));
        assertFalse(BatchInputs.isModel(models.resolve("KERAS_1layer_weights.h5")), "a weights-only .h5 is not a model");

        Path out = tmp.resolve("out");
        CliTestSupport.Run r = run("batch", tmp.resolve("models").toString(), "-o", out.toString(), "--verify", "--progress", "plain");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("1 models: 1 ok, 0 failed"), r.out());
        assertTrue(Files.exists(out.resolve("KERAS_1layer/report.json")));

        CliTestSupport.Run w = run("batch", tmp.resolve("models").toString(), "-o", out.toString(), "--weights", "x.h5");
        assertEquals(ExitCodes.USAGE, w.code(), w.err());
    }
}
