package io.streamfold.verilog;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.Stage;
import io.streamfold.quant.ExpTable;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QOp;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import static io.streamfold.verilog.RtlFixed.sconst;
import static io.streamfold.verilog.RtlFixed.uconst;
import static io.streamfold.verilog.RtlKit.aligned;
import static io.streamfold.verilog.RtlKit.clocked;
import static io.streamfold.verilog.RtlKit.clockedNoReset;
import static io.streamfold.verilog.RtlKit.concatLanes;
import static io.streamfold.verilog.RtlKit.ports;
import static io.streamfold.verilog.RtlKit.set;
import static io.streamfold.verilog.RtlKit.unusedClock;
import static io.streamfold.verilog.RtlKit.when;
import static io.streamfold.verilog.RtlKit.zext;
import static io.streamfold.verilog.VExpr.and;
import static io.streamfold.verilog.VExpr.bin;
import static io.streamfold.verilog.VExpr.not;
import static io.streamfold.verilog.VExpr.ref;
import static io.streamfold.verilog.VerilogLowering.moduleName;

/** Verilog of the graph stages: {@link Stage.Fork}, {@link Stage.Add}, {@link Stage.Softmax}, {@link Stage.Argmax}. */
final class GraphRtl {

    private GraphRtl() {
    }

    static VModule fork(HwDesign d, Map<String, String> files, Stage.Fork s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        int bits = d.channel(s.input()).beatBits();
        int n = s.outputs().size();
        VExpr all = ref("in_valid");
        for (int k = 0; k < n; k++) {
            all = and(all, ref("out" + k + "_ready"));
        }
        VExpr fire = b.wire("fire", 1, false, all);
        b.assign("in_pop", fire);
        List<VModule.Port> ports = new ArrayList<>(List.of(VModule.Port.in("aclk", 1), VModule.Port.in("aresetn", 1),
                VModule.Port.in("in_data", bits), VModule.Port.in("in_valid", 1), VModule.Port.out("in_pop", 1)));
        for (int k = 0; k < n; k++) {
            b.assign("out" + k + "_data", ref("in_data"));
            b.assign("out" + k + "_push", fire);
            ports.add(VModule.Port.out("out" + k + "_data", bits));
            ports.add(VModule.Port.in("out" + k + "_ready", 1));
            ports.add(VModule.Port.out("out" + k + "_push", 1));
        }
        unusedClock(b);
        String doc = "Fork " + s.name() + " (value " + s.source() + "): one stream of " + bits + "-bit beats into " + n
                + "; fires when the input is present and every output has room.";
        return new VModule(mod, doc, List.of(), ports, b.items());
    }

