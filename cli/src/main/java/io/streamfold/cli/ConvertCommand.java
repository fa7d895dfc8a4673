package io.streamfold.cli;

import io.streamfold.hw.LowerToHardware;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.compile.Pipeline;
import io.streamfold.flow.Converter;
import io.streamfold.flow.OutputFolder;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Path;
import java.util.List;
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

    @Option(names = "--force", description = "replace an existing output folder")
    boolean force;

    @Option(names = "--tb-inputs", paramLabel = "DATA", description = "inputs for the testbench vectors (default: the calibration data)")
    Path tbInputs;

    @Option(names = "--tb-count", paramLabel = "N", description = "inferences in the testbench (default ${DEFAULT-VALUE})", defaultValue = "4")
    int tbCount;

    @Mixin
    ModelOptions models;

    @Mixin
    QuantOptions quant;

    @Mixin
    HardwareOptions hardware;

    /** Where convert records the model and quantization settings, so {@code simulate DIR} can rebuild the design. */
    static final String SOURCE_FILE = "source.json";

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Graph g = models.load(model);
        Path dir = output != null ? output : Path.of("verilog-out", LowerToHardware.verilogName(g.name()));
        Converter.Outcome o;
        try {
            List<double[]> calib = quant.calibration(model, g, models.dataLayout);
            List<double[]> tb = tbInputs != null ? models.samples(tbInputs, g) : calib;
            if (tbCount < 1) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--tb-count must be >= 1");
            }
            tb = tb.subList(0, Math.min(tbCount, tb.size()));
            o = Converter.build(Pipeline.compile(g, hardware.settings(quant.config()), calib), calib, tb, hardware.stimulus());
            java.util.Map<String, String> files = new java.util.LinkedHashMap<>(o.files());
            files.put(SOURCE_FILE, quant.sourceJson(model, models));
            OutputFolder.write(dir, files, force);
        } catch (ModelException e) {
            throw e.inFile(model.toString());
        } catch (FileAlreadyExistsException e) {
            spec.commandLine().getErr().println("error: " + dir + ": output folder exists (use --force to replace it)");
            return ExitCodes.USAGE;
        }
        out.printf("wrote %s: %d files, top module %s%n", dir, o.files().size(), o.design().name());
        out.printf("  %d stages, %d multipliers, II %d cycles, latency %d cycles (simulated)%n", o.design().stages().size(),
                o.design().multipliers(), o.design().initiationInterval(), o.timing().latency());
        out.printf("  run the testbench: make -C %s icarus   (or: make -C %s verilator)%n", dir, dir);
        out.flush();
        return ExitCodes.OK;
    }
}
