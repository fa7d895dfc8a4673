package io.streamfold.onnx;

import ai.onnx.proto.OnnxMl;
import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.streamfold.data.Npy;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.ir.Window;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads an ONNX model into the graph IR.
 *
 * <p>Mapping: Gemm and MatMul(+Add of a constant) become {@link Op.Dense}; Conv, BatchNormalization,
 * the activations, the pools, Flatten and Reshape map one to one; Add of two activations is a
 * residual {@link Op.Add}; Identity and Dropout disappear; Constant nodes and initializers are
 * constants that may only feed parameter inputs. The leading batch dimension of the model input
 * is removed (it must be symbolic or 1).
 */
public final class OnnxModelReader {

    static final int MIN_OPSET = 11;
    static final int MAX_OPSET = 21;

    private final Map<String, Constant> constants = new HashMap<>();
    private final Map<String, String> alias = new HashMap<>();
    private final List<Node> nodes = new ArrayList<>();
    private final Map<String, Integer> producerIndex = new HashMap<>();
    private final Set<String> nodeNames = new HashSet<>();
    private final Map<String, Integer> useCount = new HashMap<>();
    private final Map<String, Shape> shapes = new HashMap<>();
    private int opset;

    private OnnxModelReader() {
    }

    /** A constant tensor as ONNX stores it: dims with the batch axis, values as double. */
    record Constant(long[] dims, double[] data) {
        int size() {
            return data.length;
        }
    }

    /** Reads a model file; every problem is a {@link ModelException} naming the file. */
    public static Graph read(Path file) {
        String fileName = file.getFileName().toString();
        byte[] bytes;
        try {
            if (Files.size(file) > Integer.MAX_VALUE - 64) {
                throw new ModelException(Diagnostic.SF_CORRUPT_MODEL, file.toString(), null, "file of " + Files.size(file) + " bytes is too large",
                        "an .onnx file holds at most 2 GB (protobuf's limit)");
            }
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ModelException(Diagnostic.SF_CORRUPT_MODEL, file.toString(), null, "cannot read file: " + io.streamfold.ir.IoErrors.reason(e), null);
        }
        String name = fileName.endsWith(".onnx") ? fileName.substring(0, fileName.length() - 5) : fileName;
        if (name.equals("model") && file.toAbsolutePath().getParent() != null) {
            // examples/<name>/model.onnx: the folder names the model
            name = file.toAbsolutePath().getParent().getFileName().toString();
        }
        try {
            return parse(bytes, name);
        } catch (ModelException e) {
            throw e.inFile(file.toString());
        }
    }

    /** Parses the bytes of an ONNX model; the graph takes the given name. */
    public static Graph parse(byte[] bytes, String modelName) {
        OnnxMl.ModelProto model;
        try {
            model = OnnxMl.ModelProto.parseFrom(bytes);
        } catch (Exception e) {
            throw new ModelException(Diagnostic.SF_CORRUPT_MODEL, null, "not a valid ONNX model: " + firstLine(e.getMessage()),
                    "the file is truncated or not an .onnx file");
        }
        if (!model.hasGraph() || model.getGraph().getNodeCount() == 0) {
            throw new ModelException(Diagnostic.SF_CORRUPT_MODEL, null, "the model has no graph or no nodes",
                    "the file is truncated or not an .onnx file");
        }
        return new OnnxModelReader().convert(model, modelName);
    }

