package io.streamfold.hw;

/**
 * What a design costs, in bits, for comparing quantizations of one model (the mixed-precision
 * search, {@code io.streamfold.compile.MixedPrecision}): {@code total = multiplierBits + romBits +
 * bufferBits}.
 *
 * <ul>
 *   <li>{@code multiplierBits}: the sum over every hardware multiplier ({@link Stage#products()}) of
 *       the product of its operand widths, e.g. 64 for an 8x8 multiplier: the partial-product bits
 *       of an array multiplier, roughly what one costs in logic (a device's DSP blocks are counted
 *       by {@link DspMapping}, which the planner uses; a width product keeps this comparison free
 *       of any one device);
 *   <li>{@code romBits}: every constant (weights, biases, tables: {@link HwDesign#romBits()});
 *   <li>{@code bufferBits}: the stages' buffers and every FIFO ({@link HwDesign#bufferBits()}).
 * </ul>
 *
 * A bit of storage and a partial-product bit weigh the same: on the FPGAs streamfold targets a
 * multiplier bit and a memory bit are of the same order once block RAM runs out, and a weighted sum
 * would need device-specific weights this comparison does not have.
 */
public record HardwareCost(long multiplierBits, long romBits, long bufferBits) {

    /** The sum of the three terms. */
    public long total() {
        return multiplierBits + romBits + bufferBits;
    }

    /** The cost of {@code d}. */
    public static HardwareCost of(HwDesign d) {
        long mult = 0;
        for (Stage s : d.stages()) {
            for (Product p : s.products()) {
                mult += p.bits();
            }
        }
        return new HardwareCost(mult, d.romBits(), d.bufferBits());
    }
}
