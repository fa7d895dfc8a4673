package io.streamfold.reference;

import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Window;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a graph in float64, one sample at a time: the reference every other result is measured
 * against. BatchNormalization is computed with its original formula, not as a folded affine, so
 * that the reference of the original graph is independent of the folding pass.
 */
public final class FloatInterpreter {

    private FloatInterpreter() {
    }

    /** The graph output for one input sample (flat, channels-first). */
    public static double[] run(Graph g, double[] input) {
        return runAll(g, input).get(g.output());
    }

    /** Every value of the graph (input first, then each node's output in order) for one sample. */
    public static Map<String, double[]> runAll(Graph g, double[] input) {
        if (input.length != g.inputShape().size()) {
            throw new IllegalArgumentException("input has " + input.length + " values, graph " + g.name() + " expects " + g.inputShape());
        }
        Map<String, double[]> values = new LinkedHashMap<>();
        values.put(g.input(), input);
        for (Node n : g.nodes()) {
            List<double[]> ins = new ArrayList<>();
            for (String v : n.inputs()) {
                ins.add(values.get(v));
            }
            values.put(n.output(), eval(n.op(), g.shape(n.input()), ins, g.shape(n.output())));
        }
        return values;
    }

    /** Applies one op; {@code x} is the shape of the first input, {@code y} the output shape. */
    public static double[] eval(Op op, Shape x, List<double[]> ins, Shape y) {
        double[] in = ins.get(0);
        double[] out = new double[y.size()];
        op.accept(new Op.Visitor<Void>() {
            @Override
            public Void dense(Op.Dense d) {
                int nIn = d.inFeatures();
                for (int o = 0; o < d.outFeatures(); o++) {
                    double acc = d.bias().at(o);
                    for (int i = 0; i < nIn; i++) {
                        acc += d.weight().at(o * nIn + i) * in[i];
                    }
                    out[o] = acc;
                }
                return null;
            }

            @Override
            public Void conv(Op.Conv c) {
                FloatInterpreter.conv(c, x, in, y, out);
                return null;
            }

            @Override
            public Void batchNorm(Op.BatchNorm bn) {
                int per = x.perChannel();
                for (int ch = 0; ch < bn.channels(); ch++) {
                    double sd = Math.sqrt(bn.var().at(ch) + bn.eps());
                    for (int i = ch * per; i < (ch + 1) * per; i++) {
                        out[i] = bn.gamma().at(ch) * (in[i] - bn.mean().at(ch)) / sd + bn.beta().at(ch);
                    }
                }
                return null;
            }

            @Override
            public Void affine(Op.Affine a) {
                int per = x.perChannel();
                for (int ch = 0; ch < a.channels(); ch++) {
                    for (int i = ch * per; i < (ch + 1) * per; i++) {
                        out[i] = a.scale().at(ch) * in[i] + a.shift().at(ch);
                    }
                }
                return null;
            }

            @Override
            public Void prelu(Op.PRelu p) {
                int per = x.perChannel();
                for (int i = 0; i < out.length; i++) {
                    out[i] = p.apply(i / per, in[i]);
                }
                return null;
            }

            @Override
            public Void pointwise(Op.Pointwise p) {
                for (int i = 0; i < out.length; i++) {
                    out[i] = p.apply(in[i]);
                }
                return null;
            }

            @Override
            public Void softmax(Op.Softmax s) {
                FloatInterpreter.softmax(s.axis(), x, in, out);
                return null;
            }

            @Override
            public Void maxPool(Op.MaxPool p) {
                pool(p.window(), true, false, x, in, y, out);
                return null;
            }

            @Override
            public Void avgPool(Op.AvgPool p) {
                pool(p.window(), false, p.countIncludePad(), x, in, y, out);
                return null;
            }

            @Override
            public Void globalAvgPool(Op.GlobalAvgPool gp) {
                int per = x.perChannel();
                for (int ch = 0; ch < x.channels(); ch++) {
                    double s = 0;
                    for (int i = ch * per; i < (ch + 1) * per; i++) {
                        s += in[i];
                    }
                    out[ch] = s / per;
                }
                return null;
            }

            @Override
            public Void flatten(Op.Flatten f) {
                System.arraycopy(in, 0, out, 0, out.length);
                return null;
            }

            @Override
            public Void reshape(Op.Reshape r) {
                System.arraycopy(in, 0, out, 0, out.length);
                return null;
            }

            @Override
            public Void add(Op.Add a) {
                double[] other = ins.get(1);
                for (int i = 0; i < out.length; i++) {
                    out[i] = in[i] + other[i];
                }
                return null;
            }
        });
        return out;
    }

    private static void conv(Op.Conv c, Shape x, double[] in, Shape y, double[] out) {
        WindowTable t = WindowTable.of(c.window(), x, y);
        int cinG = c.inChannelsPerGroup();
        int coutG = c.outChannels() / c.group();
        int k = t.size();
        double[] w = c.weight().data();
        for (int o = 0; o < c.outChannels(); o++) {
            int grp = o / coutG;
            for (int pos = 0; pos < t.positions(); pos++) {
                double acc = c.bias().at(o);
                for (int ci = 0; ci < cinG; ci++) {
                    int base = (grp * cinG + ci) * t.pixels();
                    for (int j = 0; j < k; j++) {
                        int off = t.offset(pos, j);
                        if (off >= 0) {
                            acc += w[(o * cinG + ci) * k + j] * in[base + off];
                        }
                    }
                }
                out[o * t.positions() + pos] = acc;
            }
        }
    }

    private static void pool(Window win, boolean max, boolean countPad, Shape x, double[] in, Shape y, double[] out) {
        WindowTable t = WindowTable.of(win, x, y);
        for (int ch = 0; ch < y.channels(); ch++) {
            for (int pos = 0; pos < t.positions(); pos++) {
                double acc = max ? Double.NEGATIVE_INFINITY : 0;
                for (int j = 0; j < t.size(); j++) {
                    int off = t.offset(pos, j);
                    if (off >= 0) {
                        double v = in[ch * t.pixels() + off];
                        acc = max ? Math.max(acc, v) : acc + v;
                    }
                }
                out[ch * t.positions() + pos] = max ? acc : acc / (countPad ? t.size() : t.count(pos));
            }
        }
    }

    private static void softmax(int axis, Shape x, double[] in, double[] out) {
        int n = x.dim(axis);
        int inner = 1;
        for (int i = axis + 1; i < x.rank(); i++) {
            inner *= x.dim(i);
        }
        int outer = x.size() / (n * inner);
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < inner; j++) {
                int base = o * n * inner + j;
                double m = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < n; k++) {
                    m = Math.max(m, in[base + k * inner]);
                }
                double s = 0;
                for (int k = 0; k < n; k++) {
                    double e = Math.exp(in[base + k * inner] - m);
                    out[base + k * inner] = e;
                    s += e;
                }
                for (int k = 0; k < n; k++) {
                    out[base + k * inner] /= s;
                }
            }
        }
    }
}
