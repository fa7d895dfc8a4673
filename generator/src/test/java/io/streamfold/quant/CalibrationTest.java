package io.streamfold.quant;

import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.passes.PassContext;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The range estimates: MSE clip search, the readers' pass band, subsampling, and the widths MSE searches at. */
class CalibrationTest {

    private static Tensor randn(Random r, double scale, int... dims) {
        Shape s = new Shape(dims);
        double[] d = new double[s.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = scale * r.nextGaussian();
        }
        return Tensor.of(s, d);
    }

    /** 100 samples of 100 standard normal values, with one outlier at {@code outlier} (sample 7, element 3). */
    private static List<double[]> gaussianWithOutlier(double outlier) {
        Random r = new Random(11);
        List<double[]> xs = new ArrayList<>();
        for (int k = 0; k < 100; k++) {
            double[] x = new double[100];
            for (int i = 0; i < x.length; i++) {
                x[i] = r.nextGaussian();
            }
            xs.add(x);
        }
        xs.get(7)[3] = outlier;
        return xs;
    }

    /** The input is read by a Dense, which lets every value through (no pass band). */
    private static Graph dense(Random r) {
        return new Graph("d", "x", Shape.of(100), List.of(new Node("fc", new Op.Dense(randn(r, 0.1, 4, 100), randn(r, 0.1, 4)), "x", "y")), "y");
    }

    /** Squared error of clip and round to Q(8, frac), written out here rather than taken from the code under test. */
    private static double error(List<double[]> xs, int frac) {
        double step = Math.scalb(1.0, -frac);
        double sum = 0;
        for (double[] x : xs) {
            for (double d : x) {
                double q = Math.max(-128, Math.min(127, Math.floor(d / step + 0.5))) * step;
                sum += (q - d) * (q - d);
            }
        }
        return sum;
    }

    @Test
    void mseClipsAModerateOutlierThatMaxAbsKeeps() {
        List<double[]> xs = gaussianWithOutlier(9);
        Graph g = dense(new Random(3));
        QuantizedGraph max = new Quantize(QuantConfig.defaults().withMaxAbs()).run(g, xs, new PassContext());
        QuantizedGraph mse = new Quantize(QuantConfig.defaults().withCalibration(QuantConfig.CalibrationMethod.MSE)).run(g, xs, new PassContext());
        // max-abs: 9 needs 4 integer bits, Q(8,3) (9 * 2^4 = 144 > 127).
        assertEquals(new QFormat(8, 3), max.inputFormat());
        // The gaussian bulk (|x| < 4.5 here) fits Q(8,4) with half the step: clipping the outlier to 7.94 costs
        // (9 - 7.94)^2 = 1.1, the finer step saves 10^4 * (1/8^2 - 1/16^2) / 12 = 9.8. Q(8,5) would clip it to 3.97 (25).
        assertEquals(new QFormat(8, 4), mse.inputFormat());
        for (int f = 0; f <= 8; f++) {
            assertTrue(error(xs, 4) <= error(xs, f), "Q(8,4) has the least squared error, not Q(8," + f + ")");
        }
        assertEquals("mse", mse.calibration());
        assertEquals(new QFormat(8, 4).maxReal(), mse.range("x"), "a clipped range is the format's largest value");
    }

    @Test
    void mseKeepsAnOutlierWhoseClipWouldCostMoreThanTheStep() {
        // At 100 the clip error (100 - 7.94)^2 = 8475 exceeds what a finer step saves: MSE keeps max-abs's format and range.
        List<double[]> xs = gaussianWithOutlier(100);
        Graph g = dense(new Random(3));
        QuantizedGraph mse = new Quantize(QuantConfig.defaults().withCalibration(QuantConfig.CalibrationMethod.MSE)).run(g, xs, new PassContext());
        assertEquals(new QFormat(8, Fixed.fracFor(100, 8)), mse.inputFormat());
        assertEquals(100.0, mse.range("x"));
    }

    @Test
    void mseSearchesAtTheWidthEachValueGets() {
        List<double[]> xs = gaussianWithOutlier(9);
        Graph g = dense(new Random(3));
        QuantConfig c = QuantConfig.defaults().withCalibration(QuantConfig.CalibrationMethod.MSE)
                .withOverrides("{\"input\": {\"bits\": 4}}", "q.json");
        // The input is 4 bits wide: the clip is searched among 4-bit formats, whose step is 16 times coarser.
        QuantizedGraph q = new Quantize(c).run(g, xs, new PassContext());
        assertEquals(4, q.inputFormat().bits());
        int best = 0;
        for (int f = -2; f <= 6; f++) {
            if (error4(xs, f) < error4(xs, best)) {
                best = f;
            }
        }
        assertEquals(best, q.inputFormat().frac());
    }

    private static double error4(List<double[]> xs, int frac) {
        QFormat f = new QFormat(4, frac);
        double sum = 0;
        for (double[] x : xs) {
            for (double d : x) {
                double e = f.toDouble(Math.max(-8, Math.min(7, Math.round(d * Math.scalb(1.0, frac))))) - d;
                sum += e * e;
            }
        }
        return sum;
    }

