package io.streamfold.bound;

import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.quant.Fixed;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QOp;
import io.streamfold.quant.QWeights;
import io.streamfold.reference.WindowTable;

import java.util.List;
import java.util.Set;

/**
 * The error bound's transfer function of one node: from the {@link ValueBound}s of its inputs to
 * that of its output, per quantized op kind (an exhaustive {@link QOp.Visitor} and
 * {@link QOp.ElementwiseVisitor}, so a new kind is a compile error here). The float parameters
 * (weights before quantization, slopes, clip bounds, the tabulated function) come from the node
 * of the BN-folded float graph, whose kind {@link io.streamfold.quant.QuantizedGraph} has checked.
 *
 * <p>Every transfer follows what the {@link QOp} record computes with {@link Fixed}:
 *
 * <ul>
 * <li><b>Dot products</b> (Dense, Conv): with the exact integer sum, the value before the final
 * rounding is {@code z = bq + sum wq xq}, so {@code z - y = (bq - b) + sum (wq xq - w x)} and each
 * term is bounded by {@code min(|wq| E + |wq - w| max|x|, |w| E + |wq - w| max|xq|)} ({@code E} the
 * input's whole error, weights and bias known exactly). Then the requantization: at most half an
 * output step if it shifts right (round half up), nothing if it shifts left, and saturation to the
 * output format, which is the clamp of the output's invariant.
 * <li><b>Monotone elementwise ops</b> (Relu, Clip, LeakyRelu and PRelu with non-negative slopes,
 * Affine, requantizing Flatten/Reshape, tables of non-decreasing functions): if {@code H} is
 * monotone and {@code |H(v) - f(x)| <= D} whenever {@code |v - x| <= d}, then
 * {@code H(clamp(x + delta, a, b)) = clamp(f(x) + delta', H(a), H(b))} with {@code |delta'| <= D}
 * (inside {@code [a, b]} this is the hypothesis; above it the result {@code H(b) <= H(x + delta)}
 * is reached from {@code f(x)} within {@code D}). So saturation before the op stays a clamp and is
 * not counted in full: a Relu after a value saturated at its negative end loses that error.
 * Saturation to the output format composes with it ({@code clamp_O . clamp_I} is a clamp).
 * <li><b>Tables</b>: {@code |T(xq) - f(x)| <= tau + L |xq - x|}, with {@code tau} the table's
 * largest error over the inputs that can reach it ({@link TableError}) and {@code L} the function's
 * Lipschitz constant ({@link Op.Tabulated#lipschitz}).
 * <li><b>Pools</b>: max is 1-Lipschitz in the sup norm and commutes with a common clamp; averages
 * are {@code rq sum xq} with the exact window sum and the fixed-point reciprocal {@code rq} of the
 * count, so {@code |rq sum xq - sum x / n| <= rq sum E + |rq - 1/n| |sum x|}.
 * <li><b>Add</b>: the operands are aligned by exact left shifts and added exactly: {@code E1 + E2}
 * plus the requantization.
 * <li><b>Softmax</b>: the input error moves probability {@code k} by at most
 * {@code min(1/4, p_k, 1 - p_k) (E_k + max_{j != k} E_j)} (the gradient of {@code p_k} is
 * {@code p_k (e_k - p)}, whose weighted sup norm is {@code p_k (1 - p_k) (E_k + max E_j)}); then
 * the integer softmax of the fixed-point inputs: each exp entry is within {@code tau} of
 * {@code e^-t}, the maximum's entry is exactly 1 so the sum {@code S >= 1}, and
 * {@code |e_k/S - q_k| <= tau + q_k (n - 1) tau}; the reciprocal {@code floor(2^K / S)} is short
 * of {@code 1/S} by less than {@code 2^-rFrac}; the final rounding is half an output step.
 * </ul>
 *
 * <p>Float intervals are interval arithmetic on the box (exact for one affine layer, wider after
 * several). The float64 reference rounds as well: each transfer adds the standard bound
 * {@code 2 (n + 2) 2^-53} times the sum of the magnitudes of the {@code n} terms it adds
 * ({@link #roundoff}), to the interval and to the error; functions computed by the JDK's
 * semi-monotonic {@code Math} routines get a few ulps.
 */
