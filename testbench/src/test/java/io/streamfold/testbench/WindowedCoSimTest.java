package io.streamfold.testbench;

import io.streamfold.testutil.Examples;
import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.compile.Pipeline;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.hw.Pipelining;
import io.streamfold.hw.Stage;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.sim.CycleSimulator;
import io.streamfold.sim.Stimulus;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Convolution and pooling in RTL: Icarus Verilog and Verilator produce every output beat of the
 * sliding-window, matrix-vector, depthwise and pooling stages in the value and cycle the Java
 * simulator predicts, with random input gaps and output backpressure; the RTL is lint-clean.
 */
@Tag("eda")
class WindowedCoSimTest {

    @TempDir
    Path tmp;

    /** cnn_seed without its Softmax (the graph then ends at the Gemm's logits). */
    static QuantizedGraph cnnSeedLogits() {
        Path dir = Examples.dir("cnn_seed");
        Graph g = ModelLoader.load(dir.resolve("model.onnx"));
        List<Node> nodes = new ArrayList<>(g.nodes());
        Node softmax = nodes.remove(nodes.size() - 1);
        assertEquals("Softmax", softmax.op().kind());
        Graph cut = g.withNodes(nodes, softmax.input());
        return Pipeline.quantize(cut, QuantConfig.defaults(), DataFiles.samples(dir.resolve("calib.npy"), g.inputShape())).quantized();
    }

    static String node(QuantizedGraph q, String kind) {
        return q.graph().nodes().stream().filter(n -> n.op().kind().equals(kind)).findFirst().orElseThrow().name();
    }

    /** One lane everywhere except 2 output lanes on the conv. */
    static ParallelismPlan cnnSmall(QuantizedGraph q) {
        return ParallelismPlan.serial().with(node(q, "Conv"), 2, 1);
    }

    /** Every conv output channel in parallel, a whole pixel per pooling beat, 2x4 lanes on the Gemm (160 cycles, under the conv's 576). */
    static ParallelismPlan cnnFast(QuantizedGraph q) {
        return ParallelismPlan.serial().with(node(q, "Conv"), 8, 1).with(node(q, "MaxPool"), 8, 1).with(node(q, "Dense"), 2, 4);
    }

    private void cosim(Path dir, QuantizedGraph q, ParallelismPlan plan, List<long[]> xs, Stimulus stim, boolean verilator)
            throws Exception {
        cosim(dir, q, plan, Pipelining.GENERIC, xs, stim, verilator);
    }

    private HwDesign cosim(Path dir, QuantizedGraph q, ParallelismPlan plan, Pipelining pipelining, List<long[]> xs, Stimulus stim,
                           boolean verilator) throws Exception {
        HwDesign d = CoSim.emit(dir, q, plan, pipelining, xs, stim);
        EdaRunner.Run lint = EdaRunner.lint(dir, d.name(), CoSim.rtlFiles(d));
        assertEquals(0, lint.exitCode(), lint.output());
        assertEquals("", lint.output().strip(), lint.output());
        CoSim.assertPasses(dir, EdaRunner.Simulator.ICARUS);
        if (verilator) {
            CoSim.assertPasses(dir, EdaRunner.Simulator.VERILATOR);
        }
        return d;
    }

    @Test
    void cnnSeedAtTwoParallelismSettingsIcarusAndVerilator() throws Exception {
        QuantizedGraph q = cnnSeedLogits();
        List<long[]> xs = Examples.inputs("cnn_seed", q, 3);
        int k = 0;
        for (ParallelismPlan plan : List.of(cnnSmall(q), cnnFast(q))) {
            HwDesign d = LowerToHardware.run(q, plan);
            assertTrue(d.stages().stream().anyMatch(s -> s instanceof Stage.SlidingWindow), "has a sliding window");
            CycleSimulator.Result ideal = CycleSimulator.run(d, Examples.inputs("cnn_seed", q, 4), Stimulus.ideal());
            System.out.println("cnn_seed plan " + plan.folds() + ": II " + d.initiationInterval() + " (measured "
                    + ideal.measuredInterval() + "), latency " + ideal.latency() + ", multipliers " + d.multipliers());
            cosim(tmp.resolve("cnn" + k++), q, plan, xs, new Stimulus(17 + k, 0.25, 0.3), true);
        }
    }

    /** One layer of each kind (1D and 2D, padding, stride 2, channel multiplier, parallel lanes). */
    static List<WindowedLayers.Layer> coverage() {
        java.util.function.Predicate<WindowedLayers.Layer> padded = l -> l.window().hasPadding();
        java.util.function.Predicate<WindowedLayers.Layer> strided = l -> java.util.Arrays.stream(l.window().strides()).anyMatch(s -> s > 1);
        java.util.function.Predicate<WindowedLayers.Layer> big = l -> l.window().kernelSize() > 1;
        return List.of(
                WindowedLayers.first(1000, 2, l -> l.kind() == WindowedLayers.Kind.CONV && l.twoD() && padded.test(l) && big.test(l)
                        && l.plan().fold("layer").simd() > 1),
                WindowedLayers.first(2000, 2, l -> l.kind() == WindowedLayers.Kind.CONV && !l.twoD() && strided.test(l) && big.test(l)),
                WindowedLayers.first(3000, 2, l -> l.kind() == WindowedLayers.Kind.DEPTHWISE && padded.test(l) && l.desc().contains(" x2")
                        && l.plan().fold("layer").pe() > 1),
                WindowedLayers.first(4000, 2, l -> l.kind() == WindowedLayers.Kind.MAXPOOL && l.twoD() && padded.test(l) && strided.test(l)
                        && l.plan().inputElems() > 1 && !l.plan().folds().containsKey("layer")),
                WindowedLayers.first(5000, 2, l -> l.kind() == WindowedLayers.Kind.AVGPOOL && padded.test(l) && big.test(l)
                        && !((io.streamfold.quant.QOp.QAvgPool) l.q().op("layer")).countIncludePad()),
                WindowedLayers.first(6000, 2, l -> l.kind() == WindowedLayers.Kind.AVGPOOL && !l.twoD() && big.test(l)));
    }

