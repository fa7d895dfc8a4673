package io.streamfold.verilog;

import java.util.List;
import java.util.Map;

/**
 * Prints the Verilog model as Verilog-2001 text. The one place that owns layout: two-space
 * indentation, one declaration per line, every compound expression parenthesised (no reliance on
 * operator precedence), literals sized and in hex.
 */
public final class VerilogPrinter {

    private final StringBuilder sb = new StringBuilder();
    private int indent;
    /**
     * Declared width of every port and net of the module being printed; a memory's word width is
     * stored negated, since indexing a memory selects a word, not a bit.
     */
    private final Map<String, Integer> widths = new java.util.HashMap<>();


    private VerilogPrinter() {
    }

    /** The text of one module, ending with a newline. */
    public static String print(VModule m) {
        VerilogPrinter p = new VerilogPrinter();
        p.module(m);
        return p.sb.toString();
    }

    /** The text of one expression. */
    public static String expr(VExpr e) {
        StringBuilder b = new StringBuilder();
        expr(b, e, Map.of());
        return b.toString();
    }

    private String exprIn(VExpr e) {
        StringBuilder b = new StringBuilder();
        expr(b, e, widths);
        return b.toString();
    }

    private void line(String s) {
        sb.append("  ".repeat(indent)).append(s).append('\n');
    }

    private void module(VModule m) {
        for (VModule.Port p : m.ports()) {
            widths.put(p.name(), p.width());
        }
        for (VItem it : m.items()) {
            if (it instanceof VItem.Decl d) {
                widths.put(d.name(), d.depth() > 0 ? -d.width() : d.width());
            }
        }
        if (m.comment() != null && !m.comment().isEmpty()) {
            for (String c : m.comment().split("\n", -1)) {
                line(("// " + c).stripTrailing());
            }
        }
        if (m.params().isEmpty()) {
            line("module " + m.name() + " (");
        } else {
            line("module " + m.name() + " #(");
            indent++;
            for (int i = 0; i < m.params().size(); i++) {
                VModule.Param p = m.params().get(i);
                line("parameter " + p.name() + " = " + p.value() + (i + 1 < m.params().size() ? "," : ""));
            }
            indent--;
            line(") (");
        }
        indent++;
        for (int i = 0; i < m.ports().size(); i++) {
            VModule.Port p = m.ports().get(i);
            String dir = p.dir() == VModule.Dir.INPUT ? "input  wire" : (p.reg() ? "output reg " : "output wire");
            line(dir + (p.signed() ? " signed" : "") + range(p.width()) + " " + p.name() + (i + 1 < m.ports().size() ? "," : ""));
        }
        indent--;
        line(");");
        indent++;
        for (VItem it : m.items()) {
            item(it);
        }
        indent--;
        line("endmodule");
    }

    private static String range(int width) {
        return width == 1 ? "" : " [" + (width - 1) + ":0]";
    }

    private void item(VItem it) {
        if (it instanceof VItem.Decl d) {
            line((d.kind() == VItem.Kind.WIRE ? "wire" : "reg") + (d.signed() ? " signed" : "") + range(d.width()) + " " + d.name()
                    + (d.depth() > 0 ? " [0:" + (d.depth() - 1) + "]" : "") + ";");
        } else if (it instanceof VItem.LocalParam p) {
            line("localparam " + p.name() + " = " + exprIn(p.value()) + ";");
        } else if (it instanceof VItem.Assign a) {
            line("assign " + exprIn(a.lhs()) + " = " + exprIn(a.rhs()) + ";");
        } else if (it instanceof VItem.AlwaysFf a) {
            line("always @(posedge " + a.clock() + ") begin");
            block(a.body());
            line("end");
        } else if (it instanceof VItem.AlwaysComb a) {
            line("always @* begin");
            block(a.body());
            line("end");
        } else if (it instanceof VItem.Initial a) {
            line("initial begin");
            block(a.body());
            line("end");
        } else if (it instanceof VItem.Instance inst) {
            instance(inst);
        } else if (it instanceof VItem.Comment c) {
            line("// " + c.text());
        } else {
            throw new IllegalStateException("unknown item " + it);
        }
    }

