package io.streamfold.testbench;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.sim.CycleSimulator;
import io.streamfold.sim.Stimulus;
import io.streamfold.verilog.VerilogLowering;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Test helpers: compile an example, emit RTL + testbench, run the EDA tools. */
final class CoSim {

    private CoSim() {
    }

    /** Emits design + testbench into {@code dir}; checks the simulator against the integer reference first. */
    static HwDesign emit(Path dir, QuantizedGraph q, ParallelismPlan plan, List<long[]> xs, Stimulus stim) throws Exception {
        return emit(dir, q, plan, io.streamfold.hw.Pipelining.GENERIC, xs, stim);
    }

    /** {@link #emit} with the given register placement. */
    static HwDesign emit(Path dir, QuantizedGraph q, ParallelismPlan plan, io.streamfold.hw.Pipelining pipelining, List<long[]> xs,
                         Stimulus stim) throws Exception {
        HwDesign d = LowerToHardware.run(q, plan, pipelining);
        CycleSimulator.Result r = CycleSimulator.run(d, xs, stim);
        for (int i = 0; i < xs.size(); i++) {
            assertArrayEquals(IntegerInterpreter.run(q, xs.get(i)), r.outputs().get(i), "simulator vs integer reference, inference " + i);
        }
        Map<String, String> rtl = VerilogLowering.emit(d);
        EdaRunner.write(dir, rtl);
        EdaRunner.write(dir, Testbench.files(d, xs, stim, r));
        return d;
    }

    static List<String> rtlFiles(HwDesign d) {
        return VerilogLowering.emit(d).keySet().stream().filter(f -> f.endsWith(".v")).toList();
    }

    static void assertPasses(Path dir, EdaRunner.Simulator sim) throws Exception {
        EdaRunner.Run run = EdaRunner.simulate(dir, sim, 600);
        assertTrue(run.passed(), sim + " in " + dir + ":\n" + run.output());
    }
}
