package io.streamfold.verilog;

import io.streamfold.quant.ExpTable;
import io.streamfold.quant.Lut;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.streamfold.verilog.RtlFixed.uconst;
import static io.streamfold.verilog.RtlKit.fit;
import static io.streamfold.verilog.RtlKit.zext;
import static io.streamfold.verilog.VExpr.bin;

/**
 * Verilog of softmax's range-reduced exponential ({@link ExpTable.Reduced}), for the state
 * machine ({@link GraphRtl#softmax}) and the full-rate tree ({@link HeadRtl#softmaxTree}): from
 * each lane's distance {@code t = max - x} through {@link ExpTable.Reduced#STAGES} registers to
 * {@code e^-t}, the same integers as {@link ExpTable.Reduced#apply}.
 *
 * <p>Two ROMs, each read at a registered address into a register (block RAM, or logic when small):
 * the reduction ROM {@code {C, k}} and the interpolation ROM {@code {d, v}}, each padded with zero
 * words to a power of two so that every address reads a word. Register 1 holds {@code t};
 * register 2 the reduction word, the low bits of {@code t} and whether {@code t}'s cell is past the
 * ROM (then the result is 0, and what the datapath computes for it is never used); register 3
 * {@code r = t 2^up - C}; register 4 the interpolation word and the remainder; register 5 the
 * interpolation sum {@code v 2^s + d m} (one multiplier) from bit {@code S - 1} up; register 6
 * that shifted right by {@code k} (a barrel shifter); the caller's register 7 the rounding, so
 * that {@code shiftRound(acc, S + k)} is {@code ((acc >> (S - 1)) >> k) + 1 >> 1}
 * ({@code S = g + s}). {@code k} and the zero flag follow along. Each carry chain (the distance,
 * {@code r}, the sum, the increment), each ROM read and the barrel shift have a cycle of their own:
 * a ROM small enough to become logic is several LUT levels deep.
 */
final class ExpRtl {

    private ExpRtl() {
    }

    /** Where an emitter puts its pipeline registers: the registers of one stage, then {@link #next()}. */
    interface Stages {
        /** A register of the current stage, given {@code value}. */
        VExpr.Ref reg(String name, int width, boolean signed, VExpr value);

        /** Closes the current stage. */
        void next();

        /**
         * Free-running registers named {@code <prefix><stage>_<name>} (stages numbered from 1), each
         * written in {@code pipe} with its value.
         */
        static Stages numbered(RtlBuilder b, String prefix, List<VStmt> pipe) {
            return new Stages() {
                int stage = 1;

                @Override
                public VExpr.Ref reg(String name, int width, boolean signed, VExpr value) {
                    VExpr.Ref q = b.reg(prefix + stage + "_" + name, width, signed, 0);
                    pipe.add(RtlKit.set(q, value));
                    return q;
                }

                @Override
                public void next() {
                    stage++;
                }
            };
        }
    }

    /** The two ROMs of one reduced table. */
    record Roms(VExpr.Ref reduction, VExpr.Ref interpolation) {
    }

    /** Width of a reduction word {@code {C, k}}. */
    private static int reductionBits(ExpTable.Reduced e) {
        return e.offsetBits() + e.shiftBits();
    }

    /** Width of an interpolation word {@code {d, v}}. */
    private static int interpolationBits(ExpTable.Reduced e) {
        return e.slopeBits() + e.valueBits();
    }

    /**
     * The ROM files of {@code e} (once per module, {@code <mod>_exp_reduce.mem} and
     * {@code <mod>_exp_interp.mem}), padded with zero words to the ROMs' depths.
     */
    static void files(Map<String, String> files, String mod, ExpTable.Reduced e) {
        int kb = e.shiftBits();
        long[] red = new long[e.reductionDepth()];
        for (int j = 0; j < e.reductions(); j++) {
            red[j] = e.offset(j) << kb | e.shift(j);
        }
        int vb = e.valueBits();
        long mask = (1L << e.slopeBits()) - 1;
        long[] interp = new long[e.entryDepth()];
        for (int i = 0; i < e.entries(); i++) {
            interp[i] = (e.slope(i) & mask) << vb | e.value(i);
        }
        files.put(mod + "_exp_reduce.mem", MemFile.packed(red, 1, reductionBits(e)));
        files.put(mod + "_exp_interp.mem", MemFile.packed(interp, 1, interpolationBits(e)));
    }

