package io.streamfold.verilog;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.Stage;
import io.streamfold.quant.Fixed;
import io.streamfold.quant.Lut;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QOp;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.function.IntToLongFunction;

import static io.streamfold.verilog.RtlFixed.sconst;
import static io.streamfold.verilog.RtlFixed.uconst;
import static io.streamfold.verilog.RtlKit.clocked;
import static io.streamfold.verilog.RtlKit.clockedNoReset;
import static io.streamfold.verilog.RtlKit.concatLanes;
import static io.streamfold.verilog.RtlKit.ports;
import static io.streamfold.verilog.RtlKit.set;
import static io.streamfold.verilog.RtlKit.unusedClock;
import static io.streamfold.verilog.VExpr.and;
import static io.streamfold.verilog.VExpr.bin;
import static io.streamfold.verilog.VExpr.not;
import static io.streamfold.verilog.VExpr.ref;
import static io.streamfold.verilog.VerilogLowering.moduleName;

/** Verilog of {@link Stage.Elementwise} and {@link Stage.WidthConverter}. */
final class ElementwiseRtl {

    private ElementwiseRtl() {
    }

    static VModule elementwise(HwDesign d, Map<String, String> files, Stage.Elementwise s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        QOp.QElementwise op = s.op();
        QFormat in = op.in();
        QFormat out = op.out();
        int e = s.elems();
        int period = s.periodBeats();
        VExpr fire = b.wire("fire", 1, false, and(ref("in_valid"), ref("out_ready")));
        // With a period of several beats, a lane carries different channels on different beats: per-channel
        // constants are then chosen by this beat counter.
        RtlCounter beat = period > 1 ? b.counter("pos", period) : null;
        VExpr.Ref pos = beat == null ? null : beat.ref();
        // the registers of an interpolating table's pipeline (Stage.Elementwise), all on one clock
        List<VStmt> pipe = new ArrayList<>();
        if (op instanceof QOp.QLut t) {
            // one table for all lanes (and one slope table when it interpolates)
            Lut l = t.lut();
            List<VStmt> loads = new ArrayList<>();
            VExpr.Ref rom = b.reg("lut_rom", l.entry().bits(), false, l.size());
            files.put(mod + "_lut.mem", MemFile.packed(l.table(), 1, l.entry().bits()));
            loads.add(new VStmt.SysCall("$readmemh", List.of(mod + "_lut.mem", rom)));
            if (l.interpolates()) {
                VExpr.Ref slopes = b.reg("slope_rom", l.slopeBits(), false, l.size());
                files.put(mod + "_slope.mem", MemFile.packed(l.slopes(), 1, l.slopeBits()));
                loads.add(new VStmt.SysCall("$readmemh", List.of(mod + "_slope.mem", slopes)));
            }
            b.add(new VItem.Initial(loads));
        }
        // an Affine's beat position two registers later, for its per-channel rounding after them
        VExpr.Ref pos2 = null;
        if (pos != null && op instanceof QOp.QAffine a && shiftsDiffer(s, a)) {
            VExpr.Ref pos1 = b.reg("r1_pos", beat.bits(), false, 0);
            pos2 = b.reg("r2_pos", beat.bits(), false, 0);
            pipe.add(set(pos1, pos));
            pipe.add(set(pos2, pos1));
        }
        VExpr.Ref posOut = pos2;
        List<VExpr> ys = new ArrayList<>();
        for (int i = 0; i < e; i++) {
            int lane = i;
            VExpr.Ref x = RtlFixed.lane(b, "x" + i, ref("in_data"), i, in.bits());
            String n = "y" + i;
            ys.add(op.accept(new QOp.ElementwiseVisitor<VExpr>() {
                @Override
                public VExpr relu(QOp.QRelu r) {
                    VExpr.Ref m = b.wire("relu" + lane, in.bits(), true,
                            new VExpr.Cond(new VExpr.Index(x, new VExpr.Int(in.bits() - 1)), sconst(in.bits(), 0), x));
                    return RtlFixed.requantize(b, n, m, in.bits(), in.frac(), r.out());
                }

                @Override
                public VExpr clip(QOp.QClip c) {
                    // register 1: the input; register 2: the value rounded and saturated to the output format,
                    // beside the clamp decisions taken on the input (rounding is monotone, so Q(x) > hi exactly
                    // when x is above the last input code that rounds to at most hi): the output is one
                    // multiplexer after registers, no comparator between them and the FIFO.
                    VExpr.Ref x1 = b.reg("r1_" + n + "_x", in.bits(), true, 0);
                    pipe.add(set(x1, x));
                    VExpr r = RtlFixed.requantize(b, n + "_r", x1, in.bits(), in.frac(), out);
                    VExpr.Ref r2 = b.reg("r2_" + n + "_r", out.bits(), true, 0);
                    pipe.add(set(r2, r));
                    VExpr y = r2;
                    long top = lastCodeAtMost(in, out, c.hi());
                    if (top < in.min()) {
                        y = sconst(out.bits(), c.hi());
                    } else if (top < in.max()) {
                        VExpr.Ref above = b.reg("r2_" + n + "_hi", 1, false, 0);
                        pipe.add(set(above, bin(">", x1, sconst(in.bits(), top))));
                        y = new VExpr.Cond(above, sconst(out.bits(), c.hi()), y);
                    }
                    long bottom = firstCodeAtLeast(in, out, c.lo());
                    if (bottom > in.max()) {
                        y = sconst(out.bits(), c.lo());
                    } else if (bottom > in.min()) {
                        VExpr.Ref below = b.reg("r2_" + n + "_lo", 1, false, 0);
                        pipe.add(set(below, bin("<", x1, sconst(in.bits(), bottom))));
                        y = new VExpr.Cond(below, sconst(out.bits(), c.lo()), y);
                    }
                    return b.wire(n, out.bits(), true, y);
                }

                @Override
                public VExpr leakyRelu(QOp.QLeakyRelu l) {
                    VExpr pos0 = RtlFixed.requantize(b, n + "_p", x, in.bits(), in.frac(), out);
                    int pb = l.productBits();
                    VExpr.Ref prod = RtlFixed.mul(b, "prod" + lane, x, in.bits(), sconst(l.alphaBits(), l.alpha()), l.alphaBits());
                    VExpr neg = RtlFixed.requantize(b, n + "_n", prod, pb, in.frac() + l.alphaFrac(), out);
                    return b.wire(n, out.bits(), true, new VExpr.Cond(new VExpr.Index(x, new VExpr.Int(in.bits() - 1)), neg, pos0));
                }

                @Override
                public VExpr prelu(QOp.QPRelu pr) {
                    VExpr pos0 = RtlFixed.requantize(b, n + "_p", x, in.bits(), in.frac(), out);
                    int ab = pr.alphaBits();
                    // the stage's rule for a lane whose slope is the same at every beat (its DSP count reads it too)
                    OptionalLong same = s.laneConstant(lane, pr::alpha);
                    VExpr.Ref sl;
                    if (same.isPresent()) {
                        sl = b.wire("slope" + lane + "_c", ab, true, sconst(ab, same.getAsLong()));
                    } else {
                        sl = (VExpr.Ref) b.select("slope" + lane, ab, true, pos, perBeat(s, lane, ab, pr::alpha));
                    }
                    VExpr.Ref prod = RtlFixed.mul(b, "prod" + lane, x, in.bits(), sl, ab);
                    VExpr neg = RtlFixed.requantize(b, n + "_n", prod, pr.productBits(), in.frac() + pr.alphaFrac(), out);
                    return b.wire(n, out.bits(), true, new VExpr.Cond(new VExpr.Index(x, new VExpr.Int(in.bits() - 1)), neg, pos0));
                }

                @Override
                public VExpr lut(QOp.QLut t) {
                    Lut l = t.lut();
                    if (!l.interpolates()) {
                        VExpr.Ref a = RtlFixed.tableAddress(b, n + "_i", n + "_addr", x, in.bits(), in.frac(), l);
                        return b.wire(n, l.out().bits(), true, new VExpr.Index(ref("lut_rom"), a));
                    }
                    // register 1: the value and slope at the cell's address, the remainder carried along;
                    // register 2: v 2^s + d r; then the rounding to the output format
                    int sh = l.interpBits();
                    int vb = l.entry().bits();
                    int db = l.slopeBits();
                    int sw = l.sumBits();
                    RtlFixed.TableCell c = RtlFixed.tableCell(b, n, x, in.bits(), l);
                    VExpr.Ref v = b.reg("r1_" + n + "_v", vb, true, 0);
                    VExpr.Ref d = b.reg("r1_" + n + "_d", db, true, 0);
                    VExpr.Ref r = b.reg("r1_" + n + "_r", sh + 1, true, 0);
                    pipe.add(set(v, new VExpr.Index(ref("lut_rom"), c.address())));
                    pipe.add(set(d, new VExpr.Index(ref("slope_rom"), c.address())));
                    pipe.add(set(r, new VExpr.Concat(List.of(RtlFixed.uconst(1, 0), c.remainder()))));
                    VExpr.Ref prod = RtlFixed.mul(b, n + "_prod", d, db, r, sh + 1);
                    VExpr.Ref vs = b.wire(n + "_vs", vb + sh, true, new VExpr.Concat(List.of(v, RtlFixed.uconst(sh, 0))));
                    VExpr.Ref sum = b.wire(n + "_sum", sw, true,
                            bin("+", RtlFixed.signExtend(vs, vb + sh, sw), RtlFixed.signExtend(prod, l.productBits(), sw)));
                    VExpr.Ref acc = b.reg("r2_" + n + "_acc", sw, true, 0);
                    pipe.add(set(acc, sum));
                    return RtlFixed.requantize(b, n, acc, sw, l.entry().frac() + sh, out);
                }

                @Override
                public VExpr affine(QOp.QAffine a) {
                    // register 1: the input with its channel's scale and shift; register 2: x * scale + shift
                    // (a multiplier with registered operands and result: the DSP's own registers); then the
                    // shift to the output format, chosen by the channel position carried along. The shift
                    // constants include the rounding (as a MatVec's biases), so no adder follows register 2.
                    int sb = a.scale().bits();
                    int sw = Math.max(a.accBits(), a.productBits()) + 1;
                    List<Integer> fracs = new ArrayList<>();
                    for (int k = 0; k < period; k++) {
                        fracs.add(a.accFrac(s.channel(k, lane)));
                    }
                    VExpr.Ref x1 = b.reg("r1_" + n + "_x", in.bits(), true, 0);
                    pipe.add(set(x1, x));
                    VExpr.Ref sc = perChannel(b, pipe, s, pos, "scale" + lane, "r1_" + n + "_scale", sb, lane, c -> a.scale().at(c));
                    VExpr.Ref sh = perChannel(b, pipe, s, pos, "shift" + lane, "r1_" + n + "_shift", sw, lane,
                            c -> a.shift(c) + RtlFixed.roundingConstant(sw, a.accFrac(c), out));
                    VExpr.Ref prod = RtlFixed.mul(b, "prod" + lane, x1, in.bits(), sc, sb);
                    // |x * scale + shift| < 2^(sw-2) and the rounding constant is at most 2^(sw-2): the sum fits sw bits
                    VExpr.Ref acc = b.regPartlyUnused("r2_" + n + "_acc", sw, true);
                    pipe.add(set(acc, bin("+", RtlFixed.signExtend(prod, a.productBits(), sw), sh)));
                    return RtlFixed.requantizeBank(b, n, acc, sw, fracs, out, posOut, true);
                }

                @Override
                public VExpr flatten(QOp.QFlatten f) {
                    return RtlFixed.requantize(b, n, x, in.bits(), in.frac(), out);
                }

                @Override
                public VExpr reshape(QOp.QReshape r) {
                    return RtlFixed.requantize(b, n, x, in.bits(), in.frac(), out);
                }
            }));
        }
        b.assign("out_data", concatLanes(ys));
        b.assign("in_pop", fire);
        b.assign("out_push", fire);
        if (!pipe.isEmpty()) {
            b.add(clockedNoReset(pipe));
        }
        if (beat != null) {
            b.add(clocked(List.of(beat.clear()), fire, List.of(beat.step())));
        } else if (pipe.isEmpty()) {
            unusedClock(b);
        } else {
            b.add(new VItem.Comment("verilator lint_off UNUSEDSIGNAL"));
            b.wire("unused_reset", 1, false, ref("aresetn"));
            b.add(new VItem.Comment("verilator lint_on UNUSEDSIGNAL"));
        }
        String doc = op.kind() + " stage " + s.name() + " (" + s.source() + "): " + e + " elements per beat, " + in + " -> " + out + "."
                + (op instanceof QOp.QLut t && op.pipelined() ? "\nInterpolating table: " + t.lut() + "; a pipeline of two free-running "
                        + "registers (table read, interpolation sum), the output FIFO counts the beats in flight."
                        : op instanceof QOp.QAffine && op.pipelined() ? "\nA pipeline of two free-running registers (input with its "
                        + "channel's scale and shift, product plus shift), the output FIFO counts the beats in flight."
                        : op.pipelined() ? "\nA pipeline of two free-running registers (input, rounded value beside the clamp decisions), "
                        + "the output FIFO counts the beats in flight." : "");
        return new VModule(mod, doc, List.of(), ports(e * in.bits(), e * out.bits()), b.items());
    }

