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
import static io.streamfold.verilog.RtlKit.ports;
import static io.streamfold.verilog.RtlKit.set;
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

        // The writer's state as registers: its counters' last-value flags, "inside a row" and "a
        // slot is free" (wrows < rows at the start of the cycle), so its decision is one gate.
        List<VStmt> wflagReset = new ArrayList<>();
        VExpr.Ref wxL = RtlKit.lastFlag(b, "wx_last", wx, wflagReset);
        VExpr.Ref wcbL = RtlKit.lastFlag(b, "wcb_last", wcb, wflagReset);
        VExpr.Ref inRow = b.reg("in_row", 1, false, 0);
        VExpr.Ref freeQ = b.reg("free_q", 1, false, 0);
        VExpr wrowEnd = b.wire("wrow_end", 1, false, and(wxL, wcbL));
        // The reader's column as a register kept beside its counters, ix = xlo + kx*DW;
        // relamt = release(oy).
        VExpr.Ref ix = b.reg("ix", sb, true, 0);
        VExpr.Ref relamt = b.reg("relamt", wrB, false, 0);
        VExpr.Ref wxS = b.wire("wx_s", sb, true, wx.widen(sb));
        // "counter at its last value" as registers kept with the counters (RtlKit.lastFlag)
        List<VStmt> flagReset = new ArrayList<>();
        VExpr.Ref kxL = RtlKit.lastFlag(b, "kx_last", kx, flagReset);
        VExpr.Ref kyL = RtlKit.lastFlag(b, "ky_last", ky, flagReset);
        VExpr.Ref cbL = RtlKit.lastFlag(b, "cb_last", cb, flagReset);
        VExpr lastWin = b.wire("last_win", 1, false, and(and(kyL, kxL), cbL));
        VExpr.Ref oxL = RtlKit.lastFlag(b, "ox_last", ox, flagReset);
        VExpr rowEnd = b.wire("row_end", 1, false, and(lastWin, oxL));
        VExpr.Ref lastRow = RtlKit.lastFlag(b, "last_row", oy, flagReset);
        // Padding of the current window beat, as registers.
        VExpr.Ref padXQ = b.reg("pad_x_q", 1, false, 0);
        VExpr.Ref padYQ = b.reg("pad_y_q", 1, false, 0);
        VExpr padQ = b.wire("pad_q", 1, false, bin("||", padXQ, padYQ));
        // Readiness of the current output row as one register (Stage.SlidingWindow#rowNeed): the
        // rows it needs complete as of the previous cycle, so the emit is one gate of out_ready.
        // need = rowNeed(oy); needx = rowNeed(next row) + release(oy), the next row's need seen
        // before this row's release.
        VExpr.Ref need = b.reg("need", slb, false, 0);
        VExpr.Ref needx = b.reg("needx", slb, false, 0);
        VExpr.Ref rowokQ = b.reg("rowok_q", 1, false, 0);
        VExpr emit = b.wire("emit", 1, false, and(ref("out_ready"), rowokQ));
        // The writer decides on start-of-cycle state only: a slot the reader frees in a cycle is
        // taken from the next one on.
        VExpr write = b.wire("write", 1, false, and(ref("in_valid"), bin("||", inRow, freeQ)));

        VExpr waddr = b.wire("waddr", ab, false, bin("+", bin("*", bin("+", bin("*", wslot.widen(ab), uconst(ab, w)),
                wx.widen(ab)), uconst(ab, cbN)), wcb.widen(ab)));
        long padBits = s.padValue() & ((1L << xb) - 1);
        VExpr padBeat = e == 1 ? uconst(xb, padBits) : new VExpr.Repeat(e, uconst(xb, padBits));
        // The line buffer is read synchronously (block RAM) from an address register: the beat
        // pushed in cycle t has its address registered at the edge ending t, is read at the edge
        // ending t+1 and presented in cycle t+2 from rdata (or the pad value); the output channel's
        // two register stages carry only the push (Stage#registersOwnOutput). A beat is pushed
        // only once written, at an earlier edge, and its row is released at the earliest at the
        // edge ending t, so a write at the edge of the read is to a released row (the read returns
        // the old contents either way).
        VExpr.Ref raddrQ = b.reg("raddr_q", ab, false, 0);
        VExpr.Ref paddedQ1 = b.reg("padded_q1", 1, false, 0);
        VExpr.Ref rdata = b.reg("rdata", e * xb, false, 0);
        VExpr.Ref paddedQ = b.reg("padded_q", 1, false, 0);
        b.assign("out_data", new VExpr.Cond(paddedQ, padBeat, rdata));
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

        // Which counters step and wrap when the reader advances (window order (ky, kx, cb) or (cb, ky, kx)).
        VExpr kxStep = s.channelMajor() ? uconst(1, 1) : cbL;
        VExpr kxWrap = b.wire("kx_wrap", 1, false, s.channelMajor() ? kxL : and(cbL, kxL));
        VExpr kyStep = kxWrap;
        VExpr kyWrap = b.wire("ky_wrap", 1, false, and(kxWrap, kyL));
        // The next window origin after the last beat of this window.
        VExpr.Ref xloNext = b.wire("xlo_next", sb, true, new VExpr.Cond(oxL, sconst(sb, -s.padLeft()), bin("+", xlo, sconst(sb, s.strideW()))));
        VExpr.Ref yloNext = b.wire("ylo_next", sb, true, new VExpr.Cond(oxL,
                new VExpr.Cond(lastRow, sconst(sb, -s.padTop()), bin("+", ylo, sconst(sb, s.strideH()))), ylo));
        // Rows released at the end of output row oy: a table of Stage.SlidingWindow#release, read for the next row.
        List<VExpr> releases = new ArrayList<>();
        for (int y = 0; y < s.outHeight(); y++) {
            releases.add(uconst(wrB, s.release(y)));
        }
        VExpr oyNext = b.wire("oy_next", oy.bits(), false, oy.next(lastRow));
        VExpr relNextRow = b.select("release_next", wrB, false, oyNext, releases);
        List<VExpr> needs = new ArrayList<>();
        List<VExpr> needxs = new ArrayList<>();
        for (int y = 0; y < s.outHeight(); y++) {
            int next = y + 1 == s.outHeight() ? 0 : y + 1;
            needs.add(uconst(slb, s.rowNeed(y)));
            needxs.add(uconst(slb, s.rowNeed(next) + s.release(y)));
        }
        VExpr needNext = b.select("need_next", slb, false, oyNext, needs);
        VExpr needxNext = b.select("needx_next", slb, false, oyNext, needxs);
        // The next output position: along the row by the column stride, then down by the row stride; after
        // the last row, the next image starts with its row 0 in the slot after this image's last row.
        List<VStmt> pixel = List.of(set(xlo, xloNext), set(ylo, yloNext), RtlKit.stepFlag(oxL, ox), new VStmt.If(oxL,
                List.of(ox.clear(), set(oy.ref(), oyNext), set(relamt, relNextRow), set(need, needNext), set(needx, needxNext),
                        RtlKit.stepFlag(lastRow, oy),
                        new VStmt.If(lastRow,
                                List.of(set(rbase, new VExpr.Slice(rbaseNext, slotB - 1, 0)),
                                        set(rtop, new VExpr.Slice(rtopNextImg, slotB - 1, 0))),
                                List.of(set(rtop, new VExpr.Slice(rtopNextRow, slotB - 1, 0))))),
                List.of(ox.inc())));
        // The window position after this beat (what the registers take when the reader emits).
        VExpr.Ref ixAdv = b.wire("ix_adv", sb, true, new VExpr.Cond(lastWin, xloNext, new VExpr.Cond(kxWrap, xlo,
                s.channelMajor() ? bin("+", ix, sconst(sb, s.dilationW()))
                        : new VExpr.Cond(kxStep, bin("+", ix, sconst(sb, s.dilationW())), ix))));
        // Padding of the next beat, from comparisons of the registers with constants (v + c outside
        // [0, n) is v outside [-c, n - c)), chosen by the same conditions as the position.
        // Padding of the next beat from tables indexed by the current counters (no arithmetic):
        // column ox*SW - PL + kx*DW outside [0, W) after a kx step, a kx wrap or a new window; the
        // same for rows.
        int sw0 = s.strideW();
        int sh0 = s.strideH();
        VExpr padXStep = flagTable(b, "pad_x_step", ox, kx, (o, k) -> k + 1 < s.kernelW()
                && s.padded(0, o * sw0 - s.padLeft() + (k + 1) * s.dilationW()));
        VExpr padX0 = flagTable(b, "pad_x_0", ox, null, (o, k) -> s.padded(0, o * sw0 - s.padLeft()));
        VExpr padXNext = flagTable(b, "pad_x_next", ox, null, (o, k) -> s.padded(0, (o + 1 < s.outWidth() ? o + 1 : 0) * sw0 - s.padLeft()));
        VExpr padYStep = flagTable(b, "pad_y_step", oy, ky, (o, k) -> k + 1 < s.kernelH()
                && s.padded(o * sh0 - s.padTop() + (k + 1) * s.dilationH(), 0));
        VExpr padY0 = flagTable(b, "pad_y_0", oy, null, (o, k) -> s.padded(o * sh0 - s.padTop(), 0));
        VExpr padYNext = flagTable(b, "pad_y_next", oy, null, (o, k) -> s.padded((o + 1 < s.outHeight() ? o + 1 : 0) * sh0 - s.padTop(), 0));
        VExpr padXAdv = b.wire("pad_x_adv", 1, false, new VExpr.Cond(lastWin, padXNext,
                new VExpr.Cond(kxWrap, padX0, s.channelMajor() ? padXStep : new VExpr.Cond(kxStep, padXStep, padXQ))));
        VExpr padYAdv = b.wire("pad_y_adv", 1, false, new VExpr.Cond(lastWin, new VExpr.Cond(oxL, padYNext, padY0),
                new VExpr.Cond(kyWrap, padY0, new VExpr.Cond(kyStep, padYStep, padYQ))));
        VExpr.Ref wrowsWide = b.wire("wrows_w", slb, false, zext(wrows, wrB, slb));
        // At a row end the next row's need is compared before this row's release (needx).
        VExpr rowokNext = b.wire("rowok_next", 1, false, new VExpr.Cond(and(emit, rowEnd), bin("<=", needx, wrowsWide),
                bin("<=", need, wrowsWide)));
        List<VStmt> walk = new ArrayList<>();
        walk.add(set(ix, ixAdv));
        walk.add(set(padXQ, padXAdv));
        walk.add(set(padYQ, padYAdv));
        walk.addAll(s.channelMajor()
                ? kx.stepCarry(kxL, ky.stepCarry(kyL, cb.stepCarry(cbL, List.of())))
                : cb.stepCarry(cbL, kx.stepCarry(kxL, ky.stepCarry(kyL, List.of()))));
        if (s.channelMajor()) {
            walk.add(RtlKit.stepFlag(kxL, kx));
            walk.add(when(kxL, List.of(RtlKit.stepFlag(kyL, ky))));
            walk.add(when(kyWrap, List.of(RtlKit.stepFlag(cbL, cb))));
        } else {
            walk.add(RtlKit.stepFlag(cbL, cb));
            walk.add(when(cbL, List.of(RtlKit.stepFlag(kxL, kx))));
            walk.add(when(kxWrap, List.of(RtlKit.stepFlag(kyL, ky))));
        }
        walk.add(when(lastWin, pixel));
        List<VStmt> onWrite = new ArrayList<>(wcb.stepCarry(wcbL, wx.stepCarry(wxL, List.of(wslot.step()))));
        onWrite.add(RtlKit.stepFlag(wcbL, wcb));
        onWrite.add(when(wcbL, List.of(RtlKit.stepFlag(wxL, wx))));
        onWrite.add(set(inRow, not(wrowEnd)));
        // The rows held after the edge and whether a slot is then free, for each of the four ways
        // the edge can go (a release by the reader, a row completed by the writer), computed from
        // registers alone: the decisions of the cycle only pick one.
        VExpr.Ref wrowsRel = b.wire("wrows_rel", wrB, false, bin("-", wrows, relamt));
        VExpr.Ref wrowsRelInc = b.wire("wrows_rel_inc", wrB, false, bin("+", wrowsRel, uconst(wrB, 1)));
        VExpr.Ref wrowsInc = b.wire("wrows_inc", wrB, false, bin("+", wrows, uconst(wrB, 1)));
        VExpr.Ref released = b.wire("released", 1, false, and(emit, rowEnd));
        VExpr.Ref completed = b.wire("completed", 1, false, and(write, wrowEnd));
        VExpr.Ref wrowsNext = b.wire("wrows_next", wrB, false, new VExpr.Cond(released,
                new VExpr.Cond(completed, wrowsRelInc, wrowsRel), new VExpr.Cond(completed, wrowsInc, wrows)));
        VExpr freeNext = b.wire("free_next", 1, false, new VExpr.Cond(released,
                new VExpr.Cond(completed, bin("!=", wrowsRelInc, uconst(wrB, rows)), bin("!=", wrowsRel, uconst(wrB, rows))),
                new VExpr.Cond(completed, bin("!=", wrowsInc, uconst(wrB, rows)), bin("!=", wrows, uconst(wrB, rows)))));
        List<VStmt> reset = new ArrayList<>(flagReset);
        reset.addAll(wflagReset);
        reset.add(set(inRow, uconst(1, 0)));
        reset.add(set(freeQ, uconst(1, rows > 0 ? 1 : 0)));
        reset.addAll(List.of(wx.clear(), wcb.clear(), wslot.clear(), set(wrows, uconst(wrB, 0)),
                        oy.clear(), ox.clear(), ky.clear(), kx.clear(), cb.clear(),
                        set(ylo, sconst(sb, -s.padTop())), set(xlo, sconst(sb, -s.padLeft())),
                        set(ix, sconst(sb, -s.padLeft())), set(relamt, uconst(wrB, s.release(0))),
                        set(rtop, uconst(slotB, Math.floorMod(-s.padTop(), rows))), set(rbase, uconst(slotB, 0)),
                        set(padXQ, uconst(1, s.padded(0, -s.padLeft()) ? 1 : 0)), set(padYQ, uconst(1, s.padded(-s.padTop(), 0) ? 1 : 0)),
                        set(need, needs.get(0)), set(needx, needxs.get(0)), set(rowokQ, uconst(1, s.rowNeed(0) <= 0 ? 1 : 0))));
        b.add(clocked(reset, List.of(when(write, onWrite), set(wrows, wrowsNext),
                set(freeQ, freeNext), when(emit, walk), set(rowokQ, rowokNext))));
        // Buffer address of window element (ky, kx, cb): slot (rtop + ky*DH) mod rows, column
        // ix = xlo + kx*DW (the row slots hold the dilated span, so the sum stays below 2*rows).
        VExpr.Ref slotSum = b.wire("slot_sum", slb, false, bin("+", zext(rtop, slotB, slb),
                dilate(zext(ky.ref(), ky.bits(), slb), s.dilationH(), uconst(slb, s.dilationH()))));
        VExpr slot = b.wirePartlyUnused("slot", slb, false, new VExpr.Cond(bin(">=", slotSum, uconst(slb, rows)),
                bin("-", slotSum, uconst(slb, rows)), slotSum));
        VExpr raddr = b.wire("raddr", ab, false, bin("+", bin("*", bin("+", bin("*", fit(slot, slb, ab), uconst(ab, w)),
                fit(ix, sb, ab)), uconst(ab, cbN)), zext(cb.ref(), cb.bits(), ab)));
        b.add(clockedNoReset(List.of(set(raddrQ, raddr), set(paddedQ1, padQ), set(rdata, new VExpr.Index(buf, raddrQ)),
                set(paddedQ, paddedQ1))));
        String doc = "Sliding-window unit " + s.name() + " (" + s.source() + "): (" + s.channels() + ", " + h + ", " + w + ") in "
                + e + "-element beats, kernel " + s.kernelH() + "x" + s.kernelW() + ", stride " + s.strideH() + "x" + s.strideW()
                + (s.dilated() ? ", dilation " + s.dilationH() + "x" + s.dilationW() : "")
                + ", pad " + s.padTop() + "," + s.padLeft() + " -> " + s.outHeight() + "x" + s.outWidth() + " windows, order "
                + (s.channelMajor() ? "(cb, ky, kx)" : "(ky, kx, cb)") + ", " + rows + " row slots.";
        return new VModule(mod, doc, List.of(), ports(e * xb, e * xb), b.items());
    }

    /**
     * A one-bit table {@code f(o, k)} indexed by the counters {@code outer} and {@code inner}
     * ({@code {outer, inner}}; {@code inner} may be null), as a case over their registers.
     */
    private static VExpr flagTable(RtlBuilder b, String name, RtlCounter outer, RtlCounter inner,
            java.util.function.BiPredicate<Integer, Integer> f) {
        List<VExpr> choices = new ArrayList<>();
        if (inner == null) {
            for (int o = 0; o < outer.n(); o++) {
                choices.add(uconst(1, f.test(o, 0) ? 1 : 0));
            }
            return b.select(name, 1, false, outer.ref(), choices);
        }
        int size = 1 << (outer.bits() + inner.bits());
        for (int i = 0; i < size; i++) {
            int o = i >> inner.bits();
            int k = i & ((1 << inner.bits()) - 1);
            choices.add(uconst(1, o < outer.n() && k < inner.n() && f.test(o, k) ? 1 : 0));
        }
        return b.select(name, 1, false, new VExpr.Concat(List.of(outer.ref(), inner.ref())), choices);
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
        // first and last window beat as registers kept with the counter
        List<VStmt> reset = new ArrayList<>(List.of(k.clear(), cb.clear()));
        VExpr.Ref last = RtlKit.lastFlag(b, "last", k, reset);
        VExpr.Ref first = b.reg("first", 1, false, 0);
        reset.add(set(first, uconst(1, 1)));
        VExpr fire = b.wire("fire", 1, false, and(ref("in_valid"), bin("||", not(last), ref("out_ready"))));
        RtlCounter pos = null;
        VExpr.Ref posOut = null;
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
                // (posOut: the position of the beat in the accumulators, which the output presents one cycle after its push)
                pos = b.counter("pos", s.positions());
                posOut = b.reg("pos_out", pos.bits(), false, 0);
                List<VExpr> choices = new ArrayList<>();
                for (long v : r) {
                    choices.add(sconst(rb, v));
                }
                recip = b.wire("recip", rb, true, b.select("recip_pos", rb, true, posOut, choices));
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
                ys.add(RtlFixed.requantize(b, "y" + p, acc, xb, in.frac(), m.out()));
            } else {
                QOp.QAvgPool a = (QOp.QAvgPool) op;
                int sw = a.sumBits();
                VExpr.Ref acc = b.reg("acc" + p, sw, true, 0);
                VExpr.Ref v = b.wire("v" + p, sw, true, bin("+", new VExpr.Cond(first, sconst(sw, 0), acc), RtlFixed.signExtend(x, xb, sw)));
                accUpdates.add(set(acc, v));
                VExpr.Ref prod = RtlFixed.mul(b, "prod" + p, acc, sw, recip, rb);
                ys.add(RtlFixed.requantize(b, "y" + p, prod, sw + rb, in.frac() + a.recipFrac(), out));
            }
        }
        b.assign("out_data", concatLanes(ys));
        b.assign("in_pop", fire);
        b.assign("out_push", and(fire, last));
        b.add(clockedNoReset(fire, accUpdates));
        List<VStmt> onGroup = new ArrayList<>();
        if (pos != null) {
            reset.add(pos.clear());
            onGroup.add(pos.step());
            b.add(clockedNoReset(and(fire, last), List.of(set(posOut, pos.ref()))));
        }
        List<VStmt> onFire = new ArrayList<>(k.stepCarry(last, cb.stepCarry(onGroup)));
        onFire.add(RtlKit.stepFlag(last, k));
        onFire.add(set(first, last));
        b.add(clocked(reset, fire, onFire));
        String doc = op.kind() + " reduce " + s.name() + " (" + s.source() + "): " + kk + " window beats of " + e + " x " + in
                + " per output beat of " + out + ".\nThe beat pushed with the last window beat is presented the next cycle, from the accumulators.";
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
        // the finished sums of the group pushed with its last pixel, presented the next cycle
        VExpr.Ref done = b.reg("done", e * sb, false, 0);
        for (int i = 0; i < e; i++) {
            VExpr.Ref x = RtlFixed.lane(b, "x" + i, ref("in_data"), i, in.bits());
            VExpr.Ref old = RtlFixed.lane(b, "old" + i, prev, i, sb);
            VExpr base = new VExpr.Cond(first, sconst(sb, 0), old);
            VExpr.Ref sum = b.wire("sum" + i, sb, true, bin("+", base, RtlFixed.signExtend(x, in.bits(), sb)));
            sums.add(sum);
            VExpr.Ref total = RtlFixed.lane(b, "total" + i, done, i, sb);
            VExpr.Ref prod = RtlFixed.mul(b, "scaled" + i, total, sb, recip, op.recipBits());
            ys.add(RtlFixed.requantize(b, "y" + i, prod, sb + op.recipBits(), in.frac() + op.recipFrac(), op.out()));
        }
        b.assign("out_data", concatLanes(ys));
        b.assign("in_pop", fire);
        b.assign("out_push", and(fire, last));
        b.add(clockedNoReset(fire, List.of(set(new VExpr.Index(acc, g.ref()), concatLanes(sums)))));
        b.add(clockedNoReset(and(fire, last), List.of(set(done, concatLanes(sums)))));
        b.add(clocked(List.of(g.clear(), p.clear()), fire, List.of(g.step(), when(g.atLast(), List.of(p.step())))));
        String doc = "Global average pooling " + s.name() + " (" + s.source() + "): " + s.channels() + " channels x " + s.pixels()
                + " pixels, " + e + " elements per beat, " + in + " -> " + op.out() + ", sums of " + sb + " bits.\n"
                + "A group's result is presented the cycle after its push, from the register of its finished sums.";
        return new VModule(mod, doc, List.of(), ports(e * in.bits(), e * op.out().bits()), b.items());
    }
}
