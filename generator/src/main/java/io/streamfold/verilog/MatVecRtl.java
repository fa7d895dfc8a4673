package io.streamfold.verilog;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.Pipelining;
import io.streamfold.hw.Stage;
import io.streamfold.hw.WeightStore;
import io.streamfold.quant.QOp;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.streamfold.verilog.RtlFixed.counterBits;
import static io.streamfold.verilog.RtlFixed.uconst;
import static io.streamfold.verilog.RtlFixed.valueBits;
import static io.streamfold.verilog.RtlKit.clocked;
import static io.streamfold.verilog.RtlKit.clockedNoReset;
import static io.streamfold.verilog.RtlKit.concat;
import static io.streamfold.verilog.RtlKit.concatLanes;
import static io.streamfold.verilog.RtlKit.ports;
import static io.streamfold.verilog.RtlKit.set;
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
        // The accumulator starts from bias + the requantization's rounding constant, one bit wider
        // than the exact sum needs, so the output path is a shift and a saturation, no adder.
        int aw = op.accBits() + 1;
        int ob = op.out().bits();
        int sfN = s.sf();
        int nfN = s.nf();
        int pe = s.pe();
        int simd = s.simd();

        // The streamed schedule has no input buffer: the beat at the FIFO head serves every row group.
        boolean streamed = !s.buffered();
        // With NF = 1 a streamed unit's running sums are the PE lanes' own accumulators (steps in
        // the buffered order, which is the same); with NF > 1 they rotate through NF registers.
        boolean ring = streamed && nfN > 1;
        RtlCounter sf = b.counter("sf", sfN);
        RtlCounter nf = b.counter("nf", nfN);
        RtlCounter addr = b.counter("addr", sfN * nfN);
        boolean spram = s.store() == WeightStore.SPRAM;
        VExpr.Ref wrom = spram ? null : b.reg("weights", pe * simd * wb, false, sfN * nfN);
        VExpr.Ref brom = b.reg("biases", pe * aw, false, nfN);
        if (!spram) {
            files.put(mod + "_w.mem", MemFile.packed(s.weights(), pe * simd, wb));
        }
        long[] biases = new long[nfN * pe];
        for (int o = 0; o < biases.length; o++) {
            biases[o] = op.bias(o) + RtlFixed.roundingConstant(op.accBits(), op.accFrac(o), op.out());
        }
        files.put(mod + "_b.mem", MemFile.packed(biases, pe, aw));
        List<VStmt> init = new ArrayList<>();
        if (!spram) {
            init.add(new VStmt.SysCall("$readmemh", List.of(mod + "_w.mem", wrom)));
        }
        init.add(new VStmt.SysCall("$readmemh", List.of(mod + "_b.mem", brom)));
        b.add(new VItem.Initial(init));

        // sf == SF-1 and nf == NF-1 as registers kept beside the counters, so the counters' enables
        // are one gate after the issue decision instead of a comparator chain further on.
        List<VStmt> flagReset = new ArrayList<>();
        VExpr.Ref sfLast = RtlKit.lastFlag(b, "sf_last", sf, flagReset);
        VExpr.Ref nfLast = RtlKit.lastFlag(b, "nf_last", nf, flagReset);
        VExpr needOut = sfLast;
        Loader loader = streamed ? null : loader(b, s, sf, flagReset);
        // Without a buffer the step's beat is the input FIFO's head.
        VExpr avail = streamed ? ref("in_valid") : loader.avail;
        // Pipeline: issue -> read (buffer or input beat, and weight ROM or SPRAM, registered: block
        // RAM) -> product registers -> adder tree of the SIMD products, a register every few levels
        // -> accumulate. It advances as a whole unless its result waits for room in the output FIFO,
        // so out_ready reaches no further than this stage's control, and the memories are addressed
        // straight from registers. Register k (read, products, tree) carries its step's valid,
        // first, last and nf along. Where the registers go is the target's (Stage.MatVec.pipelining()).
        boolean regEnds = s.pipelining().registeredEnds();
        boolean read = s.readStage();
        int depth = s.pipelineDepth();
        VExpr.Ref[] v = new VExpr.Ref[depth + 1];
        VExpr.Ref[] first = new VExpr.Ref[depth + 1];
        VExpr.Ref[] last = new VExpr.Ref[depth + 1];
        VExpr.Ref[] nfk = new VExpr.Ref[depth + 1];
        // nf picks the bias (at the last register) and, at the output, the requantization shift when
        // outputs differ in it
        boolean shiftsDiffer = false;
        for (int o = pe; o < nfN * pe && !shiftsDiffer; o++) {
            shiftsDiffer = op.accFrac(o) != op.accFrac(o % pe);
        }
        for (int k = 1; k <= depth; k++) {
            v[k] = b.reg("v" + k, 1, false, 0);
            first[k] = b.reg("first" + k, 1, false, 0);
            last[k] = b.reg("last" + k, 1, false, 0);
            nfk[k] = k < depth || shiftsDiffer ? b.reg("nf" + k, nf.bits(), false, 0) : null;
        }
        VExpr.Ref vOut = regEnds ? b.reg("v_out", 1, false, 0) : null;
        VExpr.Ref nfOut = !shiftsDiffer ? null : regEnds ? b.reg("nf_out", nf.bits(), false, 0) : nfk[depth];
        // Without an output register the step leaving the last register is the result: it waits there for room.
        VExpr resultReady = regEnds ? vOut : b.wire("result", 1, false, and(v[depth], last[depth]));
        VExpr adv = b.wire("adv", 1, false, bin("||", not(resultReady), ref("out_ready")));
        VExpr compute = b.wire("compute", 1, false, and(avail, adv));
        VExpr.Ref x = read ? b.reg("x", simd * xb, false, 0) : null;
        // In SPRAM the weight row comes out of the SPRAM's own output register, read at the same
        // edges; one ROM word is a constant: without a read register it is read at a constant address.
        VExpr.Ref w = spram ? spramRead(b, s, addr, compute)
                : read ? b.reg("w", pe * simd * wb, false, 0) : b.wire("w", pe * simd * wb, false, new VExpr.Index(wrom, uconst(1, 0)));
        VExpr.Ref bias = b.reg("bias", pe * aw, false, 0);
        List<VExpr> xs = new ArrayList<>();
        for (int i = 0; i < simd; i++) {
            xs.add(RtlFixed.lane(b, "x" + i, read ? x : ref("in_data"), i, xb));
        }
        int pb = wb + xb;
        // A sum of SIMD products fits tw bits; the accumulator sum is formed at the wider of the two.
        int tw = pb + RtlFixed.counterBits(simd) - (simd == 1 ? 1 : 0);
        int sw = Math.max(aw, tw);
        List<VExpr> ys = new ArrayList<>();
        List<VStmt> pipeUpdates = new ArrayList<>();
        List<VStmt> accUpdates = new ArrayList<>();
        for (int p = 0; p < pe; p++) {
            // with the ring, acc is the output register only, whose low bits the requantization may drop
            VExpr.Ref acc = null;
            if (!ring || regEnds) {
                if (ring) {
                    b.add(new VItem.Comment("verilator lint_off UNUSEDSIGNAL"));
                }
                acc = b.reg("acc" + p, aw, true, 0);
                if (ring) {
                    b.add(new VItem.Comment("verilator lint_on UNUSEDSIGNAL"));
                }
            }
            List<VExpr.Ref> terms = new ArrayList<>();
            for (int i = 0; i < simd; i++) {
                VExpr wi = RtlFixed.lane(b, "w" + p + "_" + i, w, p * simd + i, wb);
                VExpr prod = RtlFixed.mul(b, "prod" + p + "_" + i, wi, wb, xs.get(i), xb);
                VExpr.Ref preg = b.reg("p" + p + "_" + i, pb, true, 0);
                pipeUpdates.add(set(preg, prod));
                terms.add(preg);
            }
            VExpr.Ref lanes = adderTree(b, "t" + p, terms, pb, tw, pipeUpdates, s);
            VExpr bp = RtlFixed.lane(b, "bias" + p, bias, p, aw);
            // ring: a running sum per row group. The groups arrive in turn (nf inner), so the sums
            // rotate through NF registers and the head is always the arriving group's: no
            // multiplexer (nor block RAM) before the adder. The last chunk's sum is the result;
            // what rotates in then is never read (the next vector starts from the bias).
            List<VExpr.Ref> ringRegs = new ArrayList<>();
            for (int g = 0; ring && g < nfN; g++) {
                ringRegs.add(b.reg("accs" + p + "_" + g, aw, true, 0));
            }
            VExpr running = ring ? ringRegs.get(0) : acc;
            VExpr.Ref base = b.wire("base" + p, aw, true, new VExpr.Cond(first[depth], bp, running));
            VExpr sum = bin("+", RtlFixed.signExtend(base, aw, sw), RtlFixed.signExtend(lanes, tw, sw));
            VExpr.Ref sumW;
            if (ring) {
                if (regEnds) {
                    List<VStmt> toOut = new ArrayList<>();
                    sumW = accumulate(b, "sum" + p, acc, aw, sum, sw, toOut);
                    accUpdates.add(when(last[depth], toOut));
                } else {
                    sumW = sw > aw ? b.wirePartlyUnused("sum" + p, sw, true, sum) : b.wire("sum" + p, sw, true, sum);
                }
                VExpr kept = sw > aw ? new VExpr.Slice(sumW, aw - 1, 0) : sumW;
                for (int g = 0; g + 1 < nfN; g++) {
                    accUpdates.add(set(ringRegs.get(g), ringRegs.get(g + 1)));
                }
                accUpdates.add(set(ringRegs.get(nfN - 1), kept));
            } else {
                sumW = accumulate(b, "sum" + p, acc, aw, sum, sw, accUpdates);
            }
            List<Integer> fracs = new ArrayList<>();
            for (int nf0 = 0; nf0 < nfN; nf0++) {
                fracs.add(op.accFrac(nf0 * pe + p));
            }
            if (regEnds) {
                // The output register is the accumulator itself, held while the beat waits: its
                // requantization is on the path to the output FIFO's register, not on the accumulate path.
                ys.add(RtlFixed.requantizeBank(b, "y" + p, acc, aw, fracs, op.out(), nfOut, true));
            } else {
                // the shift drops the low bits (the rounding is in the bias)
                VExpr.Ref total = b.wirePartlyUnused("total" + p, aw, true, sw > aw ? new VExpr.Slice(sumW, aw - 1, 0) : sumW);
                ys.add(RtlFixed.requantizeBank(b, "y" + p, total, aw, fracs, op.out(), nfOut, true));
            }
        }
        VExpr push = b.wire("push", 1, false, and(resultReady, ref("out_ready")));
        b.assign("out_push", push);
        if (s.activation() == null) {
            b.assign("out_data", concatLanes(ys));
        } else {
            // The fused op's own module, stepped once per beat pushed (its channel pattern is the beats')
            Stage.Elementwise a = s.activation();
            b.add(new VItem.Comment("verilator lint_off UNUSEDSIGNAL"));
            b.add(new VItem.Decl(VItem.Kind.WIRE, false, 1, "act_pop", 0));
            b.add(new VItem.Decl(VItem.Kind.WIRE, false, 1, "act_push", 0));
            b.add(new VItem.Comment("verilator lint_on UNUSEDSIGNAL"));
            VExpr.Ref y = b.wire("y", pe * ob, false, concatLanes(ys));
            Map<String, VExpr> ports = new LinkedHashMap<>();
            ports.put("aclk", ref("aclk"));
            ports.put("aresetn", ref("aresetn"));
            ports.put("in_data", y);
            ports.put("in_valid", push);
            ports.put("in_pop", ref("act_pop"));
            ports.put("out_data", ref("out_data"));
            ports.put("out_ready", uconst(1, 1));
            ports.put("out_push", ref("act_push"));
            b.add(new VItem.Instance(moduleName(d, a), "u_" + a.name(), Map.of(), ports));
        }
        // streamed: the beat leaves the FIFO with the issue of its last row group
        b.assign("in_pop", !streamed ? loader.load : ring ? and(compute, nfLast) : compute);
        VExpr xIn = ref("in_data");
        if (!streamed) {
            b.add(clockedNoReset(loader.load, List.of(set(new VExpr.Index(loader.buf, loader.waddr), ref("in_data")))));
            xIn = loader.read(b, sf);
        }
        if (read) {
            b.add(clockedNoReset(compute, spram ? List.of(set(x, xIn))
                    : List.of(set(x, xIn), set(w, new VExpr.Index(wrom, addr.ref())))));
        }
        pipeUpdates.add(set(bias, new VExpr.Index(brom, depth > 1 ? nfk[depth - 1] : nf.ref())));
        b.add(clockedNoReset(adv, pipeUpdates));
        b.add(clockedNoReset(and(adv, v[depth]), accUpdates));
        List<VStmt> onCompute = new ArrayList<>();
        onCompute.add(addr.step());
        if (ring) {
            // nf inner, sf outer
            onCompute.add(RtlKit.stepFlag(nfLast, nf));
            List<VStmt> onBeat = new ArrayList<>(List.of(RtlKit.stepFlag(sfLast, sf)));
            onBeat.addAll(sf.stepCarry(sfLast, List.of()));
            onCompute.addAll(nf.stepCarry(nfLast, onBeat));
        } else {
            // The last chunk of the last row frees this half of the input buffer: the next vector is read from the other.
            onCompute.add(RtlKit.stepFlag(sfLast, sf));
            List<VStmt> onRow = new ArrayList<>(List.of(RtlKit.stepFlag(nfLast, nf)));
            onRow.addAll(nf.stepCarry(nfLast, List.of()));
            onCompute.addAll(sf.stepCarry(needOut, onRow));
        }
        if (!streamed) {
            // The step is the vector's last (sf == SF-1 and nf == NF-1): a register kept with the two
            // flags, so the bank switch is one gate after the issue decision.
            VExpr sfLastNext = RtlKit.nextFlag(sfLast, sf);
            VExpr nfLastNext = new VExpr.Cond(sfLast, RtlKit.nextFlag(nfLast, nf), nfLast);
            onCompute.add(set(loader.vecLast, and(sfLastNext, nfLastNext)));
            onCompute.add(when(loader.vecLast, List.of(set(loader.rsel, not(loader.rsel)))));
        }
        List<VStmt> onAdvance = new ArrayList<>(List.of(set(v[1], compute), set(first[1], sf.is(0)), set(last[1], needOut)));
        if (nfk[1] != null) {
            onAdvance.add(set(nfk[1], nf.ref()));
        }
        for (int k = 2; k <= depth; k++) {
            onAdvance.addAll(List.of(set(v[k], v[k - 1]), set(first[k], first[k - 1]), set(last[k], last[k - 1])));
            if (nfk[k] != null) {
                onAdvance.add(set(nfk[k], nfk[k - 1]));
            }
        }
        List<VStmt> reset = new ArrayList<>(List.of(sf.clear(), nf.clear(), addr.clear()));
        if (regEnds) {
            onAdvance.add(set(vOut, and(v[depth], last[depth])));
            if (shiftsDiffer) {
                onAdvance.add(set(nfOut, nfk[depth]));
            }
            reset.add(set(vOut, uconst(1, 0)));
        }
        for (int k = 1; k <= depth; k++) {
            reset.add(set(v[k], uconst(1, 0)));
        }
        reset.addAll(flagReset);
        List<VStmt> onClock = new ArrayList<>();
        if (!streamed) {
            reset.addAll(loader.reset);
            onClock.addAll(loader.update);
            onClock.addAll(loader.availUpdate(b, sf, compute, sfLast, reset));
        }
        onClock.addAll(List.of(when(compute, onCompute), when(adv, onAdvance)));
        b.add(clocked(reset, onClock));
        String doc = "Matrix-vector stage " + s.name() + " (" + s.source() + "): " + s.inFeatures() + " -> " + s.outFeatures()
                + ", PE " + pe + ", SIMD " + simd + ", " + s.cycles() + " cycles per vector, " + depth + " pipeline registers"
                + (regEnds ? " and an output register" : ", the result written into the output FIFO")
                + (!streamed ? ", a two-bank input buffer" : ring ? ", streamed (no input buffer, an accumulator per output)"
                : ", no input buffer (each input beat is used once, at its issue)") + ".\n"
                + "in " + op.in() + ", weights " + op.weight().bits() + " bits, accumulator " + aw + " bits (bias includes the rounding), out "
                + op.out() + (s.activation() == null ? "" : ", then " + s.activation().op().kind() + " (" + s.activation().source() + ") to "
                + s.outFormat()) + "."
                + (spram ? "\nWeights in " + s.spramBlocks() + " SB_SPRAM256KA (" + s.rows() + " rows of " + s.rowBits()
                + " bits), written through wl_valid/wl_data after reset, row by row, a 16-bit word per write, low bits first." : "");
        List<VModule.Port> ports = new ArrayList<>(ports(simd * xb, pe * s.outFormat().bits()));
        if (spram) {
            ports.add(VModule.Port.in("wl_valid", 1));
            ports.add(VModule.Port.in("wl_data", WeightStore.SPRAM_WIDTH));
        }
        return new VModule(mod, doc, List.of(), ports, b.items());
    }

    /**
     * The input buffer of a {@link Stage.MatVec} whose outputs take several passes over the input
     * (NF > 1): two banks of SF beats, the loader's registers and the compute side's bank.
     */
    private record Loader(VExpr.Ref buf, VExpr.Ref rsel, VExpr.Ref vecLast, VExpr.Ref wsel, VExpr.Ref wcnt, VExpr.Ref avail, VExpr reuse, VExpr load,
                          VExpr waddr, List<VStmt> reset, List<VStmt> update, int sfN, int wcBits, int bufBits) {

        /**
         * The next value of {@code avail} ("the beat of step sf is in the buffer": the reader's bank
         * differs from the writer's, or the writer is not at slot sf), kept as a register so the
         * issue decision is one gate of registers. It is {@code rsel' != wsel' || wcnt' != sf'} of the
         * next values, each of which is one of a few forms (wcnt: kept, +1, 0 or 1 after a bank switch;
         * sf: kept, +1 or wrapped to 0); the equalities of those forms are compared on the registers
         * alone and the issue/load decisions only choose among them.
         */
        List<VStmt> availUpdate(RtlBuilder b, RtlCounter sf, VExpr compute, VExpr sfLast, List<VStmt> reset) {
            // sf + 1 and wcnt + 1 as registers kept beside the counters, so every equality below
            // compares registers (no carry chain before the comparators)
            int w = wcBits + 1;
            VExpr one = uconst(w, 1);
            VExpr.Ref sfPlus = b.reg("sf_plus", w, false, 0);
            VExpr.Ref wcntPlus = b.reg("wcnt_plus", w, false, 0);
            reset.add(set(sfPlus, one));
            reset.add(set(wcntPlus, one));
            VExpr wc = zext(wcnt, wcBits, w);
            VExpr sfw = sf.widen(w);
            VExpr same = b.wire("eq_same", 1, false, bin("==", wc, sfw));
            VExpr writerAhead = b.wire("eq_ahead", 1, false, bin("==", wc, sfPlus));
            VExpr writerBehind = b.wire("eq_behind", 1, false, bin("==", wcntPlus, sfw));
            VExpr writerAtZero = bin("==", wcnt, uconst(wcBits, 0));
            VExpr sfZero = sf.is(0);
            VExpr sfOne = sfN > 1 ? sf.is(1) : uconst(1, 0);
            // The issue decision comes late (it waits for the output FIFO's room): the next value is
            // worked out for both outcomes from the early terms, and the decision picks one at the end.
            VExpr ifIssued = availAfter(b, "issued", true, sameBankSwitch(load, sfLast, sfZero, sfOne, true),
                    kept(load, sfLast, same, writerBehind, writerAtZero, writerAhead, true));
            VExpr ifHeld = availAfter(b, "held", false, sameBankSwitch(load, sfLast, sfZero, sfOne, false),
                    kept(load, sfLast, same, writerBehind, writerAtZero, writerAhead, false));
            VExpr sfPlusNext = new VExpr.Cond(compute, new VExpr.Cond(sfLast, one, bin("+", sfPlus, one)), sfPlus);
            VExpr wcntPlusNext = new VExpr.Cond(reuse, bin("+", zext(load, 1, w), one),
                    new VExpr.Cond(load, bin("+", wcntPlus, one), wcntPlus));
            return List.of(set(avail, new VExpr.Cond(compute, ifIssued, ifHeld)), set(sfPlus, sfPlusNext), set(wcntPlus, wcntPlusNext));
        }

        /** {@code avail}'s next value if this cycle issues ({@code issued}) or not, given the next counts' equality per bank outcome. */
        private VExpr availAfter(RtlBuilder b, String name, boolean issued, VExpr equalIfSwitched, VExpr equalIfKept) {
            VExpr equalNext = new VExpr.Cond(reuse, equalIfSwitched, equalIfKept);
            VExpr banksDiffer = bin("!=", rsel, wsel);
            // the reader changes bank at the vector's last step, the writer when it reuses
            VExpr readerMoves = issued ? vecLast : uconst(1, 0);
            VExpr banksDifferNext = bin("^", bin("^", banksDiffer, readerMoves), reuse);
            return b.wire("avail_" + name, 1, false, bin("||", banksDifferNext, not(equalNext)));
        }

        /** wcnt' == sf' after the writer switches bank (wcnt' = load), sf' kept, stepped or wrapped. */
        private static VExpr sameBankSwitch(VExpr load, VExpr sfLast, VExpr sfZero, VExpr sfOne, boolean issued) {
            VExpr f = uconst(1, 0);
            VExpr t = uconst(1, 1);
            return issued ? new VExpr.Cond(load, new VExpr.Cond(sfLast, f, sfZero), new VExpr.Cond(sfLast, t, f))
                    : new VExpr.Cond(load, sfOne, sfZero);
        }

        /** wcnt' == sf' with the writer on its bank (wcnt' = wcnt or wcnt + 1), sf' kept, stepped or wrapped. */
        private static VExpr kept(VExpr load, VExpr sfLast, VExpr same, VExpr writerBehind, VExpr writerAtZero, VExpr writerAhead,
                                  boolean issued) {
            VExpr f = uconst(1, 0);
            return issued ? new VExpr.Cond(load, new VExpr.Cond(sfLast, f, same), new VExpr.Cond(sfLast, writerAtZero, writerAhead))
                    : new VExpr.Cond(load, writerBehind, same);
        }

        /** The buffer read of step {@code sf}: the slot an issued step reads was written in an earlier cycle (avail), never at this edge, so a plain synchronous read suffices. */
        VExpr read(RtlBuilder b, RtlCounter sf) {
            VExpr raddr = b.wire("raddr", bufBits, false, new VExpr.Cond(rsel,
                    bin("+", uconst(bufBits, sfN), zext(sf.ref(), sf.bits(), bufBits)), zext(sf.ref(), sf.bits(), bufBits)));
            return new VExpr.Index(buf, raddr);
        }
    }

    private static Loader loader(RtlBuilder b, Stage.MatVec s, RtlCounter sf, List<VStmt> flagReset) {
        int sfN = s.sf();
        int wcBits = valueBits(sfN);
        int bufBits = counterBits(2 * sfN);
        VExpr.Ref wsel = b.reg("wsel", 1, false, 0);
        VExpr.Ref wcnt = b.reg("wcnt", wcBits, false, 0);
        VExpr.Ref rsel = b.reg("rsel", 1, false, 0);
        VExpr.Ref buf = b.reg("buffer", s.simd() * s.op().in().bits(), false, 2 * sfN);
        // "The writer's bank is full" (wcnt == SF) is a register beside wcnt: the pop decision is one
        // gate of registers (the FIFO's valid, this flag, the two bank selects), no count compare.
        VExpr.Ref full = b.reg("wfull", 1, false, 0);
        VExpr sameBank = bin("==", rsel, wsel);
        VExpr reuse = b.wire("reuse", 1, false, and(full, sameBank));
        VExpr ws = b.wire("ws", 1, false, new VExpr.Cond(reuse, not(wsel), wsel));
        // a slot is free: the bank is not full, or it is and the reader has moved onto it (reuse: the
        // writer starts over on the other bank)
        VExpr load = b.wire("load", 1, false, and(ref("in_valid"), bin("||", not(full), sameBank)));
        VExpr.Ref vecLast = b.reg("vec_last", 1, false, 0);
        flagReset.add(set(vecLast, uconst(1, sfN == 1 && s.nf() == 1 ? 1 : 0)));
        // The step's beat is loaded if the loader is on the other bank or past slot sf. On the same
        // bank the loader is never behind (sf <= wcnt), so "past" is "not equal" (Loader.availUpdate).
        VExpr.Ref avail = b.reg("avail", 1, false, 0);
        // Every next value is a multiplexer by reuse/load over terms of the registers alone (the
        // increment, the write address on this bank, "one slot left"), so no adder or comparator
        // follows the loader's decision.
        VExpr wcntNext = b.wire("wcnt_next", wcBits, false, new VExpr.Cond(reuse, zext(load, 1, wcBits),
                new VExpr.Cond(load, bin("+", wcnt, uconst(wcBits, 1)), wcnt)));
        VExpr sameAddr = new VExpr.Cond(wsel, bin("+", uconst(bufBits, sfN), zext(wcnt, wcBits, bufBits)), zext(wcnt, wcBits, bufBits));
        VExpr switchAddr = new VExpr.Cond(wsel, uconst(bufBits, 0), uconst(bufBits, sfN));
        VExpr waddr = b.wire("waddr", bufBits, false, new VExpr.Cond(reuse, switchAddr, sameAddr));
        VExpr lastSlot = bin("==", wcnt, uconst(wcBits, sfN - 1));
        VExpr fullNext = new VExpr.Cond(reuse, sfN == 1 ? load : uconst(1, 0), new VExpr.Cond(load, lastSlot, full));
        return new Loader(buf, rsel, vecLast, wsel, wcnt, avail, reuse, load, waddr,
                List.of(set(wsel, uconst(1, 0)), set(wcnt, uconst(wcBits, 0)), set(rsel, uconst(1, 0)), set(full, uconst(1, 0)),
                        set(avail, uconst(1, 0))),
                new ArrayList<>(List.of(set(wsel, ws), set(wcnt, wcntNext), set(full, fullNext))), sfN, wcBits, bufBits);
    }

    /**
     * The SPRAM blocks of a {@link WeightStore#SPRAM} weight set and their loader; returns the
     * weight row of the last read. A row spans {@code ceil(rowBits / 16)} blocks side by side, rows
     * fill banks of 16K words. While {@code wl_valid} the loader writes {@code wl_data} into column
     * {@code load_col} of row {@code load_row} (the top module raises it only before the inference
     * streams open, so no read competes); otherwise, when a step is issued, every block of the
     * addressed bank reads row {@code addr}, and the row is held in the blocks' output registers
     * until the next issue (a block keeps its output while not selected), as the ROM's enabled
     * register would: the pipeline may stall between the read and the products, and {@code addr}
     * has moved on by then.
     */
    private static VExpr.Ref spramRead(RtlBuilder b, Stage.MatVec s, RtlCounter addr, VExpr compute) {
        int cols = WeightStore.spramColumns(s.rowBits());
        int banks = WeightStore.spramBanks(s.rows());
        int ab = addr.bits();
        int lowBits = 14;
        RtlCounter lcol = b.counter("load_col", cols);
        RtlCounter lrow = b.counter("load_row", s.rows());
        VExpr wl = ref("wl_valid");
        VExpr address = b.wire("spram_addr", lowBits, false, new VExpr.Cond(wl, low14(lrow, lowBits), low14(addr, lowBits)));
        VExpr.Ref rbank = null;
        if (banks > 1) {
            rbank = b.reg("read_bank", ab - lowBits, false, 0);
            b.add(clockedNoReset(compute, List.of(set(rbank, new VExpr.Slice(addr.ref(), ab - 1, lowBits)))));
        }
        List<VExpr> row = new ArrayList<>();
        for (int c = 0; c < cols; c++) {
            List<VExpr> outs = new ArrayList<>();
            for (int k = 0; k < banks; k++) {
                String q = "spram_q" + k + "_" + c;
                b.add(new VItem.Decl(VItem.Kind.WIRE, false, WeightStore.SPRAM_WIDTH, q, 0));
                VExpr load = lcol.is(c);
                // selected for a read only when a step issues, as the ROM's register is enabled
                VExpr read = compute;
                if (banks > 1) {
                    load = and(load, bin("==", new VExpr.Slice(lrow.ref(), ab - 1, lowBits), uconst(ab - lowBits, k)));
                    read = and(compute, bin("==", new VExpr.Slice(addr.ref(), ab - 1, lowBits), uconst(ab - lowBits, k)));
                }
                VExpr cs = b.wire("spram_cs" + k + "_" + c, 1, false, new VExpr.Cond(wl, load, read));
                Map<String, VExpr> pins = new java.util.LinkedHashMap<>();
                pins.put("ADDRESS", address);
                pins.put("DATAIN", ref("wl_data"));
                pins.put("MASKWREN", uconst(4, 15));
                pins.put("WREN", wl);
                pins.put("CHIPSELECT", cs);
                pins.put("CLOCK", ref("aclk"));
                pins.put("STANDBY", uconst(1, 0));
                pins.put("SLEEP", uconst(1, 0));
                pins.put("POWEROFF", uconst(1, 1));
                pins.put("DATAOUT", ref(q));
                b.add(new VItem.Instance(SPRAM_PRIMITIVE, "u_spram" + k + "_" + c, Map.of(), pins));
                outs.add(ref(q));
            }
            row.add(banks == 1 ? outs.get(0) : b.select("spram_row" + c, WeightStore.SPRAM_WIDTH, false, rbank, outs));
        }
        b.add(clocked(List.of(lcol.clear(), lrow.clear()), wl, lcol.stepCarry(List.of(lrow.step()))));
        java.util.Collections.reverse(row);
        VExpr all = cols == 1 ? row.get(0) : new VExpr.Concat(row);
        int width = cols * WeightStore.SPRAM_WIDTH;
        return width > s.rowBits() ? b.wirePartlyUnused("w", width, false, all) : b.wire("w", width, false, all);
    }

    /** The module name of the UP5K's single-port RAM ({@code VerilogLowering} emits a behavioural model of it for simulation). */
    static final String SPRAM_PRIMITIVE = "SB_SPRAM256KA";

    private static VExpr low14(RtlCounter c, int lowBits) {
        return c.bits() >= lowBits ? new VExpr.Slice(c.ref(), lowBits - 1, 0) : zext(c.ref(), c.bits(), lowBits);
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
        boolean shiftsDiffer = false;
        for (int o = lanes; o < cbN * lanes && !shiftsDiffer; o++) {
            shiftsDiffer = op.accFrac(o) != op.accFrac(o % lanes);
        }
        // cb of the beat in the accumulators, which picks the requantization shift when channels differ in it
        VExpr.Ref cbOut = shiftsDiffer ? b.reg("cb_out", cb.bits(), false, 0) : cb.ref();
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
            accumulate(b, "sum" + p, acc, aw, sum, sw, accUpdates);
            List<Integer> fracs = new ArrayList<>();
            for (int c0 = 0; c0 < cbN; c0++) {
                fracs.add(op.accFrac(c0 * lanes + p));
            }
            // the beat pushed at the last tap is presented the next cycle, from the accumulators
            ys.add(RtlFixed.requantizeBank(b, "y" + p, acc, aw, fracs, op.out(), cbOut));
        }
        b.assign("out_data", concatLanes(ys));
        b.assign("in_pop", fire);
        b.assign("out_push", and(fire, last));
        b.add(clockedNoReset(fire, accUpdates));
        if (shiftsDiffer) {
            b.add(clockedNoReset(and(fire, last), List.of(set(cbOut, cb.ref()))));
        }
        b.add(clocked(List.of(k.clear(), cb.clear(), addr.clear()), fire,
                concat(List.of(addr.step()), k.stepCarry(last, List.of(cb.step())))));
        String doc = "Depthwise convolution " + s.name() + " (" + s.source() + "): " + s.elems() + " channels x " + s.multiplier()
                + " outputs per beat, " + kk + " window beats, in " + op.in() + ", weights " + wb + " bits, accumulator " + aw
                + " bits, out " + op.out() + ".";
        return new VModule(mod, doc, List.of(), ports(s.elems() * xb, lanes * op.out().bits()), b.items());
    }

    /**
     * Sums {@code terms} ({@code width}-bit signed registers) in a balanced tree of {@code tw}-bit
     * adders with registers where the stage's {@link Pipelining} puts them ({@link Stage.MatVec#treeStages()}
     * registers in all, their updates appended to {@code updates}); returns the register or wire
     * holding the sum, or the single term.
     */
    private static VExpr.Ref adderTree(RtlBuilder b, String name, List<VExpr.Ref> terms, int width, int tw, List<VStmt> updates,
            Stage.MatVec s) {
        Pipelining pipe = s.pipelining();
        int levels = s.treeLevels();
        List<VExpr> level = new ArrayList<>();
        for (VExpr.Ref t : terms) {
            level.add(RtlFixed.signExtend(t, width, tw));
        }
        int depth = 0;
        int stage = 0;
        while (level.size() > 1) {
            List<VExpr> next = new ArrayList<>();
            for (int i = 0; i + 1 < level.size(); i += 2) {
                next.add(bin("+", level.get(i), level.get(i + 1)));
            }
            if (level.size() % 2 == 1) {
                next.add(level.get(level.size() - 1));
            }
            level = next;
            depth++;
            if (pipe.registerAfter(depth, levels, pipe.registeredEnds())) {
                stage++;
                List<VExpr> regs = new ArrayList<>();
                for (int i = 0; i < level.size(); i++) {
                    VExpr.Ref r = b.reg(name + "_s" + stage + "_" + i, tw, true, 0);
                    updates.add(set(r, level.get(i)));
                    regs.add(r);
                }
                level = regs;
            }
        }
        VExpr only = level.get(0);
        if (stage != s.treeStages()) {
            throw new IllegalStateException(s.name() + ": built " + stage + " adder-tree registers, the stage says " + s.treeStages());
        }
        return only instanceof VExpr.Ref r ? r : b.wire(name + "_sum", tw, true, only);
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
