package io.streamfold.json;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamfold.data.NdArray;
import io.streamfold.data.Npy;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.reference.FloatInterpreter;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The bundled {@code examples/json_mlp} model: the mlp_bn network in JSON with its weights in an
 * .npz side file. It must reproduce PyTorch's outputs for the mlp_bn test inputs.
 */
class JsonExampleTest {

    static Path root() {
        String prop = System.getProperty("streamfold.root");
        if (prop != null && Files.isDirectory(Path.of(prop, "examples"))) {
            return Path.of(prop);
        }
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("examples"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("cannot find the repository root (examples/)");
        }
        return p;
    }

    @Test
    void jsonMlpReproducesThePyTorchOutputs() throws IOException {
        Path ex = root().resolve("examples");
        JsonModel m = JsonModelReader.readModel(ex.resolve("json_mlp/model.json"));
        Graph g = m.graph();
        assertEquals("json_mlp", g.name());
        assertEquals(Shape.of(64), g.inputShape());
        assertEquals(Shape.of(10), g.outputShape());
        assertEquals(List.of("fc1", "bn1", "relu1", "fc2", "bn2", "relu2", "fc3"), g.nodes().stream().map(Node::name).toList());
        assertEquals(1e-5, ((Op.BatchNorm) g.node("bn2").op()).eps());

        NdArray inputs = Npy.read(ex.resolve("mlp_bn/inputs.npy"));
        NdArray outputs = Npy.read(ex.resolve("mlp_bn/outputs.npy"));
        NdArray labels = Npy.read(ex.resolve("mlp_bn/labels.npy"));
        assertArrayEquals(inputs.shape(), m.toGraphInputs(inputs).shape(), "a vector input needs no reordering");
        int correct = 0;
        double worst = 0;
        for (int i = 0; i < inputs.rows(); i++) {
            double[] y = FloatInterpreter.run(g, inputs.row(i));
            double[] t = outputs.row(i);
            for (int j = 0; j < y.length; j++) {
                worst = Math.max(worst, Math.abs(y[j] - t[j]));
            }
            correct += argmax(y) == (int) labels.row(i)[0] ? 1 : 0;
        }
        // float64 here against PyTorch's float32: agreement to float32 rounding.
        assertTrue(worst < 1e-4, "max |float64 - torch float32| = " + worst);
        assertEquals(293, correct, "97.67% of 300, as examples/mlp_bn/README.md reports");
    }

    @Test
    void theFormatDocumentsExampleIsAValidModel() throws IOException {
        String doc = Files.readString(root().resolve("docs/json-format.md"));
        Matcher m = Pattern.compile("```json\\n(.*?)```", Pattern.DOTALL).matcher(doc);
        int models = 0;
        while (m.find()) {
            if (!m.group(1).contains("\"streamfold-json\"")) {
                continue;
            }
            JsonModel jm = JsonModelReader.parseModel(m.group(1), root().resolve("docs"));
            Graph g = jm.graph();
            assertEquals("tiny_cnn", g.name());
            assertEquals(Shape.of(1, 4, 4), g.inputShape());
            assertEquals(Shape.of(3), g.outputShape());
            double[] hwc = new double[16];
            for (int i = 0; i < 16; i++) {
                hwc[i] = (i % 5) * 0.25;
            }
            double[] p = FloatInterpreter.run(g, jm.toGraphInput(hwc));
            assertEquals(1.0, p[0] + p[1] + p[2], 1e-12);
            models++;
        }
        assertEquals(1, models, "docs/json-format.md has one complete example");
    }

    private static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
