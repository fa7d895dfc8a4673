package io.streamfold.onnx;

import ai.onnx.proto.OnnxMl;
import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.streamfold.ir.Graph;
import io.streamfold.reference.FloatInterpreter;
import org.junit.jupiter.api.Test;
import shade.com.google.protobuf.ByteString;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Operators the example models do not use, each in a small generated ONNX model, evaluated by
 * the float reference and by ONNX Runtime on random inputs.
 */
class OnnxOpsVsRuntimeTest {

    /** Builds a single-input, single-output ONNX model node by node. */
    static final class Builder {
        final OnnxMl.GraphProto.Builder g = OnnxMl.GraphProto.newBuilder().setName("t");
        final Random rnd = new Random(42);
        final long[] inputDims;
        final int opset;
        String last = "x";
        int count;
        /** The input's batch dimension as a fixed size (inputDims[0]) instead of the symbol N. */
        boolean fixedBatch;

        Builder(int opset, long... inputDims) {
            this.opset = opset;
            this.inputDims = inputDims;
        }

        String init(long[] dims, double scale) {
            int n = 1;
            for (long d : dims) {
                n *= (int) d;
            }
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = (float) (scale * rnd.nextGaussian());
            }
            return init(dims, v);
        }

        String init(long[] dims, float[] v) {
            String name = "w" + (count++);
            ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(v);
            g.addInitializer(TensorProto.newBuilder().setName(name).setDataType(1).addAllDims(box(dims))
                    .setRawData(ByteString.copyFrom(b.array())));
            return name;
        }

        String initInts(long... v) {
            String name = "s" + (count++);
            ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            b.asLongBuffer().put(v);
            g.addInitializer(TensorProto.newBuilder().setName(name).setDataType(7).addDims(v.length)
                    .setRawData(ByteString.copyFrom(b.array())));
            return name;
        }

        Builder node(String op, List<String> extraInputs, AttributeProto... attrs) {
            String out = "v" + (count++);
            NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(op + "_" + count).addInput(last);
            extraInputs.forEach(n::addInput);
            n.addOutput(out);
            Arrays.stream(attrs).forEach(n::addAttribute);
            g.addNode(n);
            last = out;
            return this;
        }

        Builder node(String op, AttributeProto... attrs) {
            return node(op, List.of(), attrs);
        }

