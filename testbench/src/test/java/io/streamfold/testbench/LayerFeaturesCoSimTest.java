package io.streamfold.testbench;

import ai.onnx.proto.OnnxMl;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.hw.Stage;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.ir.Window;
import io.streamfold.onnx.OnnxModelReader;
import io.streamfold.passes.PassContext;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.Quantize;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.sim.Stimulus;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The layer features beyond the first windowed layers, in RTL: grouped convolution (1 < group
 * < C, one matrix-vector unit with a block-diagonal weight ROM), dilated convolution and max
 * pooling (a sliding window that steps its taps by the dilation), ONNX {@code ceil_mode}
 * pooling (read by the ONNX reader as end padding) and per-channel PRelu (an elementwise stage
 * with one slope per channel). Each design's simulator equals the integer reference, and
 * Icarus (Verilator on some, lint-clean) reproduces the simulator's every output beat in value
 * and cycle under random gaps and backpressure.
 */
@Tag("eda")
class LayerFeaturesCoSimTest {

    @TempDir
    Path tmp;

    private static void cosim(Path dir, QuantizedGraph q, ParallelismPlan plan, List<long[]> xs, Stimulus stim, boolean verilator)
            throws Exception {
        HwDesign d = CoSim.emit(dir, q, plan, xs, stim);
        if (verilator) {
            EdaRunner.Run lint = EdaRunner.lint(dir, d.name(), CoSim.rtlFiles(d));
            assertEquals(0, lint.exitCode(), lint.output());
            assertEquals("", lint.output().strip(), lint.output());
            CoSim.assertPasses(dir, EdaRunner.Simulator.VERILATOR);
        }
        CoSim.assertPasses(dir, EdaRunner.Simulator.ICARUS);
    }

    private static Tensor randn(Random r, double scale, int... dims) {
        Shape s = new Shape(dims);
        double[] v = new double[s.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = scale * r.nextGaussian();
        }
        return Tensor.of(s, v);
    }

