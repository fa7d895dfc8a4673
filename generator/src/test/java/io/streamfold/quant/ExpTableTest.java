package io.streamfold.quant;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Softmax's exponential: which table {@link ExpTable#forDifferences} picks, that the plain table
 * capped at the index width was far off at 12 and 16 bits and the reduced one is within a step,
 * the reduced table's arithmetic step by step, and what its constructor refuses.
 */
class ExpTableTest {

    private static QFormat expFormat(int bits) {
        return new QFormat(bits + 4, bits + 2); // what Quantize gives a softmax of Q(bits, bits-1) outputs
    }

    @Test
    void narrowInputsIndexAPlainTableAndWideOnesAReducedOne() {
        ExpTable eight = ExpTable.forDifferences(new QFormat(8, 4), expFormat(8), 10);
        assertInstanceOf(ExpTable.Plain.class, eight);
        assertEquals(0, eight.multiplierOperands().length);
        assertEquals(1, eight.stages());
        assertTrue(ExpTable.maxErrorSteps(eight, 8) <= 0.5);
        for (int bits : new int[] {12, 16}) {
            int cap = bits == 16 ? 12 : 10;
            QFormat in = new QFormat(bits, bits - 4);
            // the plain table the index cap allows drops input bits: far more than a step off
            ExpTable.Plain capped = new ExpTable.Plain(Lut.forDifferences(in, expFormat(bits), cap), in.frac());
            assertTrue(ExpTable.maxErrorSteps(capped, bits) > 100, capped.toString());
            ExpTable.Reduced r = assertInstanceOf(ExpTable.Reduced.class, ExpTable.forDifferences(in, expFormat(bits), cap));
            assertTrue(ExpTable.maxErrorSteps(r, bits) <= 1, r.toString());
            assertEquals(2, r.multiplierOperands().length, "one multiplier");
            assertEquals(ExpTable.Reduced.STAGES, r.stages());
            assertEquals(1L << expFormat(bits).frac(), r.one());
            assertEquals(r.one(), r.apply(0));
            assertTrue(r.romBits() < capped.romBits() / 4, r.romBits() + " vs " + capped.romBits());
            assertTrue(r.slopeBits() <= 16 && r.interpBits() + 1 <= 16, "one 16 x 16 multiplier: " + r);
        }
    }

    @Test
    void aWideInputWithAShortRangeKeepsAShortPlainTable() {
        // t = max - x in steps of 1/16: e^-t rounds to 0 from t = 13.2, code 211, so 8 index bits hold every code
        ExpTable e = ExpTable.forDifferences(new QFormat(16, 4), expFormat(16), 12);
        ExpTable.Plain p = assertInstanceOf(ExpTable.Plain.class, e);
        assertEquals(8, p.lut().indexBits());
        assertEquals(4, p.lut().indexFrac());
        assertTrue(ExpTable.maxErrorSteps(e, 16) <= 0.5);
    }

    @Test
    void reducedTableComputesTwoToTheMinusKTimesTheInterpolatedRest() {
        QFormat in = new QFormat(16, 12);
        ExpTable.Reduced r = assertInstanceOf(ExpTable.Reduced.class, ExpTable.forDifferences(in, expFormat(16), 12));
        int g = Lut.GUARD_BITS;
        long covered = ((long) r.reductions() << r.reduceShift()) - 1;
        // the cells end only after the first code whose e^-t rounds to 0
        assertEquals(0, expFormat(16).quantize(Math.exp(-in.toDouble(covered))));
        assertTrue(expFormat(16).quantize(Math.exp(-in.toDouble(covered + 1 - (1L << r.reduceShift())))) > 0);
        for (long t : new long[] {0, 1, 2839, 2840, 4095, 4096, 20000, covered - 1, covered}) {
            long c = t;
            int j = (int) (c >> r.reduceShift());
            int k = r.shift(j);
            // k ln 2 at rFrac bits, and the largest such k at or below the cell's first code
            assertEquals(Math.round(k * Math.log(2) * (1L << r.rFrac())), r.offset(j));
            assertTrue(r.offset(j) <= (long) j << r.reduceShift() << (r.rFrac() - in.frac()));
            long red = (c << (r.rFrac() - in.frac())) - r.offset(j);
            assertTrue(red >= 0 && red < Math.scalb(Math.log(2) + Math.scalb(1.0, r.reduceShift() - in.frac()), r.rFrac()) + 1, "t " + t);
            int i = (int) (red >> r.interpBits());
            long m = red - ((long) i << r.interpBits());
            long acc = (r.value(i) << r.interpBits()) + r.slope(i) * m;
            double exact = acc * Math.scalb(1.0, -(expFormat(16).frac() + g + r.interpBits() + k));
            assertEquals(expFormat(16).quantize(exact), r.apply(t), "t " + t);
            // the entry is e^-(i 2^-p) lowered by the chord's half excess
            double p = Math.scalb(1.0, -r.indexFrac());
            long want = i == 0 ? 1L << (expFormat(16).frac() + g)
                    : Math.round(Math.exp(-i * p) * (1 - p * p / 16) * (1L << (expFormat(16).frac() + g)));
            assertEquals(want, r.value(i), "entry " + i);
        }
        assertEquals(0, r.apply(covered + 1));
        assertEquals(0, r.apply(65535));
        assertThrows(IllegalArgumentException.class, () -> r.apply(-1));
    }

    @Test
    void aReducedTableMustStartAtOneAndStayInsideItsCells() {
        QFormat out = expFormat(12);
        long one = 1L << (out.frac() + Lut.GUARD_BITS);
        // one reduction cell of codes 0..7 (8 on give 0) at rFrac = inFrac + 1: r up to 14, two interpolation cells of 8
        int[] k = {0};
        long[] c = {0};
        long[] v = {one, one / 2};
        long[] d = {-one / 2, -one / 4};
        new ExpTable.Reduced(8, 3, 9, k, c, 3, v, d, out);
        assertThrows(IllegalArgumentException.class, () -> new ExpTable.Reduced(8, 3, 9, k, c, 3, new long[] {one - 1, one / 2}, d, out),
                "e^0 must be exactly 1");
        assertThrows(IllegalArgumentException.class, () -> new ExpTable.Reduced(8, 3, 9, new int[] {0, 1}, new long[] {0, 20}, 3, v, d, out),
                "codes 8..15 less 20 at 9 fractional bits start below 0");
        assertThrows(IllegalArgumentException.class, () -> new ExpTable.Reduced(8, 3, 10, k, c, 3, v, d, out),
                "r up to 28 reaches past the two interpolation cells");
        assertThrows(IllegalArgumentException.class, () -> new ExpTable.Reduced(8, 3, 9, k, c, 3, v, new long[] {-one / 2, -one}, out),
                "the last cell's chord must end at or above 0");
    }
}
