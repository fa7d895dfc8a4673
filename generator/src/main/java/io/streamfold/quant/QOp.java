package io.streamfold.quant;

import io.streamfold.ir.Shape;
import io.streamfold.ir.Window;

import java.util.Arrays;
import java.util.List;

/**
 * The integer parameters of one quantized node: every width, constant and table a hardware stage
 * needs, so that the hardware lowering and the simulator decide nothing numeric themselves.
 *
 * <p>Each record also offers its per-element arithmetic ({@code apply}, {@code finish}, ...),
 * written once with {@link Fixed}; the integer reference interpreter, the simulator and the
 * emitter's expectations all follow it. Loops over windows and channels stay with the caller, as
 * the order of exact integer sums does not matter.
 *
 * <p>Register widths ({@code accBits}, {@code sumBits}, ...) are the exact worst case over all
 * inputs of the input format, for every partial sum in any order, bias included or not (each
 * product's range contains 0, so every partial sum lies within the full sum's range). All are
 * at most 62 bits.
 */
public sealed interface QOp {

    /** The op kind, as {@link io.streamfold.ir.Op#kind()}. */
    String kind();

    /** Formats of the inputs, in the node's input order. */
    List<QFormat> inputs();

    /** Format of the output. */
    QFormat out();

    /** Calls the visitor method of this op's kind. */
    <R> R accept(Visitor<R> v);

    /**
     * One method per kind: a consumer that implements it handles every kind, or does not
     * compile. Elementwise ops share one method ({@link ElementwiseVisitor} tells them apart).
     */
    interface Visitor<R> {
        R dense(QDense op);

        R conv(QConv op);

        R elementwise(QElementwise op);

        R softmax(QSoftmax op);

        R maxPool(QMaxPool op);

        R avgPool(QAvgPool op);

        R globalAvgPool(QGlobalAvgPool op);

        R add(QAdd op);
    }

    /**
     * An op that maps each element on its own, given the element's channel: {@link #apply} is its
     * whole arithmetic, so the integer reference and the simulator need nothing else.
     */
    sealed interface QElementwise extends QOp permits QAffine, QRelu, QLeakyRelu, QPRelu, QClip, QLut, QFlatten, QReshape {
        /** Format of the input. */
        QFormat in();

        /** The output value of element {@code x} of channel {@code channel}. */
        long apply(int channel, long x);

        /** True if the result depends on the channel (per-channel constants). */
        default boolean perChannel() {
            return false;
        }

        /** True if {@code apply(c, x) == x} for every input: no hardware at all. */
        default boolean identity() {
            return false;
        }

        /** Bits of the op's constant table (a lookup table, per-channel constants), 0 if none. */
        default long tableBits() {
            return 0;
        }

        /**
         * True if the hardware computes the op in a pipeline of two registers rather than in one
         * cycle of logic: an interpolating table (the table read, then the interpolation sum), Clip
         * (the input, then the rounded value beside the clamp decisions), Affine (the input with its
         * channel's constants, then the product plus shift).
         */
        default boolean pipelined() {
            return false;
        }

        <R> R accept(ElementwiseVisitor<R> v);

        @Override
        default <R> R accept(Visitor<R> v) {
            return v.elementwise(this);
        }

        @Override
        default List<QFormat> inputs() {
            return List.of(in());
        }
    }

    /** One method per elementwise kind, for consumers that build each kind differently (the RTL). */
    interface ElementwiseVisitor<R> {
        R affine(QAffine op);

        R relu(QRelu op);

        R leakyRelu(QLeakyRelu op);

        R prelu(QPRelu op);

        R clip(QClip op);

        R lut(QLut op);

        R flatten(QFlatten op);

        R reshape(QReshape op);
    }

    /** A pooling window reduction (max or average). */
    sealed interface QPool extends QOp permits QMaxPool, QAvgPool {
        QFormat in();

        Window window();

        /** Bits of the per-position constants (average pooling's reciprocals), 0 if none. */
        default long tableBits() {
            return 0;
        }

        @Override
        default List<QFormat> inputs() {
            return List.of(in());
        }
    }

    /**
     * A dot product per output channel (Dense, Conv): {@code acc = bias(o) + sum w*x} exact in
     * {@code accBits} with frac {@code accFrac(o) = weight.frac(o) + in.frac}, then
     * {@code finish(o, acc) = requantize(acc, accFrac(o), out)}.
     */
    sealed interface QDot extends QOp {
        QFormat in();

        QWeights weight();

        int accBits();

        /** Bias of output {@code o}, aligned to its accumulator. */
        long bias(int o);

