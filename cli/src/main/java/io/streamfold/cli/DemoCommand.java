package io.streamfold.cli;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.compile.Pipeline;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.passes.FoldBatchNorm;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantErrorReport;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.sim.Stimulus;
import io.streamfold.flow.Converter;
import io.streamfold.flow.OutputFolder;
import io.streamfold.testbench.EdaRunner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code streamfold demo}: the main job on the bundled example models: import, fold BatchNorm,
 * quantize at 8 and 16 bits, run the bit-true integer reference on the test inputs and report the
 * error per layer and the classification agreement with the float reference; then convert each
 * model to Verilog in {@code verilog-out/<model>} and run its self-checking testbench under Icarus.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Runs the pipeline on the bundled example models and prints a summary.")
final class DemoCommand implements Callable<Integer> {

    static final List<String> MODELS = List.of("mlp_bn", "cnn_seed", "cnn_residual");

    @Spec
    CommandSpec spec;

    @Option(names = "--examples", paramLabel = "DIR", description = "folder of example models (default: examples/)")
    Path examples = Path.of("examples");

    @Option(names = {"-o", "--output"}, paramLabel = "DIR", description = "where the converted designs go (default: verilog-out/)")
    Path outputRoot = Path.of("verilog-out");

    @Option(names = "--dsp-budget", paramLabel = "N", converter = OptionTypes.NonNegative.class,
            description = "multipliers the planner may spend per design, >= 0 (default ${DEFAULT-VALUE})", defaultValue = "64")
    int budget;

    @Option(names = "--force", description = "replace output folders that streamfold wrote before (never anything else)")
    boolean force;

    @Option(names = "--verbose", description = "print the per-layer error report")
    boolean verbose;

    static boolean onPath(String tool) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    /** What converting the example in {@code dir} reads; its output folder may not contain them. */
    private static List<Path> inputs(Path dir) {
        return List.of(dir.resolve("model.onnx"), dir.resolve("calib.npy"), dir.resolve("inputs.npy"), dir.resolve("labels.npy"));
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (!Files.isDirectory(examples)) {
            throw new ModelException(Diagnostic.SF_BAD_DATA, examples.toString(), null, "no examples folder", "run from the repository root or give --examples DIR");
        }
        // Every output folder is checked before any work, as convert does: an existing one needs --force.
        for (String m : MODELS) {
            OutputFolder.check(outputRoot.resolve(m), force, inputs(examples.resolve(m)));
        }
        out.printf("%-14s %-62s %9s %9s %9s %9s%n", "model", "batchnorm folding", "float acc", "8b agree", "16b agree", "8b acc");
        for (String m : MODELS) {
            Path dir = examples.resolve(m);
            Path model = dir.resolve("model.onnx");
            Graph g = ModelLoader.load(model);
            List<double[]> calib = DataFiles.samples(dir.resolve("calib.npy"), g);
            List<double[]> inputs = DataFiles.samples(dir.resolve("inputs.npy"), g);
            int[] labels = DataFiles.labels(dir.resolve("labels.npy"));
            Pipeline.Result r8 = Pipeline.quantize(g, QuantConfig.defaults(), calib);
            Pipeline.Result r16 = Pipeline.quantize(g, QuantConfig.defaults().withBits(16, 16), calib);
            QuantErrorReport e8 = QuantErrorReport.measure(r8.quantized(), inputs, labels);
            QuantErrorReport e16 = QuantErrorReport.measure(r16.quantized(), inputs, labels);
            StringBuilder fold = new StringBuilder();
            r8.context().counters(FoldBatchNorm.NAME).forEach((k, v) -> {
                if (!k.equals(FoldBatchNorm.CARRIED_THROUGH_FLATTEN)) {
                    fold.append(fold.length() > 0 ? ", " : "").append(v).append(' ').append(k.replace("folded into ", "into "));
                }
            });
            out.printf("%-14s %-62s %8.2f%% %8.2f%% %8.2f%% %8.2f%%%n", m, fold, 100 * e8.floatAccuracy(), 100 * e8.top1Agreement(),
                    100 * e16.top1Agreement(), 100 * e8.intAccuracy());
            if (verbose) {
                out.print(e8.toText().indent(4));
            }
        }
        out.println();
        out.printf("%-14s %-8s %6s %8s %9s %6s %-40s%n", "model", "stages", "mults", "II", "latency", "util",
                "RTL testbench (Icarus, random gaps/backpressure)");
        boolean allPassed = true;
        for (String m : MODELS) {
            Path dir = examples.resolve(m);
            Path model = dir.resolve("model.onnx");
            Graph g = ModelLoader.load(model);
            List<double[]> calib = DataFiles.samples(dir.resolve("calib.npy"), g);
            List<double[]> inputs = DataFiles.samples(dir.resolve("inputs.npy"), g);
            Path outDir = outputRoot.resolve(m);
            Converter.Outcome o;
            try {
                o = Converter.convert(Pipeline.compile(g, new Pipeline.Settings(QuantConfig.defaults(), ParallelismPlan.serial(), budget), calib),
                        calib, inputs.subList(0, 3), new Stimulus(1, 0.2, 0.2), outDir, force, inputs(dir));
            } catch (ModelException e) {
                out.printf("%-14s not yet in hardware: %s%n", m, e.reason());
                continue;
            }
            String tb = "not run (iverilog is not installed)";
            if (onPath("iverilog")) {
                EdaRunner.Run run = EdaRunner.simulate(outDir, EdaRunner.Simulator.ICARUS, 600);
                String first = run.output().lines().filter(l -> l.startsWith("PASS") || l.startsWith("FAIL")).findFirst().orElse("no verdict");
                tb = first.length() > 60 ? first.substring(0, 60) + "..." : first;
                allPassed &= run.passed();
            }
            double util = o.design().utilization();
            out.printf(java.util.Locale.ROOT, "%-14s %-8d %6d %8d %9d %6.2f %s%n", m, o.design().stages().size(), o.design().multipliers(),
                    o.design().initiationInterval(), o.timing().latency(), util, tb);
        }
        out.println("RTL, ROMs, testbenches and report.json are in " + outputRoot + "/<model>/ (make -C " + outputRoot
                + "/<model> verilator).");
        out.flush();
        return allPassed ? ExitCodes.OK : ExitCodes.VERIFY_FAILED;
    }
}
