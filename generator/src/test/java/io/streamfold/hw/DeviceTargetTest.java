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
        return compile(model, QuantConfig.defaults(), t, budget);
    }

    private static Pipeline.Result compile(String model, QuantConfig quant, DeviceTarget t, int budget) {
        Graph g = ModelLoader.load(Examples.onnx(model));
        List<double[]> calib = DataFiles.samples(Examples.dir(model).resolve("calib.npy"), g.inputShape());
        return Pipeline.compile(g, new Pipeline.Settings(quant, ParallelismPlan.serial(), budget, t), calib);
    }

    /** The UP5K with its DSP blocks counted one per multiplier, as the planner counted them before widths mattered. */
    private static final DeviceTarget UP5K_PER_MULTIPLIER = new DeviceTarget("up5k-per-multiplier", "ice40", "up5k", "sg48", 5280, 8,
            30 * 4096L, 4, 48, Pipelining.ICE40, DspMapping.PER_MULTIPLIER);

    @Test
    void theUp5kPlansForItsEightDsps() {
        for (String m : Examples.MODELS) {
            Pipeline.Result r = compile(m, DeviceTarget.ICE40_UP5K, 0);
            int dsps = DeviceTarget.ICE40_UP5K.dspBlocks(r.design());
            assertTrue(dsps <= 8, m + ": " + dsps);
            assertTrue(dsps > 3, m + " should use its DSPs: " + dsps);
            assertEquals(DeviceTarget.ICE40_UP5K, r.target());
        }
        // an explicit budget still wins below the device's count, and is capped by it above
        assertTrue(DeviceTarget.ICE40_UP5K.dspBlocks(compile("mlp_bn", DeviceTarget.ICE40_UP5K, 4).design()) <= 4);
        assertTrue(DeviceTarget.ICE40_UP5K.dspBlocks(compile("mlp_bn", DeviceTarget.ICE40_UP5K, 32).design()) <= 8);
    }

    @Test
    void aDesignWithMoreDspBlocksThanTheDeviceIsRefused() {
        // planned without a device bound: 26 multipliers, which the UP5K's 8 SB_MAC16 cannot hold
        HwDesign wide = compile("mlp_bn", DeviceTarget.GENERIC, 32).design();
        assertTrue(DeviceTarget.ICE40_UP5K.dspBlocks(wide) > 8, "the generic plan uses more than 8");
        ModelException e = assertThrows(ModelException.class, () -> DeviceTarget.ICE40_UP5K.checkFits(wide));
        assertEquals(Diagnostic.SF_UNSUPPORTED_HW, e.id());
        DeviceTarget.ICE40_UP5K.checkFits(compile("mlp_bn", DeviceTarget.ICE40_UP5K, 32).design());
    }

    @Test
    void theUp5kCountsSbMac16ByOperandWidths() {
        // 16 bits: the softmax's products are wider than one SB_MAC16 takes, so the planner gives the
        // layers fewer lanes than eight multipliers would allow
        Pipeline.Result wide = compile("cnn_seed", QuantConfig.defaults().withBits(16, 16), DeviceTarget.ICE40_UP5K, 0);
        int dsps = DeviceTarget.ICE40_UP5K.dspBlocks(wide.design());
        assertTrue(dsps <= 8 && dsps > wide.design().multipliers(), dsps + " DSP blocks, " + wide.design().multipliers() + " multipliers");
        // counted one per multiplier, the plan takes more SB_MAC16 than the device has (Yosys: 10)
        Pipeline.Result old = compile("cnn_seed", QuantConfig.defaults().withBits(16, 16), UP5K_PER_MULTIPLIER, 0);
        assertTrue(DeviceTarget.ICE40_UP5K.dspBlocks(old.design()) > 8, old.design().multipliers() + " multipliers");
        // 8 bits: every product of mlp_bn and cnn_seed is one SB_MAC16, so they plan as before
        for (String m : List.of("mlp_bn", "cnn_seed")) {
            assertEquals(compile(m, UP5K_PER_MULTIPLIER, 0).plan(), compile(m, DeviceTarget.ICE40_UP5K, 0).plan(), m);
        }
        // cnn_residual's pool reciprocals (1/4, 1/16) are shifts: two multipliers take no SB_MAC16, which
        // the planner spends on its slowest conv
        Pipeline.Result res = compile("cnn_residual", DeviceTarget.ICE40_UP5K, 0);
        assertEquals(res.design().multipliers() - 2, DeviceTarget.ICE40_UP5K.dspBlocks(res.design()));
        assertTrue(res.design().initiationInterval() < compile("cnn_residual", UP5K_PER_MULTIPLIER, 0).design().initiationInterval());
        // no DSP blocks on the HX8K: its multipliers are logic
        assertEquals(0, DeviceTarget.ICE40_HX8K.dspBlocks(res.design()));
        assertEquals(res.design().multipliers(), DeviceTarget.GENERIC.dspBlocks(res.design()));
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
