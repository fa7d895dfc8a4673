package io.streamfold.testbench;

import io.streamfold.hw.DeviceTarget;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.hw.Stage;
import io.streamfold.quant.ExpTable;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.passes.PassContext;
import io.streamfold.quant.QOp;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.Quantize;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.sim.Stimulus;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Interpolating sigmoid and tanh tables at 16 bits in RTL: a sample of input codes (both ends,
 * a stride over the range, random codes) gives every output beat in the cycle the simulator
 * predicts under Icarus and Verilator, with input gaps and output backpressure; lint-clean; Yosys
 * maps the interpolation product to one SB_MAC16 per lane, as many as the design counts. Softmax
 * with the range-reduced exponential at 12 and 16 bits likewise, as the state machine and as the
 * full-rate tree (Icarus for all four, Verilator for one of each width and of each stage); at 12
 * bits every product of the tree is one SB_MAC16.
 */
@Tag("eda")
class TablesCoSimTest {

    @TempDir
    Path tmp;

    @Test
    void interpolatingTablesAt16BitsUnderBothSimulatorsAndOnTheIce40Dsp() throws Exception {
        int lanes = 2;
        int n = 64;
        for (Op.Tabulated f : List.<Op.Tabulated>of(new Op.Sigmoid(), new Op.Tanh())) {
            Graph g = new Graph("table_" + f.kind().toLowerCase(), "x", Shape.of(n), List.of(new Node("op", f, "x", "y")), "y");
            QuantConfig cfg = QuantConfig.defaults().withBits(8, 16).withOverrides(Map.of(), new QuantConfig.LayerOverride(16, 12, null));
            QuantizedGraph q = new Quantize(cfg).run(g, Map.of("x", 1.0, "y", 1.0), new PassContext());
            assertTrue(((QOp.QLut) q.op("op")).lut().interpolates());
            List<long[]> xs = new ArrayList<>();
            Random rnd = new Random(f.kind().hashCode());
            long code = -32768;
            for (int v = 0; v < 8; v++) {
                long[] x = new long[n];
                for (int i = 0; i < n; i++) {
                    x[i] = v < 4 ? Math.min(code, 32767) : rnd.nextInt(65536) - 32768;
                    code += 257;
                }
                xs.add(x);
            }
            xs.get(0)[0] = -32768;
            xs.get(0)[n - 1] = 32767;
            ParallelismPlan plan = ParallelismPlan.serial().withInputElems(lanes);
            Path dir = tmp.resolve(f.kind());
            HwDesign d = CoSim.emit(dir, q, plan, xs, new Stimulus(5, 0.3, 0.4));
            assertEquals(lanes, d.multipliers());
            GraphStagesCoSimTest.lintAndBothSimulators(dir, d);
            if (f instanceof Op.Tanh) {
                assertEquals(DeviceTarget.ICE40_UP5K.dspBlocks(d), ice40Dsps(dir, d));
            }
        }
    }

    @Test
    void reducedSoftmaxExpAt12And16BitsUnderBothSimulators() throws Exception {
        int n = 8;
        for (int bits : new int[] {12, 16}) {
            Graph g = new Graph("softmax_q" + bits, "x", Shape.of(n), List.of(new Node("op", new Op.Softmax(0), "x", "y")), "y");
            QuantConfig cfg = QuantConfig.defaults().withBits(8, bits).withOverrides(Map.of(), new QuantConfig.LayerOverride(bits, bits - 4, null));
            QuantizedGraph q = new Quantize(cfg).run(g, Map.of("x", 1.0, "y", 1.0), new PassContext());
            ExpTable exp = ((QOp.QSoftmax) q.op("op")).exp();
            assertTrue(exp instanceof ExpTable.Reduced, exp.toString());
            List<long[]> xs = new ArrayList<>();
            Random rnd = new Random(bits);
            long top = (1L << (bits - 1)) - 1;
            for (int v = 0; v < 12; v++) {
                long[] x = new long[n];
                for (int i = 0; i < n; i++) {
                    // distances reaching every part of both ROMs (and past the clamp), then uniform codes
                    x[i] = v < 6 ? top - (long) ((v * n + i) * ((1L << bits) - 1) / (6.0 * n - 1)) : rnd.nextInt(1 << bits) - (1L << (bits - 1));
                }
                xs.add(x);
            }
            for (int elems : new int[] {2, n}) {
                ParallelismPlan plan = ParallelismPlan.serial().withInputElems(elems);
                Path dir = tmp.resolve("q" + bits + "_e" + elems);
                HwDesign d = CoSim.emit(dir, q, plan, xs, new Stimulus(bits + elems, 0.3, 0.4));
                assertEquals(elems == n, d.stages().stream().anyMatch(s -> s instanceof Stage.SoftmaxTree));
                assertEquals(2 * elems, d.multipliers(), "a product e * r and the interpolation per lane");
                // every design lint-clean and under Icarus; Verilator for one design of each width and each stage
                if (bits == 12 == (elems == 2)) {
                    GraphStagesCoSimTest.lintAndBothSimulators(dir, d);
                } else {
                    FullRateHeadsCoSimTest.lint(dir, d);
                    CoSim.assertPasses(dir, EdaRunner.Simulator.ICARUS);
                }
                if (bits == 12 && elems == n) {
                    assertEquals(DeviceTarget.ICE40_UP5K.dspBlocks(d), ice40Dsps(dir, d));
                }
            }
        }
    }

    /** The SB_MAC16 count of Yosys' synth_ice40 (last figure of its statistics) for the design in {@code dir}. */
    static int ice40Dsps(Path dir, HwDesign d) throws Exception {
        EdaRunner.Run synth = EdaRunner.synthesize(dir, d.name(), CoSim.rtlFiles(d), "synth_ice40 -dsp");
        assertEquals(0, synth.exitCode(), synth.output());
        Matcher m = Pattern.compile("SB_MAC16\\s+(\\d+)").matcher(synth.output());
        int dsp = 0;
        while (m.find()) {
            dsp = Integer.parseInt(m.group(1));
        }
        return dsp;
    }
}
