package io.streamfold.compile;

import io.streamfold.hw.HardwareCost;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantErrorReport;
import io.streamfold.quant.Quantize;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.testutil.Examples;
import io.streamfold.testutil.LogitOffset;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The mixed-precision search on mlp_bn and cnn_seed (seconds each) and its written configuration. */
class MixedPrecisionTest {

    private static final Graph G = ModelLoader.load(Examples.model("mlp_bn"));
    private static final List<double[]> CALIB = DataFiles.samples(Examples.data("mlp_bn", "calib.npy"), G);

    private static MixedPrecision.Result search(MixedPrecision.Target t) {
        return MixedPrecision.search(G, Pipeline.Settings.serial(QuantConfig.defaults()), CALIB, t);
    }

    @Test
    void theWrittenConfigReproducesTheChosenDesignAndMeetsTheTarget() {
        MixedPrecision.Result r = search(new MixedPrecision.Target(0.99, Double.NaN));
        // Knobs: the input, each Gemm's output and weights (the Relus pass their input's format on).
        assertEquals(List.of(G.input() + "/Input/act", "/0/Gemm/Dense/act", "/0/Gemm/Dense/weights", "/3/Gemm/Dense/act",
                "/3/Gemm/Dense/weights", "/6/Gemm/Dense/act", "/6/Gemm/Dense/weights"),
                r.knobs().stream().map(k -> k.node() + "/" + k.kind() + "/" + (k.weights() ? "weights" : "act")).toList());
        for (int w : r.chosen().widths()) {
            assertTrue(w >= MixedPrecision.MIN_BITS && w <= MixedPrecision.MAX_BITS, r.chosen().widths().toString());
        }
        // The config, applied to the defaults with nothing else, gives the same formats and weights: the same design.
        QuantConfig fromFile = QuantConfig.defaults().withOverrides(r.overridesJson(), "mp.json");
        Pipeline.Result again = Pipeline.compile(G, Pipeline.Settings.serial(fromFile), CALIB);
        QuantizedGraph q = again.quantized();
        assertEquals(r.chosen().formats(), r.quantized().formats());
        assertEquals(r.quantized().formats(), q.formats());
        assertEquals(withoutRanges(r.quantized()), withoutRanges(q), "weights, registers and shifts");
        assertEquals(r.chosen().cost(), HardwareCost.of(again.design()));
        // Measured independently: the agreement on the calibration samples meets the target.
        QuantErrorReport onCalib = QuantErrorReport.measure(q, CALIB);
        assertEquals(r.chosen().agree(), onCalib.top1Agreements());
        assertTrue(onCalib.top1Agreement() >= 0.99, onCalib.toText());
        // Uniform 8 bits met the target too (200/200), so the search started there and can only be cheaper.
        assertEquals(200, r.uniform8().agree());
        assertTrue(r.chosen().cost().total() < r.uniform8().cost().total());
        assertTrue(r.uniform8().cost().total() < r.uniform16().cost().total());
        for (QFormat f : r.uniform16().formats().values()) {
            assertEquals(16, f.bits());
        }
        assertEquals(r.overridesJson(), search(new MixedPrecision.Target(0.99, Double.NaN)).overridesJson(), "deterministic");
    }

    @Test
    void aLargeLogitOffsetIsCentredAsConvertDoesSoTheWrittenConfigRebuildsTheDesign() {
        // cnn_seed with every logit raised by 1000: Quantize moves the offset into the Dense bias before
        // calibrating, and the search must calibrate that same graph, or its formats describe another one
        Graph shifted = LogitOffset.cnnSeedRaisedBy(1000);
        List<double[]> calib = DataFiles.samples(Examples.dir("cnn_seed").resolve("calib.npy"), shifted.inputShape());
        MixedPrecision.Result r = MixedPrecision.search(shifted, Pipeline.Settings.serial(QuantConfig.defaults()), calib,
                new MixedPrecision.Target(0.99, Double.NaN));
        QuantConfig fromFile = QuantConfig.defaults().withOverrides(r.overridesJson(), "mp.json");
        Pipeline.Result again = Pipeline.compile(shifted, Pipeline.Settings.serial(fromFile), calib);
        assertEquals(1, again.context().counter(Quantize.NAME, "softmax logit offsets moved into the bias"));
        assertEquals(r.quantized().formats(), again.quantized().formats());
        assertEquals(withoutRanges(r.quantized()), withoutRanges(again.quantized()), "weights, registers and shifts");
        assertEquals(r.chosen().cost(), HardwareCost.of(again.design()));
    }

