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
import io.streamfold.quant.ExpTable;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QOp;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.Quantize;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tables follow the output width: at 8, 12 and 16 bits, every input code of sigmoid and tanh is
 * within one output step of the exact function, through the integer reference and through the
 * cycle simulator (one inference whose vector holds every code of the input format); every
 * distance code of softmax's exponential is within one step of the exponential's format, and both
 * softmax stages compute the integer reference's probabilities.
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

    @Test
    void softmaxExpIsWithinOneStepAtEveryDistanceCode() {
        int n = 8;
        for (int bits : new int[] {8, 12, 16}) {
            for (int frac : new int[] {bits - 4, bits - 2}) {
                Graph g = new Graph("sm", "x", Shape.of(n), List.of(new Node("op", new Op.Softmax(0), "x", "y")), "y");
                QuantConfig cfg = QuantConfig.defaults().withBits(8, bits).withOverrides(Map.of(), new QuantConfig.LayerOverride(bits, frac, null));
                QuantizedGraph q = new Quantize(cfg).run(g, Map.of("x", 1.0, "y", 1.0), new PassContext());
                QOp.QSoftmax op = (QOp.QSoftmax) q.op("op");
                QFormat in = op.in();
                ExpTable exp = op.exp();
                QFormat e = exp.out();
                assertEquals(new QFormat(bits, frac), in);
                assertEquals(new QFormat(bits + 4, bits + 2), e);
                String what = in + " -> " + e + " by " + exp;
                // 8-bit distances index a plain table; the 10- and 12-bit index caps of 12 and 16 bits do not
                assertEquals(bits == 8, exp instanceof ExpTable.Plain, what);
                for (long t = 0; t < 1L << bits; t++) {
                    double err = Math.abs(e.toDouble(op.exp(in.max(), in.max() - t)) - Math.exp(-in.toDouble(t)));
                    assertTrue(err <= e.step(), what + ": t = " + t + ", error " + err / e.step() + " steps");
                }
                List<long[]> xs = new ArrayList<>();
                Random rnd = new Random(bits * 31 + frac);
                for (int v = 0; v < 24; v++) {
                    long[] x = new long[n];
                    for (int i = 0; i < n; i++) {
                        // a spread that reaches every part of the table, then uniform codes
                        x[i] = v < 12 ? in.max() - (long) ((v * n + i) * ((1L << bits) - 1) / (12.0 * n - 1)) : in.min() + rnd.nextInt(1 << bits);
                    }
                    xs.add(x);
                }
                for (int elems : new int[] {2, n}) {
                    HwDesign d = LowerToHardware.run(q, ParallelismPlan.serial().withInputElems(elems));
                    Stage s = d.stages().stream().filter(t -> t instanceof Stage.Softmax || t instanceof Stage.SoftmaxTree).findFirst().orElseThrow();
                    if (s instanceof Stage.Softmax sm) {
                        assertEquals(3 * sm.beats() + 1 + exp.stages() + sm.divSteps(), sm.cycles(), what);
                        CycleSimulator.Result r = CycleSimulator.run(d, xs, Stimulus.ideal());
                        assertEquals((long) xs.size() * sm.cycles(), r.fires().get(sm.name()), what + ": active cycles of the state machine");
                    }
                    assertEquals(elems * (1 + exp.multiplierOperands().length / 2), s.multipliers(), what);
                    CycleSimulator.Result r = CycleSimulator.run(d, xs, new Stimulus(bits + elems, 0.2, 0.3));
                    for (int i = 0; i < xs.size(); i++) {
                        assertArrayEquals(IntegerInterpreter.run(q, xs.get(i)), r.outputs().get(i), what + ": " + s.kind() + ", vector " + i);
                    }
                }
            }
        }
    }
}
