package io.streamfold.json;

import io.streamfold.ir.Shape;

import java.util.Locale;

/**
 * The axis order a JSON model is written in: channels first (PyTorch: (C, H, W), (C, L)) or
 * channels last (Keras: (H, W, C), (L, C)). Vectors (F) are the same in both.
 *
 * <p>The graph IR is always channels first. For a channels-last model this class maps shapes and
 * element indices between the two orders; an IR tensor (C, S) holds the channels-last element
 * {@code s*C + c} at {@code c*S + s}, where {@code s} is the row-major spatial index.
 */
public enum Layout {
    CHANNELS_FIRST("channels_first"),
    CHANNELS_LAST("channels_last");

    private final String jsonName;

    Layout(String jsonName) {
        this.jsonName = jsonName;
    }

    /** The spelling used in the JSON file, e.g. {@code channels_last}. */
    public String jsonName() {
        return jsonName;
    }

    /** The layout named by a JSON string (case-insensitive), or null if it names none. */
    static Layout parse(String s) {
        String k = s.toLowerCase(Locale.ROOT).replace('-', '_');
        for (Layout l : values()) {
            if (l.jsonName.equals(k)) {
                return l;
            }
        }
        return null;
    }

    /** The channels-first dims of a tensor written with this layout's dims (no batch axis). */
    public int[] toChannelsFirst(int[] dims) {
        if (this == CHANNELS_FIRST || dims.length < 2) {
            return dims.clone();
        }
        int[] out = new int[dims.length];
        out[0] = dims[dims.length - 1];
        System.arraycopy(dims, 0, out, 1, dims.length - 1);
        return out;
    }

    /** The dims, in this layout, of a channels-first (IR) shape. */
    public int[] fromChannelsFirst(Shape ir) {
        int[] d = ir.dims();
        if (this == CHANNELS_FIRST || d.length < 2) {
            return d;
        }
        int[] out = new int[d.length];
        System.arraycopy(d, 1, out, 0, d.length - 1);
        out[d.length - 1] = d[0];
        return out;
    }

    /**
     * One sample written in this layout, reordered to the channels-first order of the IR shape
     * {@code ir}. Channels first (or a vector) is returned as a copy.
     */
    public double[] toChannelsFirst(double[] sample, Shape ir) {
        if (sample.length != ir.size()) {
            throw new IllegalArgumentException("sample has " + sample.length + " values, shape " + ir + " needs " + ir.size());
        }
        if (this == CHANNELS_FIRST || ir.rank() < 2) {
            return sample.clone();
        }
        int[] order = channelsLastOrder(ir);
        double[] out = new double[sample.length];
        for (int k = 0; k < sample.length; k++) {
            out[order[k]] = sample[k];
        }
        return out;
    }

    /**
     * For a tensor written in this layout whose IR shape is {@code ir}, the IR flat index of each
     * element in the written order (as {@link io.streamfold.ir.SourceModel} keeps it), or null when
     * the written order is the IR's own (channels first, or a vector).
     */
    public int[] order(Shape ir) {
        return this == CHANNELS_FIRST || ir.rank() < 2 ? null : channelsLastOrder(ir);
    }

    /**
     * For an IR shape (C, S...), the IR flat index of each channels-last flat index:
     * {@code order[s*C + c] = c*S + s}. For a vector this is the identity.
     */
    static int[] channelsLastOrder(Shape ir) {
        int n = ir.size();
        int[] order = new int[n];
        if (ir.rank() < 2) {
            for (int i = 0; i < n; i++) {
                order[i] = i;
            }
            return order;
        }
        int c = ir.channels();
        int s = ir.perChannel();
        for (int sp = 0; sp < s; sp++) {
            for (int ch = 0; ch < c; ch++) {
                order[sp * c + ch] = ch * s + sp;
            }
        }
        return order;
    }

    @Override
    public String toString() {
        return jsonName;
    }
}
