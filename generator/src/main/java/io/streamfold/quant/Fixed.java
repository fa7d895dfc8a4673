package io.streamfold.quant;

import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;

/**
 * The fixed-point primitives every part of streamfold uses: rounding, saturation, the rounding
 * shift and requantization of docs/architecture.md, section 5. The integer reference, the cycle-accurate
 * simulator and the Verilog emitter all compute with exactly these definitions.
 *
 * <p><b>Overflow.</b> Values live in Java {@code long}s. Every width streamfold builds (formats,
 * products, accumulators, aligned sums) is checked to be at most {@link QFormat#MAX_BITS} = 62
 * bits when the quantized graph is built ({@link #checkWidth}); with that, the rounding constant
 * {@code 2^(s-1)} can be added and a product of two checked factors computed without wrapping.
 * The primitives here are exact for any {@code long} anyway: {@link #shiftRound} never wraps and
 * {@link #requantize} saturates a left shift that would leave the long range.
 */
public final class Fixed {

    private Fixed() {
    }

    /**
     * Rounds to the nearest integer, ties toward positive infinity: 2.5 to 3, -2.5 to -2. Values
     * beyond the long range saturate to {@code Long.MIN_VALUE}/{@code MAX_VALUE}.
     */
    public static long roundHalfUp(double x) {
        if (Double.isNaN(x)) {
            throw new IllegalArgumentException("cannot quantize NaN");
        }
        // Math.round is specified as round-half-up ("ties rounding to positive infinity") and,
        // unlike floor(x + 0.5), is exact for 0.49999999999999994 and for |x| >= 2^52.
        return Math.round(x);
    }

    /** Clamps {@code v} to the signed range of {@code bits} bits, {@code [-2^(bits-1), 2^(bits-1)-1]}. */
    public static long saturate(long v, int bits) {
        checkBits(bits);
        long max = (1L << (bits - 1)) - 1;
        long min = -max - 1;
        return v > max ? max : Math.max(v, min);
    }

    /** Clamps {@code v} to the unsigned range of {@code bits} bits, {@code [0, 2^bits - 1]}. */
    public static long saturateUnsigned(long v, int bits) {
        if (bits < 1 || bits > QFormat.MAX_BITS) {
            throw new IllegalArgumentException("unsigned width must be 1.." + QFormat.MAX_BITS + ", got " + bits);
        }
        long max = (1L << bits) - 1;
        return v > max ? max : Math.max(v, 0);
    }

    /**
     * Divides by {@code 2^s} rounding half up for {@code s > 0}: {@code (acc + 2^(s-1)) >> s} with
     * an arithmetic shift; multiplies by {@code 2^-s} for {@code s <= 0}.
     *
     * <p>For {@code s > 0} this is computed as {@code (acc >> s) + bit(acc, s-1)}, which equals
     * the formula above (write {@code acc = q 2^s + r}, {@code 0 <= r < 2^s}: both give {@code q}
     * plus one iff {@code r >= 2^(s-1)}) and cannot wrap; hardware may use either form. A left
     * shift that leaves the long range throws {@link ArithmeticException}: it means a width check
     * was skipped.
     */
    public static long shiftRound(long acc, int s) {
        if (s > 0) {
            if (s >= 64) {
                return 0; // |acc| < 2^63 <= 2^(s-1): the rounded quotient is 0
            }
            return (acc >> s) + ((acc >> (s - 1)) & 1L);
        }
        return shiftLeftExact(acc, -s);
    }

    /** {@code v * 2^k} for {@code k >= 0}, or {@link ArithmeticException} if it leaves the long range. */
    public static long shiftLeftExact(long v, int k) {
        if (k < 0) {
            throw new IllegalArgumentException("negative shift " + k);
        }
        if (v == 0 || k == 0) {
            return v;
        }
        if (k >= 63 || (v << k) >> k != v) {
            throw new ArithmeticException(v + " << " + k + " overflows a long");
        }
        return v << k;
    }

    /**
     * Requantizes an accumulator with {@code fracIn} fractional bits to {@code out}:
     * {@code saturate(shiftRound(acc, fracIn - out.frac), out.bits)}. A left shift saturates
     * exactly even where the shifted value would not fit a long.
     */
    public static long requantize(long acc, int fracIn, QFormat out) {
        long s = (long) fracIn - out.frac();
        if (s > 0) {
            return out.saturate(shiftRound(acc, (int) Math.min(s, 64)));
        }
        int k = (int) Math.min(-s, 63);
        long max = out.max();
        if (acc > (max >> k)) {
            return max;
        }
        long negLimit = -((-out.min()) >> k); // ceil(min / 2^k)
        if (acc < negLimit) {
            return out.min();
        }
        return acc << k;
    }

