package io.streamfold.ir;

import java.util.Arrays;
import java.util.List;

/**
 * What a frontend knew about the source model beyond the graph: the layout of the model's own
 * input and output tensors, and notes on how it read the model ({@code inspect} prints them).
 *
 * <p>The graph is always channels first. A model may declare another layout, e.g. an ONNX export
 * of a Keras model whose input is (H, W, C) and whose first node transposes it to (C, H, W):
 * the graph then takes the (C, H, W) tensor, and {@code inputOrder[k]} is the graph's flat index
 * of flat element {@code k} of the model's own tensor (dims {@code inputDims}, row-major). The
 * same holds for the output. A null order is the identity (the model's tensor is the graph's);
 * null dims mean the graph's shape.
 *
 * @param inputDims   the model's input dims without the batch axis, or null
 * @param inputOrder  graph flat index of each model input element, or null
 * @param outputDims  the model's output dims without the batch axis, or null
 * @param outputOrder graph flat index of each model output element, or null
 * @param notes       "node: what was done and why", in reading order
 */
public record SourceModel(int[] inputDims, int[] inputOrder, int[] outputDims, int[] outputOrder, List<String> notes) {

    /**
     * A sample whose element {@code k} belongs at index {@code order[k]}, reordered there (a copy
     * if {@code order} is null): a model-layout sample into the graph's order.
     */
    public static double[] scatter(double[] sample, int[] order) {
        if (order == null) {
            return sample.clone();
        }
        double[] out = new double[sample.length];
        for (int k = 0; k < order.length; k++) {
            out[order[k]] = sample[k];
        }
        return out;
    }

    /** A model whose tensors are the graph's own, read without notes. */
    public static final SourceModel NONE = new SourceModel(null, null, null, null, List.of());

    public SourceModel {
        inputDims = inputDims == null ? null : inputDims.clone();
        inputOrder = inputOrder == null ? null : inputOrder.clone();
        outputDims = outputDims == null ? null : outputDims.clone();
        outputOrder = outputOrder == null ? null : outputOrder.clone();
        notes = List.copyOf(notes);
        checkPermutation(inputOrder);
        checkPermutation(outputOrder);
    }

    @Override
    public int[] inputDims() {
        return inputDims == null ? null : inputDims.clone();
    }

    @Override
    public int[] inputOrder() {
        return inputOrder == null ? null : inputOrder.clone();
    }

    @Override
    public int[] outputDims() {
        return outputDims == null ? null : outputDims.clone();
    }

    @Override
    public int[] outputOrder() {
        return outputOrder == null ? null : outputOrder.clone();
    }

    /** The same without the output layout (the graph output changed). */
    SourceModel withoutOutput() {
        return new SourceModel(inputDims, inputOrder, null, null, notes);
    }

    /** Checks the layouts against the graph's input and output shapes; throws IllegalArgumentException. */
    void check(Shape in, Shape out) {
        check("input", inputDims, inputOrder, in);
        check("output", outputDims, outputOrder, out);
    }

    private static void check(String what, int[] dims, int[] order, Shape s) {
        if (dims != null && Shape.of(dims).size() != s.size()) {
            throw new IllegalArgumentException("model " + what + " dims " + Arrays.toString(dims) + " do not hold a graph " + what + " " + s);
        }
        if (order != null && order.length != s.size()) {
            throw new IllegalArgumentException("model " + what + " order has " + order.length + " entries for " + s);
        }
    }

    private static void checkPermutation(int[] order) {
        if (order == null) {
            return;
        }
        boolean[] seen = new boolean[order.length];
        for (int i : order) {
            if (i < 0 || i >= order.length || seen[i]) {
                throw new IllegalArgumentException("not a permutation: " + Arrays.toString(order));
            }
            seen[i] = true;
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SourceModel m && Arrays.equals(inputDims, m.inputDims) && Arrays.equals(inputOrder, m.inputOrder)
                && Arrays.equals(outputDims, m.outputDims) && Arrays.equals(outputOrder, m.outputOrder) && notes.equals(m.notes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(inputOrder) * 31 + Arrays.hashCode(outputOrder) * 7 + notes.hashCode();
    }

    @Override
    public String toString() {
        return "SourceModel(input " + Arrays.toString(inputDims) + (inputOrder == null ? "" : " reordered") + ", output "
                + Arrays.toString(outputDims) + (outputOrder == null ? "" : " reordered") + ", " + notes.size() + " notes)";
    }
}
