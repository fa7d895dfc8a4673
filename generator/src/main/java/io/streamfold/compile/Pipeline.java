package io.streamfold.compile;

import io.streamfold.hw.DeviceTarget;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.hw.PlaceWeights;
import io.streamfold.hw.PlanParallelism;
import io.streamfold.hw.Polyphase;
import io.streamfold.ir.Graph;
import io.streamfold.passes.FoldBatchNorm;
import io.streamfold.passes.PassContext;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.Quantize;
import io.streamfold.quant.QuantizedGraph;

import java.util.List;

/**
 * The compiler's steps in order, and the one place that runs them: every command, the bench and
 * the tests compile through {@link #compile} (or stop early with {@link #fold} or
 * {@link #quantize}). Shapes are inferred whenever a graph is built, so every step starts from a
 * verified graph.
 *
 * <pre>
 *   import             frontend (ONNX or JSON) -> graph IR, float, as in the source model
 *   fold-batchnorm     BN folded into Conv/Dense in float64 (before quantizing: no double rounding)
 *   quantize           calibrate on float values of the folded graph, choose formats, integer params
 *   plan-parallelism   only with a DSP budget: PE/SIMD per layer and the input beat width
 *   lower-to-hardware  stages, channels, ROMs and schedules: the hardware IR both back ends read
 * </pre>
 */
public final class Pipeline {

    /** Stable step names, in order (for reports and {@code --dump-after}). */
    public static final List<String> STEPS = List.of("import", FoldBatchNorm.NAME, Quantize.NAME, PlanParallelism.NAME,
            LowerToHardware.NAME);

    private Pipeline() {
    }

    /**
     * What to build.
     *
     * @param quant      quantization settings
     * @param plan       the parallelism plan; with a budget, only its FIFO depth and argmax head are kept
     * @param dspBudget  if positive, {@link PlanParallelism} chooses the folds and input width for
     *                   at most this many DSP blocks, counted as the target's synthesis spends them
     *                   ({@link DeviceTarget#dspMapping()}); if not, and the target has a known number
     *                   of DSP blocks, for at most that many
     * @param target     the device: its DSP blocks bound the planner, its memories must hold the constants
     */
    public record Settings(QuantConfig quant, ParallelismPlan plan, int dspBudget, DeviceTarget target) {
        /** Settings for no particular device. */
        public Settings(QuantConfig quant, ParallelismPlan plan, int dspBudget) {
            this(quant, plan, dspBudget, DeviceTarget.GENERIC);
        }

        /** One lane per layer, no budget. */
        public static Settings serial(QuantConfig quant) {
            return new Settings(quant, ParallelismPlan.serial(), 0);
        }

        /**
         * The DSP budget the planner gets, 0 for none: {@code --dsp-budget} caps the device's DSP
         * blocks (a budget above them would plan a design that cannot be placed), the device's count
         * without it. A device without DSP blocks (HX8K) or without a bound (generic) takes the
         * budget as given.
         */
        public int budget() {
            if (dspBudget <= 0) {
                return Math.max(0, target.dsps());
            }
            return target.dsps() > 0 ? Math.min(dspBudget, target.dsps()) : dspBudget;
        }
    }

    /**
     * Everything the compiler produced, with the counters and notes of every pass. A result of
     * {@link #fold} has no quantized graph, plan or design; one of {@link #quantize} has no plan
     * or design.
     */
    public record Result(Graph original, Graph folded, QuantizedGraph quantized, ParallelismPlan plan, HwDesign design,
                         DeviceTarget target, PassContext context) {
    }

    /** All steps: folds, quantizes on {@code calibration} (flat channels-first samples), plans and lowers. */
    public static Result compile(Graph original, Settings settings, List<double[]> calibration) {
        return lower(quantize(original, settings.quant(), calibration), settings);
    }

    /** Folds BatchNorm only. */
    public static Result fold(Graph original) {
        PassContext ctx = new PassContext();
        // The frontend's decisions (exporter habits read as what they mean) are the import step's notes.
        for (String note : original.source().notes()) {
            int colon = note.indexOf(": ");
            ctx.note(STEPS.get(0), colon < 0 ? "" : note.substring(0, colon), colon < 0 ? note : note.substring(colon + 2));
            ctx.count(STEPS.get(0), "notes");
        }
        Graph folded = new FoldBatchNorm().run(original, ctx);
        return new Result(original, folded, null, null, null, null, ctx);
    }

    /** Folds and quantizes. */
    public static Result quantize(Graph original, QuantConfig config, List<double[]> calibration) {
        Result f = fold(original);
        QuantizedGraph q = new Quantize(config).run(f.folded(), calibration, f.context());
        return new Result(original, f.folded(), q, null, null, null, f.context());
    }

    /** The remaining steps of a quantized result: the plan (planned if a budget is given) and the design. */
    public static Result lower(Result quantized, Settings settings) {
        QuantizedGraph q = quantized.quantized();
        ParallelismPlan plan = settings.plan();
        HwDesign design;
        if (settings.budget() > 0) {
            PlanParallelism.Result planned = PlanParallelism.run(q, settings.budget(), plan, settings.target().pipelining(),
                    settings.target().dspMapping());
            plan = planned.plan();
            design = planned.design();
        } else {
            design = LowerToHardware.run(q, plan, settings.target().pipelining());
        }
        Polyphase.note(q, plan, design, settings.budget() > 0, quantized.context());
        design = PlaceWeights.run(design, settings.target(), quantized.context());
        settings.target().checkFits(design);
        return new Result(quantized.original(), quantized.folded(), q, plan, design, settings.target(), quantized.context());
    }
}
