package io.streamfold.quant;

import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.ir.Window;
import io.streamfold.passes.PassContext;
import io.streamfold.reference.FloatInterpreter;
import io.streamfold.reference.IntegerInterpreter;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each integer op on seeded random small layers: bit-exact against the arbitrary-precision
 * {@link BigRef}, and close to the float reference by a bound derived from the quantization
 * steps (at 16 bits, a sign or shift bug is off by far more).
 */
class QOpsTest {

    // Max-abs ranges: the error bounds below assume that calibration saturates nothing.
    static final QuantConfig Q16 = QuantConfig.defaults().withBits(16, 16).withMaxAbs();
    static final QuantConfig Q8 = QuantConfig.defaults().withMaxAbs();

    final Random rnd = new Random(42);

    Tensor randn(double scale, int... dims) {
        Shape s = new Shape(dims);
        double[] d = new double[s.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = scale * rnd.nextGaussian();
        }
        return Tensor.of(s, d);
    }

    List<double[]> samples(Shape s, int n, double scale) {
        List<double[]> out = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            out.add(randn(scale, s.size()).data());
        }
        return out;
    }

    static Graph single(Op op, Shape in) {
        return new Graph("t", "x", in, List.of(new Node("op", op, "x", "y")), "y");
    }

    static Window window(int[] k, int stride, int pad) {
        int[] s = new int[k.length];
        Arrays.fill(s, stride);
        int[] p = new int[2 * k.length];
        Arrays.fill(p, pad);
        return Window.of(k, s, p);
    }

    static QuantizedGraph quantize(Graph g, List<double[]> xs, QuantConfig cfg) {
        return new Quantize(cfg).run(g, xs, new PassContext());
    }

    /** Integer interpreter equals the BigInteger reference on every value of every sample. */
    static void assertBitExact(QuantizedGraph q, List<double[]> xs) {
        for (double[] x : xs) {
            long[] in = IntegerInterpreter.quantizeInput(q, x);
            Map<String, long[]> got = IntegerInterpreter.runAll(q, in);
            Map<String, long[]> want = BigRef.runAll(q, in);
            for (String v : want.keySet()) {
                assertArrayEquals(want.get(v), got.get(v), "value " + v);
            }
        }
    }

    /** Largest |integer - float| over the samples, in real units. */
    static double maxError(QuantizedGraph q, List<double[]> xs) {
        double worst = 0;
        for (double[] x : xs) {
            double[] f = FloatInterpreter.run(q.graph(), x);
            double[] i = IntegerInterpreter.runReal(q, x);
            for (int k = 0; k < f.length; k++) {
                worst = Math.max(worst, Math.abs(f[k] - i[k]));
            }
        }
        return worst;
    }

    /** The float graph with every weight, bias and scale replaced by its quantized value. */
    static Graph dequantizedParameters(QuantizedGraph q) {
        return q.graph().mapNodes(n -> {
            QOp op = q.op(n.name());
            if (op instanceof QOp.QDense d) {
                return n.withOp(new Op.Dense(real(d.weight()), bias(d.bias(), d.weight(), d.in())));
            }
            if (op instanceof QOp.QConv c) {
                return n.withOp(new Op.Conv(real(c.weight()), bias(c.bias(), c.weight(), c.in()), c.window(), c.group()));
            }
            if (op instanceof QOp.QAffine a) {
                return n.withOp(new Op.Affine(real(a.scale()), bias(a.shift(), a.scale(), a.in())));
            }
            return n;
        });
    }

    /** The float graph with |W - W_q|, |b - b_q| (or |W_q|, 0): propagating |x| bounds the error. */
    static Graph absParameters(QuantizedGraph q, boolean weightError) {
        return q.graph().mapNodes(n -> {
            QOp op = q.op(n.name());
            Op f = n.op();
            if (op instanceof QOp.QDense d && f instanceof Op.Dense fd) {
                return n.withOp(new Op.Dense(abs(fd.weight(), real(d.weight()), weightError),
                        abs(fd.bias(), bias(d.bias(), d.weight(), d.in()), weightError ? true : null)));
            }
            if (op instanceof QOp.QConv c && f instanceof Op.Conv fc) {
                return n.withOp(new Op.Conv(abs(fc.weight(), real(c.weight()), weightError),
                        abs(fc.bias(), bias(c.bias(), c.weight(), c.in()), weightError ? true : null), c.window(), c.group()));
            }
            return n;
        });
    }

    static Tensor real(QWeights w) {
        double[] d = new double[w.shape().size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = w.toDouble(i);
        }
        return Tensor.of(w.shape(), d);
    }

    static Tensor bias(long[] b, QWeights w, QFormat in) {
        double[] d = new double[b.length];
        for (int c = 0; c < b.length; c++) {
            d[c] = Math.scalb((double) b[c], -(w.frac(c) + in.frac()));
        }
        return Tensor.of(Shape.of(b.length), d);
    }

    /** {@code |a - b|} if diff, {@code |b|} if not, zeros if diff is null. */
    static Tensor abs(Tensor a, Tensor b, Boolean diff) {
        double[] d = new double[a.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = diff == null ? 0 : diff ? Math.abs(a.at(i) - b.at(i)) : Math.abs(b.at(i));
        }
        return Tensor.of(a.shape(), d);
    }

    static double[] absArray(double[] v) {
        double[] a = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            a[i] = Math.abs(v[i]);
        }
        return a;
    }

    /**
     * For a single linear layer (Dense/Conv): the integer output is the exact real result of the
     * quantized parameters on the quantized input, rounded once (half a step); and it differs from
     * float by at most {@code |W - W_q| |x| + |b - b_q| + |W_q| |x - x_q|} plus that half step.
     */
    static void assertLinearLayerBounds(QuantizedGraph q, List<double[]> xs) {
        Graph exact = dequantizedParameters(q);
        Graph wErr = absParameters(q, true);
        Graph xErr = absParameters(q, false);
        QFormat out = q.outputFormat();
        QFormat in = q.inputFormat();
        for (double[] x : xs) {
            double[] xq = IntegerInterpreter.dequantize(in, IntegerInterpreter.quantizeInput(q, x));
            double[] got = IntegerInterpreter.runReal(q, x);
            double[] realAcc = FloatInterpreter.run(exact, xq);
            double[] f = FloatInterpreter.run(q.graph(), x);
            double[] dx = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                dx[i] = Math.abs(x[i] - xq[i]);
            }
            double[] b1 = FloatInterpreter.run(wErr, absArray(x));
            double[] b2 = FloatInterpreter.run(xErr, dx);
            for (int k = 0; k < got.length; k++) {
                boolean saturated = got[k] == out.maxReal() || got[k] == out.minReal();
                if (!saturated) {
                    assertTrue(Math.abs(got[k] - realAcc[k]) <= out.step() / 2 + 1e-12,
                            "rounding: " + got[k] + " vs exact " + realAcc[k] + " step " + out.step());
                }
                double bound = b1[k] + b2[k] + out.step() / 2 + 1e-9;
                assertTrue(saturated || Math.abs(got[k] - f[k]) <= bound, "error " + Math.abs(got[k] - f[k]) + " > bound " + bound);
            }
        }
    }

    @Test
    void denseIsExactAndWithinItsErrorBound() {
        for (QuantConfig cfg : List.of(Q16, Q8, Q16.withPerChannel(false), Q8.withPerChannel(false), Q8.withBits(5, 12))) {
            for (int t = 0; t < 5; t++) {
                int nIn = 1 + rnd.nextInt(20);
                int nOut = 1 + rnd.nextInt(10);
                Op.Dense d = new Op.Dense(randn(rnd.nextDouble() * 2, nOut, nIn), randn(rnd.nextDouble(), nOut));
                Graph g = single(d, Shape.of(nIn));
                List<double[]> xs = samples(g.inputShape(), 30, 3 * rnd.nextDouble());
                QuantizedGraph q = quantize(g, xs, cfg);
                assertBitExact(q, xs);
                assertLinearLayerBounds(q, xs);
            }
        }
    }

    @Test
    void denseAtSixteenBitsIsCloseToFloat() {
        Op.Dense d = new Op.Dense(randn(0.5, 8, 32), randn(0.5, 8));
        Graph g = single(d, Shape.of(32));
        List<double[]> xs = samples(g.inputShape(), 50, 1);
        QuantizedGraph q = quantize(g, xs, Q16);
        double range = q.range("y");
        assertTrue(maxError(q, xs) <= 1e-3 * range, maxError(q, xs) + " vs range " + range);
    }

    @Test
    void convVariantsAreExactAndWithinTheirErrorBound() {
        Object[][] cases = {
            // in shape, out channels, kernel, stride, pad, group
            {Shape.of(3, 6, 6), 4, new int[] {3, 3}, 1, 1, 1},
            {Shape.of(2, 7, 5), 3, new int[] {3, 2}, 2, 0, 1},
            {Shape.of(4, 5, 5), 4, new int[] {3, 3}, 1, 1, 4},  // depthwise
            {Shape.of(4, 5, 5), 8, new int[] {3, 3}, 1, 2, 4},  // depthwise, multiplier 2, wide pad
            {Shape.of(4, 6, 6), 2, new int[] {1, 1}, 1, 0, 2},  // grouped 1x1
            {Shape.of(3, 9), 5, new int[] {3}, 1, 1, 1},        // 1D
            {Shape.of(2, 10), 2, new int[] {4}, 3, 2, 2},       // 1D depthwise strided
        };
        for (QuantConfig cfg : List.of(Q16, Q8, Q8.withPerChannel(false))) {
            for (Object[] c : cases) {
                Shape in = (Shape) c[0];
                int out = (int) c[1];
                int[] k = (int[]) c[2];
                int group = (int) c[5];
                int[] wd = new int[k.length + 2];
                wd[0] = out;
                wd[1] = in.channels() / group;
                System.arraycopy(k, 0, wd, 2, k.length);
                Op.Conv conv = new Op.Conv(randn(0.7, wd), randn(0.3, out), window(k, (int) c[3], (int) c[4]), group);
                Graph g = single(conv, in);
                List<double[]> xs = samples(in, 12, 1.5);
                QuantizedGraph q = quantize(g, xs, cfg);
                assertBitExact(q, xs);
                assertLinearLayerBounds(q, xs);
            }
        }
    }

    @Test
    void affineAndLeftoverBatchNormAreExactAndClose() {
        Shape s = Shape.of(5, 3, 3);
        Op.Affine a = new Op.Affine(randn(2, 5), randn(1, 5));
        Op.BatchNorm bn = new Op.BatchNorm(randn(1, 5), randn(1, 5), randn(1, 5), Tensor.of(Shape.of(5), 0.5, 1, 2, 0.01, 3), 1e-5);
        for (Op op : List.of(a, bn)) {
            Graph g = single(op, s);
            List<double[]> xs = samples(s, 20, 2);
            PassContext ctx = new PassContext();
            QuantizedGraph q = new Quantize(Q16).run(g, xs, ctx);
            assertTrue(q.op("op") instanceof QOp.QAffine);
            assertEquals(op instanceof Op.BatchNorm ? 1 : 0, ctx.counter(Quantize.NAME, "batchnorms quantized as affine"));
            assertBitExact(q, xs);
            assertTrue(maxError(q, xs) <= 1e-3 * q.range("y"), op.kind() + ": " + maxError(q, xs));
            assertBitExact(quantize(g, xs, Q8), xs);
        }
    }

    @Test
    void elementwiseActivations() {
        Shape s = Shape.of(4, 5);
        List<Op> ops = List.of(new Op.Relu(), new Op.LeakyRelu(0.1), new Op.LeakyRelu(-0.3), new Op.LeakyRelu(1.7),
                new Op.Clip(0, 6), new Op.Clip(-1, 1), new Op.Clip(Double.NEGATIVE_INFINITY, 0.5), new Op.Sigmoid(), new Op.Tanh());
        for (Op op : ops) {
            Graph g = single(op, s);
            List<double[]> xs = samples(s, 20, 3);
            for (QuantConfig cfg : List.of(Q16, Q8)) {
                QuantizedGraph q = quantize(g, xs, cfg);
                assertBitExact(q, xs);
                QFormat in = q.inputFormat();
                QFormat out = q.outputFormat();
                // Input rounding passed through the op (slope <= max(1, |alpha|)) plus output rounding,
                // plus a LUT's index rounding and the saturation of 1.0 one step below it.
                double slope = op instanceof Op.LeakyRelu l ? Math.max(1, Math.abs(l.alpha())) : 1;
                double bound = slope * in.step() / 2 + out.step() / 2 + 1e-12;
                if (op instanceof Op.LeakyRelu l) {
                    bound += Math.abs(l.alpha() - Math.scalb((double) ((QOp.QLeakyRelu) q.op("op")).alpha(),
                            -((QOp.QLeakyRelu) q.op("op")).alphaFrac())) * 3 * 6;
                }
                if (q.op("op") instanceof QOp.QLut l) {
                    bound += Math.scalb(0.5, -l.lut().indexFrac()) + out.step();
                }
                assertTrue(maxError(q, xs) <= bound, op + " " + cfg.actBits() + " bits: " + maxError(q, xs) + " > " + bound);
            }
        }
    }

    @Test
    void softmaxIsExactSumsToOneAndIsClose() {
        Object[][] cases = {{Shape.of(10), 0}, {Shape.of(4, 3), 0}, {Shape.of(4, 3), 1}, {Shape.of(3, 2, 2), 0}};
        for (Object[] c : cases) {
            Shape s = (Shape) c[0];
            Graph g = single(new Op.Softmax((int) c[1]), s);
            List<double[]> xs = samples(s, 30, 3);
            for (QuantConfig cfg : List.of(Q16, Q8, Q16.withLutIndexBits(14))) {
                QuantizedGraph q = quantize(g, xs, cfg);
                assertBitExact(q, xs);
                QOp.QSoftmax sm = (QOp.QSoftmax) q.op("op");
                QFormat in = q.inputFormat();
                // exp by table: a plain table's index step (and the input step) move e^-t by at most
                // their size, a reduced table is within one step of its format; the table, reciprocal
                // and output roundings add a few output steps.
                double expError = sm.exp() instanceof ExpTable.Plain p ? Math.scalb(1.0, -p.lut().indexFrac()) : sm.exp().out().step();
                double bound = expError + in.step() + 3 * q.outputFormat().step();
                double err = maxError(q, xs);
                assertTrue(err <= bound, s + " axis " + c[1] + " at " + cfg.actBits() + " bits, LUT " + sm.exp() + ": " + err + " > " + bound);
                // Probabilities of one vector sum to 1 within n output steps.
                if (s.rank() == 1) {
                    for (double[] x : xs) {
                        double sum = Arrays.stream(IntegerInterpreter.runReal(q, x)).sum();
                        assertEquals(1.0, sum, s.size() * q.outputFormat().step() + bound, "sum");
                    }
                }
            }
        }
    }

    @Test
    void softmaxIsAsAccurateUnderANarrowLutIndexAsWithTheInputAsIndex() {
        // A 10-bit index cannot hold a plain table of 16-bit distances: the reduced table takes over
        // and is as close as the plain table indexed by the whole input (64K entries).
        Graph g = single(new Op.Softmax(0), Shape.of(10));
        List<double[]> xs = samples(g.inputShape(), 30, 3);
        QuantizedGraph capped = quantize(g, xs, Q16.withLutIndexBits(10));
        QuantizedGraph wide = quantize(g, xs, Q16.withLutIndexBits(16));
        assertTrue(((QOp.QSoftmax) capped.op("op")).exp() instanceof ExpTable.Reduced, capped.op("op").toString());
        assertTrue(((QOp.QSoftmax) wide.op("op")).exp() instanceof ExpTable.Plain, wide.op("op").toString());
        double coarse = maxError(capped, xs);
        double fine = maxError(wide, xs);
        assertTrue(Math.abs(coarse - fine) <= capped.outputFormat().step(), coarse + " vs " + fine);
        assertTrue(coarse < 1e-3, "16-bit softmax with a 10-bit index cap: " + coarse);
    }

    @Test
    void poolsAreExactAndClose() {
        Object[][] cases = {
            {new Op.MaxPool(Window.pool(2, 2)), Shape.of(3, 6, 6)},
            {new Op.MaxPool(window(new int[] {3, 3}, 2, 1)), Shape.of(2, 7, 7)},
            {new Op.AvgPool(Window.pool(2, 2), false), Shape.of(3, 6, 6)},
            {new Op.AvgPool(window(new int[] {3, 3}, 1, 1), false), Shape.of(2, 5, 5)}, // counts 4, 6, 9
            {new Op.AvgPool(window(new int[] {3, 3}, 1, 1), true), Shape.of(2, 5, 5)},
            {new Op.AvgPool(window(new int[] {3}, 2, 1), false), Shape.of(2, 9)},
            {new Op.MaxPool(Window.pool(3)), Shape.of(2, 9)},
            {new Op.GlobalAvgPool(), Shape.of(4, 3, 3)},
            {new Op.GlobalAvgPool(), Shape.of(4, 5)},
        };
        for (Object[] c : cases) {
            Op op = (Op) c[0];
            Shape s = (Shape) c[1];
            Graph g = single(op, s);
            List<double[]> xs = samples(s, 15, 2);
            for (QuantConfig cfg : List.of(Q16, Q8)) {
                QuantizedGraph q = quantize(g, xs, cfg);
                assertBitExact(q, xs);
                // Averages: input rounding, the reciprocal's relative error (< 2^-13 at 16 constant
                // bits) on a sum no larger than the input range, output rounding.
                double bound = q.inputFormat().step() / 2 + q.outputFormat().step() / 2 + q.inputFormat().maxReal() * 0x1p-12 + 1e-12;
                assertTrue(maxError(q, xs) <= bound, op + " " + s + ": " + maxError(q, xs) + " > " + bound);
            }
        }
    }

    @Test
    void dilatedAndLongEndPaddedWindowsAreExact() {
        Window dil = new Window(new int[] {3, 2}, new int[] {1, 2}, new int[] {2, 1}, new int[] {1, 0}, new int[] {2, 3});
        // ceil mode as the ONNX reader writes it: end padding up to the window's span less one
        Window ceil = new Window(new int[] {3, 3}, new int[] {2, 2}, new int[] {0, 1}, new int[] {2, 1});
        Object[][] cases = {
            {new Op.Conv(randn(0.7, 3, 2, 3, 2), randn(0.3, 3), dil, 1), Shape.of(2, 7, 9)},
            {new Op.Conv(randn(0.7, 4, 2, 3, 2), randn(0.3, 4), dil, 2), Shape.of(4, 7, 9)},
            {new Op.MaxPool(dil), Shape.of(2, 7, 9)},
            {new Op.AvgPool(dil, false), Shape.of(2, 7, 9)},
            {new Op.MaxPool(ceil), Shape.of(2, 6, 6)},
            {new Op.AvgPool(ceil, false), Shape.of(2, 6, 6)},
            {new Op.Conv(randn(0.7, 2, 2, 3), randn(0.3, 2), new Window(new int[] {3}, new int[] {2}, new int[] {2}, new int[] {1},
                    new int[] {3}), 1), Shape.of(2, 12)},
        };
        for (Object[] c : cases) {
            Graph g = single((Op) c[0], (Shape) c[1]);
            List<double[]> xs = samples((Shape) c[1], 10, 1.5);
            for (QuantConfig cfg : List.of(Q16, Q8)) {
                assertBitExact(quantize(g, xs, cfg), xs);
            }
        }
    }

    @Test
    void averagePoolReciprocalsFollowThePaddingCounts() {
        Graph g = single(new Op.AvgPool(window(new int[] {3, 3}, 1, 1), false), Shape.of(1, 4, 4));
        QuantizedGraph q = quantize(g, samples(g.inputShape(), 5, 1), Q8);
        QOp.QAvgPool p = (QOp.QAvgPool) q.op("op");
        assertArrayEquals(new int[] {4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4}, p.counts());
        assertEquals(16, p.recipBits());
        for (int pos = 0; pos < 16; pos++) {
            assertEquals(Fixed.reciprocalRound(p.count(pos), p.recipFrac()), p.recip(pos));
        }
        // 1/4 at 16 bits: frac 16 (16384 = 0.25 * 2^16 uses 15 bits + sign).
        assertEquals(16, p.recipFrac());
    }

    @Test
    void addAlignsOperandsOfDifferentFormats() {
        // y = x + 5x: the operands get formats two fracs apart.
        Shape s = Shape.of(3, 4);
        List<Node> nodes = List.of(new Node("scale", new Op.Affine(Tensor.of(Shape.of(3), 5, 5, 5), Tensor.of(Shape.of(3), 0, 0, 0)), "x", "a"),
                new Node("add", new Op.Add(), List.of("x", "a"), "y"));
        Graph g = new Graph("t", "x", s, nodes, "y");
        List<double[]> xs = samples(s, 20, 1);
        for (QuantConfig cfg : List.of(Q16, Q8)) {
            QuantizedGraph q = quantize(g, xs, cfg);
            QOp.QAdd add = (QOp.QAdd) q.op("add");
            assertEquals(Math.max(add.a().frac(), add.b().frac()), add.frac());
            assertTrue(add.shiftA() > 0 || add.shiftB() > 0, "formats differ: " + add);
            assertBitExact(q, xs);
            double bound = 6 * q.inputFormat().step() + q.format("a").step() + q.outputFormat().step();
            assertTrue(maxError(q, xs) <= bound, maxError(q, xs) + " > " + bound);
        }
    }

    @Test
    void smallCnnChainIsBitExactAtEveryValueAndCloseAtSixteenBits() {
        Shape in = Shape.of(2, 8, 8);
        List<Node> nodes = List.of(
                new Node("conv1", new Op.Conv(randn(0.5, 4, 2, 3, 3), randn(0.2, 4), window(new int[] {3, 3}, 1, 1), 1), "x", "c1"),
                new Node("relu1", new Op.Relu(), "c1", "r1"),
                new Node("dw", new Op.Conv(randn(0.5, 4, 1, 3, 3), randn(0.2, 4), window(new int[] {3, 3}, 1, 1), 4), "r1", "d"),
                new Node("bn", new Op.Affine(randn(1, 4), randn(0.5, 4)), "d", "b"),
                new Node("add", new Op.Add(), List.of("r1", "b"), "s"),
                new Node("clip", new Op.Clip(0, 6), "s", "c"),
                new Node("pool", new Op.MaxPool(Window.pool(2, 2)), "c", "p"),
                new Node("avg", new Op.AvgPool(Window.pool(2, 2), false), "p", "a"),
                new Node("leaky", new Op.LeakyRelu(0.1), "a", "l"),
                new Node("tanh", new Op.Tanh(), "l", "t"),
                new Node("flat", new Op.Flatten(), "t", "f"),
                new Node("fc", new Op.Dense(randn(0.5, 5, 16), randn(0.2, 5)), "f", "z"),
                new Node("sig", new Op.Sigmoid(), "z", "sg"),
                new Node("reshape", new Op.Reshape(Shape.of(5, 1)), "sg", "rs"),
                new Node("gap", new Op.GlobalAvgPool(), "rs", "g"),
                new Node("flat2", new Op.Flatten(), "g", "f2"),
                new Node("softmax", new Op.Softmax(0), "f2", "y"));
        Graph g = new Graph("chain", "x", in, nodes, "y");
        List<double[]> xs = samples(in, 20, 1);
        for (QuantConfig cfg : List.of(Q16, Q8, Q8.withPercentile(99.9))) {
            assertBitExact(quantize(g, xs, cfg), xs);
        }
        QuantizedGraph q = quantize(g, xs, Q16);
        QuantErrorReport r = QuantErrorReport.measure(q, xs);
        for (QuantErrorReport.LayerError l : r.layers()) {
            if (l.value().equals("s")) {
                // The sum is narrowed to the clip's range: it saturates by design, the clip hides it.
                assertTrue(l.saturated() > 0, l.toString());
                continue;
            }
            double range = q.range(l.value());
            assertTrue(l.maxAbsError() <= 0.01 * Math.max(range, 1e-3) || l.maxAbsError() <= 1e-3, l + " range " + range);
        }
    }

    /** Inputs at the format's extremes, signed like each weight, drive every accumulator to its bound. */
    @Test
    void accumulatorsHoldTheWorstCaseAndAreTight() {
        for (QuantConfig cfg : List.of(Q8, Q16, Q8.withBits(3, 14), QuantConfig.defaults().withBits(24, 24))) {
            for (int t = 0; t < 10; t++) {
                int nIn = 1 + rnd.nextInt(64);
                int nOut = 1 + rnd.nextInt(6);
                Graph g = single(new Op.Dense(randn(1, nOut, nIn), randn(3, nOut)), Shape.of(nIn));
                QuantizedGraph q = quantize(g, samples(g.inputShape(), 10, 1 + rnd.nextDouble() * 10), cfg);
                QOp.QDense d = (QOp.QDense) q.op("op");
                QFormat in = d.in();
                int widest = 0;
                for (int o = 0; o < nOut; o++) {
                    for (int sign : new int[] {1, -1}) {
                        long[] x = new long[nIn];
                        long acc = d.bias(o);
                        long sumOnly = 0;
                        for (int i = 0; i < nIn; i++) {
                            long w = d.weight().at(o * nIn + i);
                            x[i] = (w >= 0) == (sign > 0) ? in.max() : in.min();
                            acc += w * x[i];
                            sumOnly += w * x[i];
                        }
                        IntegerInterpreter.run(q, x); // checks every accumulator against accBits
                        widest = Math.max(widest, Math.max(Fixed.bitsFor(Math.min(acc, 0), Math.max(acc, 0)),
                                Fixed.bitsFor(Math.min(sumOnly, 0), Math.max(sumOnly, 0))));
                    }
                }
                assertEquals(d.accBits(), widest, "accumulator width is the exact worst case");
                assertTrue(d.accBits() <= Fixed.accumulatorBits(d.weight().bits(), in.bits(), nIn)
                        || Arrays.stream(d.bias()).anyMatch(b -> Fixed.bitsFor(Math.min(b, 0), Math.max(b, 0)) > d.productBits()),
                        "within the generic bound unless the bias alone is wider than a product");
            }
        }
    }
}
