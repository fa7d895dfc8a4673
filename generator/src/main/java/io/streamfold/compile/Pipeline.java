package io.streamfold.compile;

import io.streamfold.ir.Graph;
import io.streamfold.passes.FoldBatchNorm;
import io.streamfold.passes.PassContext;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.Quantize;
import io.streamfold.quant.QuantizedGraph;

import java.util.List;

/**
 * The compiler's passes in order. Shapes are inferred whenever a graph is built, so every step
 * starts from a verified graph.
 *
 * <pre>
 *   import          frontend (ONNX or JSON) -> graph IR, float, as in the source model
 *   fold-batchnorm  BN folded into Conv/Dense in float64 (before quantizing: no double rounding)
 *   quantize        calibrate on float values of the folded graph, choose formats, integer params
 * </pre>
 */
public final class Pipeline {

    /** Stable step names, in order (for reports and {@code --dump-after}). */
    public static final List<String> STEPS = List.of("import", FoldBatchNorm.NAME, Quantize.NAME);

    private Pipeline() {
    }

    /** Everything the compiler produced, with the counters and notes of every pass. */
    public record Result(Graph original, Graph folded, QuantizedGraph quantized, PassContext context) {
    }

    /** Folds and quantizes; {@code calibration} holds flat channels-first input samples. */
    public static Result run(Graph original, QuantConfig config, List<double[]> calibration) {
        PassContext ctx = new PassContext();
        Graph folded = new FoldBatchNorm().run(original, ctx);
        QuantizedGraph q = new Quantize(config).run(folded, calibration, ctx);
        return new Result(original, folded, q, ctx);
    }
}
