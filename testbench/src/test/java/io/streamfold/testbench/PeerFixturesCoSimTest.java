package io.streamfold.testbench;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.compile.Pipeline;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.ir.Graph;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.sim.Stimulus;
import io.streamfold.testutil.Examples;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A real ONNX file end to end in RTL: the peer's {@code conv2d_small_keras} (onnxmltools, opset 9,
 * channels-last input transposed to channels first, Conv, a Transpose back before the Flatten,
 * Gemm, Softmax; read in place from {@code ../shared/fixtures/peer}) at 16 bits, its own input
 * samples, under Icarus.
 */
@Tag("eda")
class PeerFixturesCoSimTest {

    @TempDir
    Path tmp;

    @Test
    void kerasConvModelAtSixteenBitsUnderIcarus() throws Exception {
        Path dir = Examples.root().resolve("../shared/fixtures/peer/conv2d_small_keras").normalize();
        Assumptions.assumeTrue(Files.exists(dir.resolve("model.onnx")), "peer fixtures not present at " + dir + "; skipped");
        Graph g = ModelLoader.load(dir.resolve("model.onnx"));
        List<double[]> xs = DataFiles.samples(dir.resolve("inputs.npy"), g);
        // 16-bit weights and activations with 12-bit table indices, as PeerFixturesTest measures them
        QuantizedGraph q = Pipeline.quantize(g, QuantConfig.defaults().withBits(16, 16).withLutIndexBits(12), xs).quantized();
        List<long[]> in = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            in.add(IntegerInterpreter.quantizeInput(q, xs.get(i)));
        }
        ParallelismPlan plan = ParallelismPlan.serial().with("Conv2D__", 2, 1).with("Gemm_6", 2, 8);
        CoSim.emit(tmp, q, plan, in, new Stimulus(1, 0.2, 0.2));
        CoSim.assertPasses(tmp, EdaRunner.Simulator.ICARUS);
    }
}