    static VModule add(HwDesign d, Map<String, String> files, Stage.Add s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        QOp.QAdd op = s.op();
        int e = s.elems();
        int sb = op.sumBits();
        VExpr fire = b.wire("fire", 1, false, and(and(ref("in0_valid"), ref("in1_valid")), ref("out_ready")));
        // Two free-running registers (Stage.Add#outputRegisters): the operands, then their aligned
        // sum; the rounding and saturation follow the second.
        VExpr.Ref aq = b.reg("r1_a", e * op.a().bits(), false, 0);
        VExpr.Ref bq = b.reg("r1_b", e * op.b().bits(), false, 0);
        List<VStmt> pipe = new ArrayList<>(List.of(set(aq, ref("in0_data")), set(bq, ref("in1_data"))));
        List<VExpr> ys = new ArrayList<>();
        for (int i = 0; i < e; i++) {
            VExpr.Ref a = RtlFixed.lane(b, "a" + i, aq, i, op.a().bits());
            VExpr.Ref c = RtlFixed.lane(b, "b" + i, bq, i, op.b().bits());
            VExpr sum = bin("+", aligned(a, op.a().bits(), op.shiftA(), sb), aligned(c, op.b().bits(), op.shiftB(), sb));
            VExpr.Ref w = b.reg("r2_sum" + i, sb, true, 0);
            pipe.add(set(w, sum));
            ys.add(RtlFixed.requantize(b, "y" + i, w, sb, op.frac(), op.out()));
        }
        b.add(clockedNoReset(pipe));
        b.assign("out_data", concatLanes(ys));
        b.assign("in0_pop", fire);
        b.assign("in1_pop", fire);
        b.assign("out_push", fire);
        b.add(new VItem.Comment("verilator lint_off UNUSEDSIGNAL"));
        b.wire("unused_reset", 1, false, ref("aresetn"));
        b.add(new VItem.Comment("verilator lint_on UNUSEDSIGNAL"));
        List<VModule.Port> ports = List.of(VModule.Port.in("aclk", 1), VModule.Port.in("aresetn", 1),
                VModule.Port.in("in0_data", e * op.a().bits()), VModule.Port.in("in0_valid", 1), VModule.Port.out("in0_pop", 1),
                VModule.Port.in("in1_data", e * op.b().bits()), VModule.Port.in("in1_valid", 1), VModule.Port.out("in1_pop", 1),
                VModule.Port.out("out_data", e * op.out().bits()), VModule.Port.in("out_ready", 1), VModule.Port.out("out_push", 1));
        String doc = "Add " + s.name() + " (" + s.source() + "): " + e + " elements per beat, " + op.a() + " + " + op.b() + " -> "
                + op.out() + ", aligned to frac " + op.frac() + " in " + sb + " bits.\nTwo free-running registers (operands, sum); "
                + "the output FIFO counts the beats in flight.";
        return new VModule(mod, doc, List.of(), ports, b.items());
    }

