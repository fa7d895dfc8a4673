package io.streamfold.json;

import static io.streamfold.json.JsonTestModels.layer;
import static io.streamfold.json.JsonTestModels.model;
import static io.streamfold.json.JsonTestModels.nested;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.SourceModel;
import io.streamfold.ir.Window;
import io.streamfold.reference.FloatInterpreter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Parsing of each layer type: shapes and op parameters. */
class JsonModelReaderTest {

    @TempDir
    Path dir;

    private Graph read(ObjectNode m) {
        return JsonModelReader.read(JsonTestModels.write(dir, "model.json", m));
    }

    private static double[] seq(int n) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = i + 1;
        }
        return a;
    }

    @Test
    void readsAHandWrittenMlpFromText() {
        String json = """
                {
                  "format": "streamfold-json", "version": 1, "name": "tiny",
                  "input": {"name": "x", "shape": [3]},
                  "layers": [
                    {"name": "fc1", "type": "dense", "units": 2,
                     "weight": [[1, 2, 3], [4, 5, 6]], "bias": [0.5, -0.5]},
                    {"name": "act", "type": "relu"},
                    {"name": "drop", "type": "dropout", "rate": 0.2},
                    {"name": "fc2", "type": "Linear", "units": 1, "input": "drop",
                     "weight": [[1, -1]], "bias": [0]}
                  ]
                }
                """;
        Graph g = JsonModelReader.read(JsonTestModels.write(dir, "tiny.json", json));
        assertEquals("tiny", g.name());
        assertEquals("x", g.input());
        assertEquals(Shape.of(3), g.inputShape());
        assertEquals(List.of("fc1", "act", "fc2"), g.nodes().stream().map(Node::name).toList(), "dropout is removed");
        assertEquals(List.of("act"), g.node("fc2").inputs(), "a reference to the dropout reads what the dropout read");
        assertEquals("fc2", g.output());
        Op.Dense d = (Op.Dense) g.node("fc1").op();
        assertArrayEquals(new double[] {1, 2, 3, 4, 5, 6}, d.weight().data());
        assertEquals(Shape.of(2, 3), d.weight().shape());
        // fc1 = [1+2+3+.5, 4+5+6-.5] = [6.5, 14.5]; fc2 = 6.5 - 14.5
        assertArrayEquals(new double[] {-8}, FloatInterpreter.run(g, new double[] {1, 1, 1}), 1e-12);
    }

    @Test
    void denseChannelsLastTransposesTheKerasKernel() {
        ObjectNode m = model("channels_last", 3);
        ObjectNode l = layer(m, "fc", "Dense");
        l.put("units", 2);
        l.set("kernel", nested(seq(6), 3, 2)); // (in, out)
        l.set("bias", nested(new double[] {0, 0}, 2));
        l.put("activation", "relu");
        Graph g = read(m);
        Op.Dense d = (Op.Dense) g.node("fc").op();
        assertEquals(Shape.of(2, 3), d.weight().shape());
        assertArrayEquals(new double[] {1, 3, 5, 2, 4, 6}, d.weight().data());
        assertInstanceOf(Op.Relu.class, g.node("fc/relu").op(), "a fused activation is a node after the layer");
        assertEquals("fc/relu", g.output());
    }

    @Test
    void conv2dChannelsFirstKeepsPyTorchLayoutAndPadding() {
        ObjectNode m = model("channels_first", 2, 7, 8);
        ObjectNode l = layer(m, "c", "conv2d");
        l.put("filters", 4);
        l.put("kernel_size", 3);
        l.put("strides", 2);
        l.put("padding", "same");
        l.set("weight", nested(seq(4 * 2 * 9), 4, 2, 3, 3));
        l.set("bias", nested(seq(4), 4));
        Graph g = read(m);
        Op.Conv c = (Op.Conv) g.node("c").op();
        assertEquals(Shape.of(4, 2, 3, 3), c.weight().shape());
        assertArrayEquals(seq(72), c.weight().data());
        assertEquals(1, c.group());
        // TF "same": H: out 4, total (4-1)*2+3-7 = 2 -> 1,1; W: out 4, total 3*2+3-8 = 1 -> 0,1 (extra at the end).
        assertEquals(new Window(new int[] {3, 3}, new int[] {2, 2}, new int[] {1, 0}, new int[] {1, 1}), c.window());
        assertEquals(Shape.of(4, 4, 4), g.outputShape());
    }

    @Test
    void samePaddingWithStrideOneAndOddKernelIsSymmetric() {
        ObjectNode m = model("channels_first", 1, 5, 5);
        ObjectNode l = layer(m, "c", "conv2d");
        l.put("filters", 1);
        l.putArray("kernel_size").add(5).add(3);
        l.put("padding", "same");
        l.set("weight", nested(new double[15], 1, 1, 5, 3));
        l.put("use_bias", false);
        Op.Conv c = (Op.Conv) read(m).node("c").op();
        assertArrayEquals(new int[] {2, 1}, c.window().padsBegin());
        assertArrayEquals(new int[] {2, 1}, c.window().padsEnd());
        assertArrayEquals(new double[1], c.bias().data(), "use_bias false means a zero bias");
    }

    @Test
    void explicitPaddingForms() {
        int[][] expectBegin = {{1, 1}, {1, 2}, {1, 2}, {0, 1}};
        int[][] expectEnd = {{1, 1}, {1, 2}, {3, 4}, {2, 3}};
        String[] paddings = {"1", "[1, 2]", "[1, 2, 3, 4]", "[[0, 2], [1, 3]]"};
        for (int i = 0; i < paddings.length; i++) {
            String json = """
                    {"format": "streamfold-json", "version": 1, "input": {"shape": [1, 6, 6]},
                     "layers": [{"name": "p", "type": "maxpool2d", "pool_size": 2, "strides": 1, "padding": %s}]}
                    """.formatted(paddings[i]);
            Op.MaxPool p = (Op.MaxPool) JsonModelReader.parse(json, dir).node("p").op();
            assertArrayEquals(expectBegin[i], p.window().padsBegin(), paddings[i]);
            assertArrayEquals(expectEnd[i], p.window().padsEnd(), paddings[i]);
        }
    }

    @Test
    void conv2dChannelsLastTransposesTheKerasKernel() {
        ObjectNode m = model("channels_last", 4, 4, 2);
        ObjectNode l = layer(m, "c", "Conv2D");
        l.put("filters", 3);
        l.putArray("kernel_size").add(2).add(2);
        double[] k = seq(2 * 2 * 2 * 3);
        l.set("kernel", nested(k, 2, 2, 2, 3)); // (kh, kw, in, out)
        l.set("bias", nested(new double[3], 3));
        Graph g = read(m);
        assertEquals(Shape.of(2, 4, 4), g.inputShape(), "the IR input is channels first");
        Op.Conv c = (Op.Conv) g.node("c").op();
        assertEquals(Shape.of(3, 2, 2, 2), c.weight().shape());
        // IR[o, i, y, x] = K[y, x, i, o]
        for (int o = 0; o < 3; o++) {
            for (int i = 0; i < 2; i++) {
                for (int y = 0; y < 2; y++) {
                    for (int x = 0; x < 2; x++) {
                        assertEquals(k[((y * 2 + x) * 2 + i) * 3 + o], c.weight().at(((o * 2 + i) * 2 + y) * 2 + x));
                    }
                }
            }
        }
        assertEquals(Shape.of(3, 3, 3), g.outputShape());
    }

    @Test
    void depthwiseChannelsLastMapsChannelTimesMultiplier() {
        ObjectNode m = model("channels_last", 5, 5, 2);
        ObjectNode l = layer(m, "dw", "DepthwiseConv2D");
        l.put("kernel_size", 3);
        l.put("depth_multiplier", 3);
        double[] k = seq(3 * 3 * 2 * 3);
        l.set("depthwise_kernel", nested(k, 3, 3, 2, 3)); // (kh, kw, in, mult)
        l.set("bias", nested(new double[6], 6));
        Op.Conv c = (Op.Conv) read(m).node("dw").op();
        assertEquals(2, c.group());
        assertEquals(Shape.of(6, 1, 3, 3), c.weight().shape());
        // output channel ch*mult + j reads input channel ch with K[y, x, ch, j]
        for (int ch = 0; ch < 2; ch++) {
            for (int j = 0; j < 3; j++) {
                for (int s = 0; s < 9; s++) {
                    assertEquals(k[(s * 2 + ch) * 3 + j], c.weight().at((ch * 3 + j) * 9 + s));
                }
            }
        }
    }

    @Test
    void groupedAndDepthwiseConvChannelsFirst() {
        ObjectNode m = model("channels_first", 4, 6);
        ObjectNode g1 = layer(m, "g", "conv1d");
        g1.put("filters", 6);
        g1.put("kernel_size", 3);
        g1.put("groups", 2);
        g1.put("padding", 1);
        g1.set("weight", nested(seq(6 * 2 * 3), 6, 2, 3));
        g1.set("bias", nested(new double[6], 6));
        ObjectNode dw = layer(m, "dw", "conv1d");
        dw.put("depthwise", true);
        dw.put("kernel_size", 3);
        dw.set("weight", nested(seq(6 * 3), 6, 1, 3));
        dw.set("bias", nested(new double[6], 6));
        Graph g = read(m);
        assertEquals(2, ((Op.Conv) g.node("g").op()).group());
        Op.Conv d = (Op.Conv) g.node("dw").op();
        assertEquals(6, d.group());
        assertEquals(6, d.outChannels(), "a depthwise conv defaults to multiplier 1");
        assertEquals(Shape.of(6, 4), g.outputShape());
    }

    @Test
    void conv1dChannelsLastWithCausalPadding() {
        ObjectNode m = model("channels_last", 10, 2);
        ObjectNode l = layer(m, "c", "Conv1D");
        l.put("filters", 3);
        l.put("kernel_size", 4);
        l.put("padding", "causal");
        double[] k = seq(4 * 2 * 3);
        l.set("kernel", nested(k, 4, 2, 3)); // (k, in, out)
        l.set("bias", nested(new double[3], 3));
        Graph g = read(m);
        Op.Conv c = (Op.Conv) g.node("c").op();
        assertArrayEquals(new int[] {3}, c.window().padsBegin());
        assertArrayEquals(new int[] {0}, c.window().padsEnd());
        assertEquals(Shape.of(3, 10), g.outputShape());
        assertEquals(k[(2 * 2 + 1) * 3 + 2], c.weight().at((2 * 2 + 1) * 4 + 2), "IR[o=2, i=1, t=2] = K[t=2, i=1, o=2]");
    }

    @Test
    void batchNormPyTorchNamesDefaultEps() {
        ObjectNode m = model("channels_first", 2, 3, 3);
        ObjectNode l = layer(m, "bn", "BatchNorm2d");
        l.set("weight", nested(new double[] {1, 2}, 2));
        l.set("bias", nested(new double[] {3, 4}, 2));
        l.set("running_mean", nested(new double[] {5, 6}, 2));
        l.set("running_var", nested(new double[] {7, 8}, 2));
        l.put("momentum", 0.1);
        Op.BatchNorm bn = (Op.BatchNorm) read(m).node("bn").op();
        assertEquals(1e-5, bn.eps());
        assertArrayEquals(new double[] {1, 2}, bn.gamma().data());
        assertArrayEquals(new double[] {3, 4}, bn.beta().data());
        assertArrayEquals(new double[] {5, 6}, bn.mean().data());
        assertArrayEquals(new double[] {7, 8}, bn.var().data());
    }

    @Test
    void batchNormKerasNamesDefaultEpsAndCenterScaleFlags() {
        ObjectNode m = model("channels_last", 3, 2);
        ObjectNode l = layer(m, "bn", "BatchNormalization");
        l.set("moving_mean", nested(new double[] {5, 6}, 2));
        l.set("moving_variance", nested(new double[] {7, 8}, 2));
        l.put("center", false);
        l.put("scale", false);
        l.put("momentum", 0.99);
        l.put("axis", -1);
        Op.BatchNorm bn = (Op.BatchNorm) read(m).node("bn").op();
        assertEquals(1e-3, bn.eps());
        assertArrayEquals(new double[] {1, 1}, bn.gamma().data(), "scale false: gamma = 1");
        assertArrayEquals(new double[] {0, 0}, bn.beta().data(), "center false: beta = 0");
        assertArrayEquals(new double[] {7, 8}, bn.var().data());

        ObjectNode m2 = model("channels_first", 2);
        ObjectNode k = layer(m2, "bn", "batchnorm");
        k.set("gamma", nested(new double[] {1, 2}, 2));
        k.set("beta", nested(new double[] {3, 4}, 2));
        k.set("moving_mean", nested(new double[] {5, 6}, 2));
        k.set("moving_variance", nested(new double[] {7, 8}, 2));
        k.put("epsilon", 0.01);
        assertEquals(0.01, ((Op.BatchNorm) read(m2).node("bn").op()).eps(), "an explicit epsilon wins");
    }

    @Test
    void activations() {
        ObjectNode m = model("channels_first", 4);
        layer(m, "r", "ReLU");
        layer(m, "r6", "relu6");
        layer(m, "lr", "LeakyReLU").put("alpha", 0.2);
        ObjectNode c = layer(m, "cl", "clip");
        c.put("min", -1.5);
        c.put("max", 2);
        layer(m, "s", "sigmoid");
        layer(m, "t", "tanh");
        layer(m, "e", "elu").put("alpha", 0.5);
        layer(m, "e1", "ELU");
        layer(m, "a", "activation").put("activation", "relu");
        layer(m, "ae", "activation").put("activation", "elu");
        layer(m, "sm", "softmax");
        layer(m, "id", "identity");
        Graph g = read(m);
        assertInstanceOf(Op.Relu.class, g.node("r").op());
        assertEquals(new Op.Clip(0, 6), g.node("r6").op());
        assertEquals(new Op.LeakyRelu(0.2), g.node("lr").op());
        assertEquals(new Op.Clip(-1.5, 2), g.node("cl").op());
        assertInstanceOf(Op.Sigmoid.class, g.node("s").op());
        assertInstanceOf(Op.Tanh.class, g.node("t").op());
        assertEquals(new Op.Elu(0.5), g.node("e").op());
        assertEquals(new Op.Elu(1.0), g.node("e1").op());
        assertEquals(new Op.Elu(1.0), g.node("ae").op());
        assertInstanceOf(Op.Relu.class, g.node("a").op());
        assertEquals(new Op.Softmax(0), g.node("sm").op());
        assertEquals("sm", g.output(), "the trailing identity is removed");
        assertEquals(11, g.nodes().size());
    }

    @Test
    void softmaxAxisCountsTheBatchAxisInTheModelLayout() {
        // channels_last (H, W, C): axis -1 and axis 3 are C -> IR axis 0; axis 1 is H -> IR axis 1.
        int[][] cases = {{-1, 0}, {3, 0}, {1, 1}, {2, 2}};
        for (int[] c : cases) {
            ObjectNode m = model("channels_last", 2, 3, 4);
            layer(m, "sm", "softmax").put("axis", c[0]);
            assertEquals(new Op.Softmax(c[1]), read(m).node("sm").op(), "channels_last axis " + c[0]);
        }
        ObjectNode m = model("channels_first", 4, 2, 3);
        layer(m, "sm", "softmax").put("dim", 1);
        assertEquals(new Op.Softmax(0), read(m).node("sm").op(), "PyTorch dim=1 is the channel axis");
    }

    @Test
    void poolsDefaultStrideToPoolSizeAndCountPadByFramework() {
        ObjectNode m = model("channels_first", 2, 6, 6);
        layer(m, "mp", "MaxPool2d").put("kernel_size", 2);
        ObjectNode ap = layer(m, "ap", "AvgPool2d");
        ap.put("kernel_size", 3);
        ap.put("stride", 1);
        ap.put("padding", 1);
        Graph g = read(m);
        Op.MaxPool mp = (Op.MaxPool) g.node("mp").op();
        assertEquals(Window.pool(2, 2), mp.window());
        Op.AvgPool a = (Op.AvgPool) g.node("ap").op();
        assertTrue(a.countIncludePad(), "PyTorch's AvgPool2d counts explicit padding by default");
        assertEquals(Shape.of(2, 3, 3), g.outputShape());

        ObjectNode k = model("channels_last", 5, 5, 2);
        ObjectNode kp = layer(k, "ap", "AveragePooling2D");
        kp.put("pool_size", 2);
        kp.putNull("strides");
        kp.put("padding", "same");
        Graph gk = read(k);
        Op.AvgPool ka = (Op.AvgPool) gk.node("ap").op();
        assertFalse(ka.countIncludePad(), "Keras 'same' average pooling ignores the padding");
        assertArrayEquals(new int[] {2, 2}, ka.window().strides(), "strides null means the pool size");
        assertEquals(Shape.of(2, 3, 3), gk.outputShape());
    }

    @Test
    void globalAvgPoolGivesAVectorUnlessKeepdims() {
        ObjectNode m = model("channels_last", 4, 4, 3);
        layer(m, "gap", "GlobalAveragePooling2D");
        Graph g = read(m);
        assertEquals(Shape.of(3), g.outputShape());
        assertInstanceOf(Op.GlobalAvgPool.class, g.node("gap").op());
        assertInstanceOf(Op.Flatten.class, g.node("gap/flatten").op());

        ObjectNode k = model("channels_first", 3, 4, 4);
        layer(k, "gap", "global_avgpool").put("keepdims", true);
        assertEquals(Shape.of(3, 1, 1), read(k).outputShape());
    }

    @Test
    void flattenReshapeAndAdd() {
        ObjectNode m = model("channels_first", 2, 2, 3);
        layer(m, "f", "flatten");
        layer(m, "r", "reshape").putArray("shape").add(3).add(-1);
        ObjectNode a = layer(m, "sum", "add");
        a.putArray("inputs").add("r").add("r");
        Graph g = read(m);
        assertEquals(Shape.of(12), g.shape("f"));
        assertEquals(new Op.Reshape(Shape.of(3, 4)), g.node("r").op());
        assertEquals(List.of("r", "r"), g.node("sum").inputs());
        assertEquals(Shape.of(3, 4), g.outputShape());

        ObjectNode k = model("channels_last", 12);
        layer(k, "r", "Reshape").putArray("target_shape").add(2).add(2).add(3);
        assertEquals(Shape.of(3, 2, 2), read(k).outputShape(), "a channels_last (H, W, C) target is (C, H, W) in the IR");
    }

    @Test
    void residualAddReadsNamedInputs() {
        ObjectNode m = model("channels_first", 2, 4, 4);
        ObjectNode c = layer(m, "c", "conv2d");
        c.put("filters", 2);
        c.put("kernel_size", 3);
        c.put("padding", "same");
        c.set("weight", nested(new double[36], 2, 2, 3, 3));
        c.set("bias", nested(new double[] {1, 2}, 2));
        layer(m, "res", "add").putArray("inputs").add("x").add("c");
        Graph g = read(m);
        assertEquals(List.of("x", "c"), g.node("res").inputs());
        double[] in = new double[32];
        double[] out = FloatInterpreter.run(g, in);
        assertEquals(1, out[0]);
        assertEquals(2, out[31]);
    }

    @Test
    void inputShapeMayCarryALeadingBatchAxis() {
        String json = """
                {"format": "streamfold-json", "version": 1, "input": {"name": "img", "shape": [null, 8, 8, 1], "layout": "channels_last"},
                 "layers": [{"name": "f", "type": "Flatten"}]}
                """;
        JsonModel jm = JsonModelReader.parseModel(json, dir);
        assertEquals(Shape.of(1, 8, 8), jm.graph().inputShape());
        assertArrayEquals(new int[] {8, 8, 1}, jm.declaredInputShape());
        assertEquals(Layout.CHANNELS_LAST, jm.inputLayout());
        assertEquals("model", jm.graph().name());
    }

    /**
     * The declared layouts a frontend hands on (Keras does): input and output in the file's order,
     * also after a channels-last flatten; a streamfold JSON file's own graph carries none.
     */
    @Test
    void declaredLayoutsCarryChannelsLastInputAndOutput() {
        for (String last : List.of("relu", "flatten")) {
            String json = """
                    {"format": "streamfold-json", "version": 1, "input": {"shape": [2, 3, 2], "layout": "channels_last"},
                     "layers": [{"name": "l", "type": "%s"}]}
                    """.formatted(last);
            JsonModel jm = JsonModelReader.parseModel(json, dir);
            assertEquals(SourceModel.NONE, jm.graph().source(), "a JSON model's data files are channels first");
            Graph g = jm.withDeclaredLayouts().graph();
            assertArrayEquals(new int[] {2, 3, 2}, g.modelInputDims());
            assertArrayEquals(last.equals("relu") ? new int[] {2, 3, 2} : new int[] {12}, g.modelOutputDims());
            double[] hwc = seq(12);
            // relu of non-negative values and a Keras flatten both give the input back in Keras order
            assertArrayEquals(hwc, g.toModelOutput(FloatInterpreter.run(g, g.toGraphInput(hwc))), last);
        }
    }

    @Test
    void toGraphInputTransposesChannelsLastSamples() {
        String json = """
                {"format": "streamfold-json", "version": 1, "input": {"shape": [2, 3, 2], "layout": "channels_last"},
                 "layers": [{"name": "r", "type": "relu"}]}
                """;
        JsonModel jm = JsonModelReader.parseModel(json, dir);
        double[] hwc = seq(12);
        double[] chw = jm.toGraphInput(hwc);
        // chw[c][h][w] = hwc[h][w][c]
        assertArrayEquals(JsonTestModels.transpose(hwc, new int[] {2, 3, 2}, 2, 0, 1), chw);
        assertEquals(hwc[(1 * 3 + 2) * 2 + 1], chw[(1 * 2 + 1) * 3 + 2]);
        io.streamfold.data.NdArray batch = new io.streamfold.data.NdArray(new int[] {2, 2, 3, 2}, concat(hwc, hwc));
        io.streamfold.data.NdArray b = jm.toGraphInputs(batch);
        assertArrayEquals(new int[] {2, 2, 2, 3}, b.shape());
        assertArrayEquals(chw, b.row(1));
    }

    @Test
    void typesAreCaseInsensitiveWithAliases() {
        Map<String, Class<?>> types = Map.of("MaxPooling2D", Op.MaxPool.class, "max_pool", Op.MaxPool.class,
                "AVGPOOL", Op.AvgPool.class, "GlobalAveragePool", Op.GlobalAvgPool.class);
        for (Map.Entry<String, Class<?>> e : types.entrySet()) {
            ObjectNode m = model("channels_first", 1, 4, 4);
            ObjectNode l = layer(m, "p", e.getKey());
            if (!e.getKey().startsWith("Global")) {
                l.put("pool_size", 2);
            } else {
                l.put("keepdims", true);
            }
            assertInstanceOf(e.getValue(), read(m).node("p").op(), e.getKey());
        }
    }

    private static double[] concat(double[] a, double[] b) {
        double[] out = new double[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
