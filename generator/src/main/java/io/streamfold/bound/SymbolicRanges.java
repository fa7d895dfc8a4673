package io.streamfold.bound;

import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.reference.WindowTable;

import java.util.Arrays;
import java.util.List;
import java.util.function.DoubleUnaryOperator;
import java.util.function.IntToDoubleFunction;

/**
 * Tighter float ranges than interval arithmetic: each element of a value gets a linear lower and
 * a linear upper bound in terms of the input elements, {@code L(x) <= v <= U(x)} for every input
 * {@code x} of the box, and its range is {@code [min L, max U]} over the box.
 *
 * <p>Interval arithmetic forgets that two elements come from the same inputs: after two Dense
 * layers it adds up worst cases no input reaches at once, and the bound would count saturation
 * that cannot happen. Linear bounds keep that dependency through every linear op exactly (Dense,
 * Conv, Affine, average pools, Add, Flatten), and through a Relu or LeakyRelu by the usual
 * relaxation: on an element whose range {@code [l, u]} straddles 0, the function lies below the
 * chord from {@code (l, f(l))} to {@code (u, f(u))} (it is convex) and above {@code lambda x} for
 * {@code lambda} = 1 or the slope, whichever leaves the smaller area. Other ops (tables, Clip,
 * softmax, max pooling where no element is known to win) bound an element by constants from its
 * input range, which the next linear op starts again from.
 *
 * <p>The forms cost {@code (inputs + 1)} doubles per element and a linear op's fan-in times that in
 * time; a value needing more than {@link #MAX_COEFFICIENTS} gets none, and neither does anything
 * computed from it, so large models fall back to interval arithmetic there. Float64 rounding of
 * the coefficients and of the reference is carried as an absolute allowance per element
 * ({@link Forms#err}).
 */
final class SymbolicRanges implements Op.Visitor<SymbolicRanges.Forms>, Op.PointwiseVisitor<SymbolicRanges.Forms> {

    /** Most coefficients (elements times inputs plus one) of one value's lower or upper forms. */
    static final long MAX_COEFFICIENTS = 1L << 21;

    /**
     * The forms of one value: element {@code i}'s lower bound is
     * {@code lower[i*w] + sum_k lower[i*w + 1 + k] x_k} ({@code w = inputs + 1}), its upper bound
     * likewise, each true up to {@code err[i]}.
     */
    static final class Forms {
        final int size;
        final int width;
        final double[] lower;
        final double[] upper;
        final double[] err;
        /** {@code max |L|, |U|} over the box plus {@code err}, per element, computed when first read (NaN until then). */
        private final double[] magnitude;

        Forms(int size, int width) {
            this.size = size;
            this.width = width;
            this.lower = new double[size * width];
            this.upper = new double[size * width];
            this.err = new double[size];
            this.magnitude = new double[size];
            Arrays.fill(magnitude, Double.NaN);
        }
    }

    private final InputBox box;
    private final int width;
    private Node node;
    private List<Forms> in;
    private List<ValueBound> ranges;
    private Shape xs;
    private Shape ys;

    SymbolicRanges(InputBox box) {
        this.box = box;
        this.width = box.size() + 1;
    }

    /** The input's forms: each element is its own variable. */
    Forms input() {
        if (!fits(box.size())) {
            return null;
        }
        Forms f = new Forms(box.size(), width);
        for (int i = 0; i < box.size(); i++) {
            f.lower[i * width + 1 + i] = 1;
            f.upper[i * width + 1 + i] = 1;
        }
        return f;
    }

    /**
     * The forms of {@code n}'s output from its inputs' forms and ranges, or null when an input has
     * none, the op has no linear bounds or the value is too large.
     */
    Forms apply(Node n, List<Forms> inForms, List<ValueBound> inRanges, Shape x, Shape y) {
        for (Forms f : inForms) {
            if (f == null) {
                return null;
            }
        }
        if (!fits(y.size())) {
            return null;
        }
        this.node = n;
        this.in = inForms;
        this.ranges = inRanges;
        this.xs = x;
        this.ys = y;
        return n.op().accept(this);
    }

    private boolean fits(int elements) {
        return (long) elements * width <= MAX_COEFFICIENTS;
    }

