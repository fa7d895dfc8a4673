package io.streamfold.cli;

import io.streamfold.compile.Pipeline;
import io.streamfold.hw.DeviceTarget;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.IoErrors;
import io.streamfold.ir.ModelException;
import io.streamfold.quant.QuantConfig;
import io.streamfold.sim.Stimulus;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Parallelism and stimulus options shared by the commands that build hardware. Ranges are checked
 * where the options are parsed ({@link OptionTypes}); whether a fold fits its layer is checked
 * against the model.
 */
final class HardwareOptions {

    @Option(names = "--fold", paramLabel = "NODE=PExSIMD[@P]", converter = OptionTypes.FoldSpec.class,
            description = "lanes of one layer, e.g. --fold /0/Gemm=4x8 (repeatable); @P: a stride-1 conv computes P adjacent "
                    + "output pixels per window, PE and SIMD then count P pixels' channels (e.g. /1/Conv=16x2@2)")
    List<OptionTypes.Fold> folds = new ArrayList<>();

    @Option(names = "--input-elems", paramLabel = "N", converter = OptionTypes.Positive.class,
            description = "elements per s_axis beat, >= 1 (default ${DEFAULT-VALUE})", defaultValue = "1")
    int inputElems;

    @Option(names = "--fifo-depth", paramLabel = "N", converter = OptionTypes.FifoDepth.class,
            description = "FIFO depth between stages, 2.." + ParallelismPlan.MAX_FIFO_DEPTH + " (default ${DEFAULT-VALUE})", defaultValue = "2")
    int fifoDepth;

    @Option(names = "--dsp-budget", paramLabel = "N", converter = OptionTypes.NonNegative.class,
            description = "plan PE/SIMD automatically for at most N DSP blocks, counted as the --target's synthesis spends them "
                    + "(ice40-up5k: SB_MAC16 by operand width; generic, ice40-hx8k: one per multiplier); 0: no planning")
    int dspBudget;

    @Option(names = "--target", paramLabel = "DEVICE", defaultValue = "generic", converter = TargetConverter.class,
            description = "device: ice40-up5k, ice40-hx8k or generic (default ${DEFAULT-VALUE}); its DSP count caps the planner, its memories must hold the weights")
    DeviceTarget target;

    /** {@code --target NAME}: a usage error (exit 2) for an unknown name. */
    static final class TargetConverter implements picocli.CommandLine.ITypeConverter<DeviceTarget> {
        @Override
        public DeviceTarget convert(String value) {
            try {
                return DeviceTarget.of(value);
            } catch (ModelException e) {
                throw new picocli.CommandLine.TypeConversionException(e.reason() + " (" + e.hint() + ")");
            }
        }
    }

    @Option(names = "--plan", paramLabel = "PLAN", description = "a plan.json to apply (as convert writes it); --fold overrides its layers")
    Path config;

    @Option(names = "--argmax", description = "append an argmax head: output the index of the largest element")
    boolean argmax;

    @Option(names = "--seed", description = "seed of the testbench's gap/backpressure pattern (default ${DEFAULT-VALUE})", defaultValue = "1")
    long seed;

    @Option(names = "--gaps", paramLabel = "P", converter = OptionTypes.Probability.class,
            description = "probability of an idle input cycle, 0.." + OptionTypes.MAX_PROBABILITY + " (default ${DEFAULT-VALUE})", defaultValue = "0.2")
    double gaps;

    @Option(names = "--stalls", paramLabel = "P", converter = OptionTypes.Probability.class,
            description = "probability of output backpressure in a cycle, 0.." + OptionTypes.MAX_PROBABILITY + " (default ${DEFAULT-VALUE})",
            defaultValue = "0.2")
    double stalls;

    ParallelismPlan plan() {
        ParallelismPlan p = new ParallelismPlan(java.util.Map.of(), inputElems, fifoDepth);
        if (config != null) {
            try {
                if (Files.isDirectory(config)) {
                    throw new ModelException(Diagnostic.SF_BAD_PLAN, config.toString(), null, "is a folder, not a plan file",
                            "give the plan.json that convert wrote");
                }
                p = ParallelismPlan.fromJson(Files.readString(config));
            } catch (IOException e) {
                throw new ModelException(Diagnostic.SF_BAD_PLAN, config.toString(), null, "cannot read the plan: " + IoErrors.reason(e), null);
            } catch (ModelException e) {
                throw e.inFile(config.toString());
            }
        }
        p = p.withArgmax(argmax || p.argmax());
        for (OptionTypes.Fold f : folds) {
            p = p.with(f.node(), new ParallelismPlan.Fold(f.pe(), f.simd(), f.pixels()));
        }
        return p;
    }

    /** Files these options read (for the output folder's safety checks). */
    List<Path> inputs() {
        return config == null ? List.of() : List.of(config);
    }

    /** The compile settings these options give with {@code quant}. */
    Pipeline.Settings settings(QuantConfig quant) {
        return new Pipeline.Settings(quant, plan(), dspBudget, target);
    }

    Stimulus stimulus() {
        return new Stimulus(seed, gaps, stalls);
    }
}
