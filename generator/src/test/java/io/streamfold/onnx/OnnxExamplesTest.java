package io.streamfold.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.streamfold.data.NdArray;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Shape;
import io.streamfold.reference.FloatInterpreter;
import io.streamfold.testutil.Examples;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ONNX frontend plus the float64 reference reproduce PyTorch's outputs and ONNX Runtime's on
 * every example model.
 */
class OnnxExamplesTest {

    static List<String> models() {
        return Examples.MODELS;
    }

    @ParameterizedTest
    @MethodSource("models")
    void floatReferenceMatchesPyTorch(String model) {
        Graph g = OnnxModelReader.read(Examples.onnx(model));
        NdArray x = Examples.npy(model, "inputs.npy");
        NdArray torch = Examples.npy(model, "outputs.npy");
        assertEquals(300, x.rows());
        double[][] ours = runAll(g, x);
        assertClose(ours, torch, 1e-5, model + " vs PyTorch");
    }

    @ParameterizedTest
    @MethodSource("models")
    void floatReferenceMatchesOnnxRuntime(String model) throws Exception {
        Graph g = OnnxModelReader.read(Examples.onnx(model));
        NdArray x = Examples.npy(model, "inputs.npy");
        NdArray ort = runOrt(model, x);
        assertClose(runAll(g, x), ort, 1e-5, model + " vs ONNX Runtime");
    }

    @ParameterizedTest
    @MethodSource("models")
    void classifiesLikeTheTrainedModel(String model) {
        Graph g = OnnxModelReader.read(Examples.onnx(model));
        NdArray x = Examples.npy(model, "inputs.npy");
        NdArray labels = Examples.npy(model, "labels.npy");
        double[][] ours = runAll(g, x);
        int right = 0;
        for (int i = 0; i < ours.length; i++) {
            right += argmax(ours[i]) == (int) labels.data()[i] ? 1 : 0;
        }
        assertTrue(right >= 0.9 * ours.length, model + ": accuracy " + right + "/" + ours.length);
    }

    @Test
    void mapsTheSeedModelNodeByNode() {
        Graph g = OnnxModelReader.read(Examples.onnx("cnn_seed"));
        assertEquals(Shape.of(1, 8, 8), g.inputShape());
        assertEquals(Shape.of(10), g.outputShape());
        assertEquals(List.of("BatchNormalization", "Conv", "Relu", "BatchNormalization", "MaxPool", "Flatten", "Dense", "Softmax"),
                g.nodes().stream().map(n -> n.op().kind()).toList());
        assertEquals("/0/BatchNormalization", g.nodes().get(0).name());
    }

    @Test
    void mapsTheResidualModelWithClipAndConstants() {
        Graph g = OnnxModelReader.read(Examples.onnx("cnn_residual"));
        Map<String, Integer> counts = g.opCounts();
        assertEquals(3, counts.get("Conv"));
        assertEquals(3, counts.get("BatchNormalization"));
        assertEquals(1, counts.get("Add"));
        assertEquals(1, counts.get("Clip"));
        assertEquals(1, counts.get("LeakyRelu"));
        assertEquals(1, counts.get("GlobalAveragePool"));
        assertEquals(1, counts.get("AveragePool"));
    }

    static double[][] runAll(Graph g, NdArray x) {
        double[][] out = new double[x.rows()][];
        for (int i = 0; i < x.rows(); i++) {
            out[i] = FloatInterpreter.run(g, x.row(i));
        }
        return out;
    }

    static NdArray runOrt(String model, NdArray x) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setIntraOpNumThreads(1);
            try (OrtSession s = env.createSession(Examples.onnx(model).toString(), opts)) {
                float[] data = new float[x.data().length];
                for (int i = 0; i < data.length; i++) {
                    data[i] = (float) x.data()[i];
                }
                long[] shape = java.util.Arrays.stream(x.shape()).mapToLong(v -> v).toArray();
                try (OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(data), shape);
                     OrtSession.Result r = s.run(Map.of(s.getInputNames().iterator().next(), t))) {
                    float[][] y = (float[][]) r.get(0).getValue();
                    double[] flat = new double[y.length * y[0].length];
                    for (int i = 0; i < y.length; i++) {
                        for (int j = 0; j < y[i].length; j++) {
                            flat[i * y[i].length + j] = y[i][j];
                        }
                    }
                    return new NdArray(new int[] {y.length, y[0].length}, flat);
                }
            }
        }
    }

    /** Max abs difference, relative to the reference's output range, must be within tol. */
    static void assertClose(double[][] ours, NdArray ref, double tol, String what) {
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (double v : ref.data()) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        double range = Math.max(hi - lo, 1e-12);
        double worst = 0;
        int cols = ref.rowSize();
        for (int i = 0; i < ours.length; i++) {
            for (int j = 0; j < cols; j++) {
                worst = Math.max(worst, Math.abs(ours[i][j] - ref.data()[i * cols + j]));
            }
        }
        assertTrue(worst / range <= tol, what + ": max abs diff " + worst + " over range " + range);
    }

    static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