    /** The report's lines without the calibrated ranges (reported, not used, once every format is given). */
    private static List<String> withoutRanges(QuantizedGraph q) {
        return q.report().stream().map(l -> new io.streamfold.quant.LayerReport(l.node(), l.kind(), l.inputs(), l.output(), l.weights(),
                l.accBits(), Double.NaN, l.detail()).toString()).toList();
    }

    @Test
    void anSqnrTargetIsMetByTheOutput() {
        MixedPrecision.Result r = search(new MixedPrecision.Target(Double.NaN, 30));
        QuantizedGraph q = Pipeline.quantize(G, QuantConfig.defaults().withOverrides(r.overridesJson(), "mp.json"), CALIB).quantized();
        QuantErrorReport e = QuantErrorReport.measure(q, CALIB);
        double sqnr = e.layers().get(e.layers().size() - 1).sqnrDb();
        assertTrue(sqnr >= 30, "output SQNR " + sqnr);
        assertEquals(r.chosen().sqnrDb(), sqnr, 1e-9);
        // A stricter target costs more.
        MixedPrecision.Result strict = search(new MixedPrecision.Target(Double.NaN, 45));
        assertTrue(strict.chosen().cost().total() > r.chosen().cost().total());
        assertTrue(strict.chosen().sqnrDb() >= 45);
    }

    @Test
    void aTargetBeyond16BitsEverywhereIsRefusedSayingWhatThatReaches() {
        ModelException e = assertThrows(ModelException.class, () -> search(new MixedPrecision.Target(Double.NaN, 200)));
        assertEquals(Diagnostic.SF_BAD_QUANT, e.id());
        assertTrue(e.reason().contains("out of reach") && e.reason().contains("16-bit"), e.reason());
    }

    @Test
    void overridesOfItsOwnAreRefused() {
        QuantConfig c = QuantConfig.defaults().withOverrides("{\"layers\": {\"/0/Gemm\": {\"weight_bits\": 4}}}", "q.json");
        ModelException e = assertThrows(ModelException.class,
                () -> MixedPrecision.search(G, Pipeline.Settings.serial(c), CALIB, new MixedPrecision.Target(0.9, Double.NaN)));
        assertEquals(Diagnostic.SF_BAD_QUANT, e.id());
    }

    @Test
    void resultNamesTheWidthOfEachKnob() {
        MixedPrecision.Result r = search(new MixedPrecision.Target(0.95, Double.NaN));
        Map<String, QFormat> f = r.quantized().formats();
        assertEquals(f.get(G.input()).bits(), r.width(G.input(), false));
        assertEquals(r.quantized().op("/3/Gemm").out().bits(), r.width("/3/Gemm", false));
        assertNotNull(r.quantized().op("/3/Gemm"));
        assertEquals(-1, r.width("/2/Relu", false), "a Relu passes its input's format on");
        assertEquals(-1, r.width("/2/Relu", true));
        // mlp_bn outputs its logits: the output alone is judged
        assertEquals(null, r.logits());
        assertEquals("the output", r.judged());
    }
    /**
     * Measured independently of the search: on each half of the seeded split, at least 99 % of the
     * samples keep their float top-1 with the quantization error scaled by the margin; and no
     * single width of the chosen design can be lowered by one bit without missing that (the search
     * retries widths it blocked earlier) or without saving nothing.
     */
    @Test
    void theChosenDesignMeetsTheTargetWithTheMarginOnBothHalvesAndNoWidthCanBeLowered() {
        MixedPrecision.Target t = new MixedPrecision.Target(0.99, Double.NaN);
        MixedPrecision.Result r = search(t);
        boolean[] validation = MixedPrecision.validationHalf(CALIB.size(), MixedPrecision.SPLIT_SEED);
        int[] robust = robustAgreement(r.quantized(), validation);
        assertTrue(robust[0] >= 99 && robust[1] >= 99, robust[0] + ", " + robust[1]);
        assertEquals(r.chosen().search().robust(), robust[0]);
        assertEquals(r.chosen().validation().robust(), robust[1]);
        assertEquals(100, r.chosen().validation().samples());
        // the margin costs: without it the calibration agreement would allow narrower widths, and the
        // chosen design is still cheaper than uniform 8 bits on this model
        assertTrue(r.chosen().cost().total() < r.uniform8().cost().total());
        assertEquals(null, r.whyNotCheaperThanUniform8());
        for (int k = 0; k < r.knobs().size(); k++) {
            java.util.List<Integer> lower = new java.util.ArrayList<>(r.chosen().widths());
            if (lower.get(k) <= MixedPrecision.MIN_BITS) {
                continue;
            }
            lower.set(k, lower.get(k) - 1);
            QuantizedGraph q = quantizeAt(r, lower);
            Pipeline.Result lowered = Pipeline.lower(new Pipeline.Result(G, r.quantized().graph(), q, null, null, null,
                    new io.streamfold.passes.PassContext()), Pipeline.Settings.serial(QuantConfig.defaults()));
            int[] rl = robustAgreement(q, validation);
            boolean meets = rl[0] >= 99 && rl[1] >= 99;
            assertTrue(!meets || HardwareCost.of(lowered.design()).total() >= r.chosen().cost().total(),
                    "knob " + r.knobs().get(k) + " could still be lowered");
        }
    }

