package io.streamfold.ir;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * A dataflow graph with one input and one output, its nodes in topological order.
 *
 * <p>Building a graph verifies it: every value is defined once before it is used, every op's
 * parameters are valid and shapes are inferred for every value. So a {@code Graph} that exists is
 * well formed; a pass that would produce a broken one fails where it breaks it.
 */
public final class Graph {

    private final String name;
    private final String input;
    private final Shape inputShape;
    private final List<Node> nodes;
    private final String output;
    private final Map<String, Shape> shapes;
    private final Map<String, Node> producers;
    private final SourceModel source;

    public Graph(String name, String input, Shape inputShape, List<Node> nodes, String output) {
        this(name, input, inputShape, nodes, output, SourceModel.NONE);
    }

    /** A graph read from a model whose own tensor layouts (or reading notes) {@code source} records. */
    public Graph(String name, String input, Shape inputShape, List<Node> nodes, String output, SourceModel source) {
        this.name = name;
        this.input = input;
        this.inputShape = inputShape;
        this.nodes = List.copyOf(nodes);
        this.output = output;
        Map<String, Shape> sh = new LinkedHashMap<>();
        Map<String, Node> prod = new HashMap<>();
        java.util.Set<String> names = new java.util.HashSet<>();
        sh.put(input, inputShape);
        for (Node n : this.nodes) {
            if (!names.add(n.name())) {
                throw new ModelException(Diagnostic.SF_BAD_GRAPH, n.name(), "two nodes have this name", null);
            }
            List<Shape> in = new ArrayList<>();
            for (String v : n.inputs()) {
                Shape s = sh.get(v);
                if (s == null) {
                    throw new ModelException(Diagnostic.SF_BAD_GRAPH, n.name(),
                            "input '" + v + "' is not produced by any earlier node", "the graph must be a DAG in topological order");
                }
                in.add(s);
            }
            if (sh.containsKey(n.output())) {
                throw new ModelException(Diagnostic.SF_BAD_GRAPH, n.name(), "value '" + n.output() + "' is defined twice", null);
            }
            n.op().validate(n.name());
            sh.put(n.output(), n.op().outputShape(n.name(), in));
            prod.put(n.output(), n);
        }
        if (!sh.containsKey(output)) {
            throw new ModelException(Diagnostic.SF_BAD_GRAPH, null, "graph output '" + output + "' is not produced by any node", null);
        }
        this.shapes = Collections.unmodifiableMap(sh);
        this.producers = Collections.unmodifiableMap(prod);
        this.source = source;
        try {
            source.check(inputShape, sh.get(output));
        } catch (IllegalArgumentException e) {
            throw new ModelException(Diagnostic.SF_BAD_GRAPH, null, e.getMessage(), null);
        }
    }

    public String name() {
        return name;
    }

    public String input() {
        return input;
    }

    public Shape inputShape() {
        return inputShape;
    }

    public List<Node> nodes() {
        return nodes;
    }

    public String output() {
        return output;
    }

    public Shape outputShape() {
        return shapes.get(output);
    }

    /** The source model's own tensor layouts and the frontend's notes. */
    public SourceModel source() {
        return source;
    }

    /** The input dims as the source model declares them (no batch axis). */
    public int[] modelInputDims() {
        return source.inputDims() != null ? source.inputDims() : inputShape.dims();
    }

    /** The output dims as the source model declares them (no batch axis). */
    public int[] modelOutputDims() {
        return source.outputDims() != null ? source.outputDims() : outputShape().dims();
    }

    /** One input sample in the source model's layout, reordered to the graph's channels-first input. */
    public double[] toGraphInput(double[] modelSample) {
        return SourceModel.scatter(modelSample, source.inputOrder());
    }

    /** One graph input sample reordered to the source model's own input layout. */
    public double[] toModelInput(double[] graphSample) {
        return gather(source.inputOrder(), graphSample);
    }

    /** One graph output reordered to the source model's own output layout. */
    public double[] toModelOutput(double[] graphOutput) {
        return gather(source.outputOrder(), graphOutput);
    }

    private static double[] gather(int[] order, double[] v) {
        if (order == null) {
            return v.clone();
        }
        double[] out = new double[v.length];
        for (int k = 0; k < order.length; k++) {
            out[k] = v[order[k]];
        }
        return out;
    }

    /** Shape of any value (the input or a node output). */
    public Shape shape(String value) {
        Shape s = shapes.get(value);
        if (s == null) {
            throw new IllegalArgumentException("no value named " + value);
        }
        return s;
    }

    /** All value shapes, input first, then in node order. */
    public Map<String, Shape> shapes() {
        return shapes;
    }

    /** The node producing a value, or null for the graph input. */
    public Node producer(String value) {
        return producers.get(value);
    }

    public Node node(String nodeName) {
        for (Node n : nodes) {
            if (n.name().equals(nodeName)) {
                return n;
            }
        }
        throw new IllegalArgumentException("no node named " + nodeName);
    }

    /** Nodes that read a value, in graph order. */
    public List<Node> consumersOf(String value) {
        List<Node> out = new ArrayList<>();
        for (Node n : nodes) {
            if (n.inputs().contains(value)) {
                out.add(n);
            }
        }
        return out;
    }

    /** True if the value is read exactly once (one input slot of one node) and is not the graph output. */
    public boolean hasSingleUse(String value) {
        if (value.equals(output)) {
            return false;
        }
        int uses = 0;
        for (Node n : nodes) {
            for (String in : n.inputs()) {
                uses += in.equals(value) ? 1 : 0;
            }
        }
        return uses == 1;
    }

    /** A graph with the same structure and each node replaced by {@code f(node)}. */
    public Graph mapNodes(UnaryOperator<Node> f) {
        List<Node> out = new ArrayList<>(nodes.size());
        for (Node n : nodes) {
            out.add(f.apply(n));
        }
        return withNodes(out);
    }

    /** The same graph read from a model whose own tensor layouts and reading notes are {@code newSource}. */
    public Graph withSource(SourceModel newSource) {
        return new Graph(name, input, inputShape, nodes, output, newSource);
    }

    /** The same input and output with a new node list. */
    public Graph withNodes(List<Node> newNodes) {
        return new Graph(name, input, inputShape, newNodes, output, source);
    }

    /**
     * The same graph with the output renamed (used when the last node is removed); the model's
     * output layout no longer applies to another output value.
     */
    public Graph withNodes(List<Node> newNodes, String newOutput) {
        return new Graph(name, input, inputShape, newNodes, newOutput, newOutput.equals(output) ? source : source.withoutOutput());
    }

    /** Counts of nodes per op kind, e.g. {@code {Conv=2, BatchNormalization=1}}. */
    public Map<String, Integer> opCounts() {
        Map<String, Integer> m = new LinkedHashMap<>();
        for (Node n : nodes) {
            m.merge(n.op().kind(), 1, Integer::sum);
        }
        return m;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("graph ").append(name).append(" (").append(input).append(inputShape).append(")\n");
        for (Node n : nodes) {
            sb.append("  ").append(n).append(" -> ").append(shapes.get(n.output())).append('\n');
        }
        return sb.append("  output ").append(output).append('\n').toString();
    }
}
