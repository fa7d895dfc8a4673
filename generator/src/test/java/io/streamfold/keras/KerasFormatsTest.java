package io.streamfold.keras;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.data.NdArray;
import io.streamfold.data.Npy;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.json.JsonModelReader;
import io.streamfold.json.Layout;
import io.streamfold.reference.FloatInterpreter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static io.streamfold.keras.KerasTestModel.obj;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The three Keras file formats: an architecture .json with its weights .h5 (Keras 2), a Keras 2
 * full-model .h5 and a Keras 3 .keras archive (written here with jHDF's HDF5 writer, in the layouts
 * Keras uses). Each is read into the same graph as the streamfold JSON model it means, and real
 * weights in the full-model and .keras layouts reproduce the peer fixtures' independent outputs.
 */
class KerasFormatsTest {

    @TempDir
    Path dir;

    /** Every supported layer class but Conv1D/pool1D: a functional model with a three-way Add and two BatchNorms. */
    static KerasTestModel functional() {
        KerasTestModel m = new KerasTestModel("img", false, 6, 6, 2);
        m.add("Conv2D", "c1", obj("filters", 4, "kernel_size", List.of(3, 3), "strides", List.of(1, 1), "padding", "same",
                        "data_format", "channels_last", "dilation_rate", List.of(1, 1), "activation", "linear", "use_bias", true),
                "img", obj("type", "conv2d", "filters", 4, "kernel_size", 3, "padding", "same"),
                "kernel", new int[] {3, 3, 2, 4}, "bias", new int[] {4});
        m.add("BatchNormalization", "bn", obj("axis", -1, "momentum", 0.99, "epsilon", 0.01, "center", true, "scale", false),
                "c1", obj("type", "batchnorm", "epsilon", 0.01, "scale", false),
                "beta", new int[] {4}, "moving_mean", new int[] {4}, "moving_variance", new int[] {4});
        m.add("ReLU", "r", obj("max_value", 6.0, "negative_slope", 0.0, "threshold", 0.0), "bn", obj("type", "relu", "max_value", 6.0));
        m.add("DepthwiseConv2D", "dw", obj("kernel_size", List.of(3, 3), "strides", List.of(1, 1), "padding", "same", "depth_multiplier", 1,
                        "data_format", "channels_last", "activation", "linear", "use_bias", true),
                "r", obj("type", "depthwise_conv2d", "kernel_size", 3, "padding", "same", "depth_multiplier", 1),
                "depthwise_kernel", new int[] {3, 3, 4, 1}, "bias", new int[] {4});
        m.add("LeakyReLU", "lk", obj("alpha", 0.2), "dw", obj("type", "leaky_relu", "alpha", 0.2));
        m.add("Conv2D", "c2", obj("filters", 4, "kernel_size", List.of(1, 1), "strides", List.of(1, 1), "padding", "valid",
                        "activation", "tanh", "use_bias", true),
                "r", obj("type", "conv2d", "filters", 4, "kernel_size", 1, "activation", "tanh"),
                "kernel", new int[] {1, 1, 4, 4}, "bias", new int[] {4});
        m.add("ELU", "e", obj("alpha", 0.5), "c2", obj("type", "elu", "alpha", 0.5));
        m.add("Add", "s", obj(), List.of("lk", "e", "r"), List.of(
                obj("name", "s/add1", "type", "add", "inputs", List.of("lk", "e")),
                obj("name", "s", "type", "add", "inputs", List.of("s/add1", "r"))));
        // pool 3, stride 2, "same" on 6: TensorFlow pads 0 before and 1 after
        m.add("AveragePooling2D", "ap", obj("pool_size", List.of(3, 3), "strides", List.of(2, 2), "padding", "same", "data_format", "channels_last"),
                "s", obj("type", "avgpool2d", "pool_size", 3, "strides", 2, "padding", List.of(List.of(0, 1), List.of(0, 1)),
                        "count_include_pad", false));
        m.add("MaxPooling2D", "mp", obj("pool_size", List.of(2, 2), "strides", List.of(1, 1), "padding", "valid"),
                "ap", obj("type", "maxpool2d", "pool_size", 2, "strides", 1));
        m.add("GlobalAveragePooling2D", "g", obj("data_format", "channels_last"), "mp", obj("type", "global_avgpool"));
        m.add("Dense", "d", obj("units", 3, "activation", "relu", "use_bias", true), "g", obj("type", "dense", "units", 3, "activation", "relu"),
                "kernel", new int[] {4, 3}, "bias", new int[] {3});
        m.add("BatchNormalization", "bn2", obj("axis", List.of(1), "epsilon", 0.001, "center", true, "scale", true),
                "d", obj("type", "batchnorm", "epsilon", 0.001),
                "gamma", new int[] {3}, "beta", new int[] {3}, "moving_mean", new int[] {3}, "moving_variance", new int[] {3});
        m.add("Activation", "a", obj("activation", "softmax"), "bn2", obj("type", "softmax"));
        return m;
    }

