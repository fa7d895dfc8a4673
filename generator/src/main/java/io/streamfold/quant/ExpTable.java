package io.streamfold.quant;

import java.util.Arrays;
import java.util.stream.LongStream;

/**
 * Softmax's exponential {@code e^-t} of the distance {@code t = max - x >= 0} of an element below
 * its vector's maximum, in format {@code out}, computed by table: either a {@link Plain} table
 * indexed by {@code t} (rounded to the table's index), or a {@link Reduced} one that takes out
 * powers of two, {@code e^-t = 2^-k e^-r}, and interpolates {@code e^-r} on a short interval.
 * {@code t} is an integer code with the softmax input's fractional bits.
 *
 * <p>{@link #forDifferences} picks the plain table when it is within one output step of
 * {@code e^-t} at every code {@code t} (always for inputs of at most {@code lutIndexBits} bits),
 * else the smallest reduced table that is. Both give exactly {@code 2^out.frac} (1.0) at
 * {@code t = 0}, so a vector's sum of exponentials is at least 1.
 */
public sealed interface ExpTable permits ExpTable.Plain, ExpTable.Reduced {

    /** The format of the exponentials. */
    QFormat out();

    /** Fractional bits of the codes {@code t}: the softmax input's. */
    int inFrac();

    /** {@code e^-t} for a code {@code t >= 0}, in {@link #out()}. */
    long apply(long t);

    /** {@code apply(0)}: 1.0 in {@link #out()}, the least sum of a vector's exponentials. */
    default long one() {
        return apply(0);
    }

    /** Bits of the table's ROMs. */
    long romBits();

    /**
     * Operand widths of a lane's one multiplier (the reduced table's slope times its remainder, a
     * signed operand), empty for a table without one: what the hardware IR counts as its product.
     */
    int[] multiplierOperands();

    /** That multiplier's operand-width product, 0 without one: {@code HardwareCost}'s measure, per lane. */
    default long multiplierBits() {
        int[] ops = multiplierOperands();
        return ops.length == 0 ? 0 : (long) ops[0] * ops[1];
    }

    /** Register stages from a register holding {@code t}'s operands to the registered exponential. */
    int stages();

    <R> R accept(Visitor<R> v);

    /** One method per kind of table, so that every emitter handles both. */
    interface Visitor<R> {
        R plain(Plain p);

        R reduced(Reduced r);
    }

    /**
     * The table of {@code e^-t} for the differences of inputs of format {@code in}. When the input
     * has at most {@code maxIndexBits} bits, the plain table indexed by {@code t} itself (exact:
     * half a step). Otherwise the plain table of {@link Lut#forDifferences} no wider than the
     * codes below the first where {@code e^-t} rounds to 0 need (beyond it every entry is 0), if
     * it is within one step of {@code out} at every code of {@code t} in
     * {@code [0, 2^in.bits - 1]}: no multiplier where a table of at most {@code maxIndexBits} index
     * bits is accurate, as for the other tables ({@link Lut#forInput}). Else the cheapest
     * {@link Reduced} table that is ({@link Reduced#smallest}); the plain table if none is, or if
     * the input is wider than {@link Lut#MAX_CHECKED_INPUT_BITS} (its codes are not enumerated).
     */
    static ExpTable forDifferences(QFormat in, QFormat out, int maxIndexBits) {
        if (in.bits() <= maxIndexBits || in.bits() > Lut.MAX_CHECKED_INPUT_BITS) {
            return new Plain(Lut.forDifferences(in, out, maxIndexBits), in.frac());
        }
        // the plain table's saturating index must reach the first code that rounds to 0
        int need = 64 - Long.numberOfLeadingZeros(Math.min(Reduced.zeroFrom(in, out), (1L << in.bits()) - 1));
        Plain plain = new Plain(Lut.forDifferences(in, out, Math.max(1, Math.min(maxIndexBits, need))), in.frac());
        if (withinStep(plain, in.bits())) {
            return plain;
        }
        Reduced r = Reduced.smallest(in, out, maxIndexBits);
        return r != null ? r : plain;
    }