    static VModule softmax(HwDesign d, Map<String, String> files, Stage.Softmax s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        QOp.QSoftmax op = s.op();
        QFormat in = op.in();
        ExpTable exp = op.exp();
        int e = s.elems();
        int beats = s.beats();
        int xb = in.bits();
        int eb = exp.out().bits();
        int stages = s.expStages();
        int sb = op.sumBits();
        int k = op.recipShift();
        int q = s.divSteps();
        // Phases LOAD = 0, EXP = 1, DIV = 2, OUT = 3 (Stage.Softmax).
        VExpr.Ref phase = b.reg("phase", 2, false, 0);
        RtlCounter bc = b.counter("b", beats);
        RtlCounter t = b.counter("t", q);
        VExpr.Ref max = b.reg("max", xb, true, 0);
        VExpr.Ref sum = b.reg("sum", sb, false, 0);
        VExpr.Ref rem = b.reg("rem", sb, false, 0);
        VExpr.Ref quo = b.reg("quo", q, false, 0);
        VExpr.Ref xbuf = b.reg("xbuf", e * xb, false, beats);
        VExpr.Ref ebuf = b.reg("ebuf", e * eb, false, beats);
        // the lanes read one table (a plain ROM, or the two ROMs of a reduced table)
        List<VStmt> loads = new ArrayList<>();
        ExpRtl.Roms roms = exp.accept(new ExpTable.Visitor<ExpRtl.Roms>() {
            @Override
            public ExpRtl.Roms plain(ExpTable.Plain p) {
                VExpr.Ref table = b.reg("exp_rom", eb, false, p.lut().size());
                files.put(mod + "_exp.mem", MemFile.packed(p.lut().table(), 1, eb));
                loads.add(new VStmt.SysCall("$readmemh", List.of(mod + "_exp.mem", table)));
                return null;
            }

            @Override
            public ExpRtl.Roms reduced(ExpTable.Reduced r) {
                ExpRtl.files(files, mod, r);
                return ExpRtl.roms(b, mod, "", r, loads);
            }
        });
        b.add(new VItem.Initial(loads));
        VExpr lastBeat = b.wire("last_beat", 1, false, bc.atLast());
        VExpr first = b.wire("first_beat", 1, false, bc.is(0));
        VExpr inLoad = b.wire("in_load", 1, false, bin("==", phase, uconst(2, 0)));
        VExpr inExp = b.wire("in_exp", 1, false, bin("==", phase, uconst(2, 1)));
        VExpr inDiv = b.wire("in_div", 1, false, bin("==", phase, uconst(2, 2)));
        VExpr inOut = b.wire("in_out", 1, false, bin("==", phase, uconst(2, 3)));
        VExpr load = b.wire("load", 1, false, and(inLoad, ref("in_valid")));
        VExpr emit = b.wire("emit", 1, false, and(inOut, ref("out_ready")));

        // LOAD: the running maximum over the lanes of the beat, lane 0 first, one cycle after the
        // beat is taken, from a register of it that holds the smallest value in every other cycle;
        // the maximum restarts from the smallest value after a vector's last output beat. So the
        // recurrence is a comparison and a multiplexer, with no enable, and no comparator hangs
        // off the input FIFO. The maximum is first read in the second cycle of EXP, so the
        // vector's last beat still counts.
        long minX = -(1L << (xb - 1));
        List<VExpr> mins = new ArrayList<>();
        for (int i = 0; i < e; i++) {
            mins.add(sconst(xb, minX));
        }
        VExpr minBeat = concatLanes(mins);
        VExpr.Ref xin = b.reg("xin", e * xb, false, 0);
        VExpr.Ref m = max;
        for (int i = 0; i < e; i++) {
            VExpr.Ref x = RtlFixed.lane(b, "x" + i, xin, i, xb);
            m = b.wire("max" + i, xb, true, new VExpr.Cond(RtlFixed.greater(x, m, xb), x, m));
        }
        // EXP, a pipeline over the beats: issue (bc) -> read the beat (xr) -> the exponential's X
        // registers, the last one ee -> add to the sum and store. A plain table: e = table[index(max - x)],
        // the unsigned index saturated as in Lut.index, read into ee (X = 1); a reduced one: ExpRtl.
        // Valid flags v1..v(X+1) and beat numbers b1..b(X+1) follow the beat. The phase lasts beats + 1 + X cycles.
        VExpr.Ref issued = b.reg("issued", 1, false, 0);
        List<VExpr.Ref> vs = new ArrayList<>();
        for (int j = 1; j <= stages + 1; j++) {
            vs.add(b.reg("v" + j, 1, false, 0));
        }
        List<VExpr.Ref> bs = new ArrayList<>();
        for (int j = 1; j <= stages + 1; j++) {
            bs.add(b.reg("b" + j, bc.bits(), false, 0));
        }
        VExpr.Ref vLast = vs.get(stages);
        VExpr.Ref bLast = bs.get(stages);
        VExpr.Ref xrow = b.reg("xrow", e * xb, false, 0);
        VExpr.Ref erowIn = b.reg("ee", e * eb, false, 0);
        VExpr issue = b.wire("issue", 1, false, and(inExp, not(issued)));
        List<VExpr> es = new ArrayList<>();
        List<VExpr.Ref> diffs = new ArrayList<>();
        List<VExpr> eqs = new ArrayList<>();
        VExpr total = new VExpr.Cond(bin("==", bLast, uconst(bc.bits(), 0)), uconst(sb, 0), sum);
        for (int i = 0; i < e; i++) {
            VExpr.Ref xr = RtlFixed.lane(b, "xr" + i, xrow, i, xb);
            VExpr.Ref diff = b.wire("diff" + i, xb + 1, true,
                    bin("-", RtlFixed.signExtend(max, xb, xb + 1), RtlFixed.signExtend(xr, xb, xb + 1)));
            diffs.add(diff);
            int lane = i;
            exp.accept(new ExpTable.Visitor<Void>() {
                @Override
                public Void plain(ExpTable.Plain p) {
                    VExpr.Ref addr = RtlFixed.tableAddress(b, "idx" + lane, "addr" + lane, diff, xb + 1, in.frac(), p.lut());
                    es.add(new VExpr.Index(ref("exp_rom"), addr));
                    return null;
                }

                @Override
                public Void reduced(ExpTable.Reduced r) {
                    return null; // every lane at once, below
                }
            });
            VExpr.Ref eq = RtlFixed.lane(b, "e" + i, erowIn, i, eb);
            eqs.add(eq);
            total = bin("+", total, zext(eq, eb, sb));
        }
        List<VStmt> expPipe = new ArrayList<>();
        exp.accept(new ExpTable.Visitor<Void>() {
            @Override
            public Void plain(ExpTable.Plain p) {
                return null;
            }

            @Override
            public Void reduced(ExpTable.Reduced r) {
                es.addAll(ExpRtl.lanes(b, ExpRtl.Stages.numbered(b, "ex", expPipe), diffs, xb + 1, r, Collections.nCopies(e, roms)));
                return null;
            }
        });
        VExpr.Ref sumNext = b.wire("sum_next", sb, false, total);
        VExpr expDone = b.wire("exp_done", 1, false, and(vLast, bin("==", bLast, uconst(bc.bits(), beats - 1))));
        List<VStmt> follow = new ArrayList<>(List.of(set(xrow, new VExpr.Index(xbuf, bc.ref())), set(bs.get(0), bc.ref())));
        for (int j = 1; j <= stages; j++) {
            follow.add(set(bs.get(j), bs.get(j - 1)));
        }
        b.add(clockedNoReset(follow));
        List<VStmt> tableReads = new ArrayList<>(expPipe);
        for (int i = 0; i < e; i++) {
            tableReads.add(set(new VExpr.Slice(erowIn, (i + 1) * eb - 1, i * eb), es.get(i)));
        }
        b.add(clockedNoReset(tableReads));
        // DIV: one restoring step per cycle; 2^K has its single one bit at position K. The compare
        // is the borrow of the subtraction (one carry chain).
        VExpr bit = k <= q - 1 ? t.is(q - 1 - k) : uconst(1, 0);
        VExpr.Ref r2 = b.wire("rem2", sb + 1, false, bin("+", new VExpr.Concat(List.of(rem, uconst(1, 0))), zext(bit, 1, sb + 1)));
        VExpr.Ref sub = b.wire("rem_sub", sb + 2, false, bin("-", zext(r2, sb + 1, sb + 2), zext(sum, sb, sb + 2)));
        VExpr.Ref geq = b.wire("geq", 1, false, not(new VExpr.Index(sub, new VExpr.Int(sb + 1))));
        VExpr.Ref diffR = b.wirePartlyUnused("rem_next", sb + 1, false,
                new VExpr.Cond(geq, new VExpr.Slice(sub, sb, 0), r2));
        VExpr quoNext = q == 1 ? geq : new VExpr.Concat(List.of(new VExpr.Slice(quo, q - 2, 0), geq));
        // OUT: p = requantize(e * q, K, out).
        VExpr.Ref erow = b.wire("erow", e * eb, false, new VExpr.Index(ebuf, bc.ref()));
        VExpr.Ref recip = b.wire("recip", q + 1, true, new VExpr.Concat(List.of(uconst(1, 0), quo)));
        List<VExpr> ys = new ArrayList<>();
        for (int i = 0; i < e; i++) {
            VExpr.Ref eo = RtlFixed.lane(b, "eo" + i, erow, i, eb);
            VExpr.Ref prod = RtlFixed.mul(b, "prod" + i, eo, eb, recip, q + 1);
            ys.add(RtlFixed.requantize(b, "p" + i, prod, eb + q + 1, k, op.out()));
        }
        b.assign("out_data", concatLanes(ys));
        b.assign("in_pop", load);
        b.assign("out_push", emit);
        b.add(clockedNoReset(List.of(
                when(load, List.of(set(new VExpr.Index(xbuf, bc.ref()), ref("in_data")))),
                when(vLast, List.of(set(new VExpr.Index(ebuf, bLast), erowIn))))));
        long r0 = (1L << k) >>> q;
        VStmt nextBeat = bc.step(lastBeat);
        List<VStmt> reset = new ArrayList<>(List.of(set(phase, uconst(2, 0)), bc.clear(), t.clear(), set(issued, uconst(1, 0))));
        List<VStmt> follows = new ArrayList<>(List.of(set(vs.get(0), issue)));
        for (int j = 0; j <= stages; j++) {
            reset.add(set(vs.get(j), uconst(1, 0)));
            if (j > 0) {
                follows.add(set(vs.get(j), vs.get(j - 1)));
            }
        }
        reset.addAll(List.of(set(xin, minBeat), set(max, sconst(xb, minX))));
        List<VStmt> run = new ArrayList<>(follows);
        run.addAll(List.of(set(xin, new VExpr.Cond(load, ref("in_data"), minBeat)),
                new VStmt.If(and(emit, lastBeat), List.of(set(max, sconst(xb, minX))), List.of(set(max, m))),
                when(load, List.of(nextBeat, when(lastBeat, List.of(set(phase, uconst(2, 1)))))),
                when(issue, List.of(nextBeat, when(lastBeat, List.of(set(issued, uconst(1, 1)))))),
                when(vLast, List.of(set(sum, sumNext))),
                when(expDone, List.of(set(issued, uconst(1, 0)), t.clear(), set(phase, uconst(2, 2)), set(rem, uconst(sb, r0)),
                        set(quo, uconst(q, 0)))),
                when(inDiv, List.of(set(rem, new VExpr.Slice(diffR, sb - 1, 0)), set(quo, quoNext), t.step(),
                        when(t.atLast(), List.of(set(phase, uconst(2, 3)))))),
                when(emit, List.of(nextBeat, when(lastBeat, List.of(set(phase, uconst(2, 0))))))));
        b.add(clocked(reset, run));
        String doc = "Softmax " + s.name() + " (" + s.source() + "): " + s.n() + " elements, " + e + " per beat, " + in + " -> "
                + op.out() + ".\nPhases LOAD (" + beats + " beats), EXP (" + (beats + 1 + stages) + " cycles, pipelined), DIV (" + q + " cycles, restoring "
                + "divider of 2^" + k + " by the " + sb + "-bit sum), OUT (" + beats + " beats): " + s.cycles() + " cycles per vector.";
        return new VModule(mod, doc, List.of(), ports(e * xb, e * op.out().bits()), b.items());
    }

