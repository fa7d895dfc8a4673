package io.streamfold.testbench;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.compile.Pipeline;
import io.streamfold.hw.DeviceTarget;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.ir.Graph;
import io.streamfold.quant.QuantConfig;
import io.streamfold.testutil.Examples;
import io.streamfold.verilog.VerilogLowering;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The planner's DSP count for the UP5K is what Yosys spends: cnn_seed at 16 bits (its softmax's
 * products take three SB_MAC16 each and the planner plans around them) and cnn_residual at 8 bits
 * (its pool reciprocals are powers of two, shifts that take none), each planned for the device's
 * 8 DSP blocks, synthesized with {@code synth_ice40 -dsp}.
 */
@Tag("eda")
class DspCountSynthTest {

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0} at {1} bits")
    @CsvSource({"cnn_seed, 16", "cnn_residual, 8"})
    void thePlannersDspCountIsTheSynthesizedOne(String model, int bits) throws Exception {
        Graph g = ModelLoader.load(Examples.onnx(model));
        List<double[]> calib = DataFiles.samples(Examples.dir(model).resolve("calib.npy"), g.inputShape());
        DeviceTarget up5k = DeviceTarget.ICE40_UP5K;
        HwDesign d = Pipeline.compile(g, new Pipeline.Settings(QuantConfig.defaults().withBits(bits, bits), ParallelismPlan.serial(), 0, up5k),
                calib).design();
        int expected = up5k.dspBlocks(d);
        assertTrue(expected <= up5k.dsps(), expected + " DSP blocks");
        // the case each design stands for: widths that need more blocks than multipliers, or constants that need fewer
        assertTrue(expected != d.multipliers(), expected + " DSP blocks for " + d.multipliers() + " multipliers");
        EdaRunner.write(tmp, VerilogLowering.emit(d));
        assertEquals(expected, TablesCoSimTest.ice40Dsps(tmp, d), model + ": " + d.multipliers() + " multipliers");
    }
}
