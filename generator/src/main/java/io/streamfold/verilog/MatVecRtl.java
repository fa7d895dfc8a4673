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
        int sfBits = counterBits(sfN);
        int nfBits = counterBits(nfN);
        int wcBits = valueBits(sfN);
        int bufBits = counterBits(2 * sfN);
        int romBits = counterBits(sfN * nfN);

        VExpr.Ref wsel = b.reg("wsel", 1, false, 0);
        VExpr.Ref wcnt = b.reg("wcnt", wcBits, false, 0);
        VExpr.Ref rsel = b.reg("rsel", 1, false, 0);
        VExpr.Ref sf = b.reg("sf", sfBits, false, 0);
        VExpr.Ref nf = b.reg("nf", nfBits, false, 0);
        VExpr.Ref addr = b.reg("addr", romBits, false, 0);
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
        VExpr needOut = b.wire("need_out", 1, false, bin("==", sf, uconst(sfBits, sfN - 1)));
        VExpr sfWide = zext(sf, sfBits, wcBits);
        VExpr avail = b.wire("avail", 1, false, bin("||", bin("!=", rsel, wsel), bin(">", wcnt, sfWide)));
        VExpr compute = b.wire("compute", 1, false, and(avail, bin("||", not(needOut), ref("out_ready"))));
        VExpr wcntNext = b.wire("wcnt_next", wcBits, false, new VExpr.Cond(load, bin("+", wc, uconst(wcBits, 1)), wc));
        VExpr waddr = b.wire("waddr", bufBits, false, new VExpr.Cond(ws,
                bin("+", uconst(bufBits, sfN), zext(wc, wcBits, bufBits)), zext(wc, wcBits, bufBits)));
        VExpr raddr = b.wire("raddr", bufBits, false, new VExpr.Cond(rsel,
                bin("+", uconst(bufBits, sfN), zext(sf, sfBits, bufBits)), zext(sf, sfBits, bufBits)));
        VExpr x = b.wire("x", simd * xb, false, new VExpr.Index(buf, raddr));
        VExpr w = b.wire("w", pe * simd * wb, false, new VExpr.Index(wrom, addr));
        VExpr bias = b.wire("bias", pe * aw, false, new VExpr.Index(brom, nf));
        List<VExpr> xs = new ArrayList<>();
        for (int i = 0; i < simd; i++) {
            xs.add(RtlFixed.lane(b, "x" + i, x, i, xb));
        }
        List<VExpr> ys = new ArrayList<>();
        List<VStmt> accUpdates = new ArrayList<>();
        for (int p = 0; p < pe; p++) {
            VExpr.Ref acc = b.reg("acc" + p, aw, true, 0);
            VExpr bp = RtlFixed.lane(b, "bias" + p, bias, p, aw);
            // Sums are formed at the wider of accumulator and product; the exact value fits aw bits.
            int sw = Math.max(aw, wb + xb);
            VExpr.Ref base = b.wire("base" + p, aw, true, new VExpr.Cond(bin("==", sf, uconst(sfBits, 0)), bp, acc));
            VExpr sum = RtlFixed.signExtend(base, aw, sw);
            for (int i = 0; i < simd; i++) {
                VExpr wi = RtlFixed.lane(b, "w" + p + "_" + i, w, p * simd + i, wb);
                VExpr prod = RtlFixed.mul(b, "prod" + p + "_" + i, wi, wb, xs.get(i), xb);
                sum = bin("+", sum, RtlFixed.signExtend(prod, wb + xb, sw));
            }
            VExpr.Ref sumW = sw > aw ? b.wirePartlyUnused("sum" + p, sw, true, sum) : b.wire("sum" + p, sw, true, sum);
            accUpdates.add(new VStmt.NonBlocking(acc, sw > aw ? new VExpr.Slice(sumW, aw - 1, 0) : sumW));
            // One requantizer per distinct shift of this lane's outputs, chosen by nf.
            Map<Integer, VExpr> byShift = new LinkedHashMap<>();
            List<VExpr> choices = new ArrayList<>();
            final int lane = p;
            for (int nf0 = 0; nf0 < nfN; nf0++) {
                int o = nf0 * pe + p;
                int frac = op.accFrac(o);
                choices.add(byShift.computeIfAbsent(frac,
                        f -> RtlFixed.requantize(b, "y" + lane + "_f" + (f < 0 ? "m" + (-f) : f), sumW, sw, f, op.out())));
            }
            ys.add(b.select("y" + p, ob, true, nf, choices));
        }
        b.add(new VItem.Assign(ref("out_data"), concatLanes(ys)));
        b.add(new VItem.Assign(ref("in_pop"), load));
        b.add(new VItem.Assign(ref("out_push"), and(compute, needOut)));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(load,
                List.of(new VStmt.NonBlocking(new VExpr.Index(buf, waddr), ref("in_data"))), List.of()))));
        List<VStmt> onCompute = new ArrayList<>(accUpdates);
        onCompute.add(new VStmt.NonBlocking(addr, wrap(addr, romBits, sfN * nfN)));
        onCompute.add(new VStmt.If(needOut,
                List.of(new VStmt.NonBlocking(sf, uconst(sfBits, 0)),
                        new VStmt.If(bin("==", nf, uconst(nfBits, nfN - 1)),
                                List.of(new VStmt.NonBlocking(nf, uconst(nfBits, 0)), new VStmt.NonBlocking(rsel, not(rsel))),
                                List.of(new VStmt.NonBlocking(nf, bin("+", nf, uconst(nfBits, 1)))))),
                List.of(new VStmt.NonBlocking(sf, bin("+", sf, uconst(sfBits, 1))))));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(not(ref("aresetn")),
                List.of(new VStmt.NonBlocking(wsel, uconst(1, 0)), new VStmt.NonBlocking(wcnt, uconst(wcBits, 0)),
                        new VStmt.NonBlocking(rsel, uconst(1, 0)), new VStmt.NonBlocking(sf, uconst(sfBits, 0)),
                        new VStmt.NonBlocking(nf, uconst(nfBits, 0)), new VStmt.NonBlocking(addr, uconst(romBits, 0))),
                List.of(
                        new VStmt.NonBlocking(wsel, ws),
                        new VStmt.NonBlocking(wcnt, wcntNext),
                        new VStmt.If(compute, onCompute, List.of()))))));
        String doc = "Matrix-vector stage " + s.name() + " (" + s.source() + "): " + s.inFeatures() + " -> " + s.outFeatures()
                + ", PE " + pe + ", SIMD " + simd + ", " + s.cycles() + " cycles per vector.\n"
                + "in " + op.in() + ", weights " + op.weight().bits() + " bits, accumulator " + aw + " bits, out " + op.out() + ".";
        return new VModule(mod, doc, List.of(), ports(simd * xb, pe * ob), b.items);
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
        int kB = counterBits(kk);
        int cbB = counterBits(cbN);
        int romBits = counterBits(cbN * kk);
        VExpr.Ref k = b.reg("k", kB, false, 0);
        VExpr.Ref cb = b.reg("cb", cbB, false, 0);
        VExpr.Ref addr = b.reg("addr", romBits, false, 0);
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
        VExpr first = b.wire("first", 1, false, bin("==", k, uconst(kB, 0)));
        VExpr last = b.wire("last", 1, false, bin("==", k, uconst(kB, kk - 1)));
        VExpr fire = b.wire("fire", 1, false, and(ref("in_valid"), bin("||", not(last), ref("out_ready"))));
        VExpr w = b.wire("w", lanes * wb, false, new VExpr.Index(wrom, addr));
        VExpr bias = b.wire("bias", lanes * aw, false, new VExpr.Index(brom, cb));
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
            VExpr.Ref sumW = sw > aw ? b.wirePartlyUnused("sum" + p, sw, true, sum) : b.wire("sum" + p, sw, true, sum);
            accUpdates.add(new VStmt.NonBlocking(acc, sw > aw ? new VExpr.Slice(sumW, aw - 1, 0) : sumW));
            Map<Integer, VExpr> byShift = new LinkedHashMap<>();
            List<VExpr> choices = new ArrayList<>();
            final int lane = p;
            for (int c0 = 0; c0 < cbN; c0++) {
                int frac = op.accFrac(c0 * lanes + p);
                choices.add(byShift.computeIfAbsent(frac,
                        f -> RtlFixed.requantize(b, "y" + lane + "_f" + (f < 0 ? "m" + (-f) : f), sumW, sw, f, op.out())));
            }
            ys.add(b.select("y" + p, op.out().bits(), true, cb, choices));
        }
        b.add(new VItem.Assign(ref("out_data"), concatLanes(ys)));
        b.add(new VItem.Assign(ref("in_pop"), fire));
        b.add(new VItem.Assign(ref("out_push"), and(fire, last)));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(fire, accUpdates, List.of()))));
        List<VStmt> onLast = concat(List.of(new VStmt.NonBlocking(k, uconst(kB, 0))),
                List.of(new VStmt.NonBlocking(cb, wrap(cb, cbB, cbN))));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(not(ref("aresetn")),
                List.of(new VStmt.NonBlocking(k, uconst(kB, 0)), new VStmt.NonBlocking(cb, uconst(cbB, 0)),
                        new VStmt.NonBlocking(addr, uconst(romBits, 0))),
                List.of(new VStmt.If(fire, concat(List.of(new VStmt.NonBlocking(addr, wrap(addr, romBits, cbN * kk))),
                        List.of(new VStmt.If(last, onLast, List.of(new VStmt.NonBlocking(k, bin("+", k, uconst(kB, 1)))))))
                        , List.of()))))));
        String doc = "Depthwise convolution " + s.name() + " (" + s.source() + "): " + s.elems() + " channels x " + s.multiplier()
                + " outputs per beat, " + kk + " window beats, in " + op.in() + ", weights " + wb + " bits, accumulator " + aw
                + " bits, out " + op.out() + ".";
        return new VModule(mod, doc, List.of(), ports(s.elems() * xb, lanes * op.out().bits()), b.items);
    }
}