    /**
     * cnn_seed ends in a softmax, and its calibration digits (training digits) get probabilities
     * near 1: judged on the output alone, the search chose 4-bit logits in steps of 2 that held
     * 97.67 % of the test digits. Judged on the logits too, the chosen design keeps the margin on
     * both (measured here independently of the search), holds at least 99 % of the test digits it
     * never saw, is still cheaper than uniform 8 bits, and its written config rebuilds it.
     */
    @Test
    void aSoftmaxOutputIsJudgedOnItsLogitsAndTheChoiceHoldsOnTestDigits() {
        Graph g = ModelLoader.load(Examples.model("cnn_seed"));
        List<double[]> calib = DataFiles.samples(Examples.data("cnn_seed", "calib.npy"), g);
        MixedPrecision.Result r = MixedPrecision.search(g, Pipeline.Settings.serial(QuantConfig.defaults()), calib,
                new MixedPrecision.Target(0.99, Double.NaN));
        io.streamfold.ir.Node softmax = r.quantized().graph().producer(r.quantized().graph().output());
        assertEquals("Softmax", softmax.op().kind());
        assertEquals(softmax.input(), r.logits());

        boolean[] validation = MixedPrecision.validationHalf(calib.size(), MixedPrecision.SPLIT_SEED);
        int[] kept = new int[2];
        for (int s = 0; s < calib.size(); s++) {
            java.util.Map<String, double[]> f = io.streamfold.reference.FloatInterpreter.runAll(r.quantized().graph(), calib.get(s));
            java.util.Map<String, long[]> x = io.streamfold.reference.IntegerInterpreter.runAll(r.quantized(),
                    io.streamfold.reference.IntegerInterpreter.quantizeInput(r.quantized(), calib.get(s)));
            boolean onOutput = survivesMargin(f.get(r.quantized().graph().output()), io.streamfold.reference.IntegerInterpreter.dequantize(
                    r.quantized().outputFormat(), x.get(r.quantized().graph().output())));
            boolean onLogits = survivesMargin(f.get(r.logits()), io.streamfold.reference.IntegerInterpreter.dequantize(
                    r.quantized().format(r.logits()), x.get(r.logits())));
            kept[validation[s] ? 1 : 0] += onOutput && onLogits ? 1 : 0;
        }
        assertEquals(r.chosen().search().robust(), kept[0]);
        assertEquals(r.chosen().validation().robust(), kept[1]);
        assertTrue(kept[0] >= 99 && kept[1] >= 99, kept[0] + ", " + kept[1]);

        QuantErrorReport heldOut = QuantErrorReport.measure(r.quantized(), DataFiles.samples(Examples.data("cnn_seed", "inputs.npy"), g));
        assertTrue(heldOut.top1Agreement() >= 0.99, heldOut.toText());
        assertEquals(null, r.whyNotCheaperThanUniform8());

        Pipeline.Result again = Pipeline.compile(g, Pipeline.Settings.serial(QuantConfig.defaults().withOverrides(r.overridesJson(), "mp.json")), calib);
        assertEquals(r.quantized().formats(), again.quantized().formats());
        assertEquals(withoutRanges(r.quantized()), withoutRanges(again.quantized()), "weights, registers and shifts");
        assertEquals(r.chosen().cost(), HardwareCost.of(again.design()));
    }