    /**
     * The largest {@code |out(apply(t)) - e^-(t 2^-inFrac)|} over the codes {@code t} in
     * {@code [0, 2^bits - 1]} (the differences of {@code bits}-wide inputs), in output steps.
     */
    static double maxErrorSteps(ExpTable e, int bits) {
        double worst = 0;
        for (long t = 0; t < 1L << bits; t++) {
            worst = Math.max(worst, error(e, t));
        }
        return worst / e.out().step();
    }

    /** {@code |out(apply(t)) - e^-(t 2^-inFrac)|}. */
    static double error(ExpTable e, long t) {
        return Math.abs(e.out().toDouble(e.apply(t)) - Math.exp(-Math.scalb((double) t, -e.inFrac())));
    }

    /** True if {@code e} is within one output step at every code of {@code [0, 2^bits - 1]} (stops at the first that is not). */
    static boolean withinStep(ExpTable e, int bits) {
        double step = e.out().step();
        for (long t = 0; t < 1L << bits; t++) {
            if (error(e, t) > step) {
                return false;
            }
        }
        return true;
    }

    /** A plain unsigned table of {@code e^-t} ({@link Lut#forDifferences}): one ROM read. */
    record Plain(Lut lut, int inFrac) implements ExpTable {
        public Plain {
            if (!lut.function().equals(LutFunction.EXP_NEG) || lut.signedIndex() || lut.interpolates()) {
                throw new IllegalArgumentException("softmax needs a plain unsigned exp(-t) table, got " + lut);
            }
        }

        @Override
        public QFormat out() {
            return lut.out();
        }

        @Override
        public long apply(long t) {
            return lut.apply(t, inFrac);
        }

        @Override
        public long one() {
            return lut.entry(0);
        }

        @Override
        public long romBits() {
            return lut.romBits();
        }

        @Override
        public int[] multiplierOperands() {
            return new int[0];
        }

        @Override
        public int stages() {
            return 1;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.plain(this);
        }

        @Override
        public String toString() {
            return lut.toString();
        }
    }

