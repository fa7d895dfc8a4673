package io.streamfold.sim;

import io.streamfold.compile.Pipeline;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.quant.QOp;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Seeded random small graphs with fan-out, residual adds, global average pooling and softmax
 * (built by hand from {@code Op} records, folded and quantized by the pipeline), random plans that
 * fit them, and random quantized inputs. Shared with the co-simulation tests (test-jar).
 */
public final class GraphFixtures {

    private final Random rnd;

    public GraphFixtures(long seed) {
        this.rnd = new Random(seed);
    }

    public Random random() {
        return rnd;
    }

    private Tensor randn(double scale, int... dims) {
        Shape s = new Shape(dims);
        double[] d = new double[s.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = scale * rnd.nextGaussian();
        }
        return Tensor.of(s, d);
    }

    private Op.Dense dense(int out, int in) {
        return new Op.Dense(randn(1.0 / Math.sqrt(in), out, in), randn(0.3, out));
    }

    private Op.BatchNorm bn(int c) {
        double[] g = new double[c];
        double[] b = new double[c];
        double[] m = new double[c];
        double[] v = new double[c];
        for (int i = 0; i < c; i++) {
            g[i] = (0.5 + rnd.nextDouble()) * (i % 3 == 0 ? -1 : 1);
            b[i] = rnd.nextGaussian() * 0.5;
            m[i] = rnd.nextGaussian() * 0.5;
            v[i] = 0.2 + rnd.nextDouble();
        }
        Shape s = Shape.of(c);
        return new Op.BatchNorm(Tensor.of(s, g), Tensor.of(s, b), Tensor.of(s, m), Tensor.of(s, v), 1e-5);
    }

    /** {@code x(n) -> Dense(h) -> fork -> [Dense(h), Relu, BN] + skip -> Add -> Dense(k) [-> Softmax]}. */
    public Graph residualMlp(int n, int h, int k, boolean softmax) {
        List<Node> nodes = new ArrayList<>();
        nodes.add(new Node("fc0", dense(h, n), "x", "a"));
        nodes.add(new Node("fc1", dense(h, h), "a", "b"));
        nodes.add(new Node("relu1", new Op.Relu(), "b", "c"));
        nodes.add(new Node("bn1", bn(h), "c", "d"));
        nodes.add(new Node("add", new Op.Add(), List.of("d", "a"), "e"));
        nodes.add(new Node("fc2", dense(k, h), "e", "f"));
        if (softmax) {
            nodes.add(new Node("softmax", new Op.Softmax(0), "f", "y"));
        }
        return new Graph("residual_mlp", "x", Shape.of(n), nodes, softmax ? "y" : "f");
    }

    /**
     * A value read three times and an add of a value with itself:
     * {@code a = Dense(x); t = a + (Relu(a) + Dense(a)); y = Dense(t + t)}.
     */
    public Graph threeWayFanOut(int n, int h, int k) {
        List<Node> nodes = new ArrayList<>();
        nodes.add(new Node("fc0", dense(h, n), "x", "a"));
        nodes.add(new Node("relu", new Op.Relu(), "a", "r"));
        nodes.add(new Node("fc1", dense(h, h), "a", "b"));
        nodes.add(new Node("add1", new Op.Add(), List.of("r", "b"), "s"));
        nodes.add(new Node("add2", new Op.Add(), List.of("a", "s"), "t"));
        nodes.add(new Node("twice", new Op.Add(), List.of("t", "t"), "u"));
        nodes.add(new Node("fc2", dense(k, h), "u", "y"));
        return new Graph("fanout", "x", Shape.of(n), nodes, "y");
    }

    /**
     * {@code x(w0) -> Dense(w1) -> act[0] -> Dense(w2) -> act[1] -> ... -> Dense(wk)}: a plain MLP whose
     * hidden layers are each followed by the given elementwise op (null for none).
     */
    public Graph mlp(List<Op> acts, int... widths) {
        List<Node> nodes = new ArrayList<>();
        String v = "x";
        for (int l = 1; l < widths.length; l++) {
            nodes.add(new Node("fc" + l, dense(widths[l], widths[l - 1]), v, "d" + l));
            v = "d" + l;
            Op act = l < widths.length - 1 ? acts.get(l - 1) : null;
            if (act != null) {
                nodes.add(new Node("act" + l, act, v, "a" + l));
                v = "a" + l;
            }
        }
        return new Graph("mlp", "x", Shape.of(widths[0]), nodes, v);
    }

    /** A per-channel BatchNorm that cannot fold when it follows an activation. */
    public Op.BatchNorm batchNorm(int c) {
        return bn(c);
    }

    /** {@code x(c, hh, ww) -> GlobalAvgPool -> Flatten -> Dense(k) -> Softmax}. */
    public Graph gapHead(int c, int hh, int ww, int k) {
        List<Node> nodes = new ArrayList<>();
        nodes.add(new Node("gap", new Op.GlobalAvgPool(), "x", "p"));
        nodes.add(new Node("flatten", new Op.Flatten(), "p", "f"));
        nodes.add(new Node("fc", dense(k, c), "f", "z"));
        nodes.add(new Node("softmax", new Op.Softmax(0), "z", "y"));
        return new Graph("gap_head", "x", Shape.of(c, hh, ww), nodes, "y");
    }

    public List<double[]> samples(Shape s, int count) {
        List<double[]> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            double[] x = new double[s.size()];
            for (int j = 0; j < x.length; j++) {
                x[j] = rnd.nextGaussian() + (j % 3 == 0 ? 0.5 : 0);
            }
            out.add(x);
        }
        return out;
    }

    /** Folds and quantizes with calibration on random samples. */
    public QuantizedGraph quantize(Graph g, QuantConfig cfg) {
        return Pipeline.quantize(g, cfg, samples(g.inputShape(), 64)).quantized();
    }

    /** Random quantized inputs (from random reals, so some saturate). */
    public List<long[]> inputs(QuantizedGraph q, int count) {
        List<long[]> out = new ArrayList<>();
        for (double[] x : samples(q.graph().inputShape(), count)) {
            out.add(IntegerInterpreter.quantizeInput(q, x));
        }
        return out;
    }

    /** A random divisor of n. */
    public int divisor(int n) {
        List<Integer> ds = new ArrayList<>();
        for (int d = 1; d <= n; d++) {
            if (n % d == 0) {
                ds.add(d);
            }
        }
        return ds.get(rnd.nextInt(ds.size()));
    }

    /** Random PE/SIMD for every Dense, random input elements (dividing the pixel), random FIFO depth 2..3. */
    public ParallelismPlan randomPlan(QuantizedGraph q) {
        Shape in = q.graph().inputShape();
        int lanes = in.rank() == 1 ? in.dim(0) : in.channels();
        ParallelismPlan p = ParallelismPlan.serial().withInputElems(divisor(lanes)).withFifoDepth(2 + rnd.nextInt(2));
        for (Map.Entry<String, QOp> e : q.ops().entrySet()) {
            if (e.getValue() instanceof QOp.QDense d) {
                p = p.with(e.getKey(), divisor(d.outFeatures()), divisor(d.inFeatures()));
            }
        }
        return p;
    }

    /** Index of the largest element, ties to the lowest index. */
    public static int argmax(long[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
