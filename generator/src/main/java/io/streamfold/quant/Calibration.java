package io.streamfold.quant;

import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.reference.FloatInterpreter;
import org.apache.commons.math3.stat.descriptive.rank.Percentile;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Estimates the range of every value of a graph (its input and each node's output) by running the
 * float reference on calibration samples. The quantizer turns each range into a frac with
 * {@link Fixed#fracFor}. Three estimates ({@link QuantConfig.CalibrationMethod}):
 *
 * <ul>
 *   <li>max-abs: the largest |value| seen;
 *   <li>percentile: a percentile of |value| over all elements of all samples;
 *   <li>MSE: of the formats {@code Q(bits, f)} from the max-abs frac {@code f0} up to
 *       {@code f0 + }{@link #MSE_EXTRA_FRAC}, the one whose clip and round gives the smallest mean
 *       squared error over the observed values; each extra fractional bit halves the step and
 *       the clip level. Since formats are powers of two this search is exhaustive. The error is
 *       measured on what the value's readers let through: a value read only by Relu and Clip
 *       nodes is clamped to the hull of their pass bands first (saturating it beyond them costs
 *       nothing, see {@link Quantize}). The range is the largest |value| within that band when
 *       nothing is clipped, else the largest value of the chosen format.
 * </ul>
 *
 * <p>Percentile and MSE work on the observed elements; beyond {@link #MAX_KEPT} elements per value
 * (elements times samples) they use every k-th element of the sample-major sequence (the same ones
 * on every run).
 */
public final class Calibration {

    /** Most elements kept per value for the percentile and MSE estimates (2 MB of doubles). */
    public static final int MAX_KEPT = 1 << 18;

    /** Fractional bits beyond the max-abs frac that the MSE search tries (clip at 1/256 of max |value|). */
    public static final int MSE_EXTRA_FRAC = 8;

    private Calibration() {
    }

    /** Range per value name, input first, then in node order, for a method that needs no widths (not MSE). */
    public static Map<String, Double> ranges(Graph g, List<double[]> samples, QuantConfig.CalibrationMethod method,
                                             double percentile) {
        if (method == QuantConfig.CalibrationMethod.MSE || method == QuantConfig.CalibrationMethod.AUTO) {
            throw new IllegalArgumentException(method + " calibration needs the widths: use ranges(Graph, List, QuantConfig)");
        }
        return observe(g, samples).ranges(method, percentile, Map.of());
    }

    /** The float reference's values on {@code samples} (flat, channels-first inputs), for every method. */
    public static Observation observe(Graph g, List<double[]> samples) {
        return observe(g, samples, true);
    }

    /**
     * The float reference's values on {@code samples}; without {@code keepElements} only the
     * largest |value| of each value is kept (enough for max-abs, and no memory beyond it).
     */
    public static Observation observe(Graph g, List<double[]> samples, boolean keepElements) {
        if (samples.isEmpty()) {
            throw new ModelException(Diagnostic.SF_BAD_DATA, null, "no calibration samples", "quantization needs at least one input sample");
        }
        Map<String, Double> max = new LinkedHashMap<>();
        Map<String, double[]> kept = new LinkedHashMap<>();
        Map<String, Integer> fill = new LinkedHashMap<>();
        List<double[]> outputs = new ArrayList<>(samples.size());
        int n = samples.size();
        for (int s = 0; s < n; s++) {
            Map<String, double[]> all = FloatInterpreter.runAll(g, samples.get(s));
            outputs.add(all.get(g.output()));
            for (Map.Entry<String, double[]> e : all.entrySet()) {
                double[] v = e.getValue();
                double m = max.getOrDefault(e.getKey(), 0.0);
                long total = keepElements ? (long) v.length * n : 0;
                int stride = (int) Math.max(1, (total + MAX_KEPT - 1) / MAX_KEPT);
                double[] acc = kept.computeIfAbsent(e.getKey(), k -> new double[(int) ((total + stride - 1) / stride)]);
                int at = fill.getOrDefault(e.getKey(), 0);
                long base = (long) s * v.length;
                for (int i = 0; i < v.length; i++) {
                    double d = v[i];
                    if (Double.isFinite(d)) {
                        m = Math.max(m, Math.abs(d));
                    }
                    if (keepElements && (base + i) % stride == 0) {
                        acc[at++] = Double.isFinite(d) ? d : 0;
                    }
                }
                max.put(e.getKey(), m);
                fill.put(e.getKey(), at);
            }
        }
        return new Observation(g, max, keepElements ? kept : null, outputs);
    }

    /**
     * What the float reference produced on the calibration samples: the largest |value| of every
     * value, its kept elements (see the class comment), and the graph output of every sample.
     */
    public static final class Observation {
        private final Graph graph;
        private final Map<String, Double> maxAbs;
        private final Map<String, double[]> kept;
        private final List<double[]> outputs;

        /** {@code kept} is null when only the largest |value| was kept. */
        private Observation(Graph graph, Map<String, Double> maxAbs, Map<String, double[]> kept, List<double[]> outputs) {
            this.graph = graph;
            this.maxAbs = Collections.unmodifiableMap(maxAbs);
            this.kept = kept;
            this.outputs = Collections.unmodifiableList(outputs);
        }

        /** The graph output of every calibration sample, in order. */
        public List<double[]> outputs() {
            return outputs;
        }

        /** Number of calibration samples. */
        public int samples() {
            return outputs.size();
        }

        /** The largest finite |value| seen, per value name. */
        public Map<String, Double> maxAbs() {
            return maxAbs;
        }

        /**
         * Range per value name (input first, then in node order) by {@code method}; MSE searches
         * at the width each value gets ({@code widths}, by value name; values missing there are
         * searched at 8 bits).
         */
        public Map<String, Double> ranges(QuantConfig.CalibrationMethod method, double percentile, Map<String, Integer> widths) {
            if (kept == null && method != QuantConfig.CalibrationMethod.MAX_ABS) {
                throw new IllegalArgumentException(method + " calibration needs the elements: observe them with keepElements");
            }
            return switch (method) {
                case MAX_ABS -> maxAbs;
                case PERCENTILE -> percentiles(percentile);
                case MSE -> mse(widths);
                case AUTO -> throw new IllegalArgumentException("auto calibration chooses among the other methods (see AutoCalibration)");
            };
        }

        private Map<String, Double> percentiles(double percentile) {
            Map<String, Double> out = new LinkedHashMap<>();
            Percentile p = new Percentile(percentile);
            for (Map.Entry<String, double[]> e : kept.entrySet()) {
                double[] v = e.getValue().clone();
                for (int i = 0; i < v.length; i++) {
                    v[i] = Math.abs(v[i]);
                }
                out.put(e.getKey(), p.evaluate(v));
            }
            return out;
        }

        private Map<String, Double> mse(Map<String, Integer> widths) {
            Map<String, Double> out = new LinkedHashMap<>();
            for (Map.Entry<String, double[]> e : kept.entrySet()) {
                String v = e.getKey();
                double[] band = passBand(graph, v);
                double[] x = e.getValue().clone();
                double m = 0;
                for (int i = 0; i < x.length; i++) {
                    x[i] = Math.max(band[0], Math.min(band[1], x[i]));
                    m = Math.max(m, Math.abs(x[i]));
                }
                int bits = widths.getOrDefault(v, 8);
                int f0 = Fixed.fracFor(m, bits);
                int best = mseFrac(x, bits, f0);
                out.put(v, best == f0 ? m : new QFormat(bits, best).maxReal());
            }
            return out;
        }
    }

    /**
     * The frac among {@code f0 .. f0 + MSE_EXTRA_FRAC} whose format of {@code bits} bits quantizes
     * {@code x} with the smallest mean squared error; the smallest such frac on ties (clip least).
     */
    static int mseFrac(double[] x, int bits, int f0) {
        int best = f0;
        double bestErr = Double.POSITIVE_INFINITY;
        for (int f = f0; f <= f0 + MSE_EXTRA_FRAC && f <= QuantConfig.MAX_FRAC; f++) {
            double err = squaredError(x, new QFormat(bits, f));
            if (err < bestErr) {
                bestErr = err;
                best = f;
            }
        }
        return best;
    }

    /** Sum of squared errors of clip and round to {@code q} over {@code x}. */
    static double squaredError(double[] x, QFormat q) {
        double sum = 0;
        for (double d : x) {
            double e = q.toDouble(q.quantize(d)) - d;
            sum += e * e;
        }
        return sum;
    }

    /**
     * {@code [lo, hi]}: what the readers of {@code value} let through when they are all Relu or
     * Clip nodes (the hull of their pass bands), else the whole line. The graph output has no
     * readers to clamp it.
     */
    static double[] passBand(Graph g, String value) {
        List<Node> readers = g.consumersOf(value);
        if (value.equals(g.output()) || readers.isEmpty()) {
            return new double[] {Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY};
        }
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (Node n : readers) {
            if (n.op() instanceof Op.Relu) {
                lo = Math.min(lo, 0);
                hi = Double.POSITIVE_INFINITY;
            } else if (n.op() instanceof Op.Clip c) {
                lo = Math.min(lo, c.min());
                hi = Math.max(hi, c.max());
            } else {
                return new double[] {Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY};
            }
        }
        return new double[] {lo, hi};
    }
}
