package io.streamfold.quant;

import io.streamfold.ir.Graph;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Selu, Softplus and HardSigmoid (tables, like ELU) and the per-channel PRelu (a slope per
 * channel in one fixed-point format): tables exact at every 8-bit input code, bit-exact
 * integer arithmetic at 8 and 16 bits, and PRelu within its rounding bound of the float model.
 */
class NewActivationsTest {

    @Test
    void tablesHoldTheFunctionAtEveryInputCode() {
        QOpsTest t = new QOpsTest();
        Shape s = Shape.of(3, 5);
        for (Op.Tabulated f : List.of(new Op.Selu(Op.Selu.ALPHA, Op.Selu.GAMMA), new Op.Selu(2, 3), new Op.Softplus(),
                new Op.HardSigmoid(0.2, 0.5), new Op.HardSigmoid(0.5, 0.6))) {
            List<double[]> xs = t.samples(s, 30, 2.5);
            QuantizedGraph q = QOpsTest.quantize(QOpsTest.single(f, s), xs, QOpsTest.Q8);
            QOp.QLut lut = assertInstanceOf(QOp.QLut.class, q.op("op"));
            QFormat in = lut.in();
            QFormat out = lut.out();
            assertEquals(f.unitRange() ? new QFormat(8, 7) : out, out, f.label());
            for (long x = in.min(); x <= in.max(); x++) {
                assertEquals(out.quantize(f.apply(in.toDouble(x))), lut.apply(0, x), f.label() + " x = " + x);
            }
            QOpsTest.assertBitExact(q, xs);
            QOpsTest.assertBitExact(QOpsTest.quantize(QOpsTest.single(f, s), xs, QOpsTest.Q16), xs);
        }
        assertEquals(Math.log(2), new Op.Softplus().apply(0), 1e-15);
        assertEquals(800.0, new Op.Softplus().apply(800), 1e-12, "no overflow for large inputs");
        assertEquals(1.0, new Op.HardSigmoid(0.2, 0.5).apply(3), 0);
    }

    @Test
    void preluHasOneSlopePerChannelInOneFormat() {
        QOpsTest t = new QOpsTest();
        Shape s = Shape.of(4, 6);
        double[] slopes = {0.1, -0.25, 0.7, 1.3};
        Op.PRelu p = new Op.PRelu(Tensor.of(Shape.of(4), slopes));
        Graph g = QOpsTest.single(p, s);
        List<double[]> xs = t.samples(s, 20, 3);
        for (QuantConfig cfg : List.of(QOpsTest.Q16, QOpsTest.Q8)) {
            QuantizedGraph q = QOpsTest.quantize(g, xs, cfg);
            QOp.QPRelu qp = assertInstanceOf(QOp.QPRelu.class, q.op("op"));
            assertTrue(qp.perChannel());
            assertEquals(4, qp.channels());
            QOpsTest.assertBitExact(q, xs);
            QFormat in = q.inputFormat();
            QFormat out = q.outputFormat();
            double slopeError = 0;
            for (int c = 0; c < 4; c++) {
                slopeError = Math.max(slopeError, Math.abs(slopes[c] - Math.scalb((double) qp.alpha(c), -qp.alphaFrac())));
            }
            double bound = 1.3 * in.step() / 2 + out.step() / 2 + slopeError * 3 * 6 + 1e-12;
            double err = QOpsTest.maxError(q, xs);
            assertTrue(err <= bound, cfg.actBits() + " bits: " + err + " > " + bound);
        }
    }
}
