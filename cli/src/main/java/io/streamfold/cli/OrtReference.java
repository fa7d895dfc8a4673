package io.streamfold.cli;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.OnnxJavaType;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * ONNX Runtime as an independent third reference for {@code verify}. It runs the ORIGINAL model file
 * one sample at a time (batch 1, so models exported with a fixed batch of 1 run too), fed in the
 * model's own input layout, without graph optimizations.
 *
 * <p>ORT is optional: its native library may fail to load and it refuses some real exports (old
 * opsets, fixed batch dimensions). {@link #run} then returns the reason instead of outputs, and the
 * caller reports it; it never fails a verification.
 */
final class OrtReference {

    /** Outputs (one flat float vector per sample), or null and the reason ORT could not give them. */
    record Result(List<double[]> outputs, String unavailable) {
    }

    private OrtReference() {
    }

    static Result run(Path model, int[] sampleShape, List<double[]> inputs) {
        try {
            return new Result(runOrThrow(model, sampleShape, inputs), null);
        } catch (Throwable t) { // UnsatisfiedLinkError, OrtException, ClassCastException on odd outputs...
            String why = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
            why = why.lines().findFirst().orElse(why).strip();
            return new Result(null, why.length() > 160 ? why.substring(0, 160) + "..." : why);
        }
    }

    private static List<double[]> runOrThrow(Path model, int[] sampleShape, List<double[]> inputs) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setIntraOpNumThreads(1);
            // The model as written: ORT 1.20's Pad fusion turns Pad -> AveragePool into a pool that
            // does not count the padded zeros.
            opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
            try (OrtSession s = env.createSession(model.toString(), opts)) {
                String input = s.getInputNames().iterator().next();
                if (s.getInputInfo().get(input).getInfo() instanceof TensorInfo ti && ti.type != OnnxJavaType.FLOAT) {
                    throw new IllegalStateException("input " + input + " is " + ti.type + ", only float32 inputs are fed");
                }
                long[] shape = new long[sampleShape.length + 1];
                shape[0] = 1;
                for (int i = 0; i < sampleShape.length; i++) {
                    shape[i + 1] = sampleShape[i];
                }
                List<double[]> out = new ArrayList<>();
                for (double[] x : inputs) {
                    float[] data = new float[x.length];
                    for (int i = 0; i < data.length; i++) {
                        data[i] = (float) x[i];
                    }
                    try (OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(data), shape);
                         OrtSession.Result r = s.run(Map.of(input, t))) {
                        FloatBuffer fb = ((OnnxTensor) r.get(0)).getFloatBuffer();
                        if (fb == null) {
                            throw new IllegalStateException("first output is not float32");
                        }
                        double[] y = new double[fb.remaining()];
                        for (int i = 0; i < y.length; i++) {
                            y[i] = fb.get(i);
                        }
                        out.add(y);
                    }
                }
                return out;
            }
        }
    }
}
