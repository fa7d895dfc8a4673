package io.streamfold.bound;

import java.util.Arrays;
import java.util.List;

/**
 * The set of inputs an error bound holds for: a box, one closed interval per input element
 * (flat, channels-first, as the interpreters take a sample).
 *
 * <p>streamfold takes the per-element hull of the calibration samples ({@link #hull}): the
 * smallest box containing every sample the formats were chosen from. It is tighter than the
 * symmetric box {@code [-r, r]} of the input's calibrated range (an image's pixels are then
 * {@code [0, 1]}, not {@code [-1, 1]}, and a pixel that is always 0 is the point {@code [0, 0]}),
 * and it is the input domain the calibrated formats were meant for. {@code verify} widens it
 * by the samples it measures ({@link #including}), so that every measured error is one the bound
 * speaks about.
 */
public record InputBox(double[] lo, double[] hi) {

    public InputBox {
        if (lo.length != hi.length) {
            throw new IllegalArgumentException("box bounds have " + lo.length + " and " + hi.length + " elements");
        }
        lo = lo.clone();
        hi = hi.clone();
        for (int i = 0; i < lo.length; i++) {
            if (!(lo[i] <= hi[i]) || Double.isNaN(lo[i])) {
                throw new IllegalArgumentException("box element " + i + " is [" + lo[i] + ", " + hi[i] + "]");
            }
        }
    }

    /** The per-element hull of {@code samples} (at least one, all of one length, no NaN). */
    public static InputBox hull(List<double[]> samples) {
        if (samples.isEmpty()) {
            throw new IllegalArgumentException("an input box needs at least one sample");
        }
        double[] lo = new double[samples.get(0).length];
        double[] hi = new double[lo.length];
        Arrays.fill(lo, Double.POSITIVE_INFINITY);
        Arrays.fill(hi, Double.NEGATIVE_INFINITY);
        widen(lo, hi, samples);
        return new InputBox(lo, hi);
    }

    /** The smallest box containing this one and every sample. */
    public InputBox including(List<double[]> samples) {
        double[] l = lo.clone();
        double[] h = hi.clone();
        widen(l, h, samples);
        return new InputBox(l, h);
    }

    /** Widens {@code lo} and {@code hi} in place to every sample. */
    private static void widen(double[] lo, double[] hi, List<double[]> samples) {
        for (double[] x : samples) {
            if (x.length != lo.length) {
                throw new IllegalArgumentException("sample of " + x.length + " elements in a box of " + lo.length);
            }
            for (int i = 0; i < x.length; i++) {
                if (Double.isNaN(x[i])) {
                    throw new IllegalArgumentException("sample element " + i + " is NaN");
                }
                lo[i] = Math.min(lo[i], x[i]);
                hi[i] = Math.max(hi[i], x[i]);
            }
        }
    }

    /** Number of input elements. */
    public int size() {
        return lo.length;
    }

    /** Lower end of element {@code i}. */
    public double lo(int i) {
        return lo[i];
    }

    /** Upper end of element {@code i}. */
    public double hi(int i) {
        return hi[i];
    }

    /** True if every element of {@code x} lies in its interval. */
    public boolean contains(double[] x) {
        if (x.length != lo.length) {
            return false;
        }
        for (int i = 0; i < x.length; i++) {
            if (!(x[i] >= lo[i] && x[i] <= hi[i])) {
                return false;
            }
        }
        return true;
    }

    @Override
    public double[] lo() {
        return lo.clone();
    }

    @Override
    public double[] hi() {
        return hi.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof InputBox b && Arrays.equals(lo, b.lo) && Arrays.equals(hi, b.hi);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(lo) * 31 + Arrays.hashCode(hi);
    }

    @Override
    public String toString() {
        return "box of " + lo.length + " elements";
    }
}