    private void instance(VItem.Instance inst) {
        StringBuilder head = new StringBuilder(inst.module());
        if (!inst.params().isEmpty()) {
            head.append(" #(");
            int i = 0;
            for (Map.Entry<String, VExpr> e : inst.params().entrySet()) {
                head.append(i++ > 0 ? ", " : "").append('.').append(e.getKey()).append('(').append(exprIn(e.getValue())).append(')');
            }
            head.append(')');
        }
        line(head + " " + inst.name() + " (");
        indent++;
        int i = 0;
        for (Map.Entry<String, VExpr> e : inst.ports().entrySet()) {
            line("." + e.getKey() + "(" + (e.getValue() == null ? "" : exprIn(e.getValue())) + ")" + (++i < inst.ports().size() ? "," : ""));
        }
        indent--;
        line(");");
    }

    private void block(List<VStmt> body) {
        indent++;
        for (VStmt s : body) {
            stmt(s);
        }
        indent--;
    }

    private void stmt(VStmt s) {
        if (s instanceof VStmt.NonBlocking a) {
            line(exprIn(a.lhs()) + " <= " + exprIn(a.rhs()) + ";");
        } else if (s instanceof VStmt.Blocking a) {
            line(exprIn(a.lhs()) + " = " + exprIn(a.rhs()) + ";");
        } else if (s instanceof VStmt.If f) {
            line("if (" + exprIn(f.cond()) + ") begin");
            block(f.then());
            List<VStmt> other = f.otherwise();
            while (other.size() == 1 && other.get(0) instanceof VStmt.If elif) {
                line("end else if (" + exprIn(elif.cond()) + ") begin");
                block(elif.then());
                other = elif.otherwise();
            }
            if (!other.isEmpty()) {
                line("end else begin");
                block(other);
            }
            line("end");
        } else if (s instanceof VStmt.Case c) {
            line("case (" + exprIn(c.subject()) + ")");
            indent++;
            for (VStmt.CaseItem item : c.items()) {
                StringBuilder labels = new StringBuilder();
                for (VExpr l : item.labels()) {
                    labels.append(labels.length() > 0 ? ", " : "").append(exprIn(l));
                }
                line(labels + ": begin");
                block(item.body());
                line("end");
            }
            line("default: begin");
            block(c.byDefault());
            line("end");
            indent--;
            line("endcase");
        } else if (s instanceof VStmt.SysCall call) {
            StringBuilder b = new StringBuilder(call.task());
            if (!call.args().isEmpty()) {
                b.append('(');
                for (int i = 0; i < call.args().size(); i++) {
                    Object a = call.args().get(i);
                    b.append(i > 0 ? ", " : "");
                    if (a instanceof VExpr e) {
                        expr(b, e, widths);
                    } else {
                        b.append('"').append(escape(a.toString())).append('"');
                    }
                }
                b.append(')');
            }
            line(b + ";");
        } else if (s instanceof VStmt.Comment c) {
            line("// " + c.text());
        } else {
            throw new IllegalStateException("unknown statement " + s);
        }
    }

