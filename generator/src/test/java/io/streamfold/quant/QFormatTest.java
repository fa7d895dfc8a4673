package io.streamfold.quant;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QFormatTest {

    @Test
    void rangeAndStep() {
        QFormat q = new QFormat(8, 5);
        assertEquals(-128, q.min());
        assertEquals(127, q.max());
        assertEquals(1.0 / 32, q.step());
        assertEquals(-4.0, q.minReal());
        assertEquals(127.0 / 32, q.maxReal());
        assertTrue(q.contains(127));
        assertFalse(q.contains(128));
        assertEquals(new QFormat(1, 0).min(), -1);
        assertEquals(new QFormat(1, 0).max(), 0);
        assertEquals((1L << 61) - 1, new QFormat(62, 0).max());
    }

    @Test
    void widthIsChecked() {
        assertThrows(IllegalArgumentException.class, () -> new QFormat(0, 0));
        assertThrows(IllegalArgumentException.class, () -> new QFormat(63, 0));
    }

    @Test
    void quantizeRoundsHalfUpThenSaturates() {
        QFormat q0 = new QFormat(8, 0);
        assertEquals(3, q0.quantize(2.5));
        assertEquals(-2, q0.quantize(-2.5));
        assertEquals(127, q0.quantize(1e9));
        assertEquals(-128, q0.quantize(-1e9));
        assertEquals(127, q0.quantize(Double.POSITIVE_INFINITY));
        assertEquals(-128, q0.quantize(Double.NEGATIVE_INFINITY));
        assertEquals(127, q0.quantize(127.4));
        assertEquals(127, q0.quantize(127.5)); // rounds to 128, saturates
        assertEquals(-128, q0.quantize(-128.5)); // rounds to -128
        assertThrows(IllegalArgumentException.class, () -> q0.quantize(Double.NaN));
        QFormat q1 = new QFormat(8, 1);
        assertEquals(3, q1.quantize(1.25)); // 2.5 -> 3
        assertEquals(-2, q1.quantize(-1.25)); // -2.5 -> -2
    }

    @Test
    void negativeFracHasStepsAboveOne() {
        QFormat q = new QFormat(8, -2);
        assertEquals(4.0, q.step());
        assertEquals(3, q.quantize(10)); // 2.5 steps -> 3
        assertEquals(12.0, q.toDouble(3));
        assertEquals(508.0, q.maxReal());
        assertEquals(-512.0, q.minReal());
        assertEquals(127, q.quantize(600));
    }

    @Test
    void fracAboveBitsHasOnlySmallValues() {
        QFormat q = new QFormat(4, 10);
        assertEquals(7.0 / 1024, q.maxReal());
        assertEquals(5, q.quantize(0.005)); // 5.12
        assertEquals(7, q.quantize(0.5));
        assertEquals(-8, q.quantize(-0.5));
        assertEquals(-3.0 / 1024, q.toDouble(-3));
    }

    @Test
    void toStringAndParseRoundTrip() {
        assertEquals("Q(8,5)", new QFormat(8, 5).toString());
        assertEquals("Q(8,-2)", new QFormat(8, -2).toString());
        assertEquals(new QFormat(12, 7), QFormat.parse("Q(12, 7)"));
        assertEquals(new QFormat(8, -2), QFormat.parse(new QFormat(8, -2).toString()));
        assertThrows(IllegalArgumentException.class, () -> QFormat.parse("Q8.5"));
        assertThrows(IllegalArgumentException.class, () -> QFormat.parse("Q(8)"));
    }

    @Test
    void quantizeThenToDoubleIsWithinHalfAStep() {
        java.util.Random r = new java.util.Random(5);
        for (int t = 0; t < 10000; t++) {
            QFormat q = new QFormat(2 + r.nextInt(40), r.nextInt(60) - 20);
            double x = (r.nextDouble() * 2 - 1) * q.maxReal();
            assertTrue(Math.abs(q.toDouble(q.quantize(x)) - x) <= q.step() / 2, x + " in " + q);
        }
    }
}
