package io.streamfold.keras;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.data.NdArray;
import io.streamfold.data.Npy;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Shape;
import io.streamfold.ir.SourceModel;
import io.streamfold.json.Layout;
import io.streamfold.testutil.Examples;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.function.Executable;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static io.streamfold.keras.KerasTestModel.obj;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every refusal is one {@link ModelException} line with a diagnostic id, naming the file and the Keras layer. */
class KerasErrorsTest {

    @TempDir
    Path dir;

    /** Input(4) -> Dense(3, "d") -> Dense(2, "out"). */
    private static KerasTestModel mlp() {
        KerasTestModel m = new KerasTestModel("x", false, 4);
        m.add("Dense", "d", obj("units", 3, "activation", "relu"), "x", obj("type", "dense"), "kernel", new int[] {4, 3}, "bias", new int[] {3});
        m.add("Dense", "out", obj("units", 2), "d", obj("type", "dense"), "kernel", new int[] {3, 2}, "bias", new int[] {2});
        return m;
    }

    private Path writeJson(String name, String config) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, config, StandardCharsets.UTF_8);
        return p;
    }

    /** The model's config with layer {@code index} (0 is the input) changed by {@code edit}. */
    private static String edited(KerasTestModel m, boolean keras3, int index, java.util.function.Consumer<ObjectNode> edit) {
        ObjectNode root = (ObjectNode) KerasTestModel.tree(m.config(keras3));
        edit.accept((ObjectNode) root.get("config").get("layers").get(index));
        return root.toString();
    }

    private static ModelException fails(Diagnostic id, String file, String node, Executable e) {
        ModelException x = assertThrows(ModelException.class, e);
        assertEquals(id, x.id(), x.getMessage());
        assertEquals(file, x.file(), x.getMessage());
        assertEquals(node, x.node(), x.getMessage());
        assertTrue(x.toLine().startsWith("error: " + file + ": "), x.toLine());
        assertFalse(x.toLine().contains("\n"), x.toLine());
        return x;
    }

    @Test
    void unsupportedLayerClassNamesTheLayer() throws IOException {
        KerasTestModel m = mlp();
        Path json = writeJson("m.json", edited(m, false, 1, l -> {
            l.put("class_name", "LSTM");
            l.put("name", "d");
        }));
        KerasTestFiles.writeKeras2Weights(dir.resolve("m_weights.h5"), m.keras2Weights());
        ModelException e = fails(Diagnostic.SF_UNSUPPORTED_OP, json.toString(), "d", () -> ModelLoader.load(json));
        assertTrue(e.getMessage().contains("LSTM"), e.getMessage());
    }

    @Test
    void unsupportedVariantsAreRefusedNamingTheLayer() throws IOException {
        KerasTestModel conv = new KerasTestModel("img", false, 5, 5, 1);
        conv.add("Conv2D", "c", obj("filters", 2, "kernel_size", List.of(3, 3), "data_format", "channels_first"), "img", obj("type", "conv2d"),
                "kernel", new int[] {3, 3, 1, 2}, "bias", new int[] {2});
        Path a = writeJson("a.json", conv.config(false));
        KerasTestFiles.writeKeras2Weights(dir.resolve("a_weights.h5"), conv.keras2Weights());
        fails(Diagnostic.SF_UNSUPPORTED_OP, a.toString(), "c", () -> ModelLoader.load(a));

        Path b = writeJson("b.json", edited(conv, false, 1, l -> ((ObjectNode) l.get("config")).put("data_format", "channels_last")
                .set("dilation_rate", KerasTestModel.MAPPER.valueToTree(List.of(2, 2)))));
        KerasTestFiles.writeKeras2Weights(dir.resolve("b_weights.h5"), conv.keras2Weights());
        fails(Diagnostic.SF_UNSUPPORTED_OP, b.toString(), "c", () -> ModelLoader.load(b));

        KerasTestModel m = mlp();
        Path c = writeJson("c.json", edited(m, false, 2, l -> ((ObjectNode) l.get("config")).put("activation", "swish")));
        KerasTestFiles.writeKeras2Weights(dir.resolve("c_weights.h5"), m.keras2Weights());
        fails(Diagnostic.SF_UNSUPPORTED_OP, c.toString(), "out", () -> ModelLoader.load(c));

        Path d = writeJson("d.json", edited(m, false, 0, l -> ((ArrayNode) l.get("config").get("batch_input_shape")).setNull(1)));
        fails(Diagnostic.SF_UNSUPPORTED_OP, d.toString(), "x", () -> ModelLoader.load(d));

        Path v1 = writeJson("v1.json", ((ObjectNode) KerasTestModel.tree(m.config(false))).put("keras_version", "1.2.2").toString());
        fails(Diagnostic.SF_UNSUPPORTED_OP, v1.toString(), null, () -> ModelLoader.load(v1));
    }

    @Test
    void graphsStreamfoldCannotCompileAreRefused() throws IOException {
        KerasTestModel m = mlp();
        KerasTestFiles.writeKeras2Weights(dir.resolve("shared_weights.h5"), m.keras2Weights());
        // "out" called twice: a shared layer
        Path shared = writeJson("shared.json", edited(m, false, 2, l -> ((ArrayNode) l.get("inbound_nodes"))
                .add(KerasTestModel.MAPPER.valueToTree(List.of(List.of("d", 0, 0, Map.of()))))));
        fails(Diagnostic.SF_UNSUPPORTED_OP, shared.toString(), "out", () -> ModelLoader.load(shared));

        ObjectNode two = (ObjectNode) KerasTestModel.tree(m.config(false));
        ((ObjectNode) two.get("config")).set("output_layers", KerasTestModel.MAPPER.valueToTree(List.of(List.of("d", 0, 0), List.of("out", 0, 0))));
        Path twoOut = writeJson("two.json", two.toString());
        fails(Diagnostic.SF_UNSUPPORTED_OP, twoOut.toString(), null, () -> ModelLoader.load(twoOut));

        Path nested = writeJson("nested.json", edited(m, false, 1, l -> l.put("class_name", "Sequential")));
        fails(Diagnostic.SF_UNSUPPORTED_OP, nested.toString(), "d", () -> ModelLoader.load(nested));
    }

    @Test
    void missingOrMismatchedWeightsNameTheWeightsFile() throws IOException {
        KerasTestModel m = mlp();
        Path json = writeJson("m.json", m.config(false));
        fails(Diagnostic.SF_BAD_WEIGHTS, json.toString(), null, () -> ModelLoader.load(json)); // no m_weights.h5 beside it

        Map<String, KerasTestFiles.LayerWeights> w = m.keras2Weights();
        Path noOut = dir.resolve("other.h5");
        KerasTestFiles.writeKeras2Weights(noOut, Map.of("d", w.get("d")));
        fails(Diagnostic.SF_BAD_WEIGHTS, noOut.toString(), "out", () -> ModelLoader.open(json, noOut));

        KerasTestFiles.LayerWeights transposed = new KerasTestFiles.LayerWeights();
        transposed.put("kernel", new NdArray(new int[] {3, 4}, w.get("d").get("kernel").data()));
        transposed.put("bias", w.get("d").get("bias"));
        Path bad = dir.resolve("bad.h5");
        KerasTestFiles.writeKeras2Weights(bad, Map.of("d", transposed, "out", w.get("out")));
        fails(Diagnostic.SF_BAD_WEIGHTS, json.toString(), "d", () -> ModelLoader.open(json, bad));

        Path garbage = dir.resolve("garbage.h5");
        Files.write(garbage, "not an HDF5 file at all".getBytes(StandardCharsets.UTF_8));
        fails(Diagnostic.SF_BAD_WEIGHTS, garbage.toString(), null, () -> ModelLoader.open(json, garbage));

        // Keras 3: dense_1 holds only its kernel
        Map<String, List<NdArray>> k3 = m.keras3Weights();
        k3.put("dense_1", List.of(k3.get("dense_1").get(0)));
        Path keras = dir.resolve("m.keras");
        KerasTestFiles.writeDotKeras(keras, m.config(true), k3);
        fails(Diagnostic.SF_BAD_WEIGHTS, keras + "[model.weights.h5]", "out", () -> ModelLoader.load(keras));

        Path onnx = Examples.onnx("mlp_bn");
        fails(Diagnostic.SF_BAD_WEIGHTS, onnx.toString(), null, () -> ModelLoader.open(onnx, noOut));
    }

    @Test
    void malformedFilesAreCorruptModels() throws IOException {
        KerasTestModel m = mlp();
        Path weightsOnly = dir.resolve("weights_only.h5");
        KerasTestFiles.writeKeras2Weights(weightsOnly, m.keras2Weights());
        assertFalse(KerasModelReader.isFullModel(weightsOnly));
        fails(Diagnostic.SF_CORRUPT_MODEL, weightsOnly.toString(), null, () -> ModelLoader.load(weightsOnly));

        Path noWeights = dir.resolve("no_weights.keras");
        KerasTestFiles.writeZip(noWeights, Map.of("config.json", m.config(true).getBytes(StandardCharsets.UTF_8)));
        fails(Diagnostic.SF_CORRUPT_MODEL, noWeights.toString(), null, () -> ModelLoader.load(noWeights));

        Path notZip = dir.resolve("broken.keras");
        Files.write(notZip, new byte[] {1, 2, 3});
        fails(Diagnostic.SF_CORRUPT_MODEL, notZip.toString(), null, () -> ModelLoader.load(notZip));

        Path badConfig = dir.resolve("bad_config.h5");
        KerasTestFiles.writeKeras2FullModel(badConfig, "{\"class_name\": \"Model\", \"config\": ", m.keras2Weights());
        fails(Diagnostic.SF_CORRUPT_MODEL, badConfig.toString(), null, () -> ModelLoader.load(badConfig));
    }

    @Test
    void dataFilesAreReadInTheModelsLayoutUnlessOverridden() throws IOException {
        Shape ir = Shape.of(2, 3, 4); // (C, H, W)
        double[] hwc = new double[24];
        for (int i = 0; i < hwc.length; i++) {
            hwc[i] = i;
        }
        Path f = dir.resolve("x.npy");
        Npy.write(f, new NdArray(new int[] {1, 3, 4, 2}, hwc));
        Graph plain = new Graph("t", "x", ir, List.of(), "x");
        // A graph carrying a channels-last input, as the Keras frontend makes it, reads the file as it is.
        Graph keras = plain.withSource(new SourceModel(new int[] {3, 4, 2}, Layout.CHANNELS_LAST.order(ir), null, null, List.of()));
        double[] chw = DataFiles.samples(f, keras).get(0);
        // element (h, w, c) of the file is at c*12 + h*4 + w in the IR
        assertEquals(hwc[(1 * 4 + 2) * 2 + 1], chw[1 * 12 + 1 * 4 + 2]);
        assertArrayEquals(Layout.CHANNELS_LAST.toChannelsFirst(hwc, ir), chw, 0.0);
        assertArrayEquals(chw, keras.toGraphInput(hwc), 0.0);
        // --data-layout overrides what the model carries, both ways.
        assertArrayEquals(chw, DataFiles.samples(f, plain, Layout.CHANNELS_LAST).get(0), 0.0);
        ModelException e = fails(Diagnostic.SF_BAD_DATA, f.toString(), null, () -> DataFiles.samples(f, keras, Layout.CHANNELS_FIRST));
        assertTrue(e.getMessage().contains("--data-layout channels_last"), e.getMessage());
        e = fails(Diagnostic.SF_BAD_DATA, f.toString(), null, () -> DataFiles.samples(f, plain));
        assertTrue(e.getMessage().contains("--data-layout channels_last"), e.getMessage());
        fails(Diagnostic.SF_BAD_DATA, f.toString(), null, () -> DataFiles.samples(f, ir));
    }
}
