package io.streamfold.onnx;

import ai.onnx.proto.OnnxMl;
import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.SourceModel;
import io.streamfold.ir.Tensor;
import io.streamfold.ir.Window;
import io.streamfold.onnx.OnnxTensors.Constant;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads an ONNX model (opsets {@value #MIN_OPSET} to {@value #MAX_OPSET}) into the graph IR.
 *
 * <p>Mapping: Gemm and MatMul(+Add of a constant) become {@link Op.Dense}; Conv,
 * BatchNormalization, the activations, the pools, Flatten and Reshape map one to one; PRelu with
 * one slope per channel is {@link Op.PRelu} (one shared slope: {@link Op.LeakyRelu}); Add of two
 * activations is a residual {@link Op.Add}; Identity and inference Dropout disappear; Constant
 * nodes and initializers are constants that may only feed parameter inputs. The leading axis of
 * the model input is the batch axis and is removed: symbolic or 1, or a fixed N read as the batch
 * axis (with a note).
 *
 * <p>Versions: each operator is read with the semantics of its version at the model's opset for
 * the default domain ({@link OnnxOpsets}): BatchNormalization's {@code is_test} and
 * {@code spatial} (before 7 and 9), Gemm's {@code broadcast} and Add's legacy broadcasting
 * (before 7), Reshape's {@code shape} attribute (before 5), Pad's attributes (before 11),
 * Unsqueeze/Squeeze {@code axes} as an attribute (before 13), Softmax's 2-D coercion (before
 * 13), Clip's attributes (before 11), MaxPool/AveragePool {@code ceil_mode} (from 10) and
 * dilations (MaxPool from 10, AveragePool from 19). A version whose meaning the IR cannot
 * express is refused in one line naming the node, the operator and its version.
 *
 * <p>Exporter habits read as what they mean (each leaves a note, see {@link SourceModel}):
 * <ul>
 * <li>a channels-last input (N, H, W, C) whose only reader is a Transpose to channels first is
 *     read as the channels-first model it is; data files then hold the model's own (H, W, C)
 *     layout, which {@link Graph#toGraphInput} reorders;</li>
 * <li>Transposes the IR does not compute (back to channels last before a Flatten) are carried
 *     as a reordering of the elements, folded into the next Dense's weight columns or into the
 *     model's output layout;</li>
 * <li>Unsqueeze/Squeeze of unit axes around per-channel ops (PyTorch BatchNorm1d at opset 6)
 *     cost nothing;</li>
 * <li>BatchNormalization on a vector wrapped in Transpose nodes without {@code perm}
 *     (onnxmltools' Keras exports) is applied per feature, as Keras does;</li>
 * <li>a zero-valued Pad read by a Conv or a pool becomes that layer's padding.</li>
 * </ul>
 * Every other use of these constructs is refused in one line.
 */
public final class OnnxModelReader {

    static final int MIN_OPSET = 1;
    static final int MAX_OPSET = 21;

    private final Map<String, Constant> constants = new HashMap<>();
    /** Every ONNX activation defined so far, as a view of an IR value. */
    private final Map<String, Val> vals = new HashMap<>();
    private final List<Node> nodes = new ArrayList<>();
    /** IR value -> index of its producer in {@link #nodes}. */
    private final Map<String, Integer> producerIndex = new HashMap<>();
    private final Set<String> nodeNames = new HashSet<>();
    private final Set<String> irNames = new HashSet<>();
    private final Set<String> irValues = new HashSet<>();
    private final Map<String, Integer> useCount = new HashMap<>();
    /** IR value -> shape. */
    private final Map<String, Shape> shapes = new HashMap<>();
    private final List<String> notes = new ArrayList<>();
    private int opset;
    /** The declared batch size: a fixed N, or -1 for a symbolic batch axis. */
    private int batch;

    private OnnxModelReader() {
    }

    /**
     * An ONNX activation as the IR holds it: IR value {@code ir}, seen with the ONNX dims
     * {@code dims} (no batch axis). {@code order} is null when the ONNX tensor's row-major
     * elements are the IR value's elements in their order (dims may then differ from the IR shape
     * by unit axes only); otherwise it gives the IR flat index of each ONNX flat element (a
     * Transpose the IR does not compute). {@code batchSwapped}: a rank-2 (N, F) value transposed
     * to (F, N). {@code pads}: a pending zero Pad (spatial begins, then ends) that only a Conv or
     * pool can absorb. {@code origin} names the ONNX node that made the view.
     */
    private record Val(String ir, int[] dims, int[] order, boolean batchSwapped, int[] pads, String origin) {
        boolean plainOrder() {
            return order == null && !batchSwapped && pads == null;
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
        return parse(model, modelName);
    }

    /** Converts a parsed ONNX model; the graph takes the given name. */
    public static Graph parse(OnnxMl.ModelProto model, String modelName) {
        if (!model.hasGraph() || model.getGraph().getNodeCount() == 0) {
            throw new ModelException(Diagnostic.SF_CORRUPT_MODEL, null, "the model has no graph or no nodes",
                    "the file is truncated or not an .onnx file");
        }
        return new OnnxModelReader().convert(model, modelName);
    }

    /** True if the reader has a converter for this operator of the default domain. */
    static boolean supports(String opType) {
        return OPERATORS.containsKey(opType);
    }

    /** The opset of the default ONNX domain a model imports, or -1. */
    public static int opsetOf(OnnxMl.ModelProto model) {
        int v = -1;
        for (OnnxMl.OperatorSetIdProto id : model.getOpsetImportList()) {
            if (id.getDomain().isEmpty() || id.getDomain().equals("ai.onnx")) {
                v = (int) id.getVersion();
            }
        }
        return v;
    }

    private Graph convert(OnnxMl.ModelProto model, String modelName) {
        opset = opsetOf(model);
        if (opset < 0) {
            throw new ModelException(Diagnostic.SF_CORRUPT_MODEL, null, "no opset import for the default ONNX domain", null);
        }
        if (opset < MIN_OPSET || opset > MAX_OPSET) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null, "opset " + opset + " is not supported",
                    "streamfold reads opsets " + MIN_OPSET + " to " + MAX_OPSET + "; re-export with opset_version=13");
        }
        OnnxMl.GraphProto g = model.getGraph();
        for (TensorProto t : g.getInitializerList()) {
            constants.put(t.getName(), OnnxTensors.decode(t, "initializer " + t.getName(), null));
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
        for (NodeProto n : g.getNodeList()) {
            for (String v : n.getInputList()) {
                useCount.merge(v, 1, Integer::sum);
            }
        }
        useCount.merge(g.getOutput(0).getName(), 1, Integer::sum);
        OnnxMl.ValueInfoProto in = realInputs.get(0);
        checkFloat(in, "input");
        checkFloat(g.getOutput(0), "output");
        int[] declared = declaredInput(in);
        // A channels-last input transposed to channels first by its only reader: the model is the
        // channels-first model behind that Transpose.
        int[] toFirst = channelsLastInput(g, in.getName(), declared);
        Shape inputShape;
        int[] inputOrder = null;
        if (toFirst != null) {
            inputShape = new Shape(permute(declared, toFirst));
            inputOrder = transposeOrder(declared, toFirst, null);
            inputOrder = inverse(inputOrder);
            vals.put(in.getName(), new Val(in.getName(), declared, inputOrder, false, null, in.getName()));
            notes.add(in.getName() + ": the input is channels last " + Arrays.toString(declared)
                    + " and transposed to channels first by its only reader: read as the channels-first model " + inputShape
                    + "; input data stays in the model's layout (N, " + dimList(declared) + ")");
        } else {
            inputShape = new Shape(declared);
            vals.put(in.getName(), plain(in.getName(), inputShape));
        }
        shapes.put(in.getName(), inputShape);
        irValues.add(in.getName());
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
        String outName = g.getOutput(0).getName();
        if (constants.containsKey(outName)) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null, "the model output is a constant", null);
        }
        Val out = val(outName, null);
        if (out.batchSwapped() || out.pads() != null) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, out.origin(), "the model output is " + (out.pads() != null
                    ? "a padded tensor (Pad " + out.origin() + ")" : "transposed over the batch axis (Transpose " + out.origin() + ")"),
                    "end the model with the layer's own output");
        }
        Shape outShape = shapes.get(out.ir());
        int[] outDims = Arrays.equals(out.dims(), outShape.dims()) ? null : out.dims();
        if (out.order() != null) {
            notes.add(outName + ": the output is transposed back to " + Arrays.toString(out.dims()) + " by " + out.origin()
                    + "; outputs are reported in that layout");
        }
        SourceModel source = new SourceModel(toFirst != null ? declared : null, toFirst != null ? inputOrder : null, outDims,
                out.order(), notes);
        return new Graph(modelName, in.getName(), inputShape, nodes, out.ir(), source);
    }

    /** The model's input and output must be real numbers (the references compute in float64). */
    private static void checkFloat(OnnxMl.ValueInfoProto v, String what) {
        if (!v.hasType() && what.equals("output")) {
            return; // an output's type is optional
        }
        if (!v.getType().hasTensorType()) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, v.getName(), "the model " + what + " is not a tensor", null);
        }
        int t = v.getType().getTensorType().getElemType();
        // 0: undeclared (outputs often are); FLOAT, FLOAT16, DOUBLE, BFLOAT16
        if (t != 0 && t != 1 && t != 10 && t != 11 && t != 16) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, v.getName(), "the model " + what + " has element type "
                    + TensorProto.DataType.forNumber(t), "streamfold compiles models of real-valued tensors");
        }
    }

    /** The input's dims without the batch axis; records how the batch axis is read. */
    private int[] declaredInput(OnnxMl.ValueInfoProto in) {
        if (!in.getType().hasTensorType() || !in.getType().getTensorType().hasShape()) {
            throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, in.getName(), "the model input has no static shape",
                    "export with a concrete input shape (a symbolic batch dimension is fine)");
        }
        List<OnnxMl.TensorShapeProto.Dimension> dims = in.getType().getTensorType().getShape().getDimList();
        if (dims.size() < 2 || dims.size() > 4) {
            throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, in.getName(),
                    "input rank " + dims.size() + " is not supported", "expected (N,F), (N,C,L) or (N,C,H,W)");
        }
        OnnxMl.TensorShapeProto.Dimension b = dims.get(0);
        long declaredBatch = b.hasDimValue() ? b.getDimValue() : -1;
        if (declaredBatch == 0 || declaredBatch < -1 || declaredBatch > Integer.MAX_VALUE) {
            throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, in.getName(), "batch dimension is " + declaredBatch,
                    "a batch axis of 1.." + Integer.MAX_VALUE + " or a symbolic one");
        }
        batch = (int) declaredBatch;
        if (batch > 1) {
            notes.add(in.getName() + ": the batch dimension is fixed at " + batch
                    + "; read as the batch axis (streamfold computes one sample at a time, the same for any batch)");
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
        return d;
    }

    /**
     * If the input (N, S..., C) is read only by a Transpose to (N, C, S...), the permutation of
     * the non-batch axes it applies; else null.
     */
    private int[] channelsLastInput(OnnxMl.GraphProto g, String input, int[] declared) {
        if (declared.length < 2) {
            return null;
        }
        NodeProto reader = null;
        for (NodeProto n : g.getNodeList()) {
            if (n.getInputList().contains(input)) {
                if (reader != null) {
                    return null;
                }
                reader = n;
            }
        }
        if (reader == null || !reader.getOpType().equals("Transpose") || g.getOutput(0).getName().equals(input)) {
            return null;
        }
        int r = declared.length + 1;
        int[] perm = attrInts(reader, "perm", null);
        if (perm == null || perm.length != r || perm[0] != 0 || perm[1] != r - 1) {
            return null;
        }
        for (int i = 2; i < r; i++) {
            if (perm[i] != i - 1) {
                return null;
            }
        }
        return nonBatch(perm);
    }

    // --- nodes -----------------------------------------------------------------------------------

    private void convertNode(NodeProto n, String name) {
        String op = n.getOpType();
        if (!n.getDomain().isEmpty() && !n.getDomain().equals("ai.onnx")) {
            throw unsupported(name, "operator " + n.getDomain() + "::" + op);
        }
        NodeConverter c = OPERATORS.get(op);
        int version = OnnxOpsets.version(op, opset);
        if (c == null || version < 0) {
            throw unsupported(name, "operator " + op);
        }
        c.convert(this, n, name, version);
    }

    /** Converts one ONNX node, at its operator version, into graph IR nodes (or constants and views). */
    private interface NodeConverter {
        void convert(OnnxModelReader r, NodeProto n, String name, int version);
    }

    /** The one table of supported ONNX operators: name -> converter. */
    private static final Map<String, NodeConverter> OPERATORS = Map.ofEntries(
            Map.entry("Constant", OnnxModelReader::constantNode),
            Map.entry("Identity", (r, n, name, v) -> r.passThrough(n, name)),
            Map.entry("Dropout", OnnxModelReader::dropout),
            Map.entry("Gemm", OnnxModelReader::gemm),
            Map.entry("MatMul", (r, n, name, v) -> r.matmul(n, name)),
            Map.entry("Conv", (r, n, name, v) -> r.conv(n, name)),
            Map.entry("BatchNormalization", OnnxModelReader::batchNorm),
            Map.entry("Relu", (r, n, name, v) -> r.pointwise(n, name, new Op.Relu())),
            Map.entry("LeakyRelu", (r, n, name, v) -> r.pointwise(n, name, new Op.LeakyRelu(attrFloat(n, "alpha", 0.01)))),
            Map.entry("Sigmoid", (r, n, name, v) -> r.pointwise(n, name, new Op.Sigmoid())),
            Map.entry("Tanh", (r, n, name, v) -> r.pointwise(n, name, new Op.Tanh())),
            Map.entry("Elu", (r, n, name, v) -> r.pointwise(n, name, new Op.Elu(attrFloat(n, "alpha", 1.0)))),
            Map.entry("Selu", (r, n, name, v) -> r.pointwise(n, name,
                    new Op.Selu(attrFloat(n, "alpha", Op.Selu.ALPHA), attrFloat(n, "gamma", Op.Selu.GAMMA)))),
            Map.entry("Softplus", (r, n, name, v) -> r.pointwise(n, name, new Op.Softplus())),
            Map.entry("HardSigmoid", (r, n, name, v) -> r.pointwise(n, name,
                    new Op.HardSigmoid(attrFloat(n, "alpha", 0.2), attrFloat(n, "beta", 0.5)))),
            Map.entry("PRelu", OnnxModelReader::prelu),
            Map.entry("Clip", OnnxModelReader::clip),
            Map.entry("Softmax", OnnxModelReader::softmax),
            Map.entry("MaxPool", (r, n, name, v) -> r.pool(n, name, v, true)),
            Map.entry("AveragePool", (r, n, name, v) -> r.pool(n, name, v, false)),
            Map.entry("GlobalAveragePool", (r, n, name, v) -> r.emit(name, new Op.GlobalAvgPool(), n)),
            Map.entry("Flatten", OnnxModelReader::flatten),
            Map.entry("Reshape", OnnxModelReader::reshape),
            Map.entry("Unsqueeze", (r, n, name, v) -> r.unitAxes(n, name, v, true)),
            Map.entry("Squeeze", (r, n, name, v) -> r.unitAxes(n, name, v, false)),
            Map.entry("Transpose", (r, n, name, v) -> r.transpose(n, name)),
            Map.entry("Pad", OnnxModelReader::pad),
            Map.entry("Add", OnnxModelReader::add));

    /** Identity: the output is the input (a constant stays a constant). */
    private void passThrough(NodeProto n, String name) {
        String src = n.getInput(0);
        if (constants.containsKey(src)) {
            constants.put(n.getOutput(0), constants.get(src));
        } else {
            vals.put(n.getOutput(0), val(src, name));
        }
    }

    /** Dropout in inference: the identity. Before version 7 only with {@code is_test}; from 12 unless training_mode is true. */
    private void dropout(NodeProto n, String name, int version) {
        if (version < 7 && attrInt(n, "is_test", 0) == 0) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Dropout-" + version + " with is_test=0 drops elements at random "
                    + "(training mode)", "export the model for inference (is_test=1) or remove the Dropout");
        }
        if (version >= 12 && n.getInputCount() > 2 && !n.getInput(2).isEmpty()) {
            Constant t = constants.get(n.getInput(2));
            if (t == null || t.size() != 1 || t.data()[0] != 0) {
                throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Dropout-" + version + " with training_mode "
                        + (t == null ? "given at run time" : "true"), "export the model for inference");
            }
        }
        for (int i = 1; i < n.getOutputCount(); i++) {
            if (!n.getOutput(i).isEmpty() && useCount.containsKey(n.getOutput(i))) {
                throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Dropout mask output is used", null);
            }
        }
        passThrough(n, name);
    }

    private void constantNode(NodeProto n, String name, int version) {
        for (AttributeProto a : n.getAttributeList()) {
            switch (a.getName()) {
                case "value" -> {
                    constants.put(n.getOutput(0), OnnxTensors.decode(a.getT(), "value", name));
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
        throw unsupported(name, "Constant-" + version + " without a numeric value");
    }

    /**
     * Gemm as a Dense layer. Before version 7, C is broadcast only with {@code broadcast=1} and
     * must otherwise have the output's shape (M, N), M the batch; before 11, C is required.
     */
    private void gemm(NodeProto n, String name, int version) {
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
        boolean hasC = n.getInputCount() > 2 && !n.getInput(2).isEmpty();
        if (!hasC && version < 11) {
            throw new ModelException(Diagnostic.SF_BAD_GRAPH, name, "Gemm-" + version + " without input C", "C is required before Gemm-11");
        }
        if (hasC) {
            Constant c = param(n, 2, name, "C (bias)");
            long[] cd = c.dims();
            boolean rowVector = cd.length == 2 && cd[0] == 1 && cd[1] == out;
            if (version < 7 && attrInt(n, "broadcast", 0) == 0 && !rowVector) {
                throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, "Gemm-" + version + " without broadcast=1 needs C of shape (M, "
                        + out + "), has " + Arrays.toString(cd), "set broadcast=1 or give C one row per sample");
            }
            boolean perRow = cd.length == 2 && cd[0] > 1;
            if (perRow || (c.size() != out && c.size() != 1)) {
                throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Gemm bias C of shape " + Arrays.toString(cd)
                        + " differs between samples", "C must be a scalar or one row of " + out + " values");
            }
            for (int o = 0; o < out; o++) {
                bias[o] = beta * c.data()[c.size() == 1 ? 0 : o];
            }
        }
        dense(n, name, w, bias, in, out);
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
        dense(n, name, w, new double[out], in, out);
    }

    /**
     * A Dense layer on the activation input 0, weight {@code w[o*in + i]} over the ONNX feature
     * order; a vector whose elements the IR holds in another order (a Transpose before the
     * Flatten) gets the weight columns permuted instead.
     */
    private void dense(NodeProto n, String name, double[] w, double[] bias, int in, int out) {
        Val x = val(input(n, 0, name), name);
        if (x.dims().length != 1) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, n.getOpType() + " of a rank-" + (x.dims().length + 1)
                    + " tensor " + dimList(x.dims()), "only (N, features) inputs are supported; insert a Flatten");
        }
        if (x.dims()[0] != in) {
            throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, name, n.getOpType() + " expects " + in + " features, its input has "
                    + x.dims()[0], null);
        }
        String input;
        double[] weight = w;
        if (x.order() != null && !x.batchSwapped() && x.pads() == null) {
            input = shapes.get(x.ir()).rank() == 1 ? x.ir() : irNode(x.origin(), new Op.Flatten(), x.ir());
            weight = new double[w.length];
            int[] order = x.order();
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < in; i++) {
                    weight[o * in + order[i]] = w[o * in + i];
                }
            }
            notes.add(name + ": its input is in transposed order (" + x.origin() + "); the permutation is folded into the weight columns");
        } else {
            input = activation(n, 0, name);
        }
        emit(name, new Op.Dense(Tensor.of(Shape.of(out, in), weight), Tensor.of(Shape.of(out), bias)), List.of(input), n);
    }

    private void conv(NodeProto n, String name) {
        Constant w = param(n, 1, name, "W (weight)");
        int rank = w.dims().length - 2;
        if (rank < 1 || rank > 2) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Conv" + rank + "D", "streamfold supports 1D and 2D convolutions");
        }
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
        WindowInput x = windowInput(n, name, rank);
        Window win = withPending(window(n, name, kernel, x.spatial(), attrInts(n, "dilations", null), false), x, name);
        int[] wd = Arrays.stream(w.dims()).mapToInt(Math::toIntExact).toArray();
        Op.Conv conv;
        try {
            conv = new Op.Conv(Tensor.of(new Shape(wd), w.data()), Tensor.of(Shape.of(outCh), bias), win, group);
        } catch (IllegalArgumentException e) {
            throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, e.getMessage(), null);
        }
        emit(name, conv, List.of(x.ir()), n);
    }

    /**
     * Inference BatchNormalization. Version 1 and 6 run in test mode only with {@code is_test}
     * set; before 9, {@code spatial=0} normalizes every element on its own (parameters of C x D1
     * x ... values), which the IR expresses only where D1 x ... is 1.
     */
    private void batchNorm(NodeProto n, String name, int version) {
        boolean extraOutputs = n.getOutputCount() > 1 && n.getOutputList().stream().skip(1).anyMatch(s -> !s.isEmpty());
        if (version < 7 && attrInt(n, "is_test", 0) == 0) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "BatchNormalization-" + version
                    + " with is_test=0 normalizes with batch statistics (training mode)", "export the model for inference (is_test=1)");
        }
        if (attrInt(n, "training_mode", 0) != 0 || (version >= 7 && extraOutputs)) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "BatchNormalization-" + version + " in training mode",
                    "export the model after model.eval()");
        }
        if (extraOutputs && n.getOutputList().stream().skip(1).anyMatch(useCount::containsKey)) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "BatchNormalization-" + version + " statistics outputs are used",
                    "they are not filled in test mode");
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
        Val x = val(input(n, 0, name), name);
        if (version < 9 && attrInt(n, "spatial", 1) == 0 && !x.batchSwapped()) {
            int per = Shape.of(x.dims()).perChannel();
            if (per != 1) {
                throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "BatchNormalization-" + version + " with spatial=0 on "
                        + dimList(x.dims()) + " normalizes each of the " + per + " elements of a channel on its own",
                        "streamfold's BatchNormalization is per channel; export with spatial=1 or after a Flatten");
            }
        }
        Op.BatchNorm bn = new Op.BatchNorm(p[0], p[1], p[2], p[3], attrFloat(n, "epsilon", 1e-5));
        if (x.batchSwapped()) {
            if (shapes.get(x.ir()).size() != channels || shapes.get(x.ir()).rank() != 1) {
                throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "BatchNormalization of " + channels
                        + " channels on a tensor transposed over the batch axis (Transpose " + x.origin() + ")", null);
            }
            String y = n.getOutput(0);
            emitIr(name, bn, List.of(x.ir()), y);
            vals.put(y, new Val(y, x.dims(), null, true, null, x.origin()));
            notes.add(name + ": BatchNormalization on a (" + channels + ", N) tensor, the (N, " + channels + ") vector transposed by "
                    + x.origin() + " (onnxmltools' Keras export): applied per feature, as the Keras layer does, not broadcast");
            return;
        }
        perChannel(n, name, bn, channels);
    }

    /**
     * A per-channel op on activation input 0: a view that only adds or drops unit axes after the
     * channel axis needs no IR node (PyTorch wraps BatchNorm1d on vectors in Unsqueeze/Squeeze).
     */
    private void perChannel(NodeProto n, String name, Op op, int channels) {
        String v = input(n, 0, name);
        Val x = val(v, name);
        Shape s = shapes.get(x.ir());
        if (x.order() == null && !x.batchSwapped() && x.pads() == null && x.dims().length > 0 && x.dims()[0] == channels
                && s.channels() == channels && !Arrays.equals(x.dims(), s.dims())) {
            String y = n.getOutput(0);
            emitIr(name, op, List.of(x.ir()), y);
            vals.put(y, new Val(y, x.dims(), null, false, null, x.origin()));
            return;
        }
        emit(name, op, List.of(activation(n, 0, name)), n);
    }

    /** An elementwise function: it commutes with every reordering, so a view stays a view. */
    private void pointwise(NodeProto n, String name, Op op) {
        Val x = val(input(n, 0, name), name);
        if (x.pads() != null) {
            throw padRefused(name, n.getOpType(), x);
        }
        String y = n.getOutput(0);
        emitIr(name, op, List.of(x.ir()), y);
        vals.put(y, new Val(y, x.dims(), x.order(), x.batchSwapped(), null, x.origin()));
    }

    /**
     * PRelu: the slope broadcasts to the input (from version 7 unidirectionally; before, a slope
     * of one value is shared). One value: LeakyRelu; one per channel: {@link Op.PRelu}; a slope
     * that varies along other axes is refused.
     */
    private void prelu(NodeProto n, String name, int version) {
        Constant c = param(n, 1, name, "slope");
        Val x = val(input(n, 0, name), name);
        if (c.size() == 1) {
            pointwise(n, name, new Op.LeakyRelu(c.data()[0]));
            return;
        }
        int channels = x.dims().length == 0 ? 0 : x.dims()[0];
        long[] aligned = alignNumpy(c.dims(), x.dims().length + 1, name);
        boolean perChannel = aligned != null && aligned[0] == 1 && aligned[1] == channels;
        for (int i = 2; perChannel && i < aligned.length; i++) {
            perChannel = aligned[i] == 1;
        }
        if (!perChannel || x.order() != null || x.batchSwapped()) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "PRelu-" + version + " slope of shape " + Arrays.toString(c.dims())
                    + " on a " + dimList(x.dims()) + " input is not one value per channel", "a slope per channel (C, 1, ...) or one shared slope");
        }
        perChannel(n, name, new Op.PRelu(Tensor.of(Shape.of(channels), c.data())), channels);
    }

    /** Clip: bounds as attributes before version 11, as optional constant inputs from 11. */
    private void clip(NodeProto n, String name, int version) {
        double min = Double.NEGATIVE_INFINITY;
        double max = Double.POSITIVE_INFINITY;
        if (version < 11) {
            min = attrFloat(n, "min", min);
            max = attrFloat(n, "max", max);
        } else {
            if (n.getInputCount() > 1 && !n.getInput(1).isEmpty()) {
                min = scalar(param(n, 1, name, "min"), name, "min");
            }
            if (n.getInputCount() > 2 && !n.getInput(2).isEmpty()) {
                max = scalar(param(n, 2, name, "max"), name, "max");
            }
        }
        pointwise(n, name, min == 0 && max == Double.POSITIVE_INFINITY ? new Op.Relu() : new Op.Clip(min, max));
    }

    /**
     * Softmax. From version 13 over one axis (default -1). Before, the input is coerced to 2-D at
     * {@code axis} (default 1) and the softmax runs over all dims from {@code axis} on; the IR
     * expresses that as a Reshape to (prefix, suffix), a softmax over the suffix and a Reshape
     * back (nothing when the suffix is one axis).
     */
    private void softmax(NodeProto n, String name, int version) {
        String x = activation(n, 0, name);
        Shape s = shapes.get(x);
        int fullRank = s.rank() + 1;
        int axis = attrInt(n, "axis", version >= 13 ? -1 : 1);
        if (axis < 0) {
            axis += fullRank;
        }
        if (axis < 1 || axis >= fullRank) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Softmax-" + version + " over axis " + axis + " of a rank-"
                    + fullRank + " tensor", "softmax must run over non-batch axes");
        }
        if (version >= 13 || axis == fullRank - 1) {
            emit(name, new Op.Softmax(axis - 1), List.of(x), n);
            return;
        }
        int prefix = 1;
        for (int i = 0; i < axis - 1; i++) {
            prefix *= s.dim(i);
        }
        int suffix = s.size() / prefix;
        Shape coerced = prefix == 1 ? Shape.of(suffix) : Shape.of(prefix, suffix);
        String flat = irNode(name + "/coerce", new Op.Reshape(coerced), x);
        String y = irNode(name, new Op.Softmax(coerced.rank() - 1), flat);
        emitIr(unique(name + "/restore"), new Op.Reshape(s), List.of(y), n.getOutput(0));
        vals.put(n.getOutput(0), plain(n.getOutput(0), s));
        notes.add(name + ": Softmax-" + version + " coerces its input to 2-D at axis " + axis + ": one softmax over the "
                + suffix + " elements of " + dimList(Arrays.copyOfRange(s.dims(), axis - 1, s.rank())));
    }

    /**
     * MaxPool (1, 8: storage_order, an Indices output; 10: ceil_mode, dilations) and AveragePool
     * (7: count_include_pad; 10: ceil_mode; 19: dilations). {@code ceil_mode} adds the output
     * positions whose window starts inside the input or its begin padding, as end padding: a
     * padded element never wins a max and is not counted by an average that excludes padding.
     * An average that counts padding is refused there, because implementations disagree on
     * whether the ceil positions count.
     */
    private void pool(NodeProto n, String name, int version, boolean max) {
        String op = n.getOpType();
        int rank = val(input(n, 0, name), name).dims().length - 1;
        if (rank < 1 || rank > 2) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, op + " on a rank-" + (rank + 2) + " tensor", "1D and 2D pooling only");
        }
        if (n.getOutputCount() > 1 && !n.getOutput(1).isEmpty() && useCount.containsKey(n.getOutput(1))) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "MaxPool-" + version + " with a used Indices output", null);
        }
        boolean hasCeil = version >= 10;
        boolean hasDilations = max ? version >= 10 : version >= 19;
        // An attribute of a later version at its default value is harmless; any other value is not this version's operator.
        if (!hasCeil && attrInt(n, "ceil_mode", 0) != 0 || !hasDilations && Arrays.stream(attrInts(n, "dilations", new int[0])).anyMatch(d -> d != 1)) {
            throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, op + "-" + version + " has no " + (hasCeil ? "dilations" : "ceil_mode")
                    + " attribute", "export at the opset that introduced it");
        }
        int[] kernel = attrInts(n, "kernel_shape", null);
        if (kernel == null || kernel.length != rank) {
            throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, "kernel_shape is missing or has the wrong length", null);
        }
        boolean countPad = !max && version >= 7 && attrInt(n, "count_include_pad", 0) != 0;
        boolean ceil = hasCeil && attrInt(n, "ceil_mode", 0) != 0;
        WindowInput x = windowInput(n, name, rank);
        Window w = window(n, name, kernel, x.spatial(), hasDilations ? attrInts(n, "dilations", null) : null, ceil);
        boolean ceilAdds = ceil && !w.equals(window(n, name, kernel, x.spatial(), hasDilations ? attrInts(n, "dilations", null) : null, false));
        if (ceilAdds && !max && x.pending() != null) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "zero Pad " + x.origin() + " before AveragePool-" + version
                    + " with ceil_mode=1: the padded zeros count, the ceil positions do not", "fold the Pad into the pool's pads");
        }
        if (ceilAdds && countPad) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "AveragePool-" + version
                    + " with ceil_mode=1 and count_include_pad=1 adds windows past the padding",
                    "implementations disagree on their divisor; use count_include_pad=0 or floor mode");
        }
        if (x.pending() != null) {
            if (max && !nonNegative(x.ir())) {
                throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "zero Pad " + x.origin() + " before MaxPool of a value that may be "
                        + "negative", "a padded zero can win the max; pad inside the MaxPool (pads) instead");
            }
            if (!max) {
                if (w.hasPadding() && !countPad) {
                    throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "zero Pad " + x.origin()
                            + " before AveragePool with its own padding not counted", "fold the Pad into the pool's pads");
                }
                countPad = true;
            }
        }
        w = withPending(w, x, name);
        for (int i = 0; x.pending() != null && i < rank; i++) {
            if (w.padBegin(i) >= w.span(i) || w.padEnd(i) >= w.span(i)) {
                throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "zero Pad " + x.origin() + " leaves windows of " + op
                        + " entirely in the padding", null);
            }
        }
        emit(name, max ? new Op.MaxPool(w) : new Op.AvgPool(w, countPad), List.of(x.ir()), n);
    }

    /** True if every value of an IR value is >= 0 (it comes from a Relu, a Clip at or above 0, or a sigmoid). */
    private boolean nonNegative(String ir) {
        Integer i = producerIndex.get(ir);
        if (i == null) {
            return false;
        }
        Op op = nodes.get(i).op();
        return op instanceof Op.Relu || op instanceof Op.Sigmoid || op instanceof Op.HardSigmoid || op instanceof Op.Softplus
                || op instanceof Op.Clip c && c.min() >= 0;
    }

    /**
     * Flatten: (d0 x ... x d(axis-1), d(axis) x ...). With axis 1 the batch axis stays; axis 0
     * folds the batch into the vector, which is the same only for a fixed batch of 1; a larger
     * axis is accepted when it only merges unit axes into the batch. Negative axes from 11.
     */
    private void flatten(NodeProto n, String name, int version) {
        Val x = val(input(n, 0, name), name);
        int fullRank = x.dims().length + 1;
        int axis = attrInt(n, "axis", 1);
        if (axis < 0 && version >= 11) {
            axis += fullRank;
        }
        boolean ok = axis == 1 || (axis == 0 && batch == 1);
        if (axis > 1 && axis <= fullRank) {
            ok = true;
            for (int i = 0; i < axis - 1; i++) {
                ok &= x.dims()[i] == 1;
            }
        }
        if (!ok) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Flatten-" + version + " at axis " + axis + " of a rank-" + fullRank
                    + " tensor" + (axis == 0 ? " with batch " + (batch < 0 ? "N" : batch) : ""),
                    "only Flatten(axis=1), which keeps the batch axis, is supported");
        }
        int size = Shape.of(x.dims()).size();
        if (axis == 0) {
            notes.add(name + ": Flatten(axis=0) of a fixed batch of 1 is Flatten(axis=1)");
        }
        reshapeTo(n, name, x, new int[] {size}, true);
    }

    /** Reshape: the target as an attribute before version 5, as a constant input from 5; allowzero from 14. */
    private void reshape(NodeProto n, String name, int version) {
        Val x = val(input(n, 0, name), name);
        long[] target;
        if (version < 5) {
            int[] t = attrInts(n, "shape", null);
            if (t == null) {
                throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, "Reshape-" + version + " without a shape attribute", null);
            }
            target = Arrays.stream(t).mapToLong(v -> v).toArray();
        } else {
            Constant c = param(n, 1, name, "shape");
            for (double v : c.data()) {
                if (v != Math.rint(v) || Math.abs(v) > Long.MAX_VALUE / 2) {
                    throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, "Reshape target entry " + v + " is not an integer dimension", null);
                }
            }
            target = Arrays.stream(c.data()).mapToLong(v -> (long) v).toArray();
        }
        boolean allowZero = version >= 14 && attrInt(n, "allowzero", 0) != 0;
        int[] in = x.dims();
        if (target.length < 2) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Reshape to " + Arrays.toString(target), "the batch axis must be kept");
        }
        boolean batchKept = target[0] == -1 || (target[0] == 0 && !allowZero) || target[0] == 1 && batch == 1 || batch > 1 && target[0] == batch
                || target[0] == 1 && batch < 0;
        if (!batchKept) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Reshape changes the batch axis to " + target[0], null);
        }
        int[] dims = new int[target.length - 1];
        int infer = -1;
        long known = 1;
        for (int i = 1; i < target.length; i++) {
            long t = target[i];
            if (t == 0 && !allowZero) {
                if (i >= in.length + 1) {
                    throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, name, "Reshape copies dimension " + i + " that the input "
                            + dimList(in) + " lacks", null);
                }
                t = in[i - 1];
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
        int size = Shape.of(in).size();
        if (infer >= 0) {
            if (known == 0 || size % known != 0) {
                throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, name, "cannot reshape " + dimList(in) + " to " + Arrays.toString(target), null);
            }
            dims[infer] = (int) (size / known);
        }
        checkSize(dims, name, "the Reshape target");
        if (target[0] == -1 && infer < 0 && known != size) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Reshape to " + Arrays.toString(target) + " changes the batch axis", null);
        }
        reshapeTo(n, name, x, dims, false);
    }

    /**
     * The ONNX value reshaped (flat order kept) to {@code dims}: an IR Flatten/Reshape of a value
     * in IR order, or the same reordered view with new dims.
     */
    private void reshapeTo(NodeProto n, String name, Val x, int[] dims, boolean flatten) {
        if (x.batchSwapped() || x.pads() != null) {
            throw viewRefused(name, n.getOpType(), x);
        }
        if (Shape.of(dims).size() != Shape.of(x.dims()).size()) {
            throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, name, "cannot reshape " + dimList(x.dims()) + " to " + dimList(dims), null);
        }
        if (x.order() != null) {
            vals.put(n.getOutput(0), new Val(x.ir(), dims, x.order(), false, null, name));
            return;
        }
        emit(name, flatten ? new Op.Flatten() : new Op.Reshape(new Shape(dims)), List.of(x.ir()), n);
    }

    /**
     * Unsqueeze / Squeeze: axes as an attribute before version 13, as a constant input from 13
     * (negative axes from 11). Inserting or removing unit axes keeps every element in place, so
     * the result is the same IR value seen with other dims. The batch axis must stay.
     */
    private void unitAxes(NodeProto n, String name, int version, boolean insert) {
        Val x = val(input(n, 0, name), name);
        if (x.batchSwapped() || x.pads() != null) {
            throw viewRefused(name, n.getOpType(), x);
        }
        int[] axes;
        if (version < 13) {
            axes = attrInts(n, "axes", null);
        } else {
            axes = n.getInputCount() > 1 && !n.getInput(1).isEmpty()
                    ? Arrays.stream(param(n, 1, name, "axes").data()).mapToInt(v -> (int) v).toArray() : null;
        }
        List<Integer> full = new ArrayList<>();
        full.add(batch);
        for (int d : x.dims()) {
            full.add(d);
        }
        if (axes == null) {
            if (insert) {
                throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, "Unsqueeze-" + version + " without axes", null);
            }
            if (batch <= 1) {
                throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Squeeze-" + version + " without axes would drop a batch axis of size 1",
                        "give the axes to squeeze");
            }
            List<Integer> kept = new ArrayList<>();
            kept.add(batch);
            for (int d : x.dims()) {
                if (d != 1) {
                    kept.add(d);
                }
            }
            full = kept;
        } else {
            int outRank = insert ? full.size() + axes.length : full.size();
            TreeSet<Integer> sorted = new TreeSet<>();
            for (int a : axes) {
                if (a < 0 && version < 11) {
                    throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, n.getOpType() + "-" + version + " with negative axis " + a, null);
                }
                int ax = a < 0 ? a + outRank : a;
                if (ax < 0 || ax >= outRank || !sorted.add(ax)) {
                    throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, n.getOpType() + " axes " + Arrays.toString(axes)
                            + " on a rank-" + full.size() + " tensor", null);
                }
            }
            if (sorted.contains(0)) {
                throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, n.getOpType() + " of axis 0, the batch axis", null);
            }
            if (insert) {
                for (int ax : sorted) {
                    full.add(ax, 1);
                }
            } else {
                for (int ax : sorted.descendingSet()) {
                    if (full.get(ax) != 1) {
                        throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, name, "Squeeze of axis " + ax + " of size " + full.get(ax), null);
                    }
                    full.remove(ax);
                }
            }
        }
        int[] dims = full.stream().skip(1).mapToInt(Integer::intValue).toArray();
        if (dims.length == 0) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, n.getOpType() + " leaves only the batch axis", null);
        }
        Shape s = shapes.get(x.ir());
        if (x.order() == null && Arrays.equals(dims, s.dims())) {
            vals.put(n.getOutput(0), plain(x.ir(), s));
        } else {
            vals.put(n.getOutput(0), new Val(x.ir(), dims, x.order(), false, null, name));
        }
    }

    /**
     * Transpose ({@code perm}, by default the axes reversed). The IR computes no transpose: a
     * permutation of the non-batch axes becomes a reordered view (which is the IR value itself
     * again when it undoes an earlier one); reversing an (N, F) vector swaps the batch axis, which
     * only a following BatchNormalization and the Transpose back may see.
     */
    private void transpose(NodeProto n, String name) {
        Val x = val(input(n, 0, name), name);
        if (x.pads() != null) {
            throw padRefused(name, "Transpose", x);
        }
        int r = x.dims().length + 1;
        int[] perm = attrInts(n, "perm", null);
        if (perm == null) {
            perm = new int[r];
            for (int i = 0; i < r; i++) {
                perm[i] = r - 1 - i;
            }
        }
        if (perm.length != r) {
            throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, "perm " + Arrays.toString(perm) + " for a rank-" + r + " tensor", null);
        }
        if (r == 2 && perm[0] == 1 && perm[1] == 0) {
            if (x.order() != null) {
                throw viewRefused(name, "Transpose", x);
            }
            vals.put(n.getOutput(0), new Val(x.ir(), x.dims(), null, !x.batchSwapped(), null, name));
            return;
        }
        if (perm[0] != 0 || x.batchSwapped()) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Transpose " + Arrays.toString(perm) + " moves the batch axis", null);
        }
        int[] q = nonBatch(perm);
        int[] dims = permute(x.dims(), q);
        int[] order = transposeOrder(x.dims(), q, x.order());
        Shape s = shapes.get(x.ir());
        boolean identity = true;
        for (int i = 0; i < order.length; i++) {
            identity &= order[i] == i;
        }
        if (identity && Arrays.equals(dims, s.dims())) {
            vals.put(n.getOutput(0), plain(x.ir(), s));
        } else {
            vals.put(n.getOutput(0), new Val(x.ir(), dims, identity ? null : order, false, null, name));
        }
    }

    /**
     * Pad (1: {@code paddings}; 2: {@code pads}/{@code value} attributes; 11: {@code pads} and
     * {@code constant_value} inputs; 18: {@code axes}). Only a constant zero pad of the spatial
     * axes is read, and only a Conv or pool may read it: it becomes their padding.
     */
    private void pad(NodeProto n, String name, int version) {
        Val x = val(input(n, 0, name), name);
        String mode = attrString(n, "mode", "constant");
        if (!mode.equals("constant")) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Pad-" + version + " mode " + mode, "only constant zero padding");
        }
        int r = x.dims().length + 1;
        int[] pads;
        double value;
        if (version < 11) {
            pads = attrInts(n, version < 2 ? "paddings" : "pads", null);
            value = attrFloat(n, "value", 0.0);
        } else {
            pads = Arrays.stream(param(n, 1, name, "pads").data()).mapToInt(v -> (int) v).toArray();
            value = n.getInputCount() > 2 && !n.getInput(2).isEmpty() ? scalar(param(n, 2, name, "constant_value"), name, "constant_value") : 0;
            if (n.getInputCount() > 3 && !n.getInput(3).isEmpty()) {
                int[] axes = Arrays.stream(param(n, 3, name, "axes").data()).mapToInt(v -> (int) v).toArray();
                int[] full = new int[2 * r];
                for (int i = 0; i < axes.length; i++) {
                    int a = axes[i] < 0 ? axes[i] + r : axes[i];
                    full[a] = pads[i];
                    full[a + r] = pads[i + axes.length];
                }
                pads = full;
            }
        }
        if (pads == null || pads.length != 2 * r) {
            throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, "Pad-" + version + " pads have the wrong length for a rank-" + r
                    + " tensor", null);
        }
        if (value != 0) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Pad-" + version + " with value " + value,
                    "only zero padding can become a layer's padding");
        }
        if (pads[0] != 0 || pads[r] != 0 || r < 3 || pads[1] != 0 || pads[r + 1] != 0) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Pad-" + version + " of the batch or channel axis " + Arrays.toString(pads),
                    "only spatial padding can become a layer's padding");
        }
        int spatial = r - 2;
        int[] p = new int[2 * spatial];
        boolean any = false;
        for (int i = 0; i < spatial; i++) {
            p[i] = pads[2 + i];
            p[spatial + i] = pads[r + 2 + i];
            if (p[i] < 0 || p[spatial + i] < 0) {
                throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Pad-" + version + " with negative pads (cropping)", null);
            }
            any |= p[i] != 0 || p[spatial + i] != 0;
        }
        if (!any) {
            vals.put(n.getOutput(0), x);
            return;
        }
        if (!x.plainOrder()) {
            throw viewRefused(name, "Pad", x);
        }
        int[] dims = x.dims().clone();
        for (int i = 0; i < spatial; i++) {
            dims[1 + i] += p[i] + p[spatial + i];
        }
        vals.put(n.getOutput(0), new Val(x.ir(), dims, null, false, p, name));
    }

    /**
     * Add. Two activations: a residual join. An activation and a constant: a bias per channel
     * (merged into a preceding Dense/Conv, the MatMul + Add of exporters). Before version 7 the
     * constant broadcasts only with {@code broadcast=1}, aligned at {@code axis} or at the end
     * (legacy broadcasting); from 7, numpy broadcasting.
     */
    private void add(NodeProto n, String name, int version) {
        String va = n.getInput(0);
        String vb = n.getInput(1);
        boolean ca = constants.containsKey(va);
        boolean cb = constants.containsKey(vb);
        if (ca && cb) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Add of two constants", "fold constants before export");
        }
        if (!ca && !cb) {
            emit(name, new Op.Add(), List.of(activation(n, 0, name), activation(n, 1, name)), n);
            return;
        }
        if (version < 7 && ca) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Add-" + version + " of a constant first operand",
                    "legacy broadcasting only broadcasts the second operand");
        }
        String xOnnx = ca ? vb : va;
        String x = activation(n, ca ? 1 : 0, name);
        Constant c = constants.get(ca ? va : vb);
        Shape s = shapes.get(x);
        int fullRank = s.rank() + 1;
        long[] aligned;
        if (version < 7) {
            aligned = alignLegacy(n, name, c, fullRank, version);
        } else {
            aligned = alignNumpy(c.dims(), fullRank, name);
            if (aligned == null) {
                throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, name, "Add constant of rank " + c.dims().length + " to a " + s + " tensor", null);
            }
        }
        double[] perChannel = perChannelConstant(c, aligned, s, name);
        Integer pi = producerIndex.get(x);
        Node prod = pi == null ? null : nodes.get(pi);
        boolean onlyReader = useCount.getOrDefault(xOnnx, 0) <= 1 && useCount.getOrDefault(x, 0) <= 1;
        if (prod != null && onlyReader && (prod.op() instanceof Op.Dense || prod.op() instanceof Op.Conv)) {
            // MatMul + Add (or Conv + Add): the constant is the layer's bias.
            Node merged = prod.withOp(addBias(prod.op(), perChannel));
            nodes.set(pi, merged);
            vals.put(n.getOutput(0), plain(x, s));
            return;
        }
        double[] ones = new double[s.channels()];
        Arrays.fill(ones, 1.0);
        emit(name, new Op.Affine(Tensor.of(Shape.of(ones.length), ones), Tensor.of(Shape.of(ones.length), perChannel)), List.of(x), n);
    }

    /** Legacy (before version 7) broadcasting of B against A of rank {@code fullRank}, as numpy-aligned dims. */
    private static long[] alignLegacy(NodeProto n, String name, Constant c, int fullRank, int version) {
        long[] d = c.dims();
        long[] aligned = new long[fullRank];
        Arrays.fill(aligned, 1);
        if (attrInt(n, "broadcast", 0) == 0) {
            if (d.length != fullRank) {
                throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, "Add-" + version + " without broadcast=1 of a constant of shape "
                        + Arrays.toString(d) + " to a rank-" + fullRank + " tensor", "set broadcast=1 or give the full shape");
            }
            return d.clone();
        }
        if (c.size() == 1) {
            return aligned;
        }
        int axis = hasAttr(n, "axis") ? attrInt(n, "axis", 0) : fullRank - d.length;
        if (axis < 0) {
            axis += fullRank;
        }
        if (axis < 0 || axis + d.length > fullRank) {
            throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, "Add-" + version + " broadcast of " + Arrays.toString(d) + " at axis "
                    + axis + " of a rank-" + fullRank + " tensor", null);
        }
        System.arraycopy(d, 0, aligned, axis, d.length);
        return aligned;
    }

    /** Numpy alignment of constant dims {@code d} to rank {@code fullRank} (ones in front), or null if it is longer. */
    private static long[] alignNumpy(long[] d, int fullRank, String name) {
        if (d.length > fullRank) {
            return null;
        }
        long[] aligned = new long[fullRank];
        Arrays.fill(aligned, 1);
        System.arraycopy(d, 0, aligned, fullRank - d.length, d.length);
        return aligned;
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

    /** A constant, aligned to (N, C, rest...), as one value per channel; else unsupported. */
    private static double[] perChannelConstant(Constant c, long[] aligned, Shape s, String name) {
        int channels = s.channels();
        double[] out = new double[channels];
        if (c.size() == 1) {
            Arrays.fill(out, c.data()[0]);
            return out;
        }
        boolean perChannelOnly = aligned[0] == 1 && aligned[1] == channels;
        for (int i = 2; i < aligned.length; i++) {
            perChannelOnly &= aligned[i] == 1;
        }
        if (!perChannelOnly) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, "Add of a constant with dims " + Arrays.toString(c.dims()) + " to a " + s
                    + " tensor", "only scalar or per-channel constants can be added");
        }
        return c.data().clone();
    }

    // --- views -----------------------------------------------------------------------------------

    private static Val plain(String ir, Shape s) {
        return new Val(ir, s.dims(), null, false, null, ir);
    }

    /** The view of an ONNX activation, or an error if it is undefined or a constant. */
    private Val val(String onnxValue, String node) {
        Val v = vals.get(onnxValue);
        if (v == null) {
            if (constants.containsKey(onnxValue)) {
                throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, node, "a constant input '" + onnxValue + "' where an activation is expected",
                        "fold constant subgraphs before export (do_constant_folding=True)");
            }
            throw new ModelException(Diagnostic.SF_BAD_GRAPH, node, "value '" + onnxValue + "' is used before it is defined",
                    "the graph must be in topological order");
        }
        return v;
    }

    private String input(NodeProto n, int i, String name) {
        if (n.getInputCount() <= i || n.getInput(i).isEmpty()) {
            throw new ModelException(Diagnostic.SF_BAD_GRAPH, name, "missing input " + i, null);
        }
        return n.getInput(i);
    }

    /**
     * Activation input {@code i} as an IR value holding exactly the ONNX tensor: a view that only
     * differs by unit axes gets an IR Reshape (named after the node that made it); a reordered,
     * batch-swapped or padded view is refused here, at the first reader that cannot take it.
     */
    private String activation(NodeProto n, int i, String name) {
        String v = input(n, i, name);
        if (constants.containsKey(v)) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, n.getOpType() + " of a constant input '" + v + "'",
                    "fold constant subgraphs before export (do_constant_folding=True)");
        }
        Val x = val(v, name);
        if (x.pads() != null) {
            throw padRefused(name, n.getOpType(), x);
        }
        if (x.order() != null || x.batchSwapped()) {
            throw viewRefused(name, n.getOpType(), x);
        }
        Shape s = shapes.get(x.ir());
        if (Arrays.equals(x.dims(), s.dims())) {
            return x.ir();
        }
        String y = irNode(x.origin(), new Op.Reshape(new Shape(x.dims())), x.ir());
        vals.put(v, plain(y, new Shape(x.dims())));
        return y;
    }

    /** The input of a windowed layer: its IR value, spatial dims as the layer sees them, and a pending zero Pad. */
    private record WindowInput(String ir, int[] spatial, int[] pending, String origin) {
    }

    private WindowInput windowInput(NodeProto n, String name, int rank) {
        String v = input(n, 0, name);
        Val x = val(v, name);
        String ir;
        int[] pending = null;
        if (x.pads() != null) {
            ir = x.ir();
            pending = x.pads();
        } else {
            ir = activation(n, 0, name);
        }
        int[] dims = x.dims();
        if (dims.length != rank + 1) {
            throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, name, n.getOpType() + " with a rank-" + rank + " kernel on input "
                    + dimList(dims), null);
        }
        return new WindowInput(ir, Arrays.copyOfRange(dims, 1, dims.length), pending, x.origin());
    }

    /** The window of a layer that reads a pending zero Pad, with the Pad's amounts added to its padding. */
    private Window withPending(Window w, WindowInput x, String name) {
        if (x.pending() == null) {
            return w;
        }
        int r = w.rank();
        int[] b = w.padsBegin();
        int[] e = w.padsEnd();
        for (int i = 0; i < r; i++) {
            b[i] += x.pending()[i];
            e[i] += x.pending()[r + i];
        }
        notes.add(name + ": zero Pad " + x.origin() + " " + Arrays.toString(x.pending()) + " merged into its padding");
        return w.withPads(b, e);
    }

    private static ModelException viewRefused(String name, String op, Val x) {
        String what = x.batchSwapped() ? "a tensor transposed over the batch axis" : "a transposed tensor";
        return new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, op + " of " + what + " (via node " + x.origin() + ")",
                "streamfold computes no transposes; only elementwise ops, Flatten into a Dense and the model output may follow one");
    }

    private static ModelException padRefused(String name, String op, Val x) {
        return new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, op + " reads the output of Pad " + x.origin(),
                "a zero Pad is only supported as the padding of the Conv or pool that reads it");
    }

    // --- helpers ---------------------------------------------------------------------------------

    /** Appends a node named after the ONNX node on activation input 0, producing the ONNX node's first output. */
    private void emit(String name, Op op, NodeProto n) {
        emit(name, op, List.of(activation(n, 0, name)), n);
    }

    private void emit(String name, Op op, List<String> inputs, NodeProto n) {
        String out = n.getOutput(0);
        emitIr(name, op, inputs, out);
        vals.put(out, plain(out, shapes.get(out)));
    }

    /** Adds an IR node reading one IR value and returns its output (a fresh IR value). */
    private String emitIr(String name, Op op, String input) {
        String out = fresh(name);
        emitIr(name, op, List.of(input), out);
        return out;
    }

    /** An IR node named after {@code origin} (made unique), for a view that a reader needs computed. */
    private String irNode(String origin, Op op, String input) {
        return emitIr(unique(origin), op, input);
    }

    /** {@code base}, or {@code base_2}, ... if an IR node already has that name. */
    private String unique(String base) {
        String name = base;
        for (int k = 2; irNames.contains(name); k++) {
            name = base + "_" + k;
        }
        return name;
    }

    private void emitIr(String name, Op op, List<String> inputs, String out) {
        List<Shape> in = new ArrayList<>();
        for (String v : inputs) {
            in.add(shapes.get(v));
        }
        op.validate(name);
        if (!irNames.add(name)) {
            throw new ModelException(Diagnostic.SF_BAD_GRAPH, name, "two nodes have this name", null);
        }
        shapes.put(out, op.outputShape(name, in));
        irValues.add(out);
        producerIndex.put(out, nodes.size());
        nodes.add(new Node(name, op, inputs, out));
    }

    /** A new IR value name derived from a node name. */
    private String fresh(String name) {
        String v = name + ":out";
        for (int k = 2; irValues.contains(v) || vals.containsKey(v) || constants.containsKey(v); k++) {
            v = name + ":out" + k;
        }
        return v;
    }

    private Constant param(NodeProto n, int i, String name, String what) {
        if (n.getInputCount() <= i || n.getInput(i).isEmpty()) {
            throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, name, "input " + what + " is missing", null);
        }
        String v = n.getInput(i);
        Constant c = constants.get(v);
        if (c == null) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, name, what + " '" + v + "' is computed at run time",
                    "streamfold needs weights as initializers or Constant nodes");
        }
        return c;
    }

    private static double scalar(Constant c, String name, String what) {
        if (c.size() != 1) {
            throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, what + " must be a scalar, has " + c.size() + " values", null);
        }
        return c.data()[0];
    }

    /**
     * Builds the window from kernel_shape, strides, pads, dilations and auto_pad; {@code ceil}
     * adds the output positions of ceil mode as end padding.
     */
    private Window window(NodeProto n, String name, int[] kernel, int[] spatial, int[] dilations, boolean ceil) {
        int rank = kernel.length;
        int[] strides = attrInts(n, "strides", ones(rank));
        int[] pads = attrInts(n, "pads", new int[2 * rank]);
        int[] dil = dilations == null ? ones(rank) : dilations;
        if (strides.length != rank || pads.length != 2 * rank || dil.length != rank) {
            throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, "strides/pads/dilations have the wrong length for a " + rank + "D window", null);
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
                    int span = dil[i] * (kernel[i] - 1) + 1;
                    int total = Math.max((out - 1) * strides[i] + span - spatial[i], 0);
                    int small = total / 2;
                    int big = total - small;
                    pads[i] = autoPad.equals("SAME_UPPER") ? small : big;
                    pads[i + rank] = autoPad.equals("SAME_UPPER") ? big : small;
                }
            }
            default -> throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, "auto_pad " + autoPad, null);
        }
        Window w;
        try {
            w = new Window(kernel, strides, Arrays.copyOfRange(pads, 0, rank), Arrays.copyOfRange(pads, rank, 2 * rank), dil);
        } catch (IllegalArgumentException e) {
            throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, e.getMessage(), null);
        }
        if (!ceil || !autoPad.equals("NOTSET") && !autoPad.equals("VALID")) {
            return w;
        }
        int[] end = w.padsEnd();
        boolean grown = false;
        for (int i = 0; i < rank; i++) {
            int room = spatial[i] + w.padBegin(i) + w.padEnd(i) - w.span(i);
            if (room < 0) {
                continue;
            }
            int outCeil = (room + strides[i] - 1) / strides[i] + 1;
            // The last window must start inside the input or its begin padding (ONNX, PyTorch).
            if ((outCeil - 1) * strides[i] >= spatial[i] + w.padBegin(i)) {
                outCeil--;
            }
            int need = (outCeil - 1) * strides[i] + w.span(i) - spatial[i] - w.padBegin(i);
            if (need > end[i]) {
                end[i] = need;
                grown = true;
            }
        }
        return grown ? w.withPadsEnd(end) : w;
    }

    private static int[] ones(int n) {
        int[] a = new int[n];
        Arrays.fill(a, 1);
        return a;
    }

    /** The permutation of the non-batch axes of a full-rank perm with perm[0] == 0. */
    private static int[] nonBatch(int[] perm) {
        int[] q = new int[perm.length - 1];
        for (int i = 1; i < perm.length; i++) {
            q[i - 1] = perm[i] - 1;
        }
        return q;
    }

    private static int[] permute(int[] dims, int[] q) {
        int[] out = new int[q.length];
        for (int i = 0; i < q.length; i++) {
            out[i] = dims[q[i]];
        }
        return out;
    }

    /**
     * For a tensor of {@code dims} whose flat element k is IR element {@code in[k]} (identity if
     * null), transposed by {@code q} (output axis i is input axis q[i]): the IR index of each flat
     * element of the result.
     */
    private static int[] transposeOrder(int[] dims, int[] q, int[] in) {
        int r = dims.length;
        int[] outDims = permute(dims, q);
        int[] inStrides = new int[r];
        int st = 1;
        for (int i = r - 1; i >= 0; i--) {
            inStrides[i] = st;
            st *= dims[i];
        }
        int[] order = new int[st];
        int[] idx = new int[r];
        for (int k = 0; k < st; k++) {
            int src = 0;
            for (int i = 0; i < r; i++) {
                src += idx[i] * inStrides[q[i]];
            }
            order[k] = in == null ? src : in[src];
            for (int i = r - 1; i >= 0; i--) {
                if (++idx[i] < outDims[i]) {
                    break;
                }
                idx[i] = 0;
            }
        }
        return order;
    }

    private static int[] inverse(int[] p) {
        int[] inv = new int[p.length];
        for (int i = 0; i < p.length; i++) {
            inv[p[i]] = i;
        }
        return inv;
    }

    private static String dimList(int[] d) {
        return "(" + String.join(", ", Arrays.stream(d).mapToObj(Integer::toString).toList()) + ")";
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
                "supported: " + String.join(", ", new TreeSet<>(OPERATORS.keySet())));
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
}
