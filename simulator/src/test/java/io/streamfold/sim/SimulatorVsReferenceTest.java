package io.streamfold.sim;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.compile.Pipeline;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.ir.Graph;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cycle-accurate simulator computes exactly what the integer reference computes. */
class SimulatorVsReferenceTest {

    static Path examples() {
        String prop = System.getProperty("streamfold.root");
        Path root = prop != null ? Paths.get(prop) : Paths.get("").toAbsolutePath().getParent();
        return root.resolve("examples");
    }

    static QuantizedGraph quantize(String model, QuantConfig cfg) {
        Path dir = examples().resolve(model);
        Graph g = ModelLoader.load(dir.resolve("model.onnx"));
        return Pipeline.quantize(g, cfg, DataFiles.samples(dir.resolve("calib.npy"), g.inputShape())).quantized();
    }

    static List<long[]> inputs(String model, QuantizedGraph q, int n) {
        Path dir = examples().resolve(model);
        List<double[]> x = DataFiles.samples(dir.resolve("inputs.npy"), q.graph().inputShape());
        List<long[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(IntegerInterpreter.quantizeInput(q, x.get(i)));
        }
        return out;
    }

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
        QuantizedGraph q = quantize("mlp_bn", QuantConfig.defaults());
        List<long[]> xs = inputs("mlp_bn", q, 20);
        check(q, ParallelismPlan.serial(), xs, Stimulus.ideal());
        check(q, ParallelismPlan.serial(), xs, new Stimulus(7, 0.3, 0.4));
        ParallelismPlan p = ParallelismPlan.serial().withInputElems(8).with("/0/Gemm", 4, 8).with("/3/Gemm", 2, 4).with("/6/Gemm", 5, 2);
        check(q, p, xs, Stimulus.ideal());
        check(q, p, xs, new Stimulus(3, 0.5, 0.5));
    }

    @Test
    void serialMlpTimingIsWhatTheScheduleSays() {
        QuantizedGraph q = quantize("mlp_bn", QuantConfig.defaults());
        HwDesign d = LowerToHardware.run(q, ParallelismPlan.serial());
        List<long[]> xs = inputs("mlp_bn", q, 8);
        CycleSimulator.Result r = CycleSimulator.run(d, xs, Stimulus.ideal());
        assertEquals(64 * 64, d.initiationInterval());
        assertEquals(d.initiationInterval(), r.measuredInterval());
        assertTrue(r.latency() > 64 && r.latency() < 64 * 64 + 64 * 32 + 32 * 10 + 100, "latency " + r.latency());
    }
}
