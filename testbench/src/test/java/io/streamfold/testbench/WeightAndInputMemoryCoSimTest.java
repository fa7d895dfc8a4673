package io.streamfold.testbench;

import io.streamfold.hw.DeviceTarget;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.hw.Pipelining;
import io.streamfold.hw.PlaceWeights;
import io.streamfold.hw.Stage;
import io.streamfold.hw.WeightStore;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.passes.PassContext;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.sim.CycleSimulator;
import io.streamfold.sim.GraphFixtures;
import io.streamfold.sim.Stimulus;
import io.streamfold.verilog.VerilogLowering;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The memory choices of {@link PlaceWeights} under co-simulation. Weights in SPRAM
 * ({@link WeightStore#SPRAM}): the RTL loads them through {@code s_axis_weights} from the emitted
 * {@code <top>_weights.mem}, then gives every output beat in the cycle the simulator predicts
 * (cycles counted from the end of the load). Matrix-vector units without an input buffer
 * ({@link Stage.MatVec.Schedule#STREAMED}), alone and with weights in SPRAM, for Dense and Conv.
 * Icarus and Verilator, random input gaps and output backpressure, lint-clean with the
 * behavioural SPRAM model. A device with almost no block RAM forces the weights out of the design.
 */
@Tag("eda")
class WeightAndInputMemoryCoSimTest {

    @TempDir
    Path tmp;

    /** A device whose block RAM holds only the biases and tables: every weight set must go to SPRAM. */
    private static DeviceTarget noBlockRam(int sprams) {
        return new DeviceTarget("spram-test", "", "", "", 0, -1, 4096, sprams, 48, Pipelining.ICE40);
    }

    private static HwDesign emit(Path dir, QuantizedGraph q, ParallelismPlan plan, DeviceTarget t, List<long[]> xs, Stimulus stim)
            throws Exception {
        // weights only: the input buffers stay
        return emit(dir, q, PlaceWeights.weights(LowerToHardware.run(q, plan), t, new PassContext()), xs, stim);
    }

    /** Every matrix-vector unit of the design under the streamed schedule. */
    private static HwDesign streamed(HwDesign d) {
        List<Stage> stages = d.stages().stream()
                .map(s -> s instanceof Stage.MatVec m ? (Stage) m.withSchedule(Stage.MatVec.Schedule.STREAMED) : s).toList();
        return new HwDesign(d.name(), d.channels(), stages, d.input(), d.output(), d.inputOrder(), d.outputOrder());
    }

    private static HwDesign emit(Path dir, QuantizedGraph q, HwDesign d, List<long[]> xs, Stimulus stim) throws Exception {
        CycleSimulator.Result r = CycleSimulator.run(d, xs, stim);
        for (int i = 0; i < xs.size(); i++) {
            assertArrayEquals(IntegerInterpreter.run(q, xs.get(i)), r.outputs().get(i), "simulator vs integer reference, inference " + i);
        }
        Map<String, String> rtl = VerilogLowering.emit(d);
        boolean spram = !d.spramStages().isEmpty();
        assertEquals(spram, rtl.containsKey(VerilogLowering.SPRAM_MODEL) && rtl.containsKey(VerilogLowering.weightsFile(d)), rtl.keySet().toString());
        EdaRunner.write(dir, rtl);
        EdaRunner.write(dir, Testbench.files(d, xs, stim, r));
        EdaRunner.Run lint = EdaRunner.lint(dir, d.name(), CoSim.rtlFiles(d));
        assertEquals(0, lint.exitCode(), lint.output());
        assertEquals("", lint.output().strip(), lint.output());
        return d;
    }

    @Test
    void threeWeightSetsSideBySideLoadInStageOrder() throws Exception {
        GraphFixtures f = new GraphFixtures(7);
        QuantizedGraph q = f.quantize(f.residualMlp(24, 12, 6, true), QuantConfig.defaults());
        // rows of 48, 32 and 8 bits: 3, 2 and 1 blocks side by side
        ParallelismPlan plan = ParallelismPlan.serial().with("fc0", 3, 2).with("fc1", 2, 2).withInputElems(2);
        HwDesign d = emit(tmp, q, plan, noBlockRam(6), f.inputs(q, 5), new Stimulus(3, 0.3, 0.4));
        assertEquals(3, d.spramStages().size());
        assertEquals(6, d.spramBlocks());
        assertEquals(12 * 24 / 6 * 3 + 12 * 12 / 4 * 2 + 6 * 12, d.weightLoad().length);
        CoSim.assertPasses(tmp, EdaRunner.Simulator.ICARUS);
        CoSim.assertPasses(tmp, EdaRunner.Simulator.VERILATOR);
    }

    @Test
    void aWeightSetDeeperThanOneBlockSpansTwoBanks() throws Exception {
        GraphFixtures f = new GraphFixtures(11);
        int n = 2100;
        Graph g = new Graph("deep", "x", Shape.of(n), List.of(new Node("fc", denseOf(f, 8, n), "x", "y")), "y");
        QuantizedGraph q = f.quantize(g, QuantConfig.defaults().withBits(6, 8));
        HwDesign d = emit(tmp, q, ParallelismPlan.serial(), noBlockRam(4), f.inputs(q, 3), new Stimulus(5, 0.2, 0.3));
        Stage.MatVec m = d.spramStages().get(0);
        // 16,800 rows of 6 bits: two banks of one block, the upper bits of each word unused
        assertEquals(16_800, m.rows());
        assertEquals(2, d.spramBlocks());
        assertTrue(Files.readString(tmp.resolve(VerilogLowering.moduleName(d, m) + ".v")).contains("u_spram1_0"));
        CoSim.assertPasses(tmp, EdaRunner.Simulator.ICARUS);
    }

    @Test
    void streamedDenseLayersAtRandomFoldsWithAndWithoutSpram() throws Exception {
        GraphFixtures f = new GraphFixtures(23);
        QuantizedGraph q = f.quantize(f.residualMlp(12, 8, 6, true), QuantConfig.defaults());
        for (int k = 0; k < 3; k++) {
            ParallelismPlan plan = f.randomPlan(q);
            Path dir = tmp.resolve("rom" + k);
            // both register placements: the iCE40's (registered ends) and the generic one (fused activations)
            Pipelining pipe = k == 1 ? Pipelining.ICE40 : Pipelining.GENERIC;
            HwDesign d = emit(dir, q, streamed(LowerToHardware.run(q, plan, pipe)), f.inputs(q, 4), new Stimulus(k, 0.3, 0.4));
            assertTrue(d.stages().stream().noneMatch(s -> s.bufferBits() > 0 && s instanceof Stage.MatVec));
            CoSim.assertPasses(dir, EdaRunner.Simulator.ICARUS);
        }
        // the bench's combination: streamed input, weights in SPRAM
        ParallelismPlan plan = ParallelismPlan.serial().with("fc0", 2, 3).with("fc2", 3, 1).withInputElems(3);
        DeviceTarget tiny = new DeviceTarget("spram-test", "", "", "", 0, -1, 1024, 8, 48, Pipelining.ICE40);
        HwDesign d = emit(tmp.resolve("spram"), q, PlaceWeights.run(LowerToHardware.run(q, plan), tiny, new PassContext()),
                f.inputs(q, 4), new Stimulus(9, 0.3, 0.4));
        assertEquals(3, d.spramStages().size());
        // fc1 (8 -> 8) keeps its buffer: its accumulators would take more bits
        assertEquals(List.of(Stage.MatVec.Schedule.STREAMED, Stage.MatVec.Schedule.BUFFERED, Stage.MatVec.Schedule.STREAMED),
                d.spramStages().stream().map(Stage.MatVec::schedule).toList());
        CoSim.assertPasses(tmp.resolve("spram"), EdaRunner.Simulator.ICARUS);
        CoSim.assertPasses(tmp.resolve("spram"), EdaRunner.Simulator.VERILATOR);
        // the same under the iCE40 placement (the UP5K's): read, output register and its own activation stage
        HwDesign up5k = emit(tmp.resolve("spram-ice40"), q,
                PlaceWeights.run(LowerToHardware.run(q, plan, Pipelining.ICE40), tiny, new PassContext()), f.inputs(q, 4),
                new Stimulus(10, 0.3, 0.4));
        assertEquals(d.spramStages().stream().map(Stage.MatVec::schedule).toList(),
                up5k.spramStages().stream().map(Stage.MatVec::schedule).toList());
        CoSim.assertPasses(tmp.resolve("spram-ice40"), EdaRunner.Simulator.ICARUS);
    }

    @Test
    void streamedConvolutionsOfAnExample() throws Exception {
        QuantizedGraph q = io.streamfold.testutil.Examples.quantize("cnn_residual", QuantConfig.defaults());
        ParallelismPlan plan = io.streamfold.hw.PlanParallelism.run(q, 24).plan();
        HwDesign d = emit(tmp, q, streamed(LowerToHardware.run(q, plan)), io.streamfold.testutil.Examples.inputs("cnn_residual", q, 2),
                new Stimulus(4, 0.25, 0.25));
        CoSim.assertPasses(tmp, EdaRunner.Simulator.ICARUS);
        CoSim.assertPasses(tmp, EdaRunner.Simulator.VERILATOR);
    }

    private static Op.Dense denseOf(GraphFixtures f, int out, int in) {
        double[] w = new double[out * in];
        double[] b = new double[out];
        for (int i = 0; i < w.length; i++) {
            w[i] = f.random().nextGaussian() / Math.sqrt(in);
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = 0.3 * f.random().nextGaussian();
        }
        return new Op.Dense(io.streamfold.ir.Tensor.of(new Shape(out, in), w), io.streamfold.ir.Tensor.of(Shape.of(out), b));
    }
}
