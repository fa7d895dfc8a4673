package io.streamfold.testbench;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.passes.PassContext;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.Quantize;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.sim.Stimulus;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Property-style co-simulation: random small dense/elementwise networks with random widths,
 * parallelism and stimulus; the simulator must equal the integer reference and the RTL (Icarus;
 * Verilator on a few) must equal the simulator, value and cycle.
 */
@Tag("eda")
class RandomLayersCoSimTest {

    @TempDir
    Path tmp;

    static Tensor random(Random r, double scale, int... dims) {
        Shape s = new Shape(dims);
        double[] v = new double[s.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = scale * r.nextGaussian();
        }
        return Tensor.of(s, v);
    }

    static int divisor(Random r, int n) {
        List<Integer> ds = new ArrayList<>();
        for (int d = 1; d <= n; d++) {
            if (n % d == 0) {
                ds.add(d);
            }
        }
        return ds.get(r.nextInt(ds.size()));
    }

    /** A random chain: Dense, then 1-3 of (elementwise op, Dense). */
    static Graph randomGraph(Random r) {
        int f = 1 + r.nextInt(12);
        List<Node> nodes = new ArrayList<>();
        String cur = "x";
        int width = f;
        int layers = 1 + r.nextInt(3);
        for (int l = 0; l < layers; l++) {
            int out = 1 + r.nextInt(12);
            nodes.add(new Node("fc" + l, new Op.Dense(random(r, 1.0 / Math.sqrt(width), out, width), random(r, 0.3, out)), cur, "d" + l));
            cur = "d" + l;
            width = out;
            int w = width;
            Op act = activation(r, () -> new Op.Affine(random(r, 1.0, w), random(r, 0.5, w)));
            nodes.add(new Node("act" + l, act, cur, "a" + l));
            cur = "a" + l;
        }
        return new Graph("rnd", "x", Shape.of(f), nodes, cur);
    }

    /** A random activation of every kind the elementwise stage has; {@code affine} makes the per-channel one. */
    static Op activation(Random r, java.util.function.Supplier<Op> affine) {
        return switch (r.nextInt(7)) {
            case 0 -> new Op.Relu();
            case 1 -> new Op.Clip(-0.5, 1.5);
            case 2 -> new Op.LeakyRelu(0.1 + 0.2 * r.nextDouble());
            case 3 -> new Op.Sigmoid();
            case 4 -> new Op.Tanh();
            case 5 -> new Op.Elu(0.5 + r.nextDouble());
            default -> affine.get();
        };
    }

    static QuantizedGraph quantize(Graph g, Random r) {
        int wb = 3 + r.nextInt(12);
        int ab = 3 + r.nextInt(12);
        List<double[]> calib = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            calib.add(random(r, 1.0, g.inputShape().size()).data());
        }
        QuantConfig cfg = QuantConfig.defaults().withBits(wb, ab).withPerChannel(r.nextBoolean()).withLutIndexBits(4 + r.nextInt(6));
        return new Quantize(cfg).run(g, calib, new PassContext());
    }

    static ParallelismPlan randomPlan(Random r, Graph g) {
        ParallelismPlan p = ParallelismPlan.serial().withInputElems(divisor(r, g.inputShape().size()));
        for (Node n : g.nodes()) {
            if (n.op() instanceof Op.Dense d) {
                p = p.with(n.name(), divisor(r, d.outFeatures()), divisor(r, d.inFeatures()));
            }
        }
        return p;
    }

    static List<long[]> randomInputs(Random r, QuantizedGraph q, int n) {
        List<long[]> xs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            xs.add(IntegerInterpreter.quantizeInput(q, random(r, 1.5, q.graph().inputShape().size()).data()));
        }
        return xs;
    }

    @Test
    void randomNetworksUnderIcarus() throws Exception {
        for (int seed = 1; seed <= 12; seed++) {
            Random r = new Random(seed);
            Graph g = randomGraph(r);
            QuantizedGraph q = quantize(g, r);
            Path dir = tmp.resolve("seed" + seed);
            Stimulus stim = new Stimulus(seed, r.nextDouble() * 0.6, r.nextDouble() * 0.6);
            CoSim.emit(dir, q, randomPlan(r, g), randomInputs(r, q, 3), stim);
            CoSim.assertPasses(dir, EdaRunner.Simulator.ICARUS);
        }
    }

    @Test
    void randomNetworksUnderVerilatorAreLintClean() throws Exception {
        for (int seed = 101; seed <= 102; seed++) {
            Random r = new Random(seed);
            Graph g = randomGraph(r);
            QuantizedGraph q = quantize(g, r);
            Path dir = tmp.resolve("seed" + seed);
            HwDesign d = CoSim.emit(dir, q, randomPlan(r, g), randomInputs(r, q, 3), new Stimulus(seed, 0.4, 0.4));
            EdaRunner.Run lint = EdaRunner.lint(dir, d.name(), CoSim.rtlFiles(d));
            assertEquals("", lint.output().strip(), lint.output());
            CoSim.assertPasses(dir, EdaRunner.Simulator.VERILATOR);
        }
    }
}
