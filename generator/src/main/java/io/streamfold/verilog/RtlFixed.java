package io.streamfold.verilog;

import io.streamfold.quant.Fixed;
import io.streamfold.quant.QFormat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The RTL form of {@link Fixed}: builds the Verilog of requantization (rounding shift, then
 * saturation) and of signed products, exactly as {@link Fixed#requantize} computes them. Every
 * emitted rounding and saturation comes from here, so the RTL and the simulator share one
 * definition (and {@code RtlFixedTest} runs the emitted logic against {@code Fixed}).
 */
final class RtlFixed {

    private RtlFixed() {
    }

    static VExpr.Const sconst(int width, long value) {
        return new VExpr.Const(width, value, true);
    }

    static VExpr.Const uconst(int width, long value) {
        return new VExpr.Const(width, value, false);
    }

    /**
     * {@code Fixed.requantize(acc, fracIn, out)} for a signed {@code accBits}-wide {@code acc}:
     * wires named {@code name_*}; returns a {@code out.bits}-wide expression (its bits are the
     * two's complement result).
     */
    static VExpr requantize(RtlBuilder b, String name, VExpr acc, int accBits, int fracIn, QFormat out) {
        return requantize(b, name, acc, accBits, fracIn, out, false);
    }

    /**
     * The constant that {@link #requantize} adds before its shift: an accumulator that starts from
     * its bias plus this constant ({@code preRounded}) needs only the shift and the saturation.
     * Zero when the shift is at least the exact sum's width {@code accBits} (the result is 0 then).
     */
    static long roundingConstant(int accBits, int fracIn, QFormat out) {
        int s = fracIn - out.frac();
        return s > 0 && s < accBits ? 1L << (s - 1) : 0;
    }

    /**
     * Like {@link #requantize(RtlBuilder, String, VExpr, int, int, QFormat)}; with
     * {@code preRounded}, {@code acc} already holds the {@link #roundingConstant} (folded into a
     * bias), so no adder sits between the accumulator register and the saturation: the result is
     * the same value.
     */
    static VExpr requantize(RtlBuilder b, String name, VExpr acc, int accBits, int fracIn, QFormat out, boolean preRounded) {
        int s = fracIn - out.frac();
        VExpr r;
        int rw;
        if (s >= accBits) {
            // |acc| < 2^(accBits-1) <= 2^(s-1): the rounded quotient is always 0.
            return uconst(out.bits(), 0);
        } else if (s > 0 && preRounded) {
            rw = accBits - s;
            r = b.wire(name + "_shr", rw, true, new VExpr.Slice(acc, accBits - 1, s));
        } else if (s > 0) {
            // (acc + 2^(s-1)) >> s, computed one bit wider so the rounding constant cannot wrap.
            VExpr.Ref t = b.wirePartlyUnused(name + "_rnd", accBits + 1, true, new VExpr.Binary("+", acc, sconst(accBits + 1, 1L << (s - 1))));
            rw = accBits + 1 - s;
            r = b.wire(name + "_shr", rw, true, new VExpr.Slice(t, accBits, s));
        } else if (s < 0) {
            rw = accBits - s;
            r = b.wire(name + "_shl", rw, true, new VExpr.Concat(List.of(acc, uconst(-s, 0))));
        } else {
            rw = accBits;
            r = acc;
        }
        VExpr q = saturate(b, name, r, rw, out.bits());
        return q instanceof VExpr.Ref ? q : b.wire(name + "_q", out.bits(), true, q);
    }

    /**
     * The address {@link io.streamfold.quant.Lut#index} gives for the signed {@code bits}-wide value
     * {@code x} with {@code frac} fraction bits: requantized to the table's index format; an unsigned
     * index saturates a negative value to entry 0. Wires {@code idxName} (the requantized value) and
     * {@code addrName} (the address).
     */
    static VExpr.Ref tableAddress(RtlBuilder b, String idxName, String addrName, VExpr x, int bits, int frac,
            io.streamfold.quant.Lut lut) {
        int ib = lut.indexBits();
        if (lut.signedIndex()) {
            return b.wire(addrName, ib, false, requantize(b, idxName, x, bits, frac, new QFormat(ib, lut.indexFrac())));
        }
        VExpr v = requantize(b, idxName, x, bits, frac, new QFormat(ib + 1, lut.indexFrac()));
        VExpr.Ref vr = v instanceof VExpr.Ref r ? r : b.wire(idxName + "_c", ib + 1, true, v);
        return b.wire(addrName, ib, false, new VExpr.Cond(new VExpr.Index(vr, new VExpr.Int(ib)), uconst(ib, 0),
                new VExpr.Slice(vr, ib - 1, 0)));
    }

    /** The cell of an interpolating table an input falls in: its ROM address and the remainder {@code r}. */
    record TableCell(VExpr.Ref address, VExpr.Ref remainder) {
    }

    /**
     * {@link io.streamfold.quant.Lut#clampInput} (comparisons only at the ends inside the input's range) and the split of the clamped input into the index
     * {@code i = x >> s} (its low {@code indexBits} bits are the address) and the remainder
     * {@code r = x mod 2^s}, for a signed {@code bits}-wide {@code x}: saturation by comparison
     * with the two ends, then two slices. Wires {@code name_c}, {@code name_addr}, {@code name_rem}.
     */
    static TableCell tableCell(RtlBuilder b, String name, VExpr x, int bits, io.streamfold.quant.Lut lut) {
        int s = lut.interpBits();
        int n = lut.indexBits();
        long lo = lut.clampLo();
        long hi = lut.clampHi();
        VExpr clamped = x;
        if (hi < (1L << (bits - 1)) - 1) {
            clamped = new VExpr.Cond(new VExpr.Binary(">", x, sconst(bits, hi)), sconst(bits, hi), clamped);
        }
        if (lo > -(1L << (bits - 1))) {
            clamped = new VExpr.Cond(new VExpr.Binary("<", x, sconst(bits, lo)), sconst(bits, lo), clamped);
        }
        VExpr.Ref c = b.wirePartlyUnused(name + "_c", bits, true, clamped);
        VExpr.Ref addr = b.wire(name + "_addr", n, false, new VExpr.Slice(c, s + n - 1, s));
        VExpr.Ref rem = b.wire(name + "_rem", s, false, s == 1 ? new VExpr.Index(c, new VExpr.Int(0)) : new VExpr.Slice(c, s - 1, 0));
        return new TableCell(addr, rem);
    }

    /**
     * The requantization of an accumulator whose input fraction depends on the output it holds:
     * {@code fracs.get(i)} when {@code selector == i}. Outputs that share a fraction share one
     * {@link #requantize} (wires {@code name_f<frac>}, {@code name_fm<-frac>} when negative), so a
     * per-tensor scale costs one requantizer and no case; the result is the {@code out.bits}-wide
     * {@code name} chosen by {@link RtlBuilder#select}.
     */
    static VExpr requantizeBank(RtlBuilder b, String name, VExpr.Ref acc, int accBits, List<Integer> fracs, QFormat out,
            VExpr selector) {
        return requantizeBank(b, name, acc, accBits, fracs, out, selector, false);
    }

    /** {@link #requantizeBank(RtlBuilder, String, VExpr.Ref, int, List, QFormat, VExpr)}, optionally {@code preRounded}. */
    static VExpr requantizeBank(RtlBuilder b, String name, VExpr.Ref acc, int accBits, List<Integer> fracs, QFormat out,
            VExpr selector, boolean preRounded) {
        Map<Integer, VExpr> byFrac = new LinkedHashMap<>();
        List<VExpr> choices = new ArrayList<>();
        for (int frac : fracs) {
            choices.add(byFrac.computeIfAbsent(frac,
                    f -> requantize(b, name + "_f" + (f < 0 ? "m" + (-f) : f), acc, accBits, f, out, preRounded)));
        }
        return b.select(name, out.bits(), true, selector, choices);
    }

    /**
     * Saturates a signed {@code width}-bit value to {@code bits} bits. The value fits when its bits
     * {@code width-1 .. bits-1} all equal the sign: the overflow tests are reductions of those bits
     * (a few LUT levels) rather than magnitude comparisons (two carry chains).
     */
    static VExpr saturate(RtlBuilder b, String name, VExpr v, int width, int bits) {
        if (width <= bits) {
            return signExtend(v, width, bits);
        }
        long max = (1L << (bits - 1)) - 1;
        long min = -(1L << (bits - 1));
        VExpr.Ref x = v instanceof VExpr.Ref r ? r : b.wire(name + "_v", width, true, v);
        VExpr sign = new VExpr.Index(x, new VExpr.Int(width - 1));
        VExpr upper = width - 2 == bits - 1 ? new VExpr.Index(x, new VExpr.Int(bits - 1)) : new VExpr.Slice(x, width - 2, bits - 1);
        VExpr hi = VExpr.and(VExpr.not(sign), new VExpr.Unary("|", upper));
        VExpr lo = VExpr.and(sign, VExpr.not(new VExpr.Unary("&", upper)));
        return b.wire(name + "_sat", bits, true,
                new VExpr.Cond(hi, sconst(bits, max), new VExpr.Cond(lo, sconst(bits, min), new VExpr.Slice(x, bits - 1, 0))));
    }

    /** A signed {@code width}-bit value sign-extended to {@code bits} ({@code >= width}). */
    static VExpr signExtend(VExpr v, int width, int bits) {
        if (width == bits) {
            return v;
        }
        if (v instanceof VExpr.Const c) {
            return new VExpr.Const(bits, c.value(), true);
        }
        if (!(v instanceof VExpr.Ref)) {
            // Verilog cannot index an expression: its sign bit needs a named wire.
            throw new IllegalArgumentException("sign-extend a wire, not " + v);
        }
        VExpr sign = width == 1 ? v : new VExpr.Index(v, new VExpr.Int(width - 1));
        return new VExpr.Concat(List.of(new VExpr.Repeat(bits - width, sign), v));
    }

    /** The exact signed product of an {@code aBits}- and a {@code cBits}-bit value, {@code aBits+cBits} wide. */
    static VExpr.Ref mul(RtlBuilder b, String name, VExpr a, int aBits, VExpr c, int cBits) {
        int pb = aBits + cBits;
        // The operands are sign-extended into wires of their own: Yosys then sees an aBits x cBits
        // signed product (one iCE40 SB_MAC16 up to 16 x 16), where extending them inside the
        // product expression made it a pb x pb one (three SB_MAC16 for 12 x 11 bits).
        VExpr.Ref ax = b.wire(name + "_a", pb, true, signExtend(a, aBits, pb));
        VExpr.Ref cx = b.wire(name + "_b", pb, true, signExtend(c, cBits, pb));
        return b.wire(name, pb, true, new VExpr.Binary("*", ax, cx));
    }

    /**
     * {@code a > b} for two signed {@code bits}-wide values, as an unsigned comparison of the values
     * with their sign bits inverted: one carry chain, no sign fix-up logic after it.
     */
    static VExpr greater(VExpr.Ref a, VExpr.Ref b, int bits) {
        return VExpr.bin(">", offsetBinary(a, bits), offsetBinary(b, bits));
    }

    private static VExpr offsetBinary(VExpr.Ref v, int bits) {
        VExpr sign = VExpr.not(new VExpr.Index(v, new VExpr.Int(bits - 1)));
        return bits == 1 ? new VExpr.Concat(List.of(sign)) : new VExpr.Concat(List.of(sign, new VExpr.Slice(v, bits - 2, 0)));
    }

    /** {@code lane}-th {@code width}-bit field of a packed vector, as a signed wire. */
    static VExpr.Ref lane(RtlBuilder b, String name, VExpr vector, int lane, int width) {
        return b.wireQuietIfUnused(name, width, true, new VExpr.Slice(vector, (lane + 1) * width - 1, lane * width));
    }

    /** Bits of an unsigned counter that counts 0..n-1 (at least 1). */
    static int counterBits(int n) {
        return Math.max(1, 64 - Long.numberOfLeadingZeros(Math.max(n - 1, 1)));
    }

    /** Bits of an unsigned value 0..n. */
    static int valueBits(int n) {
        return Math.max(1, 64 - Long.numberOfLeadingZeros(n));
    }
}