    /** Conv1D, 1D pools, Flatten, Dropout, Reshape, ReLU and Softmax layers in a Keras 2.0-style Sequential model. */
    static KerasTestModel sequential() {
        KerasTestModel m = new KerasTestModel("seq_input", true, 12, 2);
        m.add("Conv1D", "c1", obj("filters", 3, "kernel_size", List.of(4), "strides", List.of(1), "padding", "same", "activation", "relu",
                        "use_bias", true, "dilation_rate", List.of(1)),
                "seq_input", obj("type", "conv1d", "filters", 3, "kernel_size", 4, "padding", List.of(List.of(1, 2)), "activation", "relu"),
                "kernel", new int[] {4, 2, 3}, "bias", new int[] {3});
        m.add("MaxPooling1D", "mp", obj("pool_size", List.of(2), "strides", List.of(2), "padding", "valid"), "c1",
                obj("type", "maxpool1d", "pool_size", 2));
        m.add("Conv1D", "c2", obj("filters", 2, "kernel_size", List.of(3), "padding", "causal", "activation", "linear", "use_bias", false),
                "mp", obj("type", "conv1d", "filters", 2, "kernel_size", 3, "padding", "causal", "use_bias", false),
                "kernel", new int[] {3, 3, 2});
        m.add("AveragePooling1D", "ap", obj("pool_size", List.of(2), "strides", List.of(2), "padding", "same"), "c2",
                obj("type", "avgpool1d", "pool_size", 2));
        m.add("Flatten", "f", obj(), "ap", obj("type", "flatten"));
        m.add("Dropout", "drop", obj("rate", 0.5), "f", obj("type", "dropout"));
        m.add("Dense", "d1", obj("units", 4, "activation", "elu"), "drop", obj("type", "dense", "units", 4, "activation", "elu"),
                "kernel", new int[] {6, 4}, "bias", new int[] {4});
        m.add("Reshape", "rs", obj("target_shape", List.of(4)), "d1", obj("type", "reshape", "shape", List.of(4)));
        m.add("ReLU", "r", obj(), "rs", obj("type", "relu"));
        m.add("Dense", "d2", obj("units", 3, "use_bias", true), "r", obj("type", "dense", "units", 3), "kernel", new int[] {4, 3},
                "bias", new int[] {3});
        m.add("Softmax", "sm", obj("axis", -1), "d2", obj("type", "softmax"));
        return m;
    }

    @Test
    void functionalModelInAllThreeFormatsIsTheStreamfoldModelItMeans() throws IOException {
        KerasTestModel m = functional();
        Graph want = JsonModelReader.fromTree(m.streamfold("net"), Map.of(), "inline", "net").graph();

        Path json = dir.resolve("net.json");
        Files.writeString(json, m.config(false));
        KerasTestFiles.writeKeras2Weights(dir.resolve("net_weights.h5"), m.keras2Weights()); // found beside net.json
        assertSame(want, ModelLoader.load(json));

        Path full = dir.resolve("full/net.h5");
        Files.createDirectories(full.getParent());
        KerasTestFiles.writeKeras2FullModel(full, m.config(false), m.keras2Weights());
        assertSame(want, ModelLoader.load(full));

        Path keras = dir.resolve("k3/net.keras");
        Files.createDirectories(keras.getParent());
        KerasTestFiles.writeDotKeras(keras, m.config(true), m.keras3Weights());
        Graph k3 = ModelLoader.open(keras, null);
        assertArrayEquals(Layout.CHANNELS_LAST.fromChannelsFirst(k3.inputShape()), k3.modelInputDims(), "Keras data is channels last");
        assertSame(want, k3);
    }

