package io.streamfold.reference;

import io.streamfold.ir.Shape;
import io.streamfold.ir.Window;

/**
 * The window walk shared by the float and integer interpreters: for each output position of a
 * window over a (C, H, W) or (C, L) tensor (row-major), the spatial offset {@code iy*W + ix} in
 * the input of each window element (in (ky, kx) order), or -1 where the element lies in the
 * padding; element (ky, kx) of output (oy, ox) is input {@code (oy*SH - PT + ky*DH, ox*SW - PL + kx*DW)}.
 * Channels are the caller's loop: channel {@code c} starts at {@code c * pixels()}. Public for the
 * error bound ({@code io.streamfold.bound}), which walks the same windows.
 */
public final class WindowTable {

    private final int size;
    private final int positions;
    private final int pixels;
    private final int[] offsets;
    private final int[] counts;

    private WindowTable(int size, int positions, int pixels, int[] offsets, int[] counts) {
        this.size = size;
        this.positions = positions;
        this.pixels = pixels;
        this.offsets = offsets;
        this.counts = counts;
    }

    public static WindowTable of(Window win, Shape x, Shape y) {
        int[] xs = chw(x);
        int[] ys = chw(y);
        int[] g = geometry(win);
        int kh = g[0], kw = g[1], sh = g[2], sw = g[3], pt = g[4], pl = g[5], dh = g[6], dw = g[7];
        int size = kh * kw;
        int positions = ys[1] * ys[2];
        int[] offsets = new int[positions * size];
        int[] counts = new int[positions];
        for (int oy = 0; oy < ys[1]; oy++) {
            for (int ox = 0; ox < ys[2]; ox++) {
                int pos = oy * ys[2] + ox;
                for (int ky = 0; ky < kh; ky++) {
                    int iy = oy * sh - pt + ky * dh;
                    for (int kx = 0; kx < kw; kx++) {
                        int ix = ox * sw - pl + kx * dw;
                        boolean inside = iy >= 0 && iy < xs[1] && ix >= 0 && ix < xs[2];
                        offsets[pos * size + ky * kw + kx] = inside ? iy * xs[2] + ix : -1;
                        counts[pos] += inside ? 1 : 0;
                    }
                }
            }
        }
        return new WindowTable(size, positions, xs[1] * xs[2], offsets, counts);
    }

    /** Elements of one window (KH * KW). */
    public int size() {
        return size;
    }

    /** Output positions (OH * OW). */
    public int positions() {
        return positions;
    }

    /** Input elements of one channel (H * W). */
    public int pixels() {
        return pixels;
    }

    /** Spatial input offset of window element {@code k} at output position {@code pos}, or -1 (padding). */
    public int offset(int pos, int k) {
        return offsets[pos * size + k];
    }

    /** Window elements inside the input at {@code pos}. */
    public int count(int pos) {
        return counts[pos];
    }

    /** Spatial view of a channels-first shape as (C, H, W); a 1D (C, L) shape is (C, 1, L). */
    private static int[] chw(Shape s) {
        return s.rank() == 3 ? new int[] {s.dim(0), s.dim(1), s.dim(2)} : new int[] {s.dim(0), 1, s.dim(1)};
    }

    /** Window geometry as (kh, kw, sh, sw, padTop, padLeft, dh, dw); a 1D window has kh = 1. */
    private static int[] geometry(Window w) {
        if (w.rank() == 2) {
            return new int[] {w.kernel(0), w.kernel(1), w.stride(0), w.stride(1), w.padBegin(0), w.padBegin(1), w.dilation(0),
                w.dilation(1)};
        }
        return new int[] {1, w.kernel(0), 1, w.stride(0), 0, w.padBegin(0), 1, w.dilation(0)};
    }
}
