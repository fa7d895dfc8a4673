package io.streamfold.hw;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.compile.Pipeline;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.quant.QuantConfig;
import io.streamfold.testutil.Examples;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Device targets: the DSP count bounds the planner, the memories must hold the constants. */
class DeviceTargetTest {

    private static Pipeline.Result compile(String model, DeviceTarget t, int budget) {
        Graph g = ModelLoader.load(Examples.onnx(model));
        List<double[]> calib = DataFiles.samples(Examples.dir(model).resolve("calib.npy"), g.inputShape());
        return Pipeline.compile(g, new Pipeline.Settings(QuantConfig.defaults(), ParallelismPlan.serial(), budget, t), calib);
    }

    @Test
    void theUp5kPlansForItsEightDsps() {
        for (String m : Examples.MODELS) {
            Pipeline.Result r = compile(m, DeviceTarget.ICE40_UP5K, 0);
            assertTrue(r.design().multipliers() <= 8, m + ": " + r.design().multipliers());
            assertTrue(r.design().multipliers() > 3, m + " should use its DSPs: " + r.design().multipliers());
            assertEquals(DeviceTarget.ICE40_UP5K, r.target());
        }
        // an explicit budget still wins
        assertTrue(compile("mlp_bn", DeviceTarget.ICE40_UP5K, 4).design().multipliers() <= 4);
    }

    @Test
    void weightsThatDoNotFitAreRefusedSayingWhat() {
        DeviceTarget tiny = new DeviceTarget("tiny", "", "", "", 0, -1, 16 * 1024, 0, 48, Pipelining.GENERIC);
        ModelException e = assertThrows(ModelException.class, () -> compile("mlp_bn", tiny, 0));
        assertEquals(Diagnostic.SF_UNSUPPORTED_HW, e.id());
        assertTrue(e.reason().contains("kbit"), e.reason());
    }

    @Test
    void memoryBitsAddUp() {
        HwDesign d = compile("mlp_bn", DeviceTarget.GENERIC, 0).design();
        // 8-bit weights of 64x64 + 32x64 + 10x32, plus one accumulator-wide bias per output
        long weights = 8L * (64 * 64 + 32 * 64 + 10 * 32);
        assertTrue(d.romBits() > weights && d.romBits() < weights + 106 * 40, "rom bits " + d.romBits());
        assertTrue(d.bufferBits() > 0);
        assertEquals("unknown target 'x'", assertThrows(ModelException.class, () -> DeviceTarget.of("x")).reason());
    }
}
