package io.streamfold.verilog;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import static io.streamfold.verilog.RtlFixed.uconst;
import static io.streamfold.verilog.VExpr.bin;
import static io.streamfold.verilog.VExpr.not;
import static io.streamfold.verilog.VExpr.ref;

/** Small RTL-building helpers shared by the stage emitters: ports, clocked blocks, statements, lane packing. */
final class RtlKit {

    private RtlKit() {
    }

    // --- stages ------------------------------------------------------------------------------------

    static List<VModule.Port> ports(int inBits, int outBits) {
        return List.of(VModule.Port.in("aclk", 1), VModule.Port.in("aresetn", 1),
                VModule.Port.in("in_data", inBits), VModule.Port.in("in_valid", 1), VModule.Port.out("in_pop", 1),
                VModule.Port.out("out_data", outBits), VModule.Port.in("out_ready", 1), VModule.Port.out("out_push", 1));
    }

    /** A stage without registers still has clock and reset ports; lint is told they are unused. */
    static void unusedClock(RtlBuilder b) {
        b.add(new VItem.Comment("verilator lint_off UNUSEDSIGNAL"));
        b.wire("unused_clock", 2, false, new VExpr.Concat(List.of(ref("aclk"), ref("aresetn"))));
        b.add(new VItem.Comment("verilator lint_on UNUSEDSIGNAL"));
    }

    // --- clocked blocks and statements -------------------------------------------------------------

    /** {@code if (!aresetn) reset else run} on the clock: the control registers of a stage. */
    static VItem.AlwaysFf clocked(List<VStmt> reset, List<VStmt> run) {
        return new VItem.AlwaysFf("aclk", List.of(new VStmt.If(not(ref("aresetn")), reset, run)));
    }

    /** {@code if (!aresetn) reset else if (enable) body} on the clock. */
    static VItem.AlwaysFf clocked(List<VStmt> reset, VExpr enable, List<VStmt> body) {
        return clocked(reset, List.of(when(enable, body)));
    }

    /**
     * {@code body} on the clock, without reset: for memories (a reset would keep them from mapping
     * to RAM) and datapath registers that are written before they are read.
     */
    static VItem.AlwaysFf clockedNoReset(List<VStmt> body) {
        return new VItem.AlwaysFf("aclk", body);
    }

    /** {@code if (enable) body} on the clock, without reset (see {@link #clockedNoReset(List)}). */
    static VItem.AlwaysFf clockedNoReset(VExpr enable, List<VStmt> body) {
        return clockedNoReset(List.of(when(enable, body)));
    }

    /** A register that holds {@code c == n-1}: set on reset by {@code reset}, kept by {@link #stepFlag} whenever {@code c} steps. */
    static VExpr.Ref lastFlag(RtlBuilder b, String name, RtlCounter c, List<VStmt> reset) {
        VExpr.Ref f = b.reg(name, 1, false, 0);
        reset.add(set(f, uconst(1, c.n() == 1 ? 1 : 0)));
        return f;
    }

    /** The update of {@code flag} ({@link #lastFlag}) in the cycle its counter {@code c} steps. */
    static VStmt stepFlag(VExpr.Ref flag, RtlCounter c) {
        return set(flag, nextFlag(flag, c));
    }

    /** The value {@code flag} ({@link #lastFlag}) takes when its counter {@code c} steps. */
    static VExpr nextFlag(VExpr.Ref flag, RtlCounter c) {
        return c.n() == 1 ? uconst(1, 1) : c.n() == 2 ? not(flag) : new VExpr.Cond(flag, uconst(1, 0), c.is(c.n() - 2));
    }

    /** {@code lhs <= rhs;} */
    static VStmt.NonBlocking set(VExpr lhs, VExpr rhs) {
        return new VStmt.NonBlocking(lhs, rhs);
    }

    /** {@code if (cond) then}, without else. */
    static VStmt.If when(VExpr cond, List<VStmt> then) {
        return new VStmt.If(cond, then, List.of());
    }

    static List<VStmt> concat(List<VStmt> a, List<VStmt> b) {
        List<VStmt> l = new ArrayList<>(a);
        l.addAll(b);
        return l;
    }

    // --- values ------------------------------------------------------------------------------------

    /** A signed {@code bits}-wide value shifted left by {@code shift}, sign-extended to {@code width} (it fits). */
    static VExpr aligned(VExpr v, int bits, int shift, int width) {
        VExpr extended = RtlFixed.signExtend(v, bits, width - shift);
        return shift == 0 ? extended : new VExpr.Concat(List.of(extended, uconst(shift, 0)));
    }

    /** A {@code from}-bit unsigned value as {@code to} bits: zero-extended, or its low bits. */
    static VExpr fit(VExpr v, int from, int to) {
        return from >= to ? (from == to ? v : new VExpr.Slice(v, to - 1, 0)) : zext(v, from, to);
    }

    /** Zero-extends an unsigned {@code from}-bit value to {@code to} bits. */
    static VExpr zext(VExpr v, int from, int to) {
        return to == from ? v : new VExpr.Concat(List.of(uconst(to - from, 0), v));
    }

    /** Lanes packed little-end first: {@code {y[n-1], ..., y[0]}}. */
    static VExpr concatLanes(List<VExpr> ys) {
        List<VExpr> parts = new ArrayList<>(ys);
        Collections.reverse(parts);
        return parts.size() == 1 ? parts.get(0) : new VExpr.Concat(parts);
    }
}
