package io.streamfold.sim;

import io.streamfold.testutil.Examples;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.hw.PlanParallelism;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The automatic parallelism planner and the plan file. */
class PlanParallelismTest {

    static final int[] BUDGETS = {4, 16, 64, 256, 1024, 6464};

    @Test
    void mlpBudgetsAreRespectedAndTheIntervalFallsWithTheBudget() {
        QuantizedGraph q = Examples.quantize("mlp_bn", QuantConfig.defaults());
        List<long[]> xs = Examples.inputs("mlp_bn", q, 10);
        int lastIi = Integer.MAX_VALUE;
        for (int budget : BUDGETS) {
            PlanParallelism.Result r = PlanParallelism.run(q, budget);
            System.out.println("mlp_bn budget " + budget + ": " + r + " " + r.plan().toJson().replaceAll("\\s+", " "));
            assertTrue(r.multipliers() <= budget, budget + ": " + r);
            assertTrue(r.ii() < lastIi, budget + ": " + r);
            // Three layers need three multipliers however few the budget: 0.9 is out of reach below 16.
            assertTrue(r.utilization() >= (budget >= 16 ? 0.9 : 0.75), budget + ": " + r);
            lastIi = r.ii();
            CycleSimulator.Result sim = CycleSimulator.run(r.design(), xs, Stimulus.ideal());
            assertEquals(r.ii(), sim.measuredInterval(), "measured II at budget " + budget);
            for (int i = 0; i < xs.size(); i++) {
                assertArrayEquals(IntegerInterpreter.run(q, xs.get(i)), sim.outputs().get(i));
            }
        }
    }

    @Test
    void fullyParallelMlpRunsAtOneInferencePerCycle() {
        QuantizedGraph q = Examples.quantize("mlp_bn", QuantConfig.defaults());
        ParallelismPlan full = ParallelismPlan.serial().withInputElems(64).with("/0/Gemm", 64, 64).with("/3/Gemm", 32, 64)
                .with("/6/Gemm", 10, 32);
        HwDesign d = LowerToHardware.run(q, full);
        assertEquals(1, d.initiationInterval());
        assertEquals(64 * 64 + 64 * 32 + 32 * 10, d.multipliers());
        List<long[]> xs = Examples.inputs("mlp_bn", q, 16);
        CycleSimulator.Result r = CycleSimulator.run(d, xs, Stimulus.ideal());
        assertEquals(1, r.measuredInterval());
        for (int i = 1; i < xs.size(); i++) {
            assertEquals(1, r.firstInputCycle()[i] - r.firstInputCycle()[i - 1], "inference " + i);
            assertEquals(1, r.firstOutputCycle()[i] - r.firstOutputCycle()[i - 1], "inference " + i);
        }
        for (int i = 0; i < xs.size(); i++) {
            assertArrayEquals(IntegerInterpreter.run(q, xs.get(i)), r.outputs().get(i));
        }
        // The planner finds the same design when the budget allows it.
        PlanParallelism.Result p = PlanParallelism.run(q, d.multipliers());
        assertEquals(1, p.ii());
        assertEquals(1.0, p.utilization(), 1e-12);
        assertEquals(full.folds(), p.plan().folds());
        assertEquals(64, p.plan().inputElems());
    }

    @Test
    void residualGraphsArePlannedFromStageCycles() {
        GraphFixtures f = new GraphFixtures(4);
        QuantizedGraph q = f.quantize(f.residualMlp(16, 8, 4, true), QuantConfig.defaults());
        List<long[]> xs = f.inputs(q, 4);
        int lastIi = Integer.MAX_VALUE;
        PlanParallelism.Result r = null;
        for (int budget : new int[] {5, 12, 48, 400}) { // 5: three layers and the softmax product at one lane each
            r = PlanParallelism.run(q, budget);
            assertTrue(r.multipliers() <= budget && r.ii() <= lastIi, budget + ": " + r);
            lastIi = r.ii();
            CycleSimulator.Result sim = CycleSimulator.run(r.design(), xs, new Stimulus(budget, 0.2, 0.2));
            for (int i = 0; i < xs.size(); i++) {
                assertArrayEquals(IntegerInterpreter.run(q, xs.get(i)), sim.outputs().get(i));
            }
        }
        // The softmax state machine (3 cycles per beat plus the divider) is the slowest stage until the
        // last layer gives it the whole vector per beat: then it is the full-rate tree, and the II is 1.
        assertEquals(1, lastIi);
        assertTrue(r.design().stages().stream().anyMatch(s -> s instanceof io.streamfold.hw.Stage.SoftmaxTree));
    }

