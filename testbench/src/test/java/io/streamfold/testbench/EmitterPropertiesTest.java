package io.streamfold.testbench;

import io.streamfold.testutil.Examples;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.verilog.VerilogLowering;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Determinism of the emitted files, and synthesis with Yosys. */
class EmitterPropertiesTest {

    @TempDir
    Path tmp;

    @Test
    void emittingTwiceGivesIdenticalFiles() {
        QuantizedGraph q1 = Examples.quantize("mlp_bn", QuantConfig.defaults());
        QuantizedGraph q2 = Examples.quantize("mlp_bn", QuantConfig.defaults());
        Map<String, String> a = VerilogLowering.emit(LowerToHardware.run(q1, CoSimulationTest.MLP_PARALLEL));
        Map<String, String> b = VerilogLowering.emit(LowerToHardware.run(q2, CoSimulationTest.MLP_PARALLEL));
        assertEquals(a.keySet().stream().toList(), b.keySet().stream().toList());
        assertEquals(a, b);
    }

    @Test
    @Tag("eda")
    void smallDesignSynthesizesWithYosysGenericAndXilinx() throws Exception {
        Random r = new Random(77);
        var g = RandomLayersCoSimTest.randomGraph(r);
        QuantizedGraph q = RandomLayersCoSimTest.quantize(g, r);
        HwDesign d = LowerToHardware.run(q, RandomLayersCoSimTest.randomPlan(r, g));
        EdaRunner.write(tmp, VerilogLowering.emit(d));
        List<String> files = CoSim.rtlFiles(d);
        for (String synth : List.of("synth", "synth_xilinx")) {
            EdaRunner.Run run = EdaRunner.synthesize(tmp, d.name(), files, synth);
            assertEquals(0, run.exitCode(), synth + ":\n" + tail(run.output()));
            assertTrue(run.output().contains("=== " + d.name() + " ==="), tail(run.output()));
            assertTrue(!run.output().contains("ERROR"), tail(run.output()));
        }
    }

    static String tail(String s) {
        return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
    }
}
