package io.streamfold.cli;

import io.streamfold.bound.ErrorBound;
import io.streamfold.bound.InputBox;
import io.streamfold.compile.DataFiles;
import io.streamfold.compile.MixedPrecision;
import io.streamfold.compile.Pipeline;
import io.streamfold.data.NdArray;
import io.streamfold.data.Npy;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.quant.AutoCalibration;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantErrorReport;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.FloatInterpreter;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.sim.CycleSimulator;
import io.streamfold.flow.Cleanup;
import io.streamfold.flow.Converter;
import io.streamfold.flow.Reports;
import io.streamfold.testbench.EdaRunner;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code streamfold verify MODEL}: compares, on a data set, the float64 reference of the original
 * graph, the fixed-point model (integer reference and the cycle-accurate simulator, which must agree
 * bit for bit), ONNX Runtime (for .onnx models, when it loads and accepts the model) and optionally
 * the emitted RTL under Icarus or Verilator.
 *
 * <p>Calibration data: {@code --calib}, else {@code calib.npy} beside the model, else the first half
 * of the inputs (the second half is then what is measured, and one line says so).
 *
 * <p>Per layer it also prints the proved bound on {@code |fixed - float|} ({@link ErrorBound}) over
 * the input box spanned by the calibration and the verified samples.
 *
 * <p>Verdict: exit 1 if the float/fixed top-1 agreement is below {@code --min-agreement}, if a
 * measured per-layer error exceeds its proved bound (a bug in the bound or in the arithmetic), if
 * the simulator differs from the integer reference in any output, or if the RTL testbench fails. ONNX
 * Runtime is informative only: its absence or a difference is reported, never a failure, because it
 * refuses some valid exports and is not the reference the hardware is built from.
 */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = "Compares float reference, fixed-point model, cycle-accurate simulator, ONNX Runtime and (with --rtl) the RTL "
                + "on a data set; exit 1 if they disagree beyond --min-agreement.")
final class VerifyCommand implements Callable<Integer> {

