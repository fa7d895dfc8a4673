package io.streamfold.quant;

import java.util.Arrays;

/**
 * A lookup table for a function: {@code 2^indexBits} entries, addressed by the raw bits of an
 * index value with {@code indexFrac} fractional bits, giving results in format {@code out}. The
 * same arrays become the ROM {@code .mem} files and the simulator's table.
 *
 * <p>A signed table ({@link #signedIndex}) covers index values {@code [-2^(n-1), 2^(n-1)-1]};
 * the address is the value's two's-complement bit pattern, {@code v & (2^n - 1)}, so the RTL
 * indexes the ROM with the index register unchanged. An unsigned table covers
 * {@code [0, 2^n - 1]} with address {@code v}.
 *
 * <p>A <b>plain</b> table ({@code interpBits == 0}) holds {@code out.quantize(f(value(a) * 2^-indexFrac))}
 * at entry {@code a} ({@code entry == out}). An input with {@code fracIn} fractional bits becomes an
 * index by {@link #index}: the rounding shift to {@code indexFrac} and saturation to the table's
 * range. Saturation is right for the functions used here: the quantizer sizes the index range to
 * cover at least the function's {@link LutFunction#saturationRange}, beyond which the table ends
 * already hold the asymptotes.
 *
 * <p>An <b>interpolating</b> table ({@code interpBits = s > 0}) is built for inputs with exactly
 * {@code indexFrac + s} fractional bits. Its entries hold the function at the index points in the
 * finer format {@code entry = Q(out.bits + g, out.frac + g)} ({@code g} guard bits), and
 * {@code slopes[a]} the difference to the next point (past the last entry, to the function's
 * value one step beyond it). An input {@code x} is clamped to the cells,
 * {@code [indexMin 2^s, indexMax 2^s + 2^s - 1]}, split into the index {@code i = x >> s} and the
 * remainder {@code r = x - i 2^s} ({@code 0 <= r < 2^s}), and the result is the linear
 * interpolation {@code requantize(v[i] 2^s + d[i] r, entry.frac + s, out)}: one table read (two
 * ROMs at one address), one {@code d x r} product and one rounding ({@link #apply}).
 */