    /**
     * cnn_seed's conv has one input channel, so with every lane in use (PE 8, SIMD 1) it still takes
     * a cycle per window beat, 9 per output pixel: 576 cycles. A large budget makes it compute
     * several pixels per window (8: the whole row, one super-column of 3 beats per 8 pixels), which
     * takes it below one window per cycle (64 positions); the 2x2 max pool after it (16 positions
     * x 4 window beats at its 8 lanes) then sets the II. A budget of 64 gives the conv two pixels
     * per window; a budget too small to pay for that keeps the layer as it was.
     */
    @Test
    void aLargeBudgetComputesSeveralPixelsPerWindowOfAOneChannelConv() {
        QuantizedGraph q = Examples.quantize("cnn_seed", QuantConfig.defaults());
        String conv = "/1/Conv";
        HwDesign allLanes = LowerToHardware.run(q, ParallelismPlan.serial().with(conv, 8, 1));
        assertEquals(8 * 8 * 9, convCycles(allLanes, conv), "one window beat per cycle");
        List<long[]> xs = Examples.inputs("cnn_seed", q, 4);
        int[][] expected = {{100000, 64, 8}, {64, 288, 2}, {16, 576, 1}};
        for (int[] e : expected) {
            PlanParallelism.Result r = PlanParallelism.run(q, e[0]);
            System.out.println("cnn_seed budget " + e[0] + ": " + r + " " + r.plan().toJson().replaceAll("\\s+", " "));
            assertTrue(r.multipliers() <= e[0], r.toString());
            assertEquals(e[1], r.ii(), "budget " + e[0]);
            assertEquals(e[2], r.plan().fold(conv).pixels(), "budget " + e[0]);
            CycleSimulator.Result sim = CycleSimulator.run(r.design(), xs, Stimulus.ideal());
            assertEquals(r.ii(), sim.measuredInterval(), "measured II at budget " + e[0]);
            for (int i = 0; i < xs.size(); i++) {
                assertArrayEquals(IntegerInterpreter.run(q, xs.get(i)), sim.outputs().get(i));
            }
        }
        HwDesign large = PlanParallelism.run(q, 100000).design();
        assertTrue(convCycles(large, conv) < 8 * 8, "below one window per cycle: " + convCycles(large, conv));
        assertTrue(large.stages().stream().anyMatch(s -> s.source().equals("/4/MaxPool") && s.cycles() == large.initiationInterval()),
                "the max pool sets the II");
    }

    private static int convCycles(HwDesign d, String conv) {
        return d.stages().stream().filter(s -> s.source().equals(conv) && s instanceof io.streamfold.hw.Stage.MatVec)
                .mapToInt(io.streamfold.hw.Stage::cycles).max().orElseThrow();
    }

    @Test
    void aBudgetBelowTheSmallestDesignIsABadPlan() {
        QuantizedGraph q = Examples.quantize("mlp_bn", QuantConfig.defaults());
        ModelException e = assertThrows(ModelException.class, () -> PlanParallelism.run(q, 2));
        assertEquals(Diagnostic.SF_BAD_PLAN, e.id());
    }

    @Test
    void planJsonRoundTripsAndIsApplied() {
        QuantizedGraph q = Examples.quantize("mlp_bn", QuantConfig.defaults());
        ParallelismPlan p = PlanParallelism.run(q, 64).plan().withFifoDepth(3).withArgmax(true);
        String json = p.toJson();
        assertEquals(p, ParallelismPlan.fromJson(json));
        assertEquals(json, ParallelismPlan.fromJson(json).toJson());
        ParallelismPlan edited = ParallelismPlan.fromJson("{\"layers\": {\"/0/Gemm\": {\"pe\": 2, \"simd\": 8}}, \"input_elems\": 4}");
        assertEquals(new ParallelismPlan.Fold(2, 8), edited.fold("/0/Gemm"));
        assertEquals(new ParallelismPlan.Fold(1, 1), edited.fold("/3/Gemm"));
        assertEquals(4, edited.inputElems());
        assertEquals(2, edited.fifoDepth());
        HwDesign d = LowerToHardware.run(q, edited);
        io.streamfold.hw.Stage.MatVec first = d.stages().stream().filter(s -> s instanceof io.streamfold.hw.Stage.MatVec)
                .map(s -> (io.streamfold.hw.Stage.MatVec) s).findFirst().orElseThrow();
        assertEquals(2, first.pe());
        assertEquals(8, first.simd());
        assertEquals(64 / 8 * 64 / 2, first.cycles());
    }

    @Test
    void badPlansNameTheirNode() {
        assertBad("{\"layers\": {\"fc1\": {\"pe\": 0, \"simd\": 1}}}", "fc1");
        assertBad("{\"layers\": {\"fc1\": {\"pe\": 2, \"lanes\": 1}}}", "fc1");
        assertBad("{\"layers\": {\"fc1\": {\"pe\": \"four\"}}}", "fc1");
        assertBad("{\"layers\": {\"fc1\": [1, 2]}}", "fc1");
        assertBad("{\"layers\": {}, \"fifo_depth\": 1}", null);
        assertBad("{\"layers\": {}, \"speed\": 9}", null);
        assertBad("{\"layers\": {\"fc1\": {\"pe\": 1,}", null);
        assertBad("[1]", null);
        QuantizedGraph q = Examples.quantize("mlp_bn", QuantConfig.defaults());
        ModelException e = assertThrows(ModelException.class,
                () -> LowerToHardware.run(q, ParallelismPlan.fromJson("{\"layers\": {\"/3/Gemm\": {\"pe\": 3, \"simd\": 1}}}")));
        assertEquals(Diagnostic.SF_BAD_PLAN, e.id());
        assertEquals("/3/Gemm", e.node());
        e = assertThrows(ModelException.class,
                () -> LowerToHardware.run(q, ParallelismPlan.fromJson("{\"layers\": {\"/9/Gemm\": {\"pe\": 1, \"simd\": 1}}}")));
        assertEquals("/9/Gemm", e.node());
    }

    static void assertBad(String json, String node) {
        ModelException e = assertThrows(ModelException.class, () -> ParallelismPlan.fromJson(json), json);
        assertEquals(Diagnostic.SF_BAD_PLAN, e.id(), json);
        if (node == null) {
            assertNull(e.node(), json);
        } else {
            assertEquals(node, e.node(), json);
        }
    }
}
