package io.streamfold.cli;

import io.streamfold.hw.ParallelismPlan;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantErrorReport;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.sim.Stimulus;
import io.streamfold.compile.Pipeline;
import io.streamfold.flow.Converter;
import io.streamfold.flow.OutputFolder;
import io.streamfold.ir.Diagnostic;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code streamfold batch DIR|FILE|GLOB...}: {@code convert} for many models at once, on a bounded
 * pool of threads, each model into {@code OUTROOT/<name>/}; one model failing never stops the others.
 *
 * <p>The exit code is that of the worst model, in this order of precedence: 4 (a model hit an
 * internal error: a bug must not hide behind a user error), 3 (a model is bad input), 2 (an output
 * folder exists and {@code --force} was not given, as for {@code convert}), 1 (verification failed:
 * the simulator differs from the integer reference, or top-1 agreement is under
 * {@code --min-agreement}), 0. The order is also the numeric order, so it is the maximum.
 */
@Command(name = "batch", mixinStandardHelpOptions = true,
        description = {"Converts many models in parallel (as convert does), each into OUTROOT/<model>/, and prints a summary table.",
                       "A folder stands for every model below it (.onnx, streamfold .json, Keras .keras, full-model .h5 and "
                       + "architecture .json with its <stem>_weights.h5); patterns (examples/*/model.onnx, "
                       + "models/**.onnx) are expanded relative to the working directory, in sorted order."},
        exitCodeListHeading = "%nExit codes (the worst model decides; listed by precedence):%n",
        exitCodeList = {
            "4:a model failed with an internal error (details written to a file named in its error)",
            "3:a model is bad input (unreadable/corrupt model, unsupported op, bad weights, bad data file)",
            "2:usage error, or an output folder exists and --force was not given",
            "1:verification failed (simulator differs from the integer reference, or agreement under --min-agreement)",
            "0:every model converted (and verified)"})
final class BatchCommand implements Callable<Integer> {

    /** How one model ended; {@code code} is its exit code. */
    enum Status {
        OK(ExitCodes.OK, "ok"),
        VERIFY_FAILED(ExitCodes.VERIFY_FAILED, "failed: verify"),
        EXISTS(ExitCodes.USAGE, "failed: exists"),
        BAD_INPUT(ExitCodes.BAD_INPUT, "failed: "),
        INTERNAL(ExitCodes.INTERNAL, "failed: internal");

        final int code;
        final String label;

        Status(int code, String label) {
            this.code = code;
            this.label = label;
        }
    }

    /**
     * One model's result. {@code reason} is one line (null if ok); hardware figures are null when
     * the model did not convert, {@code agreement}/{@code maxAbsError} when it was not verified.
     */
    record Result(BatchInputs.Entry entry, Status status, String diagnostic, String reason, Path dir, Integer multipliers, Long ii,
                  Long latency, Double agreement, Double maxAbsError, double seconds) {

        String statusText() {
            return status == Status.BAD_INPUT ? status.label + diagnostic : status.label;
        }
    }

    /** What every model shares: the options, resolved once so that a bad option is one error, not one per model. */
    private record Settings(QuantConfig quant, ParallelismPlan plan, Stimulus stimulus) {
    }

    enum Progress { AUTO, BAR, PLAIN }

