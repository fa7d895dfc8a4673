package io.streamfold.quant;

import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.reference.FloatInterpreter;
import io.streamfold.reference.IntegerInterpreter;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * How far the integer graph is from the float graph it quantizes, measured over a data set: per
 * value (the input, then every node output) the largest and the RMS error of the dequantized
 * integer value against the float reference of the same graph, and the signal-to-quantization-
 * noise ratio {@code 10 log10(sum ref^2 / sum err^2)}; for the output, how often the float and
 * integer arg-max agree (ties go to the lowest index, as a hardware arg-max would) and, with
 * labels, both accuracies.
 *
 * <p>Errors accumulate along the graph: a layer's error includes that of every layer before it.
 *
 * @param layers         one entry per value, input first
 * @param samples        number of inputs measured
 * @param top1Agreements samples whose float and integer arg-max agree
 * @param floatAccuracy  float top-1 accuracy against the labels (NaN without labels)
 * @param intAccuracy    integer top-1 accuracy against the labels (NaN without labels)
 */
public record QuantErrorReport(List<LayerError> layers, int samples, int top1Agreements, double floatAccuracy,
                               double intAccuracy) {

    /**
     * The error of one value. {@code saturated} is the fraction of elements at the format's
     * minimum or maximum: high where calibration saw too small a range, and by design where a
     * value is narrowed to the range a following Relu or Clip lets through (their output's error
     * is then the one that counts).
     */
    public record LayerError(String node, String kind, String value, QFormat format, double maxAbsError, double rmsError,
                             double sqnrDb, double saturated) {
        @Override
        public String toString() {
            return String.format("%s (%s) %s: max |err| %.4g, rms %.4g, SQNR %.1f dB, saturated %.2f%%", node, kind, format,
                    maxAbsError, rmsError, sqnrDb, 100 * saturated);
        }
    }

    public QuantErrorReport {
        layers = List.copyOf(layers);
    }

    /** Fraction of samples whose float and integer arg-max agree. */
    public double top1Agreement() {
        return samples == 0 ? Double.NaN : (double) top1Agreements / samples;
    }

    /** The entry of a node (or of the input value). */
    public LayerError layer(String node) {
        for (LayerError l : layers) {
            if (l.node.equals(node)) {
                return l;
            }
        }
        throw new IllegalArgumentException("no layer " + node);
    }

    /** Measures over {@code inputs} without labels. */
    public static QuantErrorReport measure(QuantizedGraph q, List<double[]> inputs) {
        return measure(q, inputs, null);
    }

    /** Measures over {@code inputs}; {@code labels} (one class per input) may be null. */
    public static QuantErrorReport measure(QuantizedGraph q, List<double[]> inputs, int[] labels) {
        if (labels != null && labels.length != inputs.size()) {
            throw new IllegalArgumentException(labels.length + " labels for " + inputs.size() + " inputs");
        }
        Graph g = q.graph();
        List<String> values = new ArrayList<>();
        List<String> nodes = new ArrayList<>();
        List<String> kinds = new ArrayList<>();
        values.add(g.input());
        nodes.add(g.input());
        kinds.add("Input");
        for (Node n : g.nodes()) {
            values.add(n.output());
            nodes.add(n.name());
            kinds.add(n.op().kind());
        }
        int nv = values.size();
        double[] maxErr = new double[nv];
        double[] sumErr2 = new double[nv];
        double[] sumRef2 = new double[nv];
        long[] count = new long[nv];
        long[] sat = new long[nv];
        int agree = 0;
        int floatRight = 0;
        int intRight = 0;
        for (int s = 0; s < inputs.size(); s++) {
            double[] x = inputs.get(s);
            Map<String, double[]> ref = FloatInterpreter.runAll(g, x);
            Map<String, long[]> got = IntegerInterpreter.runAll(q, IntegerInterpreter.quantizeInput(q, x));
            for (int v = 0; v < nv; v++) {
                double[] r = ref.get(values.get(v));
                long[] iv = got.get(values.get(v));
                QFormat f = q.format(values.get(v));
                for (int i = 0; i < r.length; i++) {
                    double e = f.toDouble(iv[i]) - r[i];
                    maxErr[v] = Math.max(maxErr[v], Math.abs(e));
                    sumErr2[v] += e * e;
                    sumRef2[v] += r[i] * r[i];
                    sat[v] += iv[i] == f.min() || iv[i] == f.max() ? 1 : 0;
                }
                count[v] += r.length;
            }
            int fa = argmax(ref.get(g.output()));
            int ia = argmax(got.get(g.output()));
            agree += fa == ia ? 1 : 0;
            if (labels != null) {
                floatRight += fa == labels[s] ? 1 : 0;
                intRight += ia == labels[s] ? 1 : 0;
            }
        }
        List<LayerError> out = new ArrayList<>();
        for (int v = 0; v < nv; v++) {
            double rms = count[v] == 0 ? 0 : Math.sqrt(sumErr2[v] / count[v]);
            double sqnr = sumErr2[v] == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(sumRef2[v] / sumErr2[v]);
            out.add(new LayerError(nodes.get(v), kinds.get(v), values.get(v), q.format(values.get(v)), maxErr[v], rms, sqnr,
                    count[v] == 0 ? 0 : (double) sat[v] / count[v]));
        }
        double n = inputs.size();
        return new QuantErrorReport(out, inputs.size(), agree, labels == null ? Double.NaN : floatRight / n,
                labels == null ? Double.NaN : intRight / n);
    }

    /** Index of the largest element, the lowest index on ties. */
    public static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    /** Index of the largest element, the lowest index on ties. */
    public static int argmax(long[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    /** The report as text, one line per value, then the agreement. */
    public String toText() {
        StringBuilder sb = new StringBuilder();
        for (LayerError l : layers) {
            sb.append(l).append('\n');
        }
        sb.append(String.format("top-1 agreement float vs integer: %d/%d (%.2f%%)", top1Agreements, samples, 100 * top1Agreement()));
        if (!Double.isNaN(floatAccuracy)) {
            sb.append(String.format(", accuracy float %.2f%%, integer %.2f%%", 100 * floatAccuracy, 100 * intAccuracy));
        }
        return sb.append('\n').toString();
    }
}
