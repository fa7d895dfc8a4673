package io.streamfold.json;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/** Builds JSON models in tests: nested weight arrays, layers, files. */
final class JsonTestModels {

    static final ObjectMapper MAPPER = new ObjectMapper();

    private JsonTestModels() {
    }

    /** A model skeleton with the given input; add layers to {@code layers(model)}. */
    static ObjectNode model(String layout, int... shape) {
        ObjectNode m = MAPPER.createObjectNode();
        m.put("format", "streamfold-json");
        m.put("version", 1);
        m.put("name", "t");
        ObjectNode in = m.putObject("input");
        in.put("name", "x");
        ArrayNode s = in.putArray("shape");
        for (int d : shape) {
            s.add(d);
        }
        in.put("layout", layout);
        m.putArray("layers");
        return m;
    }

    /** Appends a layer and returns it for its fields. */
    static ObjectNode layer(ObjectNode model, String name, String type) {
        ObjectNode l = ((ArrayNode) model.get("layers")).addObject();
        l.put("name", name);
        l.put("type", type);
        return l;
    }

    /** Row-major values as a nested JSON array of the given shape. */
    static ArrayNode nested(double[] data, int... shape) {
        if (data.length != size(shape)) {
            throw new IllegalArgumentException("data/shape mismatch");
        }
        return nested(data, shape, 0, 0);
    }

    private static ArrayNode nested(double[] data, int[] shape, int depth, int offset) {
        ArrayNode a = MAPPER.createArrayNode();
        int stride = 1;
        for (int i = depth + 1; i < shape.length; i++) {
            stride *= shape[i];
        }
        for (int i = 0; i < shape[depth]; i++) {
            if (depth == shape.length - 1) {
                a.add(data[offset + i]);
            } else {
                a.add(nested(data, shape, depth + 1, offset + i * stride));
            }
        }
        return a;
    }

    static int size(int... shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    /** Seeded values in [-1, 1). */
    static double[] random(Random r, int n) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = r.nextDouble() * 2 - 1;
        }
        return a;
    }

    /** Seeded values in [lo, hi). */
    static double[] random(Random r, int n, double lo, double hi) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = lo + r.nextDouble() * (hi - lo);
        }
        return a;
    }

    static Path write(Path dir, String fileName, ObjectNode model) {
        try {
            Path p = dir.resolve(fileName);
            Files.writeString(p, MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(model));
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Path write(Path dir, String fileName, String json) {
        try {
            Path p = dir.resolve(fileName);
            Files.writeString(p, json);
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Reorders an array by axes: {@code out} has dims {@code dims[perm[i]]} and
     * {@code out[idx] = in[idx permuted back]} (numpy's {@code transpose(perm)}).
     */
    static double[] transpose(double[] in, int[] dims, int... perm) {
        int r = dims.length;
        int[] outDims = new int[r];
        for (int i = 0; i < r; i++) {
            outDims[i] = dims[perm[i]];
        }
        int[] inStrides = strides(dims);
        double[] out = new double[in.length];
        int[] idx = new int[r];
        for (int flat = 0; flat < in.length; flat++) {
            int rem = flat;
            int src = 0;
            for (int i = r - 1; i >= 0; i--) {
                idx[i] = rem % outDims[i];
                rem /= outDims[i];
            }
            for (int i = 0; i < r; i++) {
                src += idx[i] * inStrides[perm[i]];
            }
            out[flat] = in[src];
        }
        return out;
    }

    private static int[] strides(int[] dims) {
        int[] s = new int[dims.length];
        int acc = 1;
        for (int i = dims.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= dims[i];
        }
        return s;
    }
}
