package io.streamfold.quant;

import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.reference.FloatInterpreter;
import org.apache.commons.math3.stat.descriptive.rank.Percentile;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Estimates the range of every value of a graph (its input and each node's output) by running the
 * float reference on calibration samples: the largest |value| seen, or a percentile of |value|
 * over all elements of all samples. The quantizer turns each range into a frac with
 * {@link Fixed#fracFor}.
 */
public final class Calibration {

    private Calibration() {
    }

    /** Range per value name, input first, then in node order. */
    public static Map<String, Double> ranges(Graph g, List<double[]> samples, QuantConfig.CalibrationMethod method,
                                             double percentile) {
        if (samples.isEmpty()) {
            throw new ModelException(Diagnostic.SF_BAD_DATA, null, "no calibration samples", "quantization needs at least one input sample");
        }
        boolean keepAll = method == QuantConfig.CalibrationMethod.PERCENTILE;
        Map<String, double[]> all = new LinkedHashMap<>();
        Map<String, Integer> fill = new LinkedHashMap<>();
        Map<String, Double> max = new LinkedHashMap<>();
        for (double[] x : samples) {
            for (Map.Entry<String, double[]> e : FloatInterpreter.runAll(g, x).entrySet()) {
                double[] v = e.getValue();
                double m = max.getOrDefault(e.getKey(), 0.0);
                for (double d : v) {
                    if (Double.isFinite(d)) {
                        m = Math.max(m, Math.abs(d));
                    }
                }
                max.put(e.getKey(), m);
                if (keepAll) {
                    double[] acc = all.computeIfAbsent(e.getKey(), k -> new double[v.length * samples.size()]);
                    int at = fill.getOrDefault(e.getKey(), 0);
                    for (double d : v) {
                        acc[at++] = Double.isFinite(d) ? Math.abs(d) : 0;
                    }
                    fill.put(e.getKey(), at);
                }
            }
        }
        if (!keepAll) {
            return max;
        }
        Map<String, Double> out = new LinkedHashMap<>();
        Percentile p = new Percentile(percentile);
        for (Map.Entry<String, double[]> e : all.entrySet()) {
            double[] v = Arrays.copyOf(e.getValue(), fill.get(e.getKey()));
            out.put(e.getKey(), p.evaluate(v));
        }
        return out;
    }
}