    @Test
    void passBandIsWhatTheReadersLetThrough() {
        Random r = new Random(5);
        List<Node> nodes = List.of(
                new Node("fc", new Op.Dense(randn(r, 1, 4, 4), randn(r, 1, 4)), "x", "z"),
                new Node("relu", new Op.Relu(), "z", "a"),
                new Node("clip", new Op.Clip(-1, 2), "z", "b"),
                new Node("add", new Op.Add(), List.of("a", "b"), "s"),
                new Node("six", new Op.Clip(0, 6), "b", "c"),
                new Node("add2", new Op.Add(), List.of("s", "c"), "out"));
        Graph g = new Graph("p", "x", Shape.of(4), nodes, "out");
        assertArrayEquals(new double[] {-1, Double.POSITIVE_INFINITY}, Calibration.passBand(g, "z"), "hull of relu and clip(-1, 2)");
        assertArrayEquals(new double[] {Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY}, Calibration.passBand(g, "b"),
                "b is also read by an Add");
        assertArrayEquals(new double[] {Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY}, Calibration.passBand(g, "out"), "the output");
        assertArrayEquals(new double[] {Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY}, Calibration.passBand(g, "x"));
    }

    @Test
    void mseIgnoresWhatAFollowingReluDiscards() {
        // x is read only by a Relu: a large negative outlier is saturated to 0 after it anyway, so it costs no range.
        List<double[]> xs = gaussianWithOutlier(-40);
        Random r = new Random(3);
        Graph g = new Graph("r", "x", Shape.of(100), List.of(new Node("relu", new Op.Relu(), "x", "a"),
                new Node("fc", new Op.Dense(randn(r, 0.1, 4, 100), randn(r, 0.1, 4)), "a", "y")), "y");
        Calibration.Observation obs = Calibration.observe(g, xs);
        double maxPositive = 0;
        for (double[] x : xs) {
            for (double d : x) {
                maxPositive = Math.max(maxPositive, d);
            }
        }
        Map<String, Double> mse = obs.ranges(QuantConfig.CalibrationMethod.MSE, 99.99, Map.of("x", 8, "a", 8, "y", 8));
        assertEquals(40.0, obs.maxAbs().get("x"));
        assertTrue(mse.get("x") < 2 * maxPositive, "the range of x follows its positive values: " + mse.get("x"));
    }

    @Test
    void observationSubsamplesLargeValuesTheSameWayEveryRun() {
        Graph g = dense(new Random(3));
        List<double[]> xs = new ArrayList<>();
        Random r = new Random(1);
        int n = Calibration.MAX_KEPT / 100 + 500; // more than MAX_KEPT input elements
        for (int k = 0; k < n; k++) {
            xs.add(randn(r, 1, 100).data());
        }
        Map<String, Double> a = Calibration.ranges(g, xs, QuantConfig.CalibrationMethod.PERCENTILE, 99.9);
        Map<String, Double> b = Calibration.ranges(g, xs, QuantConfig.CalibrationMethod.PERCENTILE, 99.9);
        assertEquals(a, b);
        // The 99.9th percentile of |N(0,1)| is 3.29; every other element of the stream still estimates it closely.
        assertEquals(3.29, a.get("x"), 0.1);
        Map<String, Double> max = Calibration.ranges(g, xs, QuantConfig.CalibrationMethod.MAX_ABS, 0);
        double m = 0;
        for (double[] x : xs) {
            for (double d : x) {
                m = Math.max(m, Math.abs(d));
            }
        }
        assertEquals(m, max.get("x"), "max-abs sees every element");
    }

    @Test
    void widthsAreTheFormatsWidths() {
        Random r = new Random(9);
        List<Node> nodes = List.of(
                new Node("fc", new Op.Dense(randn(r, 1, 6, 4), randn(r, 1, 6)), "x", "z"),
                new Node("relu", new Op.Relu(), "z", "a"),
                new Node("fc2", new Op.Dense(randn(r, 1, 6, 6), randn(r, 1, 6)), "a", "b"),
                new Node("relu2", new Op.Relu(), "b", "c"),
                new Node("flat", new Op.Flatten(), "c", "d"),
                new Node("sig", new Op.Sigmoid(), "d", "y"));
        Graph g = new Graph("w", "x", Shape.of(4), nodes, "y");
        List<double[]> xs = new ArrayList<>();
        for (int k = 0; k < 20; k++) {
            xs.add(randn(r, 1, 4).data());
        }
        QuantConfig c = QuantConfig.defaults().withCalibration(QuantConfig.CalibrationMethod.MSE).withOverrides(
                "{\"input\": {\"bits\": 6}, \"layers\": {\"fc\": {\"act\": {\"bits\": 11}}, \"relu2\": {\"act\": {\"bits\": 5}}, "
                        + "\"flat\": {\"act\": {\"frac\": 3}}}}", "q.json");
        Quantize quantize = new Quantize(c);
        QuantizedGraph q = quantize.run(g, xs, new PassContext());
        Map<String, Integer> widths = quantize.widths(g);
        assertEquals(q.formats().keySet(), widths.keySet());
        for (Map.Entry<String, QFormat> e : q.formats().entrySet()) {
            assertEquals(e.getValue().bits(), widths.get(e.getKey()), e.getKey());
        }
        assertEquals(11, widths.get("a"), "a Relu passes its input's width on");
    }

    @Test
    void methodsAreRefusedWithoutWhatTheyNeed() {
        Graph g = dense(new Random(3));
        assertThrows(IllegalArgumentException.class,
                () -> Calibration.ranges(g, gaussianWithOutlier(3), QuantConfig.CalibrationMethod.MSE, 99.99));
        Calibration.Observation maxOnly = Calibration.observe(g, gaussianWithOutlier(3), false);
        assertEquals(Calibration.observe(g, gaussianWithOutlier(3)).maxAbs(), maxOnly.ranges(QuantConfig.CalibrationMethod.MAX_ABS, 99.99, Map.of()));
        assertThrows(IllegalArgumentException.class, () -> maxOnly.ranges(QuantConfig.CalibrationMethod.PERCENTILE, 99.99, Map.of()),
                "an observation of the maxima only has no elements for a percentile");
    }
}
