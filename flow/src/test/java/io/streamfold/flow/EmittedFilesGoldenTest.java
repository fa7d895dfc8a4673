package io.streamfold.flow;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.compile.Pipeline;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.ir.Graph;
import io.streamfold.quant.QuantConfig;
import io.streamfold.sim.Stimulus;
import io.streamfold.testutil.Examples;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Every file {@code convert} emits (RTL, ROMs, testbench, reports, plan) for every example at
 * three plans, pinned by SHA-256: a refactoring must leave them byte-identical, and a change
 * that means to alter them shows exactly which files it touched.
 *
 * <p>After an intended change, regenerate the manifest with
 * {@code mvn -pl flow test -Dtest=EmittedFilesGoldenTest -Dgolden.update=true} and review the
 * diff of {@code flow/src/test/resources/golden/emitted.sha256} with the change.
 */
class EmittedFilesGoldenTest {

    private static final Path MANIFEST = Examples.root().resolve("flow/src/test/resources/golden/emitted.sha256");

    private record Design(String label, String model, QuantConfig quant, ParallelismPlan plan, int budget) {
    }

    private static List<Design> designs() {
        List<Design> d = new ArrayList<>();
        for (String m : List.of("mlp_bn", "cnn_seed", "cnn_residual", "json_mlp")) {
            d.add(new Design(m + "-serial", m, QuantConfig.defaults(), ParallelismPlan.serial(), 0));
            d.add(new Design(m + "-dsp64", m, QuantConfig.defaults(), ParallelismPlan.serial(), 64));
            d.add(new Design(m + "-dsp64-argmax-16b", m, QuantConfig.defaults().withBits(8, 16), ParallelismPlan.serial().withArgmax(true), 64));
        }
        return d;
    }

    private static String manifest() throws Exception {
        StringBuilder sb = new StringBuilder();
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (Design ds : designs()) {
            Path dir = Examples.dir(ds.model());
            Path model = Files.exists(dir.resolve("model.onnx")) ? dir.resolve("model.onnx") : dir.resolve("model.json");
            Graph g = ModelLoader.load(model);
            List<double[]> calib = DataFiles.samples(dir.resolve("calib.npy"), g.inputShape());
            Pipeline.Result c = Pipeline.compile(g, new Pipeline.Settings(ds.quant(), ds.plan(), ds.budget()), calib);
            Map<String, String> files = Converter.build(c, calib, calib.subList(0, 4), new Stimulus(1, 0.2, 0.2)).files();
            for (Map.Entry<String, String> f : files.entrySet()) {
                String h = HexFormat.of().formatHex(sha.digest(f.getValue().getBytes(StandardCharsets.UTF_8)));
                sb.append(h).append("  ").append(ds.label()).append('/').append(f.getKey()).append('\n');
            }
        }
        return sb.toString();
    }

    @Test
    void emittedFilesMatchTheManifest() throws Exception {
        String now = manifest();
        if (Boolean.getBoolean("golden.update")) {
            Files.createDirectories(MANIFEST.getParent());
            Files.writeString(MANIFEST, now);
        }
        assertEquals(Files.readString(MANIFEST), now, "emitted files changed; see the class comment to regenerate the manifest");
    }
}
