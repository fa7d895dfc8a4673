package io.streamfold.quant;

import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Window;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A second, deliberately naive implementation of the integer semantics, for tests: arbitrary
 * precision (BigInteger/BigDecimal) arithmetic, rounding written as {@code floor(v + 1/2)} on exact
 * rationals, its own loops over windows. It reads only the records' constants, never
 * {@link Fixed}, so the two implementations can disagree if either is wrong.
 */
final class BigRef {

    private BigRef() {
    }

    /** {@code clamp(floor(acc * 2^-(fracIn - out.frac) + 1/2))} on exact rationals. */
    static long requantize(BigInteger acc, int fracIn, QFormat out) {
        int s = fracIn - out.frac();
        BigDecimal v = new BigDecimal(acc);
        v = s >= 0 ? v.divide(BigDecimal.valueOf(2).pow(s)) : v.multiply(BigDecimal.valueOf(2).pow(-s));
        BigInteger r = v.add(new BigDecimal("0.5")).setScale(0, RoundingMode.FLOOR).toBigIntegerExact();
        return clamp(r, out.bits());
    }

    static long clamp(BigInteger v, int bits) {
        BigInteger max = BigInteger.ONE.shiftLeft(bits - 1).subtract(BigInteger.ONE);
        BigInteger min = BigInteger.ONE.shiftLeft(bits - 1).negate();
        return v.max(min).min(max).longValueExact();
    }

    static BigInteger big(long v) {
        return BigInteger.valueOf(v);
    }

    static Map<String, long[]> runAll(QuantizedGraph q, long[] input) {
        Graph g = q.graph();
        Map<String, long[]> values = new LinkedHashMap<>();
        values.put(g.input(), input);
        for (Node n : g.nodes()) {
            List<long[]> ins = new ArrayList<>();
            for (String v : n.inputs()) {
                ins.add(values.get(v));
            }
            values.put(n.output(), eval(q.op(n.name()), g.shape(n.input()), ins, g.shape(n.output())));
        }
        return values;
    }

    static long[] eval(QOp op, Shape xs, List<long[]> ins, Shape ys) {
        long[] x = ins.get(0);
        long[] y = new long[ys.size()];
        if (op instanceof QOp.QDense d) {
            int n = d.inFeatures();
            for (int o = 0; o < d.outFeatures(); o++) {
                BigInteger acc = big(d.bias(o));
                for (int i = 0; i < n; i++) {
                    acc = acc.add(big(d.weight().at(o * n + i)).multiply(big(x[i])));
                }
                y[o] = requantize(acc, d.weight().frac(o) + d.in().frac(), d.out());
            }
        } else if (op instanceof QOp.QConv c) {
            conv(c, xs, x, ys, y);
        } else if (op instanceof QOp.QAffine a) {
            int per = xs.perChannel();
            for (int i = 0; i < y.length; i++) {
                int ch = i / per;
                BigInteger acc = big(x[i]).multiply(big(a.scale().at(ch))).add(big(a.shift(ch)));
                y[i] = requantize(acc, a.scale().frac(ch) + a.in().frac(), a.out());
            }
        } else if (op instanceof QOp.QRelu r) {
            for (int i = 0; i < y.length; i++) {
                y[i] = requantize(big(Math.max(0, x[i])), r.in().frac(), r.out());
            }
        } else if (op instanceof QOp.QLeakyRelu l) {
            for (int i = 0; i < y.length; i++) {
                y[i] = x[i] >= 0 ? requantize(big(x[i]), l.in().frac(), l.out())
                        : requantize(big(x[i]).multiply(big(l.alpha())), l.in().frac() + l.alphaFrac(), l.out());
            }
        } else if (op instanceof QOp.QPRelu p) {
            int per = xs.perChannel();
            for (int i = 0; i < y.length; i++) {
                y[i] = x[i] >= 0 ? requantize(big(x[i]), p.in().frac(), p.out())
                        : requantize(big(x[i]).multiply(big(p.alpha(i / per))), p.in().frac() + p.alphaFrac(), p.out());
            }
        } else if (op instanceof QOp.QClip c) {
            for (int i = 0; i < y.length; i++) {
                y[i] = Math.max(c.lo(), Math.min(c.hi(), requantize(big(x[i]), c.in().frac(), c.out())));
            }
        } else if (op instanceof QOp.QLut l) {
            for (int i = 0; i < y.length; i++) {
                y[i] = lut(l.lut(), x[i], l.in().frac());
            }
        } else if (op instanceof QOp.QSoftmax s) {
            softmax(s, xs, x, y);
        } else if (op instanceof QOp.QMaxPool p) {
            pool(p.window(), xs, x, ys, y, true, false, p.in(), p.out(), null);
        } else if (op instanceof QOp.QAvgPool p) {
            pool(p.window(), xs, x, ys, y, false, p.countIncludePad(), p.in(), p.out(), p);
        } else if (op instanceof QOp.QGlobalAvgPool p) {
            int per = xs.perChannel();
            for (int ch = 0; ch < xs.channels(); ch++) {
                BigInteger sum = BigInteger.ZERO;
                for (int i = 0; i < per; i++) {
                    sum = sum.add(big(x[ch * per + i]));
                }
                y[ch] = requantize(sum.multiply(big(p.recip())), p.in().frac() + p.recipFrac(), p.out());
            }
        } else if (op instanceof QOp.QFlatten || op instanceof QOp.QReshape) {
            for (int i = 0; i < y.length; i++) {
                y[i] = requantize(big(x[i]), op.inputs().get(0).frac(), op.out());
            }
        } else if (op instanceof QOp.QAdd a) {
            long[] z = ins.get(1);
            for (int i = 0; i < y.length; i++) {
                // Exact rational sum, then one rounding: the same as aligning by left shifts.
                BigInteger acc = big(x[i]).shiftLeft(a.frac() - a.a().frac()).add(big(z[i]).shiftLeft(a.frac() - a.b().frac()));
                y[i] = requantize(acc, a.frac(), a.out());
            }
        } else {
            throw new IllegalStateException(op.kind());
        }
        return y;
    }

