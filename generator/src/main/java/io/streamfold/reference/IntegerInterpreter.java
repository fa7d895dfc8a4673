package io.streamfold.reference;

import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Window;
import io.streamfold.quant.Fixed;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QOp;
import io.streamfold.quant.QuantizedGraph;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a quantized graph bit-true in integers, one sample at a time: the golden model the RTL and
 * the cycle-accurate simulator must match bit for bit.
 *
 * <p>All arithmetic is the per-element arithmetic of the {@link QOp} records (which use only
 * {@link Fixed} and {@link QFormat}); this class only walks the windows and channels, in the same
 * geometry as {@link FloatInterpreter}. Sums are exact, so their order does not matter; each
 * accumulator is checked against its record's width, so a width bug fails here first.
 */
public final class IntegerInterpreter {

    private IntegerInterpreter() {
    }

    /** The graph output (integers in the output format) for one input in the input format. */
    public static long[] run(QuantizedGraph q, long[] input) {
        return runAll(q, input).get(q.graph().output());
    }

    /** Every value (input first, then each node's output) for one sample. */
    public static Map<String, long[]> runAll(QuantizedGraph q, long[] input) {
        Graph g = q.graph();
        if (input.length != g.inputShape().size()) {
            throw new IllegalArgumentException("input has " + input.length + " values, graph " + g.name() + " expects " + g.inputShape());
        }
        QFormat inFmt = q.inputFormat();
        for (int i = 0; i < input.length; i++) {
            if (!inFmt.contains(input[i])) {
                throw new IllegalArgumentException("input[" + i + "] = " + input[i] + " is outside " + inFmt);
            }
        }
        Map<String, long[]> values = new LinkedHashMap<>();
        values.put(g.input(), input.clone());
        for (Node n : g.nodes()) {
            List<long[]> ins = new ArrayList<>();
            for (String v : n.inputs()) {
                ins.add(values.get(v));
            }
            values.put(n.output(), eval(q.op(n.name()), g.shape(n.input()), ins, g.shape(n.output())));
        }
        return values;
    }

    /** Quantizes a float input to the graph's input format. */
    public static long[] quantizeInput(QuantizedGraph q, double[] x) {
        return quantize(q.inputFormat(), x);
    }

    /** {@code f.quantize} of every element. */
    public static long[] quantize(QFormat f, double[] x) {
        long[] v = new long[x.length];
        for (int i = 0; i < x.length; i++) {
            v[i] = f.quantize(x[i]);
        }
        return v;
    }

