package io.streamfold.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.streamfold.compile.Pipeline;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Op;
import io.streamfold.ir.Window;
import io.streamfold.onnx.OnnxOpsVsRuntimeTest.Builder;
import io.streamfold.passes.FoldBatchNorm;
import io.streamfold.reference.FloatInterpreter;
import org.junit.jupiter.api.Test;

import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static io.streamfold.onnx.OnnxOpsVsRuntimeTest.f;
import static io.streamfold.onnx.OnnxOpsVsRuntimeTest.i;
import static io.streamfold.onnx.OnnxOpsVsRuntimeTest.ints;
import static io.streamfold.onnx.OnnxOpsVsRuntimeTest.s;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Operators at old opset versions (6 to 10) and the exporter habits of real files, each in a
 * small generated model: the float reference equals ONNX Runtime on the same file (ORT runs
 * opsets 7 and later), or, for opset 6, ORT on the same network written at a later opset; and
 * what a version means that the IR cannot express is refused in one line.
 */
class OnnxOpsetsTest {

    private static final int SAMPLES = 4;

    /** Float reference of {@code ours} (inputs and outputs in its model layout) vs ORT on {@code ort}, on random inputs. */
    static Graph agree(Builder ours, Builder ort) throws Exception {
        byte[] ob = ours.build();
        byte[] rb = ort == ours ? ob : ort.build();
        Graph g = OnnxModelReader.parse(ob, "t");
        int per = g.inputShape().size();
        float[] x = new float[SAMPLES * per];
        Random r = new Random(11);
        for (int k = 0; k < x.length; k++) {
            x[k] = (float) r.nextGaussian();
        }
        long[] shape = ort.inputDims.clone();
        shape[0] = SAMPLES;
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        // No graph optimizations: ORT 1.20's Pad fusion turns Pad -> AveragePool into a pool that
        // does not count the padded zeros, which is not what the unoptimized model computes.
        OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
        opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
        try (opts; OrtSession sess = env.createSession(rb, opts);
             OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), shape);
             OrtSession.Result res = sess.run(Map.of("x", t))) {
            float[] flat = ((OnnxTensor) res.get(0)).getFloatBuffer().array();
            int outPer = flat.length / SAMPLES;
            assertEquals(g.outputShape().size(), outPer, "output size\n" + g);
            double worst = 0;
            double scale = 1e-9;
            for (int k = 0; k < SAMPLES; k++) {
                double[] in = new double[per];
                for (int j = 0; j < per; j++) {
                    in[j] = x[k * per + j];
                }
                double[] y = g.toModelOutput(FloatInterpreter.run(g, g.toGraphInput(in)));
                for (int j = 0; j < outPer; j++) {
                    worst = Math.max(worst, Math.abs(y[j] - flat[k * outPer + j]));
                    scale = Math.max(scale, Math.abs(flat[k * outPer + j]));
                }
            }
            assertTrue(worst <= 1e-5 * scale, "max abs diff " + worst + " (scale " + scale + ")\n" + g);
        }
        return g;
    }

    static Graph agree(Builder b) throws Exception {
        return agree(b, b);
    }

    static ModelException refused(Builder b, Diagnostic id) {
        ModelException e = assertThrows(ModelException.class, () -> OnnxModelReader.parse(b.build(), "t"));
        assertEquals(id, e.id(), e.toLine());
        assertFalse(e.toLine().contains("\n"), e.toLine());
        return e;
    }

    private static List<String> kinds(Graph g) {
        return g.nodes().stream().map(n -> n.op().kind()).toList();
    }

    // --- BatchNormalization ---------------------------------------------------------------------

    private static Builder convThenBn(int opset, ai.onnx.proto.OnnxMl.AttributeProto... bnAttrs) {
        Builder b = new Builder(opset, 1, 2, 5, 5);
        String w = b.init(new long[] {4, 2, 3, 3}, 0.5);
        b.node("Conv", List.of(w), ints("kernel_shape", 3, 3), ints("pads", 1, 1, 1, 1));
        String sc = b.init(new long[] {4}, 1.0);
        String bi = b.init(new long[] {4}, 0.5);
        String mean = b.init(new long[] {4}, 0.5);
        String var = b.init(new long[] {4}, new float[] {0.5f, 1.5f, 2f, 0.25f});
        b.node("BatchNormalization", List.of(sc, bi, mean, var), bnAttrs);
        return b;
    }

    @Test
    void batchNorm6InTestModeIsBatchNorm15() throws Exception {
        Graph g = agree(convThenBn(6, i("is_test", 1), i("spatial", 1), f("epsilon", 1e-3f)), convThenBn(15, f("epsilon", 1e-3f)));
        assertTrue(kinds(g).contains("BatchNormalization"));
        refused(convThenBn(6), Diagnostic.SF_UNSUPPORTED_OP);
        refused(convThenBn(6, i("is_test", 1), i("spatial", 0)), Diagnostic.SF_UNSUPPORTED_OP);
    }

    @Test
    void batchNorm7And9AtTheirOpsets() throws Exception {
        agree(convThenBn(7, i("spatial", 1)));
        agree(convThenBn(9));
        refused(convThenBn(7, i("spatial", 0)), Diagnostic.SF_UNSUPPORTED_OP);
    }

    /** PyTorch's BatchNorm1d after a Linear at opset 6: Gemm -> Unsqueeze -> BN -> Squeeze. */
    private static Builder linearBn1d(int opset, boolean wrapped) {
        Builder b = new Builder(opset, 1, 6);
        String w = b.init(new long[] {5, 6}, 0.5);
        String c = b.init(new long[] {5}, 0.5);
        if (opset < 7) {
            b.node("Gemm", List.of(w, c), i("transB", 1), i("broadcast", 1));
        } else {
            b.node("Gemm", List.of(w, c), i("transB", 1));
        }
        if (wrapped) {
            b.node("Unsqueeze", ints("axes", 2));
        }
        String sc = b.init(new long[] {5}, 1.0);
        String bi = b.init(new long[] {5}, 0.5);
        String mean = b.init(new long[] {5}, 0.5);
        String var = b.init(new long[] {5}, new float[] {0.5f, 1.5f, 2f, 0.25f, 1f});
        b.node("BatchNormalization", List.of(sc, bi, mean, var), opset < 7 ? new ai.onnx.proto.OnnxMl.AttributeProto[] {i("is_test", 1)}
                : new ai.onnx.proto.OnnxMl.AttributeProto[0]);
        if (wrapped) {
            b.node("Squeeze", ints("axes", 2));
        }
        b.node("Relu");
        return b;
    }

    @Test
    void unsqueezeBatchNormSqueezeCostsNothingAndFolds() throws Exception {
        Graph g = agree(linearBn1d(6, true), linearBn1d(13, false));
        assertEquals(List.of("Dense", "BatchNormalization", "Relu"), kinds(g), "no Reshape nodes: " + g);
        Pipeline.Result folded = Pipeline.fold(g);
        assertEquals(1, folded.context().counter(FoldBatchNorm.NAME, FoldBatchNorm.FOLDED_PRECEDING_DENSE));
        agree(linearBn1d(9, true));
    }

    // --- Gemm and Add ---------------------------------------------------------------------------

    private static Builder gemm(int opset, long[] cDims, ai.onnx.proto.OnnxMl.AttributeProto... attrs) {
        Builder b = new Builder(opset, 1, 6);
        String w = b.init(new long[] {6, 3}, 0.5);
        String c = b.init(cDims, 0.5);
        b.node("Gemm", List.of(w, c), attrs);
        return b;
    }

    @Test
    void gemm6BroadcastsCOnlyWhenAsked() throws Exception {
        agree(gemm(6, new long[] {3}, i("broadcast", 1)), gemm(13, new long[] {3}));
        agree(gemm(6, new long[] {1, 3}), gemm(13, new long[] {1, 3}));
        refused(gemm(6, new long[] {3}), Diagnostic.SF_BAD_ATTRIBUTE);
        agree(gemm(7, new long[] {3}));
        agree(gemm(9, new long[] {3}, f("alpha", 0.5f), f("beta", 2f)));
    }

    /** Conv then Add of a per-channel constant, with legacy (opset 6) or numpy broadcasting. */
    private static Builder convAdd(int opset, long[] cDims, ai.onnx.proto.OnnxMl.AttributeProto... attrs) {
        Builder b = new Builder(opset, 1, 2, 4, 4);
        String w = b.init(new long[] {3, 2, 3, 3}, 0.5);
        b.node("Conv", List.of(w), ints("kernel_shape", 3, 3));
        String c = b.init(cDims, new float[] {0.5f, -1f, 2f});
        b.node("Add", List.of(c), attrs);
        return b;
    }

    @Test
    void add6LegacyBroadcastAtAnAxisIsAPerChannelBias() throws Exception {
        Graph g = agree(convAdd(6, new long[] {3}, i("broadcast", 1), i("axis", 1)), convAdd(13, new long[] {3, 1, 1}));
        assertEquals(List.of("Conv"), kinds(g), "the constant became the conv's bias");
        refused(convAdd(6, new long[] {3}), Diagnostic.SF_BAD_ATTRIBUTE);
        // without axis the constant aligns with the last axis (W = 2): not per channel
        refused(convAdd(6, new long[] {3}, i("broadcast", 1)), Diagnostic.SF_UNSUPPORTED_OP);
        agree(convAdd(7, new long[] {3, 1, 1}));
    }

    // --- Reshape, Flatten, Softmax, Clip, Dropout ----------------------------------------------

    @Test
    void reshape1TakesItsShapeAsAnAttributeAndReshape5AsAnInput() throws Exception {
        Builder attr = new Builder(4, 1, 12);
        attr.node("Reshape", ints("shape", 0, 3, 4));
        attr.node("Softmax", i("axis", 2));
        Builder input = new Builder(7, 1, 12);
        input.node("Reshape", List.of(input.initInts(0, 3, 4)));
        input.node("Softmax", i("axis", 2));
        agree(attr, input);
    }

    @Test
    void softmaxBefore13CoercesTo2dAtItsAxis() throws Exception {
        for (int axis : new int[] {1, 2, 3}) {
            Builder b = new Builder(9, 1, 2, 3, 4);
            b.node("Softmax", i("axis", axis));
            Graph g = agree(b);
            assertTrue(kinds(g).contains("Softmax"));
        }
        Builder batch = new Builder(9, 1, 2, 3, 4);
        batch.node("Softmax", i("axis", 0));
        refused(batch, Diagnostic.SF_UNSUPPORTED_OP);
        Builder dflt = new Builder(11, 1, 2, 3, 4);
        dflt.node("Softmax");
        agree(dflt);
    }

    @Test
    void flattenClipAndDropoutAtOldVersions() throws Exception {
        Builder b = new Builder(9, 1, 2, 3, 3);
        b.node("Clip", f("min", -0.5f), f("max", 0.75f));
        b.node("Dropout", f("ratio", 0.3f));
        b.node("Flatten", i("axis", 1));
        agree(b);
        Builder ten = new Builder(10, 1, 2, 3, 3);
        ten.node("Dropout");
        ten.node("Flatten");
        agree(ten);
        Builder six = new Builder(6, 1, 4);
        six.node("Dropout", i("is_test", 1));
        six.node("Clip", f("max", 1f));
        Builder sixModern = new Builder(13, 1, 4);
        sixModern.node("Clip", List.of("", sixModern.init(new long[0], new float[] {1f})));
        agree(six, sixModern);
        Builder training = new Builder(6, 1, 4);
        training.node("Dropout");
        refused(training, Diagnostic.SF_UNSUPPORTED_OP);
    }

    // --- pooling --------------------------------------------------------------------------------

    @Test
    void maxPool8StorageOrderWithoutIndicesAndMaxPool10CeilAndDilations() throws Exception {
        Builder eight = new Builder(8, 1, 2, 6, 6);
        eight.node("MaxPool", ints("kernel_shape", 2, 2), ints("strides", 2, 2), i("storage_order", 1));
        agree(eight);
        Builder ceil = new Builder(10, 1, 2, 7, 7);
        ceil.node("MaxPool", ints("kernel_shape", 3, 2), ints("strides", 2, 2), i("ceil_mode", 1));
        Graph g = agree(ceil);
        Window w = ((Op.MaxPool) g.nodes().get(0).op()).window();
        assertArrayEquals(new int[] {0, 1}, w.padsEnd(), "ceil mode is end padding: " + w);
        Builder dil = new Builder(10, 1, 2, 7, 7);
        dil.node("MaxPool", ints("kernel_shape", 2, 3), ints("dilations", 2, 2), ints("pads", 1, 1, 1, 1));
        agree(dil);
        Builder old = new Builder(8, 1, 2, 7, 7);
        old.node("MaxPool", ints("kernel_shape", 2, 2), i("ceil_mode", 1));
        refused(old, Diagnostic.SF_BAD_ATTRIBUTE);
    }

    @Test
    void averagePool7CountsPaddingAndAveragePool10CeilMode() throws Exception {
        Builder seven = new Builder(7, 1, 2, 5, 5);
        seven.node("AveragePool", ints("kernel_shape", 3, 3), ints("pads", 1, 1, 1, 1), i("count_include_pad", 1));
        agree(seven);
        Builder ceil = new Builder(10, 1, 2, 6, 5);
        ceil.node("AveragePool", ints("kernel_shape", 3, 3), ints("strides", 2, 2), i("ceil_mode", 1));
        agree(ceil);
        Builder both = new Builder(10, 1, 2, 6, 5);
        both.node("AveragePool", ints("kernel_shape", 3, 3), ints("strides", 2, 2), i("ceil_mode", 1), i("count_include_pad", 1));
        refused(both, Diagnostic.SF_UNSUPPORTED_OP);
    }

    // --- Pad ------------------------------------------------------------------------------------

    private static Builder padConv(int opset, boolean inputs) {
        Builder b = new Builder(opset, 1, 2, 5, 5);
        if (inputs) {
            b.node("Pad", List.of(b.initInts(0, 0, 1, 2, 0, 0, 2, 0)), s("mode", "constant"));
        } else {
            b.node("Pad", ints("pads", 0, 0, 1, 2, 0, 0, 2, 0), f("value", 0f));
        }
        String w = b.init(new long[] {3, 2, 3, 3}, 0.5);
        b.node("Conv", List.of(w), ints("kernel_shape", 3, 3), ints("pads", 1, 0, 0, 1));
        return b;
    }

    @Test
    void zeroPadBeforeAConvBecomesItsPadding() throws Exception {
        for (Builder b : List.of(padConv(7, false), padConv(10, false), padConv(11, true), padConv(13, true))) {
            Graph g = agree(b);
            assertEquals(List.of("Conv"), kinds(g));
            Window w = ((Op.Conv) g.nodes().get(0).op()).window();
            assertArrayEquals(new int[] {2, 2}, w.padsBegin());
            assertArrayEquals(new int[] {2, 1}, w.padsEnd());
        }
    }

    @Test
    void zeroPadBeforePoolsOnlyWhereTheResultIsTheSame() throws Exception {
        Builder relu = new Builder(9, 1, 2, 5, 5);
        relu.node("Relu");
        relu.node("Pad", ints("pads", 0, 0, 1, 1, 0, 0, 1, 1));
        relu.node("MaxPool", ints("kernel_shape", 3, 3), ints("strides", 2, 2));
        agree(relu);
        Builder signed = new Builder(9, 1, 2, 5, 5);
        signed.node("Pad", ints("pads", 0, 0, 1, 1, 0, 0, 1, 1));
        signed.node("MaxPool", ints("kernel_shape", 3, 3));
        refused(signed, Diagnostic.SF_UNSUPPORTED_OP);
        Builder avg = new Builder(9, 1, 2, 5, 5);
        avg.node("Pad", ints("pads", 0, 0, 1, 1, 0, 0, 1, 1));
        avg.node("AveragePool", ints("kernel_shape", 3, 3));
        Graph g = agree(avg);
        assertTrue(((Op.AvgPool) g.nodes().get(0).op()).countIncludePad(), "the padded zeros are counted, as ONNX does");
        Builder other = new Builder(9, 1, 2, 5, 5);
        other.node("Pad", ints("pads", 0, 0, 1, 1, 0, 0, 1, 1));
        other.node("Relu");
        refused(other, Diagnostic.SF_UNSUPPORTED_OP);
        Builder one = new Builder(9, 1, 2, 5, 5);
        one.node("Pad", ints("pads", 0, 0, 1, 1, 0, 0, 1, 1), f("value", 1f));
        refused(one, Diagnostic.SF_UNSUPPORTED_OP);
        Builder reflect = new Builder(9, 1, 2, 5, 5);
        reflect.node("Pad", ints("pads", 0, 0, 1, 1, 0, 0, 1, 1), s("mode", "reflect"));
        refused(reflect, Diagnostic.SF_UNSUPPORTED_OP);
    }

    // --- activations ----------------------------------------------------------------------------

    @Test
    void seluSoftplusHardSigmoidAndPerChannelPRelu() throws Exception {
        Builder b = new Builder(7, 1, 3, 4, 4);
        b.node("Selu", f("alpha", 1.5f), f("gamma", 1.1f));
        b.node("PRelu", List.of(b.init(new long[] {3, 1, 1}, new float[] {0.1f, -0.3f, 0.25f})));
        b.node("HardSigmoid", f("alpha", 0.3f));
        b.node("Softplus");
        Graph g = agree(b);
        assertEquals(List.of("Selu", "PRelu", "HardSigmoid", "Softplus"), kinds(g));
        Builder shared = new Builder(9, 1, 6);
        shared.node("PRelu", List.of(shared.init(new long[] {1}, new float[] {0.2f})));
        assertEquals(List.of("LeakyRelu"), kinds(agree(shared)));
        Builder perElement = new Builder(9, 1, 3, 4);
        perElement.node("PRelu", List.of(perElement.init(new long[] {3, 4}, 0.2)));
        refused(perElement, Diagnostic.SF_UNSUPPORTED_OP);
    }

    // --- exporter habits ------------------------------------------------------------------------

    /** onnxmltools' Keras Conv2D: NHWC input, Transpose to NCHW, Conv, Relu, Transpose back, Flatten, Gemm. */
    private static Builder kerasConv(int opset) {
        Builder b = new Builder(opset, 1, 5, 4, 3);
        b.node("Transpose", ints("perm", 0, 3, 1, 2));
        String w = b.init(new long[] {2, 3, 3, 3}, 0.5);
        b.node("Conv", List.of(w), ints("kernel_shape", 3, 3), ints("pads", 1, 1, 1, 1));
        b.node("Relu");
        b.node("Transpose", ints("perm", 0, 2, 3, 1));
        b.node("Flatten");
        String fc = b.init(new long[] {40, 6}, 0.3);
        b.node("Gemm", List.of(fc, b.init(new long[] {6}, 0.1)));
        return b;
    }

    @Test
    void channelsLastInputIsTheChannelsFirstModelBehindItsTranspose() throws Exception {
        Graph g = agree(kerasConv(9));
        assertArrayEquals(new int[] {3, 5, 4}, g.inputShape().dims());
        assertArrayEquals(new int[] {5, 4, 3}, g.modelInputDims());
        assertEquals(List.of("Conv", "Relu", "Flatten", "Dense"), kinds(g));
        assertTrue(g.source().notes().stream().anyMatch(n -> n.contains("channels last")), g.source().notes().toString());
        assertEquals(List.of("import"), Pipeline.fold(g).context().notes().stream().map(n -> n.substring(0, n.indexOf(':'))).distinct()
                .toList());
    }

    @Test
    void transposedOutputIsReportedInTheModelsLayout() throws Exception {
        Builder b = new Builder(9, 1, 2, 3, 4);
        b.node("Relu");
        b.node("Transpose", ints("perm", 0, 2, 3, 1));
        Graph g = agree(b);
        assertArrayEquals(new int[] {3, 4, 2}, g.modelOutputDims());
        Builder conv = new Builder(9, 1, 2, 3, 4);
        conv.node("Transpose", ints("perm", 0, 1, 3, 2));
        conv.node("MaxPool", ints("kernel_shape", 2, 2));
        refused(conv, Diagnostic.SF_UNSUPPORTED_OP);
    }

    /** onnxmltools' Keras BatchNormalization on a Dense output: Transpose (no perm), BN, Transpose. */
    private static Builder kerasDenseBn(boolean wrapped) {
        Builder b = new Builder(9, 1, 6);
        b.node("MatMul", List.of(b.init(new long[] {6, 4}, 0.5)));
        b.node("Add", List.of(b.init(new long[] {4}, 0.2)));
        if (wrapped) {
            b.node("Transpose");
        }
        String sc = b.init(new long[] {4}, 1.0);
        String bi = b.init(new long[] {4}, 0.5);
        String mean = b.init(new long[] {4}, 0.5);
        String var = b.init(new long[] {4}, new float[] {0.5f, 1.5f, 2f, 0.25f});
        b.node("BatchNormalization", List.of(sc, bi, mean, var), f("epsilon", 1e-3f));
        if (wrapped) {
            b.node("Transpose");
        }
        b.node("Relu");
        return b;
    }

    @Test
    void batchNormOfATransposedVectorIsPerFeatureWithANote() throws Exception {
        Graph g = agree(kerasDenseBn(true), kerasDenseBn(false));
        assertEquals(List.of("Dense", "BatchNormalization", "Relu"), kinds(g));
        assertTrue(g.source().notes().stream().anyMatch(n -> n.contains("per feature")), g.source().notes().toString());
        Pipeline.Result r = Pipeline.fold(g);
        assertTrue(r.context().notes().stream().anyMatch(n -> n.startsWith("import: ") && n.contains("per feature")));
        assertEquals(1, r.context().counter(FoldBatchNorm.NAME, FoldBatchNorm.FOLDED_PRECEDING_DENSE));
        Builder dangling = new Builder(9, 1, 6);
        dangling.node("Transpose");
        dangling.node("Softmax");
        refused(dangling, Diagnostic.SF_UNSUPPORTED_OP);
    }

    @Test
    void fixedBatchIsTheBatchAxisWithANote() throws Exception {
        Builder b = new Builder(9, 7, 5);
        b.fixedBatch = true;
        b.node("Relu");
        Graph g = OnnxModelReader.parse(b.build(), "t");
        assertArrayEquals(new int[] {5}, g.inputShape().dims());
        assertTrue(g.source().notes().stream().anyMatch(n -> n.contains("fixed at 7")));
        Builder sq = new Builder(9, 1, 5, 1);
        sq.fixedBatch = true;
        sq.node("Squeeze");
        refused(sq, Diagnostic.SF_UNSUPPORTED_OP);
    }
}