    /** Lower end of element {@code i}'s range over the box. */
    double lo(Forms f, int i) {
        double v = f.lower[i * width];
        double mag = Math.abs(v);
        for (int k = 0; k < box.size(); k++) {
            double c = f.lower[i * width + 1 + k];
            if (c != 0) {
                double t = c > 0 ? c * box.lo(k) : c * box.hi(k);
                v += t;
                mag += Math.abs(t);
            }
        }
        return v - f.err[i] - Transfer.roundoff(width, mag);
    }

    /** Upper end of element {@code i}'s range over the box. */
    double hi(Forms f, int i) {
        double v = f.upper[i * width];
        double mag = Math.abs(v);
        for (int k = 0; k < box.size(); k++) {
            double c = f.upper[i * width + 1 + k];
            if (c != 0) {
                double t = c > 0 ? c * box.hi(k) : c * box.lo(k);
                v += t;
                mag += Math.abs(t);
            }
        }
        return v + f.err[i] + Transfer.roundoff(width, mag);
    }

    /** {@code max |form(x)|} over the box of one lower or upper form, a scale for rounding allowances. */
    private double magnitude(double[] form, int i) {
        double m = Math.abs(form[i * width]);
        for (int k = 0; k < box.size(); k++) {
            double c = form[i * width + 1 + k];
            if (c != 0) {
                m += Math.abs(c) * Math.max(Math.abs(box.lo(k)), Math.abs(box.hi(k)));
            }
        }
        return m;
    }

    /** The scale of element {@code i} of finished forms (those of an op's inputs), for rounding allowances. */
    private double magnitude(Forms f, int i) {
        if (Double.isNaN(f.magnitude[i])) {
            f.magnitude[i] = Math.max(magnitude(f.lower, i), magnitude(f.upper, i)) + f.err[i];
        }
        return f.magnitude[i];
    }

    // ---------------------------------------------------------------------------------------------
    // building blocks

    /**
     * Adds {@code w} times element {@code xi} of {@code x} into element {@code yi} of {@code y}:
     * the lower form takes {@code w L} for {@code w >= 0} and {@code w U} otherwise. Returns the
     * magnitude {@code |w| max|x|} for the rounding allowance.
     */
    private double addScaled(Forms y, int yi, Forms x, int xi, double w) {
        if (w == 0) {
            return 0;
        }
        double[] lo = w > 0 ? x.lower : x.upper;
        double[] hi = w > 0 ? x.upper : x.lower;
        int yo = yi * width;
        int xo = xi * width;
        for (int k = 0; k < width; k++) {
            y.lower[yo + k] += w * lo[xo + k];
            y.upper[yo + k] += w * hi[xo + k];
        }
        y.err[yi] += Math.abs(w) * x.err[xi];
        return Math.abs(w) * magnitude(x, xi);
    }

    /** Element {@code yi} bounded by the constants {@code [lo, hi]}. */
    private void constant(Forms y, int yi, double lo, double hi) {
        y.lower[yi * width] = lo;
        y.upper[yi * width] = hi;
    }

    /** Finishes a linear element: {@code + c}, and the float64 rounding of {@code terms} terms of total magnitude {@code mag}. */
    private void finish(Forms y, int yi, double c, int terms, double mag) {
        y.lower[yi * width] += c;
        y.upper[yi * width] += c;
        y.err[yi] += Transfer.roundoff(terms + width, mag + Math.abs(c));
    }

    /** Element-wise constants from the input ranges through a non-decreasing {@code f}. */
    private Forms monotoneConstants(DoubleUnaryOperator f) {
        ValueBound x = ranges.get(0);
        Forms y = new Forms(x.size(), width);
        for (int i = 0; i < x.size(); i++) {
            constant(y, i, f.applyAsDouble(x.lo(i)), f.applyAsDouble(x.hi(i)));
        }
        return y;
    }

