package io.streamfold.quant;

import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.ir.Window;
import io.streamfold.passes.PassContext;
import io.streamfold.reference.IntegerInterpreter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Format choice, counters, overrides and errors of the quantize pass. */
class QuantizeTest {

    final Random rnd = new Random(7);

    Tensor randn(double scale, int... dims) {
        Shape s = new Shape(dims);
        double[] d = new double[s.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = scale * rnd.nextGaussian();
        }
        return Tensor.of(s, d);
    }

    List<double[]> samples(Shape s, int n) {
        List<double[]> out = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            out.add(randn(1, s.size()).data());
        }
        return out;
    }

    /** x -> conv -> relu -> maxpool -> flatten -> fc -> sigmoid. */
    Graph cnn() {
        int[] k = {3, 3};
        List<Node> nodes = List.of(
                new Node("conv", new Op.Conv(randn(0.5, 4, 1, 3, 3), randn(0.1, 4), Window.of(k, new int[] {1, 1}, new int[] {1, 1, 1, 1}), 1), "x", "c"),
                new Node("relu", new Op.Relu(), "c", "r"),
                new Node("pool", new Op.MaxPool(Window.pool(2, 2)), "r", "p"),
                new Node("flat", new Op.Flatten(), "p", "f"),
                new Node("fc", new Op.Dense(randn(0.3, 3, 16), randn(0.1, 3)), "f", "z"),
                new Node("sig", new Op.Sigmoid(), "z", "y"));
        return new Graph("cnn", "x", Shape.of(1, 4, 4), nodes, "y");
    }

    @Test
    void formatsFollowTheRules() {
        Graph g = cnn();
        List<double[]> xs = samples(g.inputShape(), 20);
        Map<String, Double> ranges = Calibration.ranges(g, xs, QuantConfig.CalibrationMethod.MAX_ABS, 0);
        PassContext ctx = new PassContext();
        QuantizedGraph q = new Quantize(QuantConfig.defaults().withMaxAbs()).run(g, xs, ctx);
        assertEquals("max-abs", q.calibration());
        assertEquals(new QFormat(8, Fixed.fracFor(ranges.get("x"), 8)), q.inputFormat());
        // The conv output is read only by the relu: its range is the relu's.
        assertEquals(new QFormat(8, Fixed.fracFor(ranges.get("r"), 8)), q.format("c"));
        assertEquals(q.format("c"), q.format("r"));
        assertEquals(q.format("c"), q.format("p"));
        assertEquals(q.format("c"), q.format("f"));
        assertEquals(new QFormat(8, Fixed.fracFor(ranges.get("z"), 8)), q.format("z"));
        assertEquals(new QFormat(8, 7), q.format("y"));
        assertEquals(ranges.get("r"), q.range("c"));

        Map<String, Integer> c = ctx.counters(Quantize.NAME);
        assertEquals(2, c.get("layers quantized"));
        assertEquals(1, c.get("luts built"));
        assertEquals(3, c.get("pass-through"));
        assertEquals(3, c.get("formats from calibration")); // x, c, z
        assertEquals(1, c.get("ranges narrowed to a following relu or clip"));
        assertEquals(6, ctx.notes().size());
    }

    @Test
    void integerOpsCarryTheirConstants() {
        Graph g = cnn();
        QuantizedGraph q = new Quantize(QuantConfig.defaults().withPerChannel(true)).run(g, samples(g.inputShape(), 20), new PassContext());
        QOp.QConv conv = (QOp.QConv) q.op("conv");
        assertEquals(q.inputFormat(), conv.in());
        assertEquals(8, conv.weight().bits());
        assertTrue(conv.weight().perChannel());
        assertEquals(4, conv.bias().length);
        Tensor b = ((Op.Conv) g.node("conv").op()).bias();
        for (int c = 0; c < 4; c++) {
            assertEquals(Fixed.roundHalfUp(Math.scalb(b.at(c), conv.accFrac(c))), conv.bias(c), "bias rounded into the accumulator");
        }
        assertTrue(conv.accBits() > conv.productBits() && conv.accBits() <= Fixed.accumulatorBits(8, 8, 9));
        assertTrue(q.op("relu") instanceof QOp.QRelu r && r.passThrough());
        QOp.QLut sig = (QOp.QLut) q.op("sig");
        assertEquals(LutFunction.SIGMOID, sig.lut().function());
        assertEquals(q.format("z"), sig.in());
        assertEquals(q.format("z").bits(), sig.lut().indexBits()); // 8 bits fit a 10-bit index
        assertEquals("Sigmoid", sig.kind());
    }

    @Test
    void perTensorWeightsShareOneFrac() {
        Graph g = cnn();
        QuantizedGraph q = new Quantize(QuantConfig.defaults().withPerChannel(false)).run(g, samples(g.inputShape(), 5), new PassContext());
        QWeights w = ((QOp.QConv) q.op("conv")).weight();
        assertFalse(w.perChannel());
        assertEquals(w.minFrac(), w.maxFrac());
        assertEquals(Fixed.fracFor(((Op.Conv) g.node("conv").op()).weight().maxAbs(), 8), w.frac(0));
    }

    @Test
    void overridesFromJson(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("quant.json");
        Files.writeString(f, "{\"input\": {\"bits\": 10, \"frac\": 9},"
                + " \"layers\": {\"conv\": {\"act\": {\"bits\": 12, \"frac\": 7}, \"weight_bits\": 6},"
                + " \"fc\": {\"act\": {\"bits\": 12}}, \"relu\": {\"act\": {\"bits\": 6, \"frac\": 3}}}}");
        Graph g = cnn();
        List<double[]> xs = samples(g.inputShape(), 20);
        Map<String, Double> ranges = Calibration.ranges(g, xs, QuantConfig.CalibrationMethod.MAX_ABS, 0);
        PassContext ctx = new PassContext();
        QuantizedGraph q = new Quantize(QuantConfig.defaults().withOverrides(f)).run(g, xs, ctx);
        assertEquals(new QFormat(10, 9), q.inputFormat());
        assertEquals(new QFormat(12, 7), q.format("c"));
        assertEquals(6, ((QOp.QConv) q.op("conv")).weight().bits());
        assertEquals(new QFormat(6, 3), q.format("r")); // an overridden relu requantizes
        assertFalse(((QOp.QRelu) q.op("relu")).passThrough());
        assertEquals(new QFormat(12, Fixed.fracFor(ranges.get("z"), 12)), q.format("z"));
        assertEquals(3, ctx.counter(Quantize.NAME, "formats overridden"));
        // Still bit-exact against the reference with these mixed formats.
        for (double[] x : xs) {
            long[] in = IntegerInterpreter.quantizeInput(q, x);
            assertArrayEquals(BigRef.runAll(q, in).get("y"), IntegerInterpreter.run(q, in));
        }
    }

    @Test
    void inputMayAlsoBeNamedInsideLayers() {
        Graph g = cnn();
        QuantConfig c = QuantConfig.defaults().withOverrides("{\"layers\": {\"input\": {\"act\": {\"bits\": 9, \"frac\": 8}}}}", "q.json");
        QuantizedGraph q = new Quantize(c).run(g, samples(g.inputShape(), 3), new PassContext());
        assertEquals(new QFormat(9, 8), q.inputFormat());
        QuantConfig byValue = QuantConfig.defaults().withOverrides("{\"layers\": {\"x\": {\"act\": {\"bits\": 7, \"frac\": 5}}}}", "q.json");
        assertEquals(new QFormat(7, 5), new Quantize(byValue).run(g, samples(g.inputShape(), 3), new PassContext()).inputFormat());
    }

    static ModelException badQuant(Runnable r) {
        ModelException e = assertThrows(ModelException.class, r::run);
        assertEquals(Diagnostic.SF_BAD_QUANT, e.id(), e.getMessage());
        return e;
    }

    @Test
    void unknownNodeIsNamed() {
        Graph g = cnn();
        QuantConfig c = QuantConfig.defaults().withOverrides("{\"layers\": {\"conv9\": {\"weight_bits\": 4}}}", "q.json");
        ModelException e = badQuant(() -> new Quantize(c).run(g, samples(g.inputShape(), 2), new PassContext()));
        assertEquals("conv9", e.node());
        assertTrue(e.hint().contains("conv") && e.hint().contains("fc"), e.hint());
    }

    /** Issue 11: errors about a --config file name that file, not the model; absurd fracs are refused where they are read. */
    @Test
    void errorsInAConfigFileNameIt(@TempDir Path dir) throws IOException {
        Path unknown = dir.resolve("unknown.json");
        Files.writeString(unknown, "{\"layers\": {\"conv9\": {\"weight_bits\": 4}}}");
        Graph g = cnn();
        QuantConfig c = QuantConfig.defaults().withOverrides(unknown);
        ModelException e = badQuant(() -> new Quantize(c).run(g, samples(g.inputShape(), 2), new PassContext()));
        assertEquals(unknown.toString(), e.file());
        assertEquals("conv9", e.node());
        Path frac = dir.resolve("frac.json");
        Files.writeString(frac, "{\"layers\": {\"conv\": {\"act\": {\"bits\": 8, \"frac\": -1000}}}}");
        ModelException f = badQuant(() -> {
            try {
                QuantConfig.defaults().withOverrides(frac);
            } catch (IOException x) {
                throw new AssertionError(x);
            }
        });
        assertEquals(frac.toString(), f.file());
        assertEquals("conv", f.node());
    }

    @Test
    void malformedSettingsAreBadQuant(@TempDir Path dir) throws IOException {
        QuantConfig d = QuantConfig.defaults();
        assertEquals("conv", badQuant(() -> d.withOverrides("{\"layers\": {\"conv\": {\"act\": {\"bitz\": 4}}}}", "q.json")).node());
        badQuant(() -> d.withOverrides("{\"layerz\": {}}", "q.json"));
        badQuant(() -> d.withOverrides("{\"layers\": {\"conv\": {\"act\": {\"bits\": 0}}}}", "q.json"));
        badQuant(() -> d.withOverrides("{\"layers\": {\"conv\": {\"weight_bits\": 63}}}", "q.json"));
        badQuant(() -> d.withOverrides("{\"layers\": {\"conv\": {\"weight_bits\": 2.5}}}", "q.json"));
        badQuant(() -> d.withOverrides("{\"input\": {\"bits\": 99}}", "q.json"));
        badQuant(() -> d.withOverrides("{\"layers\": [1]}", "q.json"));
        badQuant(() -> d.withOverrides("{nope", "q.json"));
        Path f = dir.resolve("bad.json");
        Files.writeString(f, "{\"layers\": {\"conv\": {\"act\": 3}}}");
        assertEquals(f.toString(), badQuant(() -> {
            try {
                d.withOverrides(f);
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }).file());
        badQuant(() -> d.withBits(0, 8));
        badQuant(() -> d.withBits(8, 63));
        badQuant(() -> d.withLutIndexBits(21));
        badQuant(() -> d.withPercentile(0));
        Graph g = cnn();
        QuantConfig relu = d.withOverrides("{\"layers\": {\"relu\": {\"weight_bits\": 4}}}", "q.json");
        assertEquals("relu", badQuant(() -> new Quantize(relu).run(g, samples(g.inputShape(), 2), new PassContext())).node());
    }

    @Test
    void settingsTooWideForSixtyTwoBitsNameTheNode() {
        Graph g = cnn();
        QuantConfig wide = QuantConfig.defaults().withBits(40, 40);
        ModelException e = badQuant(() -> new Quantize(wide).run(g, samples(g.inputShape(), 2), new PassContext()));
        assertEquals("conv", e.node());
        QuantConfig oneLayer = QuantConfig.defaults().withOverrides("{\"layers\": {\"fc\": {\"weight_bits\": 56}}}", "q.json");
        assertEquals("fc", badQuant(() -> new Quantize(oneLayer).run(g, samples(g.inputShape(), 2), new PassContext())).node());
    }

    @Test
    void noCalibrationSamplesIsABadDataError() {
        Graph g = cnn();
        ModelException e = assertThrows(ModelException.class, () -> new Quantize(QuantConfig.defaults()).run(g, List.of(), new PassContext()));
        assertEquals(Diagnostic.SF_BAD_DATA, e.id());
    }

    @Test
    void percentileIgnoresARareOutlier() {
        Graph g = new Graph("id", "x", Shape.of(100), List.of(new Node("fc", new Op.Dense(randn(0.1, 4, 100), randn(0.1, 4)), "x", "y")), "y");
        List<double[]> xs = samples(g.inputShape(), 50);
        xs.get(7)[3] = 1000;
        QuantizedGraph max = new Quantize(QuantConfig.defaults().withMaxAbs()).run(g, xs, new PassContext());
        QuantizedGraph pct = new Quantize(QuantConfig.defaults().withPercentile(99.9)).run(g, xs, new PassContext());
        assertEquals(Fixed.fracFor(1000, 8), max.inputFormat().frac());
        assertTrue(pct.inputFormat().frac() >= Fixed.fracFor(5, 8), pct.inputFormat().toString());
    }

    @Test
    void reportListsEveryValueWithWidths() {
        Graph g = cnn();
        QuantizedGraph q = new Quantize(QuantConfig.defaults()).run(g, samples(g.inputShape(), 10), new PassContext());
        List<LayerReport> r = q.report();
        assertEquals(g.nodes().size() + 1, r.size());
        assertEquals("Input", r.get(0).kind());
        LayerReport conv = r.get(1);
        assertEquals("conv", conv.node());
        assertEquals(((QOp.QConv) q.op("conv")).accBits(), conv.accBits());
        assertTrue(conv.weights().startsWith("Q(8,"), conv.weights());
        assertEquals(List.of(q.inputFormat()), conv.inputs());
        assertEquals("pass-through", r.get(2).detail());
        assertTrue(r.get(6).detail().contains("sigmoid LUT"), r.get(6).detail());
        assertTrue(q.toString().contains("conv (Conv): Q(8,"), q.toString());
    }

    @Test
    void quantizedGraphRejectsInconsistentFormats() {
        Graph g = new Graph("r", "x", Shape.of(3), List.of(new Node("relu", new Op.Relu(), "x", "y")), "y");
        QFormat a = new QFormat(8, 4);
        QFormat b = new QFormat(8, 5);
        QuantizedGraph ok = new QuantizedGraph(g, Map.of("x", a, "y", a), Map.of("relu", new QOp.QRelu(a, a)), Map.of());
        assertEquals(a, ok.outputFormat());
        assertThrows(IllegalArgumentException.class, () -> new QuantizedGraph(g, Map.of("x", a, "y", b), Map.of("relu", new QOp.QRelu(a, a)), Map.of()));
        assertThrows(IllegalArgumentException.class, () -> new QuantizedGraph(g, Map.of("x", b, "y", a), Map.of("relu", new QOp.QRelu(a, a)), Map.of()));
        assertThrows(IllegalArgumentException.class, () -> new QuantizedGraph(g, Map.of("x", a, "y", a), Map.of("relu", new QOp.QFlatten(a, a)), Map.of()));
        assertThrows(IllegalArgumentException.class, () -> new QuantizedGraph(g, Map.of("x", a, "y", a), Map.of(), Map.of()));
    }

    @Test
    void clipNarrowsItsInputAndQuantizesItsBounds() {
        List<Node> nodes = List.of(new Node("fc", new Op.Dense(randn(3, 4, 4), randn(1, 4)), "x", "z"),
                new Node("relu6", new Op.Clip(0, 6), "z", "y"));
        Graph g = new Graph("c", "x", Shape.of(4), nodes, "y");
        List<double[]> xs = samples(g.inputShape(), 30);
        Map<String, Double> ranges = Calibration.ranges(g, xs, QuantConfig.CalibrationMethod.MAX_ABS, 0);
        assertTrue(ranges.get("z") > 6, "the test needs a pre-clip range beyond 6: " + ranges.get("z"));
        PassContext ctx = new PassContext();
        QuantizedGraph q = new Quantize(QuantConfig.defaults().withMaxAbs()).run(g, xs, ctx);
        assertEquals(new QFormat(8, 4), q.format("z")); // range 6
        QOp.QClip clip = (QOp.QClip) q.op("relu6");
        assertEquals(0, clip.lo());
        assertEquals(q.outputFormat().quantize(6), clip.hi());
        assertNotEquals(0, ctx.counter(Quantize.NAME, "ranges narrowed to a following relu or clip"));
    }
    /**
     * x -> relu -> affine -> add(relu, affine) -> affine2: the affine read only by the Add gets
     * the guard bits (the Add rounds once), the one read by nothing but the graph output does not,
     * and an override of its width wins. The calibration label names the formats an override pins.
     */
    @Test
    void anAffineReadOnlyByAnAddGetsGuardBits() {
        Tensor one = Tensor.of(Shape.of(2), new double[] {1.5, 6.5});
        Tensor shift = Tensor.of(Shape.of(2), new double[] {-0.5, 0.25});
        List<Node> nodes = List.of(
                new Node("relu", new Op.Relu(), "x", "r"),
                new Node("bn", new Op.Affine(one, shift), "r", "b"),
                new Node("add", new Op.Add(), List.of("r", "b"), "s"),
                new Node("bn2", new Op.Affine(one, shift), "s", "y"));
        Graph g = new Graph("res", "x", Shape.of(2, 3), nodes, "y");
        List<double[]> cal = samples(Shape.of(2, 3), 50);
        QuantConfig c = QuantConfig.defaults().withCalibration(QuantConfig.CalibrationMethod.MAX_ABS);
        QuantizedGraph q = new Quantize(c).run(g, cal, new PassContext());
        assertEquals(8 + Quantize.AFFINE_GUARD_BITS, q.format("b").bits());
        assertEquals(8, q.format("s").bits());
        assertEquals(8, q.format("y").bits(), "read by no Add");
        assertEquals(8 + Quantize.AFFINE_GUARD_BITS, new Quantize(c).widths(g).get("b"), "MSE calibration searches at the same width");
        QuantConfig wide = QuantConfig.defaults().withBits(8, 28).withCalibration(QuantConfig.CalibrationMethod.MAX_ABS);
        assertEquals(Quantize.GUARDED_MAX_BITS, new Quantize(wide).run(g, cal, new PassContext()).format("b").bits());
        QuantConfig pinned = c.withOverrides("{\"layers\": {\"bn\": {\"act\": {\"bits\": 8, \"frac\": 3}}}}", "o.json").withOverridesFile("o.json");
        QuantizedGraph p = new Quantize(pinned).run(g, cal, new PassContext());
        assertEquals(new QFormat(8, 3), p.format("b"));
        assertEquals("max-abs; 1 of 4 formats from o.json", p.calibration());
        QuantConfig all = c.withOverrides("{\"input\": {\"bits\": 8, \"frac\": 5}, \"layers\": {\"bn\": {\"act\": {\"bits\": 8, \"frac\": 3}}, "
                + "\"add\": {\"act\": {\"bits\": 8, \"frac\": 3}}, \"bn2\": {\"act\": {\"bits\": 8, \"frac\": 3}}}}", "o.json").withOverridesFile("o.json");
        assertEquals("none: every format from o.json", new Quantize(all).run(g, cal, new PassContext()).calibration());
    }
}