    private static String escape(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    private static void expr(StringBuilder b, VExpr e, Map<String, Integer> widths) {
        if (e instanceof VExpr.Ref r) {
            b.append(r.name());
        } else if (e instanceof VExpr.Const c) {
            b.append(c.width()).append(c.signed() ? "'sh" : "'h");
            if (c.width() <= 64) {
                long mask = c.width() == 64 ? -1L : (1L << c.width()) - 1;
                b.append(Long.toHexString(c.value() & mask));
            } else {
                java.math.BigInteger v = java.math.BigInteger.valueOf(c.signed() ? c.value() : c.value() & Long.MAX_VALUE);
                if (!c.signed() && c.value() < 0) {
                    v = v.setBit(63); // an unsigned literal's value is the long's bit pattern
                }
                b.append(v.and(java.math.BigInteger.ONE.shiftLeft(c.width()).subtract(java.math.BigInteger.ONE)).toString(16));
            }
        } else if (e instanceof VExpr.Int i) {
            b.append(i.value());
        } else if (e instanceof VExpr.Index x && isZero(x.index()) && x.target() instanceof VExpr.Ref r
                && Integer.valueOf(1).equals(widths.get(r.name()))) {
            // bit 0 of a 1-bit net is the net: a bit-select of a scalar is an error
            expr(b, x.target(), widths);
        } else if (e instanceof VExpr.Index x) {
            expr(b, x.target(), widths);
            b.append('[');
            expr(b, x.index(), widths);
            b.append(']');
        } else if (e instanceof VExpr.Slice x && x.msb() == 0 && x.lsb() == 0 && scalar(x.target(), widths)) {
            // bit 0 of a 1-bit net: Verilog declares it without a range, and a part-select of a scalar is an error
            expr(b, x.target(), widths);
        } else if (e instanceof VExpr.Slice x) {
            expr(b, x.target(), widths);
            b.append('[').append(x.msb()).append(':').append(x.lsb()).append(']');
        } else if (e instanceof VExpr.Unary u) {
            b.append(u.op());
            paren(b, u.operand(), widths);
        } else if (e instanceof VExpr.Binary x) {
            paren(b, x.left(), widths);
            b.append(' ').append(x.op()).append(' ');
            paren(b, x.right(), widths);
        } else if (e instanceof VExpr.Cond c) {
            paren(b, c.cond(), widths);
            b.append(" ? ");
            paren(b, c.then(), widths);
            b.append(" : ");
            paren(b, c.otherwise(), widths);
        } else if (e instanceof VExpr.Concat c) {
            b.append('{');
            for (int i = 0; i < c.parts().size(); i++) {
                b.append(i > 0 ? ", " : "");
                expr(b, c.parts().get(i), widths);
            }
            b.append('}');
        } else if (e instanceof VExpr.Repeat r) {
            b.append('{').append(r.count()).append('{');
            expr(b, r.part(), widths);
            b.append("}}");
        } else if (e instanceof VExpr.Cast c) {
            b.append(c.signed() ? "$signed(" : "$unsigned(");
            expr(b, c.operand(), widths);
            b.append(')');
        } else {
            throw new IllegalStateException("unknown expression " + e);
        }
    }

    /** True if {@code e} is a net, or a word of a memory, declared 1 bit wide (printed without a range). */
    private static boolean scalar(VExpr e, Map<String, Integer> widths) {
        if (e instanceof VExpr.Index i && i.target() instanceof VExpr.Ref r) {
            return Integer.valueOf(-1).equals(widths.get(r.name()));
        }
        return e instanceof VExpr.Ref r && Integer.valueOf(1).equals(widths.get(r.name()));
    }

    private static boolean isZero(VExpr e) {
        return e instanceof VExpr.Int i && i.value() == 0 || e instanceof VExpr.Const c && c.value() == 0;
    }

    /** Atoms print bare; compound expressions get parentheses. */
    private static void paren(StringBuilder b, VExpr e, Map<String, Integer> widths) {
        boolean atom = e instanceof VExpr.Ref || e instanceof VExpr.Const || e instanceof VExpr.Int || e instanceof VExpr.Index
                || e instanceof VExpr.Slice || e instanceof VExpr.Concat || e instanceof VExpr.Repeat || e instanceof VExpr.Cast;
        if (!atom) {
            b.append('(');
        }
        expr(b, e, widths);
        if (!atom) {
            b.append(')');
        }
    }
}
