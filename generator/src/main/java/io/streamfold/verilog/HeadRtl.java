package io.streamfold.verilog;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.Stage;
import io.streamfold.quant.ExpTable;
import io.streamfold.quant.Lut;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QOp;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import static io.streamfold.verilog.RtlFixed.sconst;
import static io.streamfold.verilog.RtlFixed.uconst;
import static io.streamfold.verilog.RtlKit.clockedNoReset;
import static io.streamfold.verilog.RtlKit.concatLanes;
import static io.streamfold.verilog.RtlKit.fit;
import static io.streamfold.verilog.RtlKit.ports;
import static io.streamfold.verilog.RtlKit.set;
import static io.streamfold.verilog.RtlKit.zext;
import static io.streamfold.verilog.VExpr.and;
import static io.streamfold.verilog.VExpr.bin;
import static io.streamfold.verilog.VExpr.not;
import static io.streamfold.verilog.VExpr.ref;
import static io.streamfold.verilog.VerilogLowering.moduleName;

/**
 * Verilog of the full-rate heads, {@link Stage.SoftmaxTree} and {@link Stage.ArgmaxTree}: one
 * vector per cycle through a pipeline of free-running registers (no enable, no reset). The stage
 * fires when its input holds a beat and its output FIFO has room; the FIFO counts the vectors in
 * flight (its register stages carry only the push), so the pipeline never stalls and
 * {@code out_ready} reaches nothing but the decision to take a vector.
 */
final class HeadRtl {

    private HeadRtl() {
    }

    /** The pipeline registers of one module: each is declared and given its input here, all updated on one clock. */
    private static final class Pipe {
        final RtlBuilder b;
        final List<VStmt> updates = new ArrayList<>();
        int stages;

        Pipe(RtlBuilder b) {
            this.b = b;
        }

        /** A register of pipeline stage {@code stages} (call {@link #next()} after the stage's last). */
        VExpr.Ref reg(String name, int width, boolean signed, VExpr value) {
            VExpr.Ref r = b.reg("r" + (stages + 1) + "_" + name, width, signed, 0);
            updates.add(set(r, value));
            return r;
        }

        void next() {
            stages++;
        }
    }

    /** Stage modules take and give a beat in the same cycle; the reset reaches only the FIFOs. */
    private static VExpr handshake(RtlBuilder b) {
        b.add(new VItem.Comment("verilator lint_off UNUSEDSIGNAL"));
        b.wire("unused_reset", 1, false, ref("aresetn"));
        b.add(new VItem.Comment("verilator lint_on UNUSEDSIGNAL"));
        VExpr fire = b.wire("fire", 1, false, and(ref("in_valid"), ref("out_ready")));
        b.assign("in_pop", fire);
        b.assign("out_push", fire);
        return fire;
    }

    private static void checkLatency(Stage s, int built, int documented) {
        if (built != documented) {
            throw new IllegalStateException(s.name() + ": built " + built + " pipeline registers, the stage says " + documented);
        }
    }

