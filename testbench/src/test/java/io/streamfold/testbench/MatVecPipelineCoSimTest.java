package io.streamfold.testbench;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.hw.Pipelining;
import io.streamfold.hw.Stage;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
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

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The matrix-vector unit's pipeline variants under Icarus and Verilator, cycle-exact against the
 * simulator with random input gaps and output backpressure, lint-clean (Verilator for the generic
 * placement, Icarus for all): without an input buffer
 * when its PE lanes cover all outputs (one beat or several per vector), beside the buffered unit;
 * the iCE40 and the generic register placement ({@link Pipelining}); every elementwise kind fused
 * into the unit's output stage, per-channel ones over several output beats.
 */
@Tag("eda")
class MatVecPipelineCoSimTest {

    @TempDir
    Path tmp;

    /** Simulator == integer reference, then the RTL and its testbench in {@code dir}. */
    static HwDesign emit(Path dir, QuantizedGraph q, ParallelismPlan plan, Pipelining pipe, List<long[]> xs, Stimulus stim) throws Exception {
        HwDesign d = LowerToHardware.run(q, plan, pipe);
        CycleSimulator.Result r = CycleSimulator.run(d, xs, stim);
        for (int i = 0; i < xs.size(); i++) {
            assertArrayEquals(IntegerInterpreter.run(q, xs.get(i)), r.outputs().get(i), "simulator vs integer reference, inference " + i);
        }
        EdaRunner.write(dir, VerilogLowering.emit(d));
        EdaRunner.write(dir, Testbench.files(d, xs, stim, r));
        return d;
    }

    /** Lint and Icarus; Verilator too if asked (its builds are the slow part of these tests). */
    static void check(Path dir, HwDesign d, boolean verilator) throws Exception {
        if (verilator) {
            GraphStagesCoSimTest.lintAndBothSimulators(dir, d);
        } else {
            FullRateHeadsCoSimTest.lint(dir, d);
            CoSim.assertPasses(dir, EdaRunner.Simulator.ICARUS);
        }
    }

    /** Relu, LeakyRelu, Clip (pipelined: not fused), a per-channel Affine over {@code affineWidth} channels, a table. */
    static List<Op> activations(GraphFixtures f, int affineWidth) {
        double[] scale = new double[affineWidth];
        double[] shift = new double[affineWidth];
        for (int c = 0; c < affineWidth; c++) {
            scale[c] = (0.5 + f.random().nextDouble()) * (c % 3 == 0 ? -1 : 1);
            shift[c] = 0.3 * f.random().nextGaussian();
        }
        Shape s = Shape.of(affineWidth);
        return Arrays.asList(new Op.Relu(), new Op.LeakyRelu(0.125), new Op.Clip(-0.5, 1.0),
                new Op.Affine(Tensor.of(s, scale), Tensor.of(s, shift)), new Op.Sigmoid());
    }

    @Test
    void unitsWhoseLanesCoverAllOutputsHaveNoBufferUnderBothSimulators() throws Exception {
        GraphFixtures f = new GraphFixtures(61);
        Graph g = f.mlp(Arrays.asList(new Op.Relu(), new Op.Relu()), 12, 8, 6, 5);
        QuantizedGraph q = f.quantize(g, QuantConfig.defaults());
        // fc1: PE covers its 8 outputs, 3 input beats per vector; fc2: two passes (NF 2), buffered;
        // fc3: the whole vector in one beat and all outputs
        ParallelismPlan plan = ParallelismPlan.serial().withInputElems(4).with("fc1", 8, 4).with("fc2", 3, 8).with("fc3", 5, 6);
        for (Pipelining pipe : List.of(Pipelining.ICE40, Pipelining.GENERIC)) {
            Path dir = tmp.resolve(pipe.registeredEnds() ? "ice40" : "generic");
            HwDesign d = emit(dir, q, plan, pipe, f.inputs(q, 16), new Stimulus(5, 0.3, 0.4));
            int unbuffered = 0;
            for (Stage s : d.stages()) {
                if (s instanceof Stage.MatVec m) {
                    assertEquals(m.nf() > 1, m.buffered(), m.name());
                    assertEquals(m.buffered(), m.bufferBits() > 0, m.name());
                    unbuffered += m.buffered() ? 0 : 1;
                }
            }
            assertEquals(2, unbuffered);
            check(dir, d, !pipe.registeredEnds());
        }
    }

    @Test
    void fullyParallelChainWithEveryFusedKindUnderBothPlacementsAndSimulators() throws Exception {
        GraphFixtures f = new GraphFixtures(62);
        int[] widths = {6, 20, 9, 33, 4, 5, 3};
        QuantizedGraph q = f.quantize(f.mlp(activations(f, widths[4]), widths), QuantConfig.defaults());
        ParallelismPlan plan = ParallelismPlan.serial().withInputElems(widths[0]);
        for (int l = 1; l < widths.length; l++) {
            plan = plan.with("fc" + l, widths[l], widths[l - 1]);
        }
        // the generic placement, and the iCE40 one with fusion (the iCE40 target itself does not fuse)
        for (Pipelining pipe : List.of(Pipelining.GENERIC, new Pipelining(2, true, true))) {
            Path dir = tmp.resolve(pipe.registeredEnds() ? "registered" : "generic");
            HwDesign d = emit(dir, q, plan, pipe, f.inputs(q, 24), new Stimulus(6, 0.3, 0.4));
            // every activation fused but the pipelined Clip and Affine, which stay stages of their own
            assertEquals(2, d.stages().stream().filter(s -> s instanceof Stage.Elementwise).count());
            check(dir, d, !pipe.registeredEnds());
        }
    }

    @Test
    void foldedUnitsWithFusedPerChannelOpsUnderIcarus() throws Exception {
        GraphFixtures f = new GraphFixtures(63);
        int[] widths = {6, 12, 8, 12, 12, 4, 5};
        QuantizedGraph q = f.quantize(f.mlp(activations(f, widths[4]), widths), QuantConfig.defaults().withBits(6, 10));
        // two and three output beats per vector, two and four input beats
        ParallelismPlan plan = ParallelismPlan.serial().withInputElems(3).with("fc1", 6, 3).with("fc2", 4, 6).with("fc3", 12, 2)
                .with("fc4", 4, 6).with("fc5", 2, 12).with("fc6", 5, 2);
        HwDesign d = emit(tmp, q, plan, Pipelining.GENERIC, f.inputs(q, 12), new Stimulus(7, 0.3, 0.5));
        // every activation fused but the pipelined Clip and Affine, which stay stages of their own
        assertEquals(2, d.stages().stream().filter(s -> s instanceof Stage.Elementwise).count());
        CoSim.assertPasses(tmp, EdaRunner.Simulator.ICARUS);
    }
}
