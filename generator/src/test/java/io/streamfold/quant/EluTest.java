package io.streamfold.quant;

import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

/** ELU through a table: exact at every input code when the table is indexed by the input itself. */
class EluTest {

    @Test
    void tableHoldsTheFunctionAtEveryInputCode() {
        QOpsTest t = new QOpsTest();
        Shape s = Shape.of(3, 5);
        for (double alpha : new double[] {1.0, 0.3}) {
            Op.Elu elu = new Op.Elu(alpha);
            List<double[]> xs = t.samples(s, 30, 2.5);
            QuantizedGraph q = QOpsTest.quantize(QOpsTest.single(elu, s), xs, QOpsTest.Q8);
            QOp.QLut lut = assertInstanceOf(QOp.QLut.class, q.op("op"));
            QFormat in = lut.in();
            QFormat out = lut.out();
            assertEquals(in.bits(), lut.lut().indexBits(), "an 8-bit input indexes the table directly");
            for (long x = in.min(); x <= in.max(); x++) {
                assertEquals(out.quantize(elu.apply(in.toDouble(x))), lut.apply(0, x), "x = " + x);
            }
            QOpsTest.assertBitExact(q, xs);
            QOpsTest.assertBitExact(QOpsTest.quantize(QOpsTest.single(elu, s), xs, QOpsTest.Q16), xs);
        }
    }

    @Test
    void labelsTellAlphasApart() {
        assertFalse(LutFunction.of(new Op.Elu(1.0)).equals(LutFunction.of(new Op.Elu(0.5))));
        assertEquals(-0.5 * (1 - Math.exp(-2)), new Op.Elu(0.5).apply(-2), 1e-15);
        assertEquals(3.0, new Op.Elu(0.5).apply(3), 0);
    }
}
