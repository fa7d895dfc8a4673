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
        b.comment("reader: output position, window position, window column origin, slot of the window's top row now and in the next image");
        RtlCounter oy = b.counter("oy", s.outHeight());
        RtlCounter ox = b.counter("ox", s.outWidth());
        RtlCounter ky = b.counter("ky", s.kernelH());
        RtlCounter kx = b.counter("kx", s.kernelW());
        RtlCounter cb = b.counter("cb", cbN);
        VExpr.Ref xlo = b.reg("xlo", sb, true, 0);
        VExpr.Ref rtop = b.reg("rtop", slotB, false, 0);
        // rtop of the next image's first output row: each image moves it by H (mod rows)
        VExpr.Ref rtopN = b.reg("rtop_n", slotB, false, 0);

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
        // "counter at its last value" as registers kept with the counters (RtlKit.lastFlag)
        List<VStmt> flagReset = new ArrayList<>();
        VExpr.Ref kxL = RtlKit.lastFlag(b, "kx_last", kx, flagReset);
        VExpr.Ref kyL = RtlKit.lastFlag(b, "ky_last", ky, flagReset);
        VExpr.Ref cbL = RtlKit.lastFlag(b, "cb_last", cb, flagReset);
        // the last beat of a window, a register kept with the flags (equal to ky_last & kx_last & cb_last)
        VExpr.Ref lastWin = b.reg("last_win", 1, false, 0);
        VExpr.Ref oxL = RtlKit.lastFlag(b, "ox_last", ox, flagReset);
        VExpr.Ref lastRow = RtlKit.lastFlag(b, "last_row", oy, flagReset);
        // Readiness as registers, each as of the previous cycle (Stage.SlidingWindow): the rows the
        // current output row reads are complete (rowok_q: need = rowNeed(oy); at a row end the next
        // row's need is compared before this row's release, needx = rowNeed(next) + release(oy)),
        // and the rows its last beat releases are (relok_q, relx = release(next) + release(oy)).
        // With the row end also a register (row_end_q), the emit is one gate of registers.
        VExpr.Ref need = b.reg("need", slb, false, 0);
        VExpr.Ref needx = b.reg("needx", slb, false, 0);
        VExpr.Ref relx = b.reg("relx", slb, false, 0);
        VExpr.Ref rowokQ = b.reg("rowok_q", 1, false, 0);
        VExpr.Ref relokQ = b.reg("relok_q", 1, false, 0);
        VExpr.Ref rowEndQ = b.reg("row_end_q", 1, false, 0);
        VExpr emit = b.wire("emit", 1, false, and(and(ref("out_ready"), rowokQ), bin("||", relokQ, not(rowEndQ))));
        // The writer decides on start-of-cycle state only: a slot the reader frees in a cycle is
        // taken from the next one on.
        VExpr write = b.wire("write", 1, false, and(ref("in_valid"), bin("||", inRow, freeQ)));

        VExpr waddr = b.wire("waddr", ab, false, bin("+", bin("*", bin("+", bin("*", wslot.widen(ab), uconst(ab, w)),
                wx.widen(ab)), uconst(ab, cbN)), wcb.widen(ab)));
        long padBits = s.padValue() & ((1L << xb) - 1);
        VExpr padBeat = e == 1 ? uconst(xb, padBits) : new VExpr.Repeat(e, uconst(xb, padBits));
        // The line buffer is read synchronously (block RAM) through address registers
        // (Stage.SlidingWindow#addressStages): the beat pushed in cycle t has its slot and column
        // registered at the edge ending t, its address at the edge ending t+1, is read at the edge
        // ending t+2 and presented in cycle t+3 from rdata (or the pad value; with readRegisters 2 in
        // cycle t+4 from rdata_q, which takes the pad value after the block multiplexer); the output channel's
        // register stages carry only the push (Stage#registersOwnOutput). A beat is pushed only
        // once written, at an earlier edge, and its row is released at the earliest at the edge
        // ending t; the writer refills a released row from its offset 0 at the edge ending t+1, so
        // only a row-end beat at offset 0 could be overwritten before its read (addressStages 1
        // then), and a write at the edge of a read returns the old contents.
        VExpr.Ref raddrQ = b.reg("raddr_q", ab, false, 0);
        VExpr.Ref paddedQ1 = b.reg("padded_q1", 1, false, 0);
        VExpr.Ref rdata = b.reg("rdata", e * xb, false, 0);
        VExpr.Ref paddedQ = b.reg("padded_q", 1, false, 0);
        VExpr padded = new VExpr.Cond(paddedQ, padBeat, rdata);
        VExpr.Ref rdataQ = null;
        if (s.readRegisters() == 2) {
            // a buffer of several block RAMs: their multiplexer and the padding end at a register
            rdataQ = b.reg("rdata_q", e * xb, false, 0);
            b.assign("out_data", rdataQ);
        } else {
            b.assign("out_data", padded);
        }
        b.assign("out_push", emit);
        b.assign("in_pop", write);
        b.add(clockedNoReset(write, List.of(set(new VExpr.Index(buf, waddr), ref("in_data")))));

        // The slot of the next output row's top row and of the next image's, (rtop + SH) and
        // (rtop_n + H) mod rows, as tables over the slot registers: one LUT level per bit, where an
        // add, compare and subtract took four (the update of rtop was a critical path on iCE40).
        List<VExpr> rowSteps = new ArrayList<>();
        List<VExpr> imgSteps = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            rowSteps.add(uconst(slotB, (r + s.strideH()) % rows));
            imgSteps.add(uconst(slotB, (r + h) % rows));
        }
        VExpr rtopNextRow = b.select("rtop_row", slotB, false, rtop, rowSteps);
        VExpr rtopNextImg = b.select("rtop_next_img", slotB, false, rtopN, imgSteps);

        // Which counters step and wrap when the reader advances (window order (ky, kx, cb) or (cb, ky, kx)).
        VExpr kxStep = s.channelMajor() ? uconst(1, 1) : cbL;
        VExpr kxWrap = b.wire("kx_wrap", 1, false, s.channelMajor() ? kxL : and(cbL, kxL));
        VExpr kyStep = kxWrap;
        VExpr kyWrap = b.wire("ky_wrap", 1, false, and(kxWrap, kyL));
        // The next window origin after the last beat of this window.
        VExpr.Ref xloNext = b.wire("xlo_next", sb, true, new VExpr.Cond(oxL, sconst(sb, -s.padLeft()), bin("+", xlo, sconst(sb, s.strideW()))));
        // Rows released at the end of output row oy: a table of Stage.SlidingWindow#release, read for the next row.
        List<VExpr> releases = new ArrayList<>();
        for (int y = 0; y < s.outHeight(); y++) {
            releases.add(uconst(wrB, s.release(y)));
        }
        VExpr oyNext = b.wire("oy_next", oy.bits(), false, oy.next(lastRow));
        VExpr relNextRow = b.select("release_next", wrB, false, oyNext, releases);
        List<VExpr> needs = new ArrayList<>();
        List<VExpr> needxs = new ArrayList<>();
        List<VExpr> relxs = new ArrayList<>();
        List<VExpr> relNegs = new ArrayList<>();
        List<VExpr> relNeg1s = new ArrayList<>();
        long wrMask = (1L << wrB) - 1;
        for (int y = 0; y < s.outHeight(); y++) {
            int next = y + 1 == s.outHeight() ? 0 : y + 1;
            needs.add(uconst(slb, s.rowNeed(y)));
            needxs.add(uconst(slb, s.rowNeed(next) + s.release(y)));
            relxs.add(uconst(slb, s.release(next) + s.release(y)));
            relNegs.add(uconst(wrB, -s.release(y) & wrMask));
            relNeg1s.add(uconst(wrB, (1 - s.release(y)) & wrMask));
        }
        VExpr needNext = b.select("need_next", slb, false, oyNext, needs);
        VExpr needxNext = b.select("needx_next", slb, false, oyNext, needxs);
        VExpr relxNext = b.select("relx_next", slb, false, oyNext, relxs);
        // -release and 1 - release (mod 2^bits), so the rows held after a release are one addition
        VExpr.Ref relNeg = b.reg("rel_neg", wrB, false, 0);
        VExpr.Ref relNeg1 = b.reg("rel_neg1", wrB, false, 0);
        VExpr relNegNext = b.select("rel_neg_next", wrB, false, oyNext, relNegs);
        VExpr relNeg1Next = b.select("rel_neg1_next", wrB, false, oyNext, relNeg1s);
        // The next output position: along the row by the column stride, then down by the row stride; after
        // the last row, the next image starts with its row 0 in the slot after this image's last row.
        List<VStmt> pixel = List.of(set(xlo, xloNext), RtlKit.stepFlag(oxL, ox), new VStmt.If(oxL, List.of(ox.clear()), List.of(ox.inc())));
        // The row end (row_end_q, equal to last_win & ox_last) enables the row's bookkeeping
        // directly, so those registers load one gate after the emit.
        List<VStmt> rowEnd = List.of(set(oy.ref(), oyNext), set(relamt, relNextRow), set(need, needNext), set(needx, needxNext),
                set(relx, relxNext), set(relNeg, relNegNext), set(relNeg1, relNeg1Next),
                RtlKit.stepFlag(lastRow, oy),
                new VStmt.If(lastRow, List.of(set(rtop, rtopN), set(rtopN, rtopNextImg)), List.of(set(rtop, rtopNextRow))));
        // The window position after this beat (what the registers take when the reader emits).
        VExpr.Ref ixAdv = b.wire("ix_adv", sb, true, new VExpr.Cond(lastWin, xloNext, new VExpr.Cond(kxWrap, xlo,
                s.channelMajor() ? bin("+", ix, sconst(sb, s.dilationW()))
                        : new VExpr.Cond(kxStep, bin("+", ix, sconst(sb, s.dilationW())), ix))));
        VExpr.Ref wrowsWide = b.wire("wrows_w", slb, false, zext(wrows, wrB, slb));
        // emit && row_end_q, written out: at a row end the emit needs relok_q
        VExpr.Ref released = b.wire("released", 1, false, and(and(and(ref("out_ready"), rowokQ), relokQ), rowEndQ));
        VExpr rowokNext = b.wire("rowok_next", 1, false, new VExpr.Cond(released, bin("<=", needx, wrowsWide),
                bin("<=", need, wrowsWide)));
        VExpr relokNext = b.wire("relok_next", 1, false, new VExpr.Cond(released, bin("<=", relx, wrowsWide),
                bin("<=", relamt, wrows)));
        // Whether the beat after this one ends its window and its row: the last-value flags after the step.
        VExpr winEndAdv;
        if (s.channelMajor()) {
            VExpr kxA = RtlKit.nextFlag(kxL, kx);
            VExpr kyA = new VExpr.Cond(kxL, RtlKit.nextFlag(kyL, ky), kyL);
            VExpr cbA = new VExpr.Cond(kyWrap, RtlKit.nextFlag(cbL, cb), cbL);
            winEndAdv = and(and(kxA, kyA), cbA);
        } else {
            VExpr cbA = RtlKit.nextFlag(cbL, cb);
            VExpr kxA = new VExpr.Cond(cbL, RtlKit.nextFlag(kxL, kx), kxL);
            VExpr kyA = new VExpr.Cond(kxWrap, RtlKit.nextFlag(kyL, ky), kyL);
            winEndAdv = and(and(cbA, kxA), kyA);
        }
        VExpr.Ref lastWinNext = b.wire("last_win_adv", 1, false, winEndAdv);
        VExpr.Ref rowEndNext = b.wire("row_end_adv", 1, false, and(lastWinNext, new VExpr.Cond(lastWin, RtlKit.nextFlag(oxL, ox), oxL)));
        List<VStmt> walk = new ArrayList<>();
        walk.add(set(ix, ixAdv));
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
        walk.add(when(rowEndQ, rowEnd));
        List<VStmt> onWrite = new ArrayList<>(wcb.stepCarry(wcbL, wx.stepCarry(wxL, List.of(wslot.step()))));
        onWrite.add(RtlKit.stepFlag(wcbL, wcb));
        onWrite.add(when(wcbL, List.of(RtlKit.stepFlag(wxL, wx))));
        onWrite.add(set(inRow, not(wrowEnd)));
        // The rows held after the edge and whether a slot is then free, for each of the four ways
        // the edge can go (a release by the reader, a row completed by the writer), computed from
        // registers alone: the decisions of the cycle only pick one.
        VExpr.Ref wrowsRel = b.wire("wrows_rel", wrB, false, bin("+", wrows, relNeg));
        VExpr.Ref wrowsRelInc = b.wire("wrows_rel_inc", wrB, false, bin("+", wrows, relNeg1));
        VExpr.Ref wrowsInc = b.wire("wrows_inc", wrB, false, bin("+", wrows, uconst(wrB, 1)));
        // A row of several beats ends inside a row (in_row is set by its first beat and cleared by
        // its last), so its last beat is written whenever one is present: "completed" needs neither
        // in_row nor free_q, one gate of registers instead of two.
        VExpr.Ref completed = b.wire("completed", 1, false, w * cbN > 1 ? and(ref("in_valid"), wrowEnd) : and(write, wrowEnd));
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
                        set(xlo, sconst(sb, -s.padLeft())),
                        set(ix, sconst(sb, -s.padLeft())), set(relamt, uconst(wrB, s.release(0))),
                        set(rtop, uconst(slotB, Math.floorMod(-s.padTop(), rows))), set(rtopN, uconst(slotB, Math.floorMod(h - s.padTop(), rows))),
                        set(need, needs.get(0)), set(needx, needxs.get(0)), set(rowokQ, uconst(1, s.rowNeed(0) <= 0 ? 1 : 0)),
                        set(relx, relxs.get(0)), set(relokQ, uconst(1, s.release(0) <= 0 ? 1 : 0)),
                        set(relNeg, relNegs.get(0)), set(relNeg1, relNeg1s.get(0)),
                        set(rowEndQ, uconst(1, s.windowBeats() == 1 && s.outWidth() == 1 ? 1 : 0)),
                        set(lastWin, uconst(1, s.windowBeats() == 1 ? 1 : 0))));
        b.add(clocked(reset, List.of(when(write, onWrite), set(wrows, wrowsNext),
                set(freeQ, freeNext), when(emit, walk), set(rowokQ, rowokNext),
                set(relokQ, relokNext), when(emit, List.of(set(rowEndQ, rowEndNext), set(lastWin, lastWinNext))))));
        // Buffer address of window element (ky, kx, cb): slot (rtop + ky*DH) mod rows, column
        // ix = xlo + kx*DW (the row slots hold the dilated span, so the sum stays below 2*rows).
        VExpr.Ref slotSum = b.wire("slot_sum", slb, false, bin("+", zext(rtop, slotB, slb),
                dilate(zext(ky.ref(), ky.bits(), slb), s.dilationH(), uconst(slb, s.dilationH()))));
        VExpr slot = b.wirePartlyUnused("slot", slb, false, new VExpr.Cond(bin(">=", slotSum, uconst(slb, rows)),
                bin("-", slotSum, uconst(slb, rows)), slotSum));
        VExpr col = bin("+", bin("*", fit(ix, sb, ab), uconst(ab, cbN)), zext(cb.ref(), cb.bits(), ab));
        VExpr raddr;
        List<VStmt> addressStage = new ArrayList<>();
        if (s.addressStages() == 2) {
            // slot and column offset registered in the push cycle, the address the next
            VExpr.Ref slotQ = b.reg("slot_q", slotB, false, 0);
            VExpr.Ref colQ = b.reg("col_q", ab, false, 0);
            addressStage.add(set(slotQ, new VExpr.Slice(slot, slotB - 1, 0)));
            addressStage.add(set(colQ, col));
            raddr = b.wire("raddr", ab, false, bin("+", bin("*", zext(slotQ, slotB, ab), uconst(ab, (long) w * cbN)), colQ));
        } else {
            raddr = b.wire("raddr", ab, false, bin("+", bin("*", fit(slot, slb, ab), uconst(ab, (long) w * cbN)), col));
        }
        // Padding of the beat of the cycle, from tables indexed by the counters (no arithmetic), is
        // registered beside its address: it is not needed before the data.
        VExpr padRow = flagTable(b, "pad_row", oy, ky, (o, k) -> s.padded(o * s.strideH() - s.padTop() + k * s.dilationH(), 0));
        VExpr padCol = flagTable(b, "pad_col", ox, kx, (o, k) -> s.padded(0, o * s.strideW() - s.padLeft() + k * s.dilationW()));
        VExpr padQ = b.wire("pad_now", 1, false, bin("||", padRow, padCol));
        VExpr padIn = padQ;
        if (s.addressStages() == 2) {
            VExpr.Ref paddedQ0 = b.reg("padded_q0", 1, false, 0);
            addressStage.add(set(paddedQ0, padQ));
            padIn = paddedQ0;
        }
        List<VStmt> stages = new ArrayList<>(addressStage);
        stages.addAll(List.of(set(raddrQ, raddr), set(paddedQ1, padIn), set(rdata, new VExpr.Index(buf, raddrQ)), set(paddedQ, paddedQ1)));
        if (rdataQ != null) {
            stages.add(set(rdataQ, padded));
        }
        b.add(clockedNoReset(stages));
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
                VExpr.Ref v = b.wire("v" + p, xb, true, new VExpr.Cond(bin("||", first, RtlFixed.greater(x, acc, xb)), x, acc));
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
        List<VExpr> scaled = new ArrayList<>();
        List<VExpr> ys = new ArrayList<>();
        // The finished sums of the group pushed with its last pixel are registered (sums_q); the next
        // cycle scales them by the reciprocal and adds the rounding constant into done, presented the
        // cycle after: the accumulate and the product are a register apart, and the output path is a
        // shift and a saturation (Stage.GlobalAvgPool#outputRegisters 2). sums_q holds until the next
        // group's push, so done follows it every cycle without an enable.
        // |sum * recip| < 2^(pb-2) and the constant is at most 2^(pb-2), so pb bits hold both.
        int pb = sb + op.recipBits() + 1;
        int frac = in.frac() + op.recipFrac();
        VExpr.Ref sumsQ = b.reg("sums_q", e * sb, false, 0);
        VExpr.Ref done = b.reg("done", e * pb, false, 0);
        for (int i = 0; i < e; i++) {
            VExpr.Ref x = RtlFixed.lane(b, "x" + i, ref("in_data"), i, in.bits());
            VExpr.Ref old = RtlFixed.lane(b, "old" + i, prev, i, sb);
            VExpr base = new VExpr.Cond(first, sconst(sb, 0), old);
            VExpr.Ref sum = b.wire("sum" + i, sb, true, bin("+", base, RtlFixed.signExtend(x, in.bits(), sb)));
            sums.add(sum);
            VExpr.Ref finished = RtlFixed.lane(b, "fin" + i, sumsQ, i, sb);
            VExpr.Ref prod = RtlFixed.mul(b, "scaled" + i, finished, sb, recip, op.recipBits());
            scaled.add(bin("+", RtlFixed.signExtend(prod, sb + op.recipBits(), pb), sconst(pb, RtlFixed.roundingConstant(pb, frac, op.out()))));
            VExpr.Ref total = b.wirePartlyUnused("total" + i, pb, true, new VExpr.Slice(done, (i + 1) * pb - 1, i * pb));
            ys.add(RtlFixed.requantize(b, "y" + i, total, pb, frac, op.out(), true));
        }
        b.assign("out_data", concatLanes(ys));
        b.assign("in_pop", fire);
        b.assign("out_push", and(fire, last));
        b.add(clockedNoReset(fire, List.of(set(new VExpr.Index(acc, g.ref()), concatLanes(sums)))));
        b.add(clockedNoReset(and(fire, last), List.of(set(sumsQ, concatLanes(sums)))));
        b.add(clockedNoReset(List.of(set(done, concatLanes(scaled)))));
        b.add(clocked(List.of(g.clear(), p.clear()), fire, List.of(g.step(), when(g.atLast(), List.of(p.step())))));
        String doc = "Global average pooling " + s.name() + " (" + s.source() + "): " + s.channels() + " channels x " + s.pixels()
                + " pixels, " + e + " elements per beat, " + in + " -> " + op.out() + ", sums of " + sb + " bits.\n"
                + "A group's result is presented two cycles after its push: its finished sums are registered, then scaled by the reciprocal, rounding included, into a second register.";
        return new VModule(mod, doc, List.of(), ports(e * in.bits(), e * op.out().bits()), b.items());
    }
}
