package io.streamfold.bound;

import io.streamfold.compile.Pipeline;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.passes.PassContext;
import io.streamfold.quant.ExpTable;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QOp;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantErrorReport;
import io.streamfold.quant.Quantize;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.FloatInterpreter;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.testutil.Property;
import io.streamfold.testutil.RandomNetworks;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Soundness: on random small networks of every op kind, quantized at 4, 8 and 16 bits, and
 * random inputs inside the calibrated box (the calibration samples themselves, uniform points,
 * corners, and points on the input grid's rounding ties), with calibrated formats and with
 * per-layer formats that force requantizing pass-throughs and saturation, every element of every value keeps the
 * bound's invariant: its float value lies in its interval, and the integer model's value is
 * {@code clamp(x + delta, a, b)} with {@code |delta| <= d}; so its error is at most its bound, and
 * no layer's measured largest error exceeds its bound.
 */
class ErrorBoundPropertyTest {

    @ParameterizedTest
    @ValueSource(ints = {4, 8, 16})
    void everyElementOfEveryValueStaysWithinItsBound(int bits) {
        java.util.concurrent.atomic.AtomicInteger reduced = new java.util.concurrent.atomic.AtomicInteger();
        Property.forAll("error bound holds at " + bits + " bits", 60, (r, caseNo) -> {
            Graph g = RandomNetworks.graph(r);
            List<double[]> calib = RandomNetworks.samples(r, g, 16 + r.nextInt(16), 0.5 + r.nextDouble());
            QuantConfig cfg = QuantConfig.defaults().withBits(bits, bits).withPerChannel(r.nextBoolean())
                    .withLutIndexBits(3 + r.nextInt(bits > 8 ? 10 : 8)).withConstBits(4 + r.nextInt(13));
            if (r.nextInt(4) == 0) {
                cfg = cfg.withPercentile(90 + 10 * r.nextDouble()); // formats narrower than the data: saturation
            }
            // mostly as the pipeline does (BatchNorm folded); sometimes a graph with its BatchNorms
            // quantized as affines, so that the BatchNorm reference formula is covered too
            boolean fold = r.nextInt(4) != 0;
            QuantizedGraph q = quantize(g, cfg, calib, fold);
            if (r.nextInt(3) == 0) {
                q = quantize(g, withRandomOverrides(r, cfg, q, bits), calib, fold);
            }
            for (Node n : q.graph().nodes()) {
                if (q.op(n.name()) instanceof QOp.QSoftmax sm && sm.exp() instanceof ExpTable.Reduced) {
                    reduced.incrementAndGet();
                }
            }
            InputBox box = InputBox.hull(calib);
            ErrorBound bound = ErrorBound.analyze(q, box);
            List<double[]> inputs = inputsInside(r, box, q.inputFormat(), calib);
            for (double[] x : inputs) {
                assertTrue(box.contains(x));
                checkInvariant(q, bound, x);
            }
            List<String> violations = bound.violations(QuantErrorReport.measure(q, inputs));
            assertTrue(violations.isEmpty(), String.join("; ", violations));
        });
        if (bits > 4) {
            // softmax inputs wider than the random index caps: the range-reduced exponential is covered
            assertTrue(reduced.get() > 0, "no softmax with a reduced exponential at " + bits + " bits");
        }
    }

    private static QuantizedGraph quantize(Graph g, QuantConfig cfg, List<double[]> calib, boolean fold) {
        return fold ? Pipeline.quantize(g, cfg, calib).quantized() : new Quantize(cfg).run(g, calib, new PassContext());
    }

    /**
     * Per-layer output formats one bit coarser to two bits finer than calibrated (finer ones
     * saturate), on a third of the nodes and sometimes the input: pass-through ops (Relu, MaxPool,
     * Flatten, Reshape) then requantize, and values saturate where calibration would not let them.
     */
    private static QuantConfig withRandomOverrides(Random r, QuantConfig cfg, QuantizedGraph q, int bits) {
        Map<String, QuantConfig.LayerOverride> layers = new HashMap<>();
        for (Node n : q.graph().nodes()) {
            if (r.nextInt(3) == 0) {
                layers.put(n.name(), new QuantConfig.LayerOverride(bits, q.format(n.output()).frac() - 1 + r.nextInt(4), null));
            }
        }
        QuantConfig.LayerOverride input = r.nextInt(3) == 0 ? new QuantConfig.LayerOverride(bits, q.inputFormat().frac() + r.nextInt(3), null)
                : null;
        return cfg.withOverrides(layers, input);
    }

    /** Samples of the box: calibration samples, uniform points, corners, and rounding ties of the input grid. */
    static List<double[]> inputsInside(Random r, InputBox box, QFormat f, List<double[]> calib) {
        List<double[]> xs = new ArrayList<>(calib.subList(0, 4));
        int n = box.size();
        for (int s = 0; s < 24; s++) {
            double[] x = new double[n];
            int kind = s % 4;
            for (int i = 0; i < n; i++) {
                double lo = box.lo(i);
                double hi = box.hi(i);
                double u = lo + (hi - lo) * r.nextDouble();
                x[i] = switch (kind) {
                    case 0 -> u;
                    case 1 -> r.nextBoolean() ? lo : hi;
                    case 2 -> r.nextInt(3) == 0 ? u : r.nextBoolean() ? lo : hi;
                    default -> {
                        // a tie of the input rounding (k + 1/2 steps), if one lies inside
                        double tie = (Math.floor(u / f.step()) + 0.5) * f.step();
                        yield tie >= lo && tie <= hi ? tie : u;
                    }
                };
            }
            xs.add(x);
        }
        return xs;
    }

    /** The invariant of {@link ValueBound} for every element of every value on one input. */
    static void checkInvariant(QuantizedGraph q, ErrorBound bound, double[] x) {
        Map<String, double[]> ref = FloatInterpreter.runAll(q.graph(), x);
        Map<String, long[]> got = IntegerInterpreter.runAll(q, IntegerInterpreter.quantizeInput(q, x));
        for (Map.Entry<String, double[]> e : ref.entrySet()) {
            ValueBound v = bound.value(e.getKey());
            long[] fixed = got.get(e.getKey());
            assertEquals(v.size(), fixed.length);
            for (int i = 0; i < fixed.length; i++) {
                double fl = e.getValue()[i];
                double xq = v.format().toDouble(fixed[i]);
                String where = e.getKey() + "[" + i + "]: float " + fl + ", fixed " + xq + " (" + fixed[i] + "), interval [" + v.lo(i) + ", "
                        + v.hi(i) + "], clamp [" + v.clampLo(i) + ", " + v.clampHi(i) + "], d " + v.d(i) + ", bound " + v.error(i);
                if (!(fl >= v.lo(i) && fl <= v.hi(i))) {
                    fail("float value outside its interval: " + where);
                }
                if (fixed[i] < v.clampLo(i) || fixed[i] > v.clampHi(i)) {
                    fail("fixed value outside its clamp range: " + where);
                }
                boolean atLo = fixed[i] == v.clampLo(i);
                boolean atHi = fixed[i] == v.clampHi(i);
                boolean ok;
                if (atLo && atHi) {
                    ok = true; // a one-point clamp range: clamp(anything) is that point
                } else if (atHi) {
                    ok = fl + v.d(i) >= v.b(i) || Math.abs(xq - fl) <= v.d(i);
                } else if (atLo) {
                    ok = fl - v.d(i) <= v.a(i) || Math.abs(xq - fl) <= v.d(i);
                } else {
                    ok = Math.abs(xq - fl) <= v.d(i);
                }
                if (!ok) {
                    fail("no delta within d explains the fixed value: " + where);
                }
                if (!(Math.abs(xq - fl) <= v.error(i))) {
                    fail("error above its bound: " + where);
                }
            }
        }
    }
}