final class Transfer implements QOp.Visitor<ValueBound>, QOp.ElementwiseVisitor<ValueBound> {

    private final Node node;
    private final List<ValueBound> in;
    private final Shape xs;
    private final Shape ys;
    private final double[] rangeLo;
    private final double[] rangeHi;
    private final Set<ErrorBound.Source> sources;

    private Transfer(Node node, List<ValueBound> in, Shape xs, Shape ys, double[] rangeLo, double[] rangeHi,
                     Set<ErrorBound.Source> sources) {
        this.node = node;
        this.in = in;
        this.xs = xs;
        this.ys = ys;
        this.rangeLo = rangeLo;
        this.rangeHi = rangeHi;
        this.sources = sources;
    }

    /**
     * The output bound of {@code node} (integer op {@code op}) from its inputs' bounds;
     * {@code rangeLo}/{@code rangeHi} are tighter float ranges of the output if known (else null).
     */
    static ValueBound apply(Node node, QOp op, List<ValueBound> in, Shape xs, Shape ys, double[] rangeLo, double[] rangeHi,
                            Set<ErrorBound.Source> sources) {
        return op.accept(new Transfer(node, in, xs, ys, rangeLo, rangeHi, sources));
    }

    /** The input value: the input format's rounding and saturation of each box element. */
    static ValueBound input(InputBox box, QFormat f, Set<ErrorBound.Source> sources) {
        ValueBound v = new ValueBound(f, box.size(), null, null);
        for (int i = 0; i < box.size(); i++) {
            double lo = box.lo(i);
            double hi = box.hi(i);
            // quantize(x) = clamp(roundHalfUp(x 2^frac)): delta = the rounding, at most half a step;
            // exactly known for an element that is a single point
            double d = lo == hi ? Math.abs(f.toDouble(Fixed.roundHalfUp(Math.scalb(lo, f.frac()))) - lo) : f.step() / 2;
            d = sources.contains(ErrorBound.Source.INPUT) ? d : 0;
            v.set(i, lo, hi, f.min(), f.max(), d, 0);
        }
        return v;
    }

    // ---------------------------------------------------------------------------------------------
    // helpers

    /**
     * Float64 rounding of a sum of {@code terms} products whose magnitudes add up to
     * {@code magnitude}: {@code gamma_n} with a margin, {@code 2 (n + 2) 2^-53}, plus the
     * smallest normal double for underflow.
     */
    static double roundoff(int terms, double magnitude) {
        return 2.0 * (terms + 2) * 0x1p-53 * magnitude + Double.MIN_NORMAL;
    }

    /** The largest error of a rounding shift by {@code shift} into {@code out}: half a step, or 0 for a left shift. */
    private double rounding(long shift, QFormat out) {
        return shift > 0 && sources.contains(ErrorBound.Source.REQUANTIZATION) ? out.step() / 2 : 0;
    }

    /** {@code |quantized - float|} of a constant (weight, bias, slope, reciprocal), or 0 if constants are not counted. */
    private double constantError(double quantized, double exact) {
        return sources.contains(ErrorBound.Source.WEIGHTS) ? Math.abs(quantized - exact) : 0;
    }

    /** A table's error, or 0 if tables are not counted. */
    private double table(double tau) {
        return sources.contains(ErrorBound.Source.TABLES) ? tau : 0;
    }

    /** {@code a * b} with {@code 0 * inf = 0}: a zero weight contributes an exact zero. */
    private static double mul(double a, double b) {
        return a == 0 || b == 0 ? 0 : a * b;
    }

    /** Interval product {@code w * [lo, hi]}: its lower end. */
    private static double lower(double w, double lo, double hi) {
        return w >= 0 ? mul(w, lo) : mul(w, hi);
    }

    /** Interval product {@code w * [lo, hi]}: its upper end. */
    private static double upper(double w, double lo, double hi) {
        return w >= 0 ? mul(w, hi) : mul(w, lo);
    }

