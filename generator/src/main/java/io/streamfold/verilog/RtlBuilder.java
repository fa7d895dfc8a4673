package io.streamfold.verilog;

import java.util.ArrayList;
import java.util.List;

/**
 * Collects the items of one module while lowering builds it: named wires with their
 * assignments, registers, always blocks. Keeps names unique and declarations before use.
 *
 * <p>{@link #items()} drops the wires nothing reads: a datapath whose result is a constant at
 * some widths (a requantization that shifts every bit out, an all-zero layer) would otherwise
 * leave its operands unused, which {@code verilator -Wall} rejects. Wires declared between
 * {@code lint_off UNUSEDSIGNAL} comments are unused on purpose and stay.
 */
final class RtlBuilder {

    private final List<VItem> items = new ArrayList<>();
    private final java.util.Set<String> names = new java.util.HashSet<>();
    /** Wires that may be dropped when unread. */
    private final java.util.Set<String> prunable = new java.util.HashSet<>();
    /** Wires kept when unread, with lint told so (fields of an input port: dropping them would leave port bits unread). */
    private final java.util.Set<String> quiet = new java.util.HashSet<>();
    private boolean lintOff;

    /** Declares {@code wire [signed] [width-1:0] name} assigned {@code value}; returns a reference. */
    VExpr.Ref wire(String name, int width, boolean signed, VExpr value) {
        claim(name);
        if (!lintOff) {
            prunable.add(name);
        }
        items.add(new VItem.Decl(VItem.Kind.WIRE, signed, width, name, 0));
        assign(name, value);
        return new VExpr.Ref(name);
    }

    /**
     * Like {@link #wire}, for a field of an input port: if nothing reads it (the stage's result
     * does not depend on it at these widths), it stays, between {@code lint_off UNUSEDSIGNAL}
     * comments, so that the port's bits count as read.
     */
    VExpr.Ref wireQuietIfUnused(String name, int width, boolean signed, VExpr value) {
        VExpr.Ref r = wire(name, width, signed, value);
        prunable.remove(name);
        quiet.add(name);
        return r;
    }

    /**
     * Like {@link #wire}, for a wire some of whose bits are dropped on purpose (the low bits of a
     * rounding shift): lint is told so for this declaration only.
     */
    VExpr.Ref wirePartlyUnused(String name, int width, boolean signed, VExpr value) {
        add(new VItem.Comment("verilator lint_off UNUSEDSIGNAL"));
        VExpr.Ref r = wire(name, width, signed, value);
        add(new VItem.Comment("verilator lint_on UNUSEDSIGNAL"));
        return r;
    }

    /** Like {@link #reg}, for a register whose low bits a rounding shift drops on purpose (lint is told so). */
    VExpr.Ref regPartlyUnused(String name, int width, boolean signed) {
        add(new VItem.Comment("verilator lint_off UNUSEDSIGNAL"));
        VExpr.Ref r = reg(name, width, signed, 0);
        add(new VItem.Comment("verilator lint_on UNUSEDSIGNAL"));
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
        if (item instanceof VItem.Comment c && c.text().startsWith("verilator lint_")) {
            lintOff = c.text().startsWith("verilator lint_off");
        }
        items.add(item);
    }

    void comment(String text) {
        add(new VItem.Comment(text));
    }

    /** The module's items, without the wires that nothing reads (see the class comment). */
    List<VItem> items() {
        List<VItem> out = new ArrayList<>(items);
        while (true) {
            java.util.Map<String, Integer> reads = new java.util.HashMap<>();
            for (VItem it : out) {
                countReads(it, reads);
            }
            java.util.Set<String> dead = new java.util.HashSet<>();
            for (String w : prunable) {
                if (!reads.containsKey(w)) {
                    dead.add(w);
                }
            }
            boolean removed = out.removeIf(it -> it instanceof VItem.Decl d && dead.contains(d.name())
                    || it instanceof VItem.Assign a && a.lhs() instanceof VExpr.Ref r && dead.contains(r.name()));
            if (!removed) {
                quietUnread(out, reads);
                return out;
            }
        }
    }

