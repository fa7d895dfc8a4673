package io.streamfold.data;

import java.util.Arrays;

/**
 * An n-dimensional array of numbers read from a data file, held as float64 in row-major order
 * with its full shape (including any batch dimension).
 */
public record NdArray(int[] shape, double[] data) {

    public NdArray {
        shape = shape.clone();
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            }
            n *= d;
        }
        if (n != data.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n + " values, got " + data.length);
        }
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    /** The values, not copied: callers must not modify them. */
    @Override
    public double[] data() {
        return data;
    }

    public int rank() {
        return shape.length;
    }

    /** Number of rows along the first axis (samples in a batch). */
    public int rows() {
        return shape.length == 0 ? 1 : shape[0];
    }

    /** Elements of one row: the product of all dimensions after the first. */
    public int rowSize() {
        return rows() == 0 ? 0 : data.length / rows();
    }

    /** A copy of row {@code i} (sample {@code i} of a batch). */
    public double[] row(int i) {
        int n = rowSize();
        return Arrays.copyOfRange(data, i * n, (i + 1) * n);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NdArray a && Arrays.equals(shape, a.shape) && Arrays.equals(data, a.data);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(shape) * 31 + Arrays.hashCode(data);
    }

    @Override
    public String toString() {
        return "NdArray" + Arrays.toString(shape);
    }
}