    /** {@code sup |wq xq - w x|} for one product: the better of the two ways to split it. */
    private double productError(double wq, double w, ValueBound x, int i) {
        double e = x.error(i);
        double dw = constantError(wq, w);
        return Math.min(mul(Math.abs(wq), e) + mul(dw, x.magnitude(i)), mul(Math.abs(w), e) + mul(dw, x.fixedMagnitude(i)));
    }

    /** An empty output bound, with the tighter ranges if known. */
    private ValueBound output(QFormat f, int size) {
        return new ValueBound(f, size, rangeLo, rangeHi);
    }

    private int channelOf(QOp.QElementwise op, int i) {
        return op.perChannel() ? i / xs.perChannel() : 0;
    }

    /**
     * Sets element {@code i} of a monotone op's output: the clamp range is the op applied to the
     * input's clamp bounds ({@code op.apply} includes the output saturation), swapped for a
     * non-increasing op.
     */
    private static void monotone(ValueBound y, int i, QOp.QElementwise op, int channel, ValueBound x, boolean increasing,
                                 double lo, double hi, double d, double slack) {
        long ga = op.apply(channel, x.clampLo(i));
        long gb = op.apply(channel, x.clampHi(i));
        y.set(i, lo, hi, increasing ? ga : gb, increasing ? gb : ga, d, slack);
    }

    // ---------------------------------------------------------------------------------------------
    // dot products

    @Override
    public ValueBound dense(QOp.QDense q) {
        Op.Dense f = (Op.Dense) node.op();
        ValueBound x = in.get(0);
        int n = q.inFeatures();
        ValueBound y = output(q.out(), q.outFeatures());
        for (int o = 0; o < q.outFeatures(); o++) {
            double b = f.bias().at(o);
            double ez = constantError(Math.scalb((double) q.bias(o), -q.accFrac(o)), b);
            double lo = b;
            double hi = b;
            double mag = Math.abs(b);
            for (int i = 0; i < n; i++) {
                int wi = o * n + i;
                double w = f.weight().at(wi);
                ez += productError(q.weight().toDouble(wi), w, x, i);
                lo += lower(w, x.lo(i), x.hi(i));
                hi += upper(w, x.lo(i), x.hi(i));
                mag += mul(Math.abs(w), x.magnitude(i));
            }
            y.set(o, lo, hi, q.out().min(), q.out().max(), ez + rounding(q.shift(o), q.out()), roundoff(n + 1, mag));
        }
        return y;
    }

    @Override
    public ValueBound conv(QOp.QConv q) {
        Op.Conv f = (Op.Conv) node.op();
        ValueBound x = in.get(0);
        WindowTable t = WindowTable.of(q.window(), xs, ys);
        QWeights qw = q.weight();
        int cinG = qw.shape().dim(1);
        int coutG = q.outChannels() / q.group();
        int k = t.size();
        ValueBound y = output(q.out(), ys.size());
        for (int o = 0; o < q.outChannels(); o++) {
            int grp = o / coutG;
            double b = f.bias().at(o);
            double biasErr = constantError(Math.scalb((double) q.bias(o), -q.accFrac(o)), b);
            double rnd = rounding(q.shift(o), q.out());
            for (int pos = 0; pos < t.positions(); pos++) {
                double ez = biasErr;
                double lo = b;
                double hi = b;
                double mag = Math.abs(b);
                int terms = 1;
                for (int ci = 0; ci < cinG; ci++) {
                    int base = (grp * cinG + ci) * t.pixels();
                    for (int j = 0; j < k; j++) {
                        int off = t.offset(pos, j);
                        if (off < 0) {
                            continue; // padding: an exact zero in both models
                        }
                        int xi = base + off;
                        int wi = (o * cinG + ci) * k + j;
                        double w = f.weight().at(wi);
                        ez += productError(qw.toDouble(wi), w, x, xi);
                        lo += lower(w, x.lo(xi), x.hi(xi));
                        hi += upper(w, x.lo(xi), x.hi(xi));
                        mag += mul(Math.abs(w), x.magnitude(xi));
                        terms++;
                    }
                }
                y.set(o * t.positions() + pos, lo, hi, q.out().min(), q.out().max(), ez + rnd, roundoff(terms, mag));
            }
        }
        return y;
    }

