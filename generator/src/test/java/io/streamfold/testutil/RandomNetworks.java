package io.streamfold.testutil;

import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.ir.Window;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Seeded random small networks with every op kind of the graph IR: Conv (padded, strided, dilated,
 * grouped, depthwise, 1D and 2D), Dense, BatchNorm (foldable or not), Affine, every pointwise function,
 * PRelu, max and average pooling (padded, ceil-mode end padding, dilated, with and without the padding
 * in the divisor), global
 * average pooling, Flatten, Reshape (also from a vector back to a 1D signal), residual Add and
 * Softmax. Shapes stay small so that a property can run many cases.
 */
public final class RandomNetworks {

    private final Random r;
    private final List<Node> nodes = new ArrayList<>();
    private String cur = "x";
    private Shape shape;
    private int count;

    private RandomNetworks(Random r) {
        this.r = r;
    }

    /** A random network of 2 to 7 blocks on a random input: an image, a 1D signal or a vector. */
    public static Graph graph(Random r) {
        RandomNetworks b = new RandomNetworks(r);
        Shape input = switch (r.nextInt(3)) {
            case 0 -> Shape.of(1 + r.nextInt(3), 3 + r.nextInt(4), 3 + r.nextInt(4));
            case 1 -> Shape.of(1 + r.nextInt(3), 4 + r.nextInt(6));
            default -> Shape.of(1 + r.nextInt(10));
        };
        b.shape = input;
        int blocks = 2 + r.nextInt(6);
        for (int i = 0; i < blocks; i++) {
            if (b.shape.rank() > 1) {
                b.spatial();
            } else {
                b.vector();
            }
        }
        if (r.nextInt(4) == 0) {
            if (b.shape.rank() > 1) {
                b.add(new Op.Flatten(), Shape.of(b.shape.size()));
            }
            b.add(new Op.Softmax(0), b.shape);
        }
        return new Graph("rnd", "x", input, b.nodes, b.cur);
    }

    /** {@code n} samples of a graph's input, each element {@code scale * N(0, 1)} plus a random offset per sample. */
    public static List<double[]> samples(Random r, Graph g, int n, double scale) {
        List<double[]> out = new ArrayList<>();
        for (int s = 0; s < n; s++) {
            double[] x = new double[g.inputShape().size()];
            double offset = 0.3 * r.nextGaussian();
            for (int i = 0; i < x.length; i++) {
                x[i] = offset + scale * r.nextGaussian();
            }
            out.add(x);
        }
        return out;
    }

    /** A tensor of {@code scale * N(0, 1)} entries. */
    public static Tensor tensor(Random r, double scale, int... dims) {
        Shape s = new Shape(dims);
        double[] v = new double[s.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = scale * r.nextGaussian();
        }
        return Tensor.of(s, v);
    }

    /** A random pointwise function: every kind, with random parameters. */
    public static Op.Pointwise pointwise(Random r) {
        return switch (r.nextInt(10)) {
            case 0 -> new Op.Relu();
            case 1 -> new Op.Clip(-0.5 - r.nextDouble(), 0.5 + 2 * r.nextDouble());
            case 2 -> new Op.LeakyRelu(r.nextInt(4) == 0 ? -0.2 * r.nextDouble() : 0.05 + 0.5 * r.nextDouble());
            case 3 -> new Op.Sigmoid();
            case 4 -> new Op.Tanh();
            case 5 -> new Op.Elu(r.nextInt(4) == 0 ? -0.5 * r.nextDouble() : 0.3 + r.nextDouble());
            case 6 -> new Op.Selu(Op.Selu.ALPHA, Op.Selu.GAMMA);
            case 7 -> new Op.Softplus();
            case 8 -> new Op.HardSigmoid(r.nextInt(4) == 0 ? -0.2 : 0.2, 0.5);
            default -> new Op.Clip(0, 6);
        };
    }

    private String add(Op op, Shape out) {
        return add(op, List.of(cur), out);
    }

    private String add(Op op, List<String> inputs, Shape out) {
        String v = "v" + count;
        nodes.add(new Node("n" + count++, op, inputs, v));
        cur = v;
        shape = out;
        return v;
    }

    private Op.BatchNorm batchNorm(int c) {
        double[] var = new double[c];
        for (int i = 0; i < c; i++) {
            var[i] = 0.05 + r.nextDouble();
        }
        return new Op.BatchNorm(tensor(r, 1.0, c), tensor(r, 0.3, c), tensor(r, 0.3, c), Tensor.of(Shape.of(c), var), 1e-5);
    }

    private Op activation(int c) {
        return switch (r.nextInt(5)) {
            case 0 -> new Op.PRelu(tensor(r, 0.3, c));
            case 1 -> new Op.Affine(tensor(r, 1.0, c), tensor(r, 0.3, c));
            default -> pointwise(r);
        };
    }

    private void spatial() {
        int c = shape.channels();
        boolean twoD = shape.rank() == 3;
        int h = twoD ? shape.dim(1) : 1;
        int w = twoD ? shape.dim(2) : shape.dim(1);
        switch (r.nextInt(9)) {
            case 0, 1, 2 -> conv(c, h, w, twoD);
            case 3 -> add(batchNorm(c), shape);
            case 4 -> add(activation(c), shape);
            case 5 -> pool(c, h, w, twoD);
            case 6 -> residual(c, h, w, twoD);
            case 7 -> add(new Op.GlobalAvgPool(), twoD ? Shape.of(c, 1, 1) : Shape.of(c, 1));
            default -> add(r.nextBoolean() ? new Op.Flatten() : new Op.Reshape(Shape.of(shape.size())), Shape.of(shape.size()));
        }
    }

