package io.streamfold.testbench;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.compile.Pipeline;
import io.streamfold.hw.Channel;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.hw.Pipelining;
import io.streamfold.hw.Stage;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.sim.CycleSimulator;
import io.streamfold.sim.GraphFixtures;
import io.streamfold.sim.Stimulus;
import io.streamfold.testutil.Examples;
import io.streamfold.verilog.VerilogLowering;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The RTL of the full-rate heads ({@link Stage.SoftmaxTree}, {@link Stage.ArgmaxTree}) under Icarus
 * and Verilator gives every output beat in the cycle the simulator predicts, with random input
 * gaps and output backpressure: every tree shape, three output formats, ties in a shuffled lane
 * order, a fully parallel residual MLP, and hls4ml's jet-tagging MLP at one inference per cycle
 * (skipped when the peer fixtures are absent). Lint-clean; Yosys synthesizes it.
 */
@Tag("eda")
class FullRateHeadsCoSimTest {

    @TempDir
    Path tmp;

    static Graph softmaxOnly(int n) {
        return new Graph("softmax_only", "x", Shape.of(n), List.of(new Node("softmax", new Op.Softmax(0), "x", "y")), "y");
    }

    static boolean has(HwDesign d, Class<? extends Stage> kind) {
        return d.stages().stream().anyMatch(kind::isInstance);
    }

    static void lint(Path dir, HwDesign d) throws Exception {
        EdaRunner.Run lint = EdaRunner.lint(dir, d.name(), CoSim.rtlFiles(d));
        assertEquals(0, lint.exitCode(), lint.output());
        assertEquals("", lint.output().strip(), lint.output());
    }

    @Test
    void everyTreeShapeAndFormatUnderIcarus() throws Exception {
        GraphFixtures f = new GraphFixtures(41);
        int[] sizes = {1, 2, 3, 5, 8, 9, 16};
        List<QuantConfig> cfgs = List.of(QuantConfig.defaults(), QuantConfig.defaults().withBits(8, 16), QuantConfig.defaults().withBits(6, 5));
        for (int i = 0; i < sizes.length; i++) {
            int n = sizes[i];
            QuantConfig cfg = cfgs.get(i % cfgs.size());
            QuantizedGraph q = f.quantize(softmaxOnly(n), cfg);
            ParallelismPlan plan = ParallelismPlan.serial().withInputElems(n).withArgmax(i % 2 == 0);
            Path dir = tmp.resolve("n" + n);
            HwDesign d = GraphStagesCoSimTest.emit(dir, q, plan, f.inputs(q, 12), new Stimulus(n, 0.3, 0.5));
            assertTrue(has(d, Stage.SoftmaxTree.class));
            assertEquals(plan.argmax(), has(d, Stage.ArgmaxTree.class));
            lint(dir, d);
            CoSim.assertPasses(dir, EdaRunner.Simulator.ICARUS);
        }
    }

    @Test
    void fullyParallelResidualMlpWithBothHeadsUnderBothSimulatorsAndYosys() throws Exception {
        GraphFixtures f = new GraphFixtures(42);
        QuantizedGraph q = f.quantize(f.residualMlp(6, 4, 5, true), QuantConfig.defaults());
        ParallelismPlan plan = ParallelismPlan.serial().withInputElems(6).with("fc0", 4, 6).with("fc1", 4, 4).with("fc2", 5, 4)
                .withArgmax(true);
        HwDesign d = GraphStagesCoSimTest.emit(tmp, q, plan, f.inputs(q, 20), new Stimulus(9, 0.3, 0.4));
        assertEquals(1, d.initiationInterval());
        assertTrue(has(d, Stage.SoftmaxTree.class) && has(d, Stage.ArgmaxTree.class));
        GraphStagesCoSimTest.lintAndBothSimulators(tmp, d);
        EdaRunner.Run synth = EdaRunner.synthesize(tmp, d.name(), CoSim.rtlFiles(d), "synth");
        assertEquals(0, synth.exitCode(), synth.output());
        assertTrue(synth.output().contains("Number of cells"), synth.output());
    }

