package io.streamfold.quant;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.Pipeline;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.passes.PassContext;
import io.streamfold.reference.FloatInterpreter;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.testutil.Examples;
import io.streamfold.testutil.LogitOffset;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Softmax of logits that carry a large common offset keeps its resolution: the offset moves into
 * the producing Dense layer's bias ({@link SoftmaxOffset}), so the logits' format holds only
 * their spread. Top-1 agreement with the float model stays at or above 99 % for logits around
 * 10,000 and for the cnn_seed example whose classifier bias is raised by 1,000.
 */
class SoftmaxOffsetTest {

    /** Top-1 agreement of the integer model {@code q} with the float graph {@code g} (ties in the integer output count as misses). */
    static double agreement(Graph g, QuantizedGraph q, List<double[]> xs) {
        int agree = 0;
        for (double[] x : xs) {
            long[] y = IntegerInterpreter.run(q, IntegerInterpreter.quantizeInput(q, x));
            int k = QuantErrorReport.argmax(y);
            boolean tie = false;
            for (int i = 0; i < y.length; i++) {
                tie |= i != k && y[i] == y[k];
            }
            agree += !tie && k == QuantErrorReport.argmax(FloatInterpreter.run(g, x)) ? 1 : 0;
        }
        return (double) agree / xs.size();
    }

    static List<double[]> uniform(Random r, int n, int dims, double scale) {
        List<double[]> xs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            double[] x = new double[dims];
            for (int j = 0; j < dims; j++) {
                x[j] = scale * (2 * r.nextDouble() - 1);
            }
            xs.add(x);
        }
        return xs;
    }

    @Test
    void logitsAroundTenThousandKeepTheirResolution() {
        Random r = new Random(12);
        double[] w = new double[2 * 4];
        for (int i = 0; i < w.length; i++) {
            w[i] = r.nextGaussian();
        }
        // logits like [10000, 10003] plus a sample-dependent part of a few units
        Graph g = new Graph("big_logits", "x", Shape.of(4), List.of(
                new Node("fc", new Op.Dense(Tensor.of(Shape.of(2, 4), w), Tensor.of(Shape.of(2), 10000, 10003)), "x", "z"),
                new Node("softmax", new Op.Softmax(0), "z", "y")), "y");
        List<double[]> calib = uniform(r, 300, 4, 2);
        List<double[]> test = uniform(r, 1000, 4, 2);
        for (QuantConfig cfg : List.of(QuantConfig.defaults(), QuantConfig.defaults().withBits(16, 16))) {
            PassContext ctx = new PassContext();
            QuantizedGraph q = new Quantize(cfg).run(g, calib, ctx);
            assertEquals(1, ctx.counter(Quantize.NAME, "softmax logit offsets moved into the bias"));
            assertTrue(q.format("z").frac() >= cfg.actBits() - 6, "logits format " + q.format("z"));
            double a = agreement(g, q, test);
            assertTrue(a >= 0.99, cfg.actBits() + " bits: agreement " + a);
        }
    }

    @Test
    void centredLogitsAreLeftAlone() {
        Random r = new Random(13);
        Graph g = new Graph("small_logits", "x", Shape.of(3), List.of(
                new Node("fc", new Op.Dense(Tensor.of(Shape.of(3, 3), 1, 0, 0, 0, 1, 0, 0, 0, 1), Tensor.of(Shape.of(3), 0.5, -0.2, 0.1)), "x", "z"),
                new Node("softmax", new Op.Softmax(0), "z", "y")), "y");
        PassContext ctx = new PassContext();
        QuantizedGraph q = new Quantize(QuantConfig.defaults()).run(g, uniform(r, 50, 3, 2), ctx);
        assertEquals(0, ctx.counter(Quantize.NAME, "softmax logit offsets moved into the bias"));
        assertEquals(g.nodes().get(0).op(), q.graph().nodes().get(0).op());
    }

    @Test
    void aRealModelWithALargeLogitOffsetAgreesAsWithout() {
        Graph shifted = LogitOffset.cnnSeedRaisedBy(1000);
        List<double[]> calib = DataFiles.samples(Examples.dir("cnn_seed").resolve("calib.npy"), shifted.inputShape());
        List<double[]> test = DataFiles.samples(Examples.dir("cnn_seed").resolve("inputs.npy"), shifted.inputShape());
        Pipeline.Result res = Pipeline.quantize(shifted, QuantConfig.defaults(), calib);
        assertEquals(1, res.context().counter(Quantize.NAME, "softmax logit offsets moved into the bias"));
        double a = agreement(shifted, res.quantized(), test);
        assertTrue(a >= 0.99, "agreement " + a);
    }
}
