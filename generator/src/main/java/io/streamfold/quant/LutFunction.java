package io.streamfold.quant;

import io.streamfold.ir.Op;

import java.util.function.DoubleUnaryOperator;

/**
 * A function streamfold evaluates by lookup table: a label for reports and the function in
 * float64. Two functions with the same label are the same function.
 */
public final class LutFunction {

    /** {@code 1 / (1 + e^-x)}. */
    public static final LutFunction SIGMOID = of(new Op.Sigmoid());
    /** {@code tanh(x)}. */
    public static final LutFunction TANH = of(new Op.Tanh());
    /** {@code e^x}. */
    public static final LutFunction EXP = new LutFunction("exp", Math::exp);
    /**
     * {@code e^-t}: softmax's exponential, indexed by the non-negative distance {@code t} of an
     * element below the vector's maximum, so that an unsigned index uses the whole table.
     */
    public static final LutFunction EXP_NEG = new LutFunction("exp(-t)", t -> Math.exp(-t));

    private final String label;
    private final DoubleUnaryOperator f;

    private LutFunction(String label, DoubleUnaryOperator f) {
        this.label = label;
        this.f = f;
    }

    /** The table function of a tabulated graph op: its own float semantics. */
    public static LutFunction of(Op.Tabulated op) {
        return new LutFunction(op.label(), op::apply);
    }

    /** The function in float64. */
    public double apply(double x) {
        return f.applyAsDouble(x);
    }

    /**
     * The smallest magnitude {@code R} beyond which the function, quantized to {@code out}, no
     * longer changes: {@code out.quantize(f(x)) == out.quantize(f(+-inf))} for every
     * {@code |x| >= R} (only {@code x >= R} when {@code nonNegative}). Clamping a table's index
     * to {@code [-R, R]} therefore loses nothing. Returns infinity if the function does not settle
     * below 2^40 (for instance {@code exp} into a very wide format).
     */
    public double saturationRange(QFormat out, boolean nonNegative) {
        double r = 1.0 / 1024;
        while (!settled(r, out, nonNegative)) {
            r *= 2;
            if (r > 0x1p40) {
                return Double.POSITIVE_INFINITY;
            }
        }
        double lo = r / 2;
        double hi = r;
        for (int i = 0; i < 60 && lo < hi; i++) {
            double mid = (lo + hi) / 2;
            if (settled(mid, out, nonNegative)) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        return hi;
    }

    private boolean settled(double r, QFormat out, boolean nonNegative) {
        boolean high = out.quantize(apply(r)) == out.quantize(apply(1e30));
        return high && (nonNegative || out.quantize(apply(-r)) == out.quantize(apply(-1e30)));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LutFunction l && l.label.equals(label);
    }

    @Override
    public int hashCode() {
        return label.hashCode();
    }

    @Override
    public String toString() {
        return label;
    }
}
