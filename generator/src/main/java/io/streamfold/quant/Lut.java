package io.streamfold.quant;

import java.util.Arrays;

/**
 * A lookup table for a function: {@code 2^indexBits} entries in format {@code out}, addressed by
 * the raw bits of an index value with {@code indexFrac} fractional bits. The same array becomes
 * the ROM {@code .mem} file and the simulator's table.
 *
 * <p>A signed table ({@link #signedIndex}) covers index values {@code [-2^(n-1), 2^(n-1)-1]};
 * the address is the value's two's-complement bit pattern, {@code v & (2^n - 1)}, so the RTL
 * indexes the ROM with the index register unchanged. An unsigned table covers
 * {@code [0, 2^n - 1]} with address {@code v}. Entry {@code a} holds
 * {@code out.quantize(f(value(a) * 2^-indexFrac))}.
 *
 * <p>An input with {@code fracIn} fractional bits becomes an index by {@link #index}: the
 * rounding shift to {@code indexFrac} and saturation to the table's range. Saturation is right
 * for the functions used here: the quantizer sizes the index range to cover at least the
 * function's {@link LutFunction#saturationRange}, beyond which the table ends already hold the
 * asymptotes.
 */
public record Lut(LutFunction function, int indexBits, int indexFrac, boolean signedIndex, QFormat out, long[] table) {

    /** Largest index width accepted (a 1 Mi-entry ROM). */
    public static final int MAX_INDEX_BITS = 20;

    public Lut {
        if (indexBits < 1 || indexBits > MAX_INDEX_BITS) {
            throw new IllegalArgumentException("LUT index width must be 1.." + MAX_INDEX_BITS + ", got " + indexBits);
        }
        table = table.clone();
        if (table.length != 1 << indexBits) {
            throw new IllegalArgumentException("LUT with " + indexBits + " index bits needs " + (1 << indexBits) + " entries, got " + table.length);
        }
        for (long e : table) {
            if (!out.contains(e)) {
                throw new IllegalArgumentException("LUT entry " + e + " is outside " + out);
            }
        }
    }

    /** Tabulates {@code f} over every index value. */
    public static Lut build(LutFunction f, int indexBits, int indexFrac, boolean signedIndex, QFormat out) {
        if (indexBits < 1 || indexBits > MAX_INDEX_BITS) {
            throw new IllegalArgumentException("LUT index width must be 1.." + MAX_INDEX_BITS + ", got " + indexBits);
        }
        long[] t = new long[1 << indexBits];
        for (int a = 0; a < t.length; a++) {
            long v = signedIndex ? signExtend(a, indexBits) : a;
            t[a] = out.quantize(f.apply(Math.scalb((double) v, -indexFrac)));
        }
        return new Lut(f, indexBits, indexFrac, signedIndex, out, t);
    }

    /**
     * A signed table for an input of format {@code in} (sigmoid, tanh). If the input fits
     * {@code maxIndexBits} the index is the input itself and the table is exact. Otherwise the
     * index has {@code maxIndexBits} bits and drops the fewest low bits of the input such that
     * it covers the whole input range or the function's saturation range, whichever is smaller.
     */
    public static Lut forInput(LutFunction f, QFormat in, QFormat out, int maxIndexBits) {
        if (in.bits() <= maxIndexBits) {
            return build(f, in.bits(), in.frac(), true, out);
        }
        long top = (1L << (maxIndexBits - 1)) - 1;
        return build(f, maxIndexBits, indexFrac(in, f.saturationRange(out, false), top, maxIndexBits), true, out);
    }

