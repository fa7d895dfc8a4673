package io.streamfold.testbench;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.sim.CycleSimulator;
import io.streamfold.sim.GraphFixtures;
import io.streamfold.sim.Stimulus;
import io.streamfold.verilog.VerilogLowering;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The RTL of Fork, Add, GlobalAvgPool, Softmax and Argmax stages, under Icarus and Verilator,
 * gives every output beat in the cycle the simulator predicts, with random gaps and
 * backpressure; it is lint-clean and Yosys synthesizes it.
 */
@Tag("eda")
class GraphStagesCoSimTest {

    @TempDir
    Path tmp;

    /** Simulator == integer reference, then RTL files + testbench; returns the design. */
    static HwDesign emit(Path dir, QuantizedGraph q, ParallelismPlan plan, List<long[]> xs, Stimulus stim) throws Exception {
        HwDesign d = LowerToHardware.run(q, plan);
        CycleSimulator.Result r = CycleSimulator.run(d, xs, stim);
        for (int i = 0; i < xs.size(); i++) {
            long[] want = IntegerInterpreter.run(q, xs.get(i));
            if (plan.argmax()) {
                want = new long[] {GraphFixtures.argmax(want)};
            }
            assertArrayEquals(want, r.outputs().get(i), "simulator vs integer reference, inference " + i);
        }
        Map<String, String> rtl = VerilogLowering.emit(d);
        EdaRunner.write(dir, rtl);
        EdaRunner.write(dir, Testbench.files(d, xs, stim, r));
        return d;
    }

    static void lintAndBothSimulators(Path dir, HwDesign d) throws Exception {
        EdaRunner.Run lint = EdaRunner.lint(dir, d.name(), CoSim.rtlFiles(d));
        assertEquals(0, lint.exitCode(), lint.output());
        assertEquals("", lint.output().strip(), lint.output());
        CoSim.assertPasses(dir, EdaRunner.Simulator.ICARUS);
        CoSim.assertPasses(dir, EdaRunner.Simulator.VERILATOR);
    }

    @Test
    void residualMlpWithSoftmaxUnderBackpressure() throws Exception {
        GraphFixtures f = new GraphFixtures(21);
        QuantizedGraph q = f.quantize(f.residualMlp(8, 6, 5, true), QuantConfig.defaults());
        ParallelismPlan plan = ParallelismPlan.serial().withInputElems(2).with("fc0", 3, 2).with("fc1", 2, 3).with("fc2", 5, 1);
        HwDesign d = emit(tmp, q, plan, f.inputs(q, 5), new Stimulus(4, 0.3, 0.4));
        lintAndBothSimulators(tmp, d);
    }

    @Test
    void threeWayFanOutWithArgmaxHead() throws Exception {
        GraphFixtures f = new GraphFixtures(22);
        QuantizedGraph q = f.quantize(f.threeWayFanOut(6, 4, 6), QuantConfig.defaults());
        ParallelismPlan plan = ParallelismPlan.serial().withInputElems(3).with("fc0", 2, 3).with("fc2", 3, 2).withArgmax(true);
        HwDesign d = emit(tmp, q, plan, f.inputs(q, 6), new Stimulus(6, 0.2, 0.5));
        lintAndBothSimulators(tmp, d);
    }

    @Test
    void globalAvgPoolSoftmaxHeadAndYosys() throws Exception {
        GraphFixtures f = new GraphFixtures(23);
        QuantizedGraph q = f.quantize(f.gapHead(6, 3, 2, 4), QuantConfig.defaults());
        ParallelismPlan plan = ParallelismPlan.serial().withInputElems(3).with("fc", 2, 3);
        HwDesign d = emit(tmp, q, plan, f.inputs(q, 4), new Stimulus(8, 0.3, 0.3));
        lintAndBothSimulators(tmp, d);
        EdaRunner.Run synth = EdaRunner.synthesize(tmp, d.name(), CoSim.rtlFiles(d), "synth");
        assertEquals(0, synth.exitCode(), synth.output());
        assertTrue(synth.output().contains("Number of cells"), synth.output());
    }

    @Test
    void fullyParallelResidualAtOneVectorPerCycleIcarus() throws Exception {
        GraphFixtures f = new GraphFixtures(24);
        QuantizedGraph q = f.quantize(f.residualMlp(4, 4, 2, false), QuantConfig.defaults());
        ParallelismPlan plan = ParallelismPlan.serial().withInputElems(4).with("fc0", 4, 4).with("fc1", 4, 4).with("fc2", 2, 4);
        HwDesign d = emit(tmp, q, plan, f.inputs(q, 10), Stimulus.ideal());
        assertEquals(1, d.initiationInterval());
        CoSim.assertPasses(tmp, EdaRunner.Simulator.ICARUS);
    }
}