    /** Wraps the declaration and assignment of every unread {@link #quiet} wire in lint_off/lint_on. */
    private void quietUnread(List<VItem> out, java.util.Map<String, Integer> reads) {
        for (int i = 0; i < out.size(); i++) {
            if (out.get(i) instanceof VItem.Decl d && quiet.contains(d.name()) && !reads.containsKey(d.name())) {
                out.add(i, new VItem.Comment("verilator lint_off UNUSEDSIGNAL"));
                out.add(i + 3, new VItem.Comment("verilator lint_on UNUSEDSIGNAL")); // after the Decl and its Assign
                i += 3;
            }
        }
    }

    /** Adds one count per name read by {@code it} (the target of an assignment is written, not read). */
    private static void countReads(VItem it, java.util.Map<String, Integer> reads) {
        if (it instanceof VItem.Assign a) {
            if (!(a.lhs() instanceof VExpr.Ref)) {
                countReads(a.lhs(), reads);
            }
            countReads(a.rhs(), reads);
        } else if (it instanceof VItem.AlwaysFf a) {
            a.body().forEach(s -> countReads(s, reads));
        } else if (it instanceof VItem.AlwaysComb a) {
            a.body().forEach(s -> countReads(s, reads));
        } else if (it instanceof VItem.Initial a) {
            a.body().forEach(s -> countReads(s, reads));
        } else if (it instanceof VItem.Instance inst) {
            inst.params().values().forEach(e -> countReads(e, reads));
            inst.ports().values().forEach(e -> {
                if (e != null) {
                    countReads(e, reads);
                }
            });
        } else if (it instanceof VItem.LocalParam p) {
            countReads(p.value(), reads);
        }
    }

    private static void countReads(VStmt s, java.util.Map<String, Integer> reads) {
        if (s instanceof VStmt.NonBlocking a) {
            countReads(a.lhs(), reads);
            countReads(a.rhs(), reads);
        } else if (s instanceof VStmt.Blocking a) {
            countReads(a.lhs(), reads);
            countReads(a.rhs(), reads);
        } else if (s instanceof VStmt.If f) {
            countReads(f.cond(), reads);
            f.then().forEach(t -> countReads(t, reads));
            f.otherwise().forEach(t -> countReads(t, reads));
        } else if (s instanceof VStmt.Case c) {
            countReads(c.subject(), reads);
            for (VStmt.CaseItem ci : c.items()) {
                ci.labels().forEach(l -> countReads(l, reads));
                ci.body().forEach(t -> countReads(t, reads));
            }
            c.byDefault().forEach(t -> countReads(t, reads));
        } else if (s instanceof VStmt.SysCall call) {
            for (Object a : call.args()) {
                if (a instanceof VExpr e) {
                    countReads(e, reads);
                }
            }
        }
    }

    private static void countReads(VExpr e, java.util.Map<String, Integer> reads) {
        if (e instanceof VExpr.Ref r) {
            reads.merge(r.name(), 1, Integer::sum);
        } else if (e instanceof VExpr.Index x) {
            countReads(x.target(), reads);
            countReads(x.index(), reads);
        } else if (e instanceof VExpr.Slice x) {
            countReads(x.target(), reads);
        } else if (e instanceof VExpr.Unary u) {
            countReads(u.operand(), reads);
        } else if (e instanceof VExpr.Binary b) {
            countReads(b.left(), reads);
            countReads(b.right(), reads);
        } else if (e instanceof VExpr.Cond c) {
            countReads(c.cond(), reads);
            countReads(c.then(), reads);
            countReads(c.otherwise(), reads);
        } else if (e instanceof VExpr.Concat c) {
            c.parts().forEach(p -> countReads(p, reads));
        } else if (e instanceof VExpr.Repeat r) {
            countReads(r.part(), reads);
        } else if (e instanceof VExpr.Cast c) {
            countReads(c.operand(), reads);
        }
    }

    private void claim(String name) {
        if (!names.add(name)) {
            throw new IllegalStateException("duplicate name " + name);
        }
    }
}
