package io.streamfold.verilog;

import java.util.List;

/** A Verilog expression. */
public sealed interface VExpr {

    /** A net, register or parameter by name. */
    record Ref(String name) implements VExpr {
    }

    /**
     * A sized literal {@code width'sh<bits>} (signed) or {@code width'h<bits>} (unsigned), printed
     * as the two's complement bit pattern of {@code value} in {@code width} bits (sign-extended
     * beyond 64 bits for a signed literal).
     */
    record Const(int width, long value, boolean signed) implements VExpr {
        /** Widest literal: Verilator's default limit on the width of a number (--max-num-width). */
        public static final int MAX_WIDTH = 65536;

        public Const {
            if (width < 1 || width > MAX_WIDTH) {
                throw new IllegalArgumentException("literal width " + width);
            }
        }
    }

    /** An unsized integer, for indices and parameters. */
    record Int(long value) implements VExpr {
    }

    /** {@code e[index]}. */
    record Index(VExpr target, VExpr index) implements VExpr {
    }

    /** {@code e[msb:lsb]}. */
    record Slice(VExpr target, int msb, int lsb) implements VExpr {
    }

    /** A prefix operator: {@code ! ~ - & |}. */
    record Unary(String op, VExpr operand) implements VExpr {
    }

    /** An infix operator: arithmetic, comparison, logic, shifts ({@code >>>} is arithmetic). */
    record Binary(String op, VExpr left, VExpr right) implements VExpr {
    }

    /** {@code c ? a : b}. */
    record Cond(VExpr cond, VExpr then, VExpr otherwise) implements VExpr {
    }

    /** {@code {a, b, ...}}. */
    record Concat(List<VExpr> parts) implements VExpr {
        public Concat {
            parts = List.copyOf(parts);
        }
    }

    /** {@code {n{e}}}. */
    record Repeat(int count, VExpr part) implements VExpr {
    }

    /** {@code $signed(e)} or {@code $unsigned(e)}. */
    record Cast(boolean signed, VExpr operand) implements VExpr {
    }

    static Ref ref(String name) {
        return new Ref(name);
    }

    static VExpr bin(String op, VExpr l, VExpr r) {
        return new Binary(op, l, r);
    }

    static VExpr and(VExpr l, VExpr r) {
        return new Binary("&&", l, r);
    }

    static VExpr not(VExpr e) {
        return new Unary("!", e);
    }

    static Const bit(boolean v) {
        return new Const(1, v ? 1 : 0, false);
    }
}
