package io.streamfold.sim;

import io.streamfold.hw.Channel;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.hw.Stage;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.quant.QOp;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fork, Add, GlobalAvgPool, Softmax and Argmax stages in the simulator compute exactly what the
 * integer reference computes, on seeded random graphs, plans and stimuli; their documented cycle
 * counts hold; residual skip paths do not deadlock (and would with plain FIFOs).
 */
class GraphStagesSimTest {

    static void assertMatches(QuantizedGraph q, ParallelismPlan plan, List<long[]> xs, Stimulus stim, String what) {
        HwDesign d = LowerToHardware.run(q, plan);
        CycleSimulator.Result r = CycleSimulator.run(d, xs, stim);
        assertEquals(xs.size(), r.outputs().size(), what);
        for (int i = 0; i < xs.size(); i++) {
            long[] want = IntegerInterpreter.run(q, xs.get(i));
            if (plan.argmax()) {
                want = new long[] {GraphFixtures.argmax(want)};
            }
            assertArrayEquals(want, r.outputs().get(i), what + ", inference " + i + ", plan " + plan);
        }
    }

    static Stimulus randomStimulus(GraphFixtures f, long seed) {
        return f.random().nextBoolean() ? Stimulus.ideal() : new Stimulus(seed, 0.4 * f.random().nextDouble(), 0.6 * f.random().nextDouble());
    }

    @Test
    void randomGraphsMatchTheIntegerReference() {
        for (long seed = 0; seed < 12; seed++) {
            GraphFixtures f = new GraphFixtures(seed);
            QuantConfig cfg = seed % 3 == 2 ? QuantConfig.defaults().withBits(6, 10) : QuantConfig.defaults();
            int n = new int[] {4, 6, 8, 12}[f.random().nextInt(4)];
            int h = new int[] {4, 6, 8}[f.random().nextInt(3)];
            int k = new int[] {2, 3, 5, 10}[f.random().nextInt(4)];
            List<Graph> graphs = List.of(
                    f.residualMlp(n, h, k, seed % 2 == 0),
                    f.threeWayFanOut(n, h, k),
                    f.gapHead(new int[] {2, 4, 6}[f.random().nextInt(3)], 1 + f.random().nextInt(3), 1 + f.random().nextInt(4), k));
            for (Graph g : graphs) {
                QuantizedGraph q = f.quantize(g, cfg);
                List<long[]> xs = f.inputs(q, 5);
                ParallelismPlan plan = f.randomPlan(q).withArgmax(f.random().nextInt(3) == 0);
                assertMatches(q, plan, xs, randomStimulus(f, seed), g.name() + " seed " + seed);
            }
        }
    }

    @Test
    void forkAndAddAreWhereTheGraphSaysAndSkipPathsAreDeepEnough() {
        GraphFixtures f = new GraphFixtures(42);
        QuantizedGraph q = f.quantize(f.threeWayFanOut(8, 8, 4), QuantConfig.defaults());
        HwDesign d = LowerToHardware.run(q, ParallelismPlan.serial());
        List<Stage.Fork> forks = d.stages().stream().filter(s -> s instanceof Stage.Fork).map(s -> (Stage.Fork) s).toList();
        assertEquals(2, forks.size());
        assertEquals(3, forks.get(0).outputs().size(), "a is read by relu, fc1 and add2");
        assertEquals(2, forks.get(1).outputs().size(), "t + t");
        assertEquals(3, d.stages().stream().filter(s -> s instanceof Stage.Add).count());
        // relu and add2's skip stream straight on: a whole vector (8 beats) plus slack; fc1's input keeps 2.
        List<Integer> depths = forks.get(0).outputs().stream().map(c -> d.channel(c).depth()).toList();
        assertEquals(2, (int) depths.get(1), "the branch into a matrix-vector stage");
        assertTrue(depths.get(0) >= 8 && depths.get(2) >= 8, depths.toString());
    }