    @Test
    void sequentialModelKeras2ListConfigAndKeras3Archive() throws IOException {
        KerasTestModel m = sequential();
        Graph want = JsonModelReader.fromTree(m.streamfold("seq"), Map.of(), "inline", "seq").graph();

        // Keras 2.0/2.1 write a Sequential's config as the bare list of layers, the input shape on the first one.
        ObjectNode cfg = (ObjectNode) KerasTestModel.tree(m.config(false));
        ObjectNode first = (ObjectNode) cfg.get("config").get("layers").get(1).get("config");
        first.set("batch_input_shape", cfg.get("config").get("layers").get(0).get("config").get("batch_input_shape"));
        cfg.set("config", ((com.fasterxml.jackson.databind.node.ArrayNode) cfg.get("config").get("layers")).deepCopy());
        ((com.fasterxml.jackson.databind.node.ArrayNode) cfg.get("config")).remove(0);
        Path json = dir.resolve("seq.json");
        Files.writeString(json, cfg.toString());
        Path weights = dir.resolve("elsewhere.h5");
        KerasTestFiles.writeKeras2Weights(weights, m.keras2Weights());
        Graph g = ModelLoader.open(json, weights);
        assertEquals("c1_input", g.input(), "Keras names the implicit input <first layer>_input");
        assertSame(want, g, true);

        Path keras = dir.resolve("seq.keras");
        KerasTestFiles.writeDotKeras(keras, m.config(true), m.keras3Weights());
        assertSame(want, ModelLoader.load(keras));
    }

    @Test
    void fullModelH5ReproducesTheFixtureOutputs() throws IOException {
        Path fx = KerasFixturesTest.fixture("KERAS_conv1d_small");
        Path full = dir.resolve("conv1d.h5");
        KerasTestFiles.writeKeras2FullModel(full, Files.readString(fx.resolve("KERAS_conv1d_small.json")),
                KerasTestFiles.readKeras2(fx.resolve("KERAS_conv1d_small_weights.h5")));
        assertTrue(KerasModelReader.isFullModel(full));
        assertFalse(KerasModelReader.isFullModel(fx.resolve("KERAS_conv1d_small_weights.h5")));
        assertMatchesFixture(ModelLoader.open(full, null), fx);
    }

    @Test
    void kerasArchivesReproduceTheFixtureOutputs() throws IOException {
        // KERAS_conv2d_model as Keras 3 saves it: a Sequential with its own layer names; the weights are
        // found by class (conv2d, dense), not by name.
        Path fx = KerasFixturesTest.fixture("KERAS_conv2d_model");
        Map<String, KerasTestFiles.LayerWeights> w = KerasTestFiles.readKeras2(fx.resolve("KERAS_conv2d_model_weights.h5"));
        String seq = """
                {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "trainable": true, "layers": [
                  {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 1], "dtype": "float32",
                   "sparse": false, "name": "pixels"}, "registered_name": null},
                  {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "features", "trainable": true, "filters": 2,
                   "kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1],
                   "groups": 1, "activation": "relu", "use_bias": true, "kernel_initializer": {"module": "keras.initializers",
                   "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null}}, "registered_name": null,
                   "build_config": {"input_shape": [null, 8, 8, 1]}},
                  {"module": "keras.layers", "class_name": "Dropout", "config": {"name": "drop", "rate": 0.25, "seed": null,
                   "noise_shape": null}, "registered_name": null},
                  {"module": "keras.layers", "class_name": "Flatten", "config": {"name": "flat", "data_format": "channels_last"},
                   "registered_name": null},
                  {"module": "keras.layers", "class_name": "Dense", "config": {"name": "classes", "units": 10, "activation": "softmax",
                   "use_bias": true, "lora_rank": null}, "registered_name": null}],
                 "build_input_shape": [null, 8, 8, 1]}, "registered_name": null, "compile_config": null}
                """;
        Path keras = dir.resolve("conv2d.keras");
        KerasTestFiles.writeDotKeras(keras, seq, keras3(w, List.of("conv2d_1", "conv2d"), List.of("dense_1", "dense")));
        assertMatchesFixture(ModelLoader.open(keras, null), fx);

        // KERAS_3layer as a Keras 3 functional model: four Dense layers are dense, dense_1, dense_2, dense_3;
        // read both from the archive and as config.json + model.weights.h5 given with --weights.
        Path fx3 = KerasFixturesTest.fixture("KERAS_3layer");
        Map<String, KerasTestFiles.LayerWeights> w3 = KerasTestFiles.readKeras2(fx3.resolve("KERAS_3layer_weights.h5"));
        StringBuilder layers = new StringBuilder("""
                {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 16], "dtype": "float32",
                 "sparse": false, "name": "jets"}, "registered_name": null, "name": "jets", "inbound_nodes": []}""");
        String prev = "jets";
        List<String> names = List.of("fc1_relu", "fc2_relu", "fc3_relu", "output_softmax");
        int[] units = {64, 32, 32, 5};
        for (int i = 0; i < names.size(); i++) {
            layers.append(String.format("""
                    , {"module": "keras.layers", "class_name": "Dense", "config": {"name": "%s", "units": %d, "activation": "%s",
                     "use_bias": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}}},
                     "registered_name": null, "name": "%s", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config":
                     {"shape": [null, 16], "dtype": "float32", "keras_history": ["%s", 0, 0]}}], "kwargs": {}}]}""",
                    names.get(i), units[i], i == 3 ? "softmax" : "relu", names.get(i), prev));
            prev = names.get(i);
        }
        String fn = "{\"module\": \"keras.src.models.functional\", \"class_name\": \"Functional\", \"config\": {\"name\": \"jets\", "
                + "\"trainable\": true, \"layers\": [" + layers + "], \"input_layers\": [[\"jets\", 0, 0]], "
                + "\"output_layers\": [\"output_softmax\", 0, 0]}, \"registered_name\": \"Functional\"}";
        Map<String, List<NdArray>> groups = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            groups.put(i == 0 ? "dense" : "dense_" + i, new ArrayList<>(w3.get(names.get(i)).values()));
        }
        Path keras3 = dir.resolve("jets.keras");
        KerasTestFiles.writeDotKeras(keras3, fn, groups);
        assertMatchesFixture(ModelLoader.open(keras3, null), fx3);

