package io.streamfold.quant;

import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.passes.PassContext;
import io.streamfold.reference.IntegerInterpreter;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The default calibration: quantizes with each of max-abs, percentile and MSE ranges and keeps the
 * one whose integer graph agrees best with the float reference on the calibration samples (top-1
 * class). Agreements within {@link #tolerance} of the best count as tied: one sample in 200 is
 * noise, not evidence (calibration data are often training inputs, classified with wide margins,
 * so every method agrees on nearly all of them). Among the tied, the smaller squared error at the
 * output wins, a finer measure of the same thing; then the simpler method (max-abs before
 * percentile before MSE).
 *
 * <p>Each candidate costs one quantization and one integer run over the calibration samples; the
 * float reference runs once ({@link Calibration.Observation}).
 */
public final class AutoCalibration {

    /** The candidates, simplest first (the last tie-break). */
    public static final List<QuantConfig.CalibrationMethod> CANDIDATES = List.of(QuantConfig.CalibrationMethod.MAX_ABS,
            QuantConfig.CalibrationMethod.PERCENTILE, QuantConfig.CalibrationMethod.MSE);

    private AutoCalibration() {
    }

    /**
     * How one method did on the calibration samples.
     *
     * @param method      the calibration method
     * @param agree       samples whose float and integer arg-max agree
     * @param outputError sum of squared errors of the dequantized output against the float output
     */
    public record Score(QuantConfig.CalibrationMethod method, int agree, double outputError) {
    }

    /**
     * The chosen method, its ranges, and every candidate's score (a candidate whose formats cannot
     * be built, e.g. a register beyond 62 bits, has none).
     */
    public record Choice(QuantConfig.CalibrationMethod method, Map<String, Double> ranges, List<Score> scores, int samples) {
        public Choice {
            scores = List.copyOf(scores);
        }

        /** {@code auto: mse (top-1 agreement on 200 calibration samples: max-abs 199, percentile 199, mse 198)}. */
        public String summary() {
            StringBuilder sb = new StringBuilder("auto: ").append(name(method)).append(" (top-1 agreement on ")
                    .append(samples).append(" calibration samples:");
            for (int i = 0; i < scores.size(); i++) {
                Score s = scores.get(i);
                sb.append(i == 0 ? " " : ", ").append(name(s.method())).append(' ').append(s.agree());
            }
            return sb.append(')').toString();
        }
    }

    /** The name of a method as the command line and the reports write it: {@code max-abs}, {@code percentile}, {@code mse}, {@code auto}. */
    public static String name(QuantConfig.CalibrationMethod m) {
        return m.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }

    /** Tries every candidate on the observation of {@code samples}; {@code config}'s own method is ignored. */
    public static Choice choose(QuantConfig config, Graph g, Calibration.Observation obs, List<double[]> samples) {
        List<Score> scores = new ArrayList<>();
        List<Map<String, Double>> ranges = new ArrayList<>();
        ModelException first = null;
        for (QuantConfig.CalibrationMethod m : CANDIDATES) {
            Quantize q = new Quantize(config.withCalibration(m));
            Map<String, Double> r = obs.ranges(m, config.percentile(), q.widths(g));
            QuantizedGraph qg;
            try {
                qg = q.run(g, r, new PassContext());
            } catch (ModelException e) {
                first = first == null ? e : first;
                continue;
            }
            scores.add(score(m, qg, obs, samples));
            ranges.add(r);
        }
        if (scores.isEmpty()) {
            throw first;
        }
        int best = best(scores, samples.size());
        return new Choice(scores.get(best).method(), ranges.get(best), scores, samples.size());
    }

    /** Agreements this close to the best count as tied: 0.5 % of the samples, rounded down. */
    public static int tolerance(int samples) {
        return samples / 200;
    }

    /** Index of the winner among {@code scores} (in candidate order) by the rule of the class comment. */
    static int best(List<Score> scores, int samples) {
        int top = scores.stream().mapToInt(Score::agree).max().orElseThrow();
        int best = -1;
        for (int i = 0; i < scores.size(); i++) {
            Score s = scores.get(i);
            if (s.agree() >= top - tolerance(samples) && (best < 0 || s.outputError() < scores.get(best).outputError())) {
                best = i;
            }
        }
        return best;
    }

    private static Score score(QuantConfig.CalibrationMethod m, QuantizedGraph q, Calibration.Observation obs, List<double[]> samples) {
        int agree = 0;
        double err = 0;
        for (int s = 0; s < samples.size(); s++) {
            double[] ref = obs.outputs().get(s);
            double[] got = IntegerInterpreter.runReal(q, samples.get(s));
            agree += QuantErrorReport.argmax(ref) == QuantErrorReport.argmax(got) ? 1 : 0;
            for (int i = 0; i < ref.length; i++) {
                double e = got[i] - ref[i];
                err += e * e;
            }
        }
        return new Score(m, agree, err);
    }
}