        /** Width of one product {@code w * x}. */
        default int productBits() {
            return weight().bits() + in().bits();
        }

        default int accFrac(int o) {
            return weight().frac(o) + in().frac();
        }

        /** The requantization shift of output {@code o} ({@code > 0}: right shift with rounding). */
        default int shift(int o) {
            return accFrac(o) - out().frac();
        }

        /** The output value of an accumulator of output {@code o}. */
        default long finish(int o, long acc) {
            return Fixed.requantize(acc, accFrac(o), out());
        }
    }

    // ---------------------------------------------------------------------------------------------

    /**
     * Fully connected: {@code acc = bias[o] + sum_i w[o,i] x[i]} exact in {@code accBits}, with
     * frac {@code accFrac(o) = weight.frac(o) + in.frac}; {@code y = requantize(acc, accFrac(o), out)}.
     * The bias is pre-aligned to the accumulator.
     */
    record QDense(QFormat in, QWeights weight, long[] bias, int accBits, QFormat out) implements QDot {
        public QDense {
            bias = bias.clone();
            checkDot(weight, bias, accBits);
        }

        public int inFeatures() {
            return weight.shape().dim(1);
        }

        public int outFeatures() {
            return weight.shape().dim(0);
        }

        @Override
        public long bias(int o) {
            return bias[o];
        }

        @Override
        public long[] bias() {
            return bias.clone();
        }

        @Override
        public String kind() {
            return "Dense";
        }

        @Override
        public List<QFormat> inputs() {
            return List.of(in);
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.dense(this);
        }
    }

    /**
     * Convolution (1D/2D, grouped, depthwise) with the same arithmetic as {@link QDense} per
     * output channel; padded positions contribute nothing (an exact zero).
     */
    record QConv(QFormat in, QWeights weight, long[] bias, Window window, int group, int accBits, QFormat out)
            implements QDot {
        public QConv {
            bias = bias.clone();
            checkDot(weight, bias, accBits);
        }

        public int outChannels() {
            return weight.shape().dim(0);
        }

        @Override
        public long bias(int o) {
            return bias[o];
        }

        @Override
        public long[] bias() {
            return bias.clone();
        }

        @Override
        public String kind() {
            return "Conv";
        }

        @Override
        public List<QFormat> inputs() {
            return List.of(in);
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.conv(this);
        }
    }

    /**
     * Per-channel affine (a BatchNorm that could not be folded):
     * {@code y = requantize(x * scale[c] + shift[c], accFrac(c), out)} with the shift pre-aligned
     * to the product's frac {@code scale.frac(c) + in.frac}.
     */
    record QAffine(QFormat in, QWeights scale, long[] shift, int accBits, QFormat out) implements QElementwise {
        public QAffine {
            shift = shift.clone();
            checkDot(scale, shift, accBits);
        }

        public int channels() {
            return scale.channels();
        }

        public int accFrac(int c) {
            return scale.frac(c) + in.frac();
        }

        public long shift(int c) {
            return shift[c];
        }

        /** Width of the product {@code x * scale[c]}. */
        public int productBits() {
            return in.bits() + scale.bits();
        }

        /** The exact register value {@code x * scale[c] + shift[c]} (fits {@code accBits}). */
        public long acc(int c, long x) {
            return x * scale.at(c) + shift[c];
        }

        @Override
        public boolean pipelined() {
            return true;
        }

        public long finish(int c, long acc) {
            return Fixed.requantize(acc, accFrac(c), out);
        }

        @Override
        public long apply(int c, long x) {
            return finish(c, acc(c, x));
        }

        @Override
        public boolean perChannel() {
            return true;
        }

        @Override
        public long tableBits() {
            return (long) channels() * (scale.bits() + accBits);
        }

        @Override
        public long[] shift() {
            return shift.clone();
        }

        @Override
        public String kind() {
            return "Affine";
        }

        @Override
        public <R> R accept(ElementwiseVisitor<R> v) {
            return v.affine(this);
        }
    }

    /** {@code y = requantize(max(x, 0), in.frac, out)}: a pass-through when {@code in == out}. */
    record QRelu(QFormat in, QFormat out) implements QElementwise {
        @Override
        public long apply(int channel, long x) {
            return Fixed.requantize(Math.max(x, 0), in.frac(), out);
        }

        public boolean passThrough() {
            return in.equals(out);
        }

        @Override
        public String kind() {
            return "Relu";
        }

        @Override
        public <R> R accept(ElementwiseVisitor<R> v) {
            return v.relu(this);
        }
    }