    /** 0.95: the 8-bit examples reach 98-100 %; a drop below 95 % means the formats need attention. */
    static final String DEFAULT_MIN_AGREEMENT = "0.95";

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "a model: .onnx, streamfold .json, or Keras (.h5, .keras, architecture .json)")
    Path model;

    @Option(names = "--inputs", paramLabel = "FILE", description = "test inputs (.npy or .csv, in the model's own input layout "
            + "or --data-layout; default: inputs.npy beside the model)")
    Path inputs;

    @Option(names = "--labels", paramLabel = "FILE", description = "class labels, one per input (default: labels.npy beside the model, if present)")
    Path labels;

    @Option(names = "--rtl", paramLabel = "SIM", description = "also convert to a temporary folder and run the RTL testbench under icarus or verilator")
    String rtl;

    @Option(names = "--min-agreement", paramLabel = "P", defaultValue = DEFAULT_MIN_AGREEMENT, converter = OptionTypes.Fraction.class,
            description = "least fraction of samples whose float and fixed-point top-1 class agree (default ${DEFAULT-VALUE})")
    double minAgreement;

    @Option(names = "--limit", paramLabel = "N", converter = OptionTypes.Positive.class, description = "use at most the first N samples, >= 1 (default: all)")
    Integer limit;

    @Option(names = "--rtl-count", paramLabel = "N", defaultValue = "4", converter = OptionTypes.Positive.class,
            description = "inferences in the RTL testbench (default ${DEFAULT-VALUE})")
    int rtlCount;

    @Option(names = "--dump", paramLabel = "DIR",
            description = "write float.npy (float64 reference of the original model), fixed.npy (dequantized bit-true outputs) and, "
                    + "when ONNX Runtime ran, ort.npy into DIR, each (N, ...) in the model's own output layout")
    Path dump;

    @Option(names = "--json", paramLabel = "FILE",
            description = "also write every figure as JSON (schema streamfold-verify/1, see the README)")
    Path json;

    @Mixin
    ModelOptions models;

    @Mixin
    QuantOptions quant;

    @Mixin
    HardwareOptions hardware;

    @Mixin
    TargetOptions targets;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        CommandLine cl = spec.commandLine();
        if (!(minAgreement >= 0 && minAgreement <= 1)) {
            throw new CommandLine.ParameterException(cl, "--min-agreement must be a fraction in [0, 1], got " + minAgreement);
        }
        if (limit != null && limit < 1) {
            throw new CommandLine.ParameterException(cl, "--limit must be >= 1");
        }
        if (rtlCount < 1) {
            throw new CommandLine.ParameterException(cl, "--rtl-count must be >= 1");
        }
        targets.check(quant);
        EdaRunner.Simulator sim = null;
        if (rtl != null) {
            sim = switch (rtl.toLowerCase(Locale.ROOT)) {
                case "icarus", "iverilog" -> EdaRunner.Simulator.ICARUS;
                case "verilator" -> EdaRunner.Simulator.VERILATOR;
                default -> throw new CommandLine.ParameterException(cl, "--rtl must be icarus or verilator, got " + rtl);
            };
        }

        Graph g = models.load(model);
        Path dir = model.toAbsolutePath().getParent();
        List<double[]> xs;
        int[] ys = null;
        Path inFile = inputs != null ? inputs : dir.resolve("inputs.npy");
        Path labelFile = labels != null ? labels : (Files.exists(dir.resolve("labels.npy")) ? dir.resolve("labels.npy") : null);
        List<double[]> calib;
        Path calibFile;
        int firstMeasured = 0;
        MixedPrecision.Result mp = null;
        Pipeline.Result c;
        HwDesign d;
        ParallelismPlan plan;
        try {
            if (inputs == null && !Files.exists(inFile)) {
                throw new ModelException(Diagnostic.SF_BAD_DATA, model.toString(), null, "no test inputs",
                        "give --inputs FILE (.npy or .csv) or put inputs.npy beside the model");
            }
            xs = models.samples(inFile, g);
            if (labelFile != null) {
                ys = checkedLabels(labelFile, xs.size(), g.outputShape().size(), inFile);
            }
            int all = limit == null ? xs.size() : Math.min(limit, xs.size());
            xs = xs.subList(0, all);
            if (ys != null) {
                ys = Arrays.copyOf(ys, all);
            }
            calibFile = quant.calibrationFile(model);
            if (calibFile != null) {
                calib = DataFiles.samples(calibFile, g, models.dataLayout);
            } else {
                // No calibration data: the first half of the inputs calibrates, the rest is measured.
                if (all < 2) {
                    throw new ModelException(Diagnostic.SF_BAD_DATA, inFile.toString(), null, "no calibration data, and " + all
                            + " input cannot be split into calibration and test samples", "give --calib DATA, or at least 2 inputs");
                }
                firstMeasured = all / 2;
                calib = xs.subList(0, firstMeasured);
                xs = xs.subList(firstMeasured, all);
                if (ys != null) {
                    ys = Arrays.copyOfRange(ys, firstMeasured, all);
                }
            }
            QuantConfig qc = quant.config();
            if (targets.active()) {
                mp = targets.search(g, hardware.settings(qc), calib);
                qc = TargetOptions.apply(qc, mp);
            }
            c = Pipeline.compile(g, hardware.settings(qc), calib);
            plan = c.plan();
            d = c.design();
        } catch (ModelException e) {
            throw e.inFile(model.toString());
        }
        int n = xs.size();
        QuantizedGraph q = c.quantized();
        List<String> failures = new ArrayList<>();
        // every figure printed below, for --json (keys in a fixed order: the schema is documented)
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("schema", "streamfold-verify/1");
        report.put("model", model.toString());
        report.put("samples", n);
        report.put("inputs", inFile.toString());
        report.put("labels", labelFile == null ? null : labelFile.toString());
        // With a target every format comes from the search (which calibrated with one method), not from the compile's calibration.
        String method = mp != null ? "mixed precision, calibrated by " + AutoCalibration.name(mp.calibration()) : q.calibration();
        report.put("calibration", Reports.ordered("file", (calibFile != null ? calibFile : inFile).toString(), "samples", calib.size(),
                "from_inputs", calibFile == null, "first_measured", firstMeasured, "method", method));

        out.printf("verify %s: %d samples from %s%s%n", model, n, inFile, labelFile == null ? ", no labels" : ", labels from " + labelFile);
        if (calibFile != null) {
            out.printf("calibration: %d samples from %s; %s%n", calib.size(), calibFile, method);
        } else {
            out.printf("calibration: no --calib and no calib.npy beside the model: inputs 0-%d calibrate, inputs %d-%d are measured; %s%n",
                    firstMeasured - 1, firstMeasured, firstMeasured + n - 1, method);
        }
        if (mp != null) {
            out.println();
            targets.print(out, c.folded(), mp);
            String wrote = targets.write(mp);
            if (wrote != null) {
                out.println(wrote);
            }
        }

        // 1. per-layer error of the integer model against the float model it quantizes, and its
        // proved bound over the box of the calibration and the verified samples (so that every
        // measured input lies in it): a measured error above its bound is a bug
        QuantErrorReport err = QuantErrorReport.measure(q, xs, ys);
        ErrorBound bound = ErrorBound.analyze(q, InputBox.hull(calib).including(xs));
        out.println();
        out.println("per-layer error, fixed point vs float64 (BN-folded graph; errors accumulate along the graph):");
        out.printf("  %-28s %-14s %-10s %11s %11s %11s %9s %9s%n", "node", "kind", "format", "max |err|", "bound", "rms err", "SQNR dB",
                "saturated");
        List<Map<String, Object>> layers = new ArrayList<>();
        for (QuantErrorReport.LayerError l : err.layers()) {
            ErrorBound.LayerBound b = bound.layer(l.node());
            out.printf(Locale.ROOT, "  %-28s %-14s %-10s %11.4g %10s%s %11.4g %9s %8.2f%%%n", l.node(), l.kind(), l.format(), l.maxAbsError(),
                    Reports.number(b.bound()), b.maySaturate() ? "*" : " ", l.rmsError(),
                    Double.isInfinite(l.sqnrDb()) ? "inf" : String.format(Locale.ROOT, "%.1f", l.sqnrDb()), 100 * l.saturated());
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("node", l.node());
            m.put("kind", l.kind());
            m.put("format", l.format().toString());
            m.put("max_abs_error", l.maxAbsError());
            m.put("rms_error", l.rmsError());
            m.put("sqnr_db", Double.isFinite(l.sqnrDb()) ? l.sqnrDb() : null);
            m.put("saturated", l.saturated());
            m.put("bound", Double.isFinite(b.bound()) ? b.bound() : null);
            m.put("bound_may_saturate", b.maySaturate());
            layers.add(m);
        }
        report.put("layers", layers);
        List<String> violations = bound.violations(err);
        out.printf("bound: proved largest |fixed - float| over the input box (per-element hull of %d calibration and %d verified samples)%s%n",
                calib.size(), n, bound.layers().stream().anyMatch(ErrorBound.LayerBound::maySaturate)
                        ? "; * = the float values may leave the format there, the bound includes saturation" : "");
        if (violations.isEmpty()) {
            out.println("every measured error is within its bound: OK");
        } else {
            for (String v : violations) {
                out.println("bound exceeded: " + v + " (a bug in the bound or in the fixed-point arithmetic): FAIL");
            }
            failures.add("measured error above its proved bound at " + violations.size() + " layer(s), first " + violations.get(0));
        }
        report.put("error_bound", Reports.ordered("calibration_samples", calib.size(), "verified_samples", n, "violations", violations,
                "ok", violations.isEmpty()));

        // 2. the original float graph against the fixed-point outputs
        List<double[]> floatOut = new ArrayList<>();
        List<long[]> intIn = new ArrayList<>();
        List<long[]> intOut = new ArrayList<>();
        double foldDiff = 0;
        for (double[] x : xs) {
            double[] f = FloatInterpreter.run(g, x);
            double[] ff = FloatInterpreter.run(c.folded(), x);
            for (int i = 0; i < f.length; i++) {
                foldDiff = Math.max(foldDiff, Math.abs(f[i] - ff[i]));
            }
            floatOut.add(f);
            long[] xi = IntegerInterpreter.quantizeInput(q, x);
            intIn.add(xi);
            intOut.add(IntegerInterpreter.run(q, xi));
        }
        int agree = 0;
        int floatRight = 0;
        int fixedRight = 0;
        for (int s = 0; s < n; s++) {
            int fa = QuantErrorReport.argmax(floatOut.get(s));
            int ia = QuantErrorReport.argmax(intOut.get(s));
            agree += fa == ia ? 1 : 0;
            if (ys != null) {
                floatRight += fa == ys[s] ? 1 : 0;
                fixedRight += ia == ys[s] ? 1 : 0;
            }
        }
        double agreement = (double) agree / n;
        boolean agreeOk = agreement >= minAgreement;
        if (!agreeOk) {
            failures.add(String.format(Locale.ROOT, "top-1 agreement %.2f%% < %.2f%%", 100 * agreement, 100 * minAgreement));
        }
        out.println();
        out.printf(Locale.ROOT, "BatchNorm folding: folded vs original float64 graph, max |diff| at the output %.3g%n", foldDiff);
        out.printf(Locale.ROOT, "top-1 agreement float vs fixed: %d/%d (%.2f%%), required %.2f%%: %s%n", agree, n, 100 * agreement,
                100 * minAgreement, agreeOk ? "OK" : "FAIL");
        if (ys != null) {
            out.printf(Locale.ROOT, "accuracy: float %.2f%%, fixed %.2f%% (%d labels)%n", 100.0 * floatRight / n, 100.0 * fixedRight / n, n);
        }
        report.put("batchnorm_folding_max_abs_diff", foldDiff);
        report.put("agreement", Reports.ordered("agree", agree, "samples", n, "fraction", agreement, "required", minAgreement, "ok", agreeOk));
        report.put("accuracy", ys == null ? null : Reports.ordered("float", (double) floatRight / n, "fixed", (double) fixedRight / n));
        if (mp != null) {
            out.printf(Locale.ROOT, "mixed precision: held-out top-1 agreement %d/%d (%.2f%%) on the inputs not used for calibration; "
                    + "%d/%d (%.2f%%) on the calibration samples%n", agree, n, 100 * agreement, mp.chosen().agree(), mp.chosen().samples(),
                    100 * mp.chosen().agreement());
        }
        report.put("mixed_precision", mp == null ? null : targets.json(c.folded(), mp, agreement, n));

        // 3. the cycle-accurate simulator must reproduce the integer reference exactly
        CycleSimulator.Result r = CycleSimulator.run(d, intIn, hardware.stimulus());
        int same = 0;
        int firstDiff = -1;
        for (int s = 0; s < n; s++) {
            long[] want = plan.argmax() ? new long[] {QuantErrorReport.argmax(intOut.get(s))} : intOut.get(s);
            boolean eq = s < r.outputs().size() && Arrays.equals(want, r.outputs().get(s));
            same += eq ? 1 : 0;
            if (!eq && firstDiff < 0) {
                firstDiff = s;
            }
        }
        if (same == n) {
            out.printf("cycle simulator vs integer reference: %d/%d outputs identical (%d cycles, latency %d): OK%n", n, n, r.cycles(),
                    r.latency());
        } else {
            out.printf("cycle simulator vs integer reference: %d/%d outputs identical, first difference in sample %d: FAIL%n", same, n,
                    firstDiff);
            failures.add("simulator differs from the integer reference in " + (n - same) + " samples");
        }
        report.put("simulator", Reports.ordered("identical", same, "samples", n, "cycles", r.cycles(), "latency", r.latency(),
                "first_difference", firstDiff < 0 ? null : firstDiff, "ok", same == n));

        // 4. ONNX Runtime on the original file: informative, never a failure
        OrtReference.Result ort = runOrt(g, xs);
        Map<String, Object> ortFigures = new LinkedHashMap<>();
        String ortText = ortLine(g, ort, floatOut, intOut, ortFigures);
        out.println(ortText);
        ortFigures.put("line", ortText);
        report.put("onnx_runtime", ortFigures);

        if (dump != null) {
            out.println(dump(g, q, floatOut, intOut, ort));
        }

        // 5. the emitted RTL under a real simulator
        if (sim != null) {
            int before = failures.size();
            String line = rtlLine(c, calib, xs, sim, failures);
            out.println(line);
            report.put("rtl", Reports.ordered("simulator", sim.name().toLowerCase(Locale.ROOT), "line", line, "ok", failures.size() == before));
        } else {
            report.put("rtl", null);
        }

        out.println();
        out.println(failures.isEmpty() ? "verdict: PASS" : "verdict: FAIL (" + String.join("; ", failures) + ")");
        report.put("verdict", failures.isEmpty() ? "PASS" : "FAIL");
        report.put("failures", failures);
        if (json != null) {
            try {
                Files.writeString(json, new com.fasterxml.jackson.databind.ObjectMapper()
                        .enable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT).writeValueAsString(report) + "\n");
            } catch (IOException e) {
                throw new ModelException(Diagnostic.SF_IO, json.toString(), null, "cannot write: " + e.getMessage(), null);
            }
            out.println("wrote " + json);
        }
        out.flush();
        return failures.isEmpty() ? ExitCodes.OK : ExitCodes.VERIFY_FAILED;
    }

    /** Labels, checked against the inputs (one per sample) and the model (a class it can output). */
    private static int[] checkedLabels(Path file, int samples, int classes, Path inFile) {
        int[] ys = DataFiles.labels(file);
        if (ys.length != samples) {
            throw new ModelException(Diagnostic.SF_BAD_DATA, file.toString(), null, ys.length + " labels for " + samples + " inputs in " + inFile,
                    "give one class index per input sample");
        }
        for (int i = 0; i < ys.length; i++) {
            if (ys[i] >= classes) {
                throw new ModelException(Diagnostic.SF_BAD_DATA, file.toString(), null, "label " + i + " is " + ys[i] + " but the model has "
                        + classes + " outputs", "labels are class indices 0.." + (classes - 1));
            }
        }
        return ys;
    }

    private boolean isOnnx() {
        return model.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".onnx");
    }

    /** ORT on the original file, fed and read in the model's own layouts; null for a non-ONNX model. */
    private OrtReference.Result runOrt(Graph g, List<double[]> xs) {
        if (!isOnnx()) {
            return null;
        }
        List<double[]> modelXs = new ArrayList<>(xs.size());
        for (double[] x : xs) {
            modelXs.add(g.toModelInput(x));
        }
        return OrtReference.run(model, g.modelInputDims(), modelXs);
    }

    /**
     * Writes float.npy, fixed.npy and (if ORT ran) ort.npy, each (N, model output dims) in the
     * model's own output layout, so they compare directly with the source framework's outputs.
     */
    private String dump(Graph g, QuantizedGraph q, List<double[]> floatOut, List<long[]> intOut, OrtReference.Result ort)
            throws IOException {
        Files.createDirectories(dump);
        int[] dims = g.modelOutputDims();
        List<double[]> fixed = new ArrayList<>(intOut.size());
        for (long[] v : intOut) {
            fixed.add(IntegerInterpreter.dequantize(q.outputFormat(), v));
        }
        List<String> written = new ArrayList<>();
        writeNpy(dump.resolve("float.npy"), g, dims, floatOut);
        written.add("float.npy");
        writeNpy(dump.resolve("fixed.npy"), g, dims, fixed);
        written.add("fixed.npy");
        if (ort != null && ort.outputs() != null && ort.outputs().stream().allMatch(o -> o.length == g.outputShape().size())) {
            Files.write(dump.resolve("ort.npy"), Npy.toBytes(batch(dims, ort.outputs())));
            written.add("ort.npy");
        } else {
            Files.deleteIfExists(dump.resolve("ort.npy"));
        }
        return "dumped " + String.join(", ", written) + " (N=" + floatOut.size() + ", " + Arrays.toString(dims) + " per sample) to " + dump;
    }

    /** Graph outputs reordered to the model's layout, as one (N, dims...) array. */
    private static void writeNpy(Path file, Graph g, int[] dims, List<double[]> graphOutputs) throws IOException {
        List<double[]> rows = new ArrayList<>(graphOutputs.size());
        for (double[] y : graphOutputs) {
            rows.add(g.toModelOutput(y));
        }
        Files.write(file, Npy.toBytes(batch(dims, rows)));
    }

    private static NdArray batch(int[] dims, List<double[]> rows) {
        int per = rows.isEmpty() ? 0 : rows.get(0).length;
        double[] flat = new double[rows.size() * per];
        for (int i = 0; i < rows.size(); i++) {
            System.arraycopy(rows.get(i), 0, flat, i * per, per);
        }
        int[] shape = new int[dims.length + 1];
        shape[0] = rows.size();
        System.arraycopy(dims, 0, shape, 1, dims.length);
        return new NdArray(shape, flat);
    }

    /** The ONNX Runtime line; {@code figures} gets its status and numbers. */
    private String ortLine(Graph g, OrtReference.Result ort, List<double[]> floatOut, List<long[]> intOut, Map<String, Object> figures) {
        if (ort == null) {
            figures.put("status", "not_applicable");
            return "ONNX Runtime: not applicable (not an ONNX model)";
        }
        if (ort.outputs() == null) {
            figures.put("status", "unavailable");
            return "ONNX Runtime: not available (" + ort.unavailable() + ")";
        }
        double maxDiff = 0;
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        int withFloat = 0;
        int withFixed = 0;
        int n = floatOut.size();
        for (int s = 0; s < n; s++) {
            double[] o = ort.outputs().get(s);
            double[] f = g.toModelOutput(floatOut.get(s));
            if (o.length != f.length) {
                figures.put("status", "not_comparable");
                return "ONNX Runtime: not comparable (it returns " + o.length + " values per sample, the model " + f.length + ")";
            }
            for (int i = 0; i < f.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(o[i] - f[i]));
                lo = Math.min(lo, f[i]);
                hi = Math.max(hi, f[i]);
            }
            int oa = QuantErrorReport.argmax(o);
            withFloat += oa == QuantErrorReport.argmax(f) ? 1 : 0;
            withFixed += oa == QuantErrorReport.argmax(g.toModelOutput(toDoubles(intOut.get(s)))) ? 1 : 0;
        }
        figures.put("status", "ok");
        figures.put("max_abs_diff_vs_float", maxDiff);
        figures.put("output_range", hi - lo);
        figures.put("agreement_with_float", (double) withFloat / n);
        figures.put("agreement_with_fixed", (double) withFixed / n);
        return String.format(Locale.ROOT, "ONNX Runtime: max |diff| vs float64 %.3g (output range %.3g), top-1 agreement with float %.2f%%, "
                + "with fixed %.2f%%", maxDiff, hi - lo, 100.0 * withFloat / n, 100.0 * withFixed / n);
    }

    private static double[] toDoubles(long[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    private String rtlLine(Pipeline.Result c, List<double[]> calib, List<double[]> xs, EdaRunner.Simulator sim, List<String> failures)
            throws IOException, InterruptedException {
        String tool = sim == EdaRunner.Simulator.ICARUS ? "iverilog" : "verilator";
        String label = "RTL (" + sim.name().toLowerCase(Locale.ROOT) + ")";
        if (!DemoCommand.onPath(tool)) {
            failures.add("RTL not simulated");
            return label + ": FAIL: " + tool + " is not installed";
        }
        // Removed on success, on an exception and on Ctrl-C (Cleanup's shutdown hook); kept, and named, when the testbench fails.
        Path tmp = Cleanup.createTempDirectory("streamfold-verify-");
        boolean keep = false;
        try {
            Path dir = tmp.resolve(c.design().name());
            Converter.convert(c, calib, xs.subList(0, Math.min(rtlCount, xs.size())), hardware.stimulus(), dir, false, List.of());
            EdaRunner.Run run = EdaRunner.simulate(dir, sim, 1800);
            String verdict = run.output().lines().filter(l -> l.startsWith("PASS") || l.startsWith("FAIL")).findFirst()
                    .orElse("no verdict (exit " + run.exitCode() + ")");
            if (run.passed()) {
                return label + ": " + verdict;
            }
            keep = true;
            failures.add("RTL testbench failed");
            return label + ": FAIL: " + (verdict.startsWith("FAIL") ? verdict.substring(4).strip() : verdict) + " (design kept in " + dir + ")";
        } finally {
            if (keep) {
                Cleanup.keep(tmp);
            } else {
                Cleanup.delete(tmp);
            }
        }
    }

}