    /**
     * {@code e^-t} by range reduction: {@code e^-t = 2^-k e^-r} with {@code r = t - k ln 2}, the
     * power of two a shift, {@code e^-r} interpolated on {@code r} in about {@code [0, 1)}.
     * Where a straight table needs {@code e^-t}'s finest step (at {@code t = 0}) over all of
     * {@code [0, t0]} ({@code t0} where {@code e^-t} rounds to 0, 13.2 at 16 bits), the
     * interpolation here spans one octave, and its error shrinks with {@code 2^-k}.
     *
     * <p>For a code {@code t} ({@code inFrac} fractional bits), with {@code j = t >> reduceShift}:
     * <ol>
     * <li>if {@code j} is past the reduction table ({@code j >= reductions()}), the result is 0:
     *     the table's cells end only after {@code t0};</li>
     * <li>reduction table (ROM 1) at {@code j}: {@code k = shift[j]} and {@code C = offset[j]},
     *     the integer nearest {@code k ln 2 2^rFrac}, for the largest {@code k} with
     *     {@code C <= (j << reduceShift) 2^(rFrac - inFrac)}; so
     *     {@code r = t 2^(rFrac - inFrac) - C >= 0} (an exact subtraction, {@code rFrac} fractional
     *     bits) stays below about {@code ln 2 + 2^(reduceShift - inFrac)};</li>
     * <li>interpolation table (ROM 2) at {@code i = r >> s} ({@code s = interpBits}, the remainder
     *     {@code m = r mod 2^s}): {@code v = value[i]}, {@code d = slope[i]}, with entries
     *     {@code e^-(i 2^-p) (1 - 2^-2p / 16)} ({@code p = rFrac - s}) in {@code out.frac + g}
     *     fractional bits ({@code g = Lut.GUARD_BITS}), entry 0 exactly 1, and slopes the
     *     differences to the next entry: the chord of a cell exceeds {@code e^-r} by up to
     *     {@code h^2/8 e^-r} ({@code h = 2^-p}, {@code e^-r} its own second derivative), so the
     *     entries sit half of that below the function;</li>
     * <li>{@code acc = v 2^s + d m} (one multiplier), then one rounding of
     *     {@code acc 2^-(out.frac + g + s + k)} to {@code out}: the shift by {@code k} is the
     *     power of two.</li>
     * </ol>
     * In hardware these are {@link #STAGES} registers: the distance {@code t}, ROM 1 (and
     * whether {@code j} is past it), {@code r}, ROM 2 (and {@code m}), {@code acc}, {@code acc}
     * shifted by {@code k}, the rounded value. Each ROM's depth is rounded up to a power of two ({@link #reductionDepth()},
     * {@link #entryDepth()}), so that every address the datapath can form reads a word.
     */
    record Reduced(int inFrac, int reduceShift, int rFrac, int[] shift, long[] offset, int interpBits, long[] value,
                   long[] slope, QFormat out) implements ExpTable {

        /** Register stages: the distance, the reduction ROM, r, the interpolation ROM, the interpolation sum, the shift, the rounding. */
        public static final int STAGES = 7;

        public Reduced {
            shift = shift.clone();
            offset = offset.clone();
            value = value.clone();
            slope = slope.clone();
            int n1 = shift.length;
            if (reduceShift < 0 || reduceShift > 40 || interpBits < 1 || rFrac < inFrac || rFrac - inFrac > 40 || n1 < 1
                    || offset.length != n1 || value.length < 1 || slope.length != value.length) {
                throw new IllegalArgumentException("reduced exp table: reduction >> " + reduceShift + " into " + shift.length + "/"
                        + offset.length + " entries, " + value.length + "/" + slope.length + " interpolation entries");
            }
            for (int j = 0; j < n1; j++) {
                // r is increasing in t inside a cell: its two ends bound every remainder
                long first = ((long) j << reduceShift << (rFrac - inFrac)) - offset[j];
                long last = (((((long) j + 1) << reduceShift) - 1) << (rFrac - inFrac)) - offset[j];
                if (shift[j] < 0 || offset[j] < 0 || first < 0 || last >> interpBits >= value.length) {
                    throw new IllegalArgumentException("reduced exp table: cell " + j + " reduces to r in [" + first + ", " + last + "]");
                }
            }
            for (int i = 0; i < value.length; i++) {
                if (value[i] < 0 || value[i] + slope[i] < 0) {
                    throw new IllegalArgumentException("reduced exp table: negative entry at " + i);
                }
            }
            if (value[0] != 1L << (out.frac() + Lut.GUARD_BITS) || shift[0] != 0 || offset[0] != 0) {
                throw new IllegalArgumentException("reduced exp table: e^0 must be exactly 1, got " + value[0] + " 2^-" + shift[0]);
            }
        }

        /**
         * The cheapest reduced table within one step of {@code out} at every code of
         * {@code [0, 2^in.bits - 1]}: the fewest interpolation index bits {@code p} (ROM 2 is the
         * larger table); for each, reductions to a half, quarter or eighth of {@code t}'s unit
         * ({@code 2^-q}, {@code q = 1..3}) each with the fewest bits {@code rFrac} that pass (the
         * width of ROM 1's offsets and of the multiplier's remainder); of those the fewest ROM
         * plus multiplier bits. Null if none within {@code maxIndexBits}-bit ROM addresses is.
         */
        static Reduced smallest(QFormat in, QFormat out, int maxIndexBits) {
            long zero = zeroFrom(in, out);
            int fMax = Math.max(in.frac(), out.frac() + Lut.GUARD_BITS + 3);
            for (int p = 1; p <= maxIndexBits; p++) {
                Reduced best = null;
                for (int q = 1; q <= 3; q++) {
                    for (int f = Math.max(in.frac(), p + 1); f <= fMax; f++) {
                        Reduced r = build(in, out, zero, q, f, p, maxIndexBits);
                        if (r != null && withinStep(r, in.bits())) {
                            if (best == null || r.cost() < best.cost()) {
                                best = r;
                            }
                            break;
                        }
                    }
                }
                if (best != null) {
                    return best;
                }
            }
            return null;
        }

        /**
         * The first code whose {@code e^-t} rounds to 0 in {@code out} (every larger one does too),
         * or {@code 2^in.bits}, one past the largest code, if none does.
         */
        static long zeroFrom(QFormat in, QFormat out) {
            long end = 1L << in.bits();
            double r = LutFunction.EXP_NEG.saturationRange(out, true);
            long t = Math.min(end, (long) Math.ceil(Math.scalb(r, in.frac())));
            // the saturation range is a bisection: settle the exact first code around it
            while (t > 1 && out.quantize(Math.exp(-Math.scalb((double) (t - 1), -in.frac()))) == 0) {
                t--;
            }
            while (t < end && out.quantize(Math.exp(-Math.scalb((double) t, -in.frac()))) != 0) {
                t++;
            }
            return t;
        }

        /**
         * The reduced table for inputs {@code in} whose codes from {@code zero} on round to 0:
         * reduction to {@code 2^-q} of {@code t}'s unit (or to every code when
         * {@code in.frac <= q}), {@code r} with {@code f} fractional bits, interpolation entries at
         * steps of {@code 2^-p}; null if a ROM would need more than {@code maxIndexBits} address bits.
         */
        static Reduced build(QFormat in, QFormat out, long zero, int q, int f, int p, int maxIndexBits) {
            int fin = in.frac();
            int a = Math.max(0, fin - q);
            long n1 = ((zero - 1) >> a) + 1;
            if (n1 > 1L << maxIndexBits) {
                return null;
            }
            int up = f - fin;
            int[] k = new int[(int) n1];
            long[] c = new long[(int) n1];
            long rMax = 0;
            int kj = 0;
            for (int j = 0; j < n1; j++) {
                long lo = (long) j << a << up;
                while (offsetOf(kj + 1, f) <= lo) {
                    kj++;
                }
                k[j] = kj;
                c[j] = offsetOf(kj, f);
                rMax = Math.max(rMax, (((((long) j + 1) << a) - 1) << up) - c[j]);
            }
            int s = f - p;
            long n2 = (rMax >> s) + 1;
            if (n2 > 1L << maxIndexBits) {
                return null;
            }
            int g = out.frac() + Lut.GUARD_BITS;
            double lower = 1 - Math.scalb(1.0, -2 * p) / 16;
            long[] v = new long[(int) n2 + 1];
            v[0] = 1L << g;
            for (int i = 1; i < v.length; i++) {
                v[i] = Fixed.roundHalfUp(Math.scalb(Math.exp(-Math.scalb((double) i, -p)) * lower, g));
            }
            long[] d = new long[(int) n2];
            for (int i = 0; i < n2; i++) {
                d[i] = v[i + 1] - v[i];
            }
            return new Reduced(fin, a, f, k, c, s, Arrays.copyOf(v, (int) n2), d, out);
        }

        /** {@code round(k ln 2 2^f)}: the reduction by {@code 2^k} at {@code f} fractional bits. */
        private static long offsetOf(int k, int f) {
            return Fixed.roundHalfUp(Math.scalb(k * Math.log(2), f));
        }

        @Override
        public long apply(long t) {
            if (t < 0) {
                throw new IllegalArgumentException("exp(-t) of a negative distance " + t);
            }
            long j = t >> reduceShift;
            if (j >= shift.length) {
                return 0;
            }
            long r = (t << (rFrac - inFrac)) - offset[(int) j];
            int i = (int) (r >> interpBits);
            long acc = (value[i] << interpBits) + slope[i] * (r & ((1L << interpBits) - 1));
            return Fixed.requantize(acc, out.frac() + Lut.GUARD_BITS + interpBits + shift[(int) j], out);
        }

        /** Entries of the reduction table (ROM 1): codes from {@code reductions() << reduceShift} on give 0. */
        public int reductions() {
            return shift.length;
        }

        /** Entries of the interpolation table (ROM 2). */
        public int entries() {
            return value.length;
        }

        /** Address bits of ROM 1, {@code ceil(log2 reductions())} (0 for a single entry). */
        public int reductionAddressBits() {
            return addressBits(shift.length);
        }

        /** Address bits of ROM 2, {@code ceil(log2 entries())}. */
        public int entryAddressBits() {
            return addressBits(value.length);
        }

        /** Words of ROM 1 in hardware: {@code 2^reductionAddressBits()}. */
        public int reductionDepth() {
            return 1 << reductionAddressBits();
        }

        /** Words of ROM 2 in hardware: {@code 2^entryAddressBits()}. */
        public int entryDepth() {
            return 1 << entryAddressBits();
        }

        /** The interpolation index's fractional bits {@code p}: entries at steps of {@code 2^-p}. */
        public int indexFrac() {
            return rFrac - interpBits;
        }

        /** Unsigned width of the largest of non-negative {@code values} (at least that of 0). */
        private static int widthOfLargest(LongStream values) {
            return unsignedBits(Math.max(0, values.max().orElse(0)));
        }

        /** Unsigned width of the shifts {@code k}. */
        public int shiftBits() {
            return widthOfLargest(Arrays.stream(shift).asLongStream());
        }

        /** Unsigned width of the offsets {@code C}. */
        public int offsetBits() {
            return widthOfLargest(Arrays.stream(offset));
        }

        /** Unsigned width of the interpolation entries. */
        public int valueBits() {
            return widthOfLargest(Arrays.stream(value));
        }

        /** Signed width of the slopes. */
        public int slopeBits() {
            IntRange r = IntRange.point(0);
            for (long d : slope) {
                r = r.union(IntRange.point(d));
            }
            return r.bits();
        }

        /** Width of the signed product {@code d m}: the slope times the remainder as a signed {@code s+1}-bit operand. */
        public int productBits() {
            return slopeBits() + interpBits + 1;
        }

        /** Unsigned width of the interpolation sum {@code v 2^s + d m} (non-negative: a mix of two non-negative entries). */
        public int accBits() {
            long m = 0;
            long rmax = (1L << interpBits) - 1;
            for (int i = 0; i < value.length; i++) {
                m = Math.max(m, Math.max(value[i] << interpBits, (value[i] << interpBits) + slope[i] * rmax));
            }
            return unsignedBits(m);
        }

        private static int unsignedBits(long v) {
            return Math.max(1, 64 - Long.numberOfLeadingZeros(v));
        }

        private static int addressBits(int n) {
            return 32 - Integer.numberOfLeadingZeros(n - 1);
        }

        @Override
        public long one() {
            return 1L << out.frac();
        }

        @Override
        public long romBits() {
            return (long) reductionDepth() * (shiftBits() + offsetBits()) + (long) entryDepth() * (valueBits() + slopeBits());
        }

        @Override
        public int[] multiplierOperands() {
            return new int[] {slopeBits(), interpBits + 1};
        }

        @Override
        public int stages() {
            return STAGES;
        }

        /** ROM plus multiplier bits: what {@link #smallest} minimizes. */
        long cost() {
            return romBits() + multiplierBits();
        }

        /** The shift {@code k} of reduction entry {@code j}. */
        public int shift(int j) {
            return shift[j];
        }

        /** The offset {@code C} of reduction entry {@code j}. */
        public long offset(int j) {
            return offset[j];
        }

        /** Interpolation entry {@code i}. */
        public long value(int i) {
            return value[i];
        }

        /** Slope of interpolation entry {@code i}. */
        public long slope(int i) {
            return slope[i];
        }

        @Override
        public int[] shift() {
            return shift.clone();
        }

        @Override
        public long[] offset() {
            return offset.clone();
        }

        @Override
        public long[] value() {
            return value.clone();
        }

        @Override
        public long[] slope() {
            return slope.clone();
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.reduced(this);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Reduced r && inFrac == r.inFrac && reduceShift == r.reduceShift && rFrac == r.rFrac
                    && interpBits == r.interpBits && out.equals(r.out) && Arrays.equals(shift, r.shift) && Arrays.equals(offset, r.offset)
                    && Arrays.equals(value, r.value) && Arrays.equals(slope, r.slope);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(value) * 31 + Arrays.hashCode(offset);
        }

        @Override
        public String toString() {
            return "exp(-t) = 2^-k exp(-r): reduction ROM[" + reductions() + "] (k " + shiftBits() + " bits, k ln2 in " + offsetBits()
                    + " bits at 2^-" + rFrac + "), interpolation ROM[" + entries() + "] at 2^-" + indexFrac() + " over " + interpBits
                    + " bits, entries " + valueBits() + " + slopes " + slopeBits() + " bits -> " + out;
        }
    }
}
