package io.streamfold.ir;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Building a graph verifies its structure and infers every shape. */
class GraphTest {

    static Op.Conv conv(int out, int in, int k, int stride, int pad) {
        return new Op.Conv(Tensor.zeros(out, in, k, k), Tensor.zeros(out),
                new Window(new int[] {k, k}, new int[] {stride, stride}, new int[] {pad, pad}, new int[] {pad, pad}), 1);
    }

    @Test
    void infersShapesThroughAConvNet() {
        Graph g = new Graph("g", "x", Shape.of(3, 9, 9), List.of(
                new Node("c1", conv(8, 3, 3, 2, 1), "x", "a"),
                new Node("p", new Op.MaxPool(Window.pool(2, 2)), "a", "b"),
                new Node("gap", new Op.GlobalAvgPool(), "b", "c"),
                new Node("f", new Op.Flatten(), "c", "d"),
                new Node("fc", new Op.Dense(Tensor.zeros(4, 8), Tensor.zeros(4)), "d", "y")), "y");
        assertEquals(Shape.of(8, 5, 5), g.shape("a"));
        assertEquals(Shape.of(8, 2, 2), g.shape("b"));
        assertEquals(Shape.of(8, 1, 1), g.shape("c"));
        assertEquals(Shape.of(4), g.outputShape());
        assertEquals(List.of("fc"), g.consumersOf("d").stream().map(Node::name).toList());
        assertEquals("c1", g.producer("a").name());
    }

    @Test
    void channelMismatchNamesTheNode() {
        ModelException e = assertThrows(ModelException.class, () -> new Graph("g", "x", Shape.of(3, 9, 9), List.of(
                new Node("c1", conv(8, 4, 3, 1, 1), "x", "a")), "a"));
        assertEquals(Diagnostic.SF_SHAPE_MISMATCH, e.id());
        assertEquals("c1", e.node());
    }

    @Test
    void denseOnAnUnflattenedTensorIsAMismatch() {
        ModelException e = assertThrows(ModelException.class, () -> new Graph("g", "x", Shape.of(2, 3), List.of(
                new Node("fc", new Op.Dense(Tensor.zeros(4, 6), Tensor.zeros(4)), "x", "y")), "y"));
        assertEquals(Diagnostic.SF_SHAPE_MISMATCH, e.id());
        assertEquals("fc", e.node());
    }

    @Test
    void windowLargerThanInput() {
        ModelException e = assertThrows(ModelException.class, () -> new Graph("g", "x", Shape.of(1, 2, 2), List.of(
                new Node("p", new Op.MaxPool(Window.pool(3, 3)), "x", "y")), "y"));
        assertEquals(Diagnostic.SF_SHAPE_MISMATCH, e.id());
    }

    @Test
    void addNeedsEqualShapes() {
        ModelException e = assertThrows(ModelException.class, () -> new Graph("g", "x", Shape.of(2, 4), List.of(
                new Node("f", new Op.Flatten(), "x", "a"),
                new Node("add", new Op.Add(), List.of("x", "a"), "y")), "y"));
        assertEquals("add", e.node());
    }

    @Test
    void undefinedInputAndDuplicateValues() {
        assertEquals(Diagnostic.SF_BAD_GRAPH, assertThrows(ModelException.class, () -> new Graph("g", "x", Shape.of(2), List.of(
                new Node("r", new Op.Relu(), "nope", "y")), "y")).id());
        assertEquals(Diagnostic.SF_BAD_GRAPH, assertThrows(ModelException.class, () -> new Graph("g", "x", Shape.of(2), List.of(
                new Node("r", new Op.Relu(), "x", "y"),
                new Node("s", new Op.Relu(), "y", "y")), "y")).id());
        assertEquals(Diagnostic.SF_BAD_GRAPH, assertThrows(ModelException.class, () -> new Graph("g", "x", Shape.of(2), List.of(
                new Node("r", new Op.Relu(), "x", "y")), "z")).id());
    }

    @Test
    void nanWeightAndBadBatchNormAreRejected() {
        Tensor w = Tensor.of(Shape.of(1, 2), 1, Double.NaN);
        ModelException e = assertThrows(ModelException.class, () -> new Graph("g", "x", Shape.of(2), List.of(
                new Node("fc", new Op.Dense(w, Tensor.zeros(1)), "x", "y")), "y"));
        assertEquals(Diagnostic.SF_BAD_WEIGHTS, e.id());
        Tensor one = Tensor.of(Shape.of(1), 1);
        Op.BatchNorm bad = new Op.BatchNorm(one, one, one, Tensor.of(Shape.of(1), -1), 1e-5);
        assertEquals(Diagnostic.SF_BAD_BATCHNORM, assertThrows(ModelException.class, () -> new Graph("g", "x", Shape.of(1), List.of(
                new Node("bn", bad, "x", "y")), "y")).id());
        // Zero variance is valid: epsilon keeps it finite.
        Op.BatchNorm zero = new Op.BatchNorm(one, one, one, Tensor.of(Shape.of(1), 0), 1e-3);
        new Graph("g", "x", Shape.of(1), List.of(new Node("bn", zero, "x", "y")), "y");
    }
}
