package io.streamfold.bound;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.compile.Pipeline;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QOp;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantErrorReport;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.testutil.Examples;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bound on the examples, its tightness on one Dense layer where the worst case can be built
 * by hand, and that the check against measured errors has teeth: without any one of its error
 * sources the bound is exceeded.
 */
class ErrorBoundTest {

    // ---------------------------------------------------------------------------------------------
    // (b) the examples

    @ParameterizedTest
    @ValueSource(ints = {8, 16})
    void holdsOnEveryExampleOnItsOwnData(int bits) {
        for (String model : Examples.MODELS) {
            Graph g = ModelLoader.load(Examples.onnx(model));
            List<double[]> calib = DataFiles.samples(Examples.dir(model).resolve("calib.npy"), g.inputShape());
            List<double[]> inputs = DataFiles.samples(Examples.dir(model).resolve("inputs.npy"), g.inputShape());
            QuantizedGraph q = Pipeline.quantize(g, QuantConfig.defaults().withBits(bits, bits), calib).quantized();
            ErrorBound bound = ErrorBound.analyze(q, InputBox.hull(calib).including(inputs));
            QuantErrorReport measured = QuantErrorReport.measure(q, inputs);
            assertEquals(List.of(), bound.violations(measured), model);
            for (int s = 0; s < inputs.size(); s += 10) {
                ErrorBoundPropertyTest.checkInvariant(q, bound, inputs.get(s));
            }
            assertEquals(measured.layers().size(), bound.layers().size());
            for (int i = 0; i < measured.layers().size(); i++) {
                assertEquals(measured.layers().get(i).node(), bound.layers().get(i).node());
            }
        }
    }