    static VModule softmaxTree(HwDesign d, Map<String, String> files, Stage.SoftmaxTree s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        QOp.QSoftmax op = s.op();
        QFormat in = op.in();
        ExpTable exp = op.exp();
        int n = s.n();
        int xb = in.bits();
        int eb = exp.out().bits();
        int sb = op.sumBits();
        int k = op.recipShift();
        int q = s.divSteps();
        handshake(b);
        Pipe p = new Pipe(b);

        // 1. max tree over the lanes, then the table address of each lane; a register every R levels
        int every = s.pipelining().levelsPerRegister();
        List<VExpr.Ref> xs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            xs.add(RtlFixed.lane(b, "x" + i, ref("in_data"), i, xb));
        }
        List<VExpr.Ref> level = new ArrayList<>(xs);
        int lv = 0;
        while (level.size() > 1) {
            List<VExpr.Ref> next = new ArrayList<>();
            for (int j = 0; j + 1 < level.size(); j += 2) {
                VExpr.Ref l = level.get(j);
                VExpr.Ref r = level.get(j + 1);
                next.add(b.wire("max" + (lv + 1) + "_" + next.size(), xb, true, new VExpr.Cond(bin(">", r, l), r, l)));
            }
            if (level.size() % 2 == 1) {
                next.add(level.get(level.size() - 1));
            }
            level = next;
            lv++;
            if (lv % every == 0) {
                List<VExpr.Ref> regs = new ArrayList<>();
                for (int j = 0; j < level.size(); j++) {
                    regs.add(p.reg("max" + j, xb, true, level.get(j)));
                }
                List<VExpr.Ref> xr = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    xr.add(p.reg("x" + i, xb, true, xs.get(i)));
                }
                p.next();
                level = regs;
                xs = xr;
            }
        }
        VExpr.Ref max = level.get(0);
        VExpr.Ref maxLevel = max;
        List<VExpr.Ref> xsLevel = xs;
        int lvIndex = lv;
        // a plain table's address, e = table[index(max - x)] with the unsigned index saturated as in
        // Lut.index; a reduced table starts from the distance itself (ExpRtl registers it, then addresses its ROMs)
        List<VExpr.Ref> es = exp.accept(new ExpTable.Visitor<List<VExpr.Ref>>() {
            @Override
            public List<VExpr.Ref> plain(ExpTable.Plain pt) {
                Lut lut = pt.lut();
                int ib = lut.indexBits();
                List<VExpr> addrs = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    VExpr.Ref diff = distance(b, i, maxLevel, xsLevel.get(i), xb);
                    addrs.add(RtlFixed.tableAddress(b, "idx" + i, "addr" + i, diff, xb + 1, in.frac(), lut));
                }
                if ((lvIndex + 1) % every == 0) {
                    for (int i = 0; i < n; i++) {
                        addrs.set(i, p.reg("addr" + i, ib, false, addrs.get(i)));
                    }
                    p.next();
                }
                // 2. the table read, one ROM per lane (registered: block RAM)
                files.put(mod + "_exp.mem", MemFile.packed(lut.table(), 1, eb));
                List<VExpr.Ref> out = new ArrayList<>();
                List<VStmt> loads = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    VExpr.Ref rom = b.reg("exp_rom" + i, eb, false, lut.size());
                    loads.add(new VStmt.SysCall("$readmemh", List.of(mod + "_exp.mem", rom)));
                    out.add(p.reg("e" + i, eb, false, new VExpr.Index(rom, addrs.get(i))));
                }
                b.add(new VItem.Initial(loads));
                p.next();
                return out;
            }

            @Override
            public List<VExpr.Ref> reduced(ExpTable.Reduced r) {
                List<VExpr.Ref> ts = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    ts.add(distance(b, i, maxLevel, xsLevel.get(i), xb));
                }
                if ((lvIndex + 1) % every == 0) {
                    for (int i = 0; i < n; i++) {
                        ts.set(i, p.reg("t" + i, xb + 1, true, ts.get(i)));
                    }
                    p.next();
                }
                // 2. the exponential's stages, two ROMs per lane (registered reads: block RAM)
                ExpRtl.files(files, mod, r);
                List<VStmt> loads = new ArrayList<>();
                List<ExpRtl.Roms> roms = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    roms.add(ExpRtl.roms(b, mod, String.valueOf(i), r, loads));
                }
                b.add(new VItem.Initial(loads));
                List<VExpr> ys = ExpRtl.lanes(b, new ExpRtl.Stages() {
                    @Override
                    public VExpr.Ref reg(String name, int width, boolean signed, VExpr value) {
                        return p.reg(name, width, signed, value);
                    }

                    @Override
                    public void next() {
                        p.next();
                    }
                }, ts, xb + 1, r, roms);
                List<VExpr.Ref> out = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    out.add(p.reg("e" + i, eb, false, ys.get(i)));
                }
                p.next();
                return out;
            }
        });
        checkLatency(s, p.stages, s.indexStages() + s.expStages());

        // 3. adder tree of the table entries, then the restoring divider of 2^K by the sum, one
        // quotient bit per level; a register every R levels and after the last
        int levels = s.treeLevels() + q;
        List<VExpr> sums = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            sums.add(fit(es.get(i), eb, sb));
        }
        lv = 0;
        while (sums.size() > 1) {
            List<VExpr> next = new ArrayList<>();
            for (int j = 0; j + 1 < sums.size(); j += 2) {
                next.add(b.wire("sum" + (lv + 1) + "_" + next.size(), sb, false, bin("+", sums.get(j), sums.get(j + 1))));
            }
            if (sums.size() % 2 == 1) {
                next.add(sums.get(sums.size() - 1));
            }
            sums = next;
            lv++;
            if (lv % every == 0) {
                for (int j = 0; j < sums.size(); j++) {
                    sums.set(j, p.reg("sum" + j, sb, false, sums.get(j)));
                }
                es = carry(p, es, eb);
                p.next();
            }
        }
        VExpr sum = sums.get(0);
        // R starts at 2^K >> Q (below the least sum); step t shifts in bit Q-1-t of 2^K
        VExpr rem = uconst(sb, (1L << k) >>> q);
        VExpr quo = null;
        for (int t = 0; t < q; t++) {
            String dn = "div" + (t + 1);
            long bit = k == q - 1 - t ? 1 : 0;
            VExpr.Ref r2 = b.wire(dn + "_r2", sb + 1, false, new VExpr.Concat(List.of(rem, uconst(1, bit))));
            VExpr.Ref sub = b.wirePartlyUnused(dn + "_sub", sb + 2, false, bin("-", zext(r2, sb + 1, sb + 2), zext(sum, sb, sb + 2)));
            VExpr.Ref geq = b.wire(dn + "_geq", 1, false, not(new VExpr.Index(sub, new VExpr.Int(sb + 1))));
            rem = b.wire(dn + "_rem", sb, false, new VExpr.Cond(geq, new VExpr.Slice(sub, sb - 1, 0), new VExpr.Slice(r2, sb - 1, 0)));
            quo = quo == null ? geq : new VExpr.Concat(List.of(quo, geq));
            lv++;
            boolean lastStep = t == q - 1;
            if (lv % every == 0 || lastStep) {
                quo = p.reg("quo", t + 1, false, quo);
                if (!lastStep) {
                    rem = p.reg("rem", sb, false, rem);
                    sum = p.reg("sum", sb, false, sum);
                }
                es = carry(p, es, eb);
                p.next();
            }
        }
        checkLatency(s, p.stages, s.indexStages() + s.expStages() + s.divStages());
        if (lv != levels) {
            throw new IllegalStateException(s.name() + ": " + lv + " levels, expected " + levels);
        }

        // 4. the output register: e * q plus the rounding constant of the requantization, kept from
        // the first bit the shift keeps; the output is its saturation
        VExpr.Ref recip = b.wire("recip", q + 1, true, new VExpr.Concat(List.of(uconst(1, 0), quo)));
        int pb = eb + q + 1;
        int pw = pb + 1;
        int sh = k - op.out().frac();
        List<VExpr> ys = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            VExpr.Ref prod = RtlFixed.mul(b, "prod" + i, es.get(i), eb, recip, q + 1);
            VExpr wide = RtlFixed.signExtend(prod, pb, pw);
            if (sh > 0 && sh < pw) {
                VExpr.Ref rounded = b.wirePartlyUnused("prod" + i + "_rnd", pw, true, bin("+", wide, sconst(pw, 1L << (sh - 1))));
                VExpr.Ref y = p.reg("p" + i, pw - sh, true, new VExpr.Slice(rounded, pw - 1, sh));
                ys.add(RtlFixed.requantize(b, "y" + i, y, pw - sh, op.out().frac(), op.out()));
            } else {
                VExpr.Ref y = p.reg("p" + i, pw, true, b.wire("prod" + i + "_w", pw, true, wide));
                ys.add(RtlFixed.requantize(b, "y" + i, y, pw, k, op.out()));
            }
        }
        p.next();
        checkLatency(s, p.stages, s.latency());
        b.add(clockedNoReset(p.updates));
        b.assign("out_data", concatLanes(ys));
        String doc = "Full-rate softmax " + s.name() + " (" + s.source() + "): " + n + " elements in one beat, " + in + " -> " + op.out()
                + ", one vector per cycle.\nPipeline of " + s.latency() + " registers: max tree and table address (" + s.indexStages()
                + "), " + (s.expStages() == 1 ? "exp ROM per lane (1)" : "exponential per lane (" + s.expStages() + ")") + ", adder tree and restoring divider of 2^" + k + " by the " + sb + "-bit sum, " + q
                + " quotient bits (" + s.divStages() + "), product (1).\nThe output FIFO counts the vectors in flight; the pipeline never stalls.";
        return new VModule(mod, doc, List.of(), ports(n * xb, n * op.out().bits()), b.items());
    }

    /** A lane's distance below the maximum, {@code max - x} (never negative), as a signed wire one bit wider than the inputs. */
    private static VExpr.Ref distance(RtlBuilder b, int i, VExpr.Ref max, VExpr.Ref x, int xb) {
        return b.wire("diff" + i, xb + 1, true, bin("-", RtlFixed.signExtend(max, xb, xb + 1), RtlFixed.signExtend(x, xb, xb + 1)));
    }

    /** The lanes of {@code es} registered into the current pipeline stage. */
    private static List<VExpr.Ref> carry(Pipe p, List<VExpr.Ref> es, int width) {
        List<VExpr.Ref> out = new ArrayList<>();
        for (int i = 0; i < es.size(); i++) {
            out.add(p.reg("e" + i, width, false, es.get(i)));
        }
        return out;
    }

    static VModule argmaxTree(HwDesign d, Map<String, String> files, Stage.ArgmaxTree s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        int n = s.elems();
        int xb = s.in().bits();
        int ob = s.out().bits();
        handshake(b);
        Pipe p = new Pipe(b);
        // leaves in order of flat index: at every node the right operand wins only if strictly greater
        List<Integer> lanes = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            lanes.add(i);
        }
        lanes.sort(Comparator.comparingInt(s::index));
        List<VExpr.Ref> vs = new ArrayList<>();
        List<VExpr> idx = new ArrayList<>();
        for (int i : lanes) {
            vs.add(RtlFixed.lane(b, "x" + i, ref("in_data"), i, xb));
            idx.add(uconst(ob, s.index(i)));
        }
        int levels = s.treeLevels();
        int lv = 0;
        while (vs.size() > 1) {
            List<VExpr.Ref> nv = new ArrayList<>();
            List<VExpr> ni = new ArrayList<>();
            for (int j = 0; j + 1 < vs.size(); j += 2) {
                String nn = (lv + 1) + "_" + nv.size();
                VExpr.Ref take = b.wire("take" + nn, 1, false, bin(">", vs.get(j + 1), vs.get(j)));
                nv.add(b.wire("v" + nn, xb, true, new VExpr.Cond(take, vs.get(j + 1), vs.get(j))));
                ni.add(b.wire("i" + nn, ob, false, new VExpr.Cond(take, idx.get(j + 1), idx.get(j))));
            }
            if (vs.size() % 2 == 1) {
                nv.add(vs.get(vs.size() - 1));
                ni.add(idx.get(idx.size() - 1));
            }
            vs = nv;
            idx = ni;
            lv++;
            if (lv % s.pipelining().levelsPerRegister() == 0 || lv == levels) {
                for (int j = 0; j < idx.size(); j++) {
                    idx.set(j, p.reg("i" + j, ob, false, idx.get(j)));
                    if (lv < levels) {
                        vs.set(j, p.reg("v" + j, xb, true, vs.get(j)));
                    }
                }
                p.next();
            }
        }
        if (levels == 0) {
            idx.set(0, p.reg("i0", ob, false, idx.get(0)));
            p.next();
        }
        checkLatency(s, p.stages, s.latency());
        b.add(clockedNoReset(p.updates));
        b.assign("out_data", idx.get(0));
        String doc = "Full-rate argmax head " + s.name() + ": index (" + s.out() + ") of the largest of " + n
                + " elements in one beat, ties to the lowest index; comparator tree of " + levels + " levels, " + s.latency()
                + " register stage(s), one vector per cycle.";
        return new VModule(mod, doc, List.of(), ports(n * xb, ob), b.items());
    }
}
