package io.streamfold.verilog;

import io.streamfold.hw.Channel;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.Stage;
import io.streamfold.quant.Lut;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QOp;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.streamfold.verilog.RtlFixed.counterBits;
import static io.streamfold.verilog.RtlFixed.sconst;
import static io.streamfold.verilog.RtlFixed.uconst;
import static io.streamfold.verilog.RtlFixed.valueBits;
import static io.streamfold.verilog.VExpr.and;
import static io.streamfold.verilog.VExpr.bin;
import static io.streamfold.verilog.VExpr.not;
import static io.streamfold.verilog.VExpr.ref;
import static io.streamfold.verilog.RtlKit.*;
import static io.streamfold.verilog.VerilogLowering.moduleName;

/** Verilog of the windowed stages: {@link Stage.SlidingWindow}, {@link Stage.PoolReduce}, {@link Stage.GlobalAvgPool}. */
final class WindowRtl {

    private WindowRtl() {
    }

    static VModule slidingWindow(HwDesign d, Map<String, String> files, Stage.SlidingWindow s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        int xb = s.format().bits();
        int e = s.elems();
        int cbN = s.channelBeats();
        int rows = s.rows();
        int h = s.height();
        int w = s.width();
        int depth = rows * w * cbN;
        // Signed width of row/column positions, window offsets and row counts (with a sign bit).
        int sb = valueBits(Math.max(h, w) + Math.max(s.strideH(), s.strideW()) + Math.max(s.kernelH(), s.kernelW()) + rows + 1) + 1;
        int ab = counterBits(depth);
        int slb = valueBits(2 * rows);
        int wxB = counterBits(w);
        int cbB = counterBits(cbN);
        int slotB = counterBits(rows);
        int wrB = valueBits(rows);
        int oyB = counterBits(s.outHeight());
        int oxB = counterBits(s.outWidth());
        int kyB = counterBits(s.kernelH());
        int kxB = counterBits(s.kernelW());

        VExpr.Ref buf = b.reg("buffer", e * xb, false, depth);
        b.comment("writer: position in the row being written, its slot, complete rows held");
        VExpr.Ref wx = b.reg("wx", wxB, false, 0);
        VExpr.Ref wcb = b.reg("wcb", cbB, false, 0);
        VExpr.Ref wslot = b.reg("wslot", slotB, false, 0);
        VExpr.Ref wrows = b.reg("wrows", wrB, false, 0);
        b.comment("reader: output position, window position, window origin, slots of row ylo and of row 0");
        VExpr.Ref oy = b.reg("oy", oyB, false, 0);
        VExpr.Ref ox = b.reg("ox", oxB, false, 0);
        VExpr.Ref ky = b.reg("ky", kyB, false, 0);
        VExpr.Ref kx = b.reg("kx", kxB, false, 0);
        VExpr.Ref cb = b.reg("cb", cbB, false, 0);
        VExpr.Ref ylo = b.reg("ylo", sb, true, 0);
        VExpr.Ref xlo = b.reg("xlo", sb, true, 0);
        VExpr.Ref rtop = b.reg("rtop", slotB, false, 0);
        VExpr.Ref rbase = b.reg("rbase", slotB, false, 0);

        VExpr inRow = b.wire("in_row", 1, false, bin("||", bin("!=", wx, uconst(wxB, 0)), bin("!=", wcb, uconst(cbB, 0))));
        VExpr wrowEnd = b.wire("wrow_end", 1, false, and(bin("==", wx, uconst(wxB, w - 1)), bin("==", wcb, uconst(cbB, cbN - 1))));
        VExpr.Ref kyS = b.wire("ky_s", sb, true, zext(ky, kyB, sb));
        VExpr.Ref kxS = b.wire("kx_s", sb, true, zext(kx, kxB, sb));
        VExpr.Ref iy = b.wire("iy", sb, true, bin("+", ylo, kyS));
        VExpr.Ref ix = b.wire("ix", sb, true, bin("+", xlo, kxS));
        VExpr padded = b.wire("padded", 1, false, bin("||", bin("||", bin("<", iy, sconst(sb, 0)), bin(">=", iy, sconst(sb, h))),
                bin("||", bin("<", ix, sconst(sb, 0)), bin(">=", ix, sconst(sb, w)))));
        VExpr.Ref yoff = b.wire("yoff", sb, true, new VExpr.Cond(new VExpr.Index(ylo, new VExpr.Int(sb - 1)), sconst(sb, 0), ylo));
        VExpr.Ref rel = b.wire("rel", sb, true, bin("-", iy, yoff));
        VExpr.Ref wrowsS = b.wire("wrows_s", sb, true, zext(wrows, wrB, sb));
        VExpr.Ref wxS = b.wire("wx_s", sb, true, zext(wx, wxB, sb));
        VExpr written = b.wire("written", 1, false, bin("||", bin("<", rel, wrowsS), and(bin("==", rel, wrowsS),
                bin("||", bin("<", ix, wxS), and(bin("==", ix, wxS), bin("<", cb, wcb))))));
        VExpr lastWin = b.wire("last_win", 1, false, and(and(bin("==", ky, uconst(kyB, s.kernelH() - 1)),
                bin("==", kx, uconst(kxB, s.kernelW() - 1))), bin("==", cb, uconst(cbB, cbN - 1))));
        VExpr rowEnd = b.wire("row_end", 1, false, and(lastWin, bin("==", ox, uconst(oxB, s.outWidth() - 1))));
        VExpr lastRow = b.wire("last_row", 1, false, bin("==", oy, uconst(oyB, s.outHeight() - 1)));
        // Rows released at the end of output row oy: a table of Stage.SlidingWindow#release.
        List<VExpr> releases = new ArrayList<>();
        for (int y = 0; y < s.outHeight(); y++) {
            releases.add(uconst(wrB, s.release(y)));
        }
        VExpr relTable = b.select("release_row", wrB, false, oy, releases);
        VExpr.Ref release = b.wire("free_rows", wrB, false, new VExpr.Cond(rowEnd, relTable, uconst(wrB, 0)));
        VExpr emit = b.wire("emit", 1, false, and(and(ref("out_ready"), bin("||", padded, written)), bin("<=", release, wrows)));
        // The writer may take a slot the reader releases in this same cycle.
        VExpr.Ref wrowsLeft = b.wire("wrows_left", wrB, false, bin("-", wrows, new VExpr.Cond(emit, release, uconst(wrB, 0))));
        VExpr write = b.wire("write", 1, false, and(ref("in_valid"), bin("||", inRow, bin("!=", wrowsLeft, uconst(wrB, rows)))));

        VExpr.Ref slotSum = b.wire("slot_sum", slb, false, bin("+", zext(rtop, slotB, slb), zext(ky, kyB, slb)));
        VExpr slot = b.wirePartlyUnused("slot", slb, false, new VExpr.Cond(bin(">=", slotSum, uconst(slb, rows)),
                bin("-", slotSum, uconst(slb, rows)), slotSum));
        VExpr.Ref ixLow = b.wirePartlyUnused("ix_low", sb, false, ix);
        VExpr raddr = b.wire("raddr", ab, false, bin("+", bin("*", bin("+", bin("*", fit(slot, slb, ab), uconst(ab, w)),
                fit(ixLow, sb, ab)), uconst(ab, cbN)), zext(cb, cbB, ab)));
        VExpr waddr = b.wire("waddr", ab, false, bin("+", bin("*", bin("+", bin("*", zext(wslot, slotB, ab), uconst(ab, w)),
                zext(wx, wxB, ab)), uconst(ab, cbN)), zext(wcb, cbB, ab)));
        long padBits = s.padValue() & ((1L << xb) - 1);
        VExpr padBeat = e == 1 ? uconst(xb, padBits) : new VExpr.Repeat(e, uconst(xb, padBits));
        b.add(new VItem.Assign(ref("out_data"), new VExpr.Cond(padded, padBeat, new VExpr.Index(buf, raddr))));
        b.add(new VItem.Assign(ref("out_push"), emit));
        b.add(new VItem.Assign(ref("in_pop"), write));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(write,
                List.of(new VStmt.NonBlocking(new VExpr.Index(buf, waddr), ref("in_data"))), List.of()))));

        // Slot arithmetic mod rows: every sum below is < 2*rows.
        VExpr.Ref rtopStep = b.wire("rtop_step", slb, false, bin("+", zext(rtop, slotB, slb), uconst(slb, s.strideH() % rows)));
        VExpr.Ref rbaseStep = b.wire("rbase_step", slb, false, bin("+", zext(rbase, slotB, slb), uconst(slb, h % rows)));
        VExpr rbaseNext = b.wirePartlyUnused("rbase_next", slb, false, modRows(rbaseStep, slb, rows));
        VExpr.Ref rtopImg = b.wire("rtop_img", slb, false, bin("+", rbaseNext, uconst(slb, (rows - s.padTop()) % rows)));
        VExpr rtopNextRow = b.wirePartlyUnused("rtop_row", slb, false, modRows(rtopStep, slb, rows));
        VExpr rtopNextImg = b.wirePartlyUnused("rtop_next_img", slb, false, modRows(rtopImg, slb, rows));

        List<VStmt> pixel = List.of(new VStmt.If(bin("==", ox, uconst(oxB, s.outWidth() - 1)),
                List.of(new VStmt.NonBlocking(ox, uconst(oxB, 0)), new VStmt.NonBlocking(xlo, sconst(sb, -s.padLeft())),
                        new VStmt.If(lastRow,
                                List.of(new VStmt.NonBlocking(oy, uconst(oyB, 0)), new VStmt.NonBlocking(ylo, sconst(sb, -s.padTop())),
                                        new VStmt.NonBlocking(rbase, new VExpr.Slice(rbaseNext, slotB - 1, 0)),
                                        new VStmt.NonBlocking(rtop, new VExpr.Slice(rtopNextImg, slotB - 1, 0))),
                                List.of(new VStmt.NonBlocking(oy, bin("+", oy, uconst(oyB, 1))),
                                        new VStmt.NonBlocking(ylo, bin("+", ylo, sconst(sb, s.strideH()))),
                                        new VStmt.NonBlocking(rtop, new VExpr.Slice(rtopNextRow, slotB - 1, 0))))),
                List.of(new VStmt.NonBlocking(ox, bin("+", ox, uconst(oxB, 1))),
                        new VStmt.NonBlocking(xlo, bin("+", xlo, sconst(sb, s.strideW()))))));
        List<VStmt> advance;
        if (s.channelMajor()) {
            advance = step(kx, kxB, s.kernelW(), step(ky, kyB, s.kernelH(), step(cb, cbB, cbN, pixel)));
        } else {
            advance = step(cb, cbB, cbN, step(kx, kxB, s.kernelW(), step(ky, kyB, s.kernelH(), pixel)));
        }
        List<VStmt> onWrite = step(wcb, cbB, cbN, step(wx, wxB, w,
                List.of(new VStmt.NonBlocking(wslot, wrap(wslot, slotB, rows)))));
        VExpr wrowsNext = bin("+", wrowsLeft, new VExpr.Cond(and(write, wrowEnd), uconst(wrB, 1), uconst(wrB, 0)));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(not(ref("aresetn")),
                List.of(new VStmt.NonBlocking(wx, uconst(wxB, 0)), new VStmt.NonBlocking(wcb, uconst(cbB, 0)),
                        new VStmt.NonBlocking(wslot, uconst(slotB, 0)), new VStmt.NonBlocking(wrows, uconst(wrB, 0)),
                        new VStmt.NonBlocking(oy, uconst(oyB, 0)), new VStmt.NonBlocking(ox, uconst(oxB, 0)),
                        new VStmt.NonBlocking(ky, uconst(kyB, 0)), new VStmt.NonBlocking(kx, uconst(kxB, 0)),
                        new VStmt.NonBlocking(cb, uconst(cbB, 0)), new VStmt.NonBlocking(ylo, sconst(sb, -s.padTop())),
                        new VStmt.NonBlocking(xlo, sconst(sb, -s.padLeft())),
                        new VStmt.NonBlocking(rtop, uconst(slotB, Math.floorMod(-s.padTop(), rows))),
                        new VStmt.NonBlocking(rbase, uconst(slotB, 0))),
                List.of(new VStmt.If(write, onWrite, List.of()),
                        new VStmt.NonBlocking(wrows, wrowsNext),
                        new VStmt.If(emit, advance, List.of()))))));
        String doc = "Sliding-window unit " + s.name() + " (" + s.source() + "): (" + s.channels() + ", " + h + ", " + w + ") in "
                + e + "-element beats, kernel " + s.kernelH() + "x" + s.kernelW() + ", stride " + s.strideH() + "x" + s.strideW()
                + ", pad " + s.padTop() + "," + s.padLeft() + " -> " + s.outHeight() + "x" + s.outWidth() + " windows, order "
                + (s.channelMajor() ? "(cb, ky, kx)" : "(ky, kx, cb)") + ", " + rows + " row slots.";
        return new VModule(mod, doc, List.of(), ports(e * xb, e * xb), b.items);
    }

    static VModule poolReduce(HwDesign d, Map<String, String> files, Stage.PoolReduce s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        QOp op = s.op();
        QFormat in = op.inputs().get(0);
        QFormat out = op.out();
        int xb = in.bits();
        int e = s.elems();
        int kk = s.windowSize();
        int kB = counterBits(kk);
        int cbB = counterBits(s.channelBeats());
        int posB = counterBits(s.positions());
        VExpr.Ref k = b.reg("k", kB, false, 0);
        VExpr.Ref cb = b.reg("cb", cbB, false, 0);
        VExpr first = b.wire("first", 1, false, bin("==", k, uconst(kB, 0)));
        VExpr last = b.wire("last", 1, false, bin("==", k, uconst(kB, kk - 1)));
        VExpr fire = b.wire("fire", 1, false, and(ref("in_valid"), bin("||", not(last), ref("out_ready"))));
        VExpr.Ref pos = null;
        VExpr.Ref recip = null;
        int rb = 0;
        if (op instanceof QOp.QAvgPool a) {
            rb = a.recipBits();
            long[] r = a.recip();
            boolean uniform = java.util.Arrays.stream(r).distinct().count() == 1;
            if (uniform) {
                recip = b.wire("recip", rb, true, sconst(rb, r[0]));
            } else {
                pos = b.reg("pos", posB, false, 0);
                List<VExpr> choices = new ArrayList<>();
                for (long v : r) {
                    choices.add(sconst(rb, v));
                }
                recip = b.wire("recip", rb, true, b.select("recip_pos", rb, true, pos, choices));
            }
        }
        List<VExpr> ys = new ArrayList<>();
        List<VStmt> accUpdates = new ArrayList<>();
        for (int p = 0; p < e; p++) {
            VExpr.Ref x = RtlFixed.lane(b, "x" + p, ref("in_data"), p, xb);
            if (op instanceof QOp.QMaxPool m) {
                VExpr.Ref acc = b.reg("acc" + p, xb, true, 0);
                VExpr.Ref v = b.wire("v" + p, xb, true, new VExpr.Cond(bin("||", first, bin(">", x, acc)), x, acc));
                accUpdates.add(new VStmt.NonBlocking(acc, v));
                ys.add(RtlFixed.requantize(b, "y" + p, v, xb, in.frac(), m.out()));
            } else {
                QOp.QAvgPool a = (QOp.QAvgPool) op;
                int sw = a.sumBits();
                VExpr.Ref acc = b.reg("acc" + p, sw, true, 0);
                VExpr.Ref v = b.wire("v" + p, sw, true, bin("+", new VExpr.Cond(first, sconst(sw, 0), acc), RtlFixed.signExtend(x, xb, sw)));
                accUpdates.add(new VStmt.NonBlocking(acc, v));
                VExpr.Ref prod = RtlFixed.mul(b, "prod" + p, v, sw, recip, rb);
                ys.add(RtlFixed.requantize(b, "y" + p, prod, sw + rb, in.frac() + a.recipFrac(), out));
            }
        }
        b.add(new VItem.Assign(ref("out_data"), concatLanes(ys)));
        b.add(new VItem.Assign(ref("in_pop"), fire));
        b.add(new VItem.Assign(ref("out_push"), and(fire, last)));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(fire, accUpdates, List.of()))));
        List<VStmt> onGroup = new ArrayList<>();
        if (pos != null) {
            onGroup.add(new VStmt.NonBlocking(pos, wrap(pos, posB, s.positions())));
        }
        List<VStmt> onLast = step(cb, cbB, s.channelBeats(), onGroup);
        List<VStmt> reset = new ArrayList<>(List.of(new VStmt.NonBlocking(k, uconst(kB, 0)), new VStmt.NonBlocking(cb, uconst(cbB, 0))));
        if (pos != null) {
            reset.add(new VStmt.NonBlocking(pos, uconst(posB, 0)));
        }
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(not(ref("aresetn")), reset,
                List.of(new VStmt.If(fire, List.of(new VStmt.If(last,
                        concat(List.of(new VStmt.NonBlocking(k, uconst(kB, 0))), onLast),
                        List.of(new VStmt.NonBlocking(k, bin("+", k, uconst(kB, 1)))))), List.of()))))));
        String doc = op.kind() + " reduce " + s.name() + " (" + s.source() + "): " + kk + " window beats of " + e + " x " + in
                + " per output beat of " + out + ".";
        return new VModule(mod, doc, List.of(), ports(e * xb, e * out.bits()), b.items);
    }

    static VModule globalAvgPool(HwDesign d, Map<String, String> files, Stage.GlobalAvgPool s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        QOp.QGlobalAvgPool op = s.op();
        QFormat in = op.in();
        int e = s.elems();
        int groups = s.groups();
        int sb = op.sumBits();
        int gb = counterBits(groups);
        int pb = counterBits(s.pixels());
        VExpr.Ref g = b.reg("g", gb, false, 0);
        VExpr.Ref p = b.reg("p", pb, false, 0);
        VExpr.Ref acc = b.reg("acc", e * sb, false, groups);
        VExpr first = b.wire("first", 1, false, bin("==", p, uconst(pb, 0)));
        VExpr last = b.wire("last", 1, false, bin("==", p, uconst(pb, s.pixels() - 1)));
        VExpr fire = b.wire("fire", 1, false, and(ref("in_valid"), bin("||", not(last), ref("out_ready"))));
        VExpr.Ref prev = b.wire("prev", e * sb, false, new VExpr.Index(acc, g));
        VExpr.Ref recip = b.wire("recip", op.recipBits(), true, sconst(op.recipBits(), op.recip()));
        List<VExpr> sums = new ArrayList<>();
        List<VExpr> ys = new ArrayList<>();
        for (int i = 0; i < e; i++) {
            VExpr.Ref x = RtlFixed.lane(b, "x" + i, ref("in_data"), i, in.bits());
            VExpr.Ref old = RtlFixed.lane(b, "old" + i, prev, i, sb);
            VExpr base = new VExpr.Cond(first, sconst(sb, 0), old);
            VExpr.Ref sum = b.wire("sum" + i, sb, true, bin("+", base, RtlFixed.signExtend(x, in.bits(), sb)));
            sums.add(sum);
            VExpr.Ref prod = RtlFixed.mul(b, "scaled" + i, sum, sb, recip, op.recipBits());
            ys.add(RtlFixed.requantize(b, "y" + i, prod, sb + op.recipBits(), in.frac() + op.recipFrac(), op.out()));
        }
        b.add(new VItem.Assign(ref("out_data"), concatLanes(ys)));
        b.add(new VItem.Assign(ref("in_pop"), fire));
        b.add(new VItem.Assign(ref("out_push"), and(fire, last)));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(fire,
                List.of(new VStmt.NonBlocking(new VExpr.Index(acc, g), concatLanes(sums))), List.of()))));
        VExpr lastGroup = bin("==", g, uconst(gb, groups - 1));
        b.add(clocked(List.of(new VStmt.NonBlocking(g, uconst(gb, 0)), new VStmt.NonBlocking(p, uconst(pb, 0))), fire, List.of(
                step(g, gb, groups),
                new VStmt.If(lastGroup, List.of(step(p, pb, s.pixels())), List.of()))));
        String doc = "Global average pooling " + s.name() + " (" + s.source() + "): " + s.channels() + " channels x " + s.pixels()
                + " pixels, " + e + " elements per beat, " + in + " -> " + op.out() + ", sums of " + sb + " bits.";
        return new VModule(mod, doc, List.of(), ports(e * in.bits(), e * op.out().bits()), b.items);
    }
}