    static VModule argmax(HwDesign d, Map<String, String> files, Stage.Argmax s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        int e = s.elems();
        int beats = s.beats();
        int xb = s.in().bits();
        int ob = s.out().bits();
        RtlCounter bc = b.counter("b", beats);
        VExpr.Ref best = b.reg("best", xb, true, 0);
        VExpr.Ref bestIdx = b.reg("best_idx", ob, false, 0);
        VExpr first = b.wire("first", 1, false, bc.is(0));
        VExpr last = b.wire("last", 1, false, bc.atLast());
        VExpr fire = b.wire("fire", 1, false, and(ref("in_valid"), bin("||", not(last), ref("out_ready"))));
        VExpr v = best;
        VExpr idx = bestIdx;
        for (int i = 0; i < e; i++) {
            VExpr.Ref x = RtlFixed.lane(b, "x" + i, ref("in_data"), i, xb);
            List<VExpr> idxs = new ArrayList<>();
            for (int k = 0; k < beats; k++) {
                idxs.add(uconst(ob, s.index(k, i)));
            }
            VExpr li = b.select("idx" + i, ob, false, bc.ref(), idxs);
            VExpr take = bin("||", bin(">", x, v), and(bin("==", x, v), bin("<", li, idx)));
            VExpr.Ref tk = b.wire("take" + i, 1, false, i == 0 ? bin("||", first, take) : take);
            v = b.wire("v" + i, xb, true, new VExpr.Cond(tk, x, v));
            idx = b.wire("i" + i, ob, false, new VExpr.Cond(tk, li, idx));
        }
        b.assign("out_data", idx);
        b.assign("in_pop", fire);
        b.assign("out_push", and(fire, last));
        b.add(clocked(List.of(bc.clear()), fire, List.of(bc.step(), set(best, v), set(bestIdx, idx))));
        String doc = "Argmax head " + s.name() + ": index (" + s.out() + ") of the largest of " + s.index().length
                + " elements, ties to the lowest index; " + e + " elements per beat.";
        return new VModule(mod, doc, List.of(), ports(e * xb, ob), b.items());
    }
}