    /** The table entry for an input: index by exact rounding and clamping, address by two's complement. */
    static long lut(Lut l, long x, int fracIn) {
        if (l.interpolates()) {
            // the linear interpolation between the entries around x, rounded once
            int s = l.interpBits();
            BigInteger c = big(x).max(big(l.indexMin()).shiftLeft(s)).min(big(l.indexMax() + 1).shiftLeft(s).subtract(BigInteger.ONE));
            BigInteger i = c.shiftRight(s);
            BigInteger r = c.subtract(i.shiftLeft(s));
            int a = (int) (i.longValueExact() & (l.size() - 1));
            BigInteger next = big(l.table()[a] + l.slopes()[a]);
            BigInteger acc = big(l.table()[a]).shiftLeft(s).add(next.subtract(big(l.table()[a])).multiply(r));
            return requantize(acc, l.entry().frac() + s, l.out());
        }
        BigInteger lo = big(l.indexMin());
        BigInteger hi = big(l.indexMax());
        int s = fracIn - l.indexFrac();
        BigDecimal v = new BigDecimal(big(x));
        v = s >= 0 ? v.divide(BigDecimal.valueOf(2).pow(s)) : v.multiply(BigDecimal.valueOf(2).pow(-s));
        BigInteger idx = v.add(new BigDecimal("0.5")).setScale(0, RoundingMode.FLOOR).toBigIntegerExact().max(lo).min(hi);
        long a = idx.signum() < 0 ? idx.add(BigInteger.ONE.shiftLeft(l.indexBits())).longValueExact() : idx.longValueExact();
        return l.table()[(int) a];
    }

    /**
     * Softmax's {@code e^-t}: a plain table as {@link #lut}; a reduced one as its class comment
     * states it, on exact integers: 0 past the reduction table, else reduce by {@code k ln 2},
     * interpolate, one rounding.
     */
    static long exp(ExpTable e, long t) {
        if (e instanceof ExpTable.Plain p) {
            return lut(p.lut(), t, p.inFrac());
        }
        ExpTable.Reduced r = (ExpTable.Reduced) e;
        BigInteger c = big(t);
        BigInteger cell = c.shiftRight(r.reduceShift());
        if (cell.compareTo(big(r.reductions())) >= 0) {
            return 0;
        }
        int j = cell.intValueExact();
        BigInteger red = c.shiftLeft(r.rFrac() - r.inFrac()).subtract(big(r.offset()[j]));
        BigInteger unit = BigInteger.ONE.shiftLeft(r.interpBits());
        BigInteger[] im = red.divideAndRemainder(unit);
        int i = im[0].intValueExact();
        BigInteger acc = big(r.value()[i]).multiply(unit).add(big(r.slope()[i]).multiply(im[1]));
        return requantize(acc, r.out().frac() + Lut.GUARD_BITS + r.interpBits() + r.shift()[j], r.out());
    }

