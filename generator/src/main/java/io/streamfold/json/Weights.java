package io.streamfold.json;

import com.fasterxml.jackson.databind.JsonNode;
import io.streamfold.data.NdArray;
import io.streamfold.data.Npy;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Finds the parameter arrays of a layer: inline nested JSON arrays, {@code {"npy": file}},
 * {@code {"npz": file, "key": k}}, or the model's side file ({@code "weights"}) under the key
 * {@code "<layer>/<param>"}. Files are resolved against the JSON file's folder and read once.
 *
 * <p>Another frontend that builds a model tree (the Keras reader) passes its parameters already
 * read, by the same {@code "<layer>/<param>"} keys; they take the side file's place.
 */
final class Weights {

    /** A parameter array and where it came from (for messages). */
    record Param(String name, NdArray array, String source) {
    }

    private final Path baseDir;
    private final String sideFile;
    private final Map<String, byte[]> side;
    private final Map<String, NdArray> given;
    private final Map<Path, Map<String, byte[]>> npzCache = new HashMap<>();
    private final Map<Path, NdArray> npyCache = new HashMap<>();

    /** {@code sideFile} is the top-level {@code "weights"} value, or null. */
    Weights(Path baseDir, String sideFile) {
        this.baseDir = baseDir;
        this.sideFile = sideFile;
        this.given = Map.of();
        if (sideFile == null) {
            this.side = Map.of();
        } else {
            try {
                this.side = npz(baseDir.resolve(sideFile));
            } catch (IOException e) {
                throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, null,
                        "cannot read the weights file " + sideFile + ": " + describe(e), "\"weights\" names an .npz file relative to the JSON file");
            }
        }
    }

    /** Parameters already read, by {@code "<layer>/<param>"}; {@code source} names their file in messages. */
    Weights(Path baseDir, Map<String, NdArray> given, String source) {
        this.baseDir = baseDir;
        this.sideFile = source;
        this.side = Map.of();
        this.given = Map.copyOf(given);
    }

    /**
     * The parameter known by any of {@code names} (the first is the canonical one), or null if the
     * layer gives none of them and the side file has no {@code <layer>/<name>} key.
     */
    Param find(LayerSpec l, String... names) {
        String k = l.present(names);
        if (k != null) {
            return fromField(l, k, l.get(k));
        }
        for (String n : names) {
            byte[] b = side.get(l.name() + "/" + n);
            if (b != null) {
                return new Param(n, parseNpy(l, n, b, sideFile + "[" + l.name() + "/" + n + "]"), sideFile);
            }
            NdArray a = given.get(l.name() + "/" + n);
            if (a != null) {
                return new Param(n, a, sideFile);
            }
        }
        return null;
    }

    /** Whether the layer or the side file gives any of the (distinct) parameters, without reading them. */
    boolean hasAny(LayerSpec l, String... names) {
        boolean found = false;
        for (String n : names) {
            String key = l.name() + "/" + n;
            found |= l.get(n) != null || side.containsKey(key) || given.containsKey(key);
        }
        return found;
    }

    private Param fromField(LayerSpec l, String name, JsonNode v) {
        if (v.isArray() || v.isNumber()) {
            return new Param(name, inline(l, name, v), "inline");
        }
        if (v.isObject()) {
            JsonNode npy = v.get("npy");
            JsonNode npz = v.get("npz");
            JsonNode key = v.get("key");
            if (npy != null && npy.isTextual() && npz == null && key == null && v.size() == 1) {
                Path p = baseDir.resolve(npy.asText());
                NdArray a = npyCache.get(p);
                if (a == null) {
                    try {
                        a = Npy.read(p);
                    } catch (IOException e) {
                        throw bad(l, name + ": cannot read " + npy.asText() + ": " + describe(e), null);
                    }
                    npyCache.put(p, a);
                }
                return new Param(name, a, npy.asText());
            }
            if (npz != null && npz.isTextual() && npy == null && (key == null || key.isTextual()) && v.size() <= 2
                    && (key != null || v.size() == 1)) {
                String k = key == null ? l.name() + "/" + name : key.asText();
                Path p = baseDir.resolve(npz.asText());
                Map<String, byte[]> entries = npzCache.get(p);
                if (entries == null) {
                    try {
                        entries = npz(p);
                    } catch (IOException e) {
                        throw bad(l, name + ": cannot read " + npz.asText() + ": " + describe(e), null);
                    }
                    npzCache.put(p, entries);
                }
                byte[] b = entries.get(k);
                if (b == null) {
                    throw bad(l, name + ": " + npz.asText() + " has no array '" + k + "'", "it has " + keys(entries));
                }
                return new Param(name, parseNpy(l, name, b, npz.asText() + "[" + k + "]"), npz.asText());
            }
        }
        throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, l.name(), name + " is " + abbreviate(v.toString()),
                "give a nested array of numbers, {\"npy\": \"file.npy\"} or {\"npz\": \"file.npz\", \"key\": \"name\"}");
    }

    private NdArray parseNpy(LayerSpec l, String name, byte[] b, String where) {
        try {
            return Npy.parse(b);
        } catch (IOException e) {
            throw bad(l, name + ": cannot read " + where + ": " + e.getMessage(), null);
        }
    }

    /** A nested JSON array (or a single number) as an array; it must be rectangular. */
    private static NdArray inline(LayerSpec l, String name, JsonNode v) {
        List<Integer> dims = new ArrayList<>();
        JsonNode n = v;
        while (n.isArray()) {
            dims.add(n.size());
            if (n.size() == 0) {
                break;
            }
            n = n.get(0);
        }
        int[] shape = dims.stream().mapToInt(Integer::intValue).toArray();
        long count = 1;
        for (int d : shape) {
            count *= d;
        }
        if (count > Integer.MAX_VALUE - 8) {
            throw bad(l, name + " is too large (" + count + " values)", null);
        }
        double[] out = new double[(int) count];
        int[] at = {0};
        fill(l, name, v, shape, 0, new StringBuilder(name), out, at);
        return new NdArray(shape, out);
    }

    private static void fill(LayerSpec l, String name, JsonNode v, int[] shape, int depth, StringBuilder path, double[] out, int[] at) {
        if (depth == shape.length) {
            if (!v.isNumber()) {
                throw bad(l, path + " is " + abbreviate(v.toString()) + ", not a number", null);
            }
            out[at[0]++] = v.asDouble();
            return;
        }
        if (!v.isArray() || v.size() != shape[depth]) {
            throw bad(l, name + " is a ragged nested array: " + path + " is " + (v.isArray() ? "a list of " + v.size() : abbreviate(v.toString()))
                    + " where a list of " + shape[depth] + " was expected", null);
        }
        int len = path.length();
        for (int i = 0; i < shape[depth]; i++) {
            path.append('[').append(i).append(']');
            fill(l, name, v.get(i), shape, depth + 1, path, out, at);
            path.setLength(len);
        }
    }

    /** The arrays of an .npz file (a zip of .npy files, stored or deflated) by key. */
    static Map<String, byte[]> npz(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString(), null, "no such file");
        }
        Map<String, byte[]> out = new LinkedHashMap<>();
        try (ZipFile zip = new ZipFile(file.toFile())) {
            Enumeration<? extends ZipEntry> en = zip.entries();
            while (en.hasMoreElements()) {
                ZipEntry e = en.nextElement();
                if (e.isDirectory()) {
                    continue;
                }
                String k = e.getName().endsWith(".npy") ? e.getName().substring(0, e.getName().length() - 4) : e.getName();
                try (InputStream in = zip.getInputStream(e)) {
                    out.put(k, in.readAllBytes());
                }
            }
        }
        return out;
    }

    static String describe(IOException e) {
        if (e instanceof NoSuchFileException) {
            return "no such file";
        }
        String m = e.getMessage();
        return m == null ? e.getClass().getSimpleName() : m;
    }

    private static String keys(Map<String, byte[]> m) {
        List<String> ks = new ArrayList<>(m.keySet());
        if (ks.size() > 8) {
            return String.join(", ", ks.subList(0, 8)) + ", ... (" + ks.size() + " arrays)";
        }
        return ks.isEmpty() ? "no arrays" : String.join(", ", ks);
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 37) + "..." : s;
    }

    static ModelException bad(LayerSpec l, String reason, String hint) {
        return new ModelException(Diagnostic.SF_BAD_WEIGHTS, l.name(), reason, hint);
    }
}
