package io.streamfold.ir;

import java.util.Arrays;

/**
 * The sliding-window geometry shared by convolution and pooling: kernel size, stride, dilation
 * and the zero (or -inf, for max pooling) padding before and after, one entry per spatial axis.
 *
 * <p>Window element {@code k} along an axis reads input position {@code o*stride - padBegin +
 * k*dilation}; the window spans {@link #span} input positions. ONNX's {@code ceil_mode} needs no
 * field of its own: the frontend expresses the extra output positions as end padding (a
 * position there is padding like any other), see {@code OnnxModelReader}.
 */
public record Window(int[] kernel, int[] strides, int[] padsBegin, int[] padsEnd, int[] dilations) {

    public Window {
        kernel = kernel.clone();
        strides = strides.clone();
        padsBegin = padsBegin.clone();
        padsEnd = padsEnd.clone();
        dilations = dilations.clone();
        int r = kernel.length;
        if (r < 1 || r > 2 || strides.length != r || padsBegin.length != r || padsEnd.length != r || dilations.length != r) {
            throw new IllegalArgumentException("window needs 1 or 2 spatial axes, consistently: "
                    + describe(kernel, strides, padsBegin, padsEnd, dilations));
        }
        for (int i = 0; i < r; i++) {
            if (kernel[i] < 1 || strides[i] < 1 || padsBegin[i] < 0 || padsEnd[i] < 0 || dilations[i] < 1) {
                throw new IllegalArgumentException("invalid window " + describe(kernel, strides, padsBegin, padsEnd, dilations));
            }
        }
    }

    /** A window without dilation. */
    public Window(int[] kernel, int[] strides, int[] padsBegin, int[] padsEnd) {
        this(kernel, strides, padsBegin, padsEnd, ones(kernel.length));
    }

    /** A window with the same stride as its kernel and no padding (the usual pooling window). */
    public static Window pool(int... kernel) {
        return new Window(kernel, kernel, new int[kernel.length], new int[kernel.length]);
    }

    public static Window of(int[] kernel, int[] strides, int[] pads) {
        int r = kernel.length;
        return new Window(kernel, strides, Arrays.copyOfRange(pads, 0, r), Arrays.copyOfRange(pads, r, 2 * r));
    }

    /** The same window with other end pads. */
    public Window withPadsEnd(int[] end) {
        return new Window(kernel, strides, padsBegin, end, dilations);
    }

    /** The same window with other pads. */
    public Window withPads(int[] begin, int[] end) {
        return new Window(kernel, strides, begin, end, dilations);
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

    @Override
    public int[] dilations() {
        return dilations.clone();
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

    public int dilation(int axis) {
        return dilations[axis];
    }

    /** Input positions one window covers along an axis: {@code dilation*(kernel-1) + 1}. */
    public int span(int axis) {
        return dilations[axis] * (kernel[axis] - 1) + 1;
    }

    /** Product of the kernel sizes: the elements (taps) of one window. */
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

    public boolean dilated() {
        for (int d : dilations) {
            if (d != 1) {
                return true;
            }
        }
        return false;
    }

    /**
     * Output length along one axis (floor mode), or a value below 1 if the window does not fit.
     */
    public int outputLength(int axis, int inputLength) {
        int span = inputLength + padsBegin[axis] + padsEnd[axis] - span(axis);
        return span < 0 ? 0 : span / strides[axis] + 1;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Window w && Arrays.equals(kernel, w.kernel) && Arrays.equals(strides, w.strides)
                && Arrays.equals(padsBegin, w.padsBegin) && Arrays.equals(padsEnd, w.padsEnd) && Arrays.equals(dilations, w.dilations);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(kernel) * 31 + Arrays.hashCode(strides) * 17 + Arrays.hashCode(padsBegin) * 7
                + Arrays.hashCode(padsEnd) + Arrays.hashCode(dilations) * 13;
    }

    @Override
    public String toString() {
        return describe(kernel, strides, padsBegin, padsEnd, dilations);
    }

    private static String describe(int[] k, int[] s, int[] pb, int[] pe, int[] d) {
        // Undilated windows print as before dilation existed (reports and notes quote them).
        boolean dilated = false;
        for (int x : d) {
            dilated |= x != 1;
        }
        return "kernel=" + Arrays.toString(k) + " stride=" + Arrays.toString(s) + " pads=" + Arrays.toString(pb)
                + Arrays.toString(pe) + (dilated ? " dilation=" + Arrays.toString(d) : "");
    }

    private static int[] ones(int n) {
        int[] a = new int[n];
        Arrays.fill(a, 1);
        return a;
    }
}
