package io.streamfold.hw;

import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Node;
import io.streamfold.ir.Shape;
import io.streamfold.passes.PassContext;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.Quantize;
import io.streamfold.quant.QuantizedGraph;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Issue 11: what the hardware cannot represent is refused at lowering, naming the node, never wrapped around. */
class LowerLimitsTest {

    @Test
    void aStageNeedingMoreThan2To31CyclesIsRefused() {
        // 2048 x 2048 pixels x 9 taps x 64 outputs, one multiplier: 2.4e9 cycles, which wrapped to a negative int before
        Graph g = new Graph("big", "x", Shape.of(1, 2048, 2048),
                List.of(new Node("conv", LowerWindowedTest.conv(64, 1, 1, 3, 1, 1), List.of("x"), "y")), "y");
        QuantizedGraph q = new Quantize(QuantConfig.defaults()).run(g, Map.of("x", 1.0, "y", 4.0), new PassContext());
        ModelException e = assertThrows(ModelException.class, () -> LowerToHardware.run(q, ParallelismPlan.serial()));
        assertEquals(Diagnostic.SF_UNSUPPORTED_HW, e.id());
        assertEquals("conv", e.node());
        // with lanes it fits
        HwDesign d = LowerToHardware.run(q, ParallelismPlan.serial().with("conv", 64, 1));
        assertTrue(d.initiationInterval() > 0);
    }

    @Test
    void topNamesNeverClashWithKeywordsOrTheTopsOwnSignals() {
        for (String n : List.of("small", "do", "const", "supply0", "aresetn", "cycle", "dut", "c0_in", "u_s1_x", "s3_relu")) {
            String top = LowerToHardware.topName(n);
            assertTrue(!LowerToHardware.isKeyword(top) && !top.equals(n), n + " -> " + top);
        }
        assertEquals("mlp_bn", LowerToHardware.topName("mlp_bn"));
        String longName = LowerToHardware.verilogName("x".repeat(5000));
        assertTrue(longName.length() <= 48, longName);
        assertTrue(!longName.equals(LowerToHardware.verilogName("x".repeat(4999))), "long names stay distinct");
    }
}
