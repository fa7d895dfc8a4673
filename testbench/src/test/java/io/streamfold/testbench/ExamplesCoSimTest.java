package io.streamfold.testbench;

import io.streamfold.testutil.Examples;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.hw.PlanParallelism;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.sim.Stimulus;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every example model, whole (softmax included), at two parallelism settings (one lane per layer,
 * and the planner's choice under a 64-multiplier budget): simulator == integer reference, lint
 * clean, and the RTL under Icarus and Verilator produces every output beat in the simulator's
 * cycle, with random input gaps and output backpressure.
 */
@Tag("eda")
class ExamplesCoSimTest {

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0} budget {1}")
    @CsvSource({"mlp_bn, 0", "mlp_bn, 64", "cnn_seed, 0", "cnn_seed, 64", "cnn_residual, 0", "cnn_residual, 64"})
    void exampleModelCoSimulates(String model, int budget) throws Exception {
        QuantizedGraph q = Examples.quantize(model, QuantConfig.defaults());
        ParallelismPlan plan = budget == 0 ? ParallelismPlan.serial() : PlanParallelism.run(q, budget).plan();
        List<long[]> xs = Examples.inputs(model, q, 3);
        HwDesign d = CoSim.emit(tmp, q, plan, xs, new Stimulus(budget + 3, 0.25, 0.25));
        if (budget > 0) {
            assertTrue(d.multipliers() <= budget, d.multipliers() + " multipliers over the budget " + budget);
        }
        EdaRunner.Run lint = EdaRunner.lint(tmp, d.name(), CoSim.rtlFiles(d));
        assertEquals("", lint.output().strip(), lint.output());
        CoSim.assertPasses(tmp, EdaRunner.Simulator.ICARUS);
        CoSim.assertPasses(tmp, EdaRunner.Simulator.VERILATOR);
    }
}
