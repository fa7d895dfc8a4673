package io.streamfold.hw;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The SB_MAC16 rule against what Yosys 0.23 {@code synth_ice40 -dsp} did with one multiplier per
 * module (the tables below are its counts, not the rule's), and the per-target counts built on it.
 */
class DspMappingTest {

    /** Operand widths of the measured grid. */
    private static final int[] WIDTHS = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 24, 27, 31, 32, 33, 34, 40, 48, 49};

    /**
     * SB_MAC16 of a signed a x b product, a by row and b by column of {@link #WIDTHS}, operands
     * sign-extended into product-wide wires as the emitter writes them. Unsigned x unsigned on the
     * same grid, and signed x unsigned for a of 8, 16, 17, 20, 24, 32, gave the same counts.
     */
    private static final String[] MEASURED = {
            "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0", // 1
            "0 0 0 0 0 0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2 2 2 2 2 2 3 3", // 2
            "0 0 0 0 0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2 2 2 2 2 2 3 3 3", // 3
            "0 0 0 0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2 2 2 2 2 2 3 3 3", // 4
            "0 0 0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2 2 2 2 2 2 3 3 3", // 5
            "0 0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2 2 2 2 2 2 2 3 3 3", // 6
            "0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2 2 2 2 2 2 2 2 3 3 3", // 7
            "0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2 2 2 2 2 2 2 2 2 3 3 3", // 8
            "0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2 2 2 2 2 2 2 2 2 3 3 3 3", // 9
            "0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2 2 2 2 2 2 2 2 2 3 3 3 3", // 10
            "0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2 2 2 2 2 2 2 2 2 3 3 3 3", // 11
            "0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2 2 2 2 2 2 2 2 2 3 3 3 3", // 12
            "0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2 2 2 2 2 2 2 2 2 3 3 3 3", // 13
            "0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2 2 2 2 2 2 2 2 2 3 3 3 3", // 14
            "0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2 2 2 2 2 2 2 2 2 3 3 3 3", // 15
            "0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2 2 2 2 2 2 2 2 2 3 3 3 3", // 16
            "0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 2 2 2 2 2 2 2 2 2 3 3 3 3", // 17
            "0 1 1 1 1 1 1 1 2 2 2 2 2 2 2 2 2 3 3 3 3 3 4 4 4 4 5 5 6 6", // 18
            "0 1 1 1 1 1 1 2 2 2 2 2 2 2 2 2 2 3 3 3 3 4 4 4 4 4 5 6 6 6", // 19
            "0 1 1 1 1 1 2 2 2 2 2 2 2 2 2 2 2 3 3 3 3 4 4 4 4 4 5 6 6 6", // 20
            "0 1 1 1 1 2 2 2 2 2 2 2 2 2 2 2 2 3 3 3 3 4 4 4 4 4 5 6 6 6", // 21
            "0 1 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 3 4 4 4 4 4 4 4 4 5 6 6 6", // 24
            "0 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 4 4 4 4 4 4 4 4 4 6 6 6 6", // 27
            "0 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 4 4 4 4 4 4 4 4 4 6 6 6 6", // 31
            "0 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 4 4 4 4 4 4 4 4 4 6 6 6 6", // 32
            "0 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 4 4 4 4 4 4 4 4 4 6 6 6 6", // 33
            "0 2 2 2 2 2 2 2 3 3 3 3 3 3 3 3 3 5 5 5 5 5 6 6 6 6 8 8 9 9", // 34
            "0 2 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 5 6 6 6 6 6 6 6 6 8 9 9 9", // 40
            "0 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 6 6 6 6 6 6 6 6 6 9 9 9 9", // 48
            "0 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 6 6 6 6 6 6 6 6 6 9 9 9 9", // 49
    };

    /** {aBits, constant, SB_MAC16}: a varying signed operand times a constant, measured likewise. */
    private static final long[][] MEASURED_CONSTANT = {
            {8, 0, 0}, {8, 1, 0}, {8, -1, 0}, {8, 2, 0}, {8, 3, 1}, {8, -3, 1}, {8, 4, 0}, {8, -4, 0}, {8, 5, 1}, {8, 7, 1},
            {8, -8, 0}, {8, 8, 0}, {8, 9, 1}, {8, 15, 1}, {8, 16, 0}, {8, 17, 1}, {8, 63, 1}, {8, 64, 0}, {8, 65, 1}, {8, -64, 0},
            {8, -65, 1}, {8, 127, 1}, {8, 128, 0}, {8, 255, 1}, {8, 256, 0}, {8, 26214, 1}, {8, 16384, 0}, {8, -16384, 0},
            {8, 12345, 1}, {8, 40000, 1}, {16, 0, 0}, {16, 1, 0}, {16, -1, 0}, {16, 2, 0}, {16, 3, 1}, {16, -3, 1}, {16, 4, 0},
            {16, -4, 0}, {16, 5, 1}, {16, 7, 1}, {16, -8, 0}, {16, 8, 0}, {16, 9, 1}, {16, 15, 1}, {16, 16, 0}, {16, 17, 1},
            {16, 63, 1}, {16, 64, 0}, {16, 65, 1}, {16, -64, 0}, {16, -65, 1}, {16, 127, 1}, {16, 128, 0}, {16, 255, 1},
            {16, 256, 0}, {16, 26214, 1}, {16, 16384, 0}, {16, -16384, 0}, {16, 12345, 1}, {16, 40000, 1}, {7, 6, 0}, {7, 3, 0},
            {7, 5, 1}, {6, 12, 0}, {6, 5, 0}, {8, 12, 1}, {5, 24, 0}, {5, 7, 0}, {4, 14, 0}, {16, 98304, 1}, {16, -49152, 1},
            {20, 300001, 3}, {20, -262143, 3}, {24, 196608, 2}, {24, 5, 2}, {34, 100003, 5}, {17, 7, 1}, {18, 56, 1},
            {34, 1048577, 5}, {16, -131071, 2}};

    @Test
    void theRuleGivesEveryMeasuredCount() {
        for (int i = 0; i < WIDTHS.length; i++) {
            String[] row = MEASURED[i].split(" ");
            for (int j = 0; j < WIDTHS.length; j++) {
                int want = Integer.parseInt(row[j]);
                String what = WIDTHS[i] + " x " + WIDTHS[j];
                assertEquals(want, DspMapping.sbMac16(WIDTHS[i], WIDTHS[j], true), what + " signed");
                assertEquals(want, DspMapping.sbMac16(WIDTHS[i], WIDTHS[j], false), what + " unsigned");
            }
        }
        for (long[] m : MEASURED_CONSTANT) {
            assertEquals(m[2], DspMapping.sbMac16ByConstant((int) m[0], m[1]), m[0] + " bits x " + m[1]);
        }
    }

    @Test
    void eachTargetCountsItsProducts() {
        // the range-reduced exponential's product of a 16-bit softmax: about 20 x 19 bits, three SB_MAC16
        Product wide = Product.of(2, 20, 19);
        Product byShift = Product.byConstant(4, 12, 16, 16384);
        Product narrow = Product.of(3, 5, 5);
        assertEquals(6, DspMapping.SB_MAC16.blocks(wide));
        assertEquals(0, DspMapping.SB_MAC16.blocks(byShift));
        assertEquals(0, DspMapping.SB_MAC16.blocks(narrow));
        for (Product p : List.of(wide, byShift, narrow)) {
            assertEquals(p.count(), DspMapping.PER_MULTIPLIER.blocks(p));
        }
        assertEquals(2 * 20 * 19, wide.bits(), "the cost model keeps the declared widths");
    }
}
