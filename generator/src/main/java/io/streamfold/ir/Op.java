package io.streamfold.ir;

import java.util.List;

/**
 * The operators of the graph IR. Each is an immutable record holding its float64 parameters and
 * knows its own output shape. Layout is channels-first without the batch dimension (see
 * {@link Shape}).
 *
 * <p>Shape functions throw {@link ModelException} with {@link Diagnostic#SF_SHAPE_MISMATCH}
 * naming the node; {@link #validate} rejects NaN/Inf weights and invalid BN statistics.
 */
public sealed interface Op {

    /** Short operator name, part of the file formats (reports, plan.json keys stay node names). */
    String kind();

    /** What the op does, for reports that group operators. */
    Role role();

    /** Number of graph inputs (activations) the op consumes. */
    default int arity() {
        return 1;
    }

    /** Output shape for the given input shapes, or a {@link ModelException} naming {@code node}. */
    Shape outputShape(String node, List<Shape> in);

    /** Checks the op's constant parameters; throws {@link ModelException} naming {@code node}. */
    default void validate(String node) {
    }

    /** Calls the visitor method of this op's kind. */
    <R> R accept(Visitor<R> v);

    /** Roles of operators in reports. */
    enum Role {
        /** Multiply-accumulate layers (Dense, Conv). */
        MAC,
        /** Per-channel multiply-add (BatchNorm, Affine). */
        AFFINE,
        /** Activation functions. */
        ACTIVATION,
        /** Pooling. */
        POOL,
        /** Flatten and Reshape: no arithmetic. */
        LAYOUT,
        /** Operators that combine several inputs. */
        JOIN
    }

    /**
     * One method per op kind: a consumer that implements it handles every kind, or does not
     * compile. Pointwise functions share one method; {@link PointwiseVisitor} tells them apart
     * for the consumers that need to.
     */
    interface Visitor<R> {
        R dense(Dense op);

        R conv(Conv op);

        R batchNorm(BatchNorm op);

        R affine(Affine op);

        R prelu(PRelu op);

        R pointwise(Pointwise op);

        R softmax(Softmax op);

        R maxPool(MaxPool op);

        R avgPool(AvgPool op);

        R globalAvgPool(GlobalAvgPool op);

        R flatten(Flatten op);

        R reshape(Reshape op);

        R add(Add op);
    }

    /**
     * A function applied to every element on its own, {@code y = apply(x)}: its float semantics
     * are {@link #apply}, so the float reference needs nothing else. How it is quantized depends
     * on its kind ({@link PointwiseVisitor}); every {@link Tabulated} function becomes a lookup
     * table built from {@link #apply}.
     */
    sealed interface Pointwise extends Op permits Relu, LeakyRelu, Clip, Tabulated {
        /** The function in float64. */
        double apply(double x);

        <R> R accept(PointwiseVisitor<R> v);

        @Override
        default <R> R accept(Visitor<R> v) {
            return v.pointwise(this);
        }

        @Override
        default Role role() {
            return Role.ACTIVATION;
        }

        @Override
        default Shape outputShape(String node, List<Shape> in) {
            return in.get(0);
        }
    }

    /** One method per pointwise family. */
    interface PointwiseVisitor<R> {
        R relu(Relu op);

        R leakyRelu(LeakyRelu op);

        R clip(Clip op);

        R tabulated(Tabulated op);
    }

    /**
     * A pointwise function computed in hardware by a lookup table over the input format, built
     * from {@link #apply} (Sigmoid, Tanh, ...). Adding one is adding a record here and its name to
     * the frontends' tables.
     */
    sealed interface Tabulated extends Pointwise permits Sigmoid, Tanh, Elu, Selu, Softplus, HardSigmoid {
        /**
         * True if every output lies in [-1, 1]: the output format is then {@code Q(bits, bits-1)}
         * without calibration; otherwise it is calibrated like any computed value.
         */
        boolean unitRange();

