package io.streamfold.quant;

import io.streamfold.data.NdArray;
import io.streamfold.ir.Graph;
import io.streamfold.onnx.OnnxModelReader;
import io.streamfold.passes.FoldBatchNorm;
import io.streamfold.passes.PassContext;
import io.streamfold.testutil.Examples;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * End to end on the example models: ONNX, BN folding, calibration on calib.npy, quantization;
 * the integer graph's arg-max agrees with the float graph's on the 300 test inputs.
 */
class QuantExamplesTest {

    static List<double[]> rows(NdArray a) {
        List<double[]> out = new ArrayList<>();
        for (int i = 0; i < a.rows(); i++) {
            out.add(a.row(i));
        }
        return out;
    }

    static int[] labels(NdArray a) {
        int[] l = new int[a.rows()];
        for (int i = 0; i < l.length; i++) {
            l[i] = (int) a.data()[i];
        }
        return l;
    }

    static QuantErrorReport measure(String model, QuantConfig cfg) {
        Graph g = new FoldBatchNorm().run(OnnxModelReader.read(Examples.onnx(model)), new PassContext());
        PassContext ctx = new PassContext();
        QuantizedGraph q = new Quantize(cfg).run(g, rows(Examples.npy(model, "calib.npy")), ctx);
        QuantErrorReport r = QuantErrorReport.measure(q, rows(Examples.npy(model, "inputs.npy")), labels(Examples.npy(model, "labels.npy")));
        System.out.println("== " + model + " " + cfg.weightBits() + "/" + cfg.actBits() + " bits, per-channel " + cfg.perChannel() + "\n" + q + r.toText()
                + ctx.counters(Quantize.NAME));
        assertEquals(g.nodes().size() + 1, r.layers().size());
        assertEquals(g.nodes().size() + 1, q.report().size());
        assertTrue(ctx.counter(Quantize.NAME, "layers quantized") >= 3, ctx.counters().toString());
        for (QuantErrorReport.LayerError l : r.layers()) {
            assertTrue(Double.isFinite(l.maxAbsError()) && l.sqnrDb() > 15, l.toString());
        }
        return r;
    }

    @ParameterizedTest
    @CsvSource({"mlp_bn", "cnn_seed", "cnn_residual"})
    void sixteenBitsAgreeWithFloat(String model) {
        QuantErrorReport r = measure(model, QuantConfig.defaults().withBits(16, 16));
        assertTrue(r.top1Agreement() >= 0.995, model + ": " + r.top1Agreement());
    }

    @ParameterizedTest
    @CsvSource({"mlp_bn", "cnn_seed", "cnn_residual"})
    void eightBitsAgreeWithFloat(String model) {
        QuantErrorReport r = measure(model, QuantConfig.defaults());
        assertTrue(r.top1Agreement() >= 0.97, model + ": " + r.top1Agreement());
    }
}
