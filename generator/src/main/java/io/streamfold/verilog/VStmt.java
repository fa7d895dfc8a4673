package io.streamfold.verilog;

import java.util.List;

/** A procedural statement inside an always or initial block. */
public sealed interface VStmt {

    /** {@code lhs <= rhs;} */
    record NonBlocking(VExpr lhs, VExpr rhs) implements VStmt {
    }

    /** {@code lhs = rhs;} */
    record Blocking(VExpr lhs, VExpr rhs) implements VStmt {
    }

    /** {@code if (cond) ... else ...}; {@code otherwise} may be empty. */
    record If(VExpr cond, List<VStmt> then, List<VStmt> otherwise) implements VStmt {
        public If {
            then = List.copyOf(then);
            otherwise = List.copyOf(otherwise);
        }
    }

    /** One arm of a case statement. */
    record CaseItem(List<VExpr> labels, List<VStmt> body) {
        public CaseItem {
            labels = List.copyOf(labels);
            body = List.copyOf(body);
        }
    }

    /** {@code case (subject) ... default: ... endcase}. */
    record Case(VExpr subject, List<CaseItem> items, List<VStmt> byDefault) implements VStmt {
        public Case {
            items = List.copyOf(items);
            byDefault = List.copyOf(byDefault);
        }
    }

    /** A system task call such as {@code $readmemh("w.mem", rom);} or {@code $display(...)}. */
    record SysCall(String task, List<Object> args) implements VStmt {
        public SysCall {
            args = List.copyOf(args);
        }
    }

    /** A comment line. */
    record Comment(String text) implements VStmt {
    }
}
