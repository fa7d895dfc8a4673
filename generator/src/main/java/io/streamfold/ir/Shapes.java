package io.streamfold.ir;

/** Shape-checking helpers shared by the {@link Op} records. */
final class Shapes {

    private Shapes() {
    }

    static ModelException mismatch(String node, String what, String hint) {
        return new ModelException(Diagnostic.SF_SHAPE_MISMATCH, node, what, hint);
    }

    static Shape perChannel(String node, String kind, Shape x, int channels) {
        if (x.channels() != channels) {
            throw mismatch(node, kind + " has " + channels + " channels, its input " + x + " has " + x.channels(), null);
        }
        return x;
    }

    static Shape windowed(String node, String kind, Shape x, int outChannels, Window w) {
        int[] out = new int[x.rank()];
        out[0] = outChannels;
        for (int i = 0; i < w.rank(); i++) {
            out[i + 1] = w.outputLength(i, x.dim(i + 1));
            if (out[i + 1] < 1) {
                throw mismatch(node, kind + " window " + w + " does not fit input " + x, null);
            }
        }
        return new Shape(out);
    }

    static void finite(String node, String what, Tensor t) {
        int bad = t.firstNonFinite();
        if (bad >= 0) {
            throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, node, what + "[" + bad + "] is " + t.at(bad), "weights must be finite numbers");
        }
    }
}
