package io.streamfold.reference;

import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.ir.Window;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** Small cases of the float reference worked out by hand. */
class FloatInterpreterTest {

    static double[] run(Shape in, Op op, double... x) {
        Graph g = new Graph("g", "x", in, List.of(new Node("n", op, "x", "y")), "y");
        return FloatInterpreter.run(g, x);
    }

    @Test
    void conv2dWithPaddingAndStride() {
        // 1 channel 3x3 input 1..9, 2x2 kernel of ones, stride 2, pad 1 on each side: output 2x2.
        Op.Conv c = new Op.Conv(Tensor.of(Shape.of(1, 1, 2, 2), 1, 1, 1, 1), Tensor.of(Shape.of(1), 0.5),
                new Window(new int[] {2, 2}, new int[] {2, 2}, new int[] {1, 1}, new int[] {1, 1}), 1);
        double[] y = run(Shape.of(1, 3, 3), c, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        assertArrayEquals(new double[] {1.5, 5.5, 11.5, 28.5}, y, 1e-12);
    }

    @Test
    void conv1dTwoChannelsIn() {
        // out[t] = x0[t] - x1[t+1]
        Op.Conv c = new Op.Conv(Tensor.of(Shape.of(1, 2, 2), 1, 0, 0, -1), Tensor.zeros(1), Window.of(new int[] {2}, new int[] {1}, new int[] {0, 0}), 1);
        double[] y = run(Shape.of(2, 3), c, 1, 2, 3, 10, 20, 30);
        assertArrayEquals(new double[] {1 - 20, 2 - 30}, y, 1e-12);
    }

    @Test
    void depthwiseConv() {
        Op.Conv c = new Op.Conv(Tensor.of(Shape.of(2, 1, 1), 2, -3), Tensor.of(Shape.of(2), 1, 0), Window.of(new int[] {1}, new int[] {1}, new int[] {0, 0}), 2);
        assertArrayEquals(new double[] {3, 5, -3, -6}, run(Shape.of(2, 2), c, 1, 2, 1, 2), 1e-12);
    }

    @Test
    void maxPoolPaddingIsMinusInfinity() {
        Op.MaxPool p = new Op.MaxPool(new Window(new int[] {2}, new int[] {2}, new int[] {1}, new int[] {1}));
        assertArrayEquals(new double[] {-5, -1, -4}, run(Shape.of(1, 4), p, -5, -1, -2, -4), 1e-12);
    }

    @Test
    void avgPoolCountModes() {
        Window w = new Window(new int[] {2}, new int[] {2}, new int[] {1}, new int[] {1});
        assertArrayEquals(new double[] {2, 5, 8}, run(Shape.of(1, 4), new Op.AvgPool(w, false), 2, 4, 6, 8), 1e-12);
        assertArrayEquals(new double[] {1, 5, 4}, run(Shape.of(1, 4), new Op.AvgPool(w, true), 2, 4, 6, 8), 1e-12);
    }

    @Test
    void batchNormUsesTheOriginalFormula() {
        Tensor g = Tensor.of(Shape.of(2), 2, -1);
        Tensor b = Tensor.of(Shape.of(2), 1, 0);
        Tensor m = Tensor.of(Shape.of(2), 3, 0);
        Tensor v = Tensor.of(Shape.of(2), 4 - 1e-5, 0.25 - 1e-5);
        double[] y = run(Shape.of(2), new Op.BatchNorm(g, b, m, v, 1e-5), 5, 1);
        assertArrayEquals(new double[] {2 * (5 - 3) / 2.0 + 1, -1 * 1 / 0.5}, y, 1e-12);
    }

    @Test
    void softmaxAlongAnInnerAxis() {
        double[] y = run(Shape.of(2, 2), new Op.Softmax(0), 0, 1, 0, 1);
        assertArrayEquals(new double[] {0.5, 0.5, 0.5, 0.5}, y, 1e-12);
        double[] z = run(Shape.of(2, 2), new Op.Softmax(1), 0, Math.log(3), 0, 0);
        assertArrayEquals(new double[] {0.25, 0.75, 0.5, 0.5}, z, 1e-12);
    }

    @Test
    void activations() {
        assertArrayEquals(new double[] {0, 2}, run(Shape.of(2), new Op.Relu(), -1, 2), 0);
        assertArrayEquals(new double[] {-0.1, 2}, run(Shape.of(2), new Op.LeakyRelu(0.1), -1, 2), 1e-15);
        assertArrayEquals(new double[] {0, 6, 3}, run(Shape.of(3), new Op.Clip(0, 6), -1, 7, 3), 0);
        assertArrayEquals(new double[] {0.5, Math.tanh(1)}, new double[] {run(Shape.of(1), new Op.Sigmoid(), 0)[0], run(Shape.of(1), new Op.Tanh(), 1)[0]}, 1e-15);
    }
}