    private Graph convert(OnnxMl.ModelProto model, String modelName) {
        opset = -1;
        for (OnnxMl.OperatorSetIdProto id : model.getOpsetImportList()) {
            if (id.getDomain().isEmpty() || id.getDomain().equals("ai.onnx")) {
                opset = (int) id.getVersion();
            }
        }
        if (opset < 0) {
            throw new ModelException(Diagnostic.SF_CORRUPT_MODEL, null, "no opset import for the default ONNX domain", null);
        }
        if (opset < MIN_OPSET || opset > MAX_OPSET) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null, "opset " + opset + " is not supported",
                    "streamfold reads opsets " + MIN_OPSET + " to " + MAX_OPSET + "; re-export with opset_version=13");
        }
        OnnxMl.GraphProto g = model.getGraph();
        for (TensorProto t : g.getInitializerList()) {
            constants.put(t.getName(), decode(t, "initializer " + t.getName(), null));
        }
        List<OnnxMl.ValueInfoProto> realInputs = new ArrayList<>();
        for (OnnxMl.ValueInfoProto vi : g.getInputList()) {
            if (!constants.containsKey(vi.getName())) {
                realInputs.add(vi);
            }
        }
        if (realInputs.size() != 1) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null,
                    "the model has " + realInputs.size() + " inputs", "streamfold compiles models with exactly one input tensor");
        }
        if (g.getOutputCount() != 1) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null,
                    "the model has " + g.getOutputCount() + " outputs", "streamfold compiles models with exactly one output tensor");
        }
        OnnxMl.ValueInfoProto in = realInputs.get(0);
        Shape inputShape = inputShape(in);
        shapes.put(in.getName(), inputShape);
        for (NodeProto n : g.getNodeList()) {
            for (String v : n.getInputList()) {
                useCount.merge(v, 1, Integer::sum);
            }
        }
        useCount.merge(g.getOutput(0).getName(), 1, Integer::sum);
        int index = 0;
        for (NodeProto n : g.getNodeList()) {
            String name = n.getName().isEmpty() ? n.getOpType() + "_" + index : n.getName();
            while (!nodeNames.add(name)) {
                name = name + "_" + index;
            }
            index++;
            try {
                convertNode(n, name);
            } catch (ModelException e) {
                throw e.inNode(name);
            }
        }
        String out = resolve(g.getOutput(0).getName());
        if (constants.containsKey(out)) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null, "the model output is a constant", null);
        }
        return new Graph(modelName, in.getName(), inputShape, nodes, out);
    }

    private static Shape inputShape(OnnxMl.ValueInfoProto in) {
        if (!in.getType().hasTensorType() || !in.getType().getTensorType().hasShape()) {
            throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, in.getName(), "the model input has no static shape",
                    "export with a concrete input shape (a symbolic batch dimension is fine)");
        }
        List<OnnxMl.TensorShapeProto.Dimension> dims = in.getType().getTensorType().getShape().getDimList();
        if (dims.size() < 2 || dims.size() > 4) {
            throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, in.getName(),
                    "input rank " + dims.size() + " is not supported", "expected (N,F), (N,C,L) or (N,C,H,W)");
        }
        OnnxMl.TensorShapeProto.Dimension batch = dims.get(0);
        if (batch.hasDimValue() && batch.getDimValue() != 1) {
            throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, in.getName(), "batch dimension is " + batch.getDimValue(),
                    "export with batch size 1 or a dynamic batch axis");
        }
        int[] d = new int[dims.size() - 1];
        for (int i = 1; i < dims.size(); i++) {
            if (!dims.get(i).hasDimValue() || dims.get(i).getDimValue() < 1) {
                throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, in.getName(), "input dimension " + i + " is not a fixed size",
                        "only the batch dimension may be symbolic");
            }
            long v = dims.get(i).getDimValue();
            if (v > Integer.MAX_VALUE) {
                throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, in.getName(), "input dimension " + i + " is " + v,
                        "dimensions above " + Integer.MAX_VALUE + " are not supported");
            }
            d[i - 1] = (int) v;
        }
        checkSize(d, in.getName(), "the model input");
        return new Shape(d);
    }

    // --- nodes -----------------------------------------------------------------------------------

    private void convertNode(NodeProto n, String name) {
        String op = n.getOpType();
        if (!n.getDomain().isEmpty() && !n.getDomain().equals("ai.onnx")) {
            throw unsupported(name, "operator " + n.getDomain() + "::" + op);
        }
        NodeConverter c = OPERATORS.get(op);
        if (c == null) {
            throw unsupported(name, "operator " + op);
        }
        c.convert(this, n, name);
    }

    /** Converts one ONNX node into graph IR nodes (or constants and aliases). */
    private interface NodeConverter {
        void convert(OnnxModelReader r, NodeProto n, String name);
    }

    /** The one table of supported ONNX operators: name -> converter. */
    private static final Map<String, NodeConverter> OPERATORS = Map.ofEntries(
            Map.entry("Constant", OnnxModelReader::constantNode),
            Map.entry("Identity", OnnxModelReader::passThrough),
            Map.entry("Dropout", OnnxModelReader::passThrough),
            Map.entry("Gemm", OnnxModelReader::gemm),
            Map.entry("MatMul", OnnxModelReader::matmul),
            Map.entry("Conv", OnnxModelReader::conv),
            Map.entry("BatchNormalization", OnnxModelReader::batchNorm),
            Map.entry("Relu", (r, n, name) -> r.emit(name, new Op.Relu(), n)),
            Map.entry("LeakyRelu", (r, n, name) -> r.emit(name, new Op.LeakyRelu(attrFloat(n, "alpha", 0.01)), n)),
            Map.entry("Sigmoid", (r, n, name) -> r.emit(name, new Op.Sigmoid(), n)),
            Map.entry("Tanh", (r, n, name) -> r.emit(name, new Op.Tanh(), n)),
            Map.entry("Elu", (r, n, name) -> r.emit(name, new Op.Elu(attrFloat(n, "alpha", 1.0)), n)),
            Map.entry("Clip", OnnxModelReader::clip),
            Map.entry("Softmax", OnnxModelReader::softmax),
            Map.entry("MaxPool", (r, n, name) -> r.pool(n, name, true)),
            Map.entry("AveragePool", (r, n, name) -> r.pool(n, name, false)),
            Map.entry("GlobalAveragePool", (r, n, name) -> r.emit(name, new Op.GlobalAvgPool(), n)),
            Map.entry("Flatten", OnnxModelReader::flatten),
            Map.entry("Reshape", OnnxModelReader::reshape),
            Map.entry("Add", OnnxModelReader::add));

    /** Identity and inference-mode Dropout: the output is the input. */
    private void passThrough(NodeProto n, String name) {
        for (int i = 1; i < n.getOutputCount(); i++) {
            if (!n.getOutput(i).isEmpty() && useCount.containsKey(n.getOutput(i))) {
                throw unsupported(name, "Dropout mask output is used");
            }
        }
        String src = resolve(n.getInput(0));
        if (constants.containsKey(src)) {
            constants.put(n.getOutput(0), constants.get(src));
        } else {
            alias.put(n.getOutput(0), src);
        }
    }

    private void constantNode(NodeProto n, String name) {
        for (AttributeProto a : n.getAttributeList()) {
            switch (a.getName()) {
                case "value" -> {
                    constants.put(n.getOutput(0), decode(a.getT(), "value", name));
                    return;
                }
                case "value_float" -> {
                    constants.put(n.getOutput(0), new Constant(new long[0], new double[] {a.getF()}));
                    return;
                }
                case "value_floats" -> {
                    double[] v = a.getFloatsList().stream().mapToDouble(Float::doubleValue).toArray();
                    constants.put(n.getOutput(0), new Constant(new long[] {v.length}, v));
                    return;
                }
                case "value_int" -> {
                    constants.put(n.getOutput(0), new Constant(new long[0], new double[] {a.getI()}));
                    return;
                }
                case "value_ints" -> {
                    double[] v = a.getIntsList().stream().mapToDouble(Long::doubleValue).toArray();
                    constants.put(n.getOutput(0), new Constant(new long[] {v.length}, v));
                    return;
                }
                default -> {
                }
            }
        }
        throw unsupported(name, "Constant without a numeric value");
    }

    private void gemm(NodeProto n, String name) {
        if (attrInt(n, "transA", 0) != 0) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Gemm with transA=1", "the activation must be the left operand");
        }
        boolean transB = attrInt(n, "transB", 0) != 0;
        double alpha = attrFloat(n, "alpha", 1.0);
        double beta = attrFloat(n, "beta", 1.0);
        Constant b = param(n, 1, name, "B (weight)");
        if (b.dims().length != 2) {
            throw badWeights(name, "weight B has rank " + b.dims().length + ", expected 2");
        }
        int rows = dim(b, 0, name, "weight B");
        int cols = dim(b, 1, name, "weight B");
        int out = transB ? rows : cols;
        int in = transB ? cols : rows;
        double[] w = new double[out * in];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                w[o * in + i] = alpha * (transB ? b.data()[o * in + i] : b.data()[i * out + o]);
            }
        }
        double[] bias = new double[out];
        if (n.getInputCount() > 2 && !n.getInput(2).isEmpty()) {
            Constant c = param(n, 2, name, "C (bias)");
            if (c.size() != out && c.size() != 1) {
                throw badWeights(name, "bias C has " + c.size() + " values, expected " + out);
            }
            for (int o = 0; o < out; o++) {
                bias[o] = beta * c.data()[c.size() == 1 ? 0 : o];
            }
        }
        emit(name, new Op.Dense(Tensor.of(Shape.of(out, in), w), Tensor.of(Shape.of(out), bias)), n);
    }

    private void matmul(NodeProto n, String name) {
        Constant b = param(n, 1, name, "B (weight)");
        if (b.dims().length != 2) {
            throw badWeights(name, "MatMul weight has rank " + b.dims().length + ", expected 2");
        }
        int in = dim(b, 0, name, "MatMul weight");
        int out = dim(b, 1, name, "MatMul weight");
        double[] w = new double[out * in];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                w[o * in + i] = b.data()[i * out + o];
            }
        }
        emit(name, new Op.Dense(Tensor.of(Shape.of(out, in), w), Tensor.zeros(out)), n);
    }

    private void conv(NodeProto n, String name) {
        Constant w = param(n, 1, name, "W (weight)");
        int rank = w.dims().length - 2;
        if (rank < 1 || rank > 2) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Conv" + rank + "D", "streamfold supports 1D and 2D convolutions");
        }
        checkDilations(n, name, rank);
        int[] kernel = new int[rank];
        for (int i = 0; i < rank; i++) {
            kernel[i] = dim(w, 2 + i, name, "weight W");
        }
        int[] ks = attrInts(n, "kernel_shape", kernel);
        if (!Arrays.equals(ks, kernel)) {
            throw badWeights(name, "kernel_shape " + Arrays.toString(ks) + " disagrees with weight dims " + Arrays.toString(w.dims()));
        }
        int outCh = dim(w, 0, name, "weight W");
        dim(w, 1, name, "weight W");
        double[] bias = new double[outCh];
        if (n.getInputCount() > 2 && !n.getInput(2).isEmpty()) {
            Constant b = param(n, 2, name, "B (bias)");
            if (b.size() != outCh) {
                throw badWeights(name, "bias has " + b.size() + " values, expected " + outCh);
            }
            bias = b.data();
        }
        int group = attrInt(n, "group", 1);
        Window win = window(n, name, kernel, inputSpatial(n, name, rank));
        int[] wd = Arrays.stream(w.dims()).mapToInt(Math::toIntExact).toArray();
        Op.Conv conv;
        try {
            conv = new Op.Conv(Tensor.of(new Shape(wd), w.data()), Tensor.of(Shape.of(outCh), bias), win, group);
        } catch (IllegalArgumentException e) {
            throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, e.getMessage(), null);
        }
        emit(name, conv, n);
    }

    private void batchNorm(NodeProto n, String name) {
        if (attrInt(n, "training_mode", 0) != 0 || n.getOutputCount() > 1 && n.getOutputList().stream().skip(1).anyMatch(s -> !s.isEmpty())) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "BatchNormalization in training mode",
                    "export the model after model.eval()");
        }
        String[] what = {"scale", "B", "input_mean", "input_var"};
        Tensor[] p = new Tensor[4];
        int channels = -1;
        for (int i = 0; i < 4; i++) {
            Constant c = param(n, i + 1, name, what[i]);
            if (channels < 0) {
                channels = c.size();
            } else if (c.size() != channels) {
                throw new ModelException(Diagnostic.SF_BAD_BATCHNORM, name,
                        what[i] + " has " + c.size() + " values, scale has " + channels, "all four BatchNormalization parameters need one value per channel");
            }
            p[i] = Tensor.of(Shape.of(c.size()), c.data());
        }
        emit(name, new Op.BatchNorm(p[0], p[1], p[2], p[3], attrFloat(n, "epsilon", 1e-5)), n);
    }

    private void clip(NodeProto n, String name) {
        double min = Double.NEGATIVE_INFINITY;
        double max = Double.POSITIVE_INFINITY;
        if (hasAttr(n, "min") || hasAttr(n, "max")) {
            min = attrFloat(n, "min", min);
            max = attrFloat(n, "max", max);
        }
        if (n.getInputCount() > 1 && !n.getInput(1).isEmpty()) {
            min = scalar(param(n, 1, name, "min"), name, "min");
        }
        if (n.getInputCount() > 2 && !n.getInput(2).isEmpty()) {
            max = scalar(param(n, 2, name, "max"), name, "max");
        }
        emit(name, min == 0 && max == Double.POSITIVE_INFINITY ? new Op.Relu() : new Op.Clip(min, max), n);
    }

    private void softmax(NodeProto n, String name) {
        String x = activation(n, 0, name);
        Shape s = shapeOf(x);
        int fullRank = s.rank() + 1;
        int axis = attrInt(n, "axis", opset >= 13 ? -1 : 1);
        if (axis < 0) {
            axis += fullRank;
        }
        if (axis < 1 || axis >= fullRank) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Softmax over axis " + axis + " of a rank-" + fullRank + " tensor",
                    "softmax must run over a non-batch axis");
        }
        if (opset < 13 && axis != fullRank - 1) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "opset " + opset + " Softmax coerces to 2D at axis " + axis,
                    "flatten before the softmax or export with opset >= 13");
        }
        emit(name, new Op.Softmax(axis - 1), List.of(x), n);
    }

    private void pool(NodeProto n, String name, boolean max) {
        String x = activation(n, 0, name);
        Shape s = shapeOf(x);
        int rank = s.rank() - 1;
        if (rank < 1 || rank > 2) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, n.getOpType() + " on a " + s + " tensor", "1D and 2D pooling only");
        }
        if (n.getOutputCount() > 1 && !n.getOutput(1).isEmpty()) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "MaxPool with an Indices output", null);
        }
        if (attrInt(n, "ceil_mode", 0) != 0) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, n.getOpType() + " with ceil_mode=1", "use floor mode (ceil_mode=False)");
        }
        if (attrInt(n, "storage_order", 0) != 0) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "MaxPool with storage_order=1", null);
        }
        checkDilations(n, name, rank);
        int[] kernel = attrInts(n, "kernel_shape", null);
        if (kernel == null || kernel.length != rank) {
            throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, "kernel_shape is missing or has the wrong length", null);
        }
        int[] spatial = Arrays.copyOfRange(s.dims(), 1, s.rank());
        Window w = window(n, name, kernel, spatial);
        emit(name, max ? new Op.MaxPool(w) : new Op.AvgPool(w, attrInt(n, "count_include_pad", 0) != 0), List.of(x), n);
    }

    private void flatten(NodeProto n, String name) {
        String x = activation(n, 0, name);
        int fullRank = shapeOf(x).rank() + 1;
        int axis = attrInt(n, "axis", 1);
        if (axis < 0) {
            axis += fullRank;
        }
        if (axis != 1) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Flatten at axis " + axis, "only Flatten(axis=1), which keeps the batch axis, is supported");
        }
        emit(name, new Op.Flatten(), List.of(x), n);
    }

    private void reshape(NodeProto n, String name) {
        String x = activation(n, 0, name);
        Shape in = shapeOf(x);
        Constant c = param(n, 1, name, "shape");
        for (double v : c.data()) {
            if (v != Math.rint(v) || Math.abs(v) > Long.MAX_VALUE / 2) {
                throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, "Reshape target entry " + v + " is not an integer dimension", null);
            }
        }
        long[] target = Arrays.stream(c.data()).mapToLong(v -> (long) v).toArray();
        if (target.length < 2) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Reshape to " + Arrays.toString(target), "the batch axis must be kept");
        }
        if (target[0] != -1 && target[0] != 0 && target[0] != 1) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Reshape changes the batch axis to " + target[0], null);
        }
        int[] dims = new int[target.length - 1];
        int infer = -1;
        long known = 1;
        for (int i = 1; i < target.length; i++) {
            long t = target[i];
            if (t == 0 && attrInt(n, "allowzero", 0) == 0) {
                if (i >= in.rank() + 1) {
                    throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, name, "Reshape copies dimension " + i + " that the input " + in + " lacks", null);
                }
                t = in.dim(i - 1);
            }
            if (t == -1) {
                if (infer >= 0) {
                    throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, "Reshape target has two -1 entries", null);
                }
                infer = i - 1;
                continue;
            }
            if (t < 1 || t > Integer.MAX_VALUE) {
                throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, "Reshape target dimension " + t,
                        "dimensions are 1.." + Integer.MAX_VALUE);
            }
            dims[i - 1] = (int) t;
            known = known > Integer.MAX_VALUE ? known : known * t; // past the largest tensor the size cannot match anyway
        }
        if (infer >= 0) {
            if (known == 0 || in.size() % known != 0) {
                throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, name, "cannot reshape " + in + " to " + Arrays.toString(target), null);
            }
            dims[infer] = (int) (in.size() / known);
        }
        checkSize(dims, name, "the Reshape target");
        emit(name, new Op.Reshape(new Shape(dims)), List.of(x), n);
    }

    private void add(NodeProto n, String name) {
        String a = resolve(n.getInput(0));
        String b = resolve(n.getInput(1));
        boolean ca = constants.containsKey(a);
        boolean cb = constants.containsKey(b);
        if (ca && cb) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Add of two constants", "fold constants before export");
        }
        if (!ca && !cb) {
            emit(name, new Op.Add(), List.of(a, b), n);
            return;
        }
        String x = ca ? b : a;
        Constant c = constants.get(ca ? a : b);
        Shape s = shapeOf(x);
        Integer pi = producerIndex.get(x);
        Node prod = pi == null ? null : nodes.get(pi);
        int channels = s.channels();
        double[] perChannel = perChannelConstant(c, s, name);
        if (prod != null && useCount.getOrDefault(x, 0) <= 1 && (prod.op() instanceof Op.Dense || prod.op() instanceof Op.Conv)) {
            // MatMul + Add (or Conv + Add): the constant is the layer's bias.
            Node merged = prod.withOp(addBias(prod.op(), perChannel));
            nodes.set(pi, merged);
            alias.put(n.getOutput(0), x);
            return;
        }
        double[] ones = new double[channels];
        Arrays.fill(ones, 1.0);
        emit(name, new Op.Affine(Tensor.of(Shape.of(channels), ones), Tensor.of(Shape.of(channels), perChannel)), List.of(x), n);
    }

    private static Op addBias(Op op, double[] extra) {
        if (op instanceof Op.Dense d) {
            double[] b = d.bias().data();
            for (int i = 0; i < b.length; i++) {
                b[i] += extra[i];
            }
            return new Op.Dense(d.weight(), Tensor.of(d.bias().shape(), b));
        }
        Op.Conv c = (Op.Conv) op;
        double[] b = c.bias().data();
        for (int i = 0; i < b.length; i++) {
            b[i] += extra[i];
        }
        return new Op.Conv(c.weight(), Tensor.of(c.bias().shape(), b), c.window(), c.group());
    }

    /** A constant added to a (C, ...) activation, as one value per channel; else unsupported. */
    private static double[] perChannelConstant(Constant c, Shape s, String name) {
        int channels = s.channels();
        double[] out = new double[channels];
        if (c.size() == 1) {
            Arrays.fill(out, c.data()[0]);
            return out;
        }
        // Numpy broadcasting against (N, C, rest...): the constant's trailing dims must be 1 after C.
        long[] d = c.dims();
        int fullRank = s.rank() + 1;
        long[] aligned = new long[fullRank];
        Arrays.fill(aligned, 1);
        if (d.length > fullRank) {
            throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, name, "Add constant of rank " + d.length + " to a " + s + " tensor", null);
        }
        System.arraycopy(d, 0, aligned, fullRank - d.length, d.length);
        boolean perChannelOnly = aligned[0] == 1 && aligned[1] == channels;
        for (int i = 2; i < fullRank; i++) {
            perChannelOnly &= aligned[i] == 1;
        }
        if (!perChannelOnly) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Add of a constant with dims " + Arrays.toString(d) + " to a " + s + " tensor",
                    "only scalar or per-channel constants can be added");
        }
        return c.data().clone();
    }

    // --- helpers ---------------------------------------------------------------------------------

    /** Appends a node named after the ONNX node, producing the ONNX node's first output. */
    private void emit(String name, Op op, NodeProto n) {
        emit(name, op, List.of(activation(n, 0, name)), n);
    }

    private void emit(String name, Op op, List<String> inputs, NodeProto n) {
        List<Shape> in = new ArrayList<>();
        for (String v : inputs) {
            in.add(shapeOf(v));
        }
        op.validate(name);
        String out = n.getOutput(0);
        shapes.put(out, op.outputShape(name, in));
        producerIndex.put(out, nodes.size());
        nodes.add(new Node(name, op, inputs, out));
    }

    /** The shape of an activation defined so far. */
    private Shape shapeOf(String value) {
        Shape s = shapes.get(value);
        if (s == null) {
            throw new ModelException(Diagnostic.SF_BAD_GRAPH, null, "value '" + value + "' is used before it is defined",
                    "the graph must be in topological order");
        }
        return s;
    }

    private String activation(NodeProto n, int i, String name) {
        if (n.getInputCount() <= i || n.getInput(i).isEmpty()) {
            throw new ModelException(Diagnostic.SF_BAD_GRAPH, name, "missing input " + i, null);
        }
        String v = resolve(n.getInput(i));
        if (constants.containsKey(v)) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, n.getOpType() + " of a constant input '" + v + "'",
                    "fold constant subgraphs before export (do_constant_folding=True)");
        }
        return v;
    }

    private Constant param(NodeProto n, int i, String name, String what) {
        if (n.getInputCount() <= i || n.getInput(i).isEmpty()) {
            throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, name, "input " + what + " is missing", null);
        }
        String v = resolve(n.getInput(i));
        Constant c = constants.get(v);
        if (c == null) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, what + " '" + v + "' is computed at run time",
                    "streamfold needs weights as initializers or Constant nodes");
        }
        return c;
    }

    private String resolve(String v) {
        String r = v;
        while (alias.containsKey(r)) {
            r = alias.get(r);
        }
        return r;
    }

    private static double scalar(Constant c, String name, String what) {
        if (c.size() != 1) {
            throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, what + " must be a scalar, has " + c.size() + " values", null);
        }
        return c.data()[0];
    }

    private void checkDilations(NodeProto n, String name, int rank) {
        int[] dil = attrInts(n, "dilations", null);
        if (dil != null) {
            for (int d : dil) {
                if (d != 1) {
                    throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, n.getOpType() + " with dilations " + Arrays.toString(dil),
                            "only dilation 1 is supported");
                }
            }
        }
    }

    private int[] inputSpatial(NodeProto n, String name, int rank) {
        Shape s = shapeOf(activation(n, 0, name));
        if (s.rank() != rank + 1) {
            throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, name, n.getOpType() + " with a rank-" + rank + " kernel on input " + s, null);
        }
        return Arrays.copyOfRange(s.dims(), 1, s.rank());
    }

    /** Builds the window from kernel_shape, strides, pads and auto_pad. */
    private Window window(NodeProto n, String name, int[] kernel, int[] spatial) {
        int rank = kernel.length;
        int[] strides = attrInts(n, "strides", ones(rank));
        int[] pads = attrInts(n, "pads", new int[2 * rank]);
        if (strides.length != rank || pads.length != 2 * rank) {
            throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, "strides/pads have the wrong length for a " + rank + "D window", null);
        }
        String autoPad = attrString(n, "auto_pad", "NOTSET");
        switch (autoPad) {
            case "NOTSET" -> {
            }
            case "VALID" -> pads = new int[2 * rank];
            case "SAME_UPPER", "SAME_LOWER" -> {
                pads = new int[2 * rank];
                for (int i = 0; i < rank; i++) {
                    int out = (spatial[i] + strides[i] - 1) / strides[i];
                    int total = Math.max((out - 1) * strides[i] + kernel[i] - spatial[i], 0);
                    int small = total / 2;
                    int big = total - small;
                    pads[i] = autoPad.equals("SAME_UPPER") ? small : big;
                    pads[i + rank] = autoPad.equals("SAME_UPPER") ? big : small;
                }
            }
            default -> throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, "auto_pad " + autoPad, null);
        }
        try {
            return Window.of(kernel, strides, pads);
        } catch (IllegalArgumentException e) {
            throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, e.getMessage(), null);
        }
    }

    private static int[] ones(int n) {
        int[] a = new int[n];
        Arrays.fill(a, 1);
        return a;
    }

    private static AttributeProto attr(NodeProto n, String key) {
        for (AttributeProto a : n.getAttributeList()) {
            if (a.getName().equals(key)) {
                return a;
            }
        }
        return null;
    }

    private static boolean hasAttr(NodeProto n, String key) {
        return attr(n, key) != null;
    }

    private static double attrFloat(NodeProto n, String key, double dflt) {
        AttributeProto a = attr(n, key);
        return a == null ? dflt : a.getF();
    }

    private static int attrInt(NodeProto n, String key, int dflt) {
        AttributeProto a = attr(n, key);
        return a == null ? dflt : toInt(a.getI(), key);
    }

    /** An attribute value as an int; outside the 32-bit range it is an error naming the attribute (the node is added by the caller). */
    private static int toInt(long v, String key) {
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, null, "attribute " + key + " = " + v + " is outside the 32-bit range", null);
        }
        return (int) v;
    }

    /** Dimension {@code i} of a weight, which must be 1..2^31-1. */
    private static int dim(Constant c, int i, String name, String what) {
        long v = c.dims()[i];
        if (v < 1 || v > Integer.MAX_VALUE) {
            throw badWeights(name, what + " has dimension " + v + " (dims " + Arrays.toString(c.dims()) + ")");
        }
        return (int) v;
    }

    /** The product of {@code dims} must be a valid tensor size. */
    private static void checkSize(int[] dims, String node, String what) {
        long n = 1;
        for (int d : dims) {
            n *= d;
            if (n > Integer.MAX_VALUE) {
                throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, node, what + " has more than " + Integer.MAX_VALUE + " elements "
                        + Arrays.toString(dims), null);
            }
        }
    }

    private static String attrString(NodeProto n, String key, String dflt) {
        AttributeProto a = attr(n, key);
        return a == null ? dflt : a.getS().toStringUtf8();
    }

    private static int[] attrInts(NodeProto n, String key, int[] dflt) {
        AttributeProto a = attr(n, key);
        return a == null ? dflt : a.getIntsList().stream().mapToInt(v -> toInt(v, key)).toArray();
    }

    private static ModelException unsupported(String name, String what) {
        return new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "unsupported " + what,
                "supported: Gemm, MatMul, Conv, BatchNormalization, Relu, Clip, LeakyRelu, Sigmoid, Tanh, Softmax, MaxPool, "
                        + "AveragePool, GlobalAveragePool, Flatten, Reshape, Add, Identity, Dropout, Constant");
    }

    private static ModelException badWeights(String name, String what) {
        return new ModelException(Diagnostic.SF_BAD_WEIGHTS, name, what, null);
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "parse error";
        }
        int i = s.indexOf('\n');
        return i < 0 ? s : s.substring(0, i);
    }

    // --- tensors ---------------------------------------------------------------------------------

    /** Decodes an ONNX tensor to doubles; {@code what} and {@code node} name it in errors. */
    static Constant decode(TensorProto t, String what, String node) {
        long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
        long count = 1;
        for (long d : dims) {
            if (d < 0) {
                throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, node, what + " has a negative dimension", null);
            }
            // saturates: past the limit the exact value no longer matters, and both factors are below 2^31
            count = count > Integer.MAX_VALUE || d > Integer.MAX_VALUE ? Long.MAX_VALUE : count * d;
        }
        if (count > Integer.MAX_VALUE) {
            throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, node, what + " is too large", null);
        }
        if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, node, what + " is stored in an external file",
                    "save the model with its weights inside the .onnx file");
        }
        int n = (int) count;
        double[] v;
        int type = t.getDataType();
        if (!t.getRawData().isEmpty()) {
            ByteBuffer b = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            int width = switch (type) {
                case 1, 6 -> 4; // FLOAT, INT32
                case 11, 7 -> 8; // DOUBLE, INT64
                case 10, 5 -> 2; // FLOAT16, INT16
                case 2, 3, 9 -> 1; // UINT8, INT8, BOOL
                default -> throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, node, what + " has unsupported data type " + type, null);
            };
            if (b.remaining() != (long) n * width) {
                throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, node,
                        what + " holds " + b.remaining() / width + " values, its dims " + Arrays.toString(dims) + " need " + n, null);
            }
            v = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = switch (type) {
                    case 1 -> b.getFloat(i * 4);
                    case 6 -> b.getInt(i * 4);
                    case 11 -> b.getDouble(i * 8);
                    case 7 -> b.getLong(i * 8);
                    case 10 -> half(b.getShort(i * 2));
                    case 5 -> b.getShort(i * 2);
                    case 2 -> Byte.toUnsignedInt(b.get(i));
                    default -> b.get(i);
                };
            }
        } else {
            v = switch (type) {
                case 1 -> t.getFloatDataList().stream().mapToDouble(Float::doubleValue).toArray();
                case 11 -> t.getDoubleDataList().stream().mapToDouble(Double::doubleValue).toArray();
                case 7 -> t.getInt64DataList().stream().mapToDouble(Long::doubleValue).toArray();
                case 6, 5, 3, 2, 9 -> t.getInt32DataList().stream().mapToDouble(Integer::doubleValue).toArray();
                case 10 -> t.getInt32DataList().stream().mapToDouble(h -> half((short) (int) h)).toArray();
                default -> throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, node, what + " has unsupported data type " + type, null);
            };
            if (v.length != n) {
                throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, node,
                        what + " holds " + v.length + " values, its dims " + Arrays.toString(dims) + " need " + n, null);
            }
        }
        return new Constant(dims, v);
    }

    private static double half(short h) {
        return Npy.half(h);
    }
}