    @Test
    void aSampleSurvivesTheMarginIfItsTop1HoldsWithTheErrorScaled() {
        // top-1/top-2 gap 1: an error of 0.1 on each, scaled by 8, closes it; 0.05 does not
        assertTrue(!MixedPrecision.survives(new double[] {1, 0, -3}, new double[] {0.9, 0.1, -3}));
        assertTrue(MixedPrecision.survives(new double[] {1, 0, -3}, new double[] {0.95, 0.05, -3}));
        assertTrue(MixedPrecision.survives(new double[] {1, 0, -3}, new double[] {1.2, 0.1, -3}), "an error that widens the gap");
    }

    /** The float top-1 of {@code f} is that of {@code f + MARGIN (q - f)}. */
    private static boolean survivesMargin(double[] f, double[] q) {
        double[] scaled = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            scaled[i] = f[i] + MixedPrecision.MARGIN * (q[i] - f[i]);
        }
        return QuantErrorReport.argmax(f) == QuantErrorReport.argmax(scaled);
    }

    @Test
    void theSplitIsHalfTheSamplesAndDeterministicForASeed() {
        boolean[] a = MixedPrecision.validationHalf(200, 1);
        boolean[] b = MixedPrecision.validationHalf(200, 1);
        boolean[] c = MixedPrecision.validationHalf(200, 2);
        assertTrue(java.util.Arrays.equals(a, b));
        assertTrue(!java.util.Arrays.equals(a, c));
        int n = 0;
        for (boolean v : a) {
            n += v ? 1 : 0;
        }
        assertEquals(100, n);
        int odd = 0;
        for (boolean v : MixedPrecision.validationHalf(5, 1)) {
            odd += v ? 1 : 0;
        }
        assertEquals(2, odd, "the validation half is the smaller one");
    }

    /** The folded graph at the given widths, calibrated as the search calibrates (its method, all calibration samples). */
    private static QuantizedGraph quantizeAt(MixedPrecision.Result r, java.util.List<Integer> widths) {
        StringBuilder json = new StringBuilder("{\"input\": {\"bits\": " + widths.get(0) + "}, \"layers\": {");
        java.util.Map<String, StringBuilder> layers = new java.util.LinkedHashMap<>();
        for (int k = 1; k < r.knobs().size(); k++) {
            MixedPrecision.Knob knob = r.knobs().get(k);
            StringBuilder o = layers.computeIfAbsent(knob.node(), x -> new StringBuilder());
            o.append(o.length() > 0 ? ", " : "").append(knob.weights() ? "\"weight_bits\": " + widths.get(k) : "\"act\": {\"bits\": " + widths.get(k) + "}");
        }
        json.append(String.join(", ", layers.entrySet().stream().map(e -> "\"" + e.getKey() + "\": {" + e.getValue() + "}").toList())).append("}}");
        QuantConfig c = QuantConfig.defaults().withCalibration(r.calibration()).withOverrides(json.toString(), "w.json");
        return Pipeline.quantize(G, c, CALIB).quantized();
    }

    /** Samples of each half (0: search, 1: validation) whose float top-1 survives the error scaled by the margin. */
    private static int[] robustAgreement(QuantizedGraph q, boolean[] validation) {
        int[] n = new int[2];
        for (int s = 0; s < CALIB.size(); s++) {
            double[] f = io.streamfold.reference.FloatInterpreter.run(q.graph(), CALIB.get(s));
            double[] x = io.streamfold.reference.IntegerInterpreter.runReal(q, CALIB.get(s));
            double[] scaled = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                scaled[i] = f[i] + MixedPrecision.MARGIN * (x[i] - f[i]);
            }
            n[validation[s] ? 1 : 0] += QuantErrorReport.argmax(f) == QuantErrorReport.argmax(scaled) ? 1 : 0;
        }
        return n;
    }
}
