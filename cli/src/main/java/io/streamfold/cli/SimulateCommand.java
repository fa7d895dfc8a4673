package io.streamfold.cli;

import io.streamfold.compile.Pipeline;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.Stage;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.quant.QuantErrorReport;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.sim.CycleSimulator;
import io.streamfold.sim.Stimulus;
import io.streamfold.sim.VcdWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code streamfold simulate MODEL --input FILE}: the cycle-accurate simulator on given inputs. */
@Command(name = "simulate", mixinStandardHelpOptions = true,
        description = "Runs the cycle-accurate simulator of the generated hardware; prints outputs, latency, II and stage utilization.")
final class SimulateCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL|DIR",
            description = "a model (.onnx, streamfold .json, Keras .h5/.keras/architecture .json), or a folder written by convert (same model, "
                    + "formats and plan)")
    Path model;

    @Option(names = "--input", paramLabel = "FILE", required = true, description = "inputs (.npy or .csv, one sample per row, in the model's own input layout or --data-layout)")
    Path input;

    @Option(names = "--limit", paramLabel = "N", converter = OptionTypes.Positive.class,
            description = "simulate at most N samples, >= 1 (default ${DEFAULT-VALUE})", defaultValue = "16")
    int limit;

    @Option(names = "--vcd", paramLabel = "FILE", description = "write a VCD of the top-level streams")
    Path vcd;

    @Option(names = "--vcd-stages", description = "also trace every FIFO's occupancy and every stage's fire signal")
    boolean vcdStages;

    @Option(names = "--stress", description = "apply the random input gaps and output backpressure of --gaps/--stalls "
            + "(by default the source never pauses and the sink is always ready, as latency and II are defined)")
    boolean stress;

    @Mixin
    ModelOptions models;

    @Mixin
    QuantOptions quant;

    @Mixin
    HardwareOptions hardware;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        // a folder's memory choices (weights in SPRAM, unbuffered inputs) follow its device
        io.streamfold.hw.DeviceTarget placement = null;
        if (Files.isDirectory(model)) {
            Path dir = model;
            Path source = dir.resolve(ConvertCommand.SOURCE_FILE);
            if (!Files.isRegularFile(source)) {
                throw new ModelException(io.streamfold.ir.Diagnostic.SF_BAD_DATA, dir.toString(), null, "not a folder written by convert",
                        "give a model file, or a folder holding source.json and plan.json");
            }
            model = quant.fromSourceJson(source, models);
            hardware.config = dir.resolve("plan.json");
            hardware.dspBudget = 0;
            Path report = dir.resolve("report.json");
            if (Files.isRegularFile(report)) {
                try {
                    placement = io.streamfold.hw.DeviceTarget.of(new com.fasterxml.jackson.databind.ObjectMapper().readTree(report.toFile())
                            .path("target").asText("generic"));
                } catch (IOException | ModelException e) {
                    throw new ModelException(io.streamfold.ir.Diagnostic.SF_BAD_DATA, report.toString(), null, "unreadable report: "
                            + e.getMessage(), null);
                }
            }
        }
        if (vcd != null) {
            List<Path> inputs = new ArrayList<>(List.of(model, input));
            inputs.addAll(quant.inputs(model));
            inputs.addAll(hardware.inputs());
            for (Path in : inputs) {
                if (Files.exists(vcd) && Files.exists(in) && Files.isSameFile(vcd, in)) {
                    // writing the VCD would destroy an input of this very run
                    throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--vcd " + vcd + " is an input of this run (" + in + ")");
                }
            }
        }
        Graph g = models.load(model);
        QuantizedGraph q;
        HwDesign d;
        List<double[]> xs;
        io.streamfold.hw.ParallelismPlan plan;
        try {
            Pipeline.Result c = Pipeline.compile(g, hardware.settings(quant.config()), quant.calibration(model, g, models.dataLayout));
            q = c.quantized();
            plan = c.plan();
            d = c.design();
            if (placement != null) {
                // the plan is the folder's (no budget, so the generic target); where memories live is its device's
                d = io.streamfold.hw.PlaceWeights.run(d, placement, c.context());
            }
            xs = models.samples(input, g);
        } catch (ModelException e) {
            throw e.inFile(model.toString());
        }
        xs = xs.subList(0, Math.min(limit, xs.size()));
        List<long[]> ints = new ArrayList<>();
        for (double[] x : xs) {
            ints.add(IntegerInterpreter.quantizeInput(q, x));
        }
        Stimulus stim = stress ? hardware.stimulus() : Stimulus.ideal();
        CycleSimulator.Result r;
        if (vcd != null) {
            try (Writer w = Files.newBufferedWriter(vcd)) {
                r = CycleSimulator.run(d, ints, stim, new VcdWriter(w), vcdStages);
            } catch (IOException | UncheckedIOException e) {
                IOException cause = e instanceof UncheckedIOException u ? u.getCause() : (IOException) e;
                if (Files.isRegularFile(vcd)) {
                    Files.delete(vcd); // half a VCD is no use (a device such as /dev/full is left alone)
                }
                throw new ModelException(io.streamfold.ir.Diagnostic.SF_IO, vcd.toString(), null, "cannot write the VCD: "
                        + io.streamfold.ir.IoErrors.reason(cause), null);
            }
        } else {
            r = CycleSimulator.run(d, ints, stim);
        }
        for (int i = 0; i < r.outputs().size(); i++) {
            if (plan.argmax()) {
                out.printf("sample %d: class %d  (argmax head)%n", i, r.outputs().get(i)[0]);
                continue;
            }
            double[] y = g.toModelOutput(IntegerInterpreter.dequantize(q.outputFormat(), r.outputs().get(i)));
            StringBuilder sb = new StringBuilder();
            for (double v : y) {
                sb.append(sb.length() > 0 ? " " : "").append(String.format(Locale.ROOT, "%.4g", v));
            }
            out.printf("sample %d: class %d  [%s]%n", i, QuantErrorReport.argmax(y), sb);
        }
        String ii = r.measuredInterval() < 0 ? "II not measured (needs 2 or more samples; schedule " + d.initiationInterval() + ")"
                : "II " + r.measuredInterval() + " cycles (schedule " + d.initiationInterval() + ")";
        out.printf("latency %d cycles, %s, %d cycles for %d samples%n", r.latency(), ii, r.cycles(), xs.size());
        for (Stage s : d.stages()) {
            out.printf(Locale.ROOT, "  %-32s busy %5.1f%%  (%d cycles per inference, %d multipliers)%n", s.name(),
                    100.0 * r.fires().get(s.name()) / r.cycles(), s.cycles(), s.multipliers());
        }
        if (vcd != null) {
            out.println("wrote " + vcd);
        }
        out.flush();
        return ExitCodes.OK;
    }
}
