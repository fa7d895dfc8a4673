package io.streamfold.testbench;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.compile.Pipeline;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.ParallelismPlan;
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
        Path dir = CoSim.examples().resolve("cnn_seed");
        Graph g = ModelLoader.load(dir.resolve("model.onnx"));
        List<Node> nodes = new ArrayList<>(g.nodes());
        Node softmax = nodes.remove(nodes.size() - 1);
        assertEquals("Softmax", softmax.op().kind());
        Graph cut = g.withNodes(nodes, softmax.input());
        return Pipeline.run(cut, QuantConfig.defaults(), DataFiles.samples(dir.resolve("calib.npy"), g.inputShape())).quantized();
    }

    static String node(QuantizedGraph q, String kind) {
        return q.graph().nodes().stream().filter(n -> n.op().kind().equals(kind)).findFirst().orElseThrow().name();
    }

    /** One lane everywhere except 2 output lanes on the conv. */
    static ParallelismPlan cnnSmall(QuantizedGraph q) {
        return ParallelismPlan.serial().with(node(q, "Conv"), 2, 1);
    }

    /** Every conv output channel in parallel, a whole pixel per pooling beat, 10x8 lanes on the Gemm. */
    static ParallelismPlan cnnFast(QuantizedGraph q) {
        return ParallelismPlan.serial().with(node(q, "Conv"), 8, 1).with(node(q, "MaxPool"), 8, 1).with(node(q, "Dense"), 10, 8);
    }

    private void cosim(Path dir, QuantizedGraph q, ParallelismPlan plan, List<long[]> xs, Stimulus stim, boolean verilator)
            throws Exception {
        HwDesign d = CoSim.emit(dir, q, plan, xs, stim);
        EdaRunner.Run lint = EdaRunner.lint(dir, d.name(), CoSim.rtlFiles(d));
        assertEquals(0, lint.exitCode(), lint.output());
        assertEquals("", lint.output().strip(), lint.output());
        CoSim.assertPasses(dir, EdaRunner.Simulator.ICARUS);
        if (verilator) {
            CoSim.assertPasses(dir, EdaRunner.Simulator.VERILATOR);
        }
    }

    @Test
    void cnnSeedAtTwoParallelismSettingsIcarusAndVerilator() throws Exception {
        QuantizedGraph q = cnnSeedLogits();
        List<long[]> xs = CoSim.inputs("cnn_seed", q, 3);
        int k = 0;
        for (ParallelismPlan plan : List.of(cnnSmall(q), cnnFast(q))) {
            HwDesign d = LowerToHardware.run(q, plan);
            assertTrue(d.stages().stream().anyMatch(s -> s instanceof Stage.SlidingWindow), "has a sliding window");
            CycleSimulator.Result ideal = CycleSimulator.run(d, CoSim.inputs("cnn_seed", q, 4), Stimulus.ideal());
            System.out.println("cnn_seed plan " + plan.folds() + ": II " + d.initiationInterval() + " (measured "
                    + ideal.measuredInterval() + "), latency " + ideal.latency() + ", multipliers " + d.multipliers());
            cosim(tmp.resolve("cnn" + k++), q, plan, xs, new Stimulus(17 + k, 0.25, 0.3), true);
        }
    }

    @Test
    void randomConvAndPoolLayersIcarusAndVerilator() throws Exception {
        for (long seed = 1; seed <= 6; seed++) {
            WindowedLayers.Layer l = WindowedLayers.random(1000 + seed, 2);
            try {
                cosim(tmp.resolve("l" + seed), l.q(), l.plan(), l.inputs(), new Stimulus(seed, 0.3, 0.3), seed <= 3);
            } catch (AssertionError e) {
                throw new AssertionError(l.desc() + ": " + e.getMessage(), e);
            }
        }
    }
}
