package io.streamfold.json;

import io.streamfold.data.NdArray;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Shape;
import io.streamfold.ir.SourceModel;

import java.util.Arrays;

/**
 * A model read from a streamfold JSON file: the channels-first graph, and the layout the file
 * declared for its input so that callers holding data in that layout can reorder it.
 *
 * <p>The graph input is always channels first, like every streamfold graph, and the graph a
 * streamfold JSON file gives carries no layout of its own ({@link SourceModel#NONE}):
 * data files given to the tool for such a model are channels first, whatever the file declares.
 * {@link #toGraphInput} and {@link #toGraphInputs} convert samples written in the declared layout
 * (e.g. Keras (H, W, C) arrays). A frontend whose users hold data in the declared layout (Keras)
 * hands on {@link #withDeclaredLayouts()}, whose graph carries {@link #declaredLayouts}.
 *
 * @param graph the graph, channels first
 * @param inputLayout the layout of the input as written in the JSON file
 * @param declaredInputShape the input shape as written in the JSON file (no batch axis)
 * @param declaredLayouts the input and output tensors in the declared layout (dims and element
 *     orders; for a channels-last model the output order follows a Keras flatten or reshape), as a
 *     {@link SourceModel}
 */
public record JsonModel(Graph graph, Layout inputLayout, int[] declaredInputShape, SourceModel declaredLayouts) {

    public JsonModel {
        declaredInputShape = declaredInputShape.clone();
    }

    /** The same model whose graph carries {@link #declaredLayouts}: data is read and outputs reported in the declared layout. */
    public JsonModel withDeclaredLayouts() {
        return new JsonModel(graph.withSource(declaredLayouts), inputLayout, declaredInputShape, declaredLayouts);
    }

    @Override
    public int[] declaredInputShape() {
        return declaredInputShape.clone();
    }

    /** One sample in the declared layout, reordered to the graph's channels-first input. */
    public double[] toGraphInput(double[] sample) {
        return inputLayout.toChannelsFirst(sample, graph.inputShape());
    }

    /** A batch (N, declared dims...) in the declared layout, reordered to (N, graph input dims...). */
    public NdArray toGraphInputs(NdArray batch) {
        int[] dims = batch.shape();
        int[] want = new int[declaredInputShape.length + 1];
        want[0] = batch.rows();
        System.arraycopy(declaredInputShape, 0, want, 1, declaredInputShape.length);
        if (dims.length == 0 || !Arrays.equals(dims, want)) {
            throw new IllegalArgumentException("batch has shape " + Arrays.toString(dims) + ", expected (N, "
                    + Arrays.toString(declaredInputShape).replaceAll("[\\[\\]]", "") + ") in " + inputLayout + " order");
        }
        Shape ir = graph.inputShape();
        int n = batch.rows();
        int per = ir.size();
        double[] out = new double[n * per];
        for (int i = 0; i < n; i++) {
            System.arraycopy(toGraphInput(batch.row(i)), 0, out, i * per, per);
        }
        int[] outDims = new int[ir.rank() + 1];
        outDims[0] = n;
        System.arraycopy(ir.dims(), 0, outDims, 1, ir.rank());
        return new NdArray(outDims, out);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof JsonModel m && graph == m.graph && inputLayout == m.inputLayout
                && Arrays.equals(declaredInputShape, m.declaredInputShape) && declaredLayouts.equals(m.declaredLayouts);
    }

    @Override
    public int hashCode() {
        return System.identityHashCode(graph) * 31 + inputLayout.hashCode();
    }

    @Override
    public String toString() {
        return "JsonModel(" + graph.name() + ", input " + Arrays.toString(declaredInputShape) + " " + inputLayout + ")";
    }
}