    @Spec
    CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "DIR|FILE|GLOB", description = "models: folders, files or glob patterns")
    List<String> inputs;

    @Option(names = {"-o", "--output"}, paramLabel = "OUTROOT", description = "root of the output folders (default: ${DEFAULT-VALUE})",
            defaultValue = "verilog-out")
    Path outputRoot;

    @Option(names = {"-j", "--jobs"}, paramLabel = "N", converter = OptionTypes.Positive.class, description = "models converted at the same time (default: the number of processors)")
    Integer jobs;

    @Option(names = "--force", description = "replace existing output folders")
    boolean force;

    @Option(names = "--tb-count", paramLabel = "N", converter = OptionTypes.Positive.class, description = "inferences in each testbench, from the calibration data (default ${DEFAULT-VALUE})",
            defaultValue = "4")
    int tbCount;

    @Option(names = "--verify", description = "check the simulator against the integer reference on the testbench inputs, and measure "
            + "float-vs-fixed top-1 agreement and max |error| on inputs.npy beside the model (else the calibration data)")
    boolean verify;

    @Option(names = "--verify-count", paramLabel = "N", converter = OptionTypes.Positive.class, description = "samples measured by --verify (default ${DEFAULT-VALUE})", defaultValue = "100")
    int verifyCount;

    @Option(names = "--min-agreement", paramLabel = "F", converter = OptionTypes.Fraction.class, description = "with --verify (implied): fail a model whose top-1 agreement is under F, a fraction, e.g. 0.95")
    Double minAgreement;

    @Option(names = "--progress", paramLabel = "MODE", description = "auto (a bar on a terminal, else plain lines), bar or plain (default ${DEFAULT-VALUE})",
            defaultValue = "auto")
    Progress progress;

    @Mixin
    ModelOptions models;

    @Mixin
    QuantOptions quant;

    @Mixin
    HardwareOptions hardware;

    @Override
    public Integer call() throws Exception {
        CommandLine cl = spec.commandLine();
        int n = jobs == null ? Runtime.getRuntime().availableProcessors() : jobs;
        if (n < 1) {
            throw new CommandLine.ParameterException(cl, "-j must be >= 1");
        }
        if (tbCount < 1 || verifyCount < 1) {
            throw new CommandLine.ParameterException(cl, "--tb-count and --verify-count must be >= 1");
        }
        if (minAgreement != null && !(minAgreement >= 0 && minAgreement <= 1)) {
            throw new CommandLine.ParameterException(cl, "--min-agreement is a fraction in [0, 1], e.g. 0.95");
        }
        if (models.weights != null) {
            throw new CommandLine.ParameterException(cl, "--weights names the weights of one model; batch reads <stem>_weights.h5 beside "
                    + "each Keras architecture .json");
        }
        boolean check = verify || minAgreement != null;
        Settings settings = new Settings(quant.config(), hardware.plan(), hardware.stimulus());

        BatchInputs.Expansion ex = BatchInputs.expand(inputs, Path.of(""), outputRoot);
        PrintWriter err = cl.getErr();
        for (String u : ex.unmatched()) {
            err.println("warning: " + u + ": no model found (folders are searched for .onnx, .json, .h5 and .keras models)");
        }
        List<BatchInputs.Entry> entries = ex.entries();
        if (entries.isEmpty()) {
            throw new CommandLine.ParameterException(cl, "no models found in " + String.join(" ", inputs));
        }

        boolean bar = progress == Progress.BAR || progress == Progress.AUTO && System.console() != null;
        BatchProgress p = new BatchProgress(err, bar, entries.size());
        List<Result> results = new ArrayList<>();
        AtomicInteger threadNo = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(n, entries.size()), r -> {
            Thread t = new Thread(r, "streamfold-batch-" + threadNo.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<Result>> futures = new ArrayList<>();
            for (BatchInputs.Entry e : entries) {
                futures.add(pool.submit(() -> {
                    p.started(e.name());
                    Result r = convertOne(e, settings, check);
                    p.finished(e.name(), r.status() == Status.OK, progressLine(r));
                    return r;
                }));
            }
            for (int i = 0; i < futures.size(); i++) {
                try {
                    results.add(futures.get(i).get());
                } catch (ExecutionException e) {
                    // convertOne catches everything; this is only a safety net
                    results.add(failed(entries.get(i), Status.INTERNAL, null, internalLine(e.getCause()), 0));
                }
            }
        } finally {
            pool.shutdownNow();
            p.close();
        }

        PrintWriter out = cl.getOut();
        out.print(table(results, check));
        out.flush();
        return exitCode(results);
    }

    /** The code of the worst model: 4 internal > 3 bad input > 2 folder exists > 1 verification > 0. */
    static int exitCode(List<Result> results) {
        return results.stream().mapToInt(r -> r.status().code).max().orElse(ExitCodes.OK);
    }

    /** Converts (and verifies) one model; never throws. */
    private Result convertOne(BatchInputs.Entry e, Settings s, boolean check) {
        long t0 = System.nanoTime();
        Path dir = outputRoot.resolve(e.name());
        try {
            if (!dir.toAbsolutePath().normalize().startsWith(outputRoot.toAbsolutePath().normalize())) {
                throw new IllegalStateException("output folder " + dir + " is outside " + outputRoot); // names are sanitized: a bug
            }
            List<Path> inputs = new ArrayList<>(List.of(e.file()));
            inputs.addAll(quant.inputs(e.file()));
            inputs.addAll(hardware.inputs());
            OutputFolder.check(dir, force, inputs);
            Graph g = models.load(e.file());
            List<double[]> calib = quant.calibration(e.file(), g, models.dataLayout);
            List<double[]> tb = calib.subList(0, Math.min(tbCount, calib.size()));
            Converter.Outcome o = Converter.build(Pipeline.compile(g, new Pipeline.Settings(s.quant(), s.plan(), hardware.dspBudget, hardware.target), calib),
                    calib, tb, s.stimulus());
            Map<String, String> files = new LinkedHashMap<>(o.files());
            files.put(ConvertCommand.SOURCE_FILE, quant.sourceJson(e.file(), models));
            Integer mults = o.design().multipliers();
            Long ii = (long) o.design().initiationInterval();
            Long latency = o.timing().latency();
            if (!check) {
                OutputFolder.write(dir, files, force, inputs);
                return new Result(e, Status.OK, null, null, dir, mults, ii, latency, null, null, seconds(t0));
            }
            QuantizedGraph q = o.compiled().quantized();
            String mismatch = simulatorMismatch(q, tb, o, s.plan().argmax());
            Path sibling = e.file().toAbsolutePath().getParent().resolve("inputs.npy");
            List<double[]> data = Files.exists(sibling) ? models.samples(sibling, g) : calib;
            QuantErrorReport rep = QuantErrorReport.measure(q, data.subList(0, Math.min(verifyCount, data.size())));
            double agreement = rep.top1Agreement();
            double maxErr = rep.layers().get(rep.layers().size() - 1).maxAbsError();
            String why = mismatch;
            if (why == null && minAgreement != null && !(agreement >= minAgreement)) {
                why = String.format(Locale.ROOT, "top-1 agreement %.2f%% is under --min-agreement %.2f%%", 100 * agreement, 100 * minAgreement);
            }
            if (why != null) {
                // A model reported as failed leaves no folder behind (convert it alone to inspect it).
                return new Result(e, Status.VERIFY_FAILED, null, why + "; nothing written", null, mults, ii, latency, agreement, maxErr,
                        seconds(t0));
            }
            OutputFolder.write(dir, files, force, inputs);
            return new Result(e, Status.OK, null, null, dir, mults, ii, latency, agreement, maxErr, seconds(t0));
        } catch (ModelException me) {
            ModelException m = me.inFile(e.file().toString());
            return failed(e, Status.BAD_INPUT, m.id() == null ? "input" : m.id().name(), m.getMessage(), t0);
        } catch (OutputFolder.Refused x) {
            return failed(e, Status.EXISTS, null, x.getMessage(), t0);
        } catch (IOException x) {
            return failed(e, Status.BAD_INPUT, Diagnostic.SF_IO.name(), ErrorHandler.ioLine(x).substring("error: ".length()), t0);
        } catch (OutOfMemoryError x) {
            return failed(e, Status.INTERNAL, null, "out of memory (use fewer -j, or give Java more memory with STREAMFOLD_JAVA_OPTS=-Xmx8g)", t0);
        } catch (Throwable t) { // one model's bug must not stop the others
            return failed(e, Status.INTERNAL, null, internalLine(t), t0);
        }
    }

    /** Null if the cycle-accurate simulator gave the integer reference's output for every testbench input. */
    private static String simulatorMismatch(QuantizedGraph q, List<double[]> tb, Converter.Outcome o, boolean argmax) {
        for (int i = 0; i < tb.size(); i++) {
            long[] want = IntegerInterpreter.run(q, IntegerInterpreter.quantizeInput(q, tb.get(i)));
            if (argmax) {
                want = new long[] {QuantErrorReport.argmax(want)};
            }
            if (!Arrays.equals(want, o.sim().outputs().get(i))) {
                return "simulator output of testbench sample " + i + " differs from the integer reference";
            }
        }
        return null;
    }

    private static String internalLine(Throwable t) {
        String msg = String.valueOf(t).lines().findFirst().orElse("");
        return "internal error: " + msg + " (details in " + ErrorHandler.writeDetails(t) + ")";
    }

    static Result failed(BatchInputs.Entry e, Status s, String diagnostic, String reason, long t0) {
        return new Result(e, s, diagnostic, reason.lines().findFirst().orElse(""), null, null, null, null, null, null,
                t0 == 0 ? 0 : seconds(t0));
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    private static String progressLine(Result r) {
        if (r.status() == Status.OK) {
            return String.format(Locale.ROOT, "ok %s %.1fs", r.entry().name(), r.seconds());
        }
        return (r.status() == Status.VERIFY_FAILED ? "VERIFY FAILED " : "FAILED ") + r.entry().name() + ": " + r.reason();
    }

    /** The summary: one row per model in input order, then the reasons of the failures. No timings, so runs compare equal. */
    static String table(List<Result> results, boolean verified) {
        int nw = "model".length();
        int sw = "status".length();
        for (Result r : results) {
            nw = Math.max(nw, r.entry().name().length());
            sw = Math.max(sw, r.statusText().length());
        }
        String fmt = "%-" + nw + "s  %-" + sw + "s  %6s  %8s  %8s  %-28s  %s%n";
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, fmt, "model", "status", "mults", "II", "latency",
                verified ? "float vs fixed (top-1, max|e|)" : "error", "output"));
        for (Result r : results) {
            String error = r.agreement() == null ? "-"
                    : String.format(Locale.ROOT, "%.2f%%, %.4g", 100 * r.agreement(), r.maxAbsError());
            sb.append(String.format(Locale.ROOT, fmt, r.entry().name(), r.statusText(), dash(r.multipliers()), dash(r.ii()),
                    dash(r.latency()), error, r.dir() == null ? "-" : r.dir().toString()));
        }
        long bad = results.stream().filter(r -> r.status() != Status.OK).count();
        sb.append(String.format(Locale.ROOT, "%d models: %d ok, %d failed%n", results.size(), results.size() - bad, bad));
        for (Result r : results) {
            if (r.status() != Status.OK) {
                sb.append("  ").append(r.entry().name()).append(": ").append(r.reason()).append('\n');
            }
        }
        return sb.toString();
    }

    private static String dash(Object o) {
        return o == null ? "-" : o.toString();
    }
}