    /**
     * {@code x >= 0 ? requantize(x, in.frac, out) : requantize(x * alpha, in.frac + alphaFrac, out)};
     * {@code alpha} is the slope in {@code Q(alphaBits, alphaFrac)}.
     */
    record QLeakyRelu(QFormat in, long alpha, int alphaBits, int alphaFrac, QFormat out) implements QElementwise {
        public QLeakyRelu {
            if (Fixed.saturate(alpha, alphaBits) != alpha || in.bits() + alphaBits > QFormat.MAX_BITS) {
                throw new IllegalArgumentException("LeakyRelu slope " + alpha + " in " + alphaBits + " bits with input " + in);
            }
        }

        /** Width of the product {@code x * alpha}. */
        public int productBits() {
            return in.bits() + alphaBits;
        }

        @Override
        public long apply(int channel, long x) {
            return x >= 0 ? Fixed.requantize(x, in.frac(), out) : Fixed.requantize(x * alpha, in.frac() + alphaFrac, out);
        }

        @Override
        public String kind() {
            return "LeakyRelu";
        }

        @Override
        public <R> R accept(ElementwiseVisitor<R> v) {
            return v.leakyRelu(this);
        }
    }

    /**
     * Parametric ReLU, a {@link QLeakyRelu} with one slope per channel:
     * {@code x >= 0 ? requantize(x, in.frac, out) : requantize(x * alpha[c], in.frac + alphaFrac, out)};
     * every slope is in the one format {@code Q(alphaBits, alphaFrac)}, so the negative branch
     * has one shift for all channels.
     */
    record QPRelu(QFormat in, long[] alpha, int alphaBits, int alphaFrac, QFormat out) implements QElementwise {
        public QPRelu {
            alpha = alpha.clone();
            for (long a : alpha) {
                if (Fixed.saturate(a, alphaBits) != a) {
                    throw new IllegalArgumentException("PRelu slope " + a + " does not fit " + alphaBits + " bits");
                }
            }
            if (in.bits() + alphaBits > QFormat.MAX_BITS) {
                throw new IllegalArgumentException("PRelu product of " + in + " and " + alphaBits + "-bit slopes");
            }
        }

        public int channels() {
            return alpha.length;
        }

        public long alpha(int c) {
            return alpha[c];
        }

        @Override
        public long[] alpha() {
            return alpha.clone();
        }

        /** Width of the product {@code x * alpha[c]}. */
        public int productBits() {
            return in.bits() + alphaBits;
        }

        @Override
        public long apply(int channel, long x) {
            return x >= 0 ? Fixed.requantize(x, in.frac(), out) : Fixed.requantize(x * alpha[channel], in.frac() + alphaFrac, out);
        }

        @Override
        public boolean perChannel() {
            return true;
        }

        @Override
        public String kind() {
            return "PRelu";
        }

        @Override
        public <R> R accept(ElementwiseVisitor<R> v) {
            return v.prelu(this);
        }
    }

    /**
     * {@code y = clamp(requantize(x, in.frac, out), lo, hi)} with the bounds quantized in the
     * output format.
     */
    record QClip(QFormat in, long lo, long hi, QFormat out) implements QElementwise {
        public QClip {
            if (lo > hi || !out.contains(lo) || !out.contains(hi)) {
                throw new IllegalArgumentException("Clip bounds [" + lo + ", " + hi + "] in " + out);
            }
        }

        @Override
        public long apply(int channel, long x) {
            return Math.min(Math.max(Fixed.requantize(x, in.frac(), out), lo), hi);
        }

        @Override
        public String kind() {
            return "Clip";
        }

        /** The input, then the rounded value beside the clamp decisions, each in a register stage. */
        @Override
        public boolean pipelined() {
            return true;
        }

        @Override
        public <R> R accept(ElementwiseVisitor<R> v) {
            return v.clip(this);
        }
    }

    /**
     * An elementwise function by table (Sigmoid, Tanh, ...): {@code y = lut.apply(x, in.frac)}, a
     * plain lookup {@code lut.lookup(lut.index(x, in.frac))} or, for an interpolating table, a
     * lookup and one product ({@link Lut}); the output format is the table's.
     */
    record QLut(String kind, QFormat in, Lut lut) implements QElementwise {
        public QLut {
            if (lut.interpolates()) {
                lut.clampInput(0, in.frac());
            }
        }

        @Override
        public long apply(int channel, long x) {
            return lut.apply(x, in.frac());
        }

        @Override
        public QFormat out() {
            return lut.out();
        }