    private static void softmax(QOp.QSoftmax s, Shape xs, long[] x, long[] y) {
        int n = xs.dim(s.axis());
        int inner = 1;
        for (int i = s.axis() + 1; i < xs.rank(); i++) {
            inner *= xs.dim(i);
        }
        int outer = xs.size() / (n * inner);
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < inner; j++) {
                long m = Long.MIN_VALUE;
                for (int k = 0; k < n; k++) {
                    m = Math.max(m, x[(o * n + k) * inner + j]);
                }
                long[] e = new long[n];
                BigInteger sum = BigInteger.ZERO;
                for (int k = 0; k < n; k++) {
                    e[k] = exp(s.exp(), m - x[(o * n + k) * inner + j]);
                    sum = sum.add(big(e[k]));
                }
                BigInteger r = BigInteger.ONE.shiftLeft(s.recipShift()).divide(sum);
                for (int k = 0; k < n; k++) {
                    y[(o * n + k) * inner + j] = requantize(big(e[k]).multiply(r), s.recipShift(), s.out());
                }
            }
        }
    }

    private static void conv(QOp.QConv c, Shape xs, long[] x, Shape ys, long[] y) {
        boolean two = c.window().rank() == 2;
        int inH = two ? xs.dim(1) : 1;
        int inW = two ? xs.dim(2) : xs.dim(1);
        int outH = two ? ys.dim(1) : 1;
        int outW = two ? ys.dim(2) : ys.dim(1);
        Window w = c.window();
        int kh = two ? w.kernel(0) : 1;
        int kw = w.kernel(two ? 1 : 0);
        int cin = c.weight().shape().dim(1);
        int perGroupOut = c.outChannels() / c.group();
        for (int o = 0; o < c.outChannels(); o++) {
            for (int oy = 0; oy < outH; oy++) {
                for (int ox = 0; ox < outW; ox++) {
                    BigInteger acc = big(c.bias(o));
                    for (int ci = 0; ci < cin; ci++) {
                        int ic = (o / perGroupOut) * cin + ci;
                        for (int ky = 0; ky < kh; ky++) {
                            for (int kx = 0; kx < kw; kx++) {
                                int iy = two ? oy * w.stride(0) - w.padBegin(0) + ky * w.dilation(0) : 0;
                                int ix = ox * w.stride(two ? 1 : 0) - w.padBegin(two ? 1 : 0) + kx * w.dilation(two ? 1 : 0);
                                if (iy >= 0 && iy < inH && ix >= 0 && ix < inW) {
                                    long wv = c.weight().at(((o * cin + ci) * kh + ky) * kw + kx);
                                    acc = acc.add(big(wv).multiply(big(x[(ic * inH + iy) * inW + ix])));
                                }
                            }
                        }
                    }
                    y[(o * outH + oy) * outW + ox] = requantize(acc, c.weight().frac(o) + c.in().frac(), c.out());
                }
            }
        }
    }

    private static void pool(Window w, Shape xs, long[] x, Shape ys, long[] y, boolean max, boolean countPad, QFormat in,
                             QFormat out, QOp.QAvgPool avg) {
        boolean two = w.rank() == 2;
        int inH = two ? xs.dim(1) : 1;
        int inW = two ? xs.dim(2) : xs.dim(1);
        int outH = two ? ys.dim(1) : 1;
        int outW = two ? ys.dim(2) : ys.dim(1);
        int kh = two ? w.kernel(0) : 1;
        int kw = w.kernel(two ? 1 : 0);
        for (int ch = 0; ch < xs.channels(); ch++) {
            for (int oy = 0; oy < outH; oy++) {
                for (int ox = 0; ox < outW; ox++) {
                    BigInteger acc = null;
                    int count = 0;
                    for (int ky = 0; ky < kh; ky++) {
                        for (int kx = 0; kx < kw; kx++) {
                            int iy = two ? oy * w.stride(0) - w.padBegin(0) + ky * w.dilation(0) : 0;
                            int ix = ox * w.stride(two ? 1 : 0) - w.padBegin(two ? 1 : 0) + kx * w.dilation(two ? 1 : 0);
                            if (iy >= 0 && iy < inH && ix >= 0 && ix < inW) {
                                BigInteger v = big(x[(ch * inH + iy) * inW + ix]);
                                acc = acc == null ? v : max ? acc.max(v) : acc.add(v);
                                count++;
                            }
                        }
                    }
                    int at = (ch * outH + oy) * outW + ox;
                    if (max) {
                        y[at] = requantize(acc, in.frac(), out);
                    } else {
                        int n = countPad ? kh * kw : count;
                        if (n != avg.count(oy * outW + ox)) {
                            throw new AssertionError("count " + n + " at " + (oy * outW + ox) + ", record says " + avg.count(oy * outW + ox));
                        }
                        y[at] = requantize(acc.multiply(big(avg.recip(oy * outW + ox))), in.frac() + avg.recipFrac(), out);
                    }
                }
            }
        }
    }
}
