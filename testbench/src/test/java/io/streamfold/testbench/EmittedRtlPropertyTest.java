package io.streamfold.testbench;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.ir.Window;
import io.streamfold.passes.PassContext;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.Quantize;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.sim.Stimulus;
import io.streamfold.testutil.Property;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 11, part 4: random small networks, named with Verilog and SystemVerilog keywords and
 * other awkward strings, with 1- to 16-bit weights and activations and all-zero layers, always
 * emit RTL that Icarus compiles (with its testbench) and {@code verilator --lint-only -Wall}
 * accepts; every fourth also runs its testbench under Icarus, which must PASS.
 */
@Tag("eda")
class EmittedRtlPropertyTest {

    @TempDir
    Path tmp;

    /** Names a model or layer may have that a careless emitter would copy into the RTL. */
    static final List<String> NAMES = List.of("small", "large", "medium", "wand", "supply0", "tranif1", "specparam", "do", "const",
            "module", "input", "output", "wire", "reg", "logic", "int", "begin", "end", "class", "always_ff", "assert", "unique0",
            "s0", "u_s0", "c0_in", "aclk", "aresetn", "in_data", "out_push", "x", "1st layer", "layer/with.dots", "\u00fcn\u00efc\u00f6d\u00e9",
            " ", "", "a__b", "_", "fc", "PASS", "tb", "m_axis_tdata", "fifo", "w".repeat(300), "Layer-" + "9".repeat(60));

    private static <T> T pick(Random r, List<T> l) {
        return l.get(r.nextInt(l.size()));
    }

    private static Tensor tensor(Random r, boolean zero, double scale, int... dims) {
        Shape s = new Shape(dims);
        double[] v = new double[s.size()];
        for (int i = 0; i < v.length && !zero; i++) {
            v[i] = scale * r.nextGaussian();
        }
        return Tensor.of(s, v);
    }

    /**
     * A chain Dense, (activation, Dense)*, a third of them after a Conv (and a pool) on a small
     * image: some Dense and Conv layers all zero, every name drawn from {@link #NAMES}.
     */
    static Graph randomGraph(Random r) {
        Set<String> used = new HashSet<>();
        List<Node> nodes = new ArrayList<>();
        String cur = "x";
        Shape input;
        int width;
        if (r.nextInt(3) == 0) {
            int c = 1 + r.nextInt(3);
            int h = 3 + r.nextInt(3);
            int w = 3 + r.nextInt(3);
            input = Shape.of(c, h, w);
            int oc = 1 + r.nextInt(3);
            int k = 1 + r.nextInt(3);
            boolean zero = r.nextInt(3) == 0;
            Window win = Window.of(new int[] {k, k}, new int[] {1, 1}, new int[] {0, 0, 0, 0});
            nodes.add(new Node(unique(r, used), new Op.Conv(tensor(r, zero, 0.5, oc, c, k, k), tensor(r, zero, 0.2, oc), win, 1), cur, "conv"));
            cur = "conv";
            int oh = h - k + 1;
            int ow = w - k + 1;
            if (oh >= 2 && ow >= 2 && r.nextBoolean()) {
                Window pw = Window.of(new int[] {2, 2}, new int[] {2, 2}, new int[] {0, 0, 0, 0});
                nodes.add(new Node(unique(r, used), r.nextBoolean() ? new Op.MaxPool(pw) : new Op.AvgPool(pw, false), cur, "pool"));
                cur = "pool";
                oh /= 2;
                ow /= 2;
            }
            nodes.add(new Node(unique(r, used), new Op.Flatten(), cur, "flat"));
            cur = "flat";
            width = oc * oh * ow;
        } else {
            width = 1 + r.nextInt(8);
            input = Shape.of(width);
        }
        int layers = 1 + r.nextInt(3);
        for (int l = 0; l < layers; l++) {
            int out = 1 + r.nextInt(8);
            boolean zero = r.nextInt(3) == 0;
            nodes.add(new Node(unique(r, used), new Op.Dense(tensor(r, zero, 1.0 / Math.sqrt(width), out, width), tensor(r, zero, 0.3, out)),
                    cur, "d" + l));
            cur = "d" + l;
            width = out;
            if (l + 1 < layers || r.nextBoolean()) {
                int w = width;
                Op act = RandomLayersCoSimTest.activation(r, () -> new Op.Affine(tensor(r, r.nextInt(3) == 0, 1.0, w), tensor(r, false, 0.5, w)));
                nodes.add(new Node(unique(r, used), act, cur, "a" + l));
                cur = "a" + l;
            }
        }
        return new Graph(pick(r, NAMES), "x", input, nodes, cur);
    }

