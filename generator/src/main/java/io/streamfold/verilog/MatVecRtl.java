package io.streamfold.verilog;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.Stage;
import io.streamfold.quant.QOp;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.streamfold.verilog.RtlFixed.counterBits;
import static io.streamfold.verilog.RtlFixed.uconst;
import static io.streamfold.verilog.RtlFixed.valueBits;
import static io.streamfold.verilog.RtlKit.clocked;
import static io.streamfold.verilog.RtlKit.clockedNoReset;
import static io.streamfold.verilog.RtlKit.nextValue;
import static io.streamfold.verilog.RtlKit.concat;
import static io.streamfold.verilog.RtlKit.concatLanes;
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

/** Verilog of the multiply-accumulate stages: {@link Stage.MatVec} and {@link Stage.Depthwise}. */
final class MatVecRtl {

    private MatVecRtl() {
    }

    static VModule matVec(HwDesign d, Map<String, String> files, Stage.MatVec s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        QOp.QDense op = s.op();
        int xb = op.in().bits();
        int wb = op.weight().bits();
        int aw = op.accBits();
        int ob = op.out().bits();
        int sfN = s.sf();
        int nfN = s.nf();
        int pe = s.pe();
        int simd = s.simd();
        int wcBits = valueBits(sfN);
        int bufBits = counterBits(2 * sfN);

        VExpr.Ref wsel = b.reg("wsel", 1, false, 0);
        VExpr.Ref wcnt = b.reg("wcnt", wcBits, false, 0);
        VExpr.Ref rsel = b.reg("rsel", 1, false, 0);
        RtlCounter sf = b.counter("sf", sfN);
        RtlCounter nf = b.counter("nf", nfN);
        RtlCounter addr = b.counter("addr", sfN * nfN);
        VExpr.Ref buf = b.reg("buffer", simd * xb, false, 2 * sfN);
        VExpr.Ref wrom = b.reg("weights", pe * simd * wb, false, sfN * nfN);
        VExpr.Ref brom = b.reg("biases", pe * aw, false, nfN);
        files.put(mod + "_w.mem", MemFile.packed(s.weights(), pe * simd, wb));
        long[] biases = new long[nfN * pe];
        for (int o = 0; o < biases.length; o++) {
            biases[o] = op.bias(o);
        }
        files.put(mod + "_b.mem", MemFile.packed(biases, pe, aw));
        b.add(new VItem.Initial(List.of(
                new VStmt.SysCall("$readmemh", List.of(mod + "_w.mem", wrom)),
                new VStmt.SysCall("$readmemh", List.of(mod + "_b.mem", brom)))));

        VExpr full = bin("==", wcnt, uconst(wcBits, sfN));
        VExpr reuse = b.wire("reuse", 1, false, and(full, bin("==", rsel, wsel)));
        VExpr ws = b.wire("ws", 1, false, new VExpr.Cond(reuse, not(wsel), wsel));
        VExpr wc = b.wire("wc", wcBits, false, new VExpr.Cond(reuse, uconst(wcBits, 0), wcnt));
        VExpr load = b.wire("load", 1, false, and(ref("in_valid"), bin("!=", wc, uconst(wcBits, sfN))));
        VExpr needOut = b.wire("need_out", 1, false, sf.atLast());
        VExpr sfWide = zext(sf.ref(), sf.bits(), wcBits);
        VExpr avail = b.wire("avail", 1, false, bin("||", bin("!=", rsel, wsel), bin(">", wcnt, sfWide)));
        // Pipeline: issue (buffer and weight reads) -> product registers -> accumulate and requantize
        // into the output register. It advances as a whole unless the output register holds a beat
        // the output FIFO cannot take, so out_ready reaches no further than this stage's control.
        VExpr.Ref v1 = b.reg("v1", 1, false, 0);
        VExpr.Ref first1 = b.reg("first1", 1, false, 0);
        VExpr.Ref last1 = b.reg("last1", 1, false, 0);
        VExpr.Ref nf1 = b.reg("nf1", nf.bits(), false, 0);
        VExpr.Ref v2 = b.reg("v2", 1, false, 0);
        // nf of the beat in the output register: it picks the requantization shift when outputs differ in it
        boolean shiftsDiffer = false;
        for (int o = pe; o < nfN * pe && !shiftsDiffer; o++) {
            shiftsDiffer = op.accFrac(o) != op.accFrac(o % pe);
        }
        VExpr.Ref nf2 = shiftsDiffer ? b.reg("nf2", nf.bits(), false, 0) : nf1;
        VExpr adv = b.wire("adv", 1, false, bin("||", not(v2), ref("out_ready")));
        VExpr compute = b.wire("compute", 1, false, and(avail, adv));
        VExpr wcntNext = b.wire("wcnt_next", wcBits, false, new VExpr.Cond(load, bin("+", wc, uconst(wcBits, 1)), wc));
        VExpr waddr = b.wire("waddr", bufBits, false, new VExpr.Cond(ws,
                bin("+", uconst(bufBits, sfN), zext(wc, wcBits, bufBits)), zext(wc, wcBits, bufBits)));
        // The buffer is read synchronously: x captures the slot the next cycle reads (addressed from
        // the next rsel and sf), or the beat written at that same edge when it is that slot. So x
        // always equals buffer[{rsel, sf}] as a combinational read would, and synthesis maps the
        // buffer to block RAM instead of flip-flops.
        VExpr.Ref x = b.reg("x", simd * xb, false, 0);
        VExpr w = b.wire("w", pe * simd * wb, false, new VExpr.Index(wrom, addr.ref()));
        VExpr bias = b.wire("bias", pe * aw, false, new VExpr.Index(brom, nf1));
        List<VExpr> xs = new ArrayList<>();
        for (int i = 0; i < simd; i++) {
            xs.add(RtlFixed.lane(b, "x" + i, x, i, xb));
        }
        int pb = wb + xb;
        // Sums are formed at the wider of accumulator and product; the exact value fits aw bits.
        int sw = Math.max(aw, pb);
        List<VExpr> ys = new ArrayList<>();
        List<VStmt> products = new ArrayList<>();
        List<VStmt> accUpdates = new ArrayList<>();
        for (int p = 0; p < pe; p++) {
            VExpr.Ref acc = b.reg("acc" + p, aw, true, 0);
            VExpr bp = RtlFixed.lane(b, "bias" + p, bias, p, aw);
            VExpr.Ref base = b.wire("base" + p, aw, true, new VExpr.Cond(first1, bp, acc));
            VExpr sum = RtlFixed.signExtend(base, aw, sw);
            for (int i = 0; i < simd; i++) {
                VExpr wi = RtlFixed.lane(b, "w" + p + "_" + i, w, p * simd + i, wb);
                VExpr prod = RtlFixed.mul(b, "prod" + p + "_" + i, wi, wb, xs.get(i), xb);
                VExpr.Ref preg = b.reg("p" + p + "_" + i, pb, true, 0);
                products.add(set(preg, prod));
                sum = bin("+", sum, RtlFixed.signExtend(preg, pb, sw));
            }
            accumulate(b, "sum" + p, acc, aw, sum, sw, accUpdates);
            List<Integer> fracs = new ArrayList<>();
            for (int nf0 = 0; nf0 < nfN; nf0++) {
                fracs.add(op.accFrac(nf0 * pe + p));
            }
            // The output register is the accumulator itself, held while the beat waits: its
            // requantization is on the path to the output FIFO, not on the accumulate path.
            ys.add(RtlFixed.requantizeBank(b, "y" + p, acc, aw, fracs, op.out(), nf2));
        }
        b.assign("out_data", concatLanes(ys));
        b.assign("in_pop", load);
        b.assign("out_push", and(v2, ref("out_ready")));
        b.add(clockedNoReset(load, List.of(set(new VExpr.Index(buf, waddr), ref("in_data")))));
        b.add(clockedNoReset(adv, products));
        b.add(clockedNoReset(and(adv, v1), accUpdates));
        List<VStmt> onCompute = new ArrayList<>();
        onCompute.add(addr.step());
        // The last chunk of the last row frees this half of the input buffer: the next vector is read from the other.
        onCompute.addAll(sf.stepCarry(needOut, nf.stepCarry(List.of(set(rsel, not(rsel))))));
        List<VStmt> onAdvance = new ArrayList<>(List.of(set(v1, compute), set(first1, sf.is(0)), set(last1, needOut), set(nf1, nf.ref()),
                set(v2, and(v1, last1))));
        if (nf2 != nf1) {
            onAdvance.add(set(nf2, nf1));
        }
        VItem.AlwaysFf control = clocked(List.of(set(wsel, uconst(1, 0)), set(wcnt, uconst(wcBits, 0)), set(rsel, uconst(1, 0)),
                        sf.clear(), nf.clear(), addr.clear(), set(v1, uconst(1, 0)), set(v2, uconst(1, 0))),
                List.of(set(wsel, ws), set(wcnt, wcntNext), when(compute, onCompute), when(adv, onAdvance)));
        b.add(control);
        VExpr rselNext = b.wire("rsel_next", 1, false, nextValue(rsel, control.body()));
        VExpr sfNext = b.wire("sf_next", sf.bits(), false, nextValue(sf.ref(), control.body()));
        VExpr raddrNext = b.wire("raddr_next", bufBits, false, new VExpr.Cond(rselNext,
                bin("+", uconst(bufBits, sfN), zext(sfNext, sf.bits(), bufBits)), zext(sfNext, sf.bits(), bufBits)));
        b.add(syncRead(x, buf, raddrNext, load, waddr, ref("in_data")));
        String doc = "Matrix-vector stage " + s.name() + " (" + s.source() + "): " + s.inFeatures() + " -> " + s.outFeatures()
                + ", PE " + pe + ", SIMD " + simd + ", " + s.cycles() + " cycles per vector, 2 pipeline registers.\n"
                + "in " + op.in() + ", weights " + op.weight().bits() + " bits, accumulator " + aw + " bits, out " + op.out() + ".";
        return new VModule(mod, doc, List.of(), ports(simd * xb, pe * ob), b.items());
    }

