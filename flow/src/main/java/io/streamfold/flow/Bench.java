package io.streamfold.flow;

import io.streamfold.testbench.EdaRunner;
import io.streamfold.testbench.Testbench;
import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.compile.Pipeline;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.ir.Graph;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.sim.CycleSimulator;
import io.streamfold.sim.Stimulus;
import io.streamfold.verilog.VerilogLowering;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Benchmarks, measured in one run so the ratios are comparable on a noisy machine: simulated
 * cycles per second of the Java simulator, Verilator and Icarus on the same RTL and vectors, and
 * per design the multipliers, II, latency and multiplier utilization. Run by {@code bench/run}.
 */
public final class Bench {

    private Bench() {
    }

    /** A design: an example (or {@code peer:NAME}, a Keras model of the peer fixtures), a plan or, if null, the planner at {@code budget}. */
    record Design(String label, String model, ParallelismPlan plan, int budget) {
        Design(String label, String model, ParallelismPlan plan) {
            this(label, model, plan, 64);
        }
    }

    /** Icarus is two to three orders of magnitude slower: it runs this many cycles (enough to dwarf its start-up). */
    static final long ICARUS_CYCLES = 200_000;

    /** At most this many inferences per run (memory for the vectors and the testbench files). */
    static final long MAX_INFERENCES = 2_000_000;

    /** hls4ml's jet-tagging MLP, beside the repository when the shared fixtures are there. */
    static final String JET = "peer:KERAS_3layer";

