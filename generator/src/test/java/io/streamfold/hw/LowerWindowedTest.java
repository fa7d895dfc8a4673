package io.streamfold.hw;

import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.ir.Window;
import io.streamfold.passes.PassContext;
import io.streamfold.quant.QOp;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.Quantize;
import io.streamfold.quant.QuantizedGraph;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Conv and pooling lower to sliding-window stages with the documented geometry, weights and diagnostics. */
class LowerWindowedTest {

    static QuantizedGraph single(Shape in, Op op) {
        Random r = new Random(1);
        Graph g = new Graph("t", "x", in, List.of(new Node("layer", op, List.of("x"), "y")), "y");
        List<double[]> calib = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            double[] x = new double[in.size()];
            for (int j = 0; j < x.length; j++) {
                x[j] = r.nextGaussian();
            }
            calib.add(x);
        }
        return new Quantize(QuantConfig.defaults()).run(g, calib, new PassContext());
    }

    static Tensor ramp(int... dims) {
        Shape s = new Shape(dims);
        double[] d = new double[s.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = (i % 7 - 3) / 8.0;
        }
        return Tensor.of(s, d);
    }

    static Op.Conv conv(int out, int in, int group, int k, int stride, int pad) {
        return new Op.Conv(ramp(out, in / group, k, k), ramp(out), Window.of(new int[] {k, k}, new int[] {stride, stride},
                new int[] {pad, pad, pad, pad}), group);
    }

    @Test
    void convIsSlidingWindowThenMatVecOncePerPixel() {
        QuantizedGraph q = single(Shape.of(4, 6, 5), conv(6, 4, 1, 3, 1, 1));
        HwDesign d = LowerToHardware.run(q, ParallelismPlan.serial().withInputElems(2).with("layer", 3, 2));
        assertEquals(2, d.stages().size());
        Stage.SlidingWindow w = assertInstanceOf(Stage.SlidingWindow.class, d.stages().get(0));
        Stage.MatVec m = assertInstanceOf(Stage.MatVec.class, d.stages().get(1));
        assertFalse(w.channelMajor());
        assertEquals(2, w.elems());
        assertEquals(0, w.padValue());
        assertEquals(30, m.vectors());
        assertEquals(36, m.inFeatures());
        assertEquals(30 * 18 * 2, m.cycles());
        assertEquals(30L * 36 * 6, m.macs());
        // ROM word (nf, sf), lane (p, s) holds weight (o, c, ky, kx) of window element sf*SIMD+s = (ky*3 + kx)*4 + c.
        QOp.QConv c = (QOp.QConv) q.op("layer");
        int o = 4;
        int ky = 2;
        int kx = 1;
        int ch = 3;
        int j = (ky * 3 + kx) * 4 + ch;
        assertEquals(c.weight().at(((o * 4 + ch) * 3 + ky) * 3 + kx), m.weight((o / 3) * 18 + j / 2, o % 3, j % 2));
        assertEquals(Stage.SlidingWindow.fullRateRows(6, 3, 1, 1, 6), w.rows());
        assertTrue(w.rows() >= Stage.SlidingWindow.minRows(3, 1));
    }

    @Test
    void oneDimensionalLayersBecomeAColumn() {
        QuantizedGraph q = single(Shape.of(2, 9), new Op.MaxPool(Window.of(new int[] {3}, new int[] {2}, new int[] {1, 0})));
        HwDesign d = LowerToHardware.run(q, ParallelismPlan.serial().withInputElems(2));
        Stage.SlidingWindow w = assertInstanceOf(Stage.SlidingWindow.class, d.stages().get(0));
        assertEquals(List.of(9, 1, 3, 1, 2, 1, 1, 0, 4, 1), List.of(w.height(), w.width(), w.kernelH(), w.kernelW(), w.strideH(),
                w.strideW(), w.padTop(), w.padLeft(), w.outHeight(), w.outWidth()));
        assertTrue(w.channelMajor());
        assertEquals(q.format("x").min(), w.padValue());
        Stage.PoolReduce p = assertInstanceOf(Stage.PoolReduce.class, d.stages().get(1));
        assertEquals(2, p.elems());
    }

    @Test
    void depthwiseConvIsAVectorVectorUnit() {
        QuantizedGraph q = single(Shape.of(4, 5, 5), conv(8, 4, 4, 3, 2, 1));
        HwDesign d = LowerToHardware.run(q, ParallelismPlan.serial().with("layer", 2, 1));
        Stage.Depthwise dw = assertInstanceOf(Stage.Depthwise.class, d.stages().get(d.stages().size() - 1));
        assertEquals(2, dw.multiplier());
        assertEquals(4, dw.lanes());
        assertEquals(9 * 2 * 9, dw.cycles());
    }

    @Test
    void groupedConvIsOneMatVecWithABlockDiagonalWeight() {
        // 4 -> 4 channels in 2 groups: output o reads input channels 2*(o/2) and 2*(o/2)+1 only
        QuantizedGraph q = single(Shape.of(4, 5, 5), conv(4, 4, 2, 3, 1, 1));
        HwDesign d = LowerToHardware.run(q, ParallelismPlan.serial().with("layer", 2, 4));
        Stage.MatVec mv = assertInstanceOf(Stage.MatVec.class, d.stages().get(d.stages().size() - 1));
        assertEquals(9 * 4, mv.inFeatures());
        QOp.QConv c = (QOp.QConv) q.op("layer");
        int zeros = 0;
        for (int addr = 0; addr < mv.sf() * mv.nf(); addr++) {
            for (int p = 0; p < mv.pe(); p++) {
                for (int s = 0; s < mv.simd(); s++) {
                    int o = (addr / mv.sf()) * mv.pe() + p;
                    int ci = s; // SIMD 4 = every input channel of one tap
                    boolean inGroup = ci / 2 == o / 2;
                    long w = mv.weight(addr, p, s);
                    zeros += w == 0 ? 1 : 0;
                    if (!inGroup) {
                        assertEquals(0, w, "output " + o + " does not read input channel " + ci);
                    } else {
                        int k = addr % mv.sf();
                        assertEquals(c.weight().at((o * 2 + ci % 2) * 9 + k), w);
                    }
                }
            }
        }
        assertTrue(zeros >= 4 * 9 * 2, "half of every output's weights are the zero blocks");
        assertEquals(Lanes.of(q, "layer").inputs(), 4, "lanes of a grouped conv follow the group-1 rule");
    }

    @Test
    void unsupportedGeometryAndPlansAreDiagnosed() {
        ModelException simd = assertThrows(ModelException.class,
                () -> LowerToHardware.run(single(Shape.of(4, 5, 5), conv(4, 4, 1, 3, 1, 1)), ParallelismPlan.serial().with("layer", 1, 3)));
        assertEquals(Diagnostic.SF_BAD_PLAN, simd.id());
        Op.MaxPool wide = new Op.MaxPool(Window.of(new int[] {2, 2}, new int[] {1, 1}, new int[] {2, 0, 0, 0}));
        ModelException pad = assertThrows(ModelException.class, () -> LowerToHardware.run(single(Shape.of(1, 4, 4), wide),
                ParallelismPlan.serial()));
        assertEquals(Diagnostic.SF_UNSUPPORTED_HW, pad.id());
    }
}