    @Test
    void theFirstLayersOfTheExamplesAreBoundedTightly() {
        // a conv on the input: interval arithmetic is exact there, and the bound is within a small
        // factor of what the data reaches (the box's corners reach further than the data)
        Graph g = ModelLoader.load(Examples.onnx("cnn_seed"));
        List<double[]> calib = DataFiles.samples(Examples.dir("cnn_seed").resolve("calib.npy"), g.inputShape());
        // max-abs formats cover the calibration data, so nothing saturates in its hull (the default
        // calibration may clip outliers, and then the box's corners saturate)
        QuantizedGraph q = Pipeline.quantize(g, QuantConfig.defaults().withMaxAbs(), calib).quantized();
        ErrorBound bound = ErrorBound.analyze(q, InputBox.hull(calib));
        QuantErrorReport measured = QuantErrorReport.measure(q, calib);
        for (String node : List.of("/0/BatchNormalization", "/1/Conv", "/2/Relu")) {
            double b = bound.layer(node).bound();
            double m = measured.layer(node).maxAbsError();
            assertTrue(m <= b && b <= 4 * m, node + ": measured " + m + ", bound " + b);
            assertFalse(bound.layer(node).maySaturate(), node);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // (c) usefulness: one Dense layer whose worst case is built by hand

    /**
     * {@code y = w . x + b} over the box {@code [0, 1]^16}, 8 bits. Every weight is
     * {@code (k - 0.45) / 128}, so it rounds up by 0.45 of its step; the bias rounds up too and puts
     * the integer sum of the hand-made input exactly on a tie of the output rounding. The
     * hand-made input is {@code 1 - step/2} everywhere: it rounds up to 1 (half an input step of
     * error times every weight), it is as large as the box allows (the weights' error times
     * almost 1), and its sum then rounds up by half an output step. Each error is as large as it
     * can be and all have the same sign, so the bound must be (almost) reached.
     */
    @Test
    void aDenseLayerReachesItsBoundOnAHandMadeInput() {
        int n = 16;
        Random r = new Random(12);
        double[] w = new double[n];
        long sumK = 0;
        for (int i = 0; i < n; i++) {
            long k = 40 + r.nextInt(80);
            sumK += k;
            w[i] = (k - 0.45) / 128;
        }
        List<double[]> calib = List.of(new double[n], filled(n, 1.0));
        QuantizedGraph q = denseLayer(w, 0, calib);
        QOp.QDense d = (QOp.QDense) q.op("fc");
        assertEquals(7, d.weight().frac(0), "the weights' format is Q(8,7)");
        assertEquals(6, q.inputFormat().frac(), "the input's format is Q(8,6)");
        // the bias: the accumulator (frac 13) of the hand-made input sits on a tie of the output rounding
        QFormat out = d.out();
        int accFrac = d.accFrac(0);
        long acc = Math.scalb(sumK / 128.0, accFrac) > 0 ? (long) Math.scalb(sumK / 128.0, accFrac) : 0;
        long tie = ((acc >> (accFrac - out.frac())) + 3) * (1L << (accFrac - out.frac())) + (1L << (accFrac - out.frac() - 1));
        double bias = Math.scalb((double) tie - acc - 0.45, -accFrac);
        q = denseLayer(w, bias, calib);
        d = (QOp.QDense) q.op("fc");
        assertEquals(out, d.out(), "the bias does not change the output format");
        assertEquals(tie - acc, d.bias(0), "the bias rounds up onto the tie");

        double[] hand = filled(n, 1 - q.inputFormat().step() / 2);
        ErrorBound bound = ErrorBound.analyze(q, InputBox.hull(calib));
        double worst = QuantErrorReport.measure(q, List.of(hand)).layer("fc").maxAbsError();
        double b = bound.layer("fc").bound();
        assertFalse(bound.layer("fc").maySaturate());
        assertTrue(worst <= b, "sound: " + worst + " <= " + b);
        assertTrue(worst >= 0.99 * b, "tight: the hand-made input reaches " + worst + " of the bound " + b);
        // and no random input of the box comes closer
        List<double[]> random = new ArrayList<>();
        for (int s = 0; s < 200; s++) {
            double[] x = new double[n];
            for (int i = 0; i < n; i++) {
                x[i] = r.nextDouble();
            }
            random.add(x);
        }
        assertTrue(QuantErrorReport.measure(q, random).layer("fc").maxAbsError() < worst);
    }

    private static QuantizedGraph denseLayer(double[] w, double bias, List<double[]> calib) {
        Op.Dense dense = new Op.Dense(Tensor.of(Shape.of(1, w.length), w), Tensor.of(Shape.of(1), bias));
        Graph g = new Graph("one_dense", "x", Shape.of(w.length), List.of(new Node("fc", dense, "x", "y")), "y");
        return Pipeline.quantize(g, QuantConfig.defaults(), calib).quantized();
    }

    private static double[] filled(int n, double v) {
        double[] x = new double[n];
        Arrays.fill(x, v);
        return x;
    }

    // ---------------------------------------------------------------------------------------------
    // (d) the check has teeth

    /**
     * Without any one of its error sources, the bound is exceeded by a measured error, and
     * {@link ErrorBound#violations} says which layer; with all of them it holds. The networks:
     * the hand-made Dense layer above for input rounding, weights and requantization, and a
     * coarse sigmoid table for tables.
     */
    @ParameterizedTest
    @EnumSource(ErrorBound.Source.class)
    void withoutAnyOneErrorSourceTheCheckFails(ErrorBound.Source removed) {
        QuantizedGraph q;
        List<double[]> inputs = new ArrayList<>();
        InputBox box;
        if (removed == ErrorBound.Source.TABLES) {
            Graph g = new Graph("coarse_sigmoid", "x", Shape.of(1), List.of(new Node("sig", new Op.Sigmoid(), "x", "y")), "y");
            List<double[]> calib = List.of(new double[] {-4}, new double[] {4});
            q = Pipeline.quantize(g, QuantConfig.defaults().withLutIndexBits(3), calib).quantized();
            box = InputBox.hull(calib);
            for (int s = 0; s <= 256; s++) {
                inputs.add(new double[] {-4 + 8.0 * s / 256});
            }
        } else {
            int n = 16;
            double[] w = new double[n];
            Random r = new Random(5);
            for (int i = 0; i < n; i++) {
                w[i] = (40 + r.nextInt(80) - 0.45) / 128;
            }
            List<double[]> calib = List.of(new double[n], filled(n, 1.0));
            q = denseLayer(w, 0.3, calib);
            box = InputBox.hull(calib);
            for (int s = 0; s < 300; s++) {
                double[] x = new double[n];
                for (int i = 0; i < n; i++) {
                    x[i] = s % 3 == 0 ? 1 - q.inputFormat().step() / 2 : s % 3 == 1 ? r.nextDouble() : (r.nextInt(64) + 0.5) / 64;
                }
                inputs.add(x);
            }
        }
        QuantErrorReport measured = QuantErrorReport.measure(q, inputs);
        assertEquals(List.of(), ErrorBound.analyze(q, box).violations(measured), "the whole bound holds");
        EnumSet<ErrorBound.Source> some = EnumSet.allOf(ErrorBound.Source.class);
        some.remove(removed);
        List<String> violations = ErrorBound.analyze(q, box, some).violations(measured);
        assertFalse(violations.isEmpty(), "without " + removed + " the bound must be exceeded");
        assertTrue(violations.get(0).contains("exceeds its proved bound"), violations.get(0));
    }

    // ---------------------------------------------------------------------------------------------

    @Test
    void aBoxOfTheWrongSizeIsRefused() {
        Graph g = ModelLoader.load(Examples.onnx("mlp_bn"));
        QuantizedGraph q = Examples.quantize("mlp_bn", QuantConfig.defaults());
        assertThrows(IllegalArgumentException.class, () -> ErrorBound.analyze(q, InputBox.hull(List.of(new double[3]))));
        assertEquals(g.inputShape().size(), q.graph().inputShape().size());
    }

    /**
     * An exact input below a Clip's lower bound: the float output is the bound itself, the fixed
     * one its quantized value. Nothing else rounds, so the bound is exactly their distance.
     */
    @Test
    void aClipBoundOffTheGridIsCountedOnExactInputs() {
        Graph g = new Graph("clip", "x", Shape.of(1), List.of(new Node("c", new Op.Clip(-0.3, 0.25), "x", "y")), "y");
        List<double[]> calib = List.of(new double[] {-0.5});
        QuantizedGraph q = Pipeline.quantize(g, QuantConfig.defaults(), calib).quantized();
        QOp.QClip clip = (QOp.QClip) q.op("c");
        double lo = clip.out().toDouble(clip.lo());
        assertTrue(lo != -0.3, "-0.3 is not on the output grid");
        ErrorBound bound = ErrorBound.analyze(q, InputBox.hull(calib));
        assertEquals(0, bound.value("x").d(0), "-0.5 is exact in the input format");
        double measured = QuantErrorReport.measure(q, calib).layer("c").maxAbsError();
        assertEquals(Math.abs(lo + 0.3), measured, 1e-15);
        assertEquals(measured, bound.layer("c").bound(), 1e-12);
    }

    @Test
    void aPointInputIsQuantizedExactly() {
        // an input element that is the same in every sample has exactly its own rounding error
        Graph g = new Graph("id", "x", Shape.of(2), List.of(new Node("r", new Op.Relu(), "x", "y")), "y");
        List<double[]> calib = List.of(new double[] {0.25, -1}, new double[] {0.25, 1});
        QuantizedGraph q = Pipeline.quantize(g, QuantConfig.defaults(), calib).quantized();
        ValueBound in = ErrorBound.analyze(q, InputBox.hull(calib)).value("x");
        assertEquals(0, in.d(0), 1e-15, "0.25 is on the grid");
        assertEquals(q.inputFormat().step() / 2, in.d(1), 1e-12);
        long[] fixed = IntegerInterpreter.quantizeInput(q, new double[] {0.25, 1});
        assertEquals(0.25, q.inputFormat().toDouble(fixed[0]));
    }
}