        /**
         * An upper bound on the function's slope, {@code |f(x) - f(y)| <= lipschitz() * |x - y|} for
         * all reals: the error bound ({@code io.streamfold.bound}) carries an input error through
         * the function with it.
         */
        double lipschitz();

        /**
         * True if the function is non-decreasing on all reals. The error bound then lets a
         * saturated input stay saturated through the table (clamping commutes with a monotone map)
         * instead of counting the whole excess times {@link #lipschitz()}.
         */
        boolean nonDecreasing();

        /** Names the function in reports and tables, with its parameters if it has any. */
        default String label() {
            return kind().toLowerCase(java.util.Locale.ROOT);
        }

        @Override
        default <R> R accept(PointwiseVisitor<R> v) {
            return v.tabulated(this);
        }
    }

    // ---------------------------------------------------------------------------------------------

    /** Fully connected layer {@code y = W x + b}, W of shape (out, in). */
    record Dense(Tensor weight, Tensor bias) implements Op {
        public Dense {
            if (weight.shape().rank() != 2 || bias.shape().rank() != 1 || bias.size() != weight.shape().dim(0)) {
                throw new IllegalArgumentException("Dense needs weight (out,in) and bias (out): " + weight.shape() + ", " + bias.shape());
            }
        }

        public int inFeatures() {
            return weight.shape().dim(1);
        }

        public int outFeatures() {
            return weight.shape().dim(0);
        }

        @Override
        public String kind() {
            return "Dense";
        }

        @Override
        public Role role() {
            return Role.MAC;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.dense(this);
        }

        @Override
        public Shape outputShape(String node, List<Shape> in) {
            Shape x = in.get(0);
            if (x.rank() != 1 || x.dim(0) != inFeatures()) {
                throw Shapes.mismatch(node, "Dense expects a vector of " + inFeatures() + " features, got " + x,
                        "insert a Flatten before it");
            }
            return Shape.of(outFeatures());
        }

        @Override
        public void validate(String node) {
            Shapes.finite(node, "weight", weight);
            Shapes.finite(node, "bias", bias);
        }
    }

    /**
     * 1D or 2D convolution. Weight shape (out, in/group, k...) ; {@code group == in} with
     * {@code out} a multiple of it is a depthwise convolution.
     */
    record Conv(Tensor weight, Tensor bias, Window window, int group) implements Op {
        public Conv {
            int r = weight.shape().rank();
            if (r != window.rank() + 2 || bias.shape().rank() != 1 || bias.size() != weight.shape().dim(0)) {
                throw new IllegalArgumentException("Conv weight " + weight.shape() + " / bias " + bias.shape() + " / window " + window + " disagree");
            }
            for (int i = 0; i < window.rank(); i++) {
                if (weight.shape().dim(2 + i) != window.kernel(i)) {
                    throw new IllegalArgumentException("Conv kernel " + window + " disagrees with weight " + weight.shape());
                }
            }
            if (group < 1 || weight.shape().dim(0) % group != 0) {
                throw new IllegalArgumentException("Conv group " + group + " does not divide " + weight.shape().dim(0) + " output channels");
            }
        }

        public int outChannels() {
            return weight.shape().dim(0);
        }

        /** Input channels seen by one output channel. */
        public int inChannelsPerGroup() {
            return weight.shape().dim(1);
        }

        public int inChannels() {
            return inChannelsPerGroup() * group;
        }

        @Override
        public String kind() {
            return "Conv";
        }

        @Override
        public Role role() {
            return Role.MAC;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.conv(this);
        }

        @Override
        public Shape outputShape(String node, List<Shape> in) {
            Shape x = in.get(0);
            if (x.rank() != window.rank() + 1) {
                throw Shapes.mismatch(node, "Conv" + window.rank() + "D expects a rank-" + (window.rank() + 1) + " input (C,...), got " + x, null);
            }
            if (x.channels() != inChannels()) {
                throw Shapes.mismatch(node, "Conv expects " + inChannels() + " input channels, got " + x.channels() + " (input " + x + ")", null);
            }
            return Shapes.windowed(node, "Conv", x, outChannels(), window);
        }

