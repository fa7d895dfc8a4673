package io.streamfold.testbench;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.sim.CycleSimulator;
import io.streamfold.sim.Stimulus;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** The simulator computes exactly what the integer reference computes on random conv/pool layers. */
class WindowedLayersSimTest {

    @Test
    void randomConvAndPoolLayersMatchTheIntegerReference() {
        for (long seed = 1; seed <= 300; seed++) {
            WindowedLayers.Layer l = WindowedLayers.random(seed, 3);
            HwDesign d = LowerToHardware.run(l.q(), l.plan());
            for (Stimulus stim : new Stimulus[] {Stimulus.ideal(), new Stimulus(seed, 0.4, 0.4)}) {
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
        }
    }
}