    /** Smallest signed width holding every integer in {@code [min, max]} (at least 1). */
    public static int bitsFor(long min, long max) {
        if (min > max) {
            throw new IllegalArgumentException("empty range [" + min + ", " + max + "]");
        }
        return Math.max(bitsOf(min), bitsOf(max));
    }

    /** Signed width of one value: {@code 65 - nlz(v)} for v >= 0, {@code 65 - nlz(~v)} for v < 0. */
    private static int bitsOf(long v) {
        return 65 - Long.numberOfLeadingZeros(v < 0 ? ~v : v);
    }

    /** {@code ceil(log2(n))} for {@code n >= 1} (0 for n = 1). */
    public static int ceilLog2(long n) {
        if (n < 1) {
            throw new IllegalArgumentException("ceilLog2 of " + n);
        }
        return n == 1 ? 0 : 64 - Long.numberOfLeadingZeros(n - 1);
    }

    /**
     * Generic accumulator width for a dot product plus bias:
     * {@code wBits + xBits + ceil(log2(fanIn)) + 1}. A product of a {@code wBits}- and an
     * {@code xBits}-bit signed value needs {@code wBits + xBits} bits, a sum of {@code fanIn}
     * products {@code ceil(log2 fanIn)} more, and the bias one more. This is an upper bound for
     * any weights; {@link IntRange} gives the exact worst case for known weights, which the
     * quantizer uses.
     */
    public static int accumulatorBits(int wBits, int xBits, int fanIn) {
        if (fanIn < 1) {
            throw new IllegalArgumentException("fan-in must be >= 1, got " + fanIn);
        }
        return wBits + xBits + ceilLog2(fanIn) + 1;
    }

    /**
     * The largest {@code frac} such that {@code maxAbs} fits {@code Q(bits, frac)}: both
     * {@code +maxAbs} and {@code -maxAbs} quantize without saturating, i.e.
     * {@code roundHalfUp(maxAbs * 2^frac) <= 2^(bits-1) - 1}. So 1.0 at 8 bits gets frac 6 (128
     * would not fit), 0.99 gets frac 7 (126.72 rounds to 127). A range of 0 (a value that is
     * always zero) gets {@code bits - 1}, the format of [-1, 1).
     */
    public static int fracFor(double maxAbs, int bits) {
        checkBits(bits);
        if (!(maxAbs >= 0) || Double.isInfinite(maxAbs)) {
            throw new IllegalArgumentException("range must be finite and >= 0, got " + maxAbs);
        }
        if (maxAbs == 0) {
            return bits - 1;
        }
        long max = (1L << (bits - 1)) - 1;
        // maxAbs in [2^e, 2^(e+1)): at frac = bits-2-e it scales into [2^(bits-2), 2^(bits-1)).
        int f = bits - 2 - Math.getExponent(maxAbs);
        if (maxAbs < Double.MIN_NORMAL) {
            f = bits - 2 + 1074; // subnormal: getExponent is not exact; the loops settle it
        }
        while (roundHalfUp(Math.scalb(maxAbs, f)) > max) {
            f--;
        }
        while (roundHalfUp(Math.scalb(maxAbs, f + 1)) <= max) {
            f++;
        }
        return f;
    }

    /** {@code roundHalfUp(2^k / n)} for {@code n >= 1}, {@code 0 <= k <= 61}, exactly. */
    public static long reciprocalRound(long n, int k) {
        if (n < 1 || k < 0 || k > 61) {
            throw new IllegalArgumentException("reciprocal of " + n + " at 2^" + k);
        }
        // floor(2^k/n + 1/2) = floor((2^k + floor(n/2)) / n) for integers (exact half only when n is even).
        return ((1L << k) + n / 2) / n;
    }

    /** {@code floor(2^k / d)} for {@code d >= 1}, {@code 0 <= k <= 62}: the softmax reciprocal. */
    public static long reciprocalFloor(long d, int k) {
        if (d < 1 || k < 0 || k > 62) {
            throw new IllegalArgumentException("reciprocal of " + d + " at 2^" + k);
        }
        return (1L << k) / d;
    }

    /** Throws {@link Diagnostic#SF_BAD_QUANT} naming {@code node} if a width exceeds 62 bits. */
    public static int checkWidth(int bits, String node, String what) {
        if (bits > QFormat.MAX_BITS) {
            throw new ModelException(Diagnostic.SF_BAD_QUANT, node,
                    what + " needs " + bits + " bits, more than the " + QFormat.MAX_BITS + " streamfold supports",
                    "use fewer weight or activation bits for this layer");
        }
        return bits;
    }

    private static void checkBits(int bits) {
        if (bits < 1 || bits > 63) {
            throw new IllegalArgumentException("width must be 1..63 bits, got " + bits);
        }
    }
}
