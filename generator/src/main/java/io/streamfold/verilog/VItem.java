package io.streamfold.verilog;

import java.util.List;
import java.util.Map;

/** A module item: a declaration, a continuous assignment, an always block, an instance. */
public sealed interface VItem {

    /** Net kinds. */
    enum Kind { WIRE, REG }

    /**
     * {@code wire|reg [signed] [width-1:0] name [[depth-1:0]];} — {@code depth} 0 means not an
     * array (a ROM or RAM has depth > 0).
     */
    record Decl(Kind kind, boolean signed, int width, String name, int depth) implements VItem {
        public Decl {
            if (width < 1) {
                throw new IllegalArgumentException("width of " + name + " is " + width);
            }
        }
    }

    /** {@code localparam name = value;} */
    record LocalParam(String name, VExpr value) implements VItem {
    }

    /** {@code assign lhs = rhs;} */
    record Assign(VExpr lhs, VExpr rhs) implements VItem {
    }

    /** {@code always @(posedge clock) begin ... end} */
    record AlwaysFf(String clock, List<VStmt> body) implements VItem {
        public AlwaysFf {
            body = List.copyOf(body);
        }
    }

    /** {@code always @* begin ... end} */
    record AlwaysComb(List<VStmt> body) implements VItem {
        public AlwaysComb {
            body = List.copyOf(body);
        }
    }

    /** {@code initial begin ... end} (ROM initialisation only). */
    record Initial(List<VStmt> body) implements VItem {
        public Initial {
            body = List.copyOf(body);
        }
    }

    /** {@code module #(.P(v)) name (.port(expr), ...);} — maps keep their insertion order. */
    record Instance(String module, String name, Map<String, VExpr> params, Map<String, VExpr> ports) implements VItem {
        public Instance {
            params = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(params));
            ports = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(ports));
        }
    }

    /** A comment line between items. */
    record Comment(String text) implements VItem {
    }
}
