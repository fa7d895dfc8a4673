package io.streamfold.verilog;

import java.util.ArrayList;
import java.util.List;

/**
 * Collects the items of one module while lowering builds it: named wires with their
 * assignments, registers, always blocks. Keeps names unique and declarations before use.
 */
final class RtlBuilder {

    final List<VItem> items = new ArrayList<>();
    private final java.util.Set<String> names = new java.util.HashSet<>();

    /** Declares {@code wire [signed] [width-1:0] name} assigned {@code value}; returns a reference. */
    VExpr.Ref wire(String name, int width, boolean signed, VExpr value) {
        claim(name);
        items.add(new VItem.Decl(VItem.Kind.WIRE, signed, width, name, 0));
        assign(name, value);
        return new VExpr.Ref(name);
    }

    /**
     * Like {@link #wire}, for a wire some of whose bits are dropped on purpose (the low bits of a
     * rounding shift): lint is told so for this declaration only.
     */
    VExpr.Ref wirePartlyUnused(String name, int width, boolean signed, VExpr value) {
        items.add(new VItem.Comment("verilator lint_off UNUSEDSIGNAL"));
        VExpr.Ref r = wire(name, width, signed, value);
        items.add(new VItem.Comment("verilator lint_on UNUSEDSIGNAL"));
        return r;
    }

    /**
     * A {@code width}-bit value chosen by {@code selector} (0..n-1, {@code selBits} wide) among
     * {@code choices[selector]}: the common choice itself when all are equal, else a case.
     */
    VExpr select(String name, int width, boolean signed, VExpr selector, List<VExpr> choices) {
        boolean same = true;
        for (VExpr c : choices) {
            same &= c.equals(choices.get(0));
        }
        if (same) {
            return choices.get(0);
        }
        VExpr.Ref r = reg(name, width, signed, 0);
        int selBits = RtlFixed.counterBits(choices.size());
        List<VStmt.CaseItem> arms = new ArrayList<>();
        for (int i = 0; i < choices.size(); i++) {
            arms.add(new VStmt.CaseItem(List.of(RtlFixed.uconst(selBits, i)), List.of(new VStmt.Blocking(r, choices.get(i)))));
        }
        items.add(new VItem.AlwaysComb(List.of(new VStmt.Case(selector, arms, List.of(new VStmt.Blocking(r, choices.get(0)))))));
        return r;
    }

    /** Declares a register (or register array when {@code depth > 0}). */
    VExpr.Ref reg(String name, int width, boolean signed, int depth) {
        claim(name);
        items.add(new VItem.Decl(VItem.Kind.REG, signed, width, name, depth));
        return new VExpr.Ref(name);
    }

    /** Declares a counter register that wraps after {@code n} values. */
    RtlCounter counter(String name, int n) {
        int bits = RtlFixed.counterBits(n);
        return new RtlCounter(reg(name, bits, false, 0), bits, n);
    }

    /** {@code assign name = value;} for a port or a net declared elsewhere. */
    void assign(String name, VExpr value) {
        items.add(new VItem.Assign(new VExpr.Ref(name), value));
    }

    void add(VItem item) {
        items.add(item);
    }

    void comment(String text) {
        items.add(new VItem.Comment(text));
    }

    private void claim(String name) {
        if (!names.add(name)) {
            throw new IllegalStateException("duplicate name " + name);
        }
    }
}
