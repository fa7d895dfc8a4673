package io.streamfold.passes;

import io.streamfold.data.NdArray;
import io.streamfold.ir.Graph;
import io.streamfold.onnx.OnnxModelReader;
import io.streamfold.reference.FloatInterpreter;
import io.streamfold.testutil.Examples;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** BN folding on the real example models: what folds where, and the outputs do not change. */
class FoldExamplesTest {

    static PassContext foldAndCheck(String model, int samples) {
        Graph g = OnnxModelReader.read(Examples.onnx(model));
        PassContext ctx = new PassContext();
        Graph f = new FoldBatchNorm().run(g, ctx);
        assertNull(f.opCounts().get("BatchNormalization"));
        NdArray x = Examples.npy(model, "inputs.npy");
        double worst = 0;
        double scale = 1;
        for (int i = 0; i < samples; i++) {
            double[] a = FloatInterpreter.run(g, x.row(i));
            double[] b = FloatInterpreter.run(f, x.row(i));
            for (int j = 0; j < a.length; j++) {
                worst = Math.max(worst, Math.abs(a[j] - b[j]));
                scale = Math.max(scale, Math.abs(a[j]));
            }
        }
        assertTrue(worst <= 1e-9 * scale, model + ": folded graph differs by " + worst);
        return ctx;
    }

    @Test
    void mlpFoldsBothBatchNormsBackward() {
        PassContext ctx = foldAndCheck("mlp_bn", 300);
        assertEquals(Map.of(FoldBatchNorm.FOLDED_PRECEDING_DENSE, 2), ctx.counters(FoldBatchNorm.NAME));
    }

    @Test
    void seedModelKeepsTheInputBatchNormAndMovesTheOtherPastMaxPool() {
        PassContext ctx = foldAndCheck("cnn_seed", 300);
        assertEquals(1, ctx.counter(FoldBatchNorm.NAME, FoldBatchNorm.KEPT_STANDALONE), ctx.notes().toString());
        assertEquals(1, ctx.counter(FoldBatchNorm.NAME, FoldBatchNorm.MOVED_PAST_MAXPOOL), ctx.notes().toString());
        assertEquals(1, ctx.counter(FoldBatchNorm.NAME, FoldBatchNorm.FOLDED_FOLLOWING_DENSE), ctx.notes().toString());
        assertTrue(ctx.notes().stream().anyMatch(n -> n.contains("/0/BatchNormalization") && n.contains("padded")), ctx.notes().toString());
    }

    @Test
    void residualModelFoldsConvBatchNormsAndKeepsTheOneAfterRelu() {
        PassContext ctx = foldAndCheck("cnn_residual", 300);
        assertEquals(2, ctx.counter(FoldBatchNorm.NAME, FoldBatchNorm.FOLDED_PRECEDING_CONV), ctx.notes().toString());
        assertEquals(1, ctx.counter(FoldBatchNorm.NAME, FoldBatchNorm.KEPT_STANDALONE), ctx.notes().toString());
    }
}