        Path config = dir.resolve("jets/config.json");
        Files.createDirectories(config.getParent());
        Files.writeString(config, fn, StandardCharsets.UTF_8);
        Path weights = dir.resolve("jets/model.weights.h5");
        KerasTestFiles.writeKeras3Weights(weights, groups);
        assertMatchesFixture(ModelLoader.open(config, weights), fx3);
    }

    /** Keras 3 groups from Keras 2 weights: pairs (Keras 2 layer name, Keras 3 group). */
    private static Map<String, List<NdArray>> keras3(Map<String, KerasTestFiles.LayerWeights> w, List<String> a, List<String> b) {
        Map<String, List<NdArray>> out = new LinkedHashMap<>();
        out.put(a.get(1), new ArrayList<>(w.get(a.get(0)).values()));
        out.put(b.get(1), new ArrayList<>(w.get(b.get(0)).values()));
        return out;
    }

    private static void assertMatchesFixture(Graph m, Path fx) throws IOException {
        List<double[]> xs = DataFiles.samples(fx.resolve("inputs.npy"), m);
        NdArray want = Npy.read(fx.resolve("outputs.npy"));
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        double maxDiff = 0;
        for (int i = 0; i < 100; i++) {
            double[] y = m.toModelOutput(FloatInterpreter.run(m, xs.get(i)));
            double[] r = want.row(i);
            for (int j = 0; j < y.length; j++) {
                maxDiff = Math.max(maxDiff, Math.abs(y[j] - r[j]));
                lo = Math.min(lo, r[j]);
                hi = Math.max(hi, r[j]);
            }
        }
        assertTrue(maxDiff <= 1e-5 * (hi - lo), fx.getFileName() + ": max |diff| " + maxDiff + " on a range of " + (hi - lo));
    }

    private static void assertSame(Graph want, Graph got) {
        assertSame(want, got, false);
    }

    /** Same nodes (names, kinds, inputs) and bit-identical outputs on random inputs; the input name too unless {@code anyInputName}. */
    private static void assertSame(Graph want, Graph got, boolean anyInputName) {
        assertEquals(want.inputShape(), got.inputShape());
        if (!anyInputName) {
            assertEquals(want.input(), got.input());
        }
        assertEquals(describe(want, anyInputName), describe(got, anyInputName));
        Random rnd = new Random(3);
        for (int s = 0; s < 5; s++) {
            double[] x = new double[want.inputShape().size()];
            for (int i = 0; i < x.length; i++) {
                x[i] = rnd.nextGaussian();
            }
            assertArrayEquals(FloatInterpreter.run(want, x), FloatInterpreter.run(got, x), 0.0);
        }
    }

    private static List<String> describe(Graph g, boolean anyInputName) {
        List<String> out = new ArrayList<>();
        for (Node n : g.nodes()) {
            List<String> ins = new ArrayList<>();
            for (String i : n.inputs()) {
                ins.add(anyInputName && i.equals(g.input()) ? "<input>" : i);
            }
            out.add(n.name() + " " + n.op().kind() + " " + ins);
        }
        return out;
    }
}
