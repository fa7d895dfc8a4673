package io.streamfold.passes;

import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.ir.Window;
import io.streamfold.reference.FloatInterpreter;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Seeded random layers and a small chain builder for pass tests, plus the float equivalence check
 * every pass test uses.
 */
final class TestGraphs {

    /** PyTorch's default BatchNorm epsilon. */
    static final double EPS_TORCH = 1e-5;
    /** Keras' default BatchNormalization epsilon. */
    static final double EPS_KERAS = 1e-3;

    /** Relative tolerance of float equivalence: far above float64 rounding, far below any real bug. */
    static final double REL_TOL = 1e-9;

    enum Signs { MIXED, POSITIVE }

    private final Random rnd;

    TestGraphs(long seed) {
        this.rnd = new Random(seed);
    }

    Random random() {
        return rnd;
    }

    Tensor randn(double scale, int... dims) {
        Shape s = new Shape(dims);
        double[] d = new double[s.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = scale * rnd.nextGaussian();
        }
        return Tensor.of(s, d);
    }

    /** 1D (one kernel entry) or 2D (two) convolution with symmetric padding. */
    Op.Conv conv(int out, int in, int group, int[] kernel, int stride, int pad) {
        int r = kernel.length;
        int[] dims = new int[r + 2];
        dims[0] = out;
        dims[1] = in / group;
        System.arraycopy(kernel, 0, dims, 2, r);
        int[] strides = new int[r];
        Arrays.fill(strides, stride);
        int[] pads = new int[2 * r];
        Arrays.fill(pads, pad);
        return new Op.Conv(randn(0.5, dims), randn(0.5, out), Window.of(kernel, strides, pads), group);
    }

    Op.Conv conv2d(int out, int in, int k, int stride, int pad, int group) {
        return conv(out, in, group, new int[] {k, k}, stride, pad);
    }

    Op.Conv conv1d(int out, int in, int k, int stride, int pad, int group) {
        return conv(out, in, group, new int[] {k}, stride, pad);
    }

    Op.Dense dense(int out, int in) {
        return new Op.Dense(randn(0.5, out, in), randn(0.5, out));
    }

    /**
     * A BatchNorm with distinct per-channel statistics: nonzero means (so a lost shift shows),
     * gammas of both signs unless {@code POSITIVE}, positive variances, and with
     * {@code zeroVarChannel} one channel of variance exactly 0 (its scale is then 1/sqrt(eps)).
     */
    Op.BatchNorm bn(int channels, double eps, Signs signs, boolean zeroVarChannel) {
        double[] gamma = new double[channels];
        double[] beta = new double[channels];
        double[] mean = new double[channels];
        double[] var = new double[channels];
        for (int c = 0; c < channels; c++) {
            double mag = 0.5 + rnd.nextDouble();
            gamma[c] = signs == Signs.POSITIVE || c % 2 == 0 ? mag : -mag;
            beta[c] = rnd.nextGaussian();
            mean[c] = rnd.nextGaussian();
            var[c] = 0.05 + 2 * rnd.nextDouble();
        }
        if (zeroVarChannel) {
            var[channels / 2] = 0;
        }
        Shape s = Shape.of(channels);
        return new Op.BatchNorm(Tensor.of(s, gamma), Tensor.of(s, beta), Tensor.of(s, mean), Tensor.of(s, var), eps);
    }

    Op.BatchNorm bn(int channels) {
        return bn(channels, EPS_TORCH, Signs.MIXED, true);
    }

    double[] input(Shape s) {
        double[] x = new double[s.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = 2 * rnd.nextGaussian();
        }
        return x;
    }

    // ---------------------------------------------------------------------------------------------

    /** Builds a graph node by node; each node reads the previous value unless told otherwise. */
    static final class Chain {
        private final String name;
        private final Shape inputShape;
        private final List<Node> nodes = new ArrayList<>();
        private String last = "x";

        Chain(String name, Shape inputShape) {
            this.name = name;
            this.inputShape = inputShape;
        }

        /** Appends {@code node = op(last)}; its output value is {@code <node>_out}. */
        Chain add(String node, Op op) {
            return add(node, op, last);
        }

        Chain add(String node, Op op, String... inputs) {
            nodes.add(new Node(node, op, List.of(inputs), node + "_out"));
            last = node + "_out";
            return this;
        }

        /** The value written by the last node added (or the graph input). */
        String last() {
            return last;
        }

        Graph build() {
            return new Graph(name, "x", inputShape, nodes, last);
        }
    }

    // ---------------------------------------------------------------------------------------------

    /**
     * Asserts that two graphs compute the same function on {@code samples} seeded random inputs:
     * {@code max|y1 - y2| <= REL_TOL * max(1, max|y1|)}. Returns the worst relative difference seen.
     */
    static double assertEquivalent(Graph expected, Graph actual, long seed, int samples) {
        assertEquals(expected.inputShape(), actual.inputShape(), "input shape");
        assertEquals(expected.outputShape(), actual.outputShape(), "output shape");
        TestGraphs t = new TestGraphs(seed);
        double worst = 0;
        for (int s = 0; s < samples; s++) {
            double[] x = t.input(expected.inputShape());
            double[] y1 = FloatInterpreter.run(expected, x);
            double[] y2 = FloatInterpreter.run(actual, x);
            double maxAbs = 0;
            double maxDiff = 0;
            for (int i = 0; i < y1.length; i++) {
                assertTrue(Double.isFinite(y1[i]) && Double.isFinite(y2[i]), "non-finite output at " + i);
                maxAbs = Math.max(maxAbs, Math.abs(y1[i]));
                maxDiff = Math.max(maxDiff, Math.abs(y1[i] - y2[i]));
            }
            double bound = REL_TOL * Math.max(1, maxAbs);
            assertTrue(maxDiff <= bound, "sample " + s + ": max |diff| " + maxDiff + " > " + bound
                    + " (max |output| " + maxAbs + ")\nexpected graph:\n" + expected + "actual graph:\n" + actual);
            worst = Math.max(worst, maxDiff / Math.max(1, maxAbs));
        }
        return worst;
    }

    static double assertEquivalent(Graph expected, Graph actual) {
        return assertEquivalent(expected, actual, 12345, 5);
    }
}