    /**
     * An unsigned table of {@code e^-t} for softmax, indexed by {@code t = max - x >= 0} where
     * {@code x} has format {@code in}; {@code t} needs {@code in.bits} unsigned bits at
     * {@code in.frac}. The index is chosen as in {@link #forInput}.
     */
    public static Lut forDifferences(QFormat in, QFormat out, int maxIndexBits) {
        if (in.bits() <= maxIndexBits) {
            return build(LutFunction.EXP_NEG, in.bits(), in.frac(), false, out);
        }
        long top = (1L << maxIndexBits) - 1;
        return build(LutFunction.EXP_NEG, maxIndexBits,
                indexFrac(in, LutFunction.EXP_NEG.saturationRange(out, true), top, maxIndexBits), false, out);
    }

    /**
     * The index frac when {@code in} is wider than {@code n} index bits: the input's frac less the
     * dropped bits, where dropping {@code in.bits - n} covers the whole input and dropping until
     * {@code r * 2^frac <= top} covers the saturation range.
     */
    private static int indexFrac(QFormat in, double r, long top, int n) {
        int coverInput = in.frac() - (in.bits() - n);
        return Math.min(in.frac(), Math.max(coverInput, largestFracFitting(r, top, in.frac())));
    }

    /** Largest {@code f <= cap} with {@code r * 2^f <= top}; {@code cap} when {@code r} is infinite. */
    private static int largestFracFitting(double r, long top, int cap) {
        if (Double.isInfinite(r)) {
            return cap;
        }
        int f = cap;
        while (Math.scalb(r, f) > top) {
            f--;
        }
        return f;
    }

    private static long signExtend(long a, int bits) {
        return (a << (64 - bits)) >> (64 - bits);
    }

    /** Smallest index value. */
    public long indexMin() {
        return signedIndex ? -(1L << (indexBits - 1)) : 0;
    }

    /** Largest index value. */
    public long indexMax() {
        return signedIndex ? (1L << (indexBits - 1)) - 1 : (1L << indexBits) - 1;
    }

    /** Number of entries, {@code 2^indexBits}. */
    public int size() {
        return 1 << indexBits;
    }

    /**
     * The index of an input {@code x} with {@code fracIn} fractional bits: the rounding shift to
     * {@code indexFrac} (docs/architecture.md, section 5), then saturation to {@code [indexMin, indexMax]}.
     */
    public long index(long x, int fracIn) {
        // Saturating to one bit more than an unsigned index needs, then clamping at 0, gives
        // exactly the unsigned saturation without a separate rounding rule.
        long v = Fixed.requantize(x, fracIn, new QFormat(signedIndex ? indexBits : indexBits + 1, indexFrac));
        return signedIndex ? v : Math.max(v, 0);
    }

    /** The ROM address of an index value: its low {@code indexBits} bits. */
    public int address(long v) {
        if (v < indexMin() || v > indexMax()) {
            throw new IllegalArgumentException("LUT index " + v + " outside [" + indexMin() + ", " + indexMax() + "]");
        }
        return (int) (v & ((1L << indexBits) - 1));
    }

    /** The index value stored at an address (the inverse of {@link #address}). */
    public long indexAt(int address) {
        return signedIndex ? signExtend(address, indexBits) : address;
    }

    /** The entry for an index value. */
    public long lookup(long v) {
        return table[address(v)];
    }

    /** {@code lookup(index(x, fracIn))}: the table applied to an input with {@code fracIn} fractional bits. */
    public long apply(long x, int fracIn) {
        return lookup(index(x, fracIn));
    }

    /** Entry at a ROM address, without copying the table. */
    public long entry(int address) {
        return table[address];
    }

    /** A copy of the entries, in address order. */
    @Override
    public long[] table() {
        return table.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Lut l && function == l.function && indexBits == l.indexBits && indexFrac == l.indexFrac
                && signedIndex == l.signedIndex && out.equals(l.out) && Arrays.equals(table, l.table);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(table) * 31 + function.hashCode();
    }

    @Override
    public String toString() {
        return function + " LUT[" + size() + "] index " + (signedIndex ? "Q(" : "UQ(") + indexBits + "," + indexFrac + ") -> " + out;
    }
}