    /**
     * {@code x >= 0 ? x : alpha x} for {@code 0 <= alpha <= 1} (Relu is {@code alpha = 0}): exact
     * on an element that does not change sign, else the chord above and {@code lambda x} below,
     * with {@code lambda = 1} if {@code u >= -l} and {@code alpha} otherwise.
     */
    private Forms leaky(IntToDoubleFunction alphaOf) {
        Forms x = in.get(0);
        ValueBound r = ranges.get(0);
        Forms y = new Forms(x.size, width);
        int per = xs.perChannel();
        for (int i = 0; i < x.size; i++) {
            double alpha = alphaOf.applyAsDouble(i / per);
            double l = r.lo(i);
            double u = r.hi(i);
            int o = i * width;
            if (!(alpha >= 0 && alpha <= 1) || Double.isInfinite(l) || Double.isInfinite(u)) {
                // not convex (or unbounded): constants from the values at the ends and at 0
                double fl = l >= 0 ? l : alpha * l;
                double fu = u >= 0 ? u : alpha * u;
                boolean straddles = l < 0 && u > 0;
                constant(y, i, straddles ? Math.min(0, Math.min(fl, fu)) : Math.min(fl, fu), straddles ? Math.max(0, Math.max(fl, fu))
                        : Math.max(fl, fu));
                continue;
            }
            if (l >= 0) {
                System.arraycopy(x.lower, o, y.lower, o, width);
                System.arraycopy(x.upper, o, y.upper, o, width);
                y.err[i] = x.err[i];
            } else if (u <= 0) {
                double mag = addScaled(y, i, x, i, alpha);
                y.err[i] += Transfer.roundoff(width, mag);
            } else {
                // upper: f(l) + s (x - l) with s = (u - alpha l) / (u - l) in [alpha, 1]
                double s = (u - alpha * l) / (u - l);
                double c = alpha * l - s * l;
                double lambda = u >= -l ? 1 : alpha;
                for (int k = 0; k < width; k++) {
                    y.upper[o + k] = s * x.upper[o + k];
                    y.lower[o + k] = lambda * x.lower[o + k];
                }
                y.upper[o] += c;
                double mag = magnitude(x, i);
                // the chord holds exactly only where l and u are the element's true extremes: both
                // come from the ranges, which contain every value, so f stays below it on [l, u]
                y.err[i] = Math.max(s, lambda) * x.err[i] + Transfer.roundoff(width + 2, mag + Math.abs(c));
            }
        }
        return y;
    }

    // ---------------------------------------------------------------------------------------------
    // Op.Visitor

    @Override
    public Forms dense(Op.Dense d) {
        Forms x = in.get(0);
        int n = d.inFeatures();
        Forms y = new Forms(d.outFeatures(), width);
        for (int o = 0; o < d.outFeatures(); o++) {
            double mag = 0;
            for (int i = 0; i < n; i++) {
                mag += addScaled(y, o, x, i, d.weight().at(o * n + i));
            }
            finish(y, o, d.bias().at(o), n + 1, mag);
        }
        return y;
    }

    @Override
    public Forms conv(Op.Conv c) {
        Forms x = in.get(0);
        WindowTable t = WindowTable.of(c.window(), xs, ys);
        int cinG = c.inChannelsPerGroup();
        int coutG = c.outChannels() / c.group();
        int k = t.size();
        Forms y = new Forms(ys.size(), width);
        for (int o = 0; o < c.outChannels(); o++) {
            int grp = o / coutG;
            for (int pos = 0; pos < t.positions(); pos++) {
                int yi = o * t.positions() + pos;
                double mag = 0;
                int terms = 1;
                for (int ci = 0; ci < cinG; ci++) {
                    int base = (grp * cinG + ci) * t.pixels();
                    for (int j = 0; j < k; j++) {
                        int off = t.offset(pos, j);
                        if (off >= 0) {
                            mag += addScaled(y, yi, x, base + off, c.weight().at((o * cinG + ci) * k + j));
                            terms++;
                        }
                    }
                }
                finish(y, yi, c.bias().at(o), terms, mag);
            }
        }
        return y;
    }

    @Override
    public Forms batchNorm(Op.BatchNorm bn) {
        return affine(bn.scale(), bn.shift());
    }

    @Override
    public Forms affine(Op.Affine a) {
        return affine(a.scale().data(), a.shift().data());
    }

    private Forms affine(double[] scale, double[] shift) {
        Forms x = in.get(0);
        Forms y = new Forms(x.size, width);
        int per = xs.perChannel();
        for (int i = 0; i < x.size; i++) {
            int c = i / per;
            // a BatchNorm's reference formula differs from a x + b by a few ulps: 6 terms' worth
            finish(y, i, shift[c], 6, addScaled(y, i, x, i, scale[c]));
        }
        return y;
    }

    @Override
    public Forms prelu(Op.PRelu p) {
        return leaky(c -> p.slope().at(c));
    }

    @Override
    public Forms pointwise(Op.Pointwise p) {
        return p.accept((Op.PointwiseVisitor<Forms>) this);
    }