    /** Declares a set of the two ROMs, named {@code exp_reduce_rom<suffix>}, {@code exp_interp_rom<suffix>}; their loads go to {@code loads}. */
    static Roms roms(RtlBuilder b, String mod, String suffix, ExpTable.Reduced e, List<VStmt> loads) {
        VExpr.Ref red = b.reg("exp_reduce_rom" + suffix, reductionBits(e), false, e.reductionDepth());
        VExpr.Ref interp = b.reg("exp_interp_rom" + suffix, interpolationBits(e), false, e.entryDepth());
        loads.add(new VStmt.SysCall("$readmemh", List.of(mod + "_exp_reduce.mem", red)));
        loads.add(new VStmt.SysCall("$readmemh", List.of(mod + "_exp_interp.mem", interp)));
        return new Roms(red, interp);
    }

    /** Bits {@code hi..lo} of an unsigned value, or a 1-bit zero when the range is empty. */
    private static VExpr bits(VExpr.Ref v, int hi, int lo) {
        if (hi < lo) {
            return uconst(1, 0);
        }
        return hi == lo ? new VExpr.Index(v, new VExpr.Int(lo)) : new VExpr.Slice(v, hi, lo);
    }

    /**
     * The exponentials of the lanes' distances {@code ts} (signed {@code tw}-bit wires, never
     * negative): the first {@code STAGES - 1} registers through {@code st} (closing each stage),
     * and per lane the {@code out.bits}-wide unsigned value for the caller's last register. Lane
     * {@code i} reads {@code roms.get(i)} (one set shared by every lane, or one set each).
     */
    static List<VExpr> lanes(RtlBuilder b, Stages st, List<VExpr.Ref> ts, int tw, ExpTable.Reduced e, List<Roms> roms) {
        int n = ts.size();
        int ub = tw - 1;
        int a = e.reduceShift();
        int m1 = e.reductionAddressBits();
        int m2 = e.entryAddressBits();
        int tb = Math.max(1, Math.min(ub, a + m1));
        int kb = e.shiftBits();
        int cb = e.offsetBits();
        int vb = e.valueBits();
        int db = e.slopeBits();
        int s = e.interpBits();
        int rb = m2 + s;
        int up = e.rFrac() - e.inFrac();
        int ab = e.accBits();
        int eb = e.out().bits();
        // register 1: the distance, without its sign bit (always 0)
        List<VExpr.Ref> t1 = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            VExpr.Ref t = b.wirePartlyUnused("exp_t" + i, tw, false, ts.get(i));
            t1.add(st.reg("t" + i, ub, false, bits(t, ub - 1, 0)));
        }
        st.next();
        // register 2: the reduction word at j = t >> reduceShift, whether j is past the ROM, t's low bits
        long last = e.reductions() - 1;
        List<VExpr.Ref> w2 = new ArrayList<>();
        List<VExpr.Ref> c2 = new ArrayList<>();
        List<VExpr.Ref> z = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            VExpr.Ref t = t1.get(i);
            VExpr addr = m1 == 0 ? uconst(1, 0) : bits(t, a + m1 - 1, a);
            w2.add(st.reg("red" + i, reductionBits(e), false, new VExpr.Index(roms.get(i).reduction(), addr)));
            c2.add(st.reg("c" + i, tb, false, bits(t, tb - 1, 0)));
            // codes of j past the last entry give 0; when every code's cell has an entry, none is past it
            VExpr past = a >= ub || last >= (1L << (ub - a)) - 1 ? uconst(1, 0)
                    : bin(">", bits(t, ub - 1, a), uconst(ub - a, last));
            z.add(st.reg("z" + i, 1, false, past));
        }
        st.next();
        // register 3: r = t 2^up - C
        List<VExpr.Ref> r3 = new ArrayList<>();
        List<VExpr.Ref> k = new ArrayList<>();
        int ww = Math.max(Math.max(tb + up, cb), rb) + 1;
        for (int i = 0; i < n; i++) {
            VExpr.Ref w = w2.get(i);
            VExpr.Ref off = b.wire("exp_off" + i, cb, false, bits(w, kb + cb - 1, kb));
            VExpr scaled = up == 0 ? c2.get(i) : new VExpr.Concat(List.of(c2.get(i), uconst(up, 0)));
            VExpr.Ref diff = b.wirePartlyUnused("exp_rw" + i, ww, false, bin("-", zext(scaled, tb + up, ww), zext(off, cb, ww)));
            r3.add(st.reg("r" + i, rb, false, bits(diff, rb - 1, 0)));
            k.add(st.reg("k" + i, kb, false, bits(w, kb - 1, 0)));
        }
        along(st, z, "z", 1);
        st.next();
        // register 4: the interpolation word at i = r >> s, and the remainder
        List<VExpr.Ref> w4 = new ArrayList<>();
        List<VExpr.Ref> m4 = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            VExpr.Ref r = r3.get(i);
            VExpr idx = m2 == 0 ? uconst(1, 0) : bits(r, rb - 1, s);
            w4.add(st.reg("int" + i, interpolationBits(e), false, new VExpr.Index(roms.get(i).interpolation(), idx)));
            m4.add(st.reg("m" + i, s, false, bits(r, s - 1, 0)));
        }
        along(st, k, "k", kb);
        along(st, z, "z", 1);
        st.next();
        // register 5: acc = v 2^s + d m (exact and non-negative) without the bits below S - 1, which
        // the rounded shift by S + k never reads
        int shift = Lut.GUARD_BITS + s;
        int hb = ab - shift + 1;
        List<VExpr.Ref> a5 = new ArrayList<>();
        int pb = db + s + 1;
        int sw = Math.max(vb + s + 1, pb) + 1;
        for (int i = 0; i < n; i++) {
            VExpr.Ref w = w4.get(i);
            VExpr.Ref v = b.wire("exp_v" + i, vb, false, bits(w, vb - 1, 0));
            VExpr.Ref d = b.wire("exp_d" + i, db, true, bits(w, vb + db - 1, vb));
            VExpr.Ref m = b.wire("exp_m" + i, s + 1, true, new VExpr.Concat(List.of(uconst(1, 0), m4.get(i))));
            VExpr.Ref prod = RtlFixed.mul(b, "exp_prod" + i, d, db, m, s + 1);
            VExpr.Ref vs = b.wire("exp_vs" + i, vb + s + 1, true, new VExpr.Concat(List.of(uconst(1, 0), v, uconst(s, 0))));
            VExpr.Ref sum = b.wirePartlyUnused("exp_sum" + i, sw, true,
                    bin("+", RtlFixed.signExtend(vs, vb + s + 1, sw), RtlFixed.signExtend(prod, pb, sw)));
            a5.add(st.reg("acc" + i, hb, false, bits(sum, ab - 1, shift - 1)));
        }
        along(st, k, "k", kb);
        along(st, z, "z", 1);
        st.next();
        // register 6: the shift by k (acc kept one bit below the result for the rounding)
        List<VExpr.Ref> h6 = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            h6.add(st.reg("sh" + i, hb, false, bin(">>", a5.get(i), k.get(i))));
        }
        along(st, z, "z", 1);
        st.next();
        // the rounding: half a result step up, then the bit below it dropped
        List<VExpr> ys = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            VExpr.Ref rnd = b.wirePartlyUnused("exp_rnd" + i, hb + 1, false, bin("+", zext(h6.get(i), hb, hb + 1), uconst(hb + 1, 1)));
            VExpr.Ref y = b.wire("exp_y" + i, hb, false, new VExpr.Cond(z.get(i), uconst(hb, 0), bits(rnd, hb, 1)));
            ys.add(fit(y, hb, eb));
        }
        return ys;
    }

    /** Carries the lanes' {@code vs} into the current stage as registers {@code <name><lane>}, replacing each by its register. */
    private static void along(Stages st, List<VExpr.Ref> vs, String name, int width) {
        for (int i = 0; i < vs.size(); i++) {
            vs.set(i, st.reg(name + i, width, false, vs.get(i)));
        }
    }
}
