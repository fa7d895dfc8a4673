package io.streamfold.verilog;

import java.util.ArrayList;
import java.util.List;

import static io.streamfold.verilog.RtlFixed.uconst;
import static io.streamfold.verilog.RtlKit.set;
import static io.streamfold.verilog.VExpr.bin;

/**
 * A register {@code ref} that counts 0..n-1 and wraps, {@link RtlFixed#counterBits} wide (declared
 * by {@link RtlBuilder#counter}). Every constant it compares with or adds is sized to the counter,
 * so its logic has no width mismatch for lint to report.
 *
 * <p>The {@code last} overloads take a wire that already holds {@link #atLast()}: the stages name
 * that condition once (it also gates their handshakes) and the counter update reads the wire.
 */
record RtlCounter(VExpr.Ref ref, int bits, int n) {

    /** {@code ref == value}. */
    VExpr is(long value) {
        return bin("==", ref, uconst(bits, value));
    }

    /** {@code ref == n-1}. */
    VExpr atLast() {
        return is(n - 1);
    }

    /** The count as an unsigned {@code width}-bit value ({@code width >= bits}). */
    VExpr widen(int width) {
        return RtlKit.zext(ref, bits, width);
    }

    /** {@code ref <= 0}. */
    VStmt clear() {
        return set(ref, uconst(bits, 0));
    }

    /** {@code ref <= ref + 1}, where the caller has ruled out the last value. */
    VStmt inc() {
        return set(ref, bin("+", ref, uconst(bits, 1)));
    }

    /** {@code (ref == n-1) ? 0 : ref + 1}. */
    VExpr next() {
        return next(atLast());
    }

    /** {@code last ? 0 : ref + 1}. */
    VExpr next(VExpr last) {
        return new VExpr.Cond(last, uconst(bits, 0), bin("+", ref, uconst(bits, 1)));
    }

    /** {@code ref <= next()}. */
    VStmt step() {
        return set(ref, next());
    }

    /** {@code ref <= next(last)}. */
    VStmt step(VExpr last) {
        return set(ref, next(last));
    }

    /**
     * One step of a counter nest, like an odometer digit: on wrapping to 0, {@code carry} runs
     * (it steps the next counter out).
     */
    List<VStmt> stepCarry(List<VStmt> carry) {
        return stepCarry(atLast(), carry);
    }

    /** {@link #stepCarry(List)} with the wrap condition read from the wire {@code last}. */
    List<VStmt> stepCarry(VExpr last, List<VStmt> carry) {
        List<VStmt> wrapped = new ArrayList<>();
        wrapped.add(clear());
        wrapped.addAll(carry);
        return List.of(new VStmt.If(last, wrapped, List.of(inc())));
    }
}