        @Override
        public void validate(String node) {
            Shapes.finite(node, "weight", weight);
            Shapes.finite(node, "bias", bias);
        }
    }

    /**
     * Inference BatchNormalization over axis 0 (channels):
     * {@code y = gamma (x - mean) / sqrt(var + eps) + beta}.
     */
    record BatchNorm(Tensor gamma, Tensor beta, Tensor mean, Tensor var, double eps) implements Op {
        public BatchNorm {
            int c = gamma.size();
            if (beta.size() != c || mean.size() != c || var.size() != c) {
                throw new IllegalArgumentException("BatchNorm parameters have different lengths");
            }
        }

        public int channels() {
            return gamma.size();
        }

        /** Per-channel scale {@code a = gamma / sqrt(var + eps)}. */
        public double[] scale() {
            double[] a = new double[channels()];
            for (int c = 0; c < a.length; c++) {
                a[c] = gamma.at(c) / Math.sqrt(var.at(c) + eps);
            }
            return a;
        }

        /** Per-channel shift {@code b = beta - a * mean}. */
        public double[] shift() {
            double[] a = scale();
            double[] b = new double[channels()];
            for (int c = 0; c < b.length; c++) {
                b[c] = beta.at(c) - a[c] * mean.at(c);
            }
            return b;
        }

        /** The equivalent per-channel affine {@code a*x+b}. */
        public Affine toAffine() {
            return new Affine(Tensor.of(Shape.of(channels()), scale()), Tensor.of(Shape.of(channels()), shift()));
        }

        @Override
        public String kind() {
            return "BatchNormalization";
        }

        @Override
        public Role role() {
            return Role.AFFINE;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.batchNorm(this);
        }

        @Override
        public Shape outputShape(String node, List<Shape> in) {
            return Shapes.perChannel(node, kind(), in.get(0), channels());
        }

        @Override
        public void validate(String node) {
            String[] names = {"scale (gamma)", "bias (beta)", "mean", "variance"};
            Tensor[] ts = {gamma, beta, mean, var};
            for (int i = 0; i < ts.length; i++) {
                int bad = ts[i].firstNonFinite();
                if (bad >= 0) {
                    throw new ModelException(Diagnostic.SF_BAD_BATCHNORM, node,
                            names[i] + "[" + bad + "] is " + ts[i].at(bad), "BatchNormalization statistics must be finite");
                }
            }
            if (!(eps >= 0) || !Double.isFinite(eps)) {
                throw new ModelException(Diagnostic.SF_BAD_BATCHNORM, node, "epsilon is " + eps, "epsilon must be finite and >= 0");
            }
            for (int c = 0; c < channels(); c++) {
                if (var.at(c) < 0) {
                    throw new ModelException(Diagnostic.SF_BAD_BATCHNORM, node,
                            "variance[" + c + "] is negative (" + var.at(c) + ")", "a variance can never be negative; the model file is corrupt");
                }
                if (var.at(c) + eps == 0) {
                    throw new ModelException(Diagnostic.SF_BAD_BATCHNORM, node,
                            "variance[" + c + "] + epsilon is 0", "zero variance needs a positive epsilon");
                }
            }
        }
    }

    /** Per-channel affine {@code y = scale[c] * x + shift[c]}: a BatchNorm that could not be folded. */
    record Affine(Tensor scale, Tensor shift) implements Op {
        public Affine {
            if (scale.size() != shift.size()) {
                throw new IllegalArgumentException("Affine scale and shift have different lengths");
            }
        }

        public int channels() {
            return scale.size();
        }

        @Override
        public String kind() {
            return "Affine";
        }

        @Override
        public Role role() {
            return Role.AFFINE;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.affine(this);
        }

        @Override
        public Shape outputShape(String node, List<Shape> in) {
            return Shapes.perChannel(node, kind(), in.get(0), channels());
        }

        @Override
        public void validate(String node) {
            Shapes.finite(node, "scale", scale);
            Shapes.finite(node, "shift", shift);
        }
    }

