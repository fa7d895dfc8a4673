package io.streamfold.onnx;

import ai.onnx.proto.OnnxMl;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;
import io.streamfold.testutil.Examples;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import shade.com.google.protobuf.ByteString;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each kind of broken ONNX file gives one clear error naming the file and the node. */
class OnnxMalformedTest {

    @TempDir
    Path tmp;

    private static ModelProto seed() throws Exception {
        return ModelProto.parseFrom(Files.readAllBytes(Examples.onnx("cnn_seed")));
    }

    private ModelException readBroken(ModelProto m) throws Exception {
        return readBroken(m.toByteArray());
    }

    private ModelException readBroken(byte[] bytes) throws Exception {
        Path f = tmp.resolve("broken.onnx");
        Files.write(f, bytes);
        ModelException e = assertThrows(ModelException.class, () -> OnnxModelReader.read(f));
        assertEquals(f.toString(), e.file());
        assertTrue(e.toLine().startsWith("error: " + f + ": "), e.toLine());
        assertFalse(e.toLine().contains("\n"), "one line: " + e.toLine());
        return e;
    }

    /** The model with one node replaced. */
    private static ModelProto withNode(ModelProto m, String name, UnaryOperator<NodeProto> f) {
        OnnxMl.GraphProto.Builder g = m.getGraph().toBuilder();
        for (int i = 0; i < g.getNodeCount(); i++) {
            if (g.getNode(i).getName().equals(name)) {
                g.setNode(i, f.apply(g.getNode(i)));
            }
        }
        return m.toBuilder().setGraph(g).build();
    }

    /** The model with one initializer replaced. */
    private static ModelProto withInitializer(ModelProto m, String name, UnaryOperator<TensorProto> f) {
        OnnxMl.GraphProto.Builder g = m.getGraph().toBuilder();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            if (g.getInitializer(i).getName().equals(name)) {
                g.setInitializer(i, f.apply(g.getInitializer(i)));
            }
        }
        return m.toBuilder().setGraph(g).build();
    }

    private static float[] floats(TensorProto t) {
        ByteBuffer b = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        float[] v = new float[b.remaining() / 4];
        b.asFloatBuffer().get(v);
        return v;
    }

    private static TensorProto withFloats(TensorProto t, float[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return t.toBuilder().setRawData(ByteString.copyFrom(b.array())).build();
    }

    @Test
    void truncatedFile() throws Exception {
        byte[] whole = Files.readAllBytes(Examples.onnx("cnn_seed"));
        for (int cut : new int[] {0, 3, 17, whole.length / 3, whole.length / 2, whole.length - 7}) {
            ModelException e = readBroken(Arrays.copyOf(whole, cut));
            assertTrue(e.id() == Diagnostic.SF_CORRUPT_MODEL || e.id() == Diagnostic.SF_BAD_WEIGHTS || e.id() == Diagnostic.SF_BAD_GRAPH,
                    "cut at " + cut + ": " + e.toLine());
        }
    }

    @Test
    void notAModel() throws Exception {
        ModelException e = readBroken("hello, I am a text file\n".getBytes());
        assertEquals(Diagnostic.SF_CORRUPT_MODEL, e.id());
    }

    @Test
    void missingFile() {
        ModelException e = assertThrows(ModelException.class, () -> OnnxModelReader.read(tmp.resolve("nope.onnx")));
        assertEquals(Diagnostic.SF_CORRUPT_MODEL, e.id());
        assertTrue(e.toLine().contains("nope.onnx"));
    }

    @Test
    void unknownOperator() throws Exception {
        ModelException e = readBroken(withNode(seed(), "/2/Relu", n -> n.toBuilder().setOpType("Gelu").build()));
        assertEquals(Diagnostic.SF_UNSUPPORTED_OP, e.id());
        assertEquals("/2/Relu", e.node());
        assertTrue(e.reason().contains("Gelu"));
    }

    @Test
    void wrongInitializerSize() throws Exception {
        ModelProto m = withInitializer(seed(), "1.weight", t -> withFloats(t, Arrays.copyOf(floats(t), 27)));
        ModelException e = readBroken(m);
        assertEquals(Diagnostic.SF_BAD_WEIGHTS, e.id());
        assertTrue(e.reason().contains("1.weight"), e.toLine());
    }

    @Test
    void nanWeight() throws Exception {
        ModelProto m = withInitializer(seed(), "6.weight", t -> {
            float[] v = floats(t);
            v[5] = Float.NaN;
            return withFloats(t, v);
        });
        ModelException e = readBroken(m);
        assertEquals(Diagnostic.SF_BAD_WEIGHTS, e.id());
        assertEquals("/6/Gemm", e.node());
    }

    @Test
    void negativeVariance() throws Exception {
        ModelProto m = withInitializer(seed(), "3.running_var", t -> {
            float[] v = floats(t);
            v[2] = -0.5f;
            return withFloats(t, v);
        });
        ModelException e = readBroken(m);
        assertEquals(Diagnostic.SF_BAD_BATCHNORM, e.id());
        assertEquals("/3/BatchNormalization", e.node());
        assertTrue(e.reason().contains("variance[2]"), e.toLine());
    }

    @Test
    void infiniteBatchNormMean() throws Exception {
        ModelProto m = withInitializer(seed(), "3.running_mean", t -> {
            float[] v = floats(t);
            v[0] = Float.POSITIVE_INFINITY;
            return withFloats(t, v);
        });
        assertEquals(Diagnostic.SF_BAD_BATCHNORM, readBroken(m).id());
    }

    @Test
    void batchNormParameterLengthMismatch() throws Exception {
        ModelProto m = withInitializer(seed(), "3.bias", t -> withFloats(t.toBuilder().setDims(0, 5).build(), Arrays.copyOf(floats(t), 5)));
        ModelException e = readBroken(m);
        assertEquals(Diagnostic.SF_BAD_BATCHNORM, e.id());
        assertEquals("/3/BatchNormalization", e.node());
    }

    @Test
    void shapeMismatchBetweenLayers() throws Exception {
        // The Gemm weight claims 100 inputs while the flattened tensor has 128.
        ModelProto m = withInitializer(seed(), "6.weight",
                t -> withFloats(t.toBuilder().setDims(1, 100).build(), Arrays.copyOf(floats(t), 1000)));
        ModelException e = readBroken(m);
        assertEquals(Diagnostic.SF_SHAPE_MISMATCH, e.id());
        assertEquals("/6/Gemm", e.node());
    }

    @Test
    void opsetOutsideTheReadRangeIsRefused() throws Exception {
        for (int v : new int[] {0, OnnxModelReader.MAX_OPSET + 1}) {
            ModelProto m = seed().toBuilder().setOpsetImport(0, OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(v)).build();
            ModelException e = readBroken(m);
            assertEquals(Diagnostic.SF_UNSUPPORTED_OP, e.id());
            assertTrue(e.reason().contains("opset " + v), e.reason());
        }
    }
}
