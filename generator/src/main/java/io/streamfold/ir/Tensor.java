package io.streamfold.ir;

import java.util.Arrays;

/**
 * A constant float64 tensor (weights, biases), stored flat in row-major order.
 *
 * <p>Unlike {@link Shape}, a tensor's shape here may be any rank, e.g. a conv weight is
 * (outChannels, inChannels/group, kh, kw). The array is copied in and out, so a tensor is immutable.
 */
public record Tensor(Shape shape, double[] data) {

    public Tensor {
        data = data.clone();
        if (data.length != shape.size()) {
            throw new IllegalArgumentException(
                    "tensor data has " + data.length + " values, shape " + shape + " needs " + shape.size());
        }
    }

    public static Tensor of(Shape shape, double... data) {
        return new Tensor(shape, data);
    }

    public static Tensor zeros(int... dims) {
        Shape s = new Shape(dims);
        return new Tensor(s, new double[s.size()]);
    }

    /** A copy of the values. */
    @Override
    public double[] data() {
        return data.clone();
    }

    /** Value at a flat index, without copying. */
    public double at(int i) {
        return data[i];
    }

    public int size() {
        return data.length;
    }

    /** Index of the first value that is NaN or infinite, or -1. */
    public int firstNonFinite() {
        for (int i = 0; i < data.length; i++) {
            if (!Double.isFinite(data[i])) {
                return i;
            }
        }
        return -1;
    }

    public double maxAbs() {
        double m = 0;
        for (double v : data) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Tensor t && shape.equals(t.shape) && Arrays.equals(data, t.data);
    }

    @Override
    public int hashCode() {
        return 31 * shape.hashCode() + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "Tensor" + shape;
    }
}
