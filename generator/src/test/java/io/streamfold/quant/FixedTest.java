package io.streamfold.quant;

import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The fixed-point primitives against hand-worked values and arbitrary-precision references. */
class FixedTest {

    @Test
    void roundHalfUpGoesTowardPositiveInfinityOnExactHalves() {
        assertEquals(3, Fixed.roundHalfUp(2.5));
        assertEquals(-2, Fixed.roundHalfUp(-2.5));
        assertEquals(1, Fixed.roundHalfUp(0.5));
        assertEquals(0, Fixed.roundHalfUp(-0.5));
        assertEquals(2, Fixed.roundHalfUp(1.5));
        assertEquals(-1, Fixed.roundHalfUp(-1.5));
        assertEquals(-3, Fixed.roundHalfUp(-2.5000000000000004));
        assertEquals(2, Fixed.roundHalfUp(2.4999999999999996));
        // floor(x + 0.5) gets this one wrong: x + 0.5 rounds up to 1.0 in double.
        assertEquals(0, Fixed.roundHalfUp(0.49999999999999994));
        assertEquals(1L << 60, Fixed.roundHalfUp(0x1p60));
        assertThrows(IllegalArgumentException.class, () -> Fixed.roundHalfUp(Double.NaN));
    }

    @Test
    void saturateClampsBothEnds() {
        assertEquals(127, Fixed.saturate(1000, 8));
        assertEquals(-128, Fixed.saturate(-1000, 8));
        assertEquals(127, Fixed.saturate(127, 8));
        assertEquals(-128, Fixed.saturate(-128, 8));
        assertEquals(0, Fixed.saturate(5, 1));
        assertEquals(-1, Fixed.saturate(-5, 1));
        assertEquals((1L << 61) - 1, Fixed.saturate(Long.MAX_VALUE, 62));
        assertEquals(-(1L << 61), Fixed.saturate(Long.MIN_VALUE, 62));
        assertEquals(15, Fixed.saturateUnsigned(99, 4));
        assertEquals(0, Fixed.saturateUnsigned(-3, 4));
    }

    @Test
    void shiftRoundMatchesTheDesignFormulaExactly() {
        Random r = new Random(1);
        for (int t = 0; t < 20000; t++) {
            long acc = r.nextLong() >> r.nextInt(64);
            int s = 1 + r.nextInt(70);
            // (acc + 2^(s-1)) >> s with unbounded integers.
            BigInteger want = BigInteger.valueOf(acc).add(BigInteger.ONE.shiftLeft(s - 1)).shiftRight(s);
            assertEquals(want.longValueExact(), Fixed.shiftRound(acc, s), acc + " >> " + s);
        }
        assertEquals(1, Fixed.shiftRound(1, 1)); // 0.5 -> 1
        assertEquals(0, Fixed.shiftRound(-1, 1)); // -0.5 -> 0
        assertEquals(-1, Fixed.shiftRound(-3, 1)); // -1.5 -> -1
        assertEquals(-2, Fixed.shiftRound(-5, 1)); // -2.5 -> -2
        assertEquals(3, Fixed.shiftRound(5, 1)); // 2.5 -> 3
        assertEquals(40, Fixed.shiftRound(5, -3));
        assertEquals(-40, Fixed.shiftRound(-5, -3));
        assertEquals(7, Fixed.shiftRound(7, 0));
        assertThrows(ArithmeticException.class, () -> Fixed.shiftRound(1L << 40, -30));
    }

    /** The reference: clamp(floor(acc / 2^s + 1/2)) on exact rationals. */
    static long requantizeReference(long acc, int fracIn, QFormat out) {
        int s = fracIn - out.frac();
        BigDecimal v = new BigDecimal(acc);
        v = s >= 0 ? v.divide(new BigDecimal(BigInteger.ONE.shiftLeft(s))) : v.multiply(new BigDecimal(BigInteger.ONE.shiftLeft(-s)));
        BigInteger rounded = v.add(new BigDecimal("0.5")).setScale(0, RoundingMode.FLOOR).toBigIntegerExact();
        BigInteger max = BigInteger.valueOf(out.max());
        BigInteger min = BigInteger.valueOf(out.min());
        return rounded.max(min).min(max).longValueExact();
    }

    @Test
    void requantizeMatchesBigDecimalOnRandomValues() {
        Random r = new Random(2);
        for (int t = 0; t < 50000; t++) {
            int accBits = 1 + r.nextInt(62);
            long acc = Fixed.saturate(r.nextLong() >> (64 - accBits), accBits);
            int fracIn = r.nextInt(100) - 20;
            QFormat out = new QFormat(1 + r.nextInt(62), r.nextInt(90) - 30);
            assertEquals(requantizeReference(acc, fracIn, out), Fixed.requantize(acc, fracIn, out),
                    acc + " at frac " + fracIn + " to " + out);
        }
    }

