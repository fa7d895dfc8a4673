package io.streamfold.flow;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.compile.Pipeline;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.ir.Graph;
import io.streamfold.quant.QuantConfig;
import io.streamfold.sim.Stimulus;
import io.streamfold.testbench.EdaRunner;
import io.streamfold.testutil.Examples;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * hls4ml's Keras convolutional models (read in place from {@code ../shared/fixtures/peer}, skipped
 * when absent), converted to a folder as {@code streamfold convert} does: the emitted RTL must pass
 * its self-checking testbench under Icarus (every output beat and cycle as the simulator says),
 * with random input gaps and output backpressure, on two of the fixture's inputs.
 */
@Tag("eda")
class KerasFixturesRtlTest {

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0} budget {1}")
    @CsvSource({"KERAS_conv1d_small, 0", "KERAS_conv2d_model, 32", "jetTagger_Conv2D_Small_NoBatchNorm, 0"})
    void convertedKerasModelPassesItsTestbench(String name, int budget) throws Exception {
        Path dir = Examples.root().resolve("../shared/fixtures/peer").resolve(name).normalize();
        assumeTrue(Files.isDirectory(dir), "Keras fixtures not found at " + dir + "; skipped");
        Graph g = ModelLoader.open(dir.resolve(name + ".json"), null);
        List<double[]> xs = DataFiles.samples(dir.resolve("inputs.npy"), g);
        List<double[]> calib = xs.subList(0, 200);
        Pipeline.Result c = Pipeline.compile(g, new Pipeline.Settings(QuantConfig.defaults(), ParallelismPlan.serial(), budget), calib);
        Path out = tmp.resolve(name);
        Converter.convert(c, calib, xs.subList(200, 202), new Stimulus(5, 0.2, 0.2), out, false, List.of(dir));
        EdaRunner.Run run = EdaRunner.simulate(out, EdaRunner.Simulator.ICARUS, 600);
        assertTrue(run.passed(), name + " in " + out + ":\n" + run.output());
    }
}