    // ---------------------------------------------------------------------------------------------
    // elementwise

    @Override
    public ValueBound elementwise(QOp.QElementwise op) {
        return op.accept((QOp.ElementwiseVisitor<ValueBound>) this);
    }

    /**
     * {@code requantize(a x + b)} per channel, from {@code Op.Affine} or an unfolded
     * {@code Op.BatchNorm} (whose reference computes {@code gamma (x - mean) / sqrt(var + eps) + beta};
     * the difference to {@code a x + b} in float64 is a few ulps of the terms, in the slack).
     */
    @Override
    public ValueBound affine(QOp.QAffine q) {
        double[] scale;
        double[] shift;
        double[] extra;
        if (node.op() instanceof Op.BatchNorm bn) {
            scale = bn.scale();
            shift = bn.shift();
            extra = new double[bn.channels()];
            for (int c = 0; c < extra.length; c++) {
                extra[c] = Math.abs(scale[c] * bn.mean().at(c)) + Math.abs(bn.beta().at(c));
            }
        } else {
            Op.Affine a = (Op.Affine) node.op();
            scale = a.scale().data();
            shift = a.shift().data();
            extra = new double[scale.length];
        }
        ValueBound x = in.get(0);
        ValueBound y = output(q.out(), x.size());
        for (int i = 0; i < x.size(); i++) {
            int c = channelOf(q, i);
            double s = scale[c];
            double sq = q.scale().toDouble(c);
            double tq = Math.scalb((double) q.shift(c), -q.accFrac(c));
            double ds = constantError(sq, s);
            // |H(v) - (s x + t)| for |v - x| <= d: |sq v - s x| + |tq - t| + rounding
            double d = x.d(i);
            double prod = Math.min(mul(Math.abs(sq), d) + mul(ds, x.magnitude(i)), mul(Math.abs(s), d) + mul(ds, x.magnitude(i) + d));
            double dOut = prod + constantError(tq, shift[c]) + rounding((long) q.accFrac(c) - q.out().frac(), q.out());
            double lo = lower(s, x.lo(i), x.hi(i)) + shift[c];
            double hi = upper(s, x.lo(i), x.hi(i)) + shift[c];
            monotone(y, i, q, c, x, sq >= 0, lo, hi, dOut, roundoff(6, mul(Math.abs(s), x.magnitude(i)) + Math.abs(shift[c]) + extra[c]));
        }
        return y;
    }

    @Override
    public ValueBound relu(QOp.QRelu q) {
        ValueBound x = in.get(0);
        ValueBound y = output(q.out(), x.size());
        double rnd = rounding((long) q.in().frac() - q.out().frac(), q.out());
        for (int i = 0; i < x.size(); i++) {
            monotone(y, i, q, 0, x, true, Math.max(x.lo(i), 0), Math.max(x.hi(i), 0), x.d(i) + rnd, 0);
        }
        return y;
    }

    @Override
    public ValueBound leakyRelu(QOp.QLeakyRelu q) {
        Op.LeakyRelu f = (Op.LeakyRelu) node.op();
        ValueBound x = in.get(0);
        ValueBound y = output(q.out(), x.size());
        for (int i = 0; i < x.size(); i++) {
            slope(y, x, i, q, 0, f.alpha(), q.alpha(), q.alphaFrac());
        }
        return y;
    }

    @Override
    public ValueBound prelu(QOp.QPRelu q) {
        Op.PRelu f = (Op.PRelu) node.op();
        ValueBound x = in.get(0);
        ValueBound y = output(q.out(), x.size());
        for (int i = 0; i < x.size(); i++) {
            int c = channelOf(q, i);
            slope(y, x, i, q, c, f.slope().at(c), q.alpha(c), q.alphaFrac());
        }
        return y;
    }