    private void conv(int c, int h, int w, boolean twoD) {
        int kh = twoD ? 1 + r.nextInt(Math.min(3, h)) : 1;
        int kw = 1 + r.nextInt(Math.min(3, w));
        int group = 1;
        int out = 1 + r.nextInt(4);
        if (r.nextInt(3) == 0) {
            group = c;
            out = c * (1 + r.nextInt(2));
        }
        int[] dims = twoD ? new int[] {out, c / group, kh, kw} : new int[] {out, c / group, kw};
        double scale = 1.0 / Math.sqrt((double) (c / group) * kh * kw);
        Op.Conv conv = new Op.Conv(tensor(r, scale, dims), tensor(r, 0.3, out), window(twoD, kh, kw, h, w, 2), group);
        add(conv, outShape(out, conv.window(), h, w, twoD));
    }

    /**
     * A window of {@code kh x kw} (1D: {@code kw}) with stride 1 or 2, begin padding 0 or 1, end
     * padding up to one more (ONNX's ceil mode), and dilation 2 where the input is wide enough;
     * {@code maxStride} bounds the stride.
     */
    private Window window(boolean twoD, int kh, int kw, int h, int w, int maxStride) {
        int stride = 1 + r.nextInt(maxStride);
        int dil = r.nextInt(3) == 0 ? 2 : 1;
        int pad = r.nextInt(2);
        int end = Math.min(pad + r.nextInt(2), (twoD ? Math.min(kh, kw) : kw) - 1);
        if (dil * (kw - 1) + 1 > w + pad + end || (twoD && dil * (kh - 1) + 1 > h + pad + end)) {
            dil = 1;
        }
        return twoD ? new Window(new int[] {kh, kw}, new int[] {stride, stride}, new int[] {pad, pad}, new int[] {end, end},
                new int[] {dil, dil}) : new Window(new int[] {kw}, new int[] {stride}, new int[] {pad}, new int[] {end}, new int[] {dil});
    }

    /** The output shape of a window over (C, H, W) or (C, W) with {@code channels} output channels. */
    private static Shape outShape(int channels, Window win, int h, int w, boolean twoD) {
        int ax = twoD ? 1 : 0;
        int ow = (w + win.padBegin(ax) + win.padEnd(ax) - win.dilation(ax) * (win.kernel(ax) - 1) - 1) / win.stride(ax) + 1;
        if (!twoD) {
            return Shape.of(channels, ow);
        }
        int oh = (h + win.padBegin(0) + win.padEnd(0) - win.dilation(0) * (win.kernel(0) - 1) - 1) / win.stride(0) + 1;
        return Shape.of(channels, oh, ow);
    }

    private void pool(int c, int h, int w, boolean twoD) {
        if (w < 2 || (twoD && h < 2)) {
            add(activation(c), shape);
            return;
        }
        Window win = window(twoD, 2, 2, h, w, 2);
        boolean padded = win.padBegin(0) > 0 || win.padEnd(0) > 0;
        Op op = r.nextBoolean() ? new Op.MaxPool(win) : new Op.AvgPool(win, padded && r.nextBoolean());
        add(op, outShape(c, win, h, w, twoD));
    }

    /** {@code cur + f(cur)} with f a shape-keeping padded conv (and maybe an activation or BN). */
    private void residual(int c, int h, int w, boolean twoD) {
        String skip = cur;
        Shape s = shape;
        int[] k = twoD ? new int[] {Math.min(3, h) | 1, Math.min(3, w) | 1} : new int[] {Math.min(3, w) | 1};
        int[] st = twoD ? new int[] {1, 1} : new int[] {1};
        int[] p = twoD ? new int[] {k[0] / 2, k[1] / 2, k[0] / 2, k[1] / 2} : new int[] {k[0] / 2, k[0] / 2};
        int[] dims = twoD ? new int[] {c, c, k[0], k[1]} : new int[] {c, c, k[0]};
        add(new Op.Conv(tensor(r, 0.5 / c, dims), tensor(r, 0.2, c), Window.of(k, st, p), 1), s);
        if (r.nextBoolean()) {
            add(r.nextBoolean() ? batchNorm(c) : activation(c), s);
        }
        add(new Op.Add(), List.of(skip, cur), s);
    }

    private void vector() {
        int n = shape.size();
        switch (r.nextInt(8)) {
            case 0, 1, 2 -> {
                int out = 1 + r.nextInt(10);
                add(new Op.Dense(tensor(r, 1.0 / Math.sqrt(n), out, n), tensor(r, 0.3, out)), Shape.of(out));
            }
            case 3 -> add(batchNorm(n), shape);
            case 4 -> add(activation(n), shape);
            case 5 -> {
                String skip = cur;
                add(new Op.Dense(tensor(r, 0.5 / Math.sqrt(n), n, n), tensor(r, 0.2, n)), shape);
                add(new Op.Add(), List.of(skip, cur), shape);
            }
            case 6 -> {
                int c = n % 2 == 0 && n > 2 ? 2 : 1;
                add(new Op.Reshape(Shape.of(c, n / c)), Shape.of(c, n / c));
            }
            default -> add(new Op.Softmax(0), shape);
        }
    }
}