    /** {@code f.toDouble} of every element. */
    public static double[] dequantize(QFormat f, long[] v) {
        double[] x = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            x[i] = f.toDouble(v[i]);
        }
        return x;
    }

    /** Quantizes a float input, runs the graph in integers and returns the output as reals. */
    public static double[] runReal(QuantizedGraph q, double[] x) {
        return dequantize(q.outputFormat(), run(q, quantizeInput(q, x)));
    }

    /** Applies one integer op; {@code x} is the shape of the first input, {@code y} the output shape. */
    public static long[] eval(QOp op, Shape x, List<long[]> ins, Shape y) {
        long[] in = ins.get(0);
        long[] out = new long[y.size()];
        op.accept(new QOp.Visitor<Void>() {
            @Override
            public Void dense(QOp.QDense d) {
                int nIn = d.inFeatures();
                for (int o = 0; o < d.outFeatures(); o++) {
                    long acc = d.bias(o);
                    for (int i = 0; i < nIn; i++) {
                        acc += d.weight().at(o * nIn + i) * in[i];
                    }
                    out[o] = d.finish(o, checked(acc, d.accBits()));
                }
                return null;
            }

            @Override
            public Void conv(QOp.QConv c) {
                IntegerInterpreter.conv(c, x, in, y, out);
                return null;
            }

            @Override
            public Void elementwise(QOp.QElementwise e) {
                int per = x.perChannel();
                for (int i = 0; i < out.length; i++) {
                    out[i] = e.apply(e.perChannel() ? i / per : 0, in[i]);
                }
                return null;
            }

            @Override
            public Void softmax(QOp.QSoftmax s) {
                IntegerInterpreter.softmax(s, x, in, out);
                return null;
            }

            @Override
            public Void maxPool(QOp.QMaxPool p) {
                pool(p.window(), x, in, y, out, (pos, count, acc) -> p.finish(acc), true, false);
                return null;
            }

            @Override
            public Void avgPool(QOp.QAvgPool p) {
                pool(p.window(), x, in, y, out, (pos, count, sum) -> {
                    if (count != p.count(pos)) {
                        throw new IllegalStateException("window " + pos + " averages " + count + " elements, its reciprocal is for "
                                + p.count(pos));
                    }
                    return p.finish(pos, checked(sum, p.sumBits()));
                }, false, p.countIncludePad());
                return null;
            }

            @Override
            public Void globalAvgPool(QOp.QGlobalAvgPool p) {
                int per = x.perChannel();
                for (int ch = 0; ch < x.channels(); ch++) {
                    long s = 0;
                    for (int i = ch * per; i < (ch + 1) * per; i++) {
                        s += in[i];
                    }
                    out[ch] = p.finish(checked(s, p.sumBits()));
                }
                return null;
            }

            @Override
            public Void add(QOp.QAdd a) {
                long[] other = ins.get(1);
                for (int i = 0; i < out.length; i++) {
                    out[i] = a.finish(checked(a.sum(in[i], other[i]), a.sumBits()));
                }
                return null;
            }
        });
        return out;
    }

    /** Fails if an accumulator leaves the width the quantizer sized for it (a quantizer bug). */
    private static long checked(long acc, int bits) {
        if (Fixed.saturate(acc, bits) != acc) {
            throw new IllegalStateException("accumulator " + acc + " overflows its " + bits + " bits");
        }
        return acc;
    }

    private static void conv(QOp.QConv c, Shape x, long[] in, Shape y, long[] out) {
        WindowTable t = WindowTable.of(c.window(), x, y);
        int cinG = c.weight().shape().dim(1);
        int coutG = c.outChannels() / c.group();
        int k = t.size();
        for (int o = 0; o < c.outChannels(); o++) {
            int grp = o / coutG;
            for (int pos = 0; pos < t.positions(); pos++) {
                long acc = c.bias(o);
                for (int ci = 0; ci < cinG; ci++) {
                    int base = (grp * cinG + ci) * t.pixels();
                    for (int j = 0; j < k; j++) {
                        int off = t.offset(pos, j);
                        if (off >= 0) {
                            acc += c.weight().at((o * cinG + ci) * k + j) * in[base + off];
                        }
                    }
                }
                out[o * t.positions() + pos] = c.finish(o, checked(acc, c.accBits()));
            }
        }
    }

    /** What a pooling stage does with a window's max or sum at output position {@code pos}. */
    private interface PoolFinish {
        long apply(int pos, int count, long acc);
    }

    private static void pool(Window win, Shape x, long[] in, Shape y, long[] out, PoolFinish finish, boolean max,
                             boolean countPad) {
        WindowTable t = WindowTable.of(win, x, y);
        for (int ch = 0; ch < y.channels(); ch++) {
            for (int pos = 0; pos < t.positions(); pos++) {
                long acc = max ? Long.MIN_VALUE : 0;
                for (int j = 0; j < t.size(); j++) {
                    int off = t.offset(pos, j);
                    if (off >= 0) {
                        long v = in[ch * t.pixels() + off];
                        acc = max ? Math.max(acc, v) : acc + v;
                    }
                }
                out[ch * t.positions() + pos] = finish.apply(pos, countPad ? t.size() : t.count(pos), acc);
            }
        }
    }

    private static void softmax(QOp.QSoftmax s, Shape x, long[] in, long[] out) {
        int axis = s.axis();
        int n = x.dim(axis);
        int inner = 1;
        for (int i = axis + 1; i < x.rank(); i++) {
            inner *= x.dim(i);
        }
        int outer = x.size() / (n * inner);
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < inner; j++) {
                int base = o * n * inner + j;
                long m = Long.MIN_VALUE;
                for (int k = 0; k < n; k++) {
                    m = Math.max(m, in[base + k * inner]);
                }
                long sum = 0;
                for (int k = 0; k < n; k++) {
                    long e = s.exp(m, in[base + k * inner]);
                    out[base + k * inner] = e;
                    sum += e;
                }
                long r = s.reciprocal(checked(sum, s.sumBits()));
                for (int k = 0; k < n; k++) {
                    out[base + k * inner] = s.prob(out[base + k * inner], r);
                }
            }
        }
    }
}