    /** {@code max(x, 0)}. */
    record Relu() implements Pointwise {
        @Override
        public String kind() {
            return "Relu";
        }

        @Override
        public double apply(double x) {
            return Math.max(x, 0.0);
        }

        @Override
        public <R> R accept(PointwiseVisitor<R> v) {
            return v.relu(this);
        }
    }

    /** {@code x >= 0 ? x : alpha * x}. */
    record LeakyRelu(double alpha) implements Pointwise {
        @Override
        public String kind() {
            return "LeakyRelu";
        }

        @Override
        public double apply(double x) {
            return x >= 0 ? x : alpha * x;
        }

        @Override
        public <R> R accept(PointwiseVisitor<R> v) {
            return v.leakyRelu(this);
        }

        @Override
        public void validate(String node) {
            if (!Double.isFinite(alpha)) {
                throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, node, "alpha is " + alpha, null);
            }
        }
    }

    /** {@code min(max(x, min), max)}; ReLU6 is {@code Clip(0, 6)}. */
    record Clip(double min, double max) implements Pointwise {
        @Override
        public String kind() {
            return "Clip";
        }

        @Override
        public double apply(double x) {
            return Math.min(Math.max(x, min), max);
        }

        @Override
        public <R> R accept(PointwiseVisitor<R> v) {
            return v.clip(this);
        }

        @Override
        public void validate(String node) {
            if (Double.isNaN(min) || Double.isNaN(max) || min > max) {
                throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, node, "Clip bounds [" + min + ", " + max + "] are invalid", null);
            }
        }
    }

    /** Logistic sigmoid; in hardware a lookup table. */
    record Sigmoid() implements Tabulated {
        @Override
        public String kind() {
            return "Sigmoid";
        }

        @Override
        public double apply(double x) {
            return 1.0 / (1.0 + Math.exp(-x));
        }

        @Override
        public boolean unitRange() {
            return true;
        }

        /** The slope {@code s(1-s)} is largest at 0, where it is 1/4. */
        @Override
        public double lipschitz() {
            return 0.25;
        }

        @Override
        public boolean nonDecreasing() {
            return true;
        }
    }

    /** Hyperbolic tangent; in hardware a lookup table. */
    record Tanh() implements Tabulated {
        @Override
        public String kind() {
            return "Tanh";
        }

        @Override
        public double apply(double x) {
            return Math.tanh(x);
        }

        @Override
        public boolean unitRange() {
            return true;
        }

        /** The slope {@code 1 - tanh^2} is largest at 0, where it is 1. */
        @Override
        public double lipschitz() {
            return 1;
        }

        @Override
        public boolean nonDecreasing() {
            return true;
        }
    }

    /**
     * Exponential linear unit, as Keras and ONNX define it: {@code x > 0 ? x : alpha * (e^x - 1)};
     * in hardware a lookup table over the input format, its output format calibrated.
     */
    record Elu(double alpha) implements Tabulated {
        @Override
        public String kind() {
            return "Elu";
        }

        @Override
        public double apply(double x) {
            return x > 0 ? x : alpha * Math.expm1(x);
        }

        @Override
        public boolean unitRange() {
            return false;
        }

        /** Slope 1 above 0, {@code alpha e^x} (magnitude below |alpha|) below. */
        @Override
        public double lipschitz() {
            return Math.max(1, Math.abs(alpha));
        }

        @Override
        public boolean nonDecreasing() {
            return alpha >= 0;
        }

        @Override
        public String label() {
            return "elu(alpha=" + alpha + ")";
        }

        @Override
        public void validate(String node) {
            if (!Double.isFinite(alpha)) {
                throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, node, "alpha is " + alpha, null);
            }
        }
    }

    /**
     * Scaled exponential linear unit (ONNX Selu):
     * {@code gamma * (x > 0 ? x : alpha * (e^x - 1))}; a lookup table, output format calibrated.
     */
    record Selu(double alpha, double gamma) implements Tabulated {
        /** ONNX's defaults, the self-normalizing constants of Klambauer et al. */
        public static final double ALPHA = 1.67326319217681884765625;
        public static final double GAMMA = 1.05070102214813232421875;

        @Override
        public String kind() {
            return "Selu";
        }

        @Override
        public double apply(double x) {
            return gamma * (x > 0 ? x : alpha * Math.expm1(x));
        }

        @Override
        public boolean unitRange() {
            return false;
        }

        /** Slope {@code gamma} above 0, {@code gamma alpha e^x} (magnitude below |gamma alpha|) below. */
        @Override
        public double lipschitz() {
            return Math.abs(gamma) * Math.max(1, Math.abs(alpha));
        }

        @Override
        public boolean nonDecreasing() {
            return gamma >= 0 && alpha >= 0 || gamma == 0;
        }

        @Override
        public String label() {
            return "selu(alpha=" + alpha + ",gamma=" + gamma + ")";
        }

        @Override
        public void validate(String node) {
            if (!Double.isFinite(alpha) || !Double.isFinite(gamma)) {
                throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, node, "alpha " + alpha + " / gamma " + gamma, null);
            }
        }
    }

    /** {@code ln(1 + e^x)}; a lookup table, output format calibrated. */
    record Softplus() implements Tabulated {
        @Override
        public String kind() {
            return "Softplus";
        }

        @Override
        public double apply(double x) {
            // written so that neither branch overflows: for large x it is x + ln(1 + e^-x)
            return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
        }

        @Override
        public boolean unitRange() {
            return false;
        }

        /** The slope is the logistic sigmoid, below 1. */
        @Override
        public double lipschitz() {
            return 1;
        }

        @Override
        public boolean nonDecreasing() {
            return true;
        }
    }

    /** {@code max(0, min(1, alpha*x + beta))} (ONNX HardSigmoid); a lookup table with outputs in [0, 1]. */
    record HardSigmoid(double alpha, double beta) implements Tabulated {
        @Override
        public String kind() {
            return "HardSigmoid";
        }

        @Override
        public double apply(double x) {
            return Math.max(0.0, Math.min(1.0, alpha * x + beta));
        }

        @Override
        public boolean unitRange() {
            return true;
        }

        /** Slope {@code alpha} between the clamps, 0 outside. */
        @Override
        public double lipschitz() {
            return Math.abs(alpha);
        }

        @Override
        public boolean nonDecreasing() {
            return alpha >= 0;
        }

        @Override
        public String label() {
            return "hardsigmoid(alpha=" + alpha + ",beta=" + beta + ")";
        }

        @Override
        public void validate(String node) {
            if (!Double.isFinite(alpha) || !Double.isFinite(beta)) {
                throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, node, "alpha " + alpha + " / beta " + beta, null);
            }
        }
    }

    /**
     * Parametric ReLU with one slope per channel: {@code y = x >= 0 ? x : slope[c] * x}. Not a
     * {@link Pointwise} function, because the result depends on the channel; a single shared
     * slope is a {@link LeakyRelu}.
     */
    record PRelu(Tensor slope) implements Op {
        public PRelu {
            if (slope.shape().rank() != 1) {
                throw new IllegalArgumentException("PRelu slope must be a vector, got " + slope.shape());
            }
        }

        public int channels() {
            return slope.size();
        }

        /** The function on an element of channel {@code c}. */
        public double apply(int c, double x) {
            return x >= 0 ? x : slope.at(c) * x;
        }

        @Override
        public String kind() {
            return "PRelu";
        }

        @Override
        public Role role() {
            return Role.ACTIVATION;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.prelu(this);
        }

        @Override
        public Shape outputShape(String node, List<Shape> in) {
            return Shapes.perChannel(node, kind(), in.get(0), channels());
        }

        @Override
        public void validate(String node) {
            Shapes.finite(node, "slope", slope);
        }
    }

    /** Softmax along one axis (in IR coordinates, i.e. without the batch dimension). */
    record Softmax(int axis) implements Op {
        @Override
        public String kind() {
            return "Softmax";
        }

        @Override
        public Role role() {
            return Role.ACTIVATION;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.softmax(this);
        }

        @Override
        public Shape outputShape(String node, List<Shape> in) {
            Shape x = in.get(0);
            if (axis < 0 || axis >= x.rank()) {
                throw Shapes.mismatch(node, "Softmax axis " + axis + " is outside input " + x, null);
            }
            return x;
        }
    }

    /** Max pooling; padding counts as -infinity. */
    record MaxPool(Window window) implements Op {
        @Override
        public String kind() {
            return "MaxPool";
        }

        @Override
        public Role role() {
            return Role.POOL;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.maxPool(this);
        }

        @Override
        public Shape outputShape(String node, List<Shape> in) {
            Shape x = in.get(0);
            if (x.rank() != window.rank() + 1) {
                throw Shapes.mismatch(node, "MaxPool" + window.rank() + "D expects a rank-" + (window.rank() + 1) + " input, got " + x, null);
            }
            return Shapes.windowed(node, kind(), x, x.channels(), window);
        }
    }

    /**
     * Average pooling. With {@code countIncludePad} the divisor is always the kernel size;
     * otherwise only the elements inside the input are counted (ONNX's default).
     */
    record AvgPool(Window window, boolean countIncludePad) implements Op {
        @Override
        public String kind() {
            return "AveragePool";
        }

        @Override
        public Role role() {
            return Role.POOL;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.avgPool(this);
        }

        @Override
        public Shape outputShape(String node, List<Shape> in) {
            Shape x = in.get(0);
            if (x.rank() != window.rank() + 1) {
                throw Shapes.mismatch(node, "AveragePool" + window.rank() + "D expects a rank-" + (window.rank() + 1) + " input, got " + x, null);
            }
            return Shapes.windowed(node, kind(), x, x.channels(), window);
        }
    }

    /** Mean over all spatial positions of each channel: (C, ...) to (C, 1, ...). */
    record GlobalAvgPool() implements Op {
        @Override
        public String kind() {
            return "GlobalAveragePool";
        }

        @Override
        public Role role() {
            return Role.POOL;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.globalAvgPool(this);
        }

        @Override
        public Shape outputShape(String node, List<Shape> in) {
            Shape x = in.get(0);
            if (x.rank() < 2) {
                throw Shapes.mismatch(node, "GlobalAveragePool needs spatial axes, got " + x, null);
            }
            int[] d = new int[x.rank()];
            java.util.Arrays.fill(d, 1);
            d[0] = x.channels();
            return new Shape(d);
        }
    }

    /** Flattens everything to one vector, in channels-first (C, H, W) order. */
    record Flatten() implements Op {
        @Override
        public String kind() {
            return "Flatten";
        }

        @Override
        public Role role() {
            return Role.LAYOUT;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.flatten(this);
        }

        @Override
        public Shape outputShape(String node, List<Shape> in) {
            return Shape.of(in.get(0).size());
        }
    }

    /** Reinterprets the (channels-first, row-major) elements with a new shape. */
    record Reshape(Shape target) implements Op {
        @Override
        public String kind() {
            return "Reshape";
        }

        @Override
        public Role role() {
            return Role.LAYOUT;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.reshape(this);
        }

        @Override
        public Shape outputShape(String node, List<Shape> in) {
            if (in.get(0).size() != target.size()) {
                throw Shapes.mismatch(node, "cannot reshape " + in.get(0) + " to " + target, null);
            }
            return target;
        }
    }

    /** Elementwise sum of two tensors of the same shape (residual connections). */
    record Add() implements Op {
        @Override
        public String kind() {
            return "Add";
        }

        @Override
        public Role role() {
            return Role.JOIN;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.add(this);
        }

        @Override
        public int arity() {
            return 2;
        }

        @Override
        public Shape outputShape(String node, List<Shape> in) {
            if (!in.get(0).equals(in.get(1))) {
                throw Shapes.mismatch(node, "Add operands have shapes " + in.get(0) + " and " + in.get(1), "broadcasting is not supported");
            }
            return in.get(0);
        }
    }
}