    @Test
    void randomConvAndPoolLayersIcarusAndVerilator() throws Exception {
        List<WindowedLayers.Layer> layers = coverage();
        for (int i = 0; i < layers.size(); i++) {
            WindowedLayers.Layer l = layers.get(i);
            System.out.println("co-simulating " + l.desc());
            try {
                cosim(tmp.resolve("l" + i), l.q(), l.plan(), l.inputs(), new Stimulus(i, 0.3, 0.3), i % 2 == 0);
            } catch (AssertionError e) {
                throw new AssertionError(l.desc() + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * Line buffers spanning several block RAMs register their read data once more, after the
     * block multiplexer (readRegisters 2): blocks of 16 bits make every buffer of the coverage
     * layers one, with iCE40's placement otherwise (registered matrix-vector ends, no fusion).
     */
    @Test
    void bankedLineBuffersIcarusAndVerilator() throws Exception {
        Pipelining tinyBlocks = new Pipelining(2, true, false, 16);
        List<WindowedLayers.Layer> layers = coverage();
        for (int i : new int[] {0, 1, 3, 4}) {
            WindowedLayers.Layer l = layers.get(i);
            try {
                HwDesign d = cosim(tmp.resolve("b" + i), l.q(), l.plan(), tinyBlocks, l.inputs(), new Stimulus(40 + i, 0.3, 0.3), i < 2);
                List<Stage.SlidingWindow> windows = d.stages().stream().filter(s -> s instanceof Stage.SlidingWindow)
                        .map(s -> (Stage.SlidingWindow) s).toList();
                assertTrue(!windows.isEmpty() && windows.stream().allMatch(w -> w.readRegisters() == 2), l.desc());
            } catch (AssertionError e) {
                throw new AssertionError(l.desc() + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * The fewest row slots keep the writer waiting for slots while the reader waits for rows
     * (a 2x2/2 pool: the reader needs input as fast as the writer brings it), so the row
     * handover rules decide the cycles here.
     */
    @Test
    void slotLimitedSlidingWindowIcarus() throws Exception {
        WindowedLayers.Layer l = WindowedLayers.first(7000, 2, x -> (x.kind() == WindowedLayers.Kind.MAXPOOL
                || x.kind() == WindowedLayers.Kind.AVGPOOL) && x.twoD() && java.util.Arrays.equals(x.window().kernel(), new int[] {2, 2})
                && java.util.Arrays.equals(x.window().strides(), new int[] {2, 2}) && x.q().graph().inputShape().dim(1) >= 4
                && x.q().graph().inputShape().dim(2) >= 4);
        HwDesign d = WindowedLayers.withRows(LowerToHardware.run(l.q(), l.plan()),
                w -> Stage.SlidingWindow.minRows(w.kernelH(), w.strideH()));
        int k = 0;
        for (Stimulus stim : List.of(Stimulus.ideal(), new Stimulus(3, 0.1, 0.2))) {
            Path dir = tmp.resolve("min" + k++);
            CycleSimulator.Result r = CycleSimulator.run(d, l.inputs(), stim);
            EdaRunner.write(dir, io.streamfold.verilog.VerilogLowering.emit(d));
            EdaRunner.write(dir, Testbench.files(d, l.inputs(), stim, r));
            CoSim.assertPasses(dir, EdaRunner.Simulator.ICARUS);
        }
    }

    @Test
    void windowedStagesSynthesizeWithYosys() throws Exception {
        QuantizedGraph q = cnnSeedLogits();
        HwDesign d = CoSim.emit(tmp, q, cnnSmall(q), Examples.inputs("cnn_seed", q, 1), Stimulus.ideal());
        EdaRunner.Run synth = EdaRunner.synthesize(tmp, d.name(), CoSim.rtlFiles(d), "synth");
        assertEquals(0, synth.exitCode(), synth.output());
        assertTrue(synth.output().contains("Number of cells"), synth.output());
        WindowedLayers.Layer dw = coverage().get(2);
        Path dir = tmp.resolve("dw");
        HwDesign d2 = CoSim.emit(dir, dw.q(), dw.plan(), dw.inputs(), Stimulus.ideal());
        EdaRunner.Run synth2 = EdaRunner.synthesize(dir, d2.name(), CoSim.rtlFiles(d2), "synth");
        assertEquals(0, synth2.exitCode(), synth2.output());
    }
}