    public static void main(String[] args) throws Exception {
        Path root = Path.of(args.length > 0 ? args[0] : ".");
        long cycles = args.length > 1 ? Long.parseLong(args[1]) : 10_000_000L;
        List<Design> designs = new ArrayList<>(List.of(
                new Design("mlp_bn serial (1 multiplier per layer)", "mlp_bn", ParallelismPlan.serial()),
                new Design("mlp_bn 64-lane first layer", "mlp_bn",
                        ParallelismPlan.serial().withInputElems(8).with("/0/Gemm", 8, 8).with("/3/Gemm", 4, 8).with("/6/Gemm", 2, 8)),
                new Design("mlp_bn planner, budget 64", "mlp_bn", null),
                new Design("cnn_seed serial", "cnn_seed", ParallelismPlan.serial()),
                new Design("cnn_seed planner, budget 64", "cnn_seed", null),
                new Design("cnn_seed planner, budget 100000", "cnn_seed", null, 100_000),
                new Design("cnn_residual serial", "cnn_residual", ParallelismPlan.serial()),
                new Design("cnn_residual planner, budget 64", "cnn_residual", null)));
        if (Files.isDirectory(peer(root, JET))) {
            designs.add(new Design("jet MLP (hls4ml) fully parallel", JET, null, 100_000));
        }
        if (args.length > 2) {
            designs.removeIf(ds -> !ds.label().contains(args[2]));
        }
        System.out.println("# streamfold benchmark, ideal stimulus: Java and Verilator simulate at least " + cycles
                + " cycles per design (as many inferences as that takes, at most " + MAX_INFERENCES + "), Icarus at least " + ICARUS_CYCLES);
        System.out.printf(Locale.ROOT, "%-40s %5s %7s %8s %6s | %9s %14s %14s %14s | %8s %8s%n", "design", "mults", "II", "latency", "util",
                "cycles", "java cyc/s", "verilator cyc/s", "icarus cyc/s", "java/vl", "java/iv");
        for (Design ds : designs) {
            boolean peer = ds.model().startsWith("peer:");
            Path dir = peer ? peer(root, ds.model()) : root.resolve("examples").resolve(ds.model());
            Graph g = peer ? ModelLoader.open(dir.resolve(dir.getFileName() + ".json"), null) : ModelLoader.load(dir.resolve("model.onnx"));
            Pipeline.Settings settings = ds.plan() != null ? new Pipeline.Settings(QuantConfig.defaults(), ds.plan(), 0)
                    : new Pipeline.Settings(QuantConfig.defaults(), ParallelismPlan.serial(), ds.budget());
            List<double[]> x = DataFiles.samples(dir.resolve("inputs.npy"), g);
            // a peer model has no calib.npy: its first 200 samples calibrate, as in KerasFixturesTest
            Pipeline.Result c = Pipeline.compile(g, settings, peer ? x.subList(0, 200) : DataFiles.samples(dir.resolve("calib.npy"), g));
            QuantizedGraph q = c.quantized();
            HwDesign d = c.design();
            long ii = Math.max(1, d.initiationInterval());
            // a design of II 1 would need 10^7 inferences: their vectors and testbench files are capped
            List<long[]> xs = inputs(q, x, (int) Math.min(MAX_INFERENCES, Math.max(2, (cycles + ii - 1) / ii)));
            Stimulus stim = Stimulus.ideal();
            CycleSimulator.Result r = CycleSimulator.run(d, xs, stim);
            // warm up the JIT, then time the best of three
            long best = Long.MAX_VALUE;
            for (int k = 0; k < 3; k++) {
                long t0 = System.nanoTime();
                CycleSimulator.run(d, xs, stim);
                best = Math.min(best, System.nanoTime() - t0);
            }
            double javaRate = r.cycles() / (best / 1e9);
            Path work = Files.createTempDirectory("streamfold-bench-");
            EdaRunner.write(work, VerilogLowering.emit(d));
            EdaRunner.write(work, Testbench.files(d, xs, stim, r));
            double vl = timeRun(work, List.of("sh", "-c", "verilator --binary --timing -Wno-fatal -Wno-lint -Wno-style -O3 --top-module "
                    + d.name() + "_tb -Mdir obj_verilator -o tb *.v > build.log 2>&1"), List.of("./obj_verilator/tb"));
            double vlRate = r.cycles() / vl;
            List<long[]> xi = inputs(q, x, (int) Math.max(2, (ICARUS_CYCLES + ii - 1) / ii));
            CycleSimulator.Result ri = CycleSimulator.run(d, xi, stim);
            Path workIv = Files.createTempDirectory("streamfold-bench-iv-");
            EdaRunner.write(workIv, VerilogLowering.emit(d));
            EdaRunner.write(workIv, Testbench.files(d, xi, stim, ri));
            double iv = timeRun(workIv, List.of("sh", "-c", "iverilog -g2005 -s " + d.name() + "_tb -o tb.vvp *.v"), List.of("vvp", "-n", "tb.vvp"));
            double ivRate = ri.cycles() / iv;
            long measured = r.measuredInterval();
            double util = d.macs() / (double) (measured * Math.max(1, d.multipliers()));
            System.out.printf(Locale.ROOT, "%-40s %5d %7d %8d %6.3f | %9d %14.0f %14.0f %14.0f | %8.2f %8.1f%n", ds.label(), d.multipliers(),
                    measured, r.latency(), util, r.cycles(), javaRate, vlRate, ivRate, javaRate / vlRate, javaRate / ivRate);
            cells.add(ds.label() + ": " + xilinxCells(work, d));
        }
        System.out.println("# Yosys synth_xilinx cell counts");
        cells.forEach(System.out::println);
    }

    private static final List<String> cells = new ArrayList<>();