    @Test
    void requantizeSaturatesLeftShiftsBeyondTheLongRange() {
        QFormat q = new QFormat(62, 0);
        assertEquals(q.max(), Fixed.requantize(1L << 40, -40, q));
        assertEquals(q.min(), Fixed.requantize(-(1L << 40), -40, q));
        assertEquals(q.max(), Fixed.requantize(1, -200, q));
        assertEquals(q.min(), Fixed.requantize(-1, -200, q));
        assertEquals(0, Fixed.requantize(0, -200, q));
        assertEquals(requantizeReference(Long.MAX_VALUE, 0, new QFormat(8, 3)), Fixed.requantize(Long.MAX_VALUE, 0, new QFormat(8, 3)));
        assertEquals(0, Fixed.requantize(Long.MAX_VALUE, 200, new QFormat(8, 3)));
        // Exactly at the saturation edge: 16 << 3 = 128 does not fit 8 bits, 15 << 3 = 120 does;
        // -16 << 3 = -128 fits, -17 << 3 does not.
        QFormat q8 = new QFormat(8, 3);
        assertEquals(127, Fixed.requantize(16, 0, q8));
        assertEquals(120, Fixed.requantize(15, 0, q8));
        assertEquals(-128, Fixed.requantize(-16, 0, q8));
        assertEquals(-128, Fixed.requantize(-17, 0, q8));
    }

    @Test
    void bitsForIsTheSmallestSignedWidth() {
        assertEquals(1, Fixed.bitsFor(0, 0));
        assertEquals(1, Fixed.bitsFor(-1, 0));
        assertEquals(2, Fixed.bitsFor(0, 1));
        assertEquals(2, Fixed.bitsFor(-2, 1));
        assertEquals(8, Fixed.bitsFor(-128, 127));
        assertEquals(9, Fixed.bitsFor(-129, 0));
        assertEquals(9, Fixed.bitsFor(0, 128));
        assertEquals(64, Fixed.bitsFor(Long.MIN_VALUE, Long.MAX_VALUE));
        Random r = new Random(3);
        for (int t = 0; t < 10000; t++) {
            long a = r.nextLong() >> r.nextInt(64);
            long b = r.nextLong() >> r.nextInt(64);
            long lo = Math.min(a, b);
            long hi = Math.max(a, b);
            int n = Fixed.bitsFor(lo, hi);
            assertTrue(n == 64 || Fixed.saturate(lo, n) == lo && Fixed.saturate(hi, n) == hi, "fits " + n);
            assertTrue(n == 1 || Fixed.saturate(lo, n - 1) != lo || Fixed.saturate(hi, n - 1) != hi, "minimal " + n);
        }
    }

    @Test
    void ceilLog2() {
        assertEquals(0, Fixed.ceilLog2(1));
        assertEquals(1, Fixed.ceilLog2(2));
        assertEquals(2, Fixed.ceilLog2(3));
        assertEquals(2, Fixed.ceilLog2(4));
        assertEquals(3, Fixed.ceilLog2(5));
        assertEquals(10, Fixed.ceilLog2(1024));
        assertEquals(11, Fixed.ceilLog2(1025));
    }

    /** The generic formula holds for the most extreme operands, with a bias as large as the products. */
    @Test
    void accumulatorBitsNeverOverflowOnWorstCaseInputs() {
        for (int wb = 1; wb <= 16; wb++) {
            for (int xb = 1; xb <= 16; xb++) {
                for (int n : new int[] {1, 2, 3, 7, 8, 9, 100, 1000, 4096, 100000}) {
                    int bits = Fixed.accumulatorBits(wb, xb, n);
                    long wMin = -(1L << (wb - 1));
                    long wMax = (1L << (wb - 1)) - 1;
                    long xMin = -(1L << (xb - 1));
                    long xMax = (1L << (xb - 1)) - 1;
                    long hiProd = Math.max(wMin * xMin, wMax * xMax);
                    long loProd = Math.min(wMin * xMax, wMax * xMin);
                    long biasHi = n * hiProd;
                    long biasLo = n * loProd;
                    // all products at their maximum (all min * min) plus the largest bias, and the other way
                    long hi = n * hiProd + biasHi;
                    long lo = n * loProd + biasLo;
                    assertTrue(Fixed.bitsFor(lo, hi) <= bits, wb + "x" + xb + " bits, " + n + " terms: " + Fixed.bitsFor(lo, hi) + " > " + bits);
                }
            }
        }
    }

