package io.streamfold.bound;

import io.streamfold.quant.QFormat;

/**
 * What the error bound knows about one value of the quantized graph over the input box, element
 * by element (flat, channels-first):
 *
 * <ul>
 * <li>an interval {@code [lo, hi]} holding the float64 reference value {@code x} of the element
 * (of the BN-folded float graph) for every input of the box;
 * <li>a clamp range {@code [a, b]}, two integers of the value's format (the format's whole range,
 * or less after a Relu, a Clip or a table), and a bound {@code d} such that the dequantized
 * value of the bit-true integer model is {@code xq = clamp(x + delta, a, b)} for some
 * {@code |delta| <= d}.
 * </ul>
 *
 * <p>The second item is the invariant every transfer function keeps. It separates the error that
 * rounding, weight quantization and tables cause ({@code d}) from saturation (the clamp): where
 * the float value leaves {@code [a, b]}, the error grows by the excess, and a later Relu, Clip,
 * max pooling or monotone table keeps only what of the excess it lets through. From it the
 * element's whole error is {@link #error}: {@code |xq - x| <= max(d, hi - b, a - lo)}, and never
 * more than {@code max(hi - a, b - lo)}, because {@code xq} lies in {@code [a, b]} and {@code x}
 * in {@code [lo, hi]}.
 */
public final class ValueBound {

    /** Relative allowance for the rounding of the bound's own float64 arithmetic. */
    static final double SELF_ROUNDING = 0x1p-40;

    private final QFormat format;
    private final double[] lo;
    private final double[] hi;
    private final long[] clampLo;
    private final long[] clampHi;
    private final double[] d;
    private final double[] rangeLo;
    private final double[] rangeHi;

    /**
     * An empty bound for {@code size} elements; {@code rangeLo}/{@code rangeHi} (both or neither)
     * are other sound float ranges of the elements ({@link SymbolicRanges}), which {@link #set}
     * intersects with the interval arithmetic's.
     */
    ValueBound(QFormat format, int size, double[] rangeLo, double[] rangeHi) {
        this.format = format;
        this.lo = new double[size];
        this.hi = new double[size];
        this.clampLo = new long[size];
        this.clampHi = new long[size];
        this.d = new double[size];
        this.rangeLo = rangeLo;
        this.rangeHi = rangeHi;
    }

    /**
     * Sets element {@code i}. {@code slack} is the float64 rounding the reference may add to this
     * element's value (it widens the interval and adds to {@code d}); {@code d} is then enlarged
     * by {@link #SELF_ROUNDING} and capped at {@code max(b - lo, hi - a)}, which is always
     * enough ({@code delta = xq - x} itself).
     */
    void set(int i, double lo, double hi, long clampLo, long clampHi, double d, double slack) {
        if (Double.isNaN(lo) || Double.isNaN(hi)) {
            lo = Double.NEGATIVE_INFINITY;
            hi = Double.POSITIVE_INFINITY;
        }
        if (clampLo > clampHi || !format.contains(clampLo) || !format.contains(clampHi)) {
            throw new IllegalStateException("clamp range [" + clampLo + ", " + clampHi + "] in " + format);
        }
        double l = lo - slack;
        double h = hi + slack;
        if (rangeLo != null && Math.max(l, rangeLo[i]) <= Math.min(h, rangeHi[i])) {
            // both contain every value of the element, so they meet; were they disjoint (one of them
            // wrong), the interval arithmetic's, the simpler of the two, is kept
            l = Math.max(l, rangeLo[i]);
            h = Math.min(h, rangeHi[i]);
        }
        this.lo[i] = l;
        this.hi[i] = h;
        this.clampLo[i] = clampLo;
        this.clampHi[i] = clampHi;
        double cap = Math.max(format.toDouble(clampHi) - l, h - format.toDouble(clampLo));
        double e = Double.isNaN(d) ? Double.POSITIVE_INFINITY : d * (1 + SELF_ROUNDING) + slack;
        this.d[i] = Math.min(e, cap);
    }

    /** The value's fixed-point format. */
    public QFormat format() {
        return format;
    }

    /** Number of elements. */
    public int size() {
        return d.length;
    }

    /** Lower end of the float interval of element {@code i}. */
    public double lo(int i) {
        return lo[i];
    }

    /** Upper end of the float interval of element {@code i}. */
    public double hi(int i) {
        return hi[i];
    }

    /** Lower clamp bound {@code a} of element {@code i}, an integer of the format. */
    public long clampLo(int i) {
        return clampLo[i];
    }

    /** Upper clamp bound {@code b} of element {@code i}, an integer of the format. */
    public long clampHi(int i) {
        return clampHi[i];
    }

    /** The bound {@code d} on {@code |delta|} of element {@code i} (the error while the value stays inside its clamp range). */
    public double d(int i) {
        return d[i];
    }

    /** {@code a} of element {@code i} as a real. */
    public double a(int i) {
        return format.toDouble(clampLo[i]);
    }

    /** {@code b} of element {@code i} as a real. */
    public double b(int i) {
        return format.toDouble(clampHi[i]);
    }

    /**
     * The bound on {@code |xq - x|} for element {@code i}:
     * {@code min(max(d, hi - b, a - lo), max(hi - a, b - lo))}. Where {@code x + delta} stays in
     * {@code [a, b]} the error is {@code |delta| <= d}; above {@code b}, {@code xq = b} and the error
     * is {@code x - b <= hi - b} if {@code x >= b}, else {@code b - x < delta <= d} (below
     * {@code a} likewise).
     */
    public double error(int i) {
        double a = a(i);
        double b = b(i);
        double sat = Math.max(d[i], Math.max(hi[i] - b, a - lo[i]));
        return Math.min(sat, Math.max(hi[i] - a, b - lo[i]));
    }

    /** Smallest value the fixed-point element can take: {@code clamp(lo - d, a, b)}. */
    public double fixedLo(int i) {
        return clamp(lo[i] - d[i], a(i), b(i));
    }

    /** Largest value the fixed-point element can take: {@code clamp(hi + d, a, b)}. */
    public double fixedHi(int i) {
        return clamp(hi[i] + d[i], a(i), b(i));
    }

    /** {@code max |x|} over the float interval. */
    public double magnitude(int i) {
        return Math.max(Math.abs(lo[i]), Math.abs(hi[i]));
    }

    /** {@code max |xq|} over the fixed-point values. */
    public double fixedMagnitude(int i) {
        return Math.max(Math.abs(fixedLo(i)), Math.abs(fixedHi(i)));
    }

    /** The largest {@link #error} over all elements. */
    public double maxError() {
        double m = 0;
        for (int i = 0; i < d.length; i++) {
            m = Math.max(m, error(i));
        }
        return m;
    }

    /** The largest {@code d} over all elements: the bound while no element leaves its clamp range. */
    public double maxD() {
        double m = 0;
        for (double v : d) {
            m = Math.max(m, v);
        }
        return m;
    }

    /** Smallest {@code lo} over all elements. */
    public double floatMin() {
        double m = Double.POSITIVE_INFINITY;
        for (double v : lo) {
            m = Math.min(m, v);
        }
        return m;
    }

    /** Largest {@code hi} over all elements. */
    public double floatMax() {
        double m = Double.NEGATIVE_INFINITY;
        for (double v : hi) {
            m = Math.max(m, v);
        }
        return m;
    }

    static double clamp(double v, double a, double b) {
        return Math.max(a, Math.min(b, v));
    }
}
