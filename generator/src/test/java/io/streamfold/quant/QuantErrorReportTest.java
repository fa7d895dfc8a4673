package io.streamfold.quant;

import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.passes.PassContext;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QuantErrorReportTest {

    @Test
    void exactlyRepresentableDataHasNoError() {
        Graph g = new Graph("r", "x", Shape.of(4), List.of(new Node("relu", new Op.Relu(), "x", "y")), "y");
        List<double[]> xs = new ArrayList<>();
        for (int k = 0; k < 10; k++) {
            xs.add(new double[] {k / 16.0, -k / 8.0, 1 - k / 16.0, 0.25});
        }
        QuantizedGraph q = new Quantize(QuantConfig.defaults()).run(g, xs, new PassContext());
        QuantErrorReport r = QuantErrorReport.measure(q, xs);
        assertEquals(2, r.layers().size());
        for (QuantErrorReport.LayerError l : r.layers()) {
            assertEquals(0, l.maxAbsError(), l.toString());
            assertEquals(Double.POSITIVE_INFINITY, l.sqnrDb());
        }
        assertEquals(1.0, r.top1Agreement());
        assertTrue(Double.isNaN(r.floatAccuracy()));
    }

    @Test
    void denseLayerErrorsAndAccuracies() {
        Random rnd = new Random(8);
        double[] w = new double[3 * 6];
        for (int i = 0; i < w.length; i++) {
            w[i] = rnd.nextGaussian();
        }
        Graph g = new Graph("d", "x", Shape.of(6), List.of(new Node("fc", new Op.Dense(Tensor.of(Shape.of(3, 6), w), Tensor.zeros(3)), "x", "y")), "y");
        List<double[]> xs = new ArrayList<>();
        for (int k = 0; k < 100; k++) {
            double[] x = new double[6];
            for (int i = 0; i < 6; i++) {
                x[i] = rnd.nextGaussian();
            }
            xs.add(x);
        }
        int[] labels = new int[xs.size()];
        QuantizedGraph q8 = new Quantize(QuantConfig.defaults()).run(g, xs, new PassContext());
        QuantizedGraph q16 = new Quantize(QuantConfig.defaults().withBits(16, 16)).run(g, xs, new PassContext());
        QuantErrorReport r8 = QuantErrorReport.measure(q8, xs, labels);
        QuantErrorReport r16 = QuantErrorReport.measure(q16, xs, labels);
        QuantErrorReport.LayerError fc8 = r8.layer("fc");
        QuantErrorReport.LayerError fc16 = r16.layer("fc");
        assertEquals("Dense", fc8.kind());
        assertEquals("y", fc8.value());
        assertTrue(fc8.maxAbsError() > 0 && fc8.rmsError() <= fc8.maxAbsError());
        // Eight more bits: about 48 dB better.
        assertTrue(fc8.sqnrDb() > 25 && fc16.sqnrDb() > fc8.sqnrDb() + 35, fc8 + " / " + fc16);
        assertTrue(r16.top1Agreement() >= r8.top1Agreement());
        assertTrue(r8.top1Agreement() > 0.9);
        assertTrue(r8.floatAccuracy() >= 0 && r8.intAccuracy() >= 0);
        assertTrue(r8.toText().contains("top-1 agreement"), r8.toText());
        assertTrue(r8.toText().contains("fc (Dense)"), r8.toText());
    }

    @Test
    void argmaxTakesTheLowestIndexOnTies() {
        assertEquals(1, QuantErrorReport.argmax(new long[] {0, 5, 5, 1}));
        assertEquals(0, QuantErrorReport.argmax(new double[] {2, 2}));
    }
}