    /**
     * Element {@code i} of {@code x >= 0 ? x : alpha x} with the slope quantized to
     * {@code alphaQ 2^-alphaFrac}: the float function is {@code max(1, |alpha|)}-Lipschitz, the
     * quantized slope differs from it by {@code |alphaQ - alpha| |x|} on negative inputs, and each
     * branch requantizes (rounding if it shifts right). Monotone when the quantized slope is
     * non-negative; otherwise the whole input error is carried.
     */
    private void slope(ValueBound y, ValueBound x, int i, QOp.QElementwise q, int c, double alpha, long alphaQ, int alphaFrac) {
        QFormat out = q.out();
        double aq = Math.scalb((double) alphaQ, -alphaFrac);
        double lip = Math.max(1, Math.abs(alpha));
        double rnd = Math.max(rounding((long) q.in().frac() - out.frac(), out),
                rounding((long) q.in().frac() + alphaFrac - out.frac(), out));
        double lo = x.lo(i);
        double hi = x.hi(i);
        double fl = lo >= 0 ? lo : alpha * lo;
        double fh = hi >= 0 ? hi : alpha * hi;
        double yLo = Math.min(fl, fh);
        double yHi = Math.max(fl, fh);
        if (lo < 0 && hi > 0) {
            yLo = Math.min(yLo, 0);
            yHi = Math.max(yHi, 0);
        }
        double slack = roundoff(1, mul(Math.abs(alpha), x.magnitude(i)));
        double da = constantError(aq, alpha);
        if (aq >= 0) {
            double d = x.d(i);
            double dOut = mul(lip, d) + mul(da, Math.max(0, d - lo)) + rnd;
            monotone(y, i, q, c, x, true, yLo, yHi, dOut, slack);
        } else {
            double dOut = mul(lip, x.error(i)) + mul(da, Math.max(0, -x.fixedLo(i))) + rnd;
            y.set(i, yLo, yHi, out.min(), out.max(), dOut, slack);
        }
    }

    /**
     * {@code clamp(requantize(x), lo, hi)} against {@code clamp(x, min, max)}. The monotone lemma
     * with {@code f} the identity gives {@code yq = clamp(x + delta', A, B)}, {@code |delta'| <= d'}
     * ({@code d'} = the input's {@code d} plus the rounding), where {@code [A, B]} are the quantized
     * bounds narrowed by the input's own clamp. Two bounds on its distance to
     * {@code clamp(x, min, max)}, both sound, the smaller is taken: {@code d'} plus how far clamping
     * to {@code [A, B]} is from clamping to {@code [min, max]} over the input interval (piecewise
     * linear in {@code x}: largest at the interval's ends or at one of the four bounds); and
     * {@code max(d', |A - min|, |B - max|)}, as a clamp is 1-Lipschitz in its argument and its
     * bounds together in the sup norm.
     */
    @Override
    public ValueBound clip(QOp.QClip q) {
        Op.Clip f = (Op.Clip) node.op();
        ValueBound x = in.get(0);
        ValueBound y = output(q.out(), x.size());
        double rnd = rounding((long) q.in().frac() - q.out().frac(), q.out());
        for (int i = 0; i < x.size(); i++) {
            long ga = q.apply(0, x.clampLo(i));
            long gb = q.apply(0, x.clampHi(i));
            double aa = q.out().toDouble(ga);
            double bb = q.out().toDouble(gb);
            double lo = x.lo(i);
            double hi = x.hi(i);
            double worst = 0;
            for (double p : new double[] {lo, hi, aa, bb, f.min(), f.max()}) {
                if (p >= lo && p <= hi) {
                    worst = Math.max(worst, Math.abs(ValueBound.clamp(p, aa, bb) - f.apply(p)));
                }
            }
            double dq = x.d(i) + rnd;
            double dOut = Math.min(dq + worst, Math.max(dq, Math.max(Math.abs(aa - f.min()), Math.abs(bb - f.max()))));
            y.set(i, f.apply(lo), f.apply(hi), ga, gb, dOut, 0);
        }
        return y;
    }

