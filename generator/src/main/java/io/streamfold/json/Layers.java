package io.streamfold.json;

import com.fasterxml.jackson.databind.JsonNode;
import io.streamfold.data.NdArray;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.ir.Window;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Turns one JSON layer into graph IR nodes, in the model's layout.
 *
 * <p>Channels-last models carry Keras semantics into the channels-first IR. Spatial tensors are
 * simply transposed, and weights are transposed from Keras layouts. A flattened tensor is
 * different: Keras flattens (H, W, C) in that order, the IR flattens (C, H, W). Each value
 * therefore remembers, when it differs from the usual transpose, where each of its Keras elements
 * sits in the IR ({@link Value#order}); the next Dense permutes its weight columns (and a
 * per-feature BatchNorm its parameters) so that it computes exactly what Keras computes.
 */
final class Layers {

    /**
     * A layer's output in the IR.
     *
     * @param id the IR value name
     * @param shape the IR (channels-first) shape
     * @param order null if the value is the usual channels-first image of the Keras tensor;
     *     otherwise {@code order[k]} is the IR flat index of Keras flat element {@code k}
     */
    record Value(String id, Shape shape, int[] order) {
    }


    private final Layout layout;
    private final Weights weights;
    private final List<Node> nodes = new ArrayList<>();

    Layers(Layout layout, Weights weights) {
        this.layout = layout;
        this.weights = weights;
    }

    /** The nodes emitted so far, in order. */
    List<Node> nodes() {
        return nodes;
    }

    /** Converts one layer; {@code ins} are its resolved inputs (two for {@code add}). */
    Value convert(LayerSpec l, List<Value> ins) {
        LayerConverter c = LAYER_TYPES.get(l.kind());
        if (c == null) {
            throw l.error(Diagnostic.SF_UNSUPPORTED_OP, "layer type '" + l.type() + "' is not supported",
                    "supported types: " + String.join(", ", TYPE_NAMES));
        }
        return c.convert(this, l, ins);
    }

    /** Converts one layer, given its resolved inputs. */
    private interface LayerConverter {
        Value convert(Layers self, LayerSpec l, List<Value> ins);
    }

    /** The one table of layer types: normalized name or alias -> converter. */
    private static final Map<String, LayerConverter> LAYER_TYPES = new HashMap<>();

    /** The documented name of every layer type, for error hints. */
    private static final List<String> TYPE_NAMES = new ArrayList<>();

    /** Parameter-free activations a layer's {@code "activation"} field may name (besides linear, relu, softmax). */
    private static final Map<String, Supplier<Op>> ACTIVATIONS = new LinkedHashMap<>();

    private static void type(LayerConverter c, String name, String... aliases) {
        TYPE_NAMES.add(name);
        LAYER_TYPES.put(LayerSpec.normalize(name), c);
        for (String a : aliases) {
            LAYER_TYPES.put(LayerSpec.normalize(a), c);
        }
    }

    /** A pointwise layer type whose op is read from the layer. */
    private static void pointwise(String name, Function<LayerSpec, Op> op) {
        type((self, l, in) -> self.emit(l.name(), op.apply(l), in.get(0)), name);
    }

    /** A parameter-free activation: a layer type, and a name for {@code "activation"} fields. */
    private static void activation(String name, Supplier<Op> op) {
        ACTIVATIONS.put(LayerSpec.normalize(name), op);
        type((self, l, in) -> self.emit(l.name(), op.get(), in.get(0)), name);
    }

    static {
        type((self, l, in) -> self.dense(l, in.get(0)), "dense", "linear", "fullyconnected");
        type((self, l, in) -> self.conv(l, in.get(0), suffixRank(l.kind()), false), "conv1d", "conv2d", "conv", "convolution1d",
                "convolution2d");
        type((self, l, in) -> self.conv(l, in.get(0), suffixRank(l.kind()), true), "depthwise_conv1d", "depthwise_conv2d",
                "depthwiseconv");
        type((self, l, in) -> self.batchNorm(l, in.get(0)), "batchnorm", "batchnormalization", "batchnorm1d", "batchnorm2d");
        type((self, l, in) -> self.relu(l, in.get(0)), "relu");
        activation("relu6", () -> new Op.Clip(0, 6));
        pointwise("leaky_relu", l -> new Op.LeakyRelu(l.requiredDouble("alpha", "negative_slope")));
        pointwise("clip", l -> new Op.Clip(l.requiredDouble("min", "min_value", "min_val"), l.requiredDouble("max", "max_value", "max_val")));
        activation("sigmoid", Op.Sigmoid::new);
        activation("tanh", Op.Tanh::new);
        pointwise("elu", l -> new Op.Elu(l.optDouble("alpha") == null ? 1.0 : l.optDouble("alpha")));
        ACTIVATIONS.put("elu", () -> new Op.Elu(1.0));
        type((self, l, in) -> self.emit(l.name(), new Op.Softmax(self.softmaxAxis(l, in.get(0))), in.get(0)), "softmax");
        type((self, l, in) -> self.activation(l, l.name(), requiredString(l, "activation"), in.get(0)), "activation");
        type((self, l, in) -> self.pool(l, in.get(0), suffixRank(l.kind()), true), "maxpool1d", "maxpool2d", "maxpool", "maxpooling1d",
                "maxpooling2d");
        type((self, l, in) -> self.pool(l, in.get(0), suffixRank(l.kind()), false), "avgpool1d", "avgpool2d", "avgpool", "averagepool",
                "averagepool1d", "averagepool2d", "averagepooling1d", "averagepooling2d");
        type((self, l, in) -> self.globalAvgPool(l, in.get(0)), "global_avgpool", "globalaveragepool", "globalavgpool1d", "globalavgpool2d",
                "globalaveragepooling1d", "globalaveragepooling2d");
        type((self, l, in) -> {
            l.get("data_format");
            return self.emit(l.name(), new Op.Flatten(), List.of(in.get(0)), self.orderOf(in.get(0)));
        }, "flatten");
        type((self, l, in) -> self.reshape(l, in.get(0)), "reshape");
        type((self, l, in) -> self.add(l, in), "add");
        type((self, l, in) -> {
            for (String ignored : List.of("rate", "p", "seed", "noise_shape", "inplace")) {
                l.get(ignored);
            }
            return in.get(0);
        }, "dropout", "dropout1d", "dropout2d", "spatialdropout1d", "spatialdropout2d", "identity");
    }

    /** Whether the layer type reads two inputs. */
    static boolean isAdd(LayerSpec l) {
        return l.kind().equals("add");
    }

    // ---------------------------------------------------------------------------------- dense

    private Value dense(LayerSpec l, Value x) {
        if (x.shape().rank() != 1) {
            throw l.error(Diagnostic.SF_SHAPE_MISMATCH, "dense expects a vector of features, its input has shape " + shown(x.shape()),
                    "insert a flatten layer before it");
        }
        int in = x.shape().dim(0);
        Integer declaredIn = l.optInt("in_features");
        if (declaredIn != null && declaredIn != in) {
            throw l.error(Diagnostic.SF_SHAPE_MISMATCH, "in_features is " + declaredIn + " but the input has " + in + " features", null);
        }
        int units = positive(l, l.requiredInt("units", "out_features"), "units");
        boolean last = layout == Layout.CHANNELS_LAST;
        Weights.Param w = require(l, "kernel", "weight");
        double[] wv = values(l, w, last ? new int[] {in, units} : new int[] {units, in}, Diagnostic.SF_BAD_WEIGHTS,
                last ? "channels_last models use Keras layouts: the dense kernel is (inputs, units)"
                        : "channels_first models use PyTorch layouts: the dense weight is (units, inputs)");
        double[] ir = new double[units * in];
        if (last) {
            int[] ord = x.order();
            for (int k = 0; k < in; k++) {
                int col = ord == null ? k : ord[k];
                for (int o = 0; o < units; o++) {
                    ir[o * in + col] = wv[k * units + o];
                }
            }
        } else {
            System.arraycopy(wv, 0, ir, 0, ir.length);
        }
        double[] b = bias(l, units);
        Value d = emit(l.name(), new Op.Dense(Tensor.of(Shape.of(units, in), ir), Tensor.of(Shape.of(units), b)), List.of(x), null);
        return fusedActivation(l, d);
    }

    // ----------------------------------------------------------------------------------- conv

    private Value conv(LayerSpec l, Value x, int suffixRank, boolean depthwiseType) {
        int r = spatialRank(l, x, suffixRank, "conv");
        requireUsualOrder(l, x);
        int cin = x.shape().channels();
        Integer declaredIn = l.optInt("in_channels");
        if (declaredIn != null && declaredIn != cin) {
            throw l.error(Diagnostic.SF_SHAPE_MISMATCH, "in_channels is " + declaredIn + " but the input has " + cin + " channels", null);
        }
        boolean depthwise = l.bool("depthwise", false) || depthwiseType;
        int[] kernel = l.ints(r, 1, null, "kernel_size");
        if (kernel == null) {
            throw l.badAttribute("'kernel_size' is missing", "a " + l.type() + " layer needs it");
        }
        int[] strides = l.ints(r, 1, ones(r), "strides", "stride");
        requireNoDilation(l, r);
        Integer filters = l.optInt("filters", "out_channels");
        Integer groups = l.optInt("groups");
        Integer mult = l.optInt("depth_multiplier");
        int out;
        int group;
        if (depthwise) {
            if (groups != null && groups != cin) {
                throw l.badAttribute("a depthwise convolution has groups = input channels = " + cin + ", not " + groups, null);
            }
            if (filters != null && filters % cin != 0) {
                throw l.badAttribute("a depthwise convolution needs filters to be a multiple of its " + cin + " input channels, not "
                        + filters, null);
            }
            int m = mult != null ? positive(l, mult, "depth_multiplier") : filters != null ? filters / cin : 1;
            if (filters != null && filters != cin * m) {
                throw l.badAttribute("filters " + filters + " disagrees with depth_multiplier " + m + " and " + cin + " input channels", null);
            }
            out = positive(l, cin * m, "filters");
            group = cin;
        } else {
            if (mult != null) {
                throw l.badAttribute("depth_multiplier is only for depthwise convolutions", "add \"depthwise\": true");
            }
            if (filters == null) {
                throw l.badAttribute("'filters' is missing", "a " + l.type() + " layer needs it");
            }
            out = positive(l, filters, "filters");
            group = groups == null ? 1 : positive(l, groups, "groups");
            if (cin % group != 0 || out % group != 0) {
                throw l.badAttribute("groups " + group + " must divide both the " + cin + " input channels and the " + out + " filters", null);
            }
        }
        Window window = window(l, x, kernel, strides, r == 1);
        int cinG = cin / group;
        int ksize = window.kernelSize();
        int[] irDims = new int[r + 2];
        irDims[0] = out;
        irDims[1] = cinG;
        System.arraycopy(kernel, 0, irDims, 2, r);
        Weights.Param w = require(l, "kernel", "weight", "depthwise_kernel");
        double[] ir;
        if (layout == Layout.CHANNELS_FIRST) {
            ir = values(l, w, irDims, Diagnostic.SF_BAD_WEIGHTS,
                    "channels_first models use PyTorch layouts: the conv weight is (filters, in/groups, " + (r == 2 ? "kh, kw)" : "k)"));
        } else {
            // Keras: (k..., in/groups, filters), or (k..., in, multiplier) for depthwise.
            int a = depthwise ? cin : cinG;
            int b = depthwise ? out / cin : out;
            int[] kd = new int[r + 2];
            System.arraycopy(kernel, 0, kd, 0, r);
            kd[r] = a;
            kd[r + 1] = b;
            double[] kv = values(l, w, kd, Diagnostic.SF_BAD_WEIGHTS, depthwise
                    ? "channels_last models use Keras layouts: the depthwise kernel is (" + (r == 2 ? "kh, kw" : "k") + ", in, multiplier)"
                    : "channels_last models use Keras layouts: the conv kernel is (" + (r == 2 ? "kh, kw" : "k") + ", in/groups, filters)");
            ir = new double[out * cinG * ksize];
            for (int s = 0; s < ksize; s++) {
                for (int i = 0; i < a; i++) {
                    for (int j = 0; j < b; j++) {
                        double v = kv[(s * a + i) * b + j];
                        if (depthwise) {
                            // Output channel i*multiplier + j reads input channel i only.
                            ir[(i * b + j) * ksize + s] = v;
                        } else {
                            ir[(j * cinG + i) * ksize + s] = v;
                        }
                    }
                }
            }
        }
        double[] b = bias(l, out);
        Op.Conv op = new Op.Conv(new Tensor(new Shape(irDims), ir), Tensor.of(Shape.of(out), b), window, group);
        return fusedActivation(l, emit(l.name(), op, List.of(x), null));
    }

    // ------------------------------------------------------------------------------ batchnorm

    private Value batchNorm(LayerSpec l, Value x) {
        if (x.shape().rank() > 1) {
            requireUsualOrder(l, x);
        }
        // Non-short-circuit '|': every name is looked at, so all count as known fields of the layer.
        boolean keras = weights.hasAny(l, "gamma", "beta", "moving_mean", "moving_variance") | l.get("epsilon") != null
                | l.get("center") != null | l.get("scale") != null;
        boolean torch = weights.hasAny(l, "weight", "bias", "running_mean", "running_var") | l.get("eps") != null
                | l.get("affine") != null;
        if (keras && torch) {
            throw l.error(Diagnostic.SF_BAD_BATCHNORM, "mixes Keras names (gamma, beta, moving_mean, moving_variance, epsilon) "
                    + "and PyTorch names (weight, bias, running_mean, running_var, eps)", "use one naming for a layer");
        }
        if (!keras && !torch) {
            throw l.error(Diagnostic.SF_BAD_WEIGHTS, "batchnorm has no statistics",
                    "give running_mean and running_var (PyTorch names) or moving_mean and moving_variance (Keras names)");
        }
        checkAxis(l, x, "batchnorm");
        int c = x.shape().channels();
        double eps;
        double[] gamma;
        double[] beta;
        double[] mean;
        double[] var;
        if (keras) {
            eps = orDefault(l.optDouble("epsilon"), 1e-3);
            gamma = optionalParam(l, "gamma", l.bool("scale", true), "scale", c, 1.0);
            beta = optionalParam(l, "beta", l.bool("center", true), "center", c, 0.0);
            mean = bnValues(l, require(l, "moving_mean"), c);
            var = bnValues(l, require(l, "moving_variance"), c);
        } else {
            eps = orDefault(l.optDouble("eps"), 1e-5);
            boolean affine = l.bool("affine", true);
            gamma = optionalParam(l, "weight", affine, "affine", c, 1.0);
            beta = optionalParam(l, "bias", affine, "affine", c, 0.0);
            mean = bnValues(l, require(l, "running_mean"), c);
            var = bnValues(l, require(l, "running_var"), c);
        }
        if (x.order() != null) {
            // A per-feature BN after a channels-last flatten: its parameters follow Keras order.
            gamma = permute(gamma, x.order());
            beta = permute(beta, x.order());
            mean = permute(mean, x.order());
            var = permute(var, x.order());
        }
        Shape s = Shape.of(c);
        Op.BatchNorm op = new Op.BatchNorm(Tensor.of(s, gamma), Tensor.of(s, beta), Tensor.of(s, mean), Tensor.of(s, var), eps);
        return emit(l.name(), op, List.of(x), x.order());
    }

    private double[] optionalParam(LayerSpec l, String name, boolean enabled, String flag, int c, double neutral) {
        if (enabled) {
            return bnValues(l, require(l, name), c);
        }
        if (weights.hasAny(l, name)) {
            throw l.badAttribute("gives " + name + " but " + flag + " is false", "remove one of them");
        }
        double[] v = new double[c];
        Arrays.fill(v, neutral);
        return v;
    }

    private double[] bnValues(LayerSpec l, Weights.Param p, int c) {
        return values(l, p, new int[] {c}, Diagnostic.SF_BAD_BATCHNORM, "one value per channel");
    }

    private static double[] permute(double[] v, int[] order) {
        double[] out = new double[v.length];
        for (int k = 0; k < v.length; k++) {
            out[order[k]] = v[k];
        }
        return out;
    }

    // ---------------------------------------------------------------------------- activations

    private Value relu(LayerSpec l, Value x) {
        Double max = l.optDouble("max_value");
        for (String zero : List.of("negative_slope", "threshold")) {
            Double v = l.optDouble(zero);
            if (v != null && v != 0) {
                throw l.error(Diagnostic.SF_UNSUPPORTED_OP, "relu with " + zero + " " + v + " is not supported",
                        zero.equals("negative_slope") ? "use a leaky_relu layer" : null);
            }
        }
        return emit(l.name(), max == null ? new Op.Relu() : new Op.Clip(0, max), x);
    }

    /** The {@code "activation"} field of a dense or conv layer, as a node after it. */
    private Value fusedActivation(LayerSpec l, Value x) {
        String act = l.string("activation", null);
        return act == null ? x : activation(l, l.name() + "/" + LayerSpec.normalize(act), act, x);
    }

    private Value activation(LayerSpec l, String node, String act, Value x) {
        String k = LayerSpec.normalize(act);
        switch (k) {
            case "linear", "identity", "none":
                return x;
            case "relu":
                return emit(node, new Op.Relu(), x);
            case "softmax":
                if (x.shape().rank() > 1) {
                    requireUsualOrder(l, x); // over the channels; on a vector the order does not matter
                }
                return emit(node, new Op.Softmax(0), x);
            default:
                Supplier<Op> op = ACTIVATIONS.get(k);
                if (op == null) {
                    throw l.error(Diagnostic.SF_UNSUPPORTED_OP, "activation '" + act + "' is not supported",
                            "supported: linear, relu, softmax, " + String.join(", ", ACTIVATIONS.keySet()));
                }
                return emit(node, op.get(), x);
        }
    }

    /**
     * The softmax axis in IR coordinates. {@code "axis"} counts the batch axis as 0, like Keras'
     * {@code axis} and PyTorch's {@code dim}; the default is the channel (feature) axis.
     */
    private int softmaxAxis(LayerSpec l, Value x) {
        Integer a = l.optInt("axis", "dim");
        int rank = x.shape().rank();
        if (x.order() != null && rank > 1) {
            requireUsualOrder(l, x);
        }
        if (a == null) {
            return 0;
        }
        int withBatch = a < 0 ? a + rank + 1 : a;
        if (withBatch < 1 || withBatch > rank) {
            throw l.badAttribute("axis " + a + " is not a non-batch axis of the " + rank + "-d input " + shown(x.shape()),
                    "axis counts the batch axis as 0, like Keras and PyTorch");
        }
        int inLayout = withBatch - 1;
        if (layout == Layout.CHANNELS_LAST && rank > 1) {
            return inLayout == rank - 1 ? 0 : inLayout + 1;
        }
        return inLayout;
    }

    /** Checks an optional BN {@code axis}: only the channel axis is supported. */
    private void checkAxis(LayerSpec l, Value x, String what) {
        JsonNode a = l.get("axis");
        if (a == null) {
            return;
        }
        int rank = x.shape().rank();
        int channel = layout == Layout.CHANNELS_LAST ? rank : 1;
        if (!a.isInt() || !(a.asInt() == channel || a.asInt() == channel - rank - 1)) {
            throw l.error(Diagnostic.SF_UNSUPPORTED_OP, what + " over axis " + a + " is not supported",
                    "only the channel axis (" + channel + ", counting the batch axis as 0) is");
        }
    }

    // ---------------------------------------------------------------------------------- pools

    private Value pool(LayerSpec l, Value x, int suffixRank, boolean max) {
        int r = spatialRank(l, x, suffixRank, max ? "maxpool" : "avgpool");
        requireUsualOrder(l, x);
        int[] kernel = l.ints(r, 1, null, "pool_size", "kernel_size");
        if (kernel == null) {
            throw l.badAttribute("'pool_size' is missing", "a " + l.type() + " layer needs it");
        }
        int[] strides = l.ints(r, 1, kernel, "strides", "stride");
        requireNoDilation(l, r);
        if (l.bool("ceil_mode", false)) {
            throw l.error(Diagnostic.SF_UNSUPPORTED_OP, "ceil_mode is not supported", "pad explicitly instead");
        }
        JsonNode padding = l.get("padding");
        Window window = window(l, x, kernel, strides, false);
        if (max) {
            return emit(l.name(), new Op.MaxPool(window), x);
        }
        // PyTorch counts explicit padding in the divisor by default; Keras ("same") does not.
        boolean torchPadding = layout == Layout.CHANNELS_FIRST && padding != null && !padding.isTextual();
        boolean countPad = l.bool("count_include_pad", torchPadding);
        return emit(l.name(), new Op.AvgPool(window, countPad), x);
    }

    private Value globalAvgPool(LayerSpec l, Value x) {
        requireUsualOrder(l, x);
        l.get("data_format");
        boolean keep = l.bool("keepdims", false);
        Value g = emit(l.name(), new Op.GlobalAvgPool(), x);
        // Keras (keepdims false) gives a (C) vector; the IR keeps (C, 1, 1).
        return keep ? g : emit(l.name() + "/flatten", new Op.Flatten(), g);
    }

    // ------------------------------------------------------------------------- reshape / add

    private Value reshape(LayerSpec l, Value x) {
        JsonNode t = l.any("shape", "target_shape");
        if (t == null || !t.isArray() || t.size() == 0) {
            throw l.badAttribute("'shape' is " + (t == null ? "missing" : t), "give the target shape without the batch axis, e.g. [4, 4, 2]");
        }
        int[] dims = new int[t.size()];
        int infer = -1;
        long known = 1;
        for (int i = 0; i < dims.length; i++) {
            JsonNode d = t.get(i);
            if (!d.isInt() || (d.asInt() < 1 && d.asInt() != -1) || (d.asInt() == -1 && infer >= 0)) {
                throw l.badAttribute("'shape' is " + t, "dimensions are positive integers, at most one -1");
            }
            dims[i] = d.asInt();
            if (dims[i] == -1) {
                infer = i;
            } else {
                known *= dims[i];
            }
        }
        int size = x.shape().size();
        if (infer >= 0) {
            if (size % known != 0) {
                throw l.error(Diagnostic.SF_SHAPE_MISMATCH, "cannot reshape " + shown(x.shape()) + " to " + t, null);
            }
            dims[infer] = (int) (size / known);
        }
        if (dims.length > 3) {
            throw l.error(Diagnostic.SF_UNSUPPORTED_OP, "reshape to rank " + dims.length + " is not supported", "at most (C, H, W)");
        }
        Shape target = new Shape(layout.toChannelsFirst(dims));
        return emit(l.name(), new Op.Reshape(target), List.of(x), orderOf(x));
    }

    private Value add(LayerSpec l, List<Value> ins) {
        Value a = ins.get(0);
        Value b = ins.get(1);
        if (!Arrays.equals(a.order(), b.order())) {
            throw l.error(Diagnostic.SF_UNSUPPORTED_OP, "the inputs of this add hold their elements in different orders "
                    + "(a channels_last flatten or reshape feeds one of them)", "flatten both operands the same way");
        }
        return emit(l.name(), new Op.Add(), List.of(a, b), a.order());
    }

    // -------------------------------------------------------------------------------- helpers

    /** 1 or 2 for a type ending in 1d/2d, else 0 (take the rank from the input). */
    private static int suffixRank(String kind) {
        return kind.endsWith("1d") ? 1 : kind.endsWith("2d") ? 2 : 0;
    }

    private int spatialRank(LayerSpec l, Value x, int suffixRank, String what) {
        int r = suffixRank != 0 ? suffixRank : x.shape().rank() - 1;
        if (r < 1 || x.shape().rank() != r + 1) {
            String want = r == 2 || r < 1 ? (layout == Layout.CHANNELS_LAST ? "(H, W, C)" : "(C, H, W)")
                    : (layout == Layout.CHANNELS_LAST ? "(L, C)" : "(C, L)");
            throw l.error(Diagnostic.SF_SHAPE_MISMATCH, l.type() + " expects an input " + want + ", got " + shown(x.shape()),
                    x.shape().rank() == 1 ? "a " + what + " needs spatial axes; reshape the vector first" : null);
        }
        if (r > 2) {
            throw l.error(Diagnostic.SF_UNSUPPORTED_OP, what + " over " + r + " spatial axes is not supported", "1D and 2D are");
        }
        return r;
    }

    private void requireNoDilation(LayerSpec l, int r) {
        int[] d = l.ints(r, 1, ones(r), "dilation_rate", "dilation");
        for (int v : d) {
            if (v != 1) {
                throw l.error(Diagnostic.SF_UNSUPPORTED_OP, "dilation " + Arrays.toString(d) + " is not supported", "only dilation 1");
            }
        }
    }

    /**
     * The window of a conv or pool: {@code "padding"} is "valid" (default), "same" (TensorFlow's
     * rule: total = max((ceil(in/s)-1)*s + k - in, 0), the odd one at the end), "causal" (1D conv:
     * k-1 at the start), an integer, one integer per axis, [begins..., ends...] or [[b, e], ...].
     */
    private Window window(LayerSpec l, Value x, int[] kernel, int[] strides, boolean causalOk) {
        int r = kernel.length;
        int[] begin = new int[r];
        int[] end = new int[r];
        JsonNode p = l.get("padding");
        String bad = "padding is \"valid\", \"same\"" + (causalOk ? ", \"causal\"" : "") + ", an integer, one per axis, "
                + "[begins..., ends...] or [[begin, end], ...]";
        if (p == null) {
            return new Window(kernel, strides, begin, end);
        }
        if (p.isTextual()) {
            String mode = p.asText().toLowerCase(java.util.Locale.ROOT);
            if (mode.equals("same")) {
                for (int i = 0; i < r; i++) {
                    int in = x.shape().dim(i + 1);
                    int out = (in + strides[i] - 1) / strides[i];
                    int total = Math.max((out - 1) * strides[i] + kernel[i] - in, 0);
                    begin[i] = total / 2;
                    end[i] = total - begin[i];
                }
            } else if (mode.equals("causal") && causalOk) {
                begin[0] = kernel[0] - 1;
            } else if (!mode.equals("valid")) {
                throw l.badAttribute("padding \"" + p.asText() + "\" is not supported", bad);
            }
        } else if (p.isInt()) {
            Arrays.fill(begin, p.asInt());
            Arrays.fill(end, p.asInt());
        } else if (p.isArray() && p.size() == r && p.get(0).isArray()) {
            for (int i = 0; i < r; i++) {
                JsonNode pair = p.get(i);
                if (!pair.isArray() || pair.size() != 2 || !pair.get(0).isInt() || !pair.get(1).isInt()) {
                    throw l.badAttribute("padding is " + p, bad);
                }
                begin[i] = pair.get(0).asInt();
                end[i] = pair.get(1).asInt();
            }
        } else if (p.isArray() && (p.size() == r || p.size() == 2 * r)) {
            for (int i = 0; i < p.size(); i++) {
                if (!p.get(i).isInt()) {
                    throw l.badAttribute("padding is " + p, bad);
                }
            }
            for (int i = 0; i < r; i++) {
                begin[i] = p.get(i).asInt();
                end[i] = p.get(p.size() == r ? i : r + i).asInt();
            }
        } else {
            throw l.badAttribute("padding is " + p, bad);
        }
        for (int i = 0; i < r; i++) {
            if (begin[i] < 0 || end[i] < 0) {
                throw l.badAttribute("padding is " + p + ", pads must be >= 0", null);
            }
        }
        return new Window(kernel, strides, begin, end);
    }

    private Weights.Param require(LayerSpec l, String... names) {
        Weights.Param p = weights.find(l, names);
        if (p == null) {
            throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, l.name(), names[0] + " is missing",
                    "give it inline, as {\"npy\": \"file.npy\"}, or under the key '" + l.name() + "/" + names[0] + "' of the \"weights\" file");
        }
        return p;
    }

    /** The bias (zeros with {@code "use_bias": false}). */
    private double[] bias(LayerSpec l, int n) {
        boolean use = l.bool("use_bias", true);
        if (!use) {
            if (weights.hasAny(l, "bias")) {
                throw l.badAttribute("gives a bias but use_bias is false", "remove one of them");
            }
            return new double[n];
        }
        return values(l, require(l, "bias"), new int[] {n}, Diagnostic.SF_BAD_WEIGHTS, "\"use_bias\": false if the layer has none");
    }

    /**
     * The values of a parameter in the row-major order of {@code expected}. It must have that many
     * values, and unless it is written flat (one list), the expected shape: dims of 1 aside, so that
     * a transposed matrix is caught rather than read in the wrong order.
     */
    private static double[] values(LayerSpec l, Weights.Param p, int[] expected, Diagnostic id, String hint) {
        NdArray a = p.array();
        long need = 1;
        for (int d : expected) {
            need *= d;
        }
        String what = p.name() + (p.source().equals("inline") ? "" : " (from " + p.source() + ")");
        if (a.data().length != need) {
            String exp = expected.length == 1 ? String.valueOf(need) : dims(expected) + "=" + need;
            throw new ModelException(id, l.name(), what + " has " + a.data().length + " values, expected " + exp, hint);
        }
        if (a.rank() > 1 && !Arrays.equals(squeeze(a.shape()), squeeze(expected))) {
            throw new ModelException(id, l.name(), what + " has shape " + dims(a.shape()) + ", expected " + dims(expected), hint);
        }
        return a.data();
    }

    private static int[] squeeze(int[] d) {
        return Arrays.stream(d).filter(v -> v != 1).toArray();
    }

    private static String dims(int[] d) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < d.length; i++) {
            sb.append(i > 0 ? "x" : "").append(d[i]);
        }
        return sb.toString();
    }

    /** A shape as the user wrote it (in the model's layout), e.g. {@code 8x8x3}. */
    private String shown(Shape s) {
        return dims(layout.fromChannelsFirst(s)) + (layout == Layout.CHANNELS_LAST && s.rank() > 1 ? " (channels_last)" : "");
    }

    private void requireUsualOrder(LayerSpec l, Value x) {
        if (x.order() != null) {
            throw l.error(Diagnostic.SF_UNSUPPORTED_OP, "a " + l.type() + " layer cannot follow this channels_last flatten or reshape",
                    "the channels-first IR cannot hold its element order; only dense, batchnorm, add and elementwise layers can");
        }
    }

    private static int positive(LayerSpec l, int v, String what) {
        if (v < 1) {
            throw l.badAttribute(what + " is " + v + ", must be at least 1", null);
        }
        return v;
    }

    private static String requiredString(LayerSpec l, String key) {
        String s = l.string(key, null);
        if (s == null) {
            throw l.badAttribute("'" + key + "' is missing", "a " + l.type() + " layer needs it");
        }
        return s;
    }

    private static double orDefault(Double v, double dflt) {
        return v == null ? dflt : v;
    }

    private static int[] ones(int r) {
        int[] a = new int[r];
        Arrays.fill(a, 1);
        return a;
    }

    /** Where each Keras element of {@code x} sits in the IR, or null in a channels-first model. */
    private int[] orderOf(Value x) {
        if (layout == Layout.CHANNELS_FIRST) {
            return null;
        }
        return x.order() != null ? x.order() : Layout.channelsLastOrder(x.shape());
    }

    private Value emit(String node, Op op, Value x) {
        return emit(node, op, List.of(x), x.order());
    }

    /**
     * Adds a node (checking its parameters and inferring its shape as the graph will) and returns
     * its value; {@code order} is the Keras element order of the result, null if usual.
     */
    private Value emit(String node, Op op, List<Value> ins, int[] order) {
        List<Shape> shapes = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        for (Value v : ins) {
            shapes.add(v.shape());
            ids.add(v.id());
        }
        op.validate(node);
        Shape out = op.outputShape(node, shapes);
        nodes.add(new Node(node, op, ids, node));
        if (order != null && Arrays.equals(order, Layout.channelsLastOrder(out))) {
            order = null;
        }
        return new Value(node, out, order);
    }
}
