package io.streamfold.ir;

import java.util.Arrays;

/**
 * The shape of one tensor, without the batch dimension, channels first: (F), (C, L) or (C, H, W).
 *
 * <p>Every dimension is at least 1. The batch dimension of the source model is removed by the
 * frontend: streamfold's hardware processes one sample at a time.
 */
public record Shape(int... dims) {

    public Shape {
        dims = dims.clone();
        for (int d : dims) {
            if (d < 1) {
                throw new IllegalArgumentException("shape dimensions must be >= 1: " + Arrays.toString(dims));
            }
        }
    }

    public static Shape of(int... dims) {
        return new Shape(dims);
    }

    @Override
    public int[] dims() {
        return dims.clone();
    }

    public int rank() {
        return dims.length;
    }

    public int dim(int i) {
        return dims[i];
    }

    /** Number of elements. */
    public int size() {
        long n = 1;
        for (int d : dims) {
            n *= d;
            if (n > Integer.MAX_VALUE) {
                break; // both factors below 2^31: the product cannot overflow a long before this check
            }
        }
        if (n > Integer.MAX_VALUE) {
            throw new ModelException(Diagnostic.SF_SHAPE_MISMATCH, null, "tensor " + this + " has more than " + Integer.MAX_VALUE + " elements",
                    null);
        }
        return (int) n;
    }

    /** Channels: the first dimension. */
    public int channels() {
        return dims[0];
    }

    /** Elements per channel: the product of all dimensions after the first. */
    public int perChannel() {
        return size() / dims[0];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < dims.length; i++) {
            if (i > 0) {
                sb.append('x');
            }
            sb.append(dims[i]);
        }
        return sb.append(']').toString();
    }
}
