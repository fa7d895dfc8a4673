package io.streamfold.hw;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.compile.Pipeline;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.passes.PassContext;
import io.streamfold.quant.ExpTable;
import io.streamfold.quant.QOp;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.Quantize;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.testutil.Examples;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cost formula on the examples' designs, its terms computed here from the stages directly. */
class HardwareCostTest {

    private static HwDesign design(String model, QuantConfig q, int budget) {
        Graph g = ModelLoader.load(Examples.model(model));
        return Pipeline.compile(g, new Pipeline.Settings(q, ParallelismPlan.serial(), budget),
                DataFiles.samples(Examples.data(model, "calib.npy"), g)).design();
    }

    @Test
    void anMlpCostsItsMatVecProductsItsRomAndItsBuffers() {
        HwDesign d = design("mlp_bn", QuantConfig.defaults().withMaxAbs(), 0);
        HardwareCost c = HardwareCost.of(d);
        assertEquals(3 * 8 * 8, c.multiplierBits(), "three serial 8x8 matrix-vector units");
        assertEquals(d.romBits(), c.romBits());
        assertEquals(d.bufferBits(), c.bufferBits());
        assertEquals(c.multiplierBits() + c.romBits() + c.bufferBits(), c.total());
        HardwareCost wide = HardwareCost.of(design("mlp_bn", QuantConfig.defaults().withMaxAbs().withBits(12, 8), 64));
        long products = 0;
        for (Stage s : design("mlp_bn", QuantConfig.defaults().withMaxAbs().withBits(12, 8), 64).stages()) {
            if (s instanceof Stage.MatVec mv) {
                products += (long) mv.pe() * mv.simd() * 12 * 8;
            }
        }
        assertEquals(products, wide.multiplierBits(), "PE x SIMD multipliers of 12 x 8 bits each");
    }

    @Test
    void everyKindOfMultiplierCountsItsOperandWidths() {
        // cnn_residual has matrix-vector units, an affine, a LeakyRelu and both average pools.
        // On the generic target the affine and the LeakyRelu that read a unit's output run inside it
        // (MatVec.activation()) and count with their own operands.
        HwDesign d = design("cnn_residual", QuantConfig.defaults(), 0);
        long want = 0;
        int kinds = 0;
        List<Stage> parts = new ArrayList<>();
        for (Stage s : d.stages()) {
            parts.add(s);
            if (s instanceof Stage.MatVec mv && mv.activation() != null) {
                parts.add(mv.activation());
            }
        }
        for (Stage s : parts) {
            long per = 0;
            if (s instanceof Stage.MatVec mv) {
                per = (long) mv.op().weight().bits() * mv.op().in().bits();
                kinds++;
                want += (long) mv.pe() * mv.simd() * per;
                continue;
            } else if (s instanceof Stage.Elementwise e && e.op() instanceof QOp.QAffine a) {
                per = (long) a.scale().bits() * a.in().bits();
            } else if (s instanceof Stage.Elementwise e && e.op() instanceof QOp.QLeakyRelu l) {
                per = (long) l.alphaBits() * l.in().bits();
            } else if (s instanceof Stage.PoolReduce p && p.op() instanceof QOp.QAvgPool a) {
                per = (long) a.sumBits() * a.recipBits();
            } else if (s instanceof Stage.GlobalAvgPool p) {
                per = (long) p.op().sumBits() * p.op().recipBits();
            } else {
                assertEquals(0, s.multipliers(), s.kind() + " has multipliers this test does not know");
                continue;
            }
            kinds++;
            want += s.multipliers() * per;
        }
        assertTrue(kinds >= 6, "the design has the stage kinds this test is about: " + kinds);
        assertEquals(want, HardwareCost.of(d).multiplierBits());
    }

    @Test
    void aSoftmaxCountsItsReducedExponentialPerLane() {
        // 16-bit distances: the exponential interpolates, one more multiplier per lane and two ROMs
        int n = 8;
        Graph g = new Graph("sm", "x", Shape.of(n), List.of(new Node("op", new Op.Softmax(0), "x", "y")), "y");
        QuantConfig cfg = QuantConfig.defaults().withBits(8, 16).withOverrides(Map.of(), new QuantConfig.LayerOverride(16, 12, null));
        QuantizedGraph q = new Quantize(cfg).run(g, Map.of("x", 1.0, "y", 1.0), new PassContext());
        QOp.QSoftmax op = (QOp.QSoftmax) q.op("op");
        ExpTable.Reduced exp = (ExpTable.Reduced) op.exp();
        long perLane = (long) op.exp().out().bits() * op.recipBits() + (long) exp.slopeBits() * (exp.interpBits() + 1);
        // the ROMs hold a power of two of words each
        long rom = (long) Integer.highestOneBit(2 * exp.reductions() - 1) * (exp.shiftBits() + exp.offsetBits())
                + (long) Integer.highestOneBit(2 * exp.entries() - 1) * (exp.valueBits() + exp.slopeBits());
        assertEquals(rom, exp.romBits());
        for (int elems : new int[] {2, n}) {
            HwDesign d = LowerToHardware.run(q, ParallelismPlan.serial().withInputElems(elems));
            Stage s = d.stages().get(d.stages().size() - 1);
            assertEquals(elems == n ? "SoftmaxTree" : "Softmax", s.kind());
            assertEquals(2 * elems, s.multipliers(), "the product e * r and the interpolation, per lane");
            assertEquals(elems * perLane, HardwareCost.of(d).multiplierBits());
            // the state machine's lanes read one table, the tree has one per lane
            assertEquals(elems == n ? n * rom : rom, s.romBits());
        }
    }
}