    @Test
    void aSkipPathWithPlainFifosDeadlocksAndTheComputedDepthDoesNot() {
        GraphFixtures f = new GraphFixtures(3);
        QuantizedGraph q = f.quantize(f.residualMlp(8, 16, 4, false), QuantConfig.defaults());
        HwDesign d = LowerToHardware.run(q, ParallelismPlan.serial());
        List<long[]> xs = f.inputs(q, 3);
        assertMatches(q, ParallelismPlan.serial(), xs, Stimulus.ideal(), "computed depths");
        Stage.Fork fork = (Stage.Fork) d.stages().stream().filter(s -> s instanceof Stage.Fork).findFirst().orElseThrow();
        int skip = fork.outputs().get(1);
        assertTrue(d.channel(skip).depth() >= 16, "skip depth " + d.channel(skip).depth());
        List<Channel> shallow = new ArrayList<>(d.channels());
        shallow.set(skip, d.channel(skip).withDepth(2));
        HwDesign bad = new HwDesign(d.name(), shallow, d.stages(), d.input(), d.output(), d.inputOrder(), d.outputOrder());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> CycleSimulator.run(bad, xs, Stimulus.ideal()));
        assertTrue(e.getMessage().contains("deadlocked"), e.getMessage());
    }

    @Test
    void softmaxTakesThreeCyclesPerBeatPlusTwoPlusTheDividerSteps() {
        GraphFixtures f = new GraphFixtures(5);
        QuantizedGraph q = f.quantize(f.gapHead(4, 2, 2, 10), QuantConfig.defaults());
        ParallelismPlan plan = ParallelismPlan.serial().with("fc", 2, 4);
        HwDesign d = LowerToHardware.run(q, plan);
        Stage.Softmax sm = (Stage.Softmax) d.stages().stream().filter(s -> s instanceof Stage.Softmax).findFirst().orElseThrow();
        assertEquals(2, sm.elems());
        QOp.QSoftmax op = sm.op();
        long maxQuotient = (1L << op.recipShift()) / op.exp().one();
        assertEquals(64 - Long.numberOfLeadingZeros(maxQuotient), sm.divSteps());
        assertEquals(3 * 5 + 2 + sm.divSteps(), sm.cycles());
        List<long[]> xs = f.inputs(q, 4);
        CycleSimulator.Result r = CycleSimulator.run(d, xs, Stimulus.ideal());
        assertEquals(4L * sm.cycles(), r.fires().get(sm.name()), "active cycles of the softmax FSM");
        Stage gap = d.stages().stream().filter(s -> s instanceof Stage.GlobalAvgPool).findFirst().orElseThrow();
        assertEquals(4L * 4 * 4, r.fires().get(gap.name()), "one firing per input beat");
    }

    @Test
    void restoringDividerStepsGiveTheFloorReciprocal() {
        // The RTL divider's algorithm, in Java, against QSoftmax.reciprocal for every sum it can see.
        GraphFixtures f = new GraphFixtures(9);
        QuantizedGraph q = f.quantize(f.gapHead(4, 1, 1, 6), QuantConfig.defaults());
        QOp.QSoftmax op = (QOp.QSoftmax) q.op("softmax");
        HwDesign d = LowerToHardware.run(q, ParallelismPlan.serial());
        Stage.Softmax sm = (Stage.Softmax) d.stages().stream().filter(s -> s instanceof Stage.Softmax).findFirst().orElseThrow();
        int k = op.recipShift();
        int steps = sm.divSteps();
        long smin = op.exp().one();
        for (long s = smin; s <= 6 * smin; s++) {
            long rem = (1L << k) >>> steps;
            long quo = 0;
            for (int t = 0; t < steps; t++) {
                long r2 = 2 * rem + (t == steps - 1 - k ? 1 : 0);
                boolean geq = r2 >= s;
                rem = geq ? r2 - s : r2;
                quo = 2 * quo + (geq ? 1 : 0);
            }
            assertEquals(op.reciprocal(s), quo, "sum " + s);
        }
    }

    @Test
    void argmaxHeadGivesTheLowestIndexOfTheMaximum() {
        GraphFixtures f = new GraphFixtures(11);
        // 3 output bits make ties common.
        QuantizedGraph q = f.quantize(f.residualMlp(6, 6, 6, false), QuantConfig.defaults().withBits(4, 3));
        List<long[]> xs = f.inputs(q, 30);
        int ties = 0;
        for (long[] x : xs) {
            long[] y = IntegerInterpreter.run(q, x);
            int a = GraphFixtures.argmax(y);
            for (int i = a + 1; i < y.length; i++) {
                ties += y[i] == y[a] ? 1 : 0;
            }
        }
        assertTrue(ties > 0, "the test needs ties");
        assertMatches(q, ParallelismPlan.serial().withArgmax(true), xs, Stimulus.ideal(), "serial");
        assertMatches(q, ParallelismPlan.serial().withArgmax(true).with("fc2", 3, 2), xs, new Stimulus(2, 0.3, 0.3), "pe 3");
    }

    @Test
    void fullyParallelResidualMlpStreamsOneVectorPerCycle() {
        GraphFixtures f = new GraphFixtures(8);
        QuantizedGraph q = f.quantize(f.residualMlp(8, 8, 4, false), QuantConfig.defaults());
        ParallelismPlan plan = ParallelismPlan.serial().withInputElems(8).with("fc0", 8, 8).with("fc1", 8, 8).with("fc2", 4, 8);
        HwDesign d = LowerToHardware.run(q, plan);
        assertEquals(1, d.initiationInterval());
        List<long[]> xs = f.inputs(q, 12);
        CycleSimulator.Result r = CycleSimulator.run(d, xs, Stimulus.ideal());
        assertEquals(1, r.measuredInterval());
        assertEquals(xs.size() + r.latency(), r.cycles(), "no bubble anywhere: the last output is n - 1 cycles after the first");
        assertMatches(q, plan, xs, Stimulus.ideal(), "parallel");
    }

    @Test
    void unsupportedConstructsAreReportedOnTheirNode() {
        GraphFixtures f = new GraphFixtures(1);
        QuantizedGraph q = f.quantize(f.residualMlp(4, 4, 2, false), QuantConfig.defaults());
        ModelException e = assertThrows(ModelException.class, () -> LowerToHardware.run(q, ParallelismPlan.serial().with("relu1", 2, 2)));
        assertEquals(Diagnostic.SF_BAD_PLAN, e.id());
        assertEquals("relu1", e.node());
        e = assertThrows(ModelException.class, () -> LowerToHardware.run(q, ParallelismPlan.serial().with("nope", 1, 1)));
        assertEquals("nope", e.node());
        e = assertThrows(ModelException.class, () -> LowerToHardware.run(q, ParallelismPlan.serial().with("fc1", 3, 1)));
        assertEquals("fc1", e.node());
        assertEquals(Map.of(), ParallelismPlan.serial().folds());
    }
}