    /**
     * A table: {@code tau}, the table's largest error over every input that can reach it, plus
     * the function's Lipschitz constant times the input error ({@code d} when the function and the
     * table are both non-decreasing, so that a clamp stays a clamp; the whole error otherwise).
     */
    @Override
    public ValueBound lut(QOp.QLut q) {
        Op.Tabulated f = (Op.Tabulated) node.op();
        ValueBound x = in.get(0);
        QFormat inF = q.in();
        long xlo = Long.MAX_VALUE;
        long xhi = Long.MIN_VALUE;
        long aMin = Long.MAX_VALUE;
        long bMax = Long.MIN_VALUE;
        for (int i = 0; i < x.size(); i++) {
            xlo = Math.min(xlo, reachLo(x, i));
            xhi = Math.max(xhi, reachHi(x, i));
            aMin = Math.min(aMin, x.clampLo(i));
            bMax = Math.max(bMax, x.clampHi(i));
        }
        double lip = f.lipschitz();
        double tau = x.size() == 0 ? 0 : table(TableError.max(q.lut(), f::apply, f.nonDecreasing(), lip, inF.frac(), xlo, xhi));
        boolean mono = f.nonDecreasing() && x.size() > 0 && TableError.nonDecreasing(q.lut(), inF.frac(), aMin, bMax);
        ValueBound y = output(q.out(), x.size());
        for (int i = 0; i < x.size(); i++) {
            double lo = x.lo(i);
            double hi = x.hi(i);
            double fl = f.apply(lo);
            double fh = f.apply(hi);
            double yLo;
            double yHi;
            if (f.nonDecreasing()) {
                yLo = fl;
                yHi = fh;
            } else {
                double spread = mul(lip, hi - lo);
                yLo = (fl + fh - spread) / 2;
                yHi = (fl + fh + spread) / 2;
            }
            // the JDK's exp, expm1, log1p and tanh are within an ulp and semi-monotonic; the
            // functions built from them stay within a few ulps of their values and slopes
            double slack = roundoff(8, Math.max(Math.abs(yLo), Math.abs(yHi)) + mul(lip, x.magnitude(i)));
            if (mono) {
                monotone(y, i, q, 0, x, true, yLo, yHi, tau + mul(lip, x.d(i)), slack);
            } else {
                y.set(i, yLo, yHi, q.out().min(), q.out().max(), tau + mul(lip, x.error(i)), slack);
            }
        }
        return y;
    }

    /** Smallest integer input element {@code i} can take: {@code floor((lo - d) 2^frac)} within its clamp range. */
    private static long reachLo(ValueBound x, int i) {
        double v = Math.floor(Math.scalb(x.lo(i) - x.d(i), x.format().frac()));
        return v <= x.clampLo(i) ? x.clampLo(i) : v >= x.clampHi(i) ? x.clampHi(i) : (long) v;
    }

    /** Largest integer input element {@code i} can take: {@code ceil((hi + d) 2^frac)} within its clamp range. */
    private static long reachHi(ValueBound x, int i) {
        double v = Math.ceil(Math.scalb(x.hi(i) + x.d(i), x.format().frac()));
        return v >= x.clampHi(i) ? x.clampHi(i) : v <= x.clampLo(i) ? x.clampLo(i) : (long) v;
    }

    @Override
    public ValueBound flatten(QOp.QFlatten q) {
        return requantized(q);
    }

    @Override
    public ValueBound reshape(QOp.QReshape q) {
        return requantized(q);
    }

    /** Flatten and Reshape keep every element's place and requantize it (monotone). */
    private ValueBound requantized(QOp.QElementwise q) {
        ValueBound x = in.get(0);
        ValueBound y = output(q.out(), x.size());
        double rnd = rounding((long) q.in().frac() - q.out().frac(), q.out());
        for (int i = 0; i < x.size(); i++) {
            monotone(y, i, q, 0, x, true, x.lo(i), x.hi(i), x.d(i) + rnd, 0);
        }
        return y;
    }

    // ---------------------------------------------------------------------------------------------
    // softmax, pools, add

