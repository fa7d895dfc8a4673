package io.streamfold.sim;

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
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The matrix-vector unit's register placement ({@link Pipelining}) in the simulator: the depth the
 * stage records in the hardware IR is the latency the simulator shows, cycle for cycle, for every
 * placement, with and without the activations fused into the unit; values equal the integer
 * reference under random gaps and backpressure; fusing removes exactly the elementwise stages.
 */
class MatVecPipelineSimTest {

    /** The two targets' placements and two others: every level registered with fusion, three levels with registered ends. */
    static final List<Pipelining> PLACEMENTS = List.of(Pipelining.ICE40, Pipelining.GENERIC, new Pipelining(1, false, true),
            new Pipelining(3, true, true), new Pipelining(2, false, false));

    /** Every elementwise kind: Relu, LeakyRelu, a per-channel Affine, a table fuse into a unit; Clip (pipelined) stays a stage. */
    static List<Op> activations(GraphFixtures f, int... widths) {
        double[] scale = new double[widths[4]];
        double[] shift = new double[widths[4]];
        for (int c = 0; c < scale.length; c++) {
            scale[c] = (0.5 + f.random().nextDouble()) * (c % 3 == 0 ? -1 : 1);
            shift[c] = 0.3 * f.random().nextGaussian();
        }
        Shape s = Shape.of(widths[4]);
        return Arrays.asList(new Op.Relu(), new Op.LeakyRelu(0.125), new Op.Clip(-0.5, 1.0),
                new Op.Affine(Tensor.of(s, scale), Tensor.of(s, shift)), new Op.Sigmoid());
    }

    /**
     * The latency of a fully parallel chain (every unit one beat in, one beat out) from the IR:
     * the input lands (1); a unit's step leaves its last pipeline register {@code pipelineDepth()}
     * cycles after it is issued, then lands in the next FIFO in 1 cycle (written by the last
     * levels) or 3 (output register, the channel's register stage, the FIFO); an elementwise
     * stage fires and lands through its registers in 1 + outputRegisters() (2, or 3 when pipelined).
     */
    static long chainLatency(HwDesign d) {
        long l = 1;
        for (Stage s : d.stages()) {
            if (s instanceof Stage.MatVec m) {
                l += m.pipelineDepth() + (m.pipelining().registeredEnds() ? 3 : 1);
            } else {
                l += 1 + s.outputRegisters();
            }
        }
        return l;
    }

    @Test
    void theRecordedDepthIsTheLatencyForEveryPlacementAndFusion() {
        GraphFixtures f = new GraphFixtures(71);
        int[] widths = {6, 20, 9, 33, 4, 5, 3};
        Graph g = f.mlp(activations(f, widths), widths);
        QuantizedGraph q = f.quantize(g, QuantConfig.defaults());
        ParallelismPlan plan = ParallelismPlan.serial().withInputElems(widths[0]);
        for (int l = 1; l < widths.length; l++) {
            plan = plan.with("fc" + l, widths[l], widths[l - 1]);
        }
        List<long[]> xs = f.inputs(q, 30);
        for (Pipelining pipe : PLACEMENTS) {
            HwDesign d = LowerToHardware.run(q, plan, pipe);
            long units = d.stages().stream().filter(s -> s instanceof Stage.MatVec).count();
            long elementwise = d.stages().stream().filter(s -> s instanceof Stage.Elementwise).count();
            assertEquals(6, units);
            long fused = d.stages().stream().filter(s -> s instanceof Stage.MatVec m && m.activation() != null).count();
            // every activation is fused when the placement fuses, except the pipelined ones (Clip, which keeps its two registers)
            assertEquals(5, fused + elementwise, pipe.toString());
            for (Stage s : d.stages()) {
                if (s instanceof Stage.Elementwise e) {
                    assertTrue(!pipe.fuseActivations() || e.op().pipelined(), e.name() + " " + pipe);
                }
                if (s instanceof Stage.MatVec m) {
                    if (!pipe.fuseActivations() || m.source().equals("fc6")) {
                        assertNull(m.activation(), m.name() + " " + pipe);
                    }
                    assertEquals(m.pipelining().registeredEnds() ? 1 : 0, d.channel(m.output()).registers());
                }
            }
            CycleSimulator.Result r = CycleSimulator.run(d, xs, Stimulus.ideal());
            assertEquals(chainLatency(d), r.latency(), pipe.toString());
            assertEquals(1, r.measuredInterval(), pipe.toString());
            FullRateHeadsSimTest.assertMatches(q, plan, d, xs, Stimulus.ideal(), pipe.toString());
            FullRateHeadsSimTest.assertMatches(q, plan, d, xs, new Stimulus(pipe.levelsPerRegister(), 0.4, 0.5), pipe + ", gaps");
        }
    }

    @Test
    void foldedUnitsWithFusedPerChannelOpsMatchTheReference() {
        // several output beats per vector (NF > 1) and several input beats (SF > 1): the fused op's
        // channel pattern steps with the beats, the accumulators with the chunks
        for (long seed = 0; seed < 6; seed++) {
            GraphFixtures f = new GraphFixtures(80 + seed);
            int[] widths = {6, 12, 8, 12, 12, 4, 5};
            Graph g = f.mlp(activations(f, widths), widths);
            QuantizedGraph q = f.quantize(g, seed % 2 == 0 ? QuantConfig.defaults() : QuantConfig.defaults().withBits(6, 10));
            ParallelismPlan plan = f.randomPlan(q);
            for (Pipelining pipe : PLACEMENTS) {
                HwDesign d = LowerToHardware.run(q, plan, pipe);
                for (Stage s : d.stages()) {
                    if (s instanceof Stage.MatVec m && !m.source().equals("fc6")) {
                        if (pipe.fuseActivations() && m.activation() != null) {
                            assertEquals(m.activation().op().out(), d.channel(m.output()).format());
                        } else if (pipe.fuseActivations()) {
                            // only a pipelined op (Clip) stays a stage of its own
                            assertTrue(d.stages().stream().anyMatch(x -> x instanceof Stage.Elementwise e && e.input() == m.output()
                                    && e.op().pipelined()), m.name() + " " + pipe);
                        } else {
                            assertNull(m.activation());
                        }
                    }
                }
                Stimulus stim = new Stimulus(seed, 0.5 * f.random().nextDouble(), 0.8 * f.random().nextDouble());
                FullRateHeadsSimTest.assertMatches(q, plan, d, f.inputs(q, 10), stim, "seed " + seed + " " + pipe + " " + plan);
            }
        }
    }
}
