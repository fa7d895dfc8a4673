package io.streamfold.cli;

import io.streamfold.compile.Pipeline;
import io.streamfold.hw.DeviceTarget;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.quant.QuantConfig;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;
import io.streamfold.sim.Stimulus;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/** Parallelism and stimulus options shared by the commands that build hardware. */
final class HardwareOptions {

    @Option(names = "--fold", paramLabel = "NODE=PExSIMD", description = "lanes of one layer, e.g. --fold /0/Gemm=4x8 (repeatable)")
    List<String> folds = new ArrayList<>();

    @Option(names = "--input-elems", paramLabel = "N", description = "elements per s_axis beat (default ${DEFAULT-VALUE})", defaultValue = "1")
    int inputElems;

    @Option(names = "--fifo-depth", paramLabel = "N", description = "FIFO depth between stages (default ${DEFAULT-VALUE})", defaultValue = "2")
    int fifoDepth;

    @Option(names = "--dsp-budget", paramLabel = "N", description = "plan PE/SIMD automatically for at most N multipliers")
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
    java.nio.file.Path config;

    @Option(names = "--argmax", description = "append an argmax head: output the index of the largest element")
    boolean argmax;

    @Option(names = "--seed", description = "seed of the testbench's gap/backpressure pattern (default ${DEFAULT-VALUE})", defaultValue = "1")
    long seed;

    @Option(names = "--gaps", paramLabel = "P", description = "probability of an idle input cycle (default ${DEFAULT-VALUE})", defaultValue = "0.2")
    double gaps;

    @Option(names = "--stalls", paramLabel = "P", description = "probability of output backpressure in a cycle (default ${DEFAULT-VALUE})", defaultValue = "0.2")
    double stalls;

    ParallelismPlan plan() {
        ParallelismPlan p = new ParallelismPlan(java.util.Map.of(), inputElems, fifoDepth);
        if (config != null) {
            try {
                p = ParallelismPlan.fromJson(java.nio.file.Files.readString(config));
            } catch (java.io.IOException e) {
                throw new ModelException(Diagnostic.SF_BAD_PLAN, config.toString(), null, "cannot read the plan: " + e.getMessage(), null);
            } catch (ModelException e) {
                throw e.inFile(config.toString());
            }
        }
        p = p.withArgmax(argmax || p.argmax());
        for (String f : folds) {
            int eq = f.lastIndexOf('=');
            String[] lanes = eq < 0 ? new String[0] : f.substring(eq + 1).toLowerCase(java.util.Locale.ROOT).split("x");
            if (lanes.length != 2) {
                throw new ModelException(Diagnostic.SF_BAD_PLAN, null, "--fold " + f + " is not NODE=PExSIMD", "e.g. --fold /0/Gemm=4x8");
            }
            try {
                p = p.with(f.substring(0, eq), Integer.parseInt(lanes[0]), Integer.parseInt(lanes[1]));
            } catch (NumberFormatException e) {
                throw new ModelException(Diagnostic.SF_BAD_PLAN, null, "--fold " + f + " is not NODE=PExSIMD", "e.g. --fold /0/Gemm=4x8");
            }
        }
        return p;
    }

    /** The compile settings these options give with {@code quant}. */
    Pipeline.Settings settings(QuantConfig quant) {
        return new Pipeline.Settings(quant, plan(), dspBudget, target);
    }

    Stimulus stimulus() {
        try {
            return new Stimulus(seed, gaps, stalls);
        } catch (IllegalArgumentException e) {
            throw new ModelException(Diagnostic.SF_BAD_PLAN, null, "--gaps and --stalls must be in [0, 1)", null);
        }
    }
}
