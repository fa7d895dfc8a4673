package io.streamfold.testutil;

import io.streamfold.data.NdArray;
import io.streamfold.data.Npy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

/** Locates the bundled example models (examples/ at the repository root) for tests. */
public final class Examples {

    /** The example models every end-to-end test runs on. */
    public static final List<String> MODELS = List.of("mlp_bn", "cnn_seed", "cnn_residual");

    /** Every bundled example, the ONNX ones and the JSON model {@code json_mlp}. */
    public static final List<String> ALL = List.of("mlp_bn", "cnn_seed", "cnn_residual", "json_mlp");

    private Examples() {
    }

    public static Path root() {
        String prop = System.getProperty("streamfold.root");
        if (prop != null && Files.isDirectory(Paths.get(prop, "examples"))) {
            return Paths.get(prop);
        }
        Path p = Paths.get("").toAbsolutePath();
        while (p != null) {
            if (Files.isDirectory(p.resolve("examples")) && Files.exists(p.resolve("pom.xml"))) {
                return p;
            }
            p = p.getParent();
        }
        throw new IllegalStateException("cannot find the repository root (examples/)");
    }

    public static Path dir(String model) {
        return root().resolve("examples").resolve(model);
    }

    public static Path onnx(String model) {
        return dir(model).resolve("model.onnx");
    }

    public static NdArray npy(String model, String file) {
        try {
            return Npy.read(dir(model).resolve(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The model file of an example: {@code model.onnx}, else {@code model.json}. */
    public static Path model(String model) {
        Path onnx = onnx(model);
        return Files.exists(onnx) ? onnx : dir(model).resolve("model.json");
    }

    /**
     * A data file of an example ({@code inputs.npy}, {@code labels.npy}, {@code calib.npy}): its own, or
     * for {@code json_mlp}, which is the mlp_bn network, mlp_bn's (its README says so).
     */
    public static Path data(String model, String file) {
        Path own = dir(model).resolve(file);
        return Files.exists(own) || !model.equals("json_mlp") ? own : dir("mlp_bn").resolve(file);
    }

    /** The shared fixtures' model folder {@code name} beside the repository (may be absent). */
    public static Path peer(String name) {
        return root().resolve("../shared/fixtures/peer").resolve(name).normalize();
    }

    /** An example folded and quantized on its calib.npy. */
    public static io.streamfold.quant.QuantizedGraph quantize(String model, io.streamfold.quant.QuantConfig cfg) {
        io.streamfold.ir.Graph g = io.streamfold.compile.ModelLoader.load(onnx(model));
        return io.streamfold.compile.Pipeline.quantize(g, cfg,
                io.streamfold.compile.DataFiles.samples(dir(model).resolve("calib.npy"), g.inputShape())).quantized();
    }

    /** The first {@code n} of an example's inputs.npy in the input format of {@code q}. */
    public static List<long[]> inputs(String model, io.streamfold.quant.QuantizedGraph q, int n) {
        List<double[]> x = io.streamfold.compile.DataFiles.samples(dir(model).resolve("inputs.npy"), q.graph().inputShape());
        List<long[]> out = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(io.streamfold.reference.IntegerInterpreter.quantizeInput(q, x.get(i)));
        }
        return out;
    }
}
