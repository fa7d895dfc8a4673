package io.streamfold.onnx;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.compile.Pipeline;
import io.streamfold.data.NdArray;
import io.streamfold.data.Npy;
import io.streamfold.ir.Graph;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantErrorReport;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.FloatInterpreter;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.testutil.Examples;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real ONNX files from a peer's repository (hls4ml's example models, opset 9, read in place
 * from {@code ../shared/fixtures/peer}; never copied here): the float64 reference matches the
 * reference outputs within 1e-5 of their range, and the bit-true 16-bit model agrees with it on
 * the top-1 class of at least 99% of the 500 samples. Inputs and outputs are in each model's
 * own layout (channels last for the Keras conv model), which is how streamfold reads data files.
 */
class PeerFixturesTest {

    /**
     * 16-bit weights and activations; tables indexed by 12 bits, the default for 16-bit
     * activations. (A plain softmax exp table of 10 index bits once tied close classes, 98.6% top-1
     * agreement on conv2d_small_keras; the range-reduced exponential reaches 100% with 10 or 12.)
     */
    static final QuantConfig SIXTEEN_BITS = QuantConfig.defaults().withBits(16, 16).withLutIndexBits(12);

    static Path fixtures() {
        return Examples.root().resolve("../shared/fixtures/peer").normalize();
    }

    /**
     * The predicted class: the largest output, or for a single output (a sigmoid) whether it is
     * at least 0.5.
     */
    static int decision(double[] y) {
        return y.length == 1 ? (y[0] >= 0.5 ? 1 : 0) : QuantErrorReport.argmax(y);
    }

    @ParameterizedTest
    @ValueSource(strings = {"two_layer_keras", "two_layer_pytorch", "conv2d_small_keras"})
    void floatMatchesAndSixteenBitsAgree(String name) throws Exception {
        Path dir = fixtures().resolve(name);
        Assumptions.assumeTrue(Files.exists(dir.resolve("model.onnx")), "peer fixtures not present at " + dir + "; skipped");
        Graph g = ModelLoader.load(dir.resolve("model.onnx"));
        List<double[]> xs = DataFiles.samples(dir.resolve("inputs.npy"), g);
        NdArray want = Npy.read(dir.resolve("outputs.npy"));
        assertArrayEquals(g.modelOutputDims(), java.util.Arrays.copyOfRange(want.shape(), 1, want.rank()), "output layout");
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (double v : want.data()) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        QuantizedGraph q = Pipeline.quantize(g, SIXTEEN_BITS, xs).quantized();
        double worst = 0;
        int agree = 0;
        for (int s = 0; s < xs.size(); s++) {
            double[] f = g.toModelOutput(FloatInterpreter.run(g, xs.get(s)));
            double[] ref = want.row(s);
            for (int i = 0; i < f.length; i++) {
                worst = Math.max(worst, Math.abs(f[i] - ref[i]));
            }
            double[] fixed = g.toModelOutput(IntegerInterpreter.runReal(q, xs.get(s)));
            agree += decision(fixed) == decision(f) ? 1 : 0;
        }
        double agreement = (double) agree / xs.size();
        System.out.printf(Locale.ROOT, "%s: %d samples, float64 vs outputs.npy max |diff| %.3g (range %.3g, %.2g of it); "
                + "16-bit top-1 agreement %.2f%%%n", name, xs.size(), worst, hi - lo, worst / (hi - lo), 100 * agreement);
        assertTrue(worst <= 1e-5 * (hi - lo), name + ": max |diff| " + worst + " of range " + (hi - lo));
        assertTrue(agreement >= 0.99, name + ": 16-bit agreement " + agreement);
    }
}
