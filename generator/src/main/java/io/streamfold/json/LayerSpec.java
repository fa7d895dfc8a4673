package io.streamfold.json;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * One entry of {@code "layers"}: typed access to its fields, with errors that name the layer.
 *
 * <p>It remembers every field a reader asked for, so that a field nobody asked for (a typo such as
 * {@code "stides"}) is reported instead of silently ignored; see {@link #checkNoUnknownFields}.
 */
final class LayerSpec {

    /** Fields every layer may carry that have no effect on inference. */
    private static final Set<String> IGNORED = Set.of("comment", "description", "trainable", "dtype", "momentum",
            "num_batches_tracked", "track_running_stats");

    private final ObjectNode json;
    private final String name;
    private final String type;
    private final Set<String> asked = new LinkedHashSet<>();

    LayerSpec(ObjectNode json, String name, String type) {
        this.json = json;
        this.name = name;
        this.type = type;
        asked.add("name");
        asked.add("type");
    }

    String name() {
        return name;
    }

    /** The type as written, e.g. {@code Conv2D}. */
    String type() {
        return type;
    }

    /** The type folded for matching: lower case without '_' and '-', e.g. {@code conv2d}. */
    String kind() {
        return normalize(type);
    }

    static String normalize(String type) {
        return type.toLowerCase(Locale.ROOT).replace("_", "").replace("-", "");
    }

    ModelException error(Diagnostic id, String reason, String hint) {
        return new ModelException(id, name, reason, hint);
    }

    ModelException badAttribute(String reason, String hint) {
        return error(Diagnostic.SF_BAD_ATTRIBUTE, reason, hint);
    }

    /** The field's value, or null if it is absent or JSON null. */
    JsonNode get(String key) {
        asked.add(key);
        JsonNode v = json.get(key);
        return v == null || v.isNull() ? null : v;
    }

    /** The one key of {@code aliases} that is present, or null; two present aliases are an error. */
    String present(String... aliases) {
        String found = null;
        for (String k : aliases) {
            if (get(k) != null) {
                if (found != null) {
                    throw badAttribute("has both '" + found + "' and '" + k + "'", "they mean the same; give one");
                }
                found = k;
            }
        }
        return found;
    }

    /** The value of the one present alias, or null. */
    JsonNode any(String... aliases) {
        String k = present(aliases);
        return k == null ? null : json.get(k);
    }

    Integer optInt(String... aliases) {
        String k = present(aliases);
        return k == null ? null : asInt(k, json.get(k));
    }

    int requiredInt(String... aliases) {
        Integer v = optInt(aliases);
        if (v == null) {
            throw badAttribute("'" + aliases[0] + "' is missing", "a " + type + " layer needs it");
        }
        return v;
    }

    private int asInt(String key, JsonNode v) {
        if (!v.isNumber() || !v.canConvertToInt() || v.asDouble() != Math.rint(v.asDouble())) {
            throw badAttribute("'" + key + "' is " + v + ", expected an integer", null);
        }
        return v.asInt();
    }

    Double optDouble(String... aliases) {
        String k = present(aliases);
        if (k == null) {
            return null;
        }
        JsonNode v = json.get(k);
        if (!v.isNumber()) {
            throw badAttribute("'" + k + "' is " + v + ", expected a number", null);
        }
        return v.asDouble();
    }

    double requiredDouble(String... aliases) {
        Double v = optDouble(aliases);
        if (v == null) {
            throw badAttribute("'" + aliases[0] + "' is missing", "a " + type + " layer needs it");
        }
        return v;
    }

    boolean bool(String key, boolean dflt) {
        JsonNode v = get(key);
        if (v == null) {
            return dflt;
        }
        if (!v.isBoolean()) {
            throw badAttribute("'" + key + "' is " + v + ", expected true or false", null);
        }
        return v.asBoolean();
    }

    String string(String key, String dflt) {
        JsonNode v = get(key);
        if (v == null) {
            return dflt;
        }
        if (!v.isTextual()) {
            throw badAttribute("'" + key + "' is " + v + ", expected a string", null);
        }
        return v.asText();
    }

    /**
     * An integer or a list of {@code rank} integers (an integer applies to every axis), each at
     * least {@code min}; {@code dflt} if absent (may be null).
     */
    int[] ints(int rank, int min, int[] dflt, String... aliases) {
        String k = present(aliases);
        if (k == null) {
            return dflt == null ? null : dflt.clone();
        }
        JsonNode v = json.get(k);
        int[] out = new int[rank];
        if (v.isArray()) {
            if (v.size() != rank) {
                throw badAttribute("'" + k + "' is " + v + ", expected " + rank + (rank == 1 ? " integer" : " integers"), null);
            }
            for (int i = 0; i < rank; i++) {
                out[i] = asInt(k, v.get(i));
            }
        } else {
            java.util.Arrays.fill(out, asInt(k, v));
        }
        for (int x : out) {
            if (x < min) {
                throw badAttribute("'" + k + "' is " + v + ", every value must be at least " + min, null);
            }
        }
        return out;
    }

    /** Fails on a field that no reader asked for (a misspelt attribute must not pass silently). */
    void checkNoUnknownFields() {
        List<String> unknown = new ArrayList<>();
        for (Iterator<String> it = json.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!asked.contains(k) && !IGNORED.contains(k) && !k.startsWith("_")) {
                unknown.add(k);
            }
        }
        if (!unknown.isEmpty()) {
            List<String> known = new ArrayList<>(asked);
            known.removeAll(List.of("name", "type"));
            throw badAttribute("unknown field" + (unknown.size() > 1 ? "s " : " ") + String.join(", ", quote(unknown)),
                    "a " + type + " layer reads " + (known.isEmpty() ? "no other fields" : String.join(", ", known)));
        }
    }

    private static List<String> quote(List<String> ks) {
        List<String> out = new ArrayList<>();
        for (String k : ks) {
            out.add("'" + k + "'");
        }
        return out;
    }
}
