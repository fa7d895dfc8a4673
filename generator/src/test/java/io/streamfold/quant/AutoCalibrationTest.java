package io.streamfold.quant;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.ir.Graph;
import io.streamfold.passes.FoldBatchNorm;
import io.streamfold.passes.PassContext;
import io.streamfold.testutil.Examples;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The default calibration's choice among max-abs, percentile and MSE. */
class AutoCalibrationTest {

    private static AutoCalibration.Score s(QuantConfig.CalibrationMethod m, int agree, double err) {
        return new AutoCalibration.Score(m, agree, err);
    }

    private static final QuantConfig.CalibrationMethod MAX = QuantConfig.CalibrationMethod.MAX_ABS;
    private static final QuantConfig.CalibrationMethod PCT = QuantConfig.CalibrationMethod.PERCENTILE;
    private static final QuantConfig.CalibrationMethod MSE = QuantConfig.CalibrationMethod.MSE;

    @Test
    void bestAgreementWinsBeyondTheTolerance() {
        assertEquals(0, AutoCalibration.tolerance(199));
        assertEquals(1, AutoCalibration.tolerance(200));
        assertEquals(2, AutoCalibration.best(List.of(s(MAX, 90, 1), s(PCT, 91, 1), s(MSE, 92, 5)), 100), "no tolerance below 200 samples");
        assertEquals(0, AutoCalibration.best(List.of(s(MAX, 300, 9), s(PCT, 297, 1), s(MSE, 296, 1)), 400), "3 samples of 400 are beyond 0.5 %");
    }

    @Test
    void withinTheToleranceTheSmallerErrorWinsThenTheSimplerMethod() {
        assertEquals(2, AutoCalibration.best(List.of(s(MAX, 199, 9), s(PCT, 199, 8), s(MSE, 198, 5)), 200));
        assertEquals(1, AutoCalibration.best(List.of(s(MAX, 200, 9), s(PCT, 200, 5), s(MSE, 200, 5)), 200), "equal error: the simpler");
        assertEquals(0, AutoCalibration.best(List.of(s(MAX, 200, 5), s(PCT, 200, 5), s(MSE, 200, 5)), 200));
    }

    @Test
    void residualExampleChoosesMseForItsSmallerErrorAndRecordsWhy() {
        Graph g = new FoldBatchNorm().run(ModelLoader.load(Examples.onnx("cnn_residual")), new PassContext());
        List<double[]> calib = DataFiles.samples(Examples.data("cnn_residual", "calib.npy"), g);
        PassContext ctx = new PassContext();
        QuantizedGraph q = new Quantize(QuantConfig.defaults()).run(g, calib, ctx);
        // Measured on the 200 calibration inputs: max-abs and percentile agree on 199, MSE on 198 (a tie at 0.5 %), and MSE's
        // output error is the smallest.
        assertEquals("auto: mse (top-1 agreement on 200 calibration samples: max-abs 199, percentile 199, mse 198)", q.calibration());
        assertTrue(ctx.notes().contains("quantize: calibration: " + q.calibration()), ctx.notes().toString());
        QuantizedGraph mse = new Quantize(QuantConfig.defaults().withCalibration(MSE)).run(g, calib, new PassContext());
        assertEquals(mse.formats(), q.formats());
        // The candidates were quantized with their own contexts: the counters are those of one quantization.
        PassContext one = new PassContext();
        new Quantize(QuantConfig.defaults().withCalibration(MSE)).run(g, calib, one);
        assertEquals(one.counters(Quantize.NAME), ctx.counters(Quantize.NAME));
        QuantErrorReport onCalib = QuantErrorReport.measure(q, calib);
        assertEquals(198, onCalib.top1Agreements(), "the score is the agreement QuantErrorReport measures");
    }

    @Test
    void everyCandidateIsScoredOnTheSameSamplesAndTheWinnerIsTheirBest() {
        for (String m : Examples.ALL) {
            Graph g = new FoldBatchNorm().run(ModelLoader.load(Examples.model(m)), new PassContext());
            List<double[]> calib = DataFiles.samples(Examples.data(m, "calib.npy"), g);
            Calibration.Observation obs = Calibration.observe(g, calib);
            AutoCalibration.Choice c = AutoCalibration.choose(QuantConfig.defaults(), g, obs, calib);
            assertEquals(AutoCalibration.CANDIDATES, c.scores().stream().map(AutoCalibration.Score::method).toList());
            for (AutoCalibration.Score sc : c.scores()) {
                QuantizedGraph q = new Quantize(QuantConfig.defaults().withCalibration(sc.method())).run(g, calib, new PassContext());
                assertEquals(QuantErrorReport.measure(q, calib).top1Agreements(), sc.agree(), m + " " + sc.method());
            }
            assertEquals(c.method(), c.scores().get(AutoCalibration.best(c.scores(), calib.size())).method());
            AutoCalibration.Choice again = AutoCalibration.choose(QuantConfig.defaults(), g, Calibration.observe(g, calib), calib);
            assertEquals(c, again, "deterministic");
        }
    }
}