        @Override
        public long tableBits() {
            return lut.romBits();
        }

        @Override
        public boolean pipelined() {
            return lut.interpolates();
        }

        @Override
        public <R> R accept(ElementwiseVisitor<R> v) {
            return v.lut(this);
        }
    }

    /**
     * Softmax by "LUT exp + reciprocal", per vector along {@code axis}:
     * <ol>
     * <li>{@code m = max_i x_i};
     * <li>{@code e_i = exp.apply(m - x_i)}, i.e. {@code e^-(m - x_i)} from a table over the
     * non-negative differences ({@link ExpTable}: a plain table, or range reduction and
     * interpolation); its format {@code Q(eBits, eFrac)} holds 1.0 exactly, and the maximum
     * contributes exactly {@code 2^eFrac};
     * <li>{@code S = sum_i e_i} exact in {@code sumBits} ({@code S >= 2^eFrac});
     * <li>one reciprocal per vector by integer division, {@code r = floor(2^recipShift / S)} in
     * {@code recipBits} (it has frac {@code recipShift - eFrac});
     * <li>{@code p_i = requantize(e_i * r, recipShift, out)}.
     * </ol>
     * Truncating {@code r} costs at most {@code 2^-(recipShift - eFrac)} on any {@code p_i}.
     */
    record QSoftmax(QFormat in, int axis, ExpTable exp, int sumBits, int recipShift, int recipBits, QFormat out)
            implements QOp {
        public QSoftmax {
            if (exp.inFrac() != in.frac()) {
                throw new IllegalArgumentException("softmax exp table for inputs with " + exp.inFrac() + " fractional bits, got " + in);
            }
            if (recipShift > 62 || sumBits > QFormat.MAX_BITS || exp.out().bits() + recipBits > QFormat.MAX_BITS) {
                throw new IllegalArgumentException("softmax widths too large: 2^" + recipShift + ", sum " + sumBits + ", reciprocal " + recipBits);
            }
        }

        /** Signed width of the difference {@code max - x} (non-negative, up to {@code 2^in.bits - 1}). */
        public int diffBits() {
            return in.bits() + 1;
        }

        /** The table entry of an element {@code x} of a vector whose maximum is {@code max}. */
        public long exp(long max, long x) {
            return exp.apply(max - x);
        }

        /** The per-vector reciprocal of the sum of the table entries. */
        public long reciprocal(long sum) {
            return Fixed.reciprocalFloor(sum, recipShift);
        }

        /** Output probability from an element's table entry and the vector's reciprocal. */
        public long prob(long e, long r) {
            return Fixed.requantize(e * r, recipShift, out);
        }

        /** Width of the product {@code e * r}. */
        public int productBits() {
            return exp.out().bits() + recipBits;
        }

        @Override
        public String kind() {
            return "Softmax";
        }

        @Override
        public List<QFormat> inputs() {
            return List.of(in);
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.softmax(this);
        }
    }

    /**
     * Max pooling then {@code requantize(max, in.frac, out)} (a pass-through when {@code in == out};
     * requantization is monotone, so it commutes with the max). Padding never wins.
     */
    record QMaxPool(QFormat in, Window window, QFormat out) implements QPool {
        public long finish(long max) {
            return Fixed.requantize(max, in.frac(), out);
        }

        @Override
        public String kind() {
            return "MaxPool";
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.maxPool(this);
        }
    }

    /**
     * Average pooling: the exact window sum ({@code sumBits}), times a fixed-point reciprocal of
     * the window's element count, then one rounding:
     * {@code y = requantize(sum * recip[pos], in.frac + recipFrac, out)}, with
     * {@code recip[pos] = roundHalfUp(2^recipFrac / count[pos])} for output position {@code pos}
     * (row-major over the output's spatial positions, the same for every channel). Exact when the
     * count is a power of two; otherwise the constant's relative error is below
     * {@code 2^-(recipBits-2)}. The count varies with the position only for padded windows that
     * do not count the padding.
     */
    record QAvgPool(QFormat in, Window window, boolean countIncludePad, int[] counts, long[] recip, int recipFrac,
                    int recipBits, int sumBits, int accBits, QFormat out) implements QPool {
        public QAvgPool {
            counts = counts.clone();
            recip = recip.clone();
            if (counts.length != recip.length || accBits > QFormat.MAX_BITS || sumBits > QFormat.MAX_BITS) {
                throw new IllegalArgumentException("AvgPool constants disagree or are too wide");
            }
        }

        @Override
        public long tableBits() {
            return (long) recip.length * recipBits;
        }

        /** The output value of a window sum at spatial output position {@code pos}. */
        public long finish(int pos, long sum) {
            return Fixed.requantize(sum * recip[pos], in.frac() + recipFrac, out);
        }

        public long recip(int pos) {
            return recip[pos];
        }

        public int count(int pos) {
            return counts[pos];
        }

        @Override
        public int[] counts() {
            return counts.clone();
        }

        @Override
        public long[] recip() {
            return recip.clone();
        }

        @Override
        public String kind() {
            return "AveragePool";
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.avgPool(this);
        }
    }