    /** {@code n} inputs of the design's input format, cycling through the example's samples. */
    private static List<long[]> inputs(QuantizedGraph q, List<double[]> x, int n) {
        List<long[]> xs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            xs.add(IntegerInterpreter.quantizeInput(q, x.get(i % x.size())));
        }
        return xs;
    }

    /** The folder of {@code peer:NAME} in the shared fixtures beside the repository. */
    static Path peer(Path root, String model) {
        return root.resolve("../shared/fixtures/peer").resolve(model.substring("peer:".length())).normalize();
    }

    /** LUT, flip-flop, DSP and block-RAM cells of the top module after {@code synth_xilinx -flatten}. */
    static String xilinxCells(Path dir, HwDesign d) throws Exception {
        List<String> files = VerilogLowering.emit(d).keySet().stream().filter(f -> f.endsWith(".v")).toList();
        EdaRunner.Run run = EdaRunner.synthesize(dir, d.name(), files, "synth_xilinx -flatten");
        if (run.exitCode() != 0) {
            return "synthesis failed";
        }
        long lut = 0;
        long ff = 0;
        long dsp = 0;
        long bram = 0;
        long lutram = 0;
        String stat = run.output().substring(run.output().lastIndexOf("=== " + d.name() + " ==="));
        for (String line : stat.split("\n")) {
            String[] p = line.trim().split("\\s+");
            if (p.length != 2 || !p[1].matches("\\d+")) {
                continue;
            }
            long n = Long.parseLong(p[1]);
            if (p[0].startsWith("LUT")) {
                lut += n;
            } else if (p[0].startsWith("FD")) {
                ff += n;
            } else if (p[0].startsWith("DSP")) {
                dsp += n;
            } else if (p[0].startsWith("RAMB")) {
                bram += n;
            } else if (p[0].startsWith("RAM") || p[0].startsWith("SRL")) {
                lutram += n;
            }
        }
        return "LUT " + lut + ", FF " + ff + ", DSP " + dsp + ", BRAM " + bram + ", LUTRAM/SRL " + lutram;
    }

    /** Conversion time of a synthetic 1M-parameter MLP (1024-1024-10): import to emitted files. */
    static void conversionTime() {
        java.util.Random r = new java.util.Random(1);
        int[] widths = {1024, 1024, 10};
        List<io.streamfold.ir.Node> nodes = new ArrayList<>();
        String cur = "x";
        long params = 0;
        for (int l = 0; l + 1 < widths.length; l++) {
            double[] w = new double[widths[l + 1] * widths[l]];
            for (int i = 0; i < w.length; i++) {
                w[i] = r.nextGaussian() / 32;
            }
            params += w.length + widths[l + 1];
            nodes.add(new io.streamfold.ir.Node("fc" + l, new io.streamfold.ir.Op.Dense(
                    io.streamfold.ir.Tensor.of(io.streamfold.ir.Shape.of(widths[l + 1], widths[l]), w),
                    io.streamfold.ir.Tensor.zeros(widths[l + 1])), cur, "y" + l));
            cur = "y" + l;
            if (l + 2 < widths.length) {
                nodes.add(new io.streamfold.ir.Node("relu" + l, new io.streamfold.ir.Op.Relu(), cur, "r" + l));
                cur = "r" + l;
            }
        }
        Graph g = new Graph("mlp1m", "x", io.streamfold.ir.Shape.of(widths[0]), nodes, cur);
        List<double[]> calib = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            double[] x = new double[widths[0]];
            for (int j = 0; j < x.length; j++) {
                x[j] = r.nextGaussian();
            }
            calib.add(x);
        }
        ParallelismPlan plan = ParallelismPlan.serial().withInputElems(16).with("fc0", 16, 16).with("fc1", 2, 16);
        for (int k = 0; k < 3; k++) {
            long t0 = System.nanoTime();
            Pipeline.Result q = Pipeline.quantize(g, QuantConfig.defaults(), calib);
            long t1 = System.nanoTime();
            HwDesign d = Pipeline.lower(q, new Pipeline.Settings(QuantConfig.defaults(), plan, 0)).design();
            java.util.Map<String, String> files = VerilogLowering.emit(d);
            long t2 = System.nanoTime();
            long bytes = files.values().stream().mapToLong(String::length).sum();
            System.out.printf(Locale.ROOT, "conversion of a %d-parameter MLP: fold+calibrate+quantize %.2f s, lower+emit %.2f s (%d files, %d kB), total %.2f s%n",
                    params, (t1 - t0) / 1e9, (t2 - t1) / 1e9, files.size(), bytes / 1024, (t2 - t0) / 1e9);
        }
    }

    /** Seconds the run command takes after the build command (which must succeed); the run must print PASS. */
    private static double timeRun(Path dir, List<String> build, List<String> run) throws Exception {
        EdaRunner.Run b = EdaRunner.run(dir, build, 1800);
        if (b.exitCode() != 0) {
            throw new IllegalStateException("build failed: " + b.output());
        }
        long t0 = System.nanoTime();
        EdaRunner.Run r = EdaRunner.run(dir, run, 3600);
        double s = (System.nanoTime() - t0) / 1e9;
        if (!r.passed()) {
            throw new IllegalStateException("testbench failed: " + r.output());
        }
        return s;
    }
}
