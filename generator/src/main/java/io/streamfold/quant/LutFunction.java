package io.streamfold.quant;

/** The functions streamfold evaluates by lookup table. */
public enum LutFunction {
    /** {@code 1 / (1 + e^-x)}. */
    SIGMOID("sigmoid") {
        @Override
        public double apply(double x) {
            return 1.0 / (1.0 + Math.exp(-x));
        }
    },
    /** {@code tanh(x)}. */
    TANH("tanh") {
        @Override
        public double apply(double x) {
            return Math.tanh(x);
        }
    },
    /** {@code e^x}. */
    EXP("exp") {
        @Override
        public double apply(double x) {
            return Math.exp(x);
        }
    },
    /**
     * {@code e^-t}: softmax's exponential, indexed by the non-negative distance {@code t} of an
     * element below the vector's maximum, so that an unsigned index uses the whole table.
     */
    EXP_NEG("exp(-t)") {
        @Override
        public double apply(double t) {
            return Math.exp(-t);
        }
    };

    private final String label;

    LutFunction(String label) {
        this.label = label;
    }

    /** The function in float64. */
    public abstract double apply(double x);

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
    public String toString() {
        return label;
    }
}