    @Override
    public ValueBound softmax(QOp.QSoftmax s) {
        ValueBound x = in.get(0);
        int axis = s.axis();
        int n = xs.dim(axis);
        int inner = 1;
        for (int i = axis + 1; i < xs.rank(); i++) {
            inner *= xs.dim(i);
        }
        int outer = xs.size() / (n * inner);
        long xlo = Long.MAX_VALUE;
        long xhi = Long.MIN_VALUE;
        double fmin = Double.POSITIVE_INFINITY;
        double fmax = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < x.size(); i++) {
            xlo = Math.min(xlo, reachLo(x, i));
            xhi = Math.max(xhi, reachHi(x, i));
            fmin = Math.min(fmin, x.lo(i));
            fmax = Math.max(fmax, x.hi(i));
        }
        double spread = fmax - fmin;
        // the exp table over the differences max - x that can occur
        double tau = x.size() == 0 ? 0 : table(TableError.exp(s.exp(), Math.max(0, xhi - xlo)));
        int rFrac = s.recipShift() - s.exp().out().frac();
        double trunc = sources.contains(ErrorBound.Source.REQUANTIZATION) ? Math.scalb(1.0, -rFrac) : 0;
        double rnd = rounding((long) s.recipShift() - s.out().frac(), s.out());
        double slack = roundoff(n + 4, 1 + (Double.isFinite(spread) ? 2 * spread : Double.POSITIVE_INFINITY));
        ValueBound y = output(s.out(), x.size());
        double[] e = new double[n];
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < inner; j++) {
                int base = o * n * inner + j;
                double top = 0;
                double second = 0;
                for (int k = 0; k < n; k++) {
                    e[k] = x.error(base + k * inner);
                    if (e[k] >= top) {
                        second = top;
                        top = e[k];
                    } else {
                        second = Math.max(second, e[k]);
                    }
                }
                for (int k = 0; k < n; k++) {
                    int ik = base + k * inner;
                    // p_k = 1 / (1 + sum_{j != k} e^(x_j - x_k)), monotone in every difference
                    double sLo = 0;
                    double sHi = 0;
                    for (int m = 0; m < n; m++) {
                        if (m != k) {
                            int im = base + m * inner;
                            sLo += Math.exp(x.lo(im) - x.hi(ik));
                            sHi += Math.exp(x.hi(im) - x.lo(ik));
                        }
                    }
                    double pLo = 1 / (1 + sHi);
                    double pHi = 1 / (1 + sLo);
                    double c = e[k] + (e[k] == top ? second : top);
                    // along the way from x to xq, p_k stays within [pLo e^-c, pHi e^c]
                    double pMax = Math.min(1, pHi * Math.exp(c));
                    double dIn = Math.min(0.25, Math.min(pMax, 1 - pLo * Math.exp(-c))) * c;
                    double d = dIn + tau * (1 + pMax * (n - 1)) + trunc + rnd;
                    // e_k r >= 0 rounds to a probability in [0, max]: that is its clamp range
                    y.set(ik, pLo, pHi, 0, s.out().max(), Double.isNaN(d) ? Double.POSITIVE_INFINITY : d, slack);
                }
            }
        }
        return y;
    }

    /**
     * Max pooling: {@code max_j clamp(x_j + delta_j, a, b) = clamp(max_j (x_j + delta_j), a, b)}
     * when the window's elements share a clamp range (one channel, so they do unless an upstream
     * op clamps position by position), and {@code max} moves by at most the largest {@code d}.
     * Then the monotone requantization. Otherwise the whole input errors are carried.
     */
    @Override
    public ValueBound maxPool(QOp.QMaxPool p) {
        ValueBound x = in.get(0);
        WindowTable t = WindowTable.of(p.window(), xs, ys);
        ValueBound y = output(p.out(), ys.size());
        double rnd = rounding((long) p.in().frac() - p.out().frac(), p.out());
        for (int ch = 0; ch < ys.channels(); ch++) {
            for (int pos = 0; pos < t.positions(); pos++) {
                double lo = Double.NEGATIVE_INFINITY;
                double hi = Double.NEGATIVE_INFINITY;
                double dMax = 0;
                double eMax = 0;
                long a = 0;
                long b = 0;
                boolean first = true;
                boolean common = true;
                for (int j = 0; j < t.size(); j++) {
                    int off = t.offset(pos, j);
                    if (off < 0) {
                        continue; // padding never wins
                    }
                    int xi = ch * t.pixels() + off;
                    lo = Math.max(lo, x.lo(xi));
                    hi = Math.max(hi, x.hi(xi));
                    dMax = Math.max(dMax, x.d(xi));
                    eMax = Math.max(eMax, x.error(xi));
                    if (first) {
                        a = x.clampLo(xi);
                        b = x.clampHi(xi);
                        first = false;
                    } else {
                        common &= a == x.clampLo(xi) && b == x.clampHi(xi);
                    }
                }
                int yi = ch * t.positions() + pos;
                if (first) {
                    double inf = Double.POSITIVE_INFINITY;
                    y.set(yi, -inf, inf, p.out().min(), p.out().max(), inf, 0);
                } else if (common) {
                    y.set(yi, lo, hi, p.finish(a), p.finish(b), dMax + rnd, 0);
                } else {
                    y.set(yi, lo, hi, p.out().min(), p.out().max(), eMax + rnd, 0);
                }
            }
        }
        return y;
    }

    @Override
    public ValueBound avgPool(QOp.QAvgPool p) {
        ValueBound x = in.get(0);
        WindowTable t = WindowTable.of(p.window(), xs, ys);
        ValueBound y = output(p.out(), ys.size());
        double rnd = rounding((long) p.in().frac() + p.recipFrac() - p.out().frac(), p.out());
        for (int ch = 0; ch < ys.channels(); ch++) {
            for (int pos = 0; pos < t.positions(); pos++) {
                Average avg = new Average();
                for (int j = 0; j < t.size(); j++) {
                    int off = t.offset(pos, j);
                    if (off >= 0) {
                        avg.add(x, ch * t.pixels() + off);
                    }
                }
                avg.finish(y, ch * t.positions() + pos, p.count(pos), Math.scalb((double) p.recip(pos), -p.recipFrac()), rnd, p.out());
            }
        }
        return y;
    }

    @Override
    public ValueBound globalAvgPool(QOp.QGlobalAvgPool p) {
        ValueBound x = in.get(0);
        int per = xs.perChannel();
        ValueBound y = output(p.out(), xs.channels());
        double rnd = rounding((long) p.in().frac() + p.recipFrac() - p.out().frac(), p.out());
        double rq = Math.scalb((double) p.recip(), -p.recipFrac());
        for (int ch = 0; ch < xs.channels(); ch++) {
            Average avg = new Average();
            for (int i = ch * per; i < (ch + 1) * per; i++) {
                avg.add(x, i);
            }
            avg.finish(y, ch, p.count(), rq, rnd, p.out());
        }
        return y;
    }

    /**
     * A window average: the fixed-point model multiplies the exact sum by {@code rq ~ 1/n} and
     * rounds once; the reference divides the float sum by {@code n}. {@code rq sum xq - sum x / n}
     * is {@code rq sum (xq - x) + (rq - 1/n) sum x}, or {@code (1/n) sum (xq - x) + (rq - 1/n) sum xq}.
     */
    private final class Average {
        private double lo;
        private double hi;
        private double err;
        private double mag;
        private double fixedMag;
        private int terms;

        void add(ValueBound x, int i) {
            lo += x.lo(i);
            hi += x.hi(i);
            err += x.error(i);
            mag += x.magnitude(i);
            fixedMag += x.fixedMagnitude(i);
            terms++;
        }

        void finish(ValueBound y, int yi, int count, double rq, double rnd, QFormat out) {
            double inv = 1.0 / count;
            double dr = constantError(rq, inv);
            double sumMag = Math.max(Math.abs(lo), Math.abs(hi));
            double ez = Math.min(mul(rq, err) + mul(dr, sumMag), mul(inv, err) + mul(dr, fixedMag));
            y.set(yi, lo / count, hi / count, out.min(), out.max(), ez + rnd, roundoff(terms + 1, mag / count));
        }
    }

    @Override
    public ValueBound add(QOp.QAdd a) {
        ValueBound x = in.get(0);
        ValueBound z = in.get(1);
        ValueBound y = output(a.out(), x.size());
        double rnd = rounding((long) a.frac() - a.out().frac(), a.out());
        for (int i = 0; i < x.size(); i++) {
            y.set(i, x.lo(i) + z.lo(i), x.hi(i) + z.hi(i), a.out().min(), a.out().max(), x.error(i) + z.error(i) + rnd,
                    roundoff(1, x.magnitude(i) + z.magnitude(i)));
        }
        return y;
    }
}