    @Test
    void fracForPicksTheLargestFracThatFits() {
        assertEquals(6, Fixed.fracFor(1.0, 8)); // 1.0 * 128 = 128 > 127
        assertEquals(7, Fixed.fracFor(0.99, 8)); // 126.72 rounds to 127
        assertEquals(7, Fixed.fracFor(0.5, 8)); // 64; 128 at frac 8 does not fit
        assertEquals(7, Fixed.fracFor(127.0 / 128, 8));
        assertEquals(6, Fixed.fracFor(127.5 / 128, 8)); // rounds half up to 128 at frac 7
        assertEquals(7, Fixed.fracFor(127.49 / 128, 8));
        assertEquals(0, Fixed.fracFor(127, 8));
        assertEquals(-1, Fixed.fracFor(128, 8));
        assertEquals(-3, Fixed.fracFor(1000, 8)); // 125 at step 8
        assertEquals(7, Fixed.fracFor(0, 8));
        assertEquals(15, Fixed.fracFor(0, 16));
        assertEquals(0, Fixed.fracFor(0.4, 1)); // one bit: only 0 and -1
        assertEquals(-2, Fixed.fracFor(1.0, 1));
        Random r = new Random(4);
        for (int t = 0; t < 20000; t++) {
            double m = Math.scalb(r.nextDouble(), r.nextInt(80) - 40);
            int bits = 1 + r.nextInt(62);
            int f = Fixed.fracFor(m, bits);
            QFormat q = new QFormat(bits, f);
            assertTrue(Fixed.roundHalfUp(Math.scalb(m, f)) <= q.max(), m + " at " + q);
            assertTrue(Fixed.roundHalfUp(Math.scalb(m, f + 1)) > q.max(), m + " also fits at frac " + (f + 1));
            assertTrue(Fixed.roundHalfUp(-Math.scalb(m, f)) >= q.min(), "-m fits too");
        }
        assertThrows(IllegalArgumentException.class, () -> Fixed.fracFor(Double.NaN, 8));
        assertThrows(IllegalArgumentException.class, () -> Fixed.fracFor(Double.POSITIVE_INFINITY, 8));
    }

    @Test
    void reciprocalsRoundAsSpecified() {
        assertEquals(16384, Fixed.reciprocalRound(4, 16));
        assertEquals(7282, Fixed.reciprocalRound(9, 16)); // 7281.78
        assertEquals(21845, Fixed.reciprocalRound(3, 16)); // 21845.33
        assertEquals(4, Fixed.reciprocalRound(4, 4)); // 4 exactly
        assertEquals(2, Fixed.reciprocalRound(4, 3)); // 2 exactly
        assertEquals(1, Fixed.reciprocalRound(4, 1)); // 0.5 rounds up
        assertEquals(0, Fixed.reciprocalRound(6, 1)); // 0.33
        for (int n = 1; n < 200; n++) {
            for (int k = 0; k < 40; k++) {
                long want = new BigDecimal(BigInteger.ONE.shiftLeft(k)).divide(BigDecimal.valueOf(n), 0, RoundingMode.HALF_UP).longValueExact();
                assertEquals(want, Fixed.reciprocalRound(n, k), "2^" + k + "/" + n);
                assertEquals((1L << k) / n, Fixed.reciprocalFloor(n, k));
            }
        }
    }

    @Test
    void widthsAbove62BitsAreBadQuantSettings() {
        assertEquals(62, Fixed.checkWidth(62, "n", "x"));
        ModelException e = assertThrows(ModelException.class, () -> Fixed.checkWidth(63, "conv1", "the accumulator"));
        assertEquals(Diagnostic.SF_BAD_QUANT, e.id());
        assertEquals("conv1", e.node());
    }

    @Test
    void intRangeArithmeticIsExact() {
        IntRange x = IntRange.of(new QFormat(8, 0));
        assertEquals(new IntRange(-128 * 5, 127 * 5), x.times(5));
        assertEquals(new IntRange(-127 * 5, 128 * 5), x.times(-5));
        assertEquals(new IntRange(-128 * 127, 128 * 128), x.times(x));
        assertEquals(new IntRange(-256, 254), x.shiftLeft(1));
        assertEquals(new IntRange(-128, 200), x.union(IntRange.point(200)));
        assertEquals(9, x.plus(IntRange.point(1)).bits());
        assertThrows(ArithmeticException.class, () -> IntRange.point(Long.MAX_VALUE / 2).times(3));
    }
}
