package io.streamfold.testbench;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.Stage;
import io.streamfold.sim.Stimulus;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One-channel convolutions computing 2 and 4 output pixels per window (the polyphase form), with
 * and without padding, and a Relu, a max pool or a Dense reading their wide beats: the simulator
 * equals the integer reference, the RTL is lint-clean, and Icarus and Verilator produce every
 * output beat in the value and cycle the simulator predicts, under random input gaps and output
 * backpressure.
 */
@Tag("eda")
class PolyphaseCoSimTest {

    @TempDir
    Path tmp;

    /**
     * A one-channel conv at {@code pixels} per window whose kernel is at least 3 wide, with
     * {@code leftPad} columns of left padding (0: no padding at all when {@code anyPad} is false),
     * and {@code tail} after it.
     */
    private static Predicate<WindowedLayers.Layer> oneChannel(int pixels, int leftPad, boolean anyPad, String tail) {
        return l -> l.q().graph().inputShape().channels() == 1 && l.plan().fold("layer").pixels() == pixels
                && l.window().kernel(1) >= 3 && l.window().kernel(0) >= 2 && l.window().padBegin(1) == leftPad
                && (anyPad || !l.window().hasPadding()) && (tail == null || l.desc().contains(" then " + tail + ","));
    }

    @Test
    void oneChannelConvsAtTwoAndFourPixelsPerWindowIcarusAndVerilator() throws Exception {
        List<WindowedLayers.Layer> layers = List.of(
                WindowedLayers.firstPolyphase(100, 3, oneChannel(2, 1, true, "RELU_MAXPOOL")),
                WindowedLayers.firstPolyphase(200, 3, oneChannel(2, 0, false, null)),
                WindowedLayers.firstPolyphase(300, 3, oneChannel(4, 1, true, null)),
                WindowedLayers.firstPolyphase(400, 3, oneChannel(4, 0, true, null)));
        for (int i = 0; i < layers.size(); i++) {
            WindowedLayers.Layer l = layers.get(i);
            System.out.println("co-simulating " + l.desc());
            Path dir = tmp.resolve("p" + i);
            try {
                HwDesign d = CoSim.emit(dir, l.q(), l.plan(), l.inputs(), new Stimulus(31 + i, 0.3, 0.3));
                assertTrue(d.stages().stream().anyMatch(s -> s instanceof Stage.MatVec m && m.pixels() == l.plan().fold("layer").pixels()));
                EdaRunner.Run lint = EdaRunner.lint(dir, d.name(), CoSim.rtlFiles(d));
                assertEquals("", lint.output().strip(), lint.output());
                CoSim.assertPasses(dir, EdaRunner.Simulator.ICARUS);
                if (i % 2 == 0) {
                    CoSim.assertPasses(dir, EdaRunner.Simulator.VERILATOR);
                }
            } catch (AssertionError e) {
                throw new AssertionError(l.desc() + ": " + e.getMessage(), e);
            }
        }
    }
}
