package io.streamfold.hw;

import java.util.List;

/**
 * One kind of hardware multiplier of a stage: {@code count} signed products of an {@code aBits}-bit
 * by a {@code bBits}-bit operand, the widths the Verilog emitter gives them (each product's operands
 * sign-extended into wires of their own, so synthesis sees an {@code aBits x bBits} multiplier).
 * When the b operand is one value fixed at compile time for these products (a LeakyReLU's slope, a
 * global average pool's reciprocal, a per-channel constant of a lane that sees one channel),
 * {@code constant} is true and {@code value} holds it: synthesis narrows such a product, and turns a
 * product by a power of two into a shift ({@link DspMapping}).
 *
 * @param count    how many such products the stage computes at once
 * @param aBits    signed width of the varying operand
 * @param bBits    signed width of the other operand, as declared in the RTL
 * @param constant true if the other operand is {@code value} in every cycle
 * @param value    that constant (0 when not {@code constant})
 */
public record Product(int count, int aBits, int bBits, boolean constant, long value) {

    public Product {
        if (count < 0 || aBits < 1 || bBits < 1 || !constant && value != 0) {
            throw new IllegalArgumentException("product " + count + " x " + aBits + " x " + bBits + (constant ? " by " + value : ""));
        }
    }

    /** {@code count} products of two varying operands. */
    public static Product of(int count, int aBits, int bBits) {
        return new Product(count, aBits, bBits, false, 0);
    }

    /** {@code count} products of a varying {@code aBits}-bit operand by the {@code bBits}-bit constant {@code value}. */
    public static Product byConstant(int count, int aBits, int bBits, long value) {
        return new Product(count, aBits, bBits, true, value);
    }

    /** The same products, {@code k} times as many. */
    public Product times(int k) {
        return new Product(Math.multiplyExact(count, k), aBits, bBits, constant, value);
    }

    /** {@code count * aBits * bBits}: the partial-product bits of these multipliers ({@link HardwareCost}). */
    public long bits() {
        return (long) count * aBits * bBits;
    }

    /** Multipliers in a list of products. */
    public static int count(List<Product> products) {
        int n = 0;
        for (Product p : products) {
            n = Math.addExact(n, p.count);
        }
        return n;
    }

    @Override
    public String toString() {
        return count + " x (" + aBits + " x " + bBits + (constant ? " = " + value : "") + ")";
    }
}