    private static QuantizedGraph quantize(Graph g, Random r, int bits) {
        List<double[]> calib = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            calib.add(randn(r, 1.5, g.inputShape().size()).data());
        }
        return new Quantize(QuantConfig.defaults().withBits(bits, bits)).run(g, calib, new PassContext());
    }

    private static List<long[]> inputs(QuantizedGraph q, Random r, int n) {
        List<long[]> xs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            xs.add(IntegerInterpreter.quantizeInput(q, randn(r, 1.5, q.graph().inputShape().size()).data()));
        }
        return xs;
    }

    @Test
    void groupedConvIcarusAndVerilator() throws Exception {
        Random r = new Random(5);
        // 6 -> 6 channels in 3 groups of 2, 3x3, padded, then a 2-group 1x1 conv: both block-diagonal MatVecs
        Window w = Window.of(new int[] {3, 3}, new int[] {1, 1}, new int[] {1, 0, 1, 1});
        Graph g = new Graph("grouped", "x", Shape.of(6, 5, 4), List.of(
                new Node("g3", new Op.Conv(randn(r, 0.5, 6, 2, 3, 3), randn(r, 0.2, 6), w, 3), "x", "a"),
                new Node("relu", new Op.Relu(), "a", "b"),
                new Node("g2", new Op.Conv(randn(r, 0.5, 4, 3, 1, 1), randn(r, 0.2, 4), Window.pool(1, 1), 2), "b", "y")), "y");
        QuantizedGraph q = quantize(g, r, 8);
        ParallelismPlan plan = ParallelismPlan.serial().withInputElems(2).with("g3", 3, 2).with("g2", 2, 6);
        HwDesign d = LowerToHardware.run(q, plan);
        assertEquals(2, d.stages().stream().filter(s -> s instanceof Stage.MatVec).count(), "grouped convs are MatVecs");
        cosim(tmp.resolve("grouped"), q, plan, inputs(q, r, 3), new Stimulus(3, 0.3, 0.3), true);
    }

    @Test
    void dilatedConvAndMaxPoolIcarusAndVerilator() throws Exception {
        Random r = new Random(6);
        Window conv = new Window(new int[] {3, 2}, new int[] {1, 2}, new int[] {2, 1}, new int[] {1, 0}, new int[] {2, 3});
        Window pool = new Window(new int[] {2, 2}, new int[] {1, 1}, new int[] {1, 0}, new int[] {0, 1}, new int[] {2, 2});
        Graph g = new Graph("dilated", "x", Shape.of(2, 7, 9), List.of(
                new Node("conv", new Op.Conv(randn(r, 0.5, 3, 2, 3, 2), randn(r, 0.2, 3), conv, 1), "x", "a"),
                new Node("pool", new Op.MaxPool(pool), "a", "y")), "y");
        QuantizedGraph q = quantize(g, r, 8);
        ParallelismPlan plan = ParallelismPlan.serial().with("conv", 3, 2).with("pool", 3, 1);
        HwDesign d = LowerToHardware.run(q, plan);
        assertTrue(d.stages().stream().filter(s -> s instanceof Stage.SlidingWindow).allMatch(s -> ((Stage.SlidingWindow) s).dilated()));
        cosim(tmp.resolve("dilated"), q, plan, inputs(q, r, 3), new Stimulus(4, 0.3, 0.3), true);
        // a dilated 1D conv: the column walk steps rows by the dilation
        Graph g1 = new Graph("dilated1d", "x", Shape.of(2, 12), List.of(new Node("conv", new Op.Conv(randn(r, 0.5, 2, 2, 3),
                randn(r, 0.2, 2), new Window(new int[] {3}, new int[] {2}, new int[] {2}, new int[] {1}, new int[] {3}), 1), "x", "y")), "y");
        QuantizedGraph q1 = quantize(g1, r, 6);
        cosim(tmp.resolve("dilated1d"), q1, ParallelismPlan.serial().with("conv", 1, 2), inputs(q1, r, 2), new Stimulus(5, 0.3, 0.3),
                false);
    }

    /** A one-node ONNX model (opset 10) on a symbolic-batch input, read by the ONNX reader. */
    private static Graph onnxPool(String op, long[] dims, OnnxMl.AttributeProto... attrs) {
        OnnxMl.NodeProto.Builder n = OnnxMl.NodeProto.newBuilder().setOpType(op).setName(op).addInput("x").addOutput("y");
        for (OnnxMl.AttributeProto a : attrs) {
            n.addAttribute(a);
        }
        OnnxMl.TensorShapeProto.Builder shape = OnnxMl.TensorShapeProto.newBuilder()
                .addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimParam("N"));
        for (long d : dims) {
            shape.addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        }
        OnnxMl.TypeProto.Builder t = OnnxMl.TypeProto.newBuilder().setTensorType(OnnxMl.TypeProto.Tensor.newBuilder().setElemType(1)
                .setShape(shape));
        OnnxMl.GraphProto g = OnnxMl.GraphProto.newBuilder().setName("g").addNode(n)
                .addInput(OnnxMl.ValueInfoProto.newBuilder().setName("x").setType(t))
                .addOutput(OnnxMl.ValueInfoProto.newBuilder().setName("y")).build();
        OnnxMl.ModelProto m = OnnxMl.ModelProto.newBuilder().setIrVersion(5).setGraph(g)
                .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(10)).build();
        return OnnxModelReader.parse(m, "ceil_" + op.toLowerCase(java.util.Locale.ROOT));
    }

    private static OnnxMl.AttributeProto ints(String name, long... v) {
        OnnxMl.AttributeProto.Builder a = OnnxMl.AttributeProto.newBuilder().setName(name).setType(OnnxMl.AttributeProto.AttributeType.INTS);
        for (long x : v) {
            a.addInts(x);
        }
        return a.build();
    }

    private static OnnxMl.AttributeProto one(String name, long v) {
        return OnnxMl.AttributeProto.newBuilder().setName(name).setType(OnnxMl.AttributeProto.AttributeType.INT).setI(v).build();
    }

    @Test
    void ceilModePoolsFromOnnxIcarus() throws Exception {
        Random r = new Random(7);
        Graph max = onnxPool("MaxPool", new long[] {2, 8, 7}, ints("kernel_shape", 3, 2), ints("strides", 2, 2), one("ceil_mode", 1));
        assertArrayEquals(new int[] {2, 4, 4}, max.outputShape().dims(), "ceil((8-3)/2)+1 = 4 rows, ceil((7-2)/2)+1 = 4 columns");
        QuantizedGraph qm = quantize(max, r, 8);
        cosim(tmp.resolve("ceilmax"), qm, ParallelismPlan.serial().withInputElems(2).with("MaxPool", 2, 1), inputs(qm, r, 3),
                new Stimulus(6, 0.3, 0.3), true);
        Graph avg = onnxPool("AveragePool", new long[] {3, 6, 5}, ints("kernel_shape", 3, 3), ints("strides", 2, 2),
                ints("pads", 1, 0, 0, 1), one("ceil_mode", 1));
        QuantizedGraph qa = quantize(avg, r, 9);
        cosim(tmp.resolve("ceilavg"), qa, ParallelismPlan.serial(), inputs(qa, r, 3), new Stimulus(8, 0.3, 0.3), false);
    }

    @Test
    void perChannelPReluAfterConvAndDenseIcarusAndVerilator() throws Exception {
        Random r = new Random(8);
        Graph g = new Graph("prelu", "x", Shape.of(2, 4, 4), List.of(
                new Node("conv", new Op.Conv(randn(r, 0.5, 3, 2, 3, 3), randn(r, 0.2, 3), Window.of(new int[] {3, 3}, new int[] {1, 1},
                        new int[] {1, 1, 1, 1}), 1), "x", "a"),
                new Node("prelu1", new Op.PRelu(Tensor.of(Shape.of(3), new double[] {0.1, -0.4, 0.3})), "a", "b"),
                new Node("flat", new Op.Flatten(), "b", "c"),
                new Node("fc", new Op.Dense(randn(r, 0.2, 4, 48), randn(r, 0.1, 4)), "c", "d"),
                new Node("prelu2", new Op.PRelu(Tensor.of(Shape.of(4), new double[] {0.25, 0.05, -0.2, 0.5})), "d", "y")), "y");
        QuantizedGraph q = quantize(g, r, 8);
        // 3 conv lanes (one pixel per beat), then 2 lanes on the dense output: both PRelu stages pick slopes per lane and beat
        ParallelismPlan plan = ParallelismPlan.serial().with("conv", 3, 2).with("fc", 2, 4);
        cosim(tmp.resolve("prelu"), q, plan, inputs(q, r, 3), new Stimulus(9, 0.3, 0.3), true);
    }

    @Test
    void randomGroupedDilatedAndLongEndPaddedLayersIcarus() throws Exception {
        List<WindowedLayers.Layer> layers = List.of(
                WindowedLayers.firstFeature(100, 2, l -> l.desc().contains("GROUPED") && l.twoD()),
                WindowedLayers.firstFeature(200, 2, l -> l.desc().contains("DILATED_CONV") && l.twoD() && l.window().hasPadding()),
                WindowedLayers.firstFeature(300, 2, l -> l.desc().contains("DILATED_MAXPOOL")),
                WindowedLayers.firstFeature(400, 2, l -> l.desc().contains("LONG_END_PAD") && l.kind() == WindowedLayers.Kind.AVGPOOL
                        && java.util.Arrays.stream(l.window().padsEnd()).anyMatch(p -> p > 1)));
        for (int i = 0; i < layers.size(); i++) {
            WindowedLayers.Layer l = layers.get(i);
            System.out.println("co-simulating " + l.desc());
            try {
                cosim(tmp.resolve("f" + i), l.q(), l.plan(), l.inputs(), new Stimulus(i, 0.3, 0.3), false);
            } catch (AssertionError e) {
                throw new AssertionError(l.desc() + ": " + e.getMessage(), e);
            }
        }
    }
}
