package io.streamfold.quant;

/**
 * A signed two's-complement fixed-point format {@code Q(bits, frac)}: an integer {@code v} of
 * {@code bits} bits meaning {@code v * 2^-frac}.
 *
 * <p>{@code frac} may be negative (the step is larger than 1) or larger than {@code bits} (every
 * value is below 1 in magnitude). {@code bits} is at most 62 so that a value, a value plus a
 * rounding constant and a saturation bound all fit a Java {@code long} with room to spare.
 *
 * <p>Printed as {@code Q(8,5)} (bits, then frac), which reads the same for negative fracs
 * ({@code Q(8,-2)}); {@link #parse} reads that form back.
 */
public record QFormat(int bits, int frac) {

    /** Widest format: 62 bits keeps {@code acc + 2^(s-1)} and {@code -min} inside a long. */
    public static final int MAX_BITS = 62;

    public QFormat {
        if (bits < 1 || bits > MAX_BITS) {
            throw new IllegalArgumentException("fixed-point width must be 1.." + MAX_BITS + " bits, got " + bits);
        }
    }

    /** Smallest integer value, {@code -2^(bits-1)}. */
    public long min() {
        return -(1L << (bits - 1));
    }

    /** Largest integer value, {@code 2^(bits-1) - 1}. */
    public long max() {
        return (1L << (bits - 1)) - 1;
    }

    /** The real value of one step (one LSB), {@code 2^-frac}. */
    public double step() {
        return Math.scalb(1.0, -frac);
    }

    /** Smallest representable real value. */
    public double minReal() {
        return toDouble(min());
    }

    /** Largest representable real value. */
    public double maxReal() {
        return toDouble(max());
    }

    /** True if {@code v} is a value of this format. */
    public boolean contains(long v) {
        return v >= min() && v <= max();
    }

    /** {@code clamp(v, min, max)}. */
    public long saturate(long v) {
        return Fixed.saturate(v, bits);
    }

    /**
     * Quantizes a real number: {@code clamp(roundHalfUp(r * 2^frac), min, max)}. Infinities
     * saturate; NaN is rejected.
     */
    public long quantize(double r) {
        return saturate(Fixed.roundHalfUp(Math.scalb(r, frac)));
    }

    /** The real value {@code v * 2^-frac} (exact for |v| < 2^53). */
    public double toDouble(long v) {
        return Math.scalb((double) v, -frac);
    }

    /** The same frac with another width. */
    public QFormat withBits(int newBits) {
        return new QFormat(newBits, frac);
    }

    /** Reads {@code Q(8,5)} (spaces allowed), the form {@link #toString} prints. */
    public static QFormat parse(String s) {
        String t = s.replace(" ", "");
        if (!t.startsWith("Q(") || !t.endsWith(")") || t.indexOf(',') < 0) {
            throw new IllegalArgumentException("not a fixed-point format: '" + s + "' (expected e.g. Q(8,5))");
        }
        String[] parts = t.substring(2, t.length() - 1).split(",");
        if (parts.length != 2) {
            throw new IllegalArgumentException("not a fixed-point format: '" + s + "' (expected e.g. Q(8,5))");
        }
        try {
            return new QFormat(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a fixed-point format: '" + s + "' (expected e.g. Q(8,5))", e);
        }
    }

    @Override
    public String toString() {
        return "Q(" + bits + "," + frac + ")";
    }
}
