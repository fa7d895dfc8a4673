package io.streamfold.sim;

import io.streamfold.testutil.Examples;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cycle-accurate simulator computes exactly what the integer reference computes. */
class SimulatorVsReferenceTest {

    static void check(QuantizedGraph q, ParallelismPlan plan, List<long[]> xs, Stimulus stim) {
        HwDesign d = LowerToHardware.run(q, plan);
        CycleSimulator.Result r = CycleSimulator.run(d, xs, stim);
        assertEquals(xs.size(), r.outputs().size());
        for (int i = 0; i < xs.size(); i++) {
            assertArrayEquals(IntegerInterpreter.run(q, xs.get(i)), r.outputs().get(i), "inference " + i);
        }
    }

    @Test
    void mlpSerialAndParallelWithBackpressure() {
        QuantizedGraph q = Examples.quantize("mlp_bn", QuantConfig.defaults());
        List<long[]> xs = Examples.inputs("mlp_bn", q, 20);
        check(q, ParallelismPlan.serial(), xs, Stimulus.ideal());
        check(q, ParallelismPlan.serial(), xs, new Stimulus(7, 0.3, 0.4));
        ParallelismPlan p = ParallelismPlan.serial().withInputElems(8).with("/0/Gemm", 4, 8).with("/3/Gemm", 2, 4).with("/6/Gemm", 5, 2);
        check(q, p, xs, Stimulus.ideal());
        check(q, p, xs, new Stimulus(3, 0.5, 0.5));
    }

    @Test
    void serialMlpTimingIsWhatTheScheduleSays() {
        QuantizedGraph q = Examples.quantize("mlp_bn", QuantConfig.defaults());
        HwDesign d = LowerToHardware.run(q, ParallelismPlan.serial());
        List<long[]> xs = Examples.inputs("mlp_bn", q, 8);
        CycleSimulator.Result r = CycleSimulator.run(d, xs, Stimulus.ideal());
        assertEquals(64 * 64, d.initiationInterval());
        assertEquals(d.initiationInterval(), r.measuredInterval());
        assertTrue(r.latency() > 64 && r.latency() < 64 * 64 + 64 * 32 + 32 * 10 + 100, "latency " + r.latency());
    }
}
