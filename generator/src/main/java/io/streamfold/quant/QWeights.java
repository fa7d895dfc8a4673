package io.streamfold.quant;

import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;

import java.util.Arrays;

/**
 * A quantized constant tensor (weights, or an affine's scales): integers in the layout of the
 * float tensor, {@code bits} wide, with one frac per channel (the first axis). A per-tensor
 * format has the same frac in every channel; {@link #perChannel} records which was asked for.
 */
public record QWeights(Shape shape, long[] values, int bits, int[] fracs, boolean perChannel) {

    public QWeights {
        values = values.clone();
        fracs = fracs.clone();
        if (values.length != shape.size() || fracs.length != shape.dim(0)) {
            throw new IllegalArgumentException("weights " + shape + " need " + shape.size() + " values and " + shape.dim(0)
                    + " fracs, got " + values.length + " and " + fracs.length);
        }
        if (bits < 1 || bits > QFormat.MAX_BITS) {
            throw new IllegalArgumentException("weight width " + bits);
        }
        for (long v : values) {
            if (Fixed.saturate(v, bits) != v) {
                throw new IllegalArgumentException("weight " + v + " does not fit " + bits + " bits");
            }
        }
        if (!perChannel && Arrays.stream(fracs).distinct().count() > 1) {
            throw new IllegalArgumentException("per-tensor weights with different fracs " + Arrays.toString(fracs));
        }
    }

    /**
     * Quantizes a float tensor to {@code bits}: each channel (or the whole tensor) gets the
     * largest frac at which its largest magnitude fits ({@link Fixed#fracFor}).
     */
    public static QWeights quantize(Tensor t, int bits, boolean perChannel) {
        Shape s = t.shape();
        int channels = s.dim(0);
        int per = s.size() / channels;
        int[] fracs = new int[channels];
        if (perChannel) {
            for (int c = 0; c < channels; c++) {
                double m = 0;
                for (int i = c * per; i < (c + 1) * per; i++) {
                    m = Math.max(m, Math.abs(t.at(i)));
                }
                fracs[c] = Fixed.fracFor(m, bits);
            }
        } else {
            Arrays.fill(fracs, Fixed.fracFor(t.maxAbs(), bits));
        }
        long[] v = new long[s.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = new QFormat(bits, fracs[i / per]).quantize(t.at(i));
        }
        return new QWeights(s, v, bits, fracs, perChannel);
    }

    /** Number of channels (the first axis). */
    public int channels() {
        return fracs.length;
    }

    /** Values per channel. */
    public int perChannelSize() {
        return values.length / fracs.length;
    }

    /** Value at a flat index, without copying. */
    public long at(int i) {
        return values[i];
    }

    /** Frac of channel {@code c}. */
    public int frac(int c) {
        return fracs[c];
    }

    /** Format of channel {@code c}. */
    public QFormat format(int c) {
        return new QFormat(bits, fracs[c]);
    }

    public int minFrac() {
        return Arrays.stream(fracs).min().orElseThrow();
    }

    public int maxFrac() {
        return Arrays.stream(fracs).max().orElseThrow();
    }

    /** The real value of the weight at a flat index. */
    public double toDouble(int i) {
        return Math.scalb((double) values[i], -fracs[i / perChannelSize()]);
    }

    /** A copy of the values. */
    @Override
    public long[] values() {
        return values.clone();
    }

    /** A copy of the per-channel fracs. */
    @Override
    public int[] fracs() {
        return fracs.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QWeights w && shape.equals(w.shape) && bits == w.bits && perChannel == w.perChannel
                && Arrays.equals(values, w.values) && Arrays.equals(fracs, w.fracs);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(values) * 31 + Arrays.hashCode(fracs);
    }

    @Override
    public String toString() {
        int lo = minFrac();
        int hi = maxFrac();
        return "Q(" + bits + "," + (lo == hi ? String.valueOf(lo) : lo + ".." + hi) + ")" + (perChannel ? " per channel" : "") + " " + shape;
    }
}
