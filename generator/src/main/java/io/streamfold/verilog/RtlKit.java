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

/** Small RTL-building helpers shared by the stage emitters: ports, counters, clocked blocks, lane packing. */
final class RtlKit {

    private RtlKit() {
    }

    /** {@code (v == n-1) ? 0 : v + 1} in {@code bits} bits. */
    static VExpr wrap(VExpr v, int bits, int n) {
        return new VExpr.Cond(bin("==", v, uconst(bits, n - 1)), uconst(bits, 0), bin("+", v, uconst(bits, 1)));
    }

    // --- stages ------------------------------------------------------------------------------------

    static List<VModule.Port> ports(int inBits, int outBits) {
        return List.of(VModule.Port.in("aclk", 1), VModule.Port.in("aresetn", 1),
                VModule.Port.in("in_data", inBits), VModule.Port.in("in_valid", 1), VModule.Port.out("in_pop", 1),
                VModule.Port.out("out_data", outBits), VModule.Port.in("out_ready", 1), VModule.Port.out("out_push", 1));
    }

    /** {@code if (!aresetn) reset else if (cond) body} on the clock. */
    static VItem.AlwaysFf clocked(List<VStmt> reset, VExpr cond, List<VStmt> body) {
        return new VItem.AlwaysFf("aclk", List.of(new VStmt.If(not(ref("aresetn")), reset,
                List.of(new VStmt.If(cond, body, List.of())))));
    }

    /** {@code v == n-1 ? 0 : v + 1}, the counter update. */
    static VStmt.NonBlocking step(VExpr.Ref v, int bits, int n) {
        return new VStmt.NonBlocking(v, wrap(v, bits, n));
    }

    /** A stage without registers still has clock and reset ports; lint is told they are unused. */
    static void unusedClock(RtlBuilder b) {
        b.add(new VItem.Comment("verilator lint_off UNUSEDSIGNAL"));
        b.wire("unused_clock", 2, false, new VExpr.Concat(List.of(ref("aclk"), ref("aresetn"))));
        b.add(new VItem.Comment("verilator lint_on UNUSEDSIGNAL"));
    }

    /** A signed {@code bits}-wide value shifted left by {@code shift}, sign-extended to {@code width} (it fits). */
    static VExpr aligned(VExpr v, int bits, int shift, int width) {
        VExpr extended = RtlFixed.signExtend(v, bits, width - shift);
        return shift == 0 ? extended : new VExpr.Concat(List.of(extended, uconst(shift, 0)));
    }

    /**
     * Counter {@code c} (0..n-1) steps by one; when it wraps to 0, {@code carry} runs (the next
     * counter of a nest).
     */
    static List<VStmt> step(VExpr.Ref c, int bits, int n, List<VStmt> carry) {
        List<VStmt> wrapped = new ArrayList<>();
        wrapped.add(new VStmt.NonBlocking(c, uconst(bits, 0)));
        wrapped.addAll(carry);
        return List.of(new VStmt.If(bin("==", c, uconst(bits, n - 1)), wrapped,
                List.of(new VStmt.NonBlocking(c, bin("+", c, uconst(bits, 1))))));
    }

    /** {@code v mod n} for {@code v < 2n}, in {@code bits} bits. */
    static VExpr modRows(VExpr v, int bits, int n) {
        return new VExpr.Cond(bin(">=", v, uconst(bits, n)), bin("-", v, uconst(bits, n)), v);
    }

    /** A {@code from}-bit unsigned value as {@code to} bits: zero-extended, or its low bits. */
    static VExpr fit(VExpr v, int from, int to) {
        return from >= to ? (from == to ? v : new VExpr.Slice(v, to - 1, 0)) : zext(v, from, to);
    }

    static List<VStmt> concat(List<VStmt> a, List<VStmt> b) {
        List<VStmt> l = new ArrayList<>(a);
        l.addAll(b);
        return l;
    }

    // --- helpers -----------------------------------------------------------------------------------

    /** Lanes packed little-end first: {@code {y[n-1], ..., y[0]}}. */
    static VExpr concatLanes(List<VExpr> ys) {
        List<VExpr> parts = new ArrayList<>(ys);
        java.util.Collections.reverse(parts);
        return parts.size() == 1 ? parts.get(0) : new VExpr.Concat(parts);
    }

    /** Zero-extends an unsigned {@code from}-bit value to {@code to} bits. */
    static VExpr zext(VExpr v, int from, int to) {
        return to == from ? v : new VExpr.Concat(List.of(uconst(to - from, 0), v));
    }
}
