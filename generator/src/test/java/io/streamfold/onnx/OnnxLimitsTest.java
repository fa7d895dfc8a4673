package io.streamfold.onnx;

import ai.onnx.proto.OnnxMl;
import ai.onnx.proto.OnnxMl.AttributeProto;
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
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Sizes and attributes beyond 32 bits are input errors naming the node, never an arithmetic
 * exception or a silently wrapped value (issue 11, defects 6 and 8).
 */
class OnnxLimitsTest {

    @TempDir
    Path tmp;

    private static ModelProto model(String name) throws Exception {
        return ModelProto.parseFrom(Files.readAllBytes(Examples.onnx(name)));
    }

    private ModelException refused(ModelProto m) throws Exception {
        Path f = tmp.resolve("limits.onnx");
        Files.write(f, m.toByteArray());
        ModelException e = assertThrows(ModelException.class, () -> OnnxModelReader.read(f));
        assertFalse(e.toLine().contains("\n"), e.toLine());
        return e;
    }

    /** The model with the first node of {@code opType} replaced; returns its name through {@code name[0]}. */
    private static ModelProto withFirst(ModelProto m, String opType, String[] name, UnaryOperator<NodeProto> f) {
        OnnxMl.GraphProto.Builder g = m.getGraph().toBuilder();
        for (int i = 0; i < g.getNodeCount(); i++) {
            if (g.getNode(i).getOpType().equals(opType)) {
                name[0] = g.getNode(i).getName();
                g.setNode(i, f.apply(g.getNode(i)));
                return m.toBuilder().setGraph(g).build();
            }
        }
        throw new IllegalStateException("no " + opType);
    }

    private static NodeProto withAttr(NodeProto n, AttributeProto a) {
        NodeProto.Builder b = n.toBuilder();
        for (int i = 0; i < b.getAttributeCount(); i++) {
            if (b.getAttribute(i).getName().equals(a.getName())) {
                b.setAttribute(i, a);
                return b.build();
            }
        }
        return b.addAttribute(a).build();
    }

    private static AttributeProto intAttr(String key, long v) {
        return AttributeProto.newBuilder().setName(key).setType(AttributeProto.AttributeType.INT).setI(v).build();
    }

    @Test
    void inputDimensionBeyond32Bits() throws Exception {
        ModelProto m = model("mlp_bn");
        OnnxMl.GraphProto.Builder g = m.getGraph().toBuilder();
        OnnxMl.ValueInfoProto.Builder in = g.getInputBuilder(0);
        in.getTypeBuilder().getTensorTypeBuilder().getShapeBuilder().getDimBuilder(1).setDimValue(3_000_000_000L);
        ModelException e = refused(m.toBuilder().setGraph(g).build());
        assertEquals(Diagnostic.SF_SHAPE_MISMATCH, e.id());
        assertEquals(m.getGraph().getInput(0).getName(), e.node());
    }

    @Test
    void flattenAxisBeyond32Bits() throws Exception {
        String[] node = new String[1];
        ModelException e = refused(withFirst(model("cnn_seed"), "Flatten", node, n -> withAttr(n, intAttr("axis", 1L << 40))));
        assertEquals(Diagnostic.SF_BAD_ATTRIBUTE, e.id());
        assertEquals(node[0], e.node());
    }

    @Test
    void convGroupBeyond32Bits() throws Exception {
        String[] node = new String[1];
        ModelException e = refused(withFirst(model("cnn_seed"), "Conv", node, n -> withAttr(n, intAttr("group", 1L << 40))));
        assertEquals(Diagnostic.SF_BAD_ATTRIBUTE, e.id());
        assertEquals(node[0], e.node());
    }

    @Test
    void strideBeyond32Bits() throws Exception {
        String[] node = new String[1];
        AttributeProto strides = AttributeProto.newBuilder().setName("strides").setType(AttributeProto.AttributeType.INTS)
                .addInts(1L << 33).addInts(1).build();
        ModelException e = refused(withFirst(model("cnn_seed"), "Conv", node, n -> withAttr(n, strides)));
        assertEquals(Diagnostic.SF_BAD_ATTRIBUTE, e.id());
        assertEquals(node[0], e.node());
    }

    @Test
    void gemmWeightWithAZeroDimension() throws Exception {
        ModelProto m = model("mlp_bn");
        String[] node = new String[1];
        withFirst(m, "Gemm", node, n -> n);
        NodeProto gemm = m.getGraph().getNodeList().stream().filter(n -> n.getName().equals(node[0])).findFirst().orElseThrow();
        OnnxMl.GraphProto.Builder g = m.getGraph().toBuilder();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            if (g.getInitializer(i).getName().equals(gemm.getInput(1))) {
                TensorProto t = g.getInitializer(i);
                // zero input features: the bias still matches, so only the dimension check can catch it
                g.setInitializer(i, t.toBuilder().setDims(1, 0).setRawData(ByteString.EMPTY).clearFloatData().build());
            }
        }
        ModelException e = refused(m.toBuilder().setGraph(g).build());
        assertEquals(Diagnostic.SF_BAD_WEIGHTS, e.id());
        assertEquals(node[0], e.node());
    }

    @Test
    void reshapeTargetBeyond32BitsDoesNotWrap() throws Exception {
        // (1, 64) -> Reshape to (1, 2^32 + 64): the old reader cast 2^32 + 64 to int, i.e. 64, and accepted it.
        ModelProto m = model("mlp_bn");
        OnnxMl.GraphProto.Builder g = m.getGraph().toBuilder();
        String input = g.getInput(0).getName();
        ByteBuffer shape = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1).putLong((1L << 32) + 64);
        g.addInitializer(TensorProto.newBuilder().setName("huge_shape").setDataType(7).addDims(2)
                .setRawData(ByteString.copyFrom(shape.array())));
        for (int i = 0; i < g.getNodeCount(); i++) {
            NodeProto.Builder n = g.getNodeBuilder(i);
            for (int k = 0; k < n.getInputCount(); k++) {
                if (n.getInput(k).equals(input)) {
                    n.setInput(k, "reshaped");
                }
            }
        }
        g.addNode(0, NodeProto.newBuilder().setName("wrap").setOpType("Reshape").addInput(input).addInput("huge_shape").addOutput("reshaped"));
        ModelException e = refused(m.toBuilder().setGraph(g).build());
        assertEquals(Diagnostic.SF_BAD_ATTRIBUTE, e.id());
        assertEquals("wrap", e.node());
    }
}