    /** True if some lane of {@code s} rounds different channels of its period by different shifts. */
    private static boolean shiftsDiffer(Stage.Elementwise s, QOp.QAffine a) {
        for (int lane = 0; lane < s.elems(); lane++) {
            if (s.laneConstant(lane, a::accFrac).isEmpty()) {
                return true;
            }
        }
        return false;
    }

    /**
     * A per-channel constant of lane {@code lane} ({@code valueOf} a channel's) for the first
     * register: a constant wire ({@code reg}_c) where the stage says it is the same at every beat of
     * the period ({@link Stage.Elementwise#laneConstant}), else its selection by the beat's position
     * ({@code select}) in register {@code reg}.
     */
    private static VExpr.Ref perChannel(RtlBuilder b, List<VStmt> pipe, Stage.Elementwise s, VExpr pos, String select, String reg,
                                        int bits, int lane, IntToLongFunction valueOf) {
        OptionalLong same = s.laneConstant(lane, valueOf);
        if (same.isPresent()) {
            return b.wire(reg + "_c", bits, true, sconst(bits, same.getAsLong()));
        }
        VExpr chosen = b.select(select, bits, true, pos, perBeat(s, lane, bits, valueOf));
        VExpr.Ref r = b.reg(reg, bits, true, 0);
        pipe.add(set(r, chosen));
        return r;
    }

