package io.streamfold.testbench;

import io.streamfold.testutil.Examples;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.sim.Stimulus;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The emitted RTL, run by Icarus Verilog and Verilator, produces every output beat with the value
 * and in the cycle the Java simulator predicts, with random gaps and backpressure.
 */
@Tag("eda")
class CoSimulationTest {

    @TempDir
    Path tmp;

    static final ParallelismPlan MLP_PARALLEL = ParallelismPlan.serial().withInputElems(8)
            .with("/0/Gemm", 4, 8).with("/3/Gemm", 2, 4).with("/6/Gemm", 5, 2);

    @Test
    void mlpParallelUnderBackpressureIcarusAndVerilator() throws Exception {
        QuantizedGraph q = Examples.quantize("mlp_bn", QuantConfig.defaults());
        List<long[]> xs = Examples.inputs("mlp_bn", q, 6);
        HwDesign d = CoSim.emit(tmp, q, MLP_PARALLEL, xs, new Stimulus(11, 0.3, 0.3));
        EdaRunner.Run lint = EdaRunner.lint(tmp, d.name(), CoSim.rtlFiles(d));
        assertEquals(0, lint.exitCode(), lint.output());
        assertEquals("", lint.output().strip(), lint.output());
        CoSim.assertPasses(tmp, EdaRunner.Simulator.ICARUS);
        CoSim.assertPasses(tmp, EdaRunner.Simulator.VERILATOR);
    }

    @Test
    void mlpSerialSixteenBitIcarus() throws Exception {
        QuantizedGraph q = Examples.quantize("mlp_bn", QuantConfig.defaults().withBits(16, 16));
        List<long[]> xs = Examples.inputs("mlp_bn", q, 2);
        CoSim.emit(tmp, q, ParallelismPlan.serial(), xs, new Stimulus(5, 0.2, 0.5));
        CoSim.assertPasses(tmp, EdaRunner.Simulator.ICARUS);
    }
}
