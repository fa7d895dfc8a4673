package io.streamfold.testbench;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.Stage;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.sim.CycleSimulator;
import io.streamfold.sim.Stimulus;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * On random conv/pool layers the simulator computes exactly what the integer reference computes,
 * at the initiation interval the stages promise, and the sliding window never deadlocks with
 * the fewest row slots its documentation allows.
 */
class WindowedLayersSimTest {

    static final int LAYERS = 300;

    private static void assertMatchesReference(WindowedLayers.Layer l, HwDesign d, Stimulus stim) {
        CycleSimulator.Result r;
        try {
            r = CycleSimulator.run(d, l.inputs(), stim);
        } catch (RuntimeException ex) {
            throw new AssertionError(l.desc() + ": " + ex.getMessage(), ex);
        }
        for (int i = 0; i < l.inputs().size(); i++) {
            assertArrayEquals(IntegerInterpreter.run(l.q(), l.inputs().get(i)), r.outputs().get(i), l.desc() + ", inference " + i);
        }
    }

    @Test
    void randomConvAndPoolLayersMatchTheIntegerReference() {
        for (long seed = 1; seed <= LAYERS; seed++) {
            WindowedLayers.Layer l = WindowedLayers.random(seed, 3);
            HwDesign d = LowerToHardware.run(l.q(), l.plan());
            assertMatchesReference(l, d, Stimulus.ideal());
            assertMatchesReference(l, d, new Stimulus(seed, 0.4, 0.4));
        }
    }

    @Test
    void fewestRowSlotsNeverDeadlockUnderBackpressure() {
        for (long seed = 1; seed <= LAYERS; seed++) {
            WindowedLayers.Layer l = WindowedLayers.random(seed, 3);
            HwDesign d = WindowedLayers.withRows(LowerToHardware.run(l.q(), l.plan()),
                    w -> Stage.SlidingWindow.minRows(w.kernelH(), w.strideH()));
            assertMatchesReference(l, d, new Stimulus(seed, 0.2, 0.6));
            assertMatchesReference(l, d, Stimulus.ideal());
        }
    }

    @Test
    void groupedDilatedAndLongEndPaddedLayersMatchTheIntegerReference() {
        for (long seed = 1; seed <= LAYERS; seed++) {
            WindowedLayers.Layer l = WindowedLayers.randomFeature(seed, 3);
            HwDesign d = LowerToHardware.run(l.q(), l.plan());
            assertMatchesReference(l, d, Stimulus.ideal());
            assertMatchesReference(l, d, new Stimulus(seed, 0.4, 0.4));
            HwDesign fewest = WindowedLayers.withRows(d, w -> Stage.SlidingWindow.minRows(w.spanH(), w.strideH()));
            assertMatchesReference(l, fewest, new Stimulus(seed, 0.2, 0.6));
            CycleSimulator.Result r = CycleSimulator.run(d, l.inputs(), Stimulus.ideal());
            long[] first = r.firstOutputCycle();
            assertEquals(d.initiationInterval(), first[2] - first[1], l.desc());
        }
    }

    /** With ideal stimulus, consecutive inferences leave at the design's initiation interval. */
    @Test
    void steadyStateIntervalIsTheSlowestStage() {
        for (long seed = 1; seed <= LAYERS; seed++) {
            WindowedLayers.Layer l = WindowedLayers.random(seed, 6);
            HwDesign d = LowerToHardware.run(l.q(), l.plan());
            CycleSimulator.Result r = CycleSimulator.run(d, l.inputs(), Stimulus.ideal());
            long[] first = r.firstOutputCycle();
            assertEquals(d.initiationInterval(), first[5] - first[4], l.desc());
        }
    }

    @Test
    void pointwiseConvRunsOnePixelPerCycle() {
        // A 1x1 conv with SIMD = C and PE = O: the matrix-vector unit takes one window per cycle.
        for (long seed = 1; seed <= LAYERS; seed++) {
            WindowedLayers.Layer l = WindowedLayers.random(seed, 6);
            HwDesign d = LowerToHardware.run(l.q(), l.plan());
            List<Stage.MatVec> mv = d.stages().stream().filter(s -> s instanceof Stage.MatVec).map(s -> (Stage.MatVec) s).toList();
            if (mv.size() == 1 && mv.get(0).sf() == 1 && mv.get(0).nf() == 1) {
                CycleSimulator.Result r = CycleSimulator.run(d, l.inputs(), Stimulus.ideal());
                long[] first = r.firstOutputCycle();
                assertEquals(mv.get(0).vectors(), first[5] - first[4], l.desc());
                return;
            }
        }
        throw new AssertionError("no pointwise conv among the random layers");
    }
}