        byte[] build() {
            OnnxMl.TensorShapeProto.Builder shape = OnnxMl.TensorShapeProto.newBuilder();
            shape.addDim(fixedBatch ? OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(inputDims[0])
                    : OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimParam("N"));
            for (int i = 1; i < inputDims.length; i++) {
                shape.addDim(OnnxMl.TensorShapeProto.Dimension.newBuilder().setDimValue(inputDims[i]));
            }
            OnnxMl.TypeProto type = OnnxMl.TypeProto.newBuilder()
                    .setTensorType(OnnxMl.TypeProto.Tensor.newBuilder().setElemType(1).setShape(shape)).build();
            g.addInput(OnnxMl.ValueInfoProto.newBuilder().setName("x").setType(type));
            g.addOutput(OnnxMl.ValueInfoProto.newBuilder().setName(last)
                    .setType(OnnxMl.TypeProto.newBuilder().setTensorType(OnnxMl.TypeProto.Tensor.newBuilder().setElemType(1))));
            return OnnxMl.ModelProto.newBuilder().setIrVersion(7).setGraph(g)
                    .addOpsetImport(OnnxMl.OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset)).build().toByteArray();
        }

        private static List<Long> box(long[] d) {
            List<Long> l = new ArrayList<>();
            for (long x : d) {
                l.add(x);
            }
            return l;
        }
    }

    static AttributeProto ints(String name, long... v) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long x : v) {
            a.addInts(x);
        }
        return a.build();
    }

    static AttributeProto i(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
    }

    static AttributeProto f(String name, float v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(v).build();
    }

    static AttributeProto s(String name, String v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING)
                .setS(ByteString.copyFromUtf8(v)).build();
    }

    /** Runs the model on 5 random samples in both interpreters and compares. */
    static Graph check(Builder b) throws Exception {
        byte[] bytes = b.build();
        Graph g = OnnxModelReader.parse(bytes, "t");
        int per = g.inputShape().size();
        int n = 5;
        float[] x = new float[n * per];
        Random r = new Random(7);
        for (int k = 0; k < x.length; k++) {
            x[k] = (float) r.nextGaussian();
        }
        long[] shape = b.inputDims.clone();
        shape[0] = n;
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession s = env.createSession(bytes, new OrtSession.SessionOptions());
             OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), shape);
             OrtSession.Result res = s.run(Map.of("x", t))) {
            OnnxTensor y = (OnnxTensor) res.get(0);
            float[] flat = y.getFloatBuffer().array();
            assertEquals(n * g.outputShape().size(), flat.length, "output size");
            double worst = 0;
            double scale = 1e-9;
            for (int k = 0; k < n; k++) {
                double[] in = new double[per];
                for (int j = 0; j < per; j++) {
                    in[j] = x[k * per + j];
                }
                double[] ours = FloatInterpreter.run(g, in);
                for (int j = 0; j < ours.length; j++) {
                    float theirs = flat[k * ours.length + j];
                    worst = Math.max(worst, Math.abs(ours[j] - theirs));
                    scale = Math.max(scale, Math.abs(theirs));
                }
            }
            assertTrue(worst <= 1e-5 * scale, "max abs diff " + worst + " (scale " + scale + ")\n" + g);
        }
        return g;
    }

    @Test
    void conv1dStridedPaddedThenMaxPool1d() throws Exception {
        Builder b = new Builder(13, 1, 3, 20);
        String w = b.init(new long[] {4, 3, 5}, 0.5);
        String bias = b.init(new long[] {4}, 0.1);
        b.node("Conv", List.of(w, bias), ints("kernel_shape", 5), ints("strides", 2), ints("pads", 2, 1));
        b.node("MaxPool", ints("kernel_shape", 3), ints("strides", 2), ints("pads", 1, 1));
        b.node("Tanh");
        Graph g = check(b);
        assertEquals(2, g.outputShape().rank());
    }

    @Test
    void depthwiseConvSamePaddingAndSigmoid() throws Exception {
        Builder b = new Builder(13, 1, 4, 7, 6);
        String w = b.init(new long[] {8, 1, 3, 3}, 0.5);
        b.node("Conv", List.of(w), i("group", 4), s("auto_pad", "SAME_UPPER"), ints("kernel_shape", 3, 3), ints("strides", 2, 2));
        b.node("Sigmoid");
        check(b);
    }

    @Test
    void convThenElu() throws Exception {
        Builder b = new Builder(13, 1, 3, 6, 6);
        String w = b.init(new long[] {4, 3, 3, 3}, 0.5);
        b.node("Conv", List.of(w), ints("kernel_shape", 3, 3));
        b.node("Elu", f("alpha", 0.7f));
        Graph g = check(b);
        assertEquals(new io.streamfold.ir.Op.Elu(0.7f), g.nodes().get(1).op());
    }

    @Test
    void avgPoolWithPaddingBothCountModes() throws Exception {
        for (int include = 0; include <= 1; include++) {
            Builder b = new Builder(13, 1, 2, 5, 5);
            b.node("AveragePool", ints("kernel_shape", 3, 3), ints("strides", 2, 2), ints("pads", 1, 1, 1, 1), i("count_include_pad", include));
            check(b);
        }
    }

    @Test
    void matMulPlusAddBecomesDenseWithBias() throws Exception {
        Builder b = new Builder(13, 1, 6);
        String w = b.init(new long[] {6, 4}, 0.5);
        String c = b.init(new long[] {4}, 0.5);
        b.node("MatMul", List.of(w));
        b.node("Add", List.of(c));
        b.node("LeakyRelu", f("alpha", 0.2f));
        b.node("Identity");
        b.node("Dropout");
        Graph g = check(b);
        assertEquals(List.of("Dense", "LeakyRelu"), g.nodes().stream().map(n -> n.op().kind()).toList());
    }

    @Test
    void reshapeAndSoftmaxOverTheLastAxis() throws Exception {
        Builder b = new Builder(13, 1, 12);
        String shape = b.initInts(-1, 3, 4);
        b.node("Reshape", List.of(shape));
        b.node("Softmax", i("axis", -1));
        b.node("Flatten");
        check(b);
    }

    @Test
    void gemmWithoutTransposeAndScalars() throws Exception {
        Builder b = new Builder(11, 1, 5);
        String w = b.init(new long[] {5, 3}, 0.5);
        String c = b.init(new long[] {3}, 0.5);
        b.node("Gemm", List.of(w, c), f("alpha", 0.5f), f("beta", 2f));
        b.node("Softmax", i("axis", 1));
        check(b);
    }

    @Test
    void globalAvgPoolOfA1dSignalAndPerChannelAdd() throws Exception {
        Builder b = new Builder(13, 1, 3, 9);
        String c = b.init(new long[] {3, 1}, 1.0);
        b.node("Relu");
        b.node("Add", List.of(c));
        b.node("GlobalAveragePool");
        Graph g = check(b);
        assertArrayEquals(new int[] {3, 1}, g.outputShape().dims());
    }
}