    /** Lane {@code lane}'s per-channel constant ({@code valueOf} a channel's) at each beat of the period, as {@code bits}-bit constants. */
    private static List<VExpr> perBeat(Stage.Elementwise s, int lane, int bits, IntToLongFunction valueOf) {
        List<VExpr> choices = new ArrayList<>();
        for (int k = 0; k < s.periodBeats(); k++) {
            choices.add(sconst(bits, valueOf.applyAsLong(s.channel(k, lane))));
        }
        return choices;
    }

    /** The largest input code whose requantization to {@code out} is at most {@code v}, {@code in.min() - 1} if none. */
    static long lastCodeAtMost(QFormat in, QFormat out, long v) {
        long lo = in.min() - 1;
        long hi = in.max();
        // invariant: Q(lo) <= v (lo = min - 1 stands for "none"), Q(c) > v for every c above hi's answer
        while (lo < hi) {
            long mid = lo + (hi - lo + 1) / 2;
            if (Fixed.requantize(mid, in.frac(), out) <= v) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }

    /** The smallest input code whose requantization to {@code out} is at least {@code v}, {@code in.max() + 1} if none. */
    static long firstCodeAtLeast(QFormat in, QFormat out, long v) {
        long lo = in.min();
        long hi = in.max() + 1;
        while (lo < hi) {
            long mid = lo + (hi - lo) / 2;
            if (Fixed.requantize(mid, in.frac(), out) >= v) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return lo;
    }

    static VModule widthConverter(HwDesign d, Map<String, String> files, Stage.WidthConverter s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        int bits = s.format().bits();
        int k = s.ratio();
        RtlCounter j = b.counter("j", k);
        VExpr last = b.wire("last", 1, false, j.atLast());
        VExpr fire;
        List<VStmt> onFire = new ArrayList<>();
        if (s.widening()) {
            int w = s.elemsIn() * bits;
            fire = b.wire("fire", 1, false, and(ref("in_valid"), bin("||", not(last), ref("out_ready"))));
            if (k > 1) {
                VExpr.Ref hold = b.reg("hold", (k - 1) * w, false, 0);
                List<VStmt.CaseItem> arms = new ArrayList<>();
                for (int g = 0; g < k - 1; g++) {
                    VExpr target = new VExpr.Slice(hold, (g + 1) * w - 1, g * w);
                    arms.add(new VStmt.CaseItem(List.of(uconst(j.bits(), g)), List.of(set(target, ref("in_data")))));
                }
                onFire.add(new VStmt.Case(j.ref(), arms, List.of()));
                b.assign("out_data", new VExpr.Concat(List.of(ref("in_data"), hold)));
            }
            b.assign("in_pop", fire);
            b.assign("out_push", and(fire, last));
        } else {
            int w = s.elemsOut() * bits;
            fire = b.wire("fire", 1, false, and(ref("in_valid"), ref("out_ready")));
            List<VExpr> groups = new ArrayList<>();
            for (int g = 0; g < k; g++) {
                groups.add(new VExpr.Slice(ref("in_data"), (g + 1) * w - 1, g * w));
            }
            VExpr out = b.select("group", w, false, j.ref(), groups);
            b.assign("out_data", out);
            b.assign("in_pop", and(fire, last));
            b.assign("out_push", fire);
        }
        onFire.add(j.step(last));
        b.add(clocked(List.of(j.clear()), fire, onFire));
        String doc = "Width converter " + s.name() + ": " + s.elemsIn() + " -> " + s.elemsOut() + " elements of " + s.format() + " per beat.";
        return new VModule(mod, doc, List.of(), ports(s.elemsIn() * bits, s.elemsOut() * bits), b.items());
    }
}