    private static String unique(Random r, Set<String> used) {
        String n = pick(r, NAMES);
        if (n.isEmpty()) {
            n = "-"; // the IR needs a name (frontends name unnamed nodes); "-" has no Verilog character at all
        }
        while (!used.add(n)) {
            n = n + "_" + used.size();
        }
        return n;
    }

    @Test
    void randomNetworksEmitRtlThatCompilesAndLintsClean() {
        int[] refused = new int[1];
        int tries = 48;
        Property.forAll("emitted-rtl", tries, (r, caseNo) -> {
            Graph g = randomGraph(r);
            int wb = 1 + r.nextInt(16);
            int ab = 1 + r.nextInt(16);
            List<double[]> calib = new ArrayList<>();
            boolean zeroInputs = r.nextInt(8) == 0;
            for (int i = 0; i < 16; i++) {
                calib.add(tensor(r, zeroInputs, 1.0, g.inputShape().size()).data());
            }
            QuantConfig cfg = QuantConfig.defaults().withBits(wb, ab).withPerChannel(r.nextBoolean()).withLutIndexBits(2 + r.nextInt(9));
            QuantizedGraph q;
            try {
                q = new Quantize(cfg).run(g, calib, new PassContext());
            } catch (ModelException e) {
                refused[0]++; // a setting the hardware cannot represent is refused as bad input, which convert reports with exit 3
                return;
            }
            ParallelismPlan plan = ParallelismPlan.serial().withInputElems(RandomLayersCoSimTest.divisor(r, g.inputShape().channels()));
            for (Node n : g.nodes()) {
                if (n.op() instanceof Op.Dense dense) {
                    plan = plan.with(n.name(), RandomLayersCoSimTest.divisor(r, dense.outFeatures()), RandomLayersCoSimTest.divisor(r, dense.inFeatures()));
                }
            }
            Path dir = tmp.resolve("case" + caseNo);
            HwDesign d = CoSim.emit(dir, q, plan, RandomLayersCoSimTest.randomInputs(r, q, 2), new Stimulus(caseNo, 0.3, 0.3));
            String where = "graph '" + g.name() + "' " + g.nodes().stream().map(Node::name).toList() + ", weights " + wb + " bits, activations "
                    + ab + " bits, in " + dir;
            List<String> rtl = CoSim.rtlFiles(d);
            List<String> compile = new ArrayList<>(List.of("iverilog", "-g2005", "-s", d.name() + "_tb", "-o", "/dev/null", d.name() + "_tb.v"));
            compile.addAll(rtl);
            EdaRunner.Run icarus = EdaRunner.run(dir, compile, 120);
            assertEquals(0, icarus.exitCode(), where + "\n" + icarus.output());
            EdaRunner.Run lint = EdaRunner.lint(dir, d.name(), rtl);
            assertEquals("", lint.output().strip(), where + "\n" + lint.output());
            if (caseNo % 4 == 0) {
                CoSim.assertPasses(dir, EdaRunner.Simulator.ICARUS);
            }
        });
        assertTrue(refused[0] < Property.tries(tries) / 4, refused[0] + " of " + tries + " random networks were refused: the property tests too little");
    }
}
