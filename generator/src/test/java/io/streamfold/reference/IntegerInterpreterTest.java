package io.streamfold.reference;

import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.passes.PassContext;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QOp;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.Quantize;
import io.streamfold.quant.QuantizedGraph;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The integer reference on hand-worked examples. */
class IntegerInterpreterTest {

    /**
     * fc: y = 0.5 x0 - 0.25 x1 + 0.125 with input Q(8,4), output Q(8,3), 8-bit weights:
     * w = [64, -32] at frac 7, accumulator frac 11, bias 0.125 * 2^11 = 256, shift 8.
     */
    static QuantizedGraph dense() {
        Graph g = new Graph("fc", "x", Shape.of(2), List.of(new Node("fc",
                new Op.Dense(Tensor.of(Shape.of(1, 2), 0.5, -0.25), Tensor.of(Shape.of(1), 0.125)), "x", "y")), "y");
        QuantConfig c = QuantConfig.defaults().withOverrides(
                "{\"input\": {\"bits\": 8, \"frac\": 4}, \"layers\": {\"fc\": {\"act\": {\"bits\": 8, \"frac\": 3}}}}", "q.json");
        return new Quantize(c).run(g, List.of(new double[] {1, 1}), new PassContext());
    }

    @Test
    void denseByHand() {
        QuantizedGraph q = dense();
        QOp.QDense d = (QOp.QDense) q.op("fc");
        assertArrayEquals(new long[] {64, -32}, d.weight().values());
        assertEquals(7, d.weight().frac(0));
        assertEquals(11, d.accFrac(0));
        assertEquals(256, d.bias(0));
        assertEquals(8, d.shift(0));
        // acc = 64*16 - 32*32 + 256 = 256 -> (256 + 128) >> 8 = 1
        assertArrayEquals(new long[] {1}, IntegerInterpreter.run(q, new long[] {16, 32}));
        // acc = 64*2 + 256 = 384 = 1.5 output steps -> rounds up to 2
        assertArrayEquals(new long[] {2}, IntegerInterpreter.run(q, new long[] {2, 0}));
        // acc = -64*10 + 256 = -384 = -1.5 output steps -> rounds up to -1
        assertArrayEquals(new long[] {-1}, IntegerInterpreter.run(q, new long[] {-10, 0}));
        // acc = 64*127 + 32*128 + 256 = 12480 -> 48.75 -> 49
        assertArrayEquals(new long[] {49}, IntegerInterpreter.run(q, new long[] {127, -128}));
        assertArrayEquals(new double[] {0.125}, IntegerInterpreter.runReal(q, new double[] {1.0, 2.0}));
    }

    @Test
    void runAllHasEveryValueAndRejectsBadInputs() {
        QuantizedGraph q = dense();
        Map<String, long[]> all = IntegerInterpreter.runAll(q, new long[] {16, 32});
        assertEquals(List.of("x", "y"), List.copyOf(all.keySet()));
        assertThrows(IllegalArgumentException.class, () -> IntegerInterpreter.run(q, new long[] {1}));
        assertThrows(IllegalArgumentException.class, () -> IntegerInterpreter.run(q, new long[] {128, 0}));
    }

    @Test
    void quantizeAndDequantize() {
        QFormat f = new QFormat(8, 2);
        assertArrayEquals(new long[] {3, -2, 127, -128}, IntegerInterpreter.quantize(f, new double[] {0.625, -0.625, 99, -99}));
        assertArrayEquals(new double[] {0.75, -0.5}, IntegerInterpreter.dequantize(f, new long[] {3, -2}));
    }

    @Test
    void softmaxByHand() {
        // Input Q(8,0): logits {2, 0, 0}. Output Q(8,7), so the table has eFrac = 10 (Q(12,10)),
        // the reciprocal frac 9, K = 19. Index = input (8 bits): e = {1024, round(1024 e^-2) = 139, 139}.
        // S = 1302, r = floor(2^19 / 1302) = 402, p = (e * r + 2^11) >> 12.
        Graph g = new Graph("s", "x", Shape.of(3), List.of(new Node("sm", new Op.Softmax(0), "x", "y")), "y");
        QuantConfig c = QuantConfig.defaults().withOverrides("{\"input\": {\"bits\": 8, \"frac\": 0}}", "q.json");
        QuantizedGraph q = new Quantize(c).run(g, List.of(new double[] {2, 0, 0}), new PassContext());
        QOp.QSoftmax s = (QOp.QSoftmax) q.op("sm");
        assertEquals(new QFormat(12, 10), s.exp().out());
        assertEquals(19, s.recipShift());
        assertEquals(1024, s.exp(2, 2));
        assertEquals(139, s.exp(2, 0));
        assertEquals(402, s.reciprocal(1302));
        long p0 = (1024 * 402 + 2048) >> 12; // 101 = 0.789 (float 0.787)
        long p1 = (139 * 402 + 2048) >> 12; // 14 = 0.109 (float 0.106)
        assertArrayEquals(new long[] {p0, p1, p1}, IntegerInterpreter.run(q, new long[] {2, 0, 0}));
    }

    @Test
    void averagePoolByHand() {
        // 3 values averaged: recip = round(2^16 / 3) = 21845 at frac 16 (1/3 at 16 bits).
        Graph g = new Graph("a", "x", Shape.of(1, 3), List.of(new Node("gap", new Op.GlobalAvgPool(), "x", "y")), "y");
        QuantConfig c = QuantConfig.defaults().withOverrides(
                "{\"input\": {\"bits\": 8, \"frac\": 0}, \"layers\": {\"gap\": {\"act\": {\"bits\": 8, \"frac\": 0}}}}", "q.json");
        QuantizedGraph q = new Quantize(c).run(g, List.of(new double[] {1, 2, 3}), new PassContext());
        QOp.QGlobalAvgPool p = (QOp.QGlobalAvgPool) q.op("gap");
        assertEquals(21845, p.recip());
        assertEquals(16, p.recipFrac());
        // sum 4: 4 * 21845 = 87380 = 1.3333 * 2^16 -> 1
        assertArrayEquals(new long[] {1}, IntegerInterpreter.run(q, new long[] {1, 1, 2}));
        // sum 5: 1.6666 -> 2; sum -5 -> -2; sum 3 -> 65535/65536 -> 1
        assertArrayEquals(new long[] {2}, IntegerInterpreter.run(q, new long[] {1, 2, 2}));
        assertArrayEquals(new long[] {-2}, IntegerInterpreter.run(q, new long[] {-1, -2, -2}));
        assertArrayEquals(new long[] {1}, IntegerInterpreter.run(q, new long[] {1, 1, 1}));
    }
}
