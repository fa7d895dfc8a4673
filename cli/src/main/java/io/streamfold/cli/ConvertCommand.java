package io.streamfold.cli;

import io.streamfold.hw.LowerToHardware;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.IoErrors;
import io.streamfold.ir.ModelException;
import io.streamfold.compile.MixedPrecision;
import io.streamfold.compile.Pipeline;
import io.streamfold.quant.QuantConfig;
import io.streamfold.flow.Converter;
import io.streamfold.flow.OutputFolder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code streamfold convert MODEL}: RTL, ROMs, testbench, run scripts and report in one folder. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = "Compiles a model to Verilog: writes the RTL, .mem ROMs, a self-checking testbench, run scripts and report.json.")
final class ConvertCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "a model: .onnx, streamfold .json, or Keras (.h5, .keras, architecture .json)")
    Path model;

    @Option(names = {"-o", "--output"}, paramLabel = "DIR", description = "output folder (default: verilog-out/<model-name>)")
    Path output;

    @Option(names = "--force", description = "replace an existing output folder that streamfold wrote (never anything else)")
    boolean force;

    @Option(names = "--tb-inputs", paramLabel = "DATA", description = "inputs for the testbench vectors (default: the calibration data)")
    Path tbInputs;

    @Option(names = "--tb-count", paramLabel = "N", converter = OptionTypes.Positive.class,
            description = "inferences in the testbench, >= 1 (default ${DEFAULT-VALUE})", defaultValue = "4")
    int tbCount;

    @Mixin
    ModelOptions models;

    @Mixin
    QuantOptions quant;

    @Mixin
    HardwareOptions hardware;

    @Mixin
    TargetOptions targets;

    /** Where convert records the model and quantization settings, so {@code simulate DIR} can rebuild the design. */
    static final String SOURCE_FILE = "source.json";

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        targets.check(quant);
        Graph g = models.load(model);
        Path dir = output != null ? output : Path.of("verilog-out", LowerToHardware.topName(g.name()));
        List<Path> inputs = new ArrayList<>(List.of(model));
        inputs.addAll(quant.inputs(model));
        inputs.addAll(hardware.inputs());
        inputs.addAll(models.inputs());
        if (tbInputs != null) {
            inputs.add(tbInputs);
        }
        // Refuse before compiling: a refusal should not cost a conversion.
        OutputFolder.check(dir, force, inputs);
        Converter.Outcome o;
        MixedPrecision.Result mp = null;
        try {
            List<double[]> calib = quant.calibration(model, g, models.dataLayout);
            List<double[]> tb = tbInputs != null ? models.samples(tbInputs, g) : calib;
            tb = tb.subList(0, Math.min(tbCount, tb.size()));
            QuantConfig qc = quant.config();
            if (targets.active()) {
                mp = targets.search(g, hardware.settings(qc), calib);
                qc = TargetOptions.apply(qc, mp);
            }
            o = Converter.build(Pipeline.compile(g, hardware.settings(qc), calib), calib, tb, hardware.stimulus());
            Map<String, String> files = new LinkedHashMap<>(o.files());
            if (mp != null) {
                // The folder rebuilds (simulate DIR) from the widths it holds, not by searching again.
                files.put(TargetOptions.CONFIG_FILE, mp.overridesJson());
                files.put(SOURCE_FILE, quant.sourceJson(model, models, dir.resolve(TargetOptions.CONFIG_FILE)));
            } else {
                files.put(SOURCE_FILE, quant.sourceJson(model, models));
            }
            OutputFolder.write(dir, files, force, inputs);
        } catch (ModelException e) {
            throw e.inFile(model.toString());
        } catch (OutputFolder.Refused e) {
            throw e;
        } catch (IOException e) {
            throw new ModelException(Diagnostic.SF_IO, dir.toString(), null, "cannot write the output folder: " + IoErrors.reason(e), null);
        }
        if (mp != null) {
            targets.print(out, o.compiled().folded(), mp);
            String wrote = targets.write(mp);
            if (wrote != null) {
                out.println(wrote);
            }
        }
        out.printf("wrote %s: %d files, top module %s%n", dir, o.files().size(), o.design().name());
        out.printf("  %d stages, %d multipliers (%d DSP blocks on %s), II %d cycles, latency %d cycles (simulated)%n",
                o.design().stages().size(), o.design().multipliers(), o.compiled().target().dspBlocks(o.design()), o.compiled().target().name(),
                o.design().initiationInterval(), o.timing().latency());
        out.printf("  run the testbench: make -C %s icarus   (or: make -C %s verilator)%n", dir, dir);
        out.flush();
        return ExitCodes.OK;
    }
}