    @Override
    public Forms relu(Op.Relu r) {
        return leaky(c -> 0);
    }

    @Override
    public Forms leakyRelu(Op.LeakyRelu l) {
        return leaky(c -> l.alpha());
    }

    @Override
    public Forms clip(Op.Clip c) {
        return monotoneConstants(c::apply);
    }

    /** Tables: constants from the range (the interval analysis does the same); non-monotone ones get none. */
    @Override
    public Forms tabulated(Op.Tabulated t) {
        return t.nonDecreasing() ? monotoneConstants(t::apply) : null;
    }

    /** None: the interval analysis bounds each probability from the ranges of the whole vector. */
    @Override
    public Forms softmax(Op.Softmax s) {
        return null;
    }

    /**
     * The maximum is at least each element, so the lower form of the element with the largest
     * lower end bounds it below; above, that element's upper form if no other element can exceed
     * it, else the constant largest upper end.
     */
    @Override
    public Forms maxPool(Op.MaxPool p) {
        Forms x = in.get(0);
        ValueBound r = ranges.get(0);
        WindowTable t = WindowTable.of(p.window(), xs, ys);
        Forms y = new Forms(ys.size(), width);
        for (int ch = 0; ch < ys.channels(); ch++) {
            for (int pos = 0; pos < t.positions(); pos++) {
                int yi = ch * t.positions() + pos;
                int best = -1;
                double hiMax = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < t.size(); j++) {
                    int off = t.offset(pos, j);
                    if (off >= 0) {
                        int xi = ch * t.pixels() + off;
                        if (best < 0 || r.lo(xi) > r.lo(best)) {
                            best = xi;
                        }
                        hiMax = Math.max(hiMax, r.hi(xi));
                    }
                }
                if (best < 0) {
                    return null;
                }
                boolean wins = true;
                for (int j = 0; j < t.size(); j++) {
                    int off = t.offset(pos, j);
                    int xi = ch * t.pixels() + off;
                    if (off >= 0 && xi != best && r.hi(xi) > r.lo(best)) {
                        wins = false;
                    }
                }
                System.arraycopy(x.lower, best * width, y.lower, yi * width, width);
                if (wins) {
                    System.arraycopy(x.upper, best * width, y.upper, yi * width, width);
                } else {
                    y.upper[yi * width] = hiMax;
                }
                y.err[yi] = x.err[best];
            }
        }
        return y;
    }

    @Override
    public Forms avgPool(Op.AvgPool p) {
        Forms x = in.get(0);
        WindowTable t = WindowTable.of(p.window(), xs, ys);
        Forms y = new Forms(ys.size(), width);
        for (int ch = 0; ch < ys.channels(); ch++) {
            for (int pos = 0; pos < t.positions(); pos++) {
                int yi = ch * t.positions() + pos;
                double inv = 1.0 / (p.countIncludePad() ? t.size() : t.count(pos));
                double mag = 0;
                int terms = 1;
                for (int j = 0; j < t.size(); j++) {
                    int off = t.offset(pos, j);
                    if (off >= 0) {
                        mag += addScaled(y, yi, x, ch * t.pixels() + off, inv);
                        terms++;
                    }
                }
                finish(y, yi, 0, terms, mag);
            }
        }
        return y;
    }

    @Override
    public Forms globalAvgPool(Op.GlobalAvgPool gp) {
        Forms x = in.get(0);
        int per = xs.perChannel();
        Forms y = new Forms(xs.channels(), width);
        double inv = 1.0 / per;
        for (int ch = 0; ch < xs.channels(); ch++) {
            double mag = 0;
            for (int i = ch * per; i < (ch + 1) * per; i++) {
                mag += addScaled(y, ch, x, i, inv);
            }
            finish(y, ch, 0, per + 1, mag);
        }
        return y;
    }

    @Override
    public Forms flatten(Op.Flatten f) {
        return in.get(0);
    }

    @Override
    public Forms reshape(Op.Reshape r) {
        return in.get(0);
    }

    @Override
    public Forms add(Op.Add a) {
        Forms x = in.get(0);
        Forms z = in.get(1);
        Forms y = new Forms(x.size, width);
        for (int i = 0; i < x.size; i++) {
            double mag = addScaled(y, i, x, i, 1) + addScaled(y, i, z, i, 1);
            finish(y, i, 0, 2, mag);
        }
        return y;
    }
}