    static VModule depthwise(HwDesign d, Map<String, String> files, Stage.Depthwise s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        QOp.QConv op = s.op();
        int xb = op.in().bits();
        int wb = op.weight().bits();
        int aw = op.accBits();
        int lanes = s.lanes();
        int kk = s.windowSize();
        int cbN = s.channelBeats();
        RtlCounter k = b.counter("k", kk);
        RtlCounter cb = b.counter("cb", cbN);
        RtlCounter addr = b.counter("addr", cbN * kk);
        VExpr.Ref wrom = b.reg("weights", lanes * wb, false, cbN * kk);
        VExpr.Ref brom = b.reg("biases", lanes * aw, false, cbN);
        files.put(mod + "_w.mem", MemFile.packed(s.weights(), lanes, wb));
        long[] biases = new long[cbN * lanes];
        for (int o = 0; o < biases.length; o++) {
            biases[o] = op.bias(o);
        }
        files.put(mod + "_b.mem", MemFile.packed(biases, lanes, aw));
        b.add(new VItem.Initial(List.of(
                new VStmt.SysCall("$readmemh", List.of(mod + "_w.mem", wrom)),
                new VStmt.SysCall("$readmemh", List.of(mod + "_b.mem", brom)))));
        VExpr first = b.wire("first", 1, false, k.is(0));
        VExpr last = b.wire("last", 1, false, k.atLast());
        VExpr fire = b.wire("fire", 1, false, and(ref("in_valid"), bin("||", not(last), ref("out_ready"))));
        VExpr w = b.wire("w", lanes * wb, false, new VExpr.Index(wrom, addr.ref()));
        VExpr bias = b.wire("bias", lanes * aw, false, new VExpr.Index(brom, cb.ref()));
        List<VExpr> xs = new ArrayList<>();
        for (int i = 0; i < s.elems(); i++) {
            xs.add(RtlFixed.lane(b, "x" + i, ref("in_data"), i, xb));
        }
        List<VExpr> ys = new ArrayList<>();
        List<VStmt> accUpdates = new ArrayList<>();
        int sw = Math.max(aw, wb + xb);
        for (int p = 0; p < lanes; p++) {
            VExpr.Ref acc = b.reg("acc" + p, aw, true, 0);
            VExpr bp = RtlFixed.lane(b, "bias" + p, bias, p, aw);
            VExpr.Ref base = b.wire("base" + p, aw, true, new VExpr.Cond(first, bp, acc));
            VExpr wp = RtlFixed.lane(b, "w" + p, w, p, wb);
            VExpr prod = RtlFixed.mul(b, "prod" + p, wp, wb, xs.get(p / s.multiplier()), xb);
            VExpr sum = bin("+", RtlFixed.signExtend(base, aw, sw), RtlFixed.signExtend(prod, wb + xb, sw));
            VExpr.Ref sumW = accumulate(b, "sum" + p, acc, aw, sum, sw, accUpdates);
            List<Integer> fracs = new ArrayList<>();
            for (int c0 = 0; c0 < cbN; c0++) {
                fracs.add(op.accFrac(c0 * lanes + p));
            }
            ys.add(RtlFixed.requantizeBank(b, "y" + p, sumW, sw, fracs, op.out(), cb.ref()));
        }
        b.assign("out_data", concatLanes(ys));
        b.assign("in_pop", fire);
        b.assign("out_push", and(fire, last));
        b.add(clockedNoReset(fire, accUpdates));
        b.add(clocked(List.of(k.clear(), cb.clear(), addr.clear()), fire,
                concat(List.of(addr.step()), k.stepCarry(last, List.of(cb.step())))));
        String doc = "Depthwise convolution " + s.name() + " (" + s.source() + "): " + s.elems() + " channels x " + s.multiplier()
                + " outputs per beat, " + kk + " window beats, in " + op.in() + ", weights " + wb + " bits, accumulator " + aw
                + " bits, out " + op.out() + ".";
        return new VModule(mod, doc, List.of(), ports(s.elems() * xb, lanes * op.out().bits()), b.items());
    }

    /**
     * Declares the {@code sw}-bit wire {@code name = sum} and registers it back into the
     * {@code aw}-bit {@code acc} (appended to {@code updates}). The exact sum fits {@code aw} bits,
     * so a wider wire keeps only its low bits and lint is told the others are unused.
     */
    private static VExpr.Ref accumulate(RtlBuilder b, String name, VExpr.Ref acc, int aw, VExpr sum, int sw, List<VStmt> updates) {
        VExpr.Ref sumW = sw > aw ? b.wirePartlyUnused(name, sw, true, sum) : b.wire(name, sw, true, sum);
        updates.add(set(acc, sw > aw ? new VExpr.Slice(sumW, aw - 1, 0) : sumW));
        return sumW;
    }
}
