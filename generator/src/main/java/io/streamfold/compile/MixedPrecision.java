package io.streamfold.compile;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.streamfold.hw.DeviceTarget;
import io.streamfold.hw.HardwareCost;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Node;
import io.streamfold.passes.PassContext;
import io.streamfold.quant.AutoCalibration;
import io.streamfold.quant.Calibration;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantErrorReport;
import io.streamfold.quant.Quantize;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.FloatInterpreter;
import io.streamfold.reference.IntegerInterpreter;

import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Automatic mixed precision: the cheapest per-layer weight and activation widths (2 to 16 bits)
 * whose design meets a target on the calibration samples, top-1 agreement with the float model
 * and/or the output's signal-to-quantization-noise ratio. Cost is {@link HardwareCost#total()} of
 * the design {@link Pipeline#lower} builds with the given plan or multiplier budget.
 *
 * <p>The widths searched ("knobs") are the width of every value that has a format of its own (the
 * graph input and the output of every node that does not pass its input's format on) and the
 * weight width of every Dense, Conv and Affine. An agreement target is met only with a margin and
 * on unseen samples: the calibration samples are split by a seeded shuffle into a search and a
 * validation half, and the target must hold on each half with every sample's quantization error
 * scaled by {@link #MARGIN}, on the output and, when the output is a softmax, on the logits it is
 * computed from ({@link Result#logits}); a design that only just meets the target on the samples
 * it was chosen on agrees less on others (over-fitting the calibration set), and calibration data
 * classified with wider margins than the model's real inputs hides how close the design is to
 * flipping them. The search is greedy and deterministic for a seed:
 *
 * <ol>
 *   <li>start from uniform 8 bits if that meets the target, else uniform 16 (if 16 bits everywhere
 *       misses it, the target is out of reach: {@link Diagnostic#SF_BAD_QUANT});
 *   <li>repeatedly lower by one bit the knob whose lowering costs the least accuracy per bit of
 *       cost saved and still meets the target: accuracy is the measure of the target (agreement
 *       first when it is given), the other one breaks ties, then the knob's position;
 *   <li>when no knob can be lowered, measure every knob again against the current widths (one that
 *       missed the target against earlier widths may meet it now: rounding and calibration
 *       interact), and go on while one can; stop when a whole round lowers none.
 * </ol>
 *
 * Lowering is "lazy": each knob's last measured price is kept and only the cheapest is measured
 * again against the current widths, so a step usually costs one or two evaluations, not one per
 * knob. Formats are calibrated by the configuration's method on all calibration samples; {@code auto}
 * is resolved once, for the uniform design at the configuration's widths. The result's
 * {@link Result#overridesJson} pins every width and frac, so {@code --config} reproduces the chosen
 * design whatever the calibration.
 */
public final class MixedPrecision {

    /** Narrowest width searched. */
    public static final int MIN_BITS = 2;

    /** Widest width searched (and the fallback start). */
    public static final int MAX_BITS = 16;

    /** Width of the first start point tried. */
    public static final int START_BITS = 8;

    /**
     * An agreement target must hold with the quantization error scaled by this: sample s counts
     * only if {@code argmax(f + MARGIN (q - f)) == argmax(f)} for its float outputs f and
     * fixed-point outputs q (which implies {@code argmax(q) == argmax(f)}), and, for a softmax
     * output, the same holds for the logits the softmax reads. Scaling the error by 8 is dividing
     * every top-1 margin by 8: calibration data classified with wider margins than the inputs the
     * design will see (the examples' training digits against their test digits) otherwise lets
     * the search keep designs that hold on the calibration data only.
     *
     * <p>Why the logits too: a softmax output near 1 saturates and rounds to the same largest
     * value for a confident sample whatever the logit error, so on confident calibration samples
     * the output alone hides logit errors of several units (cnn_seed's design chosen that way held
     * 97.67 % of its test digits, five retrained copies of it 97.00-99.00 %); judged on the logits,
     * the margin compares the logit error with each sample's top-1/top-2 logit gap, as for a model
     * that outputs logits. The output is still judged, since the softmax's own output format can
     * tie two classes whose logits differ. Measured on 15 models retrained from the examples with
     * other data splits (README, Mixed precision): held out 99.00-100 % with 8; with 4 and 2 the
     * designs held less.
     */
    public static final double MARGIN = 8;

    /** Seed of the split of the calibration samples into the search and validation halves. */
    public static final long SPLIT_SEED = 1;

    /** An SQNR beyond this counts as this (an exact output has infinite SQNR). */
    private static final double SQNR_CAP = 300;

    private MixedPrecision() {
    }

    /**
     * What the design must reach on the calibration samples; NaN where no target is set (at least
     * one must be).
     *
     * @param agreement least fraction of samples whose float and fixed-point top-1 agree
     * @param sqnrDb    least output SQNR in dB
     */
    public record Target(double agreement, double sqnrDb) {
        public Target {
            if (Double.isNaN(agreement) && Double.isNaN(sqnrDb)) {
                throw new IllegalArgumentException("a target needs an agreement or an SQNR");
            }
        }

        boolean met(Evaluation e) {
            return (Double.isNaN(agreement) || (met(e.search()) && met(e.validation())))
                    && (Double.isNaN(sqnrDb) || e.sqnrDb() >= sqnrDb);
        }

        private boolean met(Half h) {
            return h.robust() >= Math.ceil(agreement * h.samples() - 1e-9);
        }

        @Override
        public String toString() {
            List<String> l = new ArrayList<>();
            if (!Double.isNaN(agreement)) {
                l.add(String.format(Locale.ROOT, "top-1 agreement >= %.2f%%", 100 * agreement));
            }
            if (!Double.isNaN(sqnrDb)) {
                l.add(String.format(Locale.ROOT, "output SQNR >= %.1f dB", sqnrDb));
            }
            return String.join(" and ", l);
        }
    }

    /**
     * One searched width.
     *
     * @param node    node name, or the graph input's value name for the input
     * @param kind    op kind ({@code Input} for the graph input)
     * @param weights true for the node's weight width, false for its output's
     */
    public record Knob(String node, String kind, boolean weights) {
    }

    /**
     * Top-1 agreement on one half of the calibration samples: {@code robust} counts the samples
     * whose float top-1 survives the quantization error scaled by {@link #MARGIN} (on the output
     * and on the logits of a softmax output).
     */
    public record Half(int robust, int samples) {
    }

    /**
     * One design: its widths (by knob, in knob order), the format of every value, and how it did on
     * the calibration samples: {@code agree} of {@code samples} keep their top-1; {@code search}
     * and {@code validation} are the halves the target must hold on. (No quantized graph: a search
     * keeps every design it measured.)
     */
    public record Evaluation(List<Integer> widths, Map<String, QFormat> formats, int agree, int samples, double sqnrDb, HardwareCost cost,
                             Half search, Half validation) {
        public Evaluation {
            widths = List.copyOf(widths);
            formats = Collections.unmodifiableMap(new LinkedHashMap<>(formats));
        }

        /** Fraction of calibration samples whose top-1 agrees. */
        public double agreement() {
            return (double) agree / samples;
        }
    }

    /**
     * The search's outcome.
     *
     * @param knobs         the widths searched, in graph order
     * @param chosen        the cheapest design found that meets the target
     * @param quantized     the chosen design's quantized graph
     * @param uniform8      8 bits everywhere, for comparison
     * @param uniform16     16 bits everywhere, for comparison
     * @param calibration   the calibration method every design used
     * @param evaluations   designs quantized, measured and costed
     * @param overridesJson the chosen widths and fracs as a {@code --config} file
     * @param logits        the value an agreement target is judged on besides the output (the
     *                      input of a softmax output), or null when the output is judged alone
     */
    public record Result(Target target, List<Knob> knobs, Evaluation chosen, QuantizedGraph quantized, Evaluation uniform8, Evaluation uniform16,
                         QuantConfig.CalibrationMethod calibration, int evaluations, String overridesJson, String logits) {
        public Result {
            knobs = List.copyOf(knobs);
        }

        /**
         * Null if the chosen design costs less than uniform 8 bits; else why none does: uniform 8
         * bits misses the target (with the margin, on the halves), or none of its widths can be
         * lowered.
         */
        public String whyNotCheaperThanUniform8() {
            if (uniform8 != null && chosen.cost().total() < uniform8.cost().total()) {
                return null;
            }
            if (uniform8 == null) {
                return "uniform 8 bits cannot be built";
            }
            if (!target.met(uniform8)) {
                return String.format(Locale.ROOT, "uniform 8 bits misses %s with the margin (quantization error x%.0f on %s): %d/%d on the search "
                        + "half, %d/%d on the validation half, so the search started from 16 bits", target, MARGIN, judged(), uniform8.search().robust(),
                        uniform8.search().samples(), uniform8.validation().robust(), uniform8.validation().samples());
            }
            return "uniform 8 bits meets " + target + " but lowering any of its widths misses it";
        }

        /** What an agreement target is judged on: "the output", or "the logits (VALUE) and the output". */
        public String judged() {
            return logits == null ? "the output" : "the logits (" + logits + ") and the output";
        }

        /** The chosen width of a knob, or -1 if the node has none of that kind. */
        public int width(String node, boolean weights) {
            for (int i = 0; i < knobs.size(); i++) {
                if (knobs.get(i).node().equals(node) && knobs.get(i).weights() == weights) {
                    return chosen.widths().get(i);
                }
            }
            return -1;
        }
    }

    /**
     * Searches the widths of {@code original} (folded as {@link Pipeline#fold} does) for the cheapest
     * design meeting {@code target} on {@code calib}. {@code settings.quant()} gives everything but
     * the widths; it may not carry overrides of its own.
     */
    public static Result search(Graph original, Pipeline.Settings settings, List<double[]> calib, Target target, long seed) {
        QuantConfig base = settings.quant();
        if (!base.layers().isEmpty() || base.input() != null) {
            throw new ModelException(Diagnostic.SF_BAD_QUANT, null, "the mixed-precision search chooses every width itself",
                    "give either a target or a --config, not both");
        }
        return new Search(original, settings, calib, target, seed).run();
    }

    /** {@link #search(Graph, Pipeline.Settings, List, Target, long)} with {@link #SPLIT_SEED}. */
    public static Result search(Graph original, Pipeline.Settings settings, List<double[]> calib, Target target) {
        return search(original, settings, calib, target, SPLIT_SEED);
    }

    /**
     * The value whose top-1 is judged besides the output's: the logits a softmax output is
     * computed from (softmax keeps their order, but its saturating, rounded output hides their
     * error on confident samples), else null.
     */
    static String logits(Graph g) {
        Node out = g.producer(g.output());
        return out != null && out.op() instanceof io.streamfold.ir.Op.Softmax ? out.input() : null;
    }

    /**
     * True if the top-1 of the float values {@code f} is still the top-1 of
     * {@code f + MARGIN (q - f)}, the fixed-point values {@code q} with their error scaled by the
     * margin.
     */
    static boolean survives(double[] f, double[] q) {
        double[] scaled = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            scaled[i] = f[i] + MARGIN * (q[i] - f[i]);
        }
        return QuantErrorReport.argmax(f) == QuantErrorReport.argmax(scaled);
    }

    /**
     * Which of {@code n} samples form the validation half: {@code n / 2} of them, drawn by a
     * shuffle seeded with {@code seed} (so calibration files sorted by class split evenly).
     */
    static boolean[] validationHalf(int n, long seed) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            order.add(i);
        }
        Collections.shuffle(order, new java.util.Random(seed));
        boolean[] v = new boolean[n];
        for (int i = 0; i < n / 2; i++) {
            v[order.get(i)] = true;
        }
        return v;
    }

    /** The state of one search. */
    private static final class Search {
        private final Graph original;
        private final Pipeline.Result folded;
        private final Graph g;
        private final Pipeline.Settings costing;
        private final List<double[]> calib;
        private final Target target;
        private final QuantConfig base;
        private final Calibration.Observation obs;
        private final QuantConfig.CalibrationMethod method;
        private final List<Knob> knobs = new ArrayList<>();
        private final Map<List<Integer>, Evaluation> seen = new HashMap<>();
        /** Per calibration sample: true if it is in the validation half. */
        private final boolean[] validation;
        /** The logits judged besides the output ({@link MixedPrecision#logits}), or null. */
        private final String logits;
        /** Per calibration sample: the float logits (empty without {@link #logits}). */
        private final List<double[]> floatLogits = new ArrayList<>();

        Search(Graph original, Pipeline.Settings settings, List<double[]> calib, Target target, long seed) {
            this.original = original;
            this.folded = Pipeline.fold(original);
            // as Quantize.run calibrates, so that a written --config rebuilds this design through convert
            this.g = Quantize.centreSoftmaxLogits(folded.folded(), calib, new PassContext());
            this.calib = calib;
            this.target = target;
            // The device's memories are checked on the chosen design only; the search compares costs.
            this.costing = new Pipeline.Settings(settings.quant(), settings.plan(), settings.budget(), DeviceTarget.GENERIC);
            this.obs = Calibration.observe(g, calib);
            this.validation = validationHalf(calib.size(), seed);
            QuantConfig q = settings.quant();
            this.method = q.calibration() == QuantConfig.CalibrationMethod.AUTO ? AutoCalibration.choose(q, g, obs, calib).method()
                    : q.calibration();
            this.base = q.withCalibration(method);
            this.logits = MixedPrecision.logits(g);
            if (logits != null) {
                for (double[] x : calib) {
                    floatLogits.add(FloatInterpreter.runAll(g, x).get(logits));
                }
            }
            knobs.add(new Knob(g.input(), "Input", false));
            for (Node n : g.nodes()) {
                if (!Quantize.passesThrough(n.op())) {
                    knobs.add(new Knob(n.name(), n.op().kind(), false));
                }
                if (Quantize.hasWeights(n.op())) {
                    knobs.add(new Knob(n.name(), n.op().kind(), true));
                }
            }
        }

        Result run() {
            Evaluation u8 = evaluate(Collections.nCopies(knobs.size(), START_BITS));
            Evaluation u16 = evaluate(Collections.nCopies(knobs.size(), MAX_BITS));
            if (u16 == null || !target.met(u16)) {
                String got = u16 == null ? "cannot be built" : String.format(Locale.ROOT, "reach top-1 agreement %d/%d (%.2f%%) and output SQNR %.1f dB",
                        u16.agree(), u16.samples(), 100 * u16.agreement(), u16.sqnrDb());
                throw new ModelException(Diagnostic.SF_BAD_QUANT, null, "target " + target + " is out of reach: 16-bit weights and activations "
                        + "everywhere " + got + " on the " + calib.size() + " calibration samples",
                        "lower the target, or calibrate on more samples like those the model will see");
            }
            Evaluation best = u8 != null && target.met(u8) ? u8 : u16;
            best = lower(best);
            QuantizedGraph q = quantize(best.widths(), new PassContext());
            return new Result(target, knobs, best, q, u8, u16, method, seen.size(), overrides(best, q), logits);
        }

        /** Lowering knob {@code knob} of {@code from} (measured in step {@code step} of the descent) gives {@code to}. */
        private record Move(int knob, Evaluation from, Evaluation to, int step) {
        }

        /** The greedy descent of the class comment, from {@code start}. */
        private Evaluation lower(Evaluation start) {
            PriorityQueue<Move> queue = new PriorityQueue<>((a, b) -> {
                double[] pa = price(a);
                double[] pb = price(b);
                int c = Double.compare(pa[0], pb[0]);
                c = c != 0 ? c : Double.compare(pa[1], pb[1]);
                return c != 0 ? c : Integer.compare(a.knob(), b.knob());
            });
            Evaluation cur = start;
            int step = 0;
            for (int k = 0; k < knobs.size(); k++) {
                offer(queue, k, cur, step);
            }
            while (true) {
                while (!queue.isEmpty()) {
                    Move m = queue.poll();
                    if (m.step() == step) {
                        // measured against the current widths and still the cheapest: take it
                        cur = m.to();
                        step++;
                    }
                    offer(queue, m.knob(), cur, step);
                }
                // A knob blocked earlier was measured against other widths: rounding and
                // calibration interact, so lowering it may meet the target now. Retry every knob
                // until a whole round lowers none.
                for (int k = 0; k < knobs.size(); k++) {
                    offer(queue, k, cur, step);
                }
                if (queue.isEmpty()) {
                    return cur;
                }
            }
        }

        /** Measures lowering knob {@code k} of {@code cur}; queues it if that meets the target and saves cost (else it is blocked for good). */
        private void offer(PriorityQueue<Move> queue, int k, Evaluation cur, int step) {
            int w = cur.widths().get(k);
            if (w <= MIN_BITS) {
                return;
            }
            List<Integer> next = new ArrayList<>(cur.widths());
            next.set(k, w - 1);
            Evaluation e = evaluate(next);
            if (e != null && target.met(e) && e.cost().total() < cur.cost().total()) {
                queue.add(new Move(k, cur, e, step));
            }
        }

        /** Accuracy lost per bit of cost saved by a move: {target's measure, the other}. */
        private double[] price(Move m) {
            double saved = m.from().cost().total() - m.to().cost().total();
            double agreeLoss = (m.from().agree() - m.to().agree()) / saved;
            double sqnrLoss = (m.from().sqnrDb() - m.to().sqnrDb()) / saved;
            return Double.isNaN(target.agreement()) ? new double[] {sqnrLoss, agreeLoss} : new double[] {agreeLoss, sqnrLoss};
        }

        /** Quantizes, measures and costs the design of {@code widths}; null if it cannot be built. */
        private Evaluation evaluate(List<Integer> widths) {
            List<Integer> key = List.copyOf(widths);
            if (seen.containsKey(key)) {
                return seen.get(key);
            }
            Evaluation e;
            try {
                e = measure(key);
            } catch (ModelException ex) {
                e = null;
            }
            seen.put(key, e);
            return e;
        }

        /** The folded graph quantized at {@code widths}, formats calibrated by the search's method. */
        private QuantizedGraph quantize(List<Integer> widths, PassContext ctx) {
            QuantConfig c = withWidths(base, widths);
            Quantize quantize = new Quantize(c);
            return quantize.run(g, obs.ranges(method, c.percentile(), quantize.widths(g)), ctx);
        }

        private Evaluation measure(List<Integer> widths) {
            PassContext ctx = new PassContext();
            QuantizedGraph q = quantize(widths, ctx);
            int agree = 0;
            int[] robust = new int[2];
            int[] count = new int[2];
            double err = 0;
            double ref = 0;
            for (int s = 0; s < calib.size(); s++) {
                double[] want = obs.outputs().get(s);
                Map<String, long[]> values = IntegerInterpreter.runAll(q, IntegerInterpreter.quantizeInput(q, calib.get(s)));
                double[] got = IntegerInterpreter.dequantize(q.outputFormat(), values.get(g.output()));
                agree += QuantErrorReport.argmax(want) == QuantErrorReport.argmax(got) ? 1 : 0;
                for (int i = 0; i < want.length; i++) {
                    err += (got[i] - want[i]) * (got[i] - want[i]);
                    ref += want[i] * want[i];
                }
                boolean kept = survives(want, got)
                        && (logits == null || survives(floatLogits.get(s), IntegerInterpreter.dequantize(q.format(logits), values.get(logits))));
                int h = validation[s] ? 1 : 0;
                count[h]++;
                robust[h] += kept ? 1 : 0;
            }
            double sqnr = err == 0 ? SQNR_CAP : Math.min(SQNR_CAP, 10 * Math.log10(ref / err));
            Pipeline.Result quantized = new Pipeline.Result(original, g, q, null, null, null, ctx);
            HardwareCost cost = HardwareCost.of(Pipeline.lower(quantized, costing).design());
            return new Evaluation(widths, q.formats(), agree, calib.size(), sqnr, cost, new Half(robust[0], count[0]), new Half(robust[1], count[1]));
        }

        /** {@code c} with the width of every knob as an override (fracs from calibration). */
        private QuantConfig withWidths(QuantConfig c, List<Integer> widths) {
            Map<String, Integer> act = new LinkedHashMap<>();
            Map<String, Integer> weight = new LinkedHashMap<>();
            for (int i = 0; i < knobs.size(); i++) {
                (knobs.get(i).weights() ? weight : act).put(knobs.get(i).node(), widths.get(i));
            }
            Map<String, QuantConfig.LayerOverride> layers = new LinkedHashMap<>();
            for (Node n : g.nodes()) {
                Integer a = act.get(n.name());
                Integer w = weight.get(n.name());
                if (a != null || w != null) {
                    layers.put(n.name(), new QuantConfig.LayerOverride(a, null, w));
                }
            }
            return c.withOverrides(layers, new QuantConfig.LayerOverride(act.get(g.input()), null, null));
        }

        /**
         * The design {@code e} (quantized: {@code q}) as a {@code --config} file (see {@link QuantConfig#withOverrides(String, String)}):
         * every knob's width, and the frac of every value it has a format for.
         */
        private String overrides(Evaluation e, QuantizedGraph q) {
            Map<String, Object> root = new LinkedHashMap<>();
            root.put("input", format(q.inputFormat()));
            Map<String, Map<String, Object>> layers = new LinkedHashMap<>();
            for (int i = 1; i < knobs.size(); i++) { // knob 0 is the input
                Knob k = knobs.get(i);
                Map<String, Object> o = layers.computeIfAbsent(k.node(), x -> new LinkedHashMap<>());
                if (k.weights()) {
                    o.put("weight_bits", e.widths().get(i));
                } else {
                    o.put("act", format(q.format(g.node(k.node()).output())));
                }
            }
            root.put("layers", layers);
            try {
                return new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
            } catch (JsonProcessingException ex) {
                throw new UncheckedIOException(ex);
            }
        }

        private static Map<String, Object> format(QFormat f) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("bits", f.bits());
            m.put("frac", f.frac());
            return m;
        }
    }
}