    /**
     * Global average pooling, as {@link QAvgPool} with one window of {@code count} elements:
     * {@code y = requantize(sum * recip, in.frac + recipFrac, out)},
     * {@code recip = roundHalfUp(2^recipFrac / count)}.
     */
    record QGlobalAvgPool(QFormat in, int count, long recip, int recipFrac, int recipBits, int sumBits, int accBits,
                          QFormat out) implements QOp {
        public QGlobalAvgPool {
            if (accBits > QFormat.MAX_BITS || sumBits > QFormat.MAX_BITS) {
                throw new IllegalArgumentException("GlobalAvgPool registers too wide");
            }
        }

        public long finish(long sum) {
            return Fixed.requantize(sum * recip, in.frac() + recipFrac, out);
        }

        @Override
        public String kind() {
            return "GlobalAveragePool";
        }

        @Override
        public List<QFormat> inputs() {
            return List.of(in);
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.globalAvgPool(this);
        }
    }

    /** Flatten: {@code y = requantize(x, in.frac, out)}, a pass-through when {@code in == out}. */
    record QFlatten(QFormat in, QFormat out) implements QElementwise {
        @Override
        public long apply(int channel, long x) {
            return Fixed.requantize(x, in.frac(), out);
        }

        @Override
        public boolean identity() {
            return in.equals(out);
        }

        @Override
        public String kind() {
            return "Flatten";
        }

        @Override
        public <R> R accept(ElementwiseVisitor<R> v) {
            return v.flatten(this);
        }
    }

    /** Reshape: {@code y = requantize(x, in.frac, out)}, a pass-through when {@code in == out}. */
    record QReshape(QFormat in, Shape target, QFormat out) implements QElementwise {
        @Override
        public long apply(int channel, long x) {
            return Fixed.requantize(x, in.frac(), out);
        }

        @Override
        public boolean identity() {
            return in.equals(out);
        }

        @Override
        public String kind() {
            return "Reshape";
        }

        @Override
        public <R> R accept(ElementwiseVisitor<R> v) {
            return v.reshape(this);
        }
    }

    /**
     * Elementwise sum: both operands are aligned to the common frac {@code frac = max(a.frac, b.frac)}
     * by left shifts, added exactly in {@code sumBits}, then {@code requantize(sum, frac, out)}.
     */
    record QAdd(QFormat a, QFormat b, int frac, int sumBits, QFormat out) implements QOp {
        public QAdd {
            if (frac < a.frac() || frac < b.frac() || sumBits > QFormat.MAX_BITS) {
                throw new IllegalArgumentException("Add alignment to frac " + frac + " from " + a + " and " + b);
            }
        }

        /** Left shift aligning operand a. */
        public int shiftA() {
            return frac - a.frac();
        }

        /** Left shift aligning operand b. */
        public int shiftB() {
            return frac - b.frac();
        }

        /** The exact aligned sum (fits {@code sumBits}). */
        public long sum(long x, long y) {
            return (x << shiftA()) + (y << shiftB());
        }

        public long finish(long sum) {
            return Fixed.requantize(sum, frac, out);
        }

        public long apply(long x, long y) {
            return finish(sum(x, y));
        }

        @Override
        public String kind() {
            return "Add";
        }

        @Override
        public List<QFormat> inputs() {
            return List.of(a, b);
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.add(this);
        }
    }

    private static void checkDot(QWeights w, long[] bias, int accBits) {
        if (bias.length != w.channels()) {
            throw new IllegalArgumentException("bias has " + bias.length + " values for " + w.channels() + " channels");
        }
        if (accBits < 1 || accBits > QFormat.MAX_BITS) {
            throw new IllegalArgumentException("accumulator width " + accBits);
        }
        for (long b : bias) {
            if (Fixed.saturate(b, accBits) != b) {
                throw new IllegalArgumentException("bias " + b + " does not fit the " + accBits + "-bit accumulator " + Arrays.toString(bias));
            }
        }
    }
}