public record Lut(LutFunction function, int indexBits, int indexFrac, boolean signedIndex, QFormat out, long[] table,
                  int interpBits, QFormat entry, long[] slopes) {

    /** Largest index width accepted (a 1 Mi-entry ROM). */
    public static final int MAX_INDEX_BITS = 20;

    /** Widest input whose every code the quantizer checks when it chooses an interpolating table. */
    public static final int MAX_CHECKED_INPUT_BITS = 20;

    /** Guard bits of an interpolating table's entries below the output step. */
    public static final int GUARD_BITS = 3;

    public Lut {
        if (indexBits < 1 || indexBits > MAX_INDEX_BITS) {
            throw new IllegalArgumentException("LUT index width must be 1.." + MAX_INDEX_BITS + ", got " + indexBits);
        }
        table = table.clone();
        slopes = slopes.clone();
        if (table.length != 1 << indexBits) {
            throw new IllegalArgumentException("LUT with " + indexBits + " index bits needs " + (1 << indexBits) + " entries, got " + table.length);
        }
        if (interpBits < 0 || interpBits > 30 || (interpBits == 0) != entry.equals(out) || slopes.length != (interpBits == 0 ? 0 : table.length)) {
            throw new IllegalArgumentException("LUT interpolation over " + interpBits + " bits with entries " + entry + ", " + slopes.length + " slopes");
        }
        for (long e : table) {
            if (!entry.contains(e)) {
                throw new IllegalArgumentException("LUT entry " + e + " is outside " + entry);
            }
        }
    }

    /** A plain table: entries in {@code out}, no interpolation. */
    public Lut(LutFunction function, int indexBits, int indexFrac, boolean signedIndex, QFormat out, long[] table) {
        this(function, indexBits, indexFrac, signedIndex, out, table, 0, out, new long[0]);
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
     * A signed table for an input of format {@code in} (sigmoid, tanh, every tabulated function).
     * If the input fits {@code maxIndexBits} the index is the input itself and the table is exact
     * (within half an output step). Otherwise the plain table of {@code maxIndexBits} bits drops
     * the fewest low bits of the input such that it covers the whole input range or the
     * function's saturation range, whichever is smaller; if that table is more than one output
     * step from the function at some input code, the smallest interpolating table within one step
     * at every input code replaces it ({@link #interpolating}). Inputs wider than
     * {@link #MAX_CHECKED_INPUT_BITS} keep the plain table (their codes are not enumerated).
     */
    public static Lut forInput(LutFunction f, QFormat in, QFormat out, int maxIndexBits) {
        if (in.bits() <= maxIndexBits) {
            return build(f, in.bits(), in.frac(), true, out);
        }
        long top = (1L << (maxIndexBits - 1)) - 1;
        double r = f.saturationRange(out, false);
        Lut plain = build(f, maxIndexBits, indexFrac(in, r, top, maxIndexBits), true, out);
        if (in.bits() > MAX_CHECKED_INPUT_BITS || maxError(plain, f, in) <= out.step()) {
            return plain;
        }
        Lut best = null;
        double bestError = Double.POSITIVE_INFINITY;
        for (int n = 2; n <= maxIndexBits; n++) {
            Lut t = interpolating(f, in, out, n, r);
            if (t == null) {
                continue;
            }
            double e = maxError(t, f, in);
            if (e <= out.step()) {
                return t;
            }
            if (e < bestError) {
                best = t;
                bestError = e;
            }
        }
        return best != null && bestError < maxError(plain, f, in) ? best : plain;
    }

    /**
     * The interpolating table of {@code n} index bits for inputs of format {@code in}: the fewest
     * interpolation bits {@code s >= 1} whose index range covers the whole input range or the
     * saturation range {@code r}; null if none does within the input's bits.
     */
    static Lut interpolating(LutFunction f, QFormat in, QFormat out, int n, double r) {
        long top = (1L << (n - 1)) - 1;
        for (int s = 1; n + s <= in.bits(); s++) {
            if (n + s == in.bits() || Math.scalb((double) top, s - in.frac()) >= r) {
                return buildInterpolating(f, n, in.frac() - s, s, out, GUARD_BITS);
            }
        }
        return null;
    }

    /**
     * Tabulates {@code f} at the {@code 2^n} signed index points of step {@code 2^-indexFrac} in
     * {@code Q(out.bits + g, out.frac + g)}, with the slopes to the next point, for inputs with
     * {@code indexFrac + s} fractional bits.
     */
    public static Lut buildInterpolating(LutFunction f, int n, int indexFrac, int s, QFormat out, int g) {
        if (n < 1 || n > MAX_INDEX_BITS || s < 1) {
            throw new IllegalArgumentException("interpolating LUT of " + n + " index bits over " + s + " bits");
        }
        QFormat entry = new QFormat(out.bits() + g, out.frac() + g);
        long[] t = new long[1 << n];
        for (int a = 0; a < t.length; a++) {
            t[a] = entry.quantize(f.apply(Math.scalb((double) signExtend(a, n), -indexFrac)));
        }
        long[] d = new long[t.length];
        for (long i = -(1L << (n - 1)); i < (1L << (n - 1)); i++) {
            int a = (int) (i & (t.length - 1));
            long next = i + 1 < (1L << (n - 1)) ? t[(int) ((i + 1) & (t.length - 1))]
                    : entry.quantize(f.apply(Math.scalb((double) (i + 1), -indexFrac)));
            d[a] = next - t[a];
        }
        return new Lut(f, n, indexFrac, true, out, t, s, entry, d);
    }

    /**
     * The largest {@code |out(apply(x)) - f(x)|} over every code {@code x} of {@code in}: the
     * quantizer's measure of a candidate table.
     */
    static double maxError(Lut l, LutFunction f, QFormat in) {
        double worst = 0;
        for (long x = in.min(); x <= in.max(); x++) {
            worst = Math.max(worst, Math.abs(l.out.toDouble(l.apply(x, in.frac())) - f.apply(in.toDouble(x))));
        }
        return worst;
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
        if (interpBits > 0) {
            return clampInput(x, fracIn) >> interpBits;
        }
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

    /**
     * The table applied to an input with {@code fracIn} fractional bits, in format {@code out}:
     * {@code lookup(index(x, fracIn))} for a plain table, the rounded linear interpolation
     * between entries for an interpolating one.
     */
    public long apply(long x, int fracIn) {
        if (interpBits == 0) {
            return lookup(index(x, fracIn));
        }
        long c = clampInput(x, fracIn);
        long i = c >> interpBits;
        return Fixed.requantize(interpolate(i, c - (i << interpBits)), entry.frac() + interpBits, out);
    }

    /**
     * An interpolating table's exact sum {@code v[i] 2^s + d[i] r} for index {@code i} and
     * remainder {@code r}, with {@code entry.frac + s} fractional bits ({@link #sumBits()} wide).
     */
    public long interpolate(long i, long r) {
        int a = address(i);
        return (table[a] << interpBits) + slopes[a] * r;
    }

    /** An interpolating table's input clamped to its cells, {@code [indexMin 2^s, indexMax 2^s + 2^s - 1]}. */
    public long clampInput(long x, int fracIn) {
        if (fracIn != indexFrac + interpBits) {
            throw new IllegalArgumentException("interpolating LUT for inputs with " + (indexFrac + interpBits) + " fractional bits, got " + fracIn);
        }
        return Math.min(Math.max(x, clampLo()), clampHi());
    }

    /** The smallest input of an interpolating table's cells, {@code indexMin 2^s}. */
    public long clampLo() {
        return indexMin() << interpBits;
    }

    /** The largest input of an interpolating table's cells, {@code indexMax 2^s + 2^s - 1}. */
    public long clampHi() {
        return (indexMax() << interpBits) | ((1L << interpBits) - 1);
    }

    /** True if the table interpolates between its entries (one multiplier per element). */
    public boolean interpolates() {
        return interpBits > 0;
    }

    /** Signed width of the slopes (1 when there are none). */
    public int slopeBits() {
        IntRange r = IntRange.point(0);
        for (long d : slopes) {
            r = r.union(IntRange.point(d));
        }
        return r.bits();
    }

    /** Width of the signed product {@code d x r}: the slope times the {@code s}-bit remainder as a signed {@code s+1}-bit operand. */
    public int productBits() {
        return slopeBits() + interpBits + 1;
    }

    /** Width of the interpolation sum {@code v 2^s + d r}, which holds every value it can take. */
    public int sumBits() {
        IntRange r = IntRange.point(0);
        long rmax = (1L << interpBits) - 1;
        for (int a = 0; a < table.length; a++) {
            IntRange v = IntRange.point(table[a] << interpBits);
            r = r.union(v).union(v.plus(IntRange.point(slopes[a] * rmax)));
        }
        return Math.max(r.bits(), productBits());
    }

    /** Bits of the ROMs: the entries, plus the slopes of an interpolating table. */
    public long romBits() {
        return (long) size() * (entry.bits() + (interpBits > 0 ? slopeBits() : 0));
    }

    /** Slope at a ROM address (an interpolating table). */
    public long slope(int address) {
        return slopes[address];
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

    /** A copy of the slopes, in address order (empty for a plain table). */
    @Override
    public long[] slopes() {
        return slopes.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Lut l && function == l.function && indexBits == l.indexBits && indexFrac == l.indexFrac
                && signedIndex == l.signedIndex && out.equals(l.out) && Arrays.equals(table, l.table) && interpBits == l.interpBits
                && entry.equals(l.entry) && Arrays.equals(slopes, l.slopes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(table) * 31 + function.hashCode();
    }

    @Override
    public String toString() {
        return function + " LUT[" + size() + "] index " + (signedIndex ? "Q(" : "UQ(") + indexBits + "," + indexFrac + ")"
                + (interpBits > 0 ? ", interpolated over " + interpBits + " bits, entries " + entry + ", slopes " + slopeBits() + " bits" : "")
                + " -> " + out;
    }
}
