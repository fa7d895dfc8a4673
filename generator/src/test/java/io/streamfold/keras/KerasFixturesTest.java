package io.streamfold.keras;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.compile.Pipeline;
import io.streamfold.data.NdArray;
import io.streamfold.data.Npy;
import io.streamfold.ir.Graph;
import io.streamfold.json.Layout;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantErrorReport;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.FloatInterpreter;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.testutil.Examples;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * hls4ml's Keras example models (Keras 2 architecture .json + weights .h5, read in place from
 * {@code ../shared/fixtures/peer}), against float64 outputs computed independently of streamfold:
 * the float reference must match them to 1e-5 of the output range on all 500 samples, and the
 * 16-bit fixed-point model must pick the same class as the float model on at least 99% of the
 * samples it was not calibrated on.
 *
 * <p>At 16 bits a plain softmax exp table with a 10-bit index used to limit agreement: logits closer
 * than the table step came out as equal probabilities (a tie that argmax breaks towards the lower
 * class; KERAS_conv2d_model's outputs are nearly uniform). The range-reduced exponential is within
 * one step of its format whatever the index width; the check uses a 12-bit index, and the line
 * printed per fixture gives both.
 */
class KerasFixturesTest {

    static Path fixtures() {
        return Examples.root().resolve("../shared/fixtures/peer").normalize();
    }

    /** The fixture's folder, or the test is skipped (with the reason) when the fixtures are not checked out. */
    static Path fixture(String name) {
        Path dir = fixtures().resolve(name);
        assumeTrue(Files.isDirectory(dir), "Keras fixtures not found at " + dir + "; skipped");
        return dir;
    }

    private static final int CALIBRATION = 200;

    @ParameterizedTest
    @ValueSource(strings = {"KERAS_1layer", "KERAS_3layer", "KERAS_conv1d_small", "KERAS_conv2d_model", "jetTagger_Conv2D_Small_NoBatchNorm"})
    void floatReferenceMatchesIndependentOutputsAndFixedPointAgrees(String name) throws IOException {
        Path dir = fixture(name);
        Graph g = ModelLoader.open(dir.resolve(name + ".json"), null);
        // The graph carries Keras' channels-last layout, so inputs.npy is read as Keras wrote it.
        assertArrayEquals(Layout.CHANNELS_LAST.fromChannelsFirst(g.inputShape()), g.modelInputDims());
        assertArrayEquals(Layout.CHANNELS_LAST.order(g.inputShape()), g.source().inputOrder());
        List<double[]> xs = DataFiles.samples(dir.resolve("inputs.npy"), g);
        NdArray want = Npy.read(dir.resolve("outputs.npy"));
        assertEquals(xs.size(), want.rows());
        assertEquals(500, xs.size());

        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        double maxDiff = 0;
        for (int i = 0; i < xs.size(); i++) {
            double[] y = g.toModelOutput(FloatInterpreter.run(g, xs.get(i)));
            double[] r = want.row(i);
            assertEquals(r.length, y.length, "outputs per sample");
            for (int j = 0; j < y.length; j++) {
                maxDiff = Math.max(maxDiff, Math.abs(y[j] - r[j]));
                lo = Math.min(lo, r[j]);
                hi = Math.max(hi, r[j]);
            }
        }
        double relative = maxDiff / (hi - lo);

        List<double[]> calib = xs.subList(0, CALIBRATION);
        List<double[]> held = xs.subList(CALIBRATION, xs.size());
        QuantConfig dflt = QuantConfig.defaults();
        double agree16 = agreement(g, dflt.withBits(16, 16).withLutIndexBits(12), calib, held);
        double agree16Table10 = agreement(g, dflt.withBits(16, 16), calib, held);
        double agree8 = agreement(g, dflt, calib, held);
        System.out.printf(Locale.ROOT, "keras fixture %-36s max|diff|/range %.2e (max|diff| %.2e, range %.3g), top-1 agreement "
                + "16-bit %.2f%% (softmax table index 12 bits; %.2f%% with 10), 8-bit %.2f%% (%d held-out samples)%n", name, relative,
                maxDiff, hi - lo, 100 * agree16, 100 * agree16Table10, 100 * agree8, held.size());
        assertTrue(relative <= 1e-5, name + ": float64 reference differs from outputs.npy by " + maxDiff + " on a range of " + (hi - lo));
        assertTrue(agree16 >= 0.99, name + ": 16-bit top-1 agreement " + agree16);
    }

    /**
     * Float vs fixed top-1 agreement; a single-output model (a sigmoid) is a binary classifier, so
     * its class is {@code y > 0.5}.
     */
    static double agreement(Graph g, QuantConfig config, List<double[]> calib, List<double[]> xs) {
        QuantizedGraph q = Pipeline.quantize(g, config, calib).quantized();
        int same = 0;
        for (double[] x : xs) {
            double[] f = FloatInterpreter.run(g, x);
            double[] r = IntegerInterpreter.runReal(q, x);
            same += classOf(f) == classOf(r) ? 1 : 0;
        }
        return (double) same / xs.size();
    }

    private static int classOf(double[] y) {
        return y.length == 1 ? (y[0] > 0.5 ? 1 : 0) : QuantErrorReport.argmax(y);
    }
}
