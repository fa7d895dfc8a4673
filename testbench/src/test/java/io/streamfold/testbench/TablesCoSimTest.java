package io.streamfold.testbench;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.ParallelismPlan;
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
 * maps the interpolation product to one SB_MAC16 per lane, as many as the design counts.
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
                EdaRunner.Run synth = EdaRunner.synthesize(dir, d.name(), CoSim.rtlFiles(d), "synth_ice40 -dsp");
                assertEquals(0, synth.exitCode(), synth.output());
                Matcher m = Pattern.compile("SB_MAC16\\s+(\\d+)").matcher(synth.output());
                int dsp = 0;
                while (m.find()) {
                    dsp = Integer.parseInt(m.group(1));
                }
                assertEquals(LowerToHardware.run(q, plan).multipliers(), dsp, synth.output());
            }
        }
    }
}
