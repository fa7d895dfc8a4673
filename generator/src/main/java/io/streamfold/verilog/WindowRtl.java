package io.streamfold.verilog;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.Stage;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QOp;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.streamfold.verilog.RtlFixed.counterBits;
import static io.streamfold.verilog.RtlFixed.sconst;
import static io.streamfold.verilog.RtlFixed.uconst;
import static io.streamfold.verilog.RtlFixed.valueBits;
import static io.streamfold.verilog.RtlKit.clocked;
import static io.streamfold.verilog.RtlKit.clockedNoReset;
import static io.streamfold.verilog.RtlKit.concatLanes;
import static io.streamfold.verilog.RtlKit.fit;
import static io.streamfold.verilog.RtlKit.modRows;
import static io.streamfold.verilog.RtlKit.nextValue;
import static io.streamfold.verilog.RtlKit.ports;
import static io.streamfold.verilog.RtlKit.set;
import static io.streamfold.verilog.RtlKit.syncRead;
import static io.streamfold.verilog.RtlKit.when;
import static io.streamfold.verilog.RtlKit.zext;
import static io.streamfold.verilog.VExpr.and;
import static io.streamfold.verilog.VExpr.bin;
import static io.streamfold.verilog.VExpr.not;
import static io.streamfold.verilog.VExpr.ref;
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
        int sb = valueBits(Math.max(h, w) + Math.max(s.strideH(), s.strideW()) + Math.max(s.spanH(), s.spanW()) + rows + 1) + 1;
        int ab = counterBits(depth);
        int slb = valueBits(2 * rows);
        int slotB = counterBits(rows);
        int wrB = valueBits(rows);

        VExpr.Ref buf = b.reg("buffer", e * xb, false, depth);
        b.comment("writer: position in the row being written, its slot, complete rows held");
        RtlCounter wx = b.counter("wx", w);
        RtlCounter wcb = b.counter("wcb", cbN);
        RtlCounter wslot = b.counter("wslot", rows);
        VExpr.Ref wrows = b.reg("wrows", wrB, false, 0);
        b.comment("reader: output position, window position, window origin, slots of row ylo and of row 0");
        RtlCounter oy = b.counter("oy", s.outHeight());
        RtlCounter ox = b.counter("ox", s.outWidth());
        RtlCounter ky = b.counter("ky", s.kernelH());
        RtlCounter kx = b.counter("kx", s.kernelW());
        RtlCounter cb = b.counter("cb", cbN);
        VExpr.Ref ylo = b.reg("ylo", sb, true, 0);
        VExpr.Ref xlo = b.reg("xlo", sb, true, 0);
        VExpr.Ref rtop = b.reg("rtop", slotB, false, 0);
        VExpr.Ref rbase = b.reg("rbase", slotB, false, 0);

        VExpr inRow = b.wire("in_row", 1, false,
                bin("||", bin("!=", wx.ref(), uconst(wx.bits(), 0)), bin("!=", wcb.ref(), uconst(wcb.bits(), 0))));
        VExpr wrowEnd = b.wire("wrow_end", 1, false, and(wx.atLast(), wcb.atLast()));
        // A dilated window steps DH rows (DW columns) per kernel tap.
        VExpr.Ref kyS = b.wire("ky_s", sb, true, dilate(ky.widen(sb), s.dilationH(), sconst(sb, s.dilationH())));
        VExpr.Ref kxS = b.wire("kx_s", sb, true, dilate(kx.widen(sb), s.dilationW(), sconst(sb, s.dilationW())));
        VExpr.Ref iy = b.wire("iy", sb, true, bin("+", ylo, kyS));
        VExpr.Ref ix = b.wire("ix", sb, true, bin("+", xlo, kxS));
        VExpr padded = b.wire("padded", 1, false, bin("||", bin("||", bin("<", iy, sconst(sb, 0)), bin(">=", iy, sconst(sb, h))),
                bin("||", bin("<", ix, sconst(sb, 0)), bin(">=", ix, sconst(sb, w)))));
        VExpr.Ref yoff = b.wire("yoff", sb, true, new VExpr.Cond(new VExpr.Index(ylo, new VExpr.Int(sb - 1)), sconst(sb, 0), ylo));
        VExpr.Ref rel = b.wire("rel", sb, true, bin("-", iy, yoff));
        VExpr.Ref wrowsS = b.wire("wrows_s", sb, true, zext(wrows, wrB, sb));
        VExpr.Ref wxS = b.wire("wx_s", sb, true, wx.widen(sb));
        VExpr written = b.wire("written", 1, false, bin("||", bin("<", rel, wrowsS), and(bin("==", rel, wrowsS),
                bin("||", bin("<", ix, wxS), and(bin("==", ix, wxS), bin("<", cb.ref(), wcb.ref()))))));
        VExpr lastWin = b.wire("last_win", 1, false, and(and(ky.atLast(), kx.atLast()), cb.atLast()));
        VExpr rowEnd = b.wire("row_end", 1, false, and(lastWin, ox.atLast()));
        VExpr lastRow = b.wire("last_row", 1, false, oy.atLast());
        // Rows released at the end of output row oy: a table of Stage.SlidingWindow#release.
        List<VExpr> releases = new ArrayList<>();
        for (int y = 0; y < s.outHeight(); y++) {
            releases.add(uconst(wrB, s.release(y)));
        }
        VExpr relTable = b.select("release_row", wrB, false, oy.ref(), releases);
        VExpr.Ref release = b.wire("free_rows", wrB, false, new VExpr.Cond(rowEnd, relTable, uconst(wrB, 0)));
        VExpr emit = b.wire("emit", 1, false, and(and(ref("out_ready"), bin("||", padded, written)), bin("<=", release, wrows)));
        // The writer may take a slot the reader releases in this same cycle.
        VExpr.Ref wrowsLeft = b.wire("wrows_left", wrB, false, bin("-", wrows, new VExpr.Cond(emit, release, uconst(wrB, 0))));
        VExpr write = b.wire("write", 1, false, and(ref("in_valid"), bin("||", inRow, bin("!=", wrowsLeft, uconst(wrB, rows)))));

        VExpr waddr = b.wire("waddr", ab, false, bin("+", bin("*", bin("+", bin("*", wslot.widen(ab), uconst(ab, w)),
                wx.widen(ab)), uconst(ab, cbN)), wcb.widen(ab)));
        long padBits = s.padValue() & ((1L << xb) - 1);
        VExpr padBeat = e == 1 ? uconst(xb, padBits) : new VExpr.Repeat(e, uconst(xb, padBits));
        // The line buffer is read synchronously: rdata captures the beat the next cycle reads
        // (addressed from the reader's next state, below), or the beat written at that same edge
        // when it is that one. So rdata always equals the combinational read of the current window
        // position, not a cycle changes, and synthesis maps the buffer to block RAM.
        VExpr.Ref rdata = b.reg("rdata", e * xb, false, 0);
        b.assign("out_data", new VExpr.Cond(padded, padBeat, rdata));
        b.assign("out_push", emit);
        b.assign("in_pop", write);
        b.add(clockedNoReset(write, List.of(set(new VExpr.Index(buf, waddr), ref("in_data")))));

        // Slot arithmetic mod rows: every sum below is < 2*rows.
        VExpr.Ref rtopStep = b.wire("rtop_step", slb, false, bin("+", zext(rtop, slotB, slb), uconst(slb, s.strideH() % rows)));
        VExpr.Ref rbaseStep = b.wire("rbase_step", slb, false, bin("+", zext(rbase, slotB, slb), uconst(slb, h % rows)));
        VExpr rbaseNext = b.wirePartlyUnused("rbase_next", slb, false, modRows(rbaseStep, slb, rows));
        VExpr.Ref rtopImg = b.wire("rtop_img", slb, false, bin("+", rbaseNext, uconst(slb, (rows - s.padTop()) % rows)));
        VExpr rtopNextRow = b.wirePartlyUnused("rtop_row", slb, false, modRows(rtopStep, slb, rows));
        VExpr rtopNextImg = b.wirePartlyUnused("rtop_next_img", slb, false, modRows(rtopImg, slb, rows));

        // The next output position: along the row by the column stride, then down by the row stride; after
        // the last row, the next image starts with its row 0 in the slot after this image's last row.
        List<VStmt> pixel = List.of(new VStmt.If(ox.atLast(),
                List.of(ox.clear(), set(xlo, sconst(sb, -s.padLeft())),
                        new VStmt.If(lastRow,
                                List.of(oy.clear(), set(ylo, sconst(sb, -s.padTop())),
                                        set(rbase, new VExpr.Slice(rbaseNext, slotB - 1, 0)),
                                        set(rtop, new VExpr.Slice(rtopNextImg, slotB - 1, 0))),
                                List.of(oy.inc(), set(ylo, bin("+", ylo, sconst(sb, s.strideH()))),
                                        set(rtop, new VExpr.Slice(rtopNextRow, slotB - 1, 0))))),
                List.of(ox.inc(), set(xlo, bin("+", xlo, sconst(sb, s.strideW()))))));
        List<VStmt> advance = s.channelMajor()
                ? kx.stepCarry(ky.stepCarry(cb.stepCarry(pixel)))
                : cb.stepCarry(kx.stepCarry(ky.stepCarry(pixel)));
        List<VStmt> onWrite = wcb.stepCarry(wx.stepCarry(List.of(wslot.step())));
        VExpr wrowsNext = bin("+", wrowsLeft, new VExpr.Cond(and(write, wrowEnd), uconst(wrB, 1), uconst(wrB, 0)));
        VItem.AlwaysFf control = clocked(List.of(wx.clear(), wcb.clear(), wslot.clear(), set(wrows, uconst(wrB, 0)),
                        oy.clear(), ox.clear(), ky.clear(), kx.clear(), cb.clear(),
                        set(ylo, sconst(sb, -s.padTop())), set(xlo, sconst(sb, -s.padLeft())),
                        set(rtop, uconst(slotB, Math.floorMod(-s.padTop(), rows))), set(rbase, uconst(slotB, 0))),
                List.of(when(write, onWrite), set(wrows, wrowsNext), when(emit, advance)));
        b.add(control);
        VExpr nRtop = b.wire("n_rtop", slotB, false, nextValue(rtop, control.body()));
        VExpr nKy = b.wire("n_ky", ky.bits(), false, nextValue(ky.ref(), control.body()));
        VExpr nKx = b.wire("n_kx", kx.bits(), false, nextValue(kx.ref(), control.body()));
        VExpr nCb = b.wire("n_cb", cb.bits(), false, nextValue(cb.ref(), control.body()));
        VExpr.Ref nXlo = b.wire("n_xlo", sb, true, nextValue(xlo, control.body()));
        // Buffer address of window element (ky, kx, cb) of the next position: slot (rtop + ky*DH) mod rows,
        // column xlo + kx*DW (the row slots hold the dilated span, so the sum stays below 2*rows).
        VExpr.Ref slotSum = b.wire("n_slot_sum", slb, false, bin("+", zext(nRtop, slotB, slb),
                dilate(zext(nKy, ky.bits(), slb), s.dilationH(), uconst(slb, s.dilationH()))));
        VExpr slot = b.wirePartlyUnused("n_slot", slb, false, new VExpr.Cond(bin(">=", slotSum, uconst(slb, rows)),
                bin("-", slotSum, uconst(slb, rows)), slotSum));
        VExpr.Ref ixNext = b.wirePartlyUnused("n_ix", sb, true, bin("+", nXlo,
                dilate(zext(nKx, kx.bits(), sb), s.dilationW(), sconst(sb, s.dilationW()))));
        VExpr raddrNext = b.wire("raddr_next", ab, false, bin("+", bin("*", bin("+", bin("*", fit(slot, slb, ab), uconst(ab, w)),
                fit(ixNext, sb, ab)), uconst(ab, cbN)), zext(nCb, cb.bits(), ab)));
        b.add(syncRead(rdata, buf, raddrNext, write, waddr, ref("in_data")));
        String doc = "Sliding-window unit " + s.name() + " (" + s.source() + "): (" + s.channels() + ", " + h + ", " + w + ") in "
                + e + "-element beats, kernel " + s.kernelH() + "x" + s.kernelW() + ", stride " + s.strideH() + "x" + s.strideW()
                + (s.dilated() ? ", dilation " + s.dilationH() + "x" + s.dilationW() : "")
                + ", pad " + s.padTop() + "," + s.padLeft() + " -> " + s.outHeight() + "x" + s.outWidth() + " windows, order "
                + (s.channelMajor() ? "(cb, ky, kx)" : "(ky, kx, cb)") + ", " + rows + " row slots.";
        return new VModule(mod, doc, List.of(), ports(e * xb, e * xb), b.items());
    }

    /** {@code tap * d}, or the tap itself when {@code d == 1} (undilated RTL stays as it was). */
    private static VExpr dilate(VExpr tap, int d, VExpr dConst) {
        return d == 1 ? tap : bin("*", tap, dConst);
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
        RtlCounter k = b.counter("k", kk);
        RtlCounter cb = b.counter("cb", s.channelBeats());
        VExpr first = b.wire("first", 1, false, k.is(0));
        VExpr last = b.wire("last", 1, false, k.atLast());
        VExpr fire = b.wire("fire", 1, false, and(ref("in_valid"), bin("||", not(last), ref("out_ready"))));
        RtlCounter pos = null;
        VExpr.Ref recip = null;
        int rb = 0;
        if (op instanceof QOp.QAvgPool a) {
            rb = a.recipBits();
            long[] r = a.recip();
            boolean uniform = java.util.Arrays.stream(r).distinct().count() == 1;
            if (uniform) {
                recip = b.wire("recip", rb, true, sconst(rb, r[0]));
            } else {
                // Windows that overlap the padding divide by fewer elements: the output position picks the reciprocal.
                pos = b.counter("pos", s.positions());
                List<VExpr> choices = new ArrayList<>();
                for (long v : r) {
                    choices.add(sconst(rb, v));
                }
                recip = b.wire("recip", rb, true, b.select("recip_pos", rb, true, pos.ref(), choices));
            }
        }
        List<VExpr> ys = new ArrayList<>();
        List<VStmt> accUpdates = new ArrayList<>();
        for (int p = 0; p < e; p++) {
            VExpr.Ref x = RtlFixed.lane(b, "x" + p, ref("in_data"), p, xb);
            if (op instanceof QOp.QMaxPool m) {
                VExpr.Ref acc = b.reg("acc" + p, xb, true, 0);
                VExpr.Ref v = b.wire("v" + p, xb, true, new VExpr.Cond(bin("||", first, bin(">", x, acc)), x, acc));
                accUpdates.add(set(acc, v));
                ys.add(RtlFixed.requantize(b, "y" + p, v, xb, in.frac(), m.out()));
            } else {
                QOp.QAvgPool a = (QOp.QAvgPool) op;
                int sw = a.sumBits();
                VExpr.Ref acc = b.reg("acc" + p, sw, true, 0);
                VExpr.Ref v = b.wire("v" + p, sw, true, bin("+", new VExpr.Cond(first, sconst(sw, 0), acc), RtlFixed.signExtend(x, xb, sw)));
                accUpdates.add(set(acc, v));
                VExpr.Ref prod = RtlFixed.mul(b, "prod" + p, v, sw, recip, rb);
                ys.add(RtlFixed.requantize(b, "y" + p, prod, sw + rb, in.frac() + a.recipFrac(), out));
            }
        }
        b.assign("out_data", concatLanes(ys));
        b.assign("in_pop", fire);
        b.assign("out_push", and(fire, last));
        b.add(clockedNoReset(fire, accUpdates));
        List<VStmt> reset = new ArrayList<>(List.of(k.clear(), cb.clear()));
        List<VStmt> onGroup = new ArrayList<>();
        if (pos != null) {
            reset.add(pos.clear());
            onGroup.add(pos.step());
        }
        b.add(clocked(reset, fire, k.stepCarry(last, cb.stepCarry(onGroup))));
        String doc = op.kind() + " reduce " + s.name() + " (" + s.source() + "): " + kk + " window beats of " + e + " x " + in
                + " per output beat of " + out + ".";
        return new VModule(mod, doc, List.of(), ports(e * xb, e * out.bits()), b.items());
    }

    static VModule globalAvgPool(HwDesign d, Map<String, String> files, Stage.GlobalAvgPool s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        QOp.QGlobalAvgPool op = s.op();
        QFormat in = op.in();
        int e = s.elems();
        int groups = s.groups();
        int sb = op.sumBits();
        RtlCounter g = b.counter("g", groups);
        RtlCounter p = b.counter("p", s.pixels());
        VExpr.Ref acc = b.reg("acc", e * sb, false, groups);
        VExpr first = b.wire("first", 1, false, p.is(0));
        VExpr last = b.wire("last", 1, false, p.atLast());
        VExpr fire = b.wire("fire", 1, false, and(ref("in_valid"), bin("||", not(last), ref("out_ready"))));
        VExpr.Ref prev = b.wire("prev", e * sb, false, new VExpr.Index(acc, g.ref()));
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
        b.assign("out_data", concatLanes(ys));
        b.assign("in_pop", fire);
        b.assign("out_push", and(fire, last));
        b.add(clockedNoReset(fire, List.of(set(new VExpr.Index(acc, g.ref()), concatLanes(sums)))));
        b.add(clocked(List.of(g.clear(), p.clear()), fire, List.of(g.step(), when(g.atLast(), List.of(p.step())))));
        String doc = "Global average pooling " + s.name() + " (" + s.source() + "): " + s.channels() + " channels x " + s.pixels()
                + " pixels, " + e + " elements per beat, " + in + " -> " + op.out() + ", sums of " + sb + " bits.";
        return new VModule(mod, doc, List.of(), ports(e * in.bits(), e * op.out().bits()), b.items());
    }
}
