package io.streamfold.sim;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.hw.Stage;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.passes.PassContext;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QOp;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.Quantize;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sigmoid and tanh tables follow the output width: at 8, 12 and 16 bits, every input code is
 * within one output step of the exact function, through the integer reference and through the
 * cycle simulator (one inference whose vector holds every code of the input format).
 */
class TableAccuracySimTest {

    /** The graph {@code y = f(x)} over a vector holding every code of a {@code bits}-wide input with {@code frac} fractional bits. */
    static QuantizedGraph everyCode(Op.Tabulated f, int bits, int frac) {
        Graph g = new Graph("t", "x", Shape.of(1 << bits), List.of(new Node("op", f, "x", "y")), "y");
        QuantConfig cfg = QuantConfig.defaults().withBits(8, bits).withOverrides(Map.of(), new QuantConfig.LayerOverride(bits, frac, null));
        return new Quantize(cfg).run(g, Map.of("x", 1.0, "y", 1.0), new PassContext());
    }

    static long[] codes(QFormat in) {
        long[] x = new long[1 << in.bits()];
        for (int i = 0; i < x.length; i++) {
            x[i] = in.min() + i;
        }
        return x;
    }

    @Test
    void sigmoidAndTanhAreWithinOneStepAtEveryInputCode() {
        for (int bits : new int[] {8, 12, 16}) {
            for (Op.Tabulated f : List.<Op.Tabulated>of(new Op.Sigmoid(), new Op.Tanh())) {
                // inputs covering +-8 (past both functions' saturation at 16 bits) and +-2 (inside it)
                for (int frac : new int[] {bits - 4, bits - 2}) {
                    QuantizedGraph q = everyCode(f, bits, frac);
                    QOp.QLut lut = (QOp.QLut) q.op("op");
                    QFormat in = lut.in();
                    QFormat out = lut.out();
                    assertEquals(new QFormat(bits, frac), in);
                    assertEquals(new QFormat(bits, bits - 1), out);
                    String what = f.label() + " " + in + " -> " + out + " by " + lut.lut();
                    if (bits != 12) {
                        assertEquals(bits == 16, lut.lut().interpolates(), what); // 8-bit inputs index a plain table
                    }
                    long[] x = codes(in);
                    long[] y = IntegerInterpreter.run(q, x);
                    for (int i = 0; i < x.length; i++) {
                        double err = Math.abs(out.toDouble(y[i]) - f.apply(in.toDouble(x[i])));
                        assertTrue(err <= out.step(), what + ": x = " + x[i] + ", error " + err / out.step() + " steps");
                    }
                    HwDesign d = LowerToHardware.run(q, ParallelismPlan.serial().withInputElems(4));
                    Stage.Elementwise s = (Stage.Elementwise) d.stages().stream().filter(t -> t instanceof Stage.Elementwise).findFirst().orElseThrow();
                    assertEquals(lut.lut().interpolates() ? 2 : 1, d.channels().get(s.output()).registers(), what);
                    CycleSimulator.Result r = CycleSimulator.run(d, List.of(x), new Stimulus(bits, 0.2, 0.3));
                    assertArrayEquals(y, r.outputs().get(0), what + ": simulator");
                }
            }
        }
    }
}
