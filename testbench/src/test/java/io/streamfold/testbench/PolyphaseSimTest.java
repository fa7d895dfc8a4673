package io.streamfold.testbench;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.Lanes;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.hw.Stage;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.sim.CycleSimulator;
import io.streamfold.sim.Stimulus;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Convolutions computing several output pixels per window (the polyphase form), on random
 * geometries and plans, with what follows them reading the wide beats: the simulator computes
 * exactly what the integer reference of the original layer computes, and the unit takes the
 * cycles its lanes promise.
 */
class PolyphaseSimTest {

    static final int LAYERS = 200;

    @Test
    void randomPolyphaseConvsMatchTheIntegerReference() {
        java.util.Set<String> covered = new java.util.TreeSet<>();
        for (long seed = 1; seed <= LAYERS; seed++) {
            WindowedLayers.Layer l = WindowedLayers.randomPolyphase(seed, 3);
            int px = l.plan().fold("layer").pixels();
            boolean oneChannel = l.q().graph().inputShape().channels() == 1;
            covered.add((oneChannel ? "1 channel" : "channels") + " P" + Math.min(px, 4) + (l.window().padBegin(1) % px != 0 ? " aligned" : ""));
            io.streamfold.hw.Polyphase ph = io.streamfold.hw.Polyphase.of(l.q(), "layer", px);
            if (ph.superKernelW() < io.streamfold.hw.Polyphase.of(px, ph.kernelW(), ph.padLeft()).superKernelW()) {
                covered.add("padding-only super-columns left out");
            }
            covered.add(l.desc().replaceAll(".* then (\\w+),.*", "$1"));
            HwDesign d;
            try {
                d = LowerToHardware.run(l.q(), l.plan());
            } catch (RuntimeException e) {
                throw new AssertionError(l.desc() + ": " + e.getMessage(), e);
            }
            ParallelismPlan.Fold f = l.plan().fold("layer");
            Stage.MatVec m = d.stages().stream().filter(s -> s instanceof Stage.MatVec mv && mv.source().equals("layer"))
                    .map(s -> (Stage.MatVec) s).findFirst().orElseThrow();
            assertEquals(f.pixels(), m.pixels(), l.desc());
            assertEquals(Lanes.of(l.q(), "layer", f.pixels()).cycles(f), m.cycles(), l.desc());
            for (Stimulus stim : new Stimulus[] {Stimulus.ideal(), new Stimulus(seed, 0.4, 0.4)}) {
                CycleSimulator.Result r;
                try {
                    r = CycleSimulator.run(d, l.inputs(), stim);
                } catch (RuntimeException e) {
                    throw new AssertionError(l.desc() + ": " + e.getMessage(), e);
                }
                for (int i = 0; i < l.inputs().size(); i++) {
                    assertArrayEquals(IntegerInterpreter.run(l.q(), l.inputs().get(i)), r.outputs().get(i), l.desc() + ", inference " + i);
                }
            }
        }
        // one and several input channels at 2, 3 and 4+ pixels, with and without a left padding that needs an
        // alignment column, windows that leave out super-columns, and every kind of reader after the conv
        System.out.println("polyphase layers covered: " + covered);
        for (String c : java.util.List.of("1 channel P2", "1 channel P2 aligned", "1 channel P4", "1 channel P4 aligned", "channels P2",
                "channels P4 aligned", "padding-only super-columns left out", "NONE", "RELU", "RELU_MAXPOOL", "DENSE")) {
            org.junit.jupiter.api.Assertions.assertTrue(covered.contains(c), c + " not in " + covered);
        }
    }
}
