package io.streamfold.quant;

import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A graph in fixed point: the (folded) float graph for structure and shapes, a {@link QFormat}
 * for every value and a {@link QOp} with the integer parameters of every node.
 *
 * <p>Building one checks that it is consistent: every value has a format, every node an
 * integer op of its kind, and each op's input and output formats are those of the values it
 * reads and writes. A remaining BatchNorm is quantized as its affine ({@link QOp.QAffine}).
 */
public final class QuantizedGraph {

    private final Graph graph;
    private final Map<String, QFormat> formats;
    private final Map<String, QOp> ops;
    private final Map<String, Double> ranges;
    private final String calibration;

    /** A quantized graph whose ranges were given, not calibrated here ({@link #calibration()} is {@code given}). */
    public QuantizedGraph(Graph graph, Map<String, QFormat> formats, Map<String, QOp> ops, Map<String, Double> ranges) {
        this(graph, formats, ops, ranges, "given");
    }

    /**
     * @param formats     format by value name (graph input and every node output)
     * @param ops         integer op by node name
     * @param ranges      calibrated range by value name (for reports; may lack entries)
     * @param calibration how the ranges were estimated, in words (see {@link #calibration()})
     */
    public QuantizedGraph(Graph graph, Map<String, QFormat> formats, Map<String, QOp> ops, Map<String, Double> ranges, String calibration) {
        this.graph = graph;
        this.calibration = calibration;
        Map<String, QFormat> f = new LinkedHashMap<>();
        Map<String, QOp> o = new LinkedHashMap<>();
        f.put(graph.input(), require(formats.get(graph.input()), "input " + graph.input() + " has no format"));
        for (Node n : graph.nodes()) {
            QOp q = require(ops.get(n.name()), "node " + n.name() + " has no integer op");
            String want = n.op() instanceof Op.BatchNorm ? "Affine" : n.op().kind();
            if (!q.kind().equals(want)) {
                throw new IllegalArgumentException("node " + n.name() + " is a " + n.op().kind() + " but its integer op is " + q.kind());
            }
            List<QFormat> ins = new ArrayList<>();
            for (String v : n.inputs()) {
                ins.add(f.get(v));
            }
            if (!q.inputs().equals(ins)) {
                throw new IllegalArgumentException("node " + n.name() + " reads " + ins + " but its integer op expects " + q.inputs());
            }
            QFormat out = require(formats.get(n.output()), "value " + n.output() + " has no format");
            if (!q.out().equals(out)) {
                throw new IllegalArgumentException("node " + n.name() + " writes " + q.out() + " into value " + n.output() + " of format " + out);
            }
            f.put(n.output(), out);
            o.put(n.name(), q);
        }
        this.formats = Collections.unmodifiableMap(f);
        this.ops = Collections.unmodifiableMap(o);
        this.ranges = Collections.unmodifiableMap(new LinkedHashMap<>(ranges));
    }

    private static <T> T require(T t, String what) {
        if (t == null) {
            throw new IllegalArgumentException(what);
        }
        return t;
    }

    /** The float graph this quantizes. */
    public Graph graph() {
        return graph;
    }

    /** Format of a value (the graph input or a node output). */
    public QFormat format(String value) {
        return require(formats.get(value), "no value named " + value);
    }

    /** Formats of every value, input first, then in node order. */
    public Map<String, QFormat> formats() {
        return formats;
    }

    /** The integer op of a node. */
    public QOp op(String node) {
        return require(ops.get(node), "no node named " + node);
    }

    /** Integer ops by node name, in node order. */
    public Map<String, QOp> ops() {
        return ops;
    }

    public QFormat inputFormat() {
        return formats.get(graph.input());
    }

    public QFormat outputFormat() {
        return formats.get(graph.output());
    }

    /** The calibrated range of a value, or NaN if it was not calibrated. */
    public double range(String value) {
        return ranges.getOrDefault(value, Double.NaN);
    }

    /**
     * How the ranges were estimated: {@code max-abs}, {@code percentile 99.99}, {@code mse},
     * {@code auto: mse (top-1 agreement on 200 calibration samples: ...)} or {@code given}.
     */
    public String calibration() {
        return calibration;
    }

    /** The same graph and parameters with another calibration description. */
    QuantizedGraph withCalibration(String how) {
        return new QuantizedGraph(graph, formats, ops, ranges, how);
    }

    /** One line per node (after one for the input) with its formats and register widths. */
    public List<LayerReport> report() {
        List<LayerReport> r = new ArrayList<>();
        r.add(LayerReport.input(graph.input(), inputFormat(), range(graph.input())));
        for (Node n : graph.nodes()) {
            r.add(LayerReport.of(n, ops.get(n.name()), range(n.output())));
        }
        return r;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("quantized graph ").append(graph.name()).append('\n');
        for (LayerReport l : report()) {
            sb.append("  ").append(l).append('\n');
        }
        return sb.toString();
    }
}
