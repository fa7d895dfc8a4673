package io.streamfold.quant;

/**
 * A closed interval of integers {@code [lo, hi]}, for the worst-case bit-growth analysis of
 * accumulators: the quantizer evaluates each stage's arithmetic on the ranges of its operands and
 * sizes every register with {@link #bits()}. Arithmetic is exact: a bound that would leave the
 * long range throws {@link ArithmeticException}, which the quantizer reports as a setting that
 * cannot be honoured.
 */
public record IntRange(long lo, long hi) {

    public IntRange {
        if (lo > hi) {
            throw new IllegalArgumentException("empty range [" + lo + ", " + hi + "]");
        }
    }

    /** The range of a format. */
    public static IntRange of(QFormat f) {
        return new IntRange(f.min(), f.max());
    }

    /** The single value {@code v}. */
    public static IntRange point(long v) {
        return new IntRange(v, v);
    }

    /** All values of {@code this + other}. */
    public IntRange plus(IntRange o) {
        return new IntRange(Math.addExact(lo, o.lo), Math.addExact(hi, o.hi));
    }

    /** All values of {@code c * x} for a constant {@code c}. */
    public IntRange times(long c) {
        long a = Math.multiplyExact(lo, c);
        long b = Math.multiplyExact(hi, c);
        return new IntRange(Math.min(a, b), Math.max(a, b));
    }

    /** All values of {@code x * y}. */
    public IntRange times(IntRange o) {
        long a = Math.multiplyExact(lo, o.lo);
        long b = Math.multiplyExact(lo, o.hi);
        long c = Math.multiplyExact(hi, o.lo);
        long d = Math.multiplyExact(hi, o.hi);
        return new IntRange(Math.min(Math.min(a, b), Math.min(c, d)), Math.max(Math.max(a, b), Math.max(c, d)));
    }

    /** All values of {@code x * 2^k}. */
    public IntRange shiftLeft(int k) {
        return new IntRange(Fixed.shiftLeftExact(lo, k), Fixed.shiftLeftExact(hi, k));
    }

    /** The smallest range containing both. */
    public IntRange union(IntRange o) {
        return new IntRange(Math.min(lo, o.lo), Math.max(hi, o.hi));
    }

    /** Signed width holding every value of the range. */
    public int bits() {
        return Fixed.bitsFor(lo, hi);
    }

    @Override
    public String toString() {
        return "[" + lo + ", " + hi + "]";
    }
}
