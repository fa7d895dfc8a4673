package io.streamfold.cli;

import io.streamfold.compile.Pipeline;
import io.streamfold.ir.Graph;
import io.streamfold.hw.DeviceTarget;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.PlanParallelism;
import io.streamfold.hw.Stage;
import io.streamfold.passes.FoldBatchNorm;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code streamfold inspect MODEL}: the graph as read, what BN folding did and why, the graph
 * after folding, and the fixed-point format of every value.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Prints the graph before and after BatchNorm folding (which BN went where and why), the fixed-point formats "
                + "and the hardware stages of the parallelism plan.")
final class InspectCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "a model: .onnx, streamfold .json, or Keras (.h5, .keras, architecture .json)")
    Path model;

    @Mixin
    ModelOptions models;

    @Mixin
    QuantOptions quant;

    @Option(names = "--no-quant", description = "stop after folding (no calibration data needed)")
    boolean noQuant;

    @Mixin
    HardwareOptions hardware;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Graph g = models.load(model);
        out.println("== imported");
        out.print(g);
        for (String note : g.source().notes()) {
            out.println("  note: " + note);
        }
        Pipeline.Result r;
        if (noQuant) {
            r = Pipeline.fold(g);
        } else {
            try {
                r = Pipeline.quantize(g, quant.config(), quant.calibration(model, g, models.dataLayout));
            } catch (io.streamfold.ir.ModelException e) {
                throw e.inFile(model.toString());
            }
        }
        out.println("== " + FoldBatchNorm.NAME);
        out.print(FoldBatchNorm.describe(r.context()).indent(2));
        out.print(r.folded());
        if (r.quantized() != null) {
            out.println("== quantize");
            out.println("  calibration: " + r.quantized().calibration());
            out.print(r.quantized());
            try {
                Pipeline.Settings settings = hardware.settings(quant.config());
                DeviceTarget t = settings.target();
                HwDesign d = Pipeline.lower(r, settings).design();
                out.println("== " + LowerToHardware.NAME + (settings.budget() > 0 ? " (planned for " + settings.budget() + " DSP blocks)" : ""));
                out.printf("  %-34s %-14s %-22s %9s %6s %5s%n", "stage", "kind", "lanes", "cycles", "mults", "dsps");
                for (Stage s : d.stages()) {
                    out.printf("  %-34s %-14s %-22s %9d %6d %5d%n", s.name(), s.kind(), s.describeLanes(), s.cycles(), s.multipliers(),
                            t.dspBlocks(s));
                }
                out.printf("  II %d cycles, %d multipliers (%d DSP blocks on %s), %d MACs per inference; s_axis %d x %s per beat, m_axis %d x %s "
                                + "per beat%n", d.initiationInterval(), d.multipliers(), t.dspBlocks(d), t.name(), d.macs(), d.inputChannel().elems(),
                        d.inputFormat(), d.outputChannel().elems(), d.outputFormat());
                for (String note : r.context().notes()) {
                    if (note.startsWith(PlanParallelism.NAME + ": ") || note.startsWith(LowerToHardware.NAME + ": ")) {
                        out.println("  note: " + note);
                    }
                }
            } catch (io.streamfold.ir.ModelException e) {
                if (e.id() == io.streamfold.ir.Diagnostic.SF_BAD_PLAN) {
                    out.flush();
                    throw e.inFile(model.toString()); // a --fold, --plan or budget the user gave does not fit: an error, not a finding
                }
                out.println("== " + LowerToHardware.NAME + ": not possible: " + e.getMessage());
            }
        }
        out.flush();
        return ExitCodes.OK;
    }
}
