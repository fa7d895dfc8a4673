package io.streamfold.onnx;

import java.util.Map;

/**
 * The versions of the ONNX operators streamfold reads: for each operator of the default domain,
 * the opsets in which a new version of it appeared (ONNX docs/Changelog.md). The version of an
 * operator in a model is the newest one not above the model's opset; the converters branch on it
 * where the semantics changed (see {@link OnnxModelReader}).
 */
final class OnnxOpsets {

    private OnnxOpsets() {
    }

    /** Since-versions per operator, ascending, up to opset 21. */
    private static final Map<String, int[]> SINCE = Map.ofEntries(
            Map.entry("Add", new int[] {1, 6, 7, 13, 14}),
            Map.entry("AveragePool", new int[] {1, 7, 10, 11, 19}),
            Map.entry("BatchNormalization", new int[] {1, 6, 7, 9, 14, 15}),
            Map.entry("Clip", new int[] {1, 6, 11, 12, 13}),
            Map.entry("Constant", new int[] {1, 9, 11, 12, 13, 19, 21}),
            Map.entry("Conv", new int[] {1, 11}),
            Map.entry("Dropout", new int[] {1, 6, 7, 10, 12, 13}),
            Map.entry("Elu", new int[] {1, 6}),
            Map.entry("Flatten", new int[] {1, 9, 11, 13, 21}),
            Map.entry("Gemm", new int[] {1, 6, 7, 9, 11, 13}),
            Map.entry("GlobalAveragePool", new int[] {1}),
            Map.entry("HardSigmoid", new int[] {1, 6}),
            Map.entry("Identity", new int[] {1, 13, 14, 16, 19, 21}),
            Map.entry("LeakyRelu", new int[] {1, 6, 16}),
            Map.entry("MatMul", new int[] {1, 9, 13}),
            Map.entry("MaxPool", new int[] {1, 8, 10, 11, 12}),
            Map.entry("Pad", new int[] {1, 2, 11, 13, 18, 19, 21}),
            Map.entry("PRelu", new int[] {1, 6, 7, 9, 16}),
            Map.entry("Relu", new int[] {1, 6, 13, 14}),
            Map.entry("Reshape", new int[] {1, 5, 13, 14, 19, 21}),
            Map.entry("Selu", new int[] {1, 6}),
            Map.entry("Sigmoid", new int[] {1, 6, 13}),
            Map.entry("Softmax", new int[] {1, 11, 13}),
            Map.entry("Softplus", new int[] {1}),
            Map.entry("Squeeze", new int[] {1, 11, 13, 21}),
            Map.entry("Tanh", new int[] {1, 6, 13}),
            Map.entry("Transpose", new int[] {1, 13, 21}),
            Map.entry("Unsqueeze", new int[] {1, 11, 13, 21}));

    /** The version of {@code op} in effect at {@code opset}, or -1 if streamfold does not know the operator. */
    static int version(String op, int opset) {
        int[] since = SINCE.get(op);
        if (since == null) {
            return -1;
        }
        int v = -1;
        for (int s : since) {
            if (s <= opset) {
                v = s;
            }
        }
        return v;
    }
}
