package io.streamfold.ir;

import java.util.Arrays;

/**
 * The sliding-window geometry shared by convolution and pooling: kernel size, stride and the
 * zero (or -inf, for max pooling) padding before and after, one entry per spatial axis.
 * Dilation is always 1.
 */
public record Window(int[] kernel, int[] strides, int[] padsBegin, int[] padsEnd) {

    public Window {
        kernel = kernel.clone();
        strides = strides.clone();
        padsBegin = padsBegin.clone();
        padsEnd = padsEnd.clone();
        int r = kernel.length;
        if (r < 1 || r > 2 || strides.length != r || padsBegin.length != r || padsEnd.length != r) {
            throw new IllegalArgumentException("window needs 1 or 2 spatial axes, consistently: " + describe(kernel, strides, padsBegin, padsEnd));
        }
        for (int i = 0; i < r; i++) {
            if (kernel[i] < 1 || strides[i] < 1 || padsBegin[i] < 0 || padsEnd[i] < 0) {
                throw new IllegalArgumentException("invalid window " + describe(kernel, strides, padsBegin, padsEnd));
            }
        }
    }

    /** A window with the same stride as its kernel and no padding (the usual pooling window). */
    public static Window pool(int... kernel) {
        return new Window(kernel, kernel, new int[kernel.length], new int[kernel.length]);
    }

    public static Window of(int[] kernel, int[] strides, int[] pads) {
        int r = kernel.length;
        return new Window(kernel, strides, Arrays.copyOfRange(pads, 0, r), Arrays.copyOfRange(pads, r, 2 * r));
    }

    public int rank() {
        return kernel.length;
    }

    @Override
    public int[] kernel() {
        return kernel.clone();
    }

    @Override
    public int[] strides() {
        return strides.clone();
    }

    @Override
    public int[] padsBegin() {
        return padsBegin.clone();
    }

    @Override
    public int[] padsEnd() {
        return padsEnd.clone();
    }

    public int kernel(int axis) {
        return kernel[axis];
    }

    public int stride(int axis) {
        return strides[axis];
    }

    public int padBegin(int axis) {
        return padsBegin[axis];
    }

    public int padEnd(int axis) {
        return padsEnd[axis];
    }

    /** Product of the kernel sizes. */
    public int kernelSize() {
        int n = 1;
        for (int k : kernel) {
            n *= k;
        }
        return n;
    }

    public boolean hasPadding() {
        for (int i = 0; i < rank(); i++) {
            if (padsBegin[i] != 0 || padsEnd[i] != 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * Output length along one axis (floor mode), or a value below 1 if the window does not fit.
     */
    public int outputLength(int axis, int inputLength) {
        int span = inputLength + padsBegin[axis] + padsEnd[axis] - kernel[axis];
        return span < 0 ? 0 : span / strides[axis] + 1;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Window w && Arrays.equals(kernel, w.kernel) && Arrays.equals(strides, w.strides)
                && Arrays.equals(padsBegin, w.padsBegin) && Arrays.equals(padsEnd, w.padsEnd);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(kernel) * 31 + Arrays.hashCode(strides) * 17 + Arrays.hashCode(padsBegin) * 7
                + Arrays.hashCode(padsEnd);
    }

    @Override
    public String toString() {
        return describe(kernel, strides, padsBegin, padsEnd);
    }

    private static String describe(int[] k, int[] s, int[] pb, int[] pe) {
        return "kernel=" + Arrays.toString(k) + " stride=" + Arrays.toString(s) + " pads=" + Arrays.toString(pb)
                + Arrays.toString(pe);
    }
}
