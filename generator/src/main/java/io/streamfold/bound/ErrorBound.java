package io.streamfold.bound;

import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Shape;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QuantErrorReport;
import io.streamfold.quant.QuantizedGraph;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A proved per-layer bound on the quantization error: for every input of an {@link InputBox}, and
 * every element of every value, {@code |xq - x|} is at most the value's bound, where {@code xq} is
 * the dequantized output of the bit-true integer model ({@link io.streamfold.reference.IntegerInterpreter})
 * and {@code x} the float64 reference ({@link io.streamfold.reference.FloatInterpreter}) of the same
 * BN-folded graph: exactly the pair {@link QuantErrorReport} measures. (Folding is exact in real
 * arithmetic; the folded and the original float64 graphs differ by float64 rounding only, which
 * {@code verify} prints separately.)
 *
 * <p>The analysis walks the graph once in node order and keeps, per element, a float interval, a
 * clamp range and a bound on the unsaturated error ({@link ValueBound}); each node's transfer
 * ({@code Transfer}) accounts for what its {@link io.streamfold.quant.QOp} computes: input
 * quantization, weight and bias quantization (known exactly), exact accumulation, requantization
 * rounding, saturation, slopes, tables (measured exhaustively, {@code TableError}), pooling, Add
 * and softmax, and the float64 rounding of the reference itself. Its cost is about that of three
 * inferences.
 *
 * <p>It is a worst case over the whole box, which includes its corners: where interval arithmetic
 * finds that the float value can leave its (calibrated) format, the bound includes the excess,
 * and {@link LayerBound#unsaturated()} gives the part without it, the bound for inputs that keep
 * the value inside its format.
 */
public final class ErrorBound {

    /**
     * The bound of one value.
     *
     * @param node        node name (the graph input's value name for the input)
     * @param kind        op kind ({@code Input} for the graph input)
     * @param value       value name
     * @param format      the value's format
     * @param bound       the largest {@code |xq - x|} of any element for any input of the box
     * @param unsaturated the largest {@code d}: the bound for inputs that keep every element of this
     *                    value inside its clamp range (the format, or less after a Relu, Clip or table)
     * @param floatMin    lower end of the float values over the box (interval arithmetic)
     * @param floatMax    upper end of the float values over the box
     */
    public record LayerBound(String node, String kind, String value, QFormat format, double bound, double unsaturated,
                             double floatMin, double floatMax) {

        /** True if the float values may leave the format's range over the box (the bound then includes saturation). */
        public boolean maySaturate() {
            return floatMax > format.maxReal() || floatMin < format.minReal();
        }

        /** {@code bound} in steps (LSBs) of the value's format. */
        public double boundLsb() {
            return bound / format.step();
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%s (%s) %s: bound %.4g (%.3g LSB), unsaturated %.4g, float range [%.4g, %.4g]%s", node,
                    kind, format, bound, boundLsb(), unsaturated, floatMin, floatMax, maySaturate() ? ", may saturate" : "");
        }
    }

    /**
     * The error sources the analysis counts; all of them always, except in tests that remove one
     * to show that the check against measured errors then fails (each term is needed).
     */
    enum Source {
        /** Rounding the input to its format. */
        INPUT,
        /** Quantized weights, biases, scales, slopes and averaging reciprocals. */
        WEIGHTS,
        /** Requantization rounding (and softmax's reciprocal truncation). */
        REQUANTIZATION,
        /** Lookup tables' own error. */
        TABLES
    }

    private final InputBox box;
    private final List<LayerBound> layers;
    private final Map<String, ValueBound> values;

    private ErrorBound(InputBox box, List<LayerBound> layers, Map<String, ValueBound> values) {
        this.box = box;
        this.layers = List.copyOf(layers);
        this.values = Collections.unmodifiableMap(values);
    }

    /** Bounds every value of {@code q} over the inputs of {@code box}. */
    public static ErrorBound analyze(QuantizedGraph q, InputBox box) {
        return analyze(q, box, EnumSet.allOf(Source.class));
    }

    /** {@link #analyze(QuantizedGraph, InputBox)} counting only {@code sources} (for tests that prove each is needed). */
    static ErrorBound analyze(QuantizedGraph q, InputBox box, Set<Source> sources) {
        Graph g = q.graph();
        if (box.size() != g.inputShape().size()) {
            throw new IllegalArgumentException("input box of " + box.size() + " elements for graph " + g.name() + " with input "
                    + g.inputShape());
        }
        Map<String, ValueBound> values = new LinkedHashMap<>();
        List<LayerBound> layers = new ArrayList<>();
        ValueBound x = Transfer.input(box, q.inputFormat(), sources);
        values.put(g.input(), x);
        layers.add(summary(g.input(), "Input", g.input(), x));
        SymbolicRanges symbolic = new SymbolicRanges(box);
        Map<String, SymbolicRanges.Forms> forms = new HashMap<>();
        forms.put(g.input(), symbolic.input());
        Map<String, Integer> lastUse = new HashMap<>();
        for (int k = 0; k < g.nodes().size(); k++) {
            for (String v : g.nodes().get(k).inputs()) {
                lastUse.put(v, k);
            }
        }
        for (int k = 0; k < g.nodes().size(); k++) {
            Node n = g.nodes().get(k);
            List<ValueBound> ins = new ArrayList<>();
            List<SymbolicRanges.Forms> inForms = new ArrayList<>();
            for (String v : n.inputs()) {
                ins.add(values.get(v));
                inForms.add(forms.get(v));
            }
            Shape xs = g.shape(n.input());
            Shape ys = g.shape(n.output());
            SymbolicRanges.Forms f = symbolic.apply(n, inForms, ins, xs, ys);
            double[] lo = null;
            double[] hi = null;
            if (f != null) {
                lo = new double[ys.size()];
                hi = new double[ys.size()];
                for (int i = 0; i < lo.length; i++) {
                    lo[i] = symbolic.lo(f, i);
                    hi[i] = symbolic.hi(f, i);
                }
                forms.put(n.output(), f);
            }
            ValueBound y = Transfer.apply(n, q.op(n.name()), ins, xs, ys, lo, hi, sources);
            values.put(n.output(), y);
            layers.add(summary(n.name(), n.op().kind(), n.output(), y));
            final int at = k;
            forms.keySet().removeIf(v -> lastUse.getOrDefault(v, -1) <= at);
        }
        return new ErrorBound(box, layers, values);
    }

    private static LayerBound summary(String node, String kind, String value, ValueBound v) {
        return new LayerBound(node, kind, value, v.format(), v.maxError(), v.maxD(), v.floatMin(), v.floatMax());
    }

    /** The box the bound holds over. */
    public InputBox box() {
        return box;
    }

    /** One entry per value, input first, then in node order (as {@link QuantErrorReport#layers()}). */
    public List<LayerBound> layers() {
        return layers;
    }

    /** The entry of a node (or of the input value). */
    public LayerBound layer(String node) {
        for (LayerBound l : layers) {
            if (l.node().equals(node)) {
                return l;
            }
        }
        throw new IllegalArgumentException("no layer " + node);
    }

    /** The element-by-element bound of a value. */
    public ValueBound value(String value) {
        ValueBound v = values.get(value);
        if (v == null) {
            throw new IllegalArgumentException("no value " + value);
        }
        return v;
    }

    /**
     * The layers whose measured largest error exceeds the bound, one line each ({@code node:
     * measured ... > bound ...}); empty if none. A non-empty result is a bug, in the bound or in
     * the arithmetic, provided the measured inputs lie in the box.
     */
    public List<String> violations(QuantErrorReport measured) {
        List<String> out = new ArrayList<>();
        for (QuantErrorReport.LayerError l : measured.layers()) {
            LayerBound b = layer(l.node());
            if (!(l.maxAbsError() <= b.bound())) {
                out.add(String.format(Locale.ROOT, "%s: measured max |error| %.6g exceeds its proved bound %.6g", l.node(), l.maxAbsError(),
                        b.bound()));
            }
        }
        return out;
    }

    /** One line per value. */
    public String toText() {
        StringBuilder sb = new StringBuilder();
        for (LayerBound l : layers) {
            sb.append(l).append('\n');
        }
        return sb.toString();
    }
}