    @Test
    void argmaxTreeTiesInAShuffledLaneOrderUnderBothSimulators() throws Exception {
        // lane k carries flat element perm[k]; the lowest flat index of the maximum must win
        Random rnd = new Random(43);
        int n = 7;
        int[] perm = {4, 0, 6, 2, 5, 1, 3};
        QFormat fmt = new QFormat(3, 0);
        QFormat idx = new QFormat(4, 0);
        Stage.ArgmaxTree am = new Stage.ArgmaxTree("s0_argmax", "y", 0, 1, fmt, perm, idx, Pipelining.ICE40);
        List<Channel> channels = List.of(new Channel(0, "c0_in", n, fmt, 2, 1),
                new Channel(1, "c1_argmax", 1, idx, 2, 1).withRegisters(am.latency(), true));
        HwDesign d = new HwDesign("argmax_perm", channels, List.of(am), 0, 1, perm, new int[] {0});
        List<long[]> xs = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            long[] x = new long[n];
            for (int j = 0; j < n; j++) {
                x[j] = i % 3 == 0 ? rnd.nextInt(2) : rnd.nextInt(8) - 4;
            }
            xs.add(x);
        }
        Stimulus stim = new Stimulus(11, 0.3, 0.5);
        CycleSimulator.Result r = CycleSimulator.run(d, xs, stim);
        for (int i = 0; i < xs.size(); i++) {
            assertEquals(GraphFixtures.argmax(xs.get(i)), r.outputs().get(i)[0], "vector " + i);
        }
        EdaRunner.write(tmp, VerilogLowering.emit(d));
        EdaRunner.write(tmp, Testbench.files(d, xs, stim, r));
        GraphStagesCoSimTest.lintAndBothSimulators(tmp, d);
    }

    /** hls4ml's jet-tagging MLP (16-64-32-32-5, softmax) fully parallel, with and without the argmax head. */
    @Test
    void jetTaggingMlpFullyParallelUnderBothSimulators() throws Exception {
        Path dir = Examples.peer("KERAS_3layer");
        assumeTrue(Files.isDirectory(dir), "peer fixtures not found at " + dir + "; skipped");
        Graph g = ModelLoader.open(dir.resolve("KERAS_3layer.json"), null);
        List<double[]> samples = DataFiles.samples(dir.resolve("inputs.npy"), g);
        for (boolean argmax : new boolean[] {false, true}) {
            Pipeline.Result c = Pipeline.compile(g, new Pipeline.Settings(QuantConfig.defaults(),
                    ParallelismPlan.serial().withArgmax(argmax), 100_000), samples.subList(0, 200));
            HwDesign d = c.design();
            assertEquals(1, d.initiationInterval());
            assertTrue(has(d, Stage.SoftmaxTree.class));
            QuantizedGraph q = c.quantized();
            List<long[]> xs = new ArrayList<>();
            for (double[] x : samples.subList(200, 240)) {
                xs.add(IntegerInterpreter.quantizeInput(q, x));
            }
            Path out = tmp.resolve(argmax ? "argmax" : "softmax");
            Stimulus stim = new Stimulus(argmax ? 13 : 12, 0.2, 0.3);
            CycleSimulator.Result r = CycleSimulator.run(d, xs, stim);
            for (int i = 0; i < xs.size(); i++) {
                long[] want = IntegerInterpreter.run(q, xs.get(i));
                assertArrayEquals(argmax ? new long[] {GraphFixtures.argmax(want)} : want, r.outputs().get(i), "inference " + i);
            }
            EdaRunner.write(out, VerilogLowering.emit(d));
            EdaRunner.write(out, Testbench.files(d, xs, stim, r));
            CoSim.assertPasses(out, EdaRunner.Simulator.ICARUS);
            if (argmax) {
                lint(out, d);
                CoSim.assertPasses(out, EdaRunner.Simulator.VERILATOR);
            }
        }
    }
}
