package io.streamfold.quant;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LutTest {

    @Test
    void signedTableIsAddressedByTwosComplementBits() {
        QFormat out = new QFormat(8, 7);
        Lut l = Lut.build(LutFunction.SIGMOID, 4, 1, true, out);
        assertEquals(16, l.size());
        assertEquals(-8, l.indexMin());
        assertEquals(7, l.indexMax());
        assertEquals(15, l.address(-1));
        assertEquals(8, l.address(-8));
        assertEquals(7, l.address(7));
        assertEquals(-1, l.indexAt(15));
        for (long v = -8; v <= 7; v++) {
            assertEquals(out.quantize(1 / (1 + Math.exp(-v / 2.0))), l.lookup(v), "index " + v);
            assertEquals(l.entry(l.address(v)), l.lookup(v));
        }
        assertEquals(64, l.lookup(0)); // sigmoid(0) = 0.5
        assertThrows(IllegalArgumentException.class, () -> l.lookup(8));
    }

    @Test
    void unsignedTableCoversNonNegativeIndices() {
        QFormat out = new QFormat(12, 10);
        Lut l = Lut.build(LutFunction.EXP_NEG, 4, 2, false, out);
        assertEquals(0, l.indexMin());
        assertEquals(15, l.indexMax());
        assertEquals(1024, l.lookup(0)); // e^0 = 1.0 exactly
        assertEquals(out.quantize(Math.exp(-15 / 4.0)), l.lookup(15));
        assertEquals(15, l.index(1000, 0)); // saturates at the top
        assertEquals(0, l.index(-5, 0)); // a negative distance cannot happen; it clamps to 0
        assertEquals(3, l.index(5, 3)); // 5/8 = 0.625 at frac 2 is 2.5 steps -> 3
    }

    @Test
    void indexRoundsHalfUpAndSaturates() {
        Lut l = Lut.build(LutFunction.TANH, 4, 1, true, new QFormat(8, 7));
        assertEquals(3, l.index(5, 2)); // 1.25 -> 2.5 steps -> 3
        assertEquals(-2, l.index(-5, 2)); // -1.25 -> -2.5 steps -> -2
        assertEquals(7, l.index(100, 0));
        assertEquals(-8, l.index(-100, 0));
        assertEquals(6, l.index(3, 0)); // left shift: 3.0 at frac 1
    }

    @Test
    void narrowInputIsItsOwnIndex() {
        QFormat in = new QFormat(8, 4);
        Lut l = Lut.forInput(LutFunction.SIGMOID, in, new QFormat(8, 7), 10);
        assertEquals(8, l.indexBits());
        assertEquals(4, l.indexFrac());
        for (long x = in.min(); x <= in.max(); x++) {
            assertEquals(new QFormat(8, 7).quantize(LutFunction.SIGMOID.apply(in.toDouble(x))), l.apply(x, in.frac()));
        }
    }

    @Test
    void wideInputDropsLowBitsButCoversTheSaturationRange() {
        QFormat out = new QFormat(8, 7);
        for (LutFunction f : new LutFunction[] {LutFunction.SIGMOID, LutFunction.TANH}) {
            QFormat in = new QFormat(16, 12); // range +-8, too wide for 10 index bits
            Lut l = Lut.forInput(f, in, out, 10);
            assertEquals(10, l.indexBits());
            double r = f.saturationRange(out, false);
            assertTrue(Math.scalb((double) l.indexMax(), -l.indexFrac()) >= r, f + ": index range below " + r);
            // The table's ends hold the asymptotes, so clamping loses nothing.
            assertEquals(out.quantize(f.apply(1e9)), l.lookup(l.indexMax()));
            assertEquals(out.quantize(f.apply(-1e9)), l.lookup(l.indexMin()));
            // Error against the float function: half an output step plus the slope times half an index step.
            double slope = f == LutFunction.SIGMOID ? 0.25 : 1.0;
            double bound = out.step() / 2 + slope * Math.scalb(0.5, -l.indexFrac()) + out.step() /* 1.0 saturates */;
            Random rnd = new Random(6);
            for (int t = 0; t < 5000; t++) {
                long x = in.min() + (long) (rnd.nextDouble() * (in.max() - in.min()));
                double err = Math.abs(out.toDouble(l.apply(x, in.frac())) - f.apply(in.toDouble(x)));
                assertTrue(err <= bound, f + " at " + in.toDouble(x) + ": " + err + " > " + bound);
            }
            // Monotone in index order.
            for (long v = l.indexMin(); v < l.indexMax(); v++) {
                assertTrue(l.lookup(v) <= l.lookup(v + 1));
            }
        }
    }

    @Test
    void veryWideInputCoversAllOfItsRangeWhenThatIsSmallerThanSaturation() {
        QFormat in = new QFormat(16, 15); // range +-1, below sigmoid's saturation
        QFormat out8 = new QFormat(8, 7);
        Lut plain = Lut.forInput(LutFunction.SIGMOID, in, out8, 10);
        assertEquals(10, plain.indexBits());
        assertEquals(9, plain.indexFrac()); // 16 - 10 = 6 bits dropped: all of +-1 at 2^-9
        assertTrue(!plain.interpolates(), "a plain table is within a step of an 8-bit output");
        // a 16-bit output needs interpolation; the cells then cover every input code
        QFormat out = new QFormat(16, 15);
        Lut l = Lut.forInput(LutFunction.SIGMOID, in, out, 10);
        assertTrue(l.interpolates());
        assertEquals(in.frac(), l.indexFrac() + l.interpBits());
        assertTrue(l.clampLo() <= in.min() && l.clampHi() >= in.max(), l.toString());
        assertTrue(Lut.maxError(l, LutFunction.SIGMOID, in) <= out.step());
    }

    @Test
    void interpolationIsTheRoundedChordBetweenEntries() {
        QFormat out = new QFormat(12, 11);
        Lut l = Lut.buildInterpolating(LutFunction.TANH, 4, 1, 3, out, 3); // inputs with 4 fractional bits
        assertEquals(new QFormat(15, 14), l.entry());
        for (long x = -80; x <= 80; x++) {
            long c = Math.max(-64, Math.min(63, x)); // cells [-8 * 8, 7 * 8 + 7]
            long i = Math.floorDiv(c, 8);
            long r = c - 8 * i;
            long v = l.lookup(i);
            long next = i < 7 ? l.lookup(i + 1) : new QFormat(15, 14).quantize(Math.tanh(4.0));
            double chord = (v + (next - v) * r / 8.0) / 16384;
            assertEquals(out.quantize(chord), l.apply(x, 4), "x = " + x);
            assertEquals(i, l.index(x, 4));
        }
        assertThrows(IllegalArgumentException.class, () -> l.apply(0, 3), "built for inputs with 4 fractional bits");
    }

    @Test
    void softmaxTableSpansItsIndexAndEndsAtZero() {
        QFormat out = new QFormat(12, 10);
        Lut l = Lut.forDifferences(new QFormat(16, 10), out, 10);
        assertEquals(10, l.indexBits());
        assertEquals(1024, l.lookup(0));
        assertEquals(0, l.lookup(l.indexMax()));
        double t = LutFunction.EXP_NEG.saturationRange(out, true);
        assertTrue(Math.scalb((double) l.indexMax(), -l.indexFrac()) >= t);
        Lut exact = Lut.forDifferences(new QFormat(8, 2), out, 10);
        assertEquals(8, exact.indexBits());
        assertEquals(2, exact.indexFrac());
    }

    @Test
    void saturationRangeIsTight() {
        QFormat out = new QFormat(8, 7);
        double r = LutFunction.SIGMOID.saturationRange(out, false);
        assertEquals(127, out.quantize(LutFunction.SIGMOID.apply(r)));
        assertEquals(0, out.quantize(LutFunction.SIGMOID.apply(-r)));
        // The low end settles last: sigmoid(-x) must drop below half a step, 1/256.
        assertTrue(out.quantize(LutFunction.SIGMOID.apply(-r * 0.99)) > 0);
        double t = LutFunction.EXP_NEG.saturationRange(out, true);
        assertEquals(0, out.quantize(Math.exp(-t)));
        assertTrue(out.quantize(Math.exp(-t * 0.99)) > 0);
        // exp saturates at the top of the format too: e^42.3 ~ 2^61.
        assertEquals(Math.log(0x1p61 - 0.5), LutFunction.EXP.saturationRange(new QFormat(62, 0), false), 1e-6);
    }

    @Test
    void tableIsCopiedAndChecked() {
        Lut l = Lut.build(LutFunction.TANH, 3, 0, true, new QFormat(4, 3));
        long[] t = l.table();
        t[0] = 99;
        assertEquals(0, l.lookup(0));
        assertThrows(IllegalArgumentException.class, () -> new Lut(LutFunction.TANH, 3, 0, true, new QFormat(4, 3), new long[7]));
        assertThrows(IllegalArgumentException.class, () -> new Lut(LutFunction.TANH, 1, 0, true, new QFormat(4, 3), new long[] {0, 99}));
        assertEquals(l, Lut.build(LutFunction.TANH, 3, 0, true, new QFormat(4, 3)));
    }
}
