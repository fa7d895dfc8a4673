package io.streamfold.json;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.streamfold.data.NdArray;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Shape;
import io.streamfold.ir.SourceModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a streamfold JSON model ({@code "format": "streamfold-json"}, see
 * {@code docs/json-format.md}) into a channels-first {@link Graph}.
 *
 * <p>Every problem with the file is a {@link ModelException} attributed to the file and, where
 * there is one, to the layer: invalid JSON ({@link Diagnostic#SF_CORRUPT_MODEL}, with line and
 * column), an unknown layer type ({@link Diagnostic#SF_UNSUPPORTED_OP}), a missing or mis-sized
 * weight ({@link Diagnostic#SF_BAD_WEIGHTS}, expected against actual shape), bad BatchNorm
 * statistics ({@link Diagnostic#SF_BAD_BATCHNORM}), layers that do not fit together
 * ({@link Diagnostic#SF_SHAPE_MISMATCH}), a bad input reference ({@link Diagnostic#SF_BAD_GRAPH}).
 *
 * <p>A channels-last model is converted to the channels-first IR here; the graph input is
 * channels first, and {@link JsonModel#toGraphInput} reorders samples written channels last.
 */
public final class JsonModelReader {

    /** The value of the top-level {@code "format"} field. */
    public static final String FORMAT = "streamfold-json";
    /** The format version this reader understands. */
    public static final int VERSION = 1;

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            // Python's json module writes NaN and Infinity; read them so they are reported as bad weights.
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            // Correctly rounded like Double.parseDouble, and several times faster on large inline weights.
            .enable(StreamReadFeature.USE_FAST_DOUBLE_PARSER)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private static final Set<String> TOP_FIELDS = Set.of("format", "version", "name", "input", "weights", "layers", "description",
            "comment");
    private static final Set<String> INPUT_FIELDS = Set.of("name", "shape", "layout", "comment");

    private final Path baseDir;
    private final String defaultName;

    private JsonModelReader(Path baseDir, String defaultName) {
        this.baseDir = baseDir;
        this.defaultName = defaultName;
    }

    /** Reads a JSON model file; weight files are resolved relative to its folder. */
    public static Graph read(Path jsonFile) {
        return readModel(jsonFile).graph();
    }

    /** Reads a JSON model file, keeping the input layout it declares. */
    public static JsonModel readModel(Path jsonFile) {
        String file = jsonFile.toString();
        try {
            byte[] bytes;
            try {
                bytes = Files.readAllBytes(jsonFile);
            } catch (IOException e) {
                throw new ModelException(Diagnostic.SF_CORRUPT_MODEL, null, "cannot read the file: " + Weights.describe(e), null);
            }
            Path abs = jsonFile.toAbsolutePath();
            String stem = abs.getFileName().toString().replaceFirst("\\.[^.]*$", "");
            return new JsonModelReader(abs.getParent(), stem).build(bytes);
        } catch (ModelException e) {
            throw e.inFile(file);
        } catch (RuntimeException e) {
            throw internal(e).inFile(file);
        }
    }

    /** Reads a model from a string (errors name no file); weight files are resolved against {@code baseDir}. */
    public static Graph parse(String json, Path baseDir) {
        return parseModel(json, baseDir).graph();
    }

    /** Like {@link #parse}, keeping the declared input layout. */
    public static JsonModel parseModel(String json, Path baseDir) {
        try {
            return new JsonModelReader(baseDir.toAbsolutePath(), "model").build(json.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        } catch (ModelException e) {
            throw e;
        } catch (RuntimeException e) {
            throw internal(e);
        }
    }

    /**
     * Builds a model from a tree in this format whose parameters are given already read, by
     * {@code "<layer>/<param>"}: how another frontend (io.streamfold.keras) reuses this one's layer
     * semantics. {@code source} names the parameters' file in messages; errors name no model file.
     */
    public static JsonModel fromTree(ObjectNode model, Map<String, NdArray> params, String source, String defaultName) {
        try {
            return new JsonModelReader(Path.of("").toAbsolutePath(), defaultName).build(model, new Weights(Path.of(""), params, source));
        } catch (ModelException e) {
            throw e;
        } catch (RuntimeException e) {
            throw internal(e);
        }
    }

    /** A failure that is not a diagnosed input error: still one line for the user, with the cause kept. */
    private static ModelException internal(RuntimeException e) {
        ModelException m = new ModelException(Diagnostic.SF_CORRUPT_MODEL, null, "cannot read the model: " + e,
                "this looks like a streamfold bug; please report it with the file");
        m.initCause(e);
        return m;
    }

    // --------------------------------------------------------------------------------------------

    private JsonModel build(byte[] bytes) {
        return build(top(bytes), null);
    }

    /** {@code given}: parameters supplied by the caller instead of a {@code "weights"} side file, or null. */
    private JsonModel build(ObjectNode root, Weights given) {
        checkFields(root, TOP_FIELDS, null, "the top level");
        String format = root.path("format").asText(null);
        if (!FORMAT.equals(format)) {
            throw corrupt("\"format\" is " + (root.has("format") ? root.get("format") : "missing") + ", expected \"" + FORMAT + "\"",
                    "this does not look like a streamfold JSON model");
        }
        JsonNode version = root.get("version");
        if (version == null || !version.isInt()) {
            throw corrupt("\"version\" is " + (version == null ? "missing" : version) + ", expected " + VERSION, null);
        }
        if (version.asInt() != VERSION) {
            throw corrupt("format version " + version.asInt() + " is not supported", "this streamfold reads version " + VERSION);
        }
        String name = text(root, "name", defaultName, null);
        JsonNode input = root.get("input");
        if (input == null || !input.isObject()) {
            throw corrupt("\"input\" is " + (input == null ? "missing" : input), "give {\"name\": \"x\", \"shape\": [C, H, W], \"layout\": ...}");
        }
        checkFields(input, INPUT_FIELDS, "input", "\"input\"");
        String inputName = text(input, "name", "input", "input");
        String layoutName = text(input, "layout", Layout.CHANNELS_FIRST.jsonName(), inputName);
        Layout layout = Layout.parse(layoutName);
        if (layout == null) {
            throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, inputName, "layout \"" + layoutName + "\" is not supported",
                    "use \"channels_first\" (PyTorch) or \"channels_last\" (Keras)");
        }
        int[] declared = inputShape(input.get("shape"), inputName);
        Shape irInput = new Shape(layout.toChannelsFirst(declared));
        String weightsFile = text(root, "weights", null, null);
        JsonNode layers = root.get("layers");
        if (layers == null || !layers.isArray() || layers.size() == 0) {
            throw corrupt("\"layers\" is " + (layers == null ? "missing" : layers.isArray() ? "empty" : "not a list"), "give a list of layers");
        }
        if (given != null && weightsFile != null) {
            throw corrupt("\"weights\" names a file, but the parameters are given", null);
        }
        Weights weights = given != null ? given : new Weights(baseDir, weightsFile);
        Layers conv = new Layers(layout, weights);

        List<LayerSpec> specs = specs(layers, inputName);
        Map<String, Integer> position = new HashMap<>();
        for (int i = 0; i < specs.size(); i++) {
            position.put(specs.get(i).name(), i);
        }
        Map<String, Layers.Value> values = new HashMap<>();
        Layers.Value prev = new Layers.Value(inputName, irInput, null);
        values.put(inputName, prev);
        for (int i = 0; i < specs.size(); i++) {
            LayerSpec l = specs.get(i);
            List<Layers.Value> ins = inputs(l, i, prev, values, position);
            try {
                prev = conv.convert(l, ins);
            } catch (IllegalArgumentException e) {
                // The IR's own constructors reject what no check above caught; still the layer's fault.
                throw l.badAttribute(e.getMessage(), null);
            }
            l.checkNoUnknownFields();
            values.put(l.name(), prev);
        }
        Graph g = new Graph(name, inputName, irInput, conv.nodes(), prev.id());
        // Where each element of the output sits in the declared layout: a channels-last flatten or
        // reshape leaves its own order (prev.order()), anything else the usual channels-last one.
        Shape out = g.outputShape();
        int[] outOrder = layout == Layout.CHANNELS_FIRST ? null : prev.order() != null ? prev.order() : layout.order(out);
        if (outOrder != null && Arrays.equals(outOrder, identity(outOrder.length))) {
            outOrder = null;
        }
        SourceModel declaredLayouts = new SourceModel(declared, layout.order(irInput), layout.fromChannelsFirst(out), outOrder, List.of());
        return new JsonModel(g, layout, declared, declaredLayouts);
    }

    private static int[] identity(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }

    private static ObjectNode top(byte[] bytes) {
        JsonNode root;
        try {
            root = MAPPER.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new ModelException(Diagnostic.SF_CORRUPT_MODEL, null, "invalid JSON" + where(e) + ": " + firstLine(e.getOriginalMessage()),
                    truncated(e) ? "the file ends early; is it truncated?" : null);
        } catch (IOException e) {
            throw new ModelException(Diagnostic.SF_CORRUPT_MODEL, null, "cannot read the JSON: " + Weights.describe(e), null);
        }
        if (root == null || root.isMissingNode()) {
            throw corrupt("the file is empty", "expected a streamfold JSON model");
        }
        if (!root.isObject()) {
            throw corrupt("the top level is " + root.getNodeType().toString().toLowerCase(java.util.Locale.ROOT) + ", not an object",
                    "expected {\"format\": \"" + FORMAT + "\", ...}");
        }
        return (ObjectNode) root;
    }

    private static String where(JacksonException e) {
        JsonLocation loc = e.getLocation();
        if (loc == null || loc.getLineNr() < 1) {
            return "";
        }
        return " at line " + loc.getLineNr() + (loc.getColumnNr() > 0 ? ", column " + loc.getColumnNr() : "");
    }

    private static boolean truncated(JacksonException e) {
        String m = e.getOriginalMessage();
        return m != null && m.contains("end-of-input");
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unreadable";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** The layers as specs, checking names (present, unique, not the input's) and types. */
    private static List<LayerSpec> specs(JsonNode layers, String inputName) {
        List<LayerSpec> out = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < layers.size(); i++) {
            JsonNode j = layers.get(i);
            String label = "layers[" + i + "]";
            if (!j.isObject()) {
                throw new ModelException(Diagnostic.SF_CORRUPT_MODEL, label, "is " + j.getNodeType().toString().toLowerCase(java.util.Locale.ROOT)
                        + ", not an object", "a layer is {\"name\": ..., \"type\": ..., ...}");
            }
            JsonNode n = j.get("name");
            if (n == null || !n.isTextual() || n.asText().isEmpty()) {
                throw new ModelException(Diagnostic.SF_BAD_GRAPH, label, "has no \"name\"", "every layer needs a unique name");
            }
            String name = n.asText();
            if (name.equals(inputName)) {
                throw new ModelException(Diagnostic.SF_BAD_GRAPH, name, "a layer has the name of the model input", "rename one of them");
            }
            if (!names.add(name)) {
                throw new ModelException(Diagnostic.SF_BAD_GRAPH, name, "two layers have this name", "layer names must be unique");
            }
            JsonNode t = j.get("type");
            if (t == null || !t.isTextual() || t.asText().isEmpty()) {
                throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, name, "has no \"type\"", "e.g. \"type\": \"conv2d\"");
            }
            out.add(new LayerSpec((ObjectNode) j, name, t.asText()));
        }
        return out;
    }

    /**
     * The values a layer reads: {@code "inputs"} (a list) or {@code "input"} (one name), else the
     * previous layer. An add reads exactly two.
     */
    private static List<Layers.Value> inputs(LayerSpec l, int index, Layers.Value prev, Map<String, Layers.Value> values,
            Map<String, Integer> position) {
        JsonNode one = l.get("input");
        JsonNode many = l.get("inputs");
        if (one != null && many != null) {
            throw l.badAttribute("has both \"input\" and \"inputs\"", "give one");
        }
        List<String> refs = new ArrayList<>();
        if (many != null) {
            if (!many.isArray()) {
                throw l.badAttribute("\"inputs\" is " + many + ", expected a list of layer names", null);
            }
            for (JsonNode r : many) {
                if (!r.isTextual()) {
                    throw l.badAttribute("\"inputs\" is " + many + ", expected a list of layer names", null);
                }
                refs.add(r.asText());
            }
        } else if (one != null) {
            if (!one.isTextual()) {
                throw l.badAttribute("\"input\" is " + one + ", expected a layer name", null);
            }
            refs.add(one.asText());
        }
        int arity = Layers.isAdd(l) ? 2 : 1;
        if (refs.isEmpty() && arity == 1) {
            return List.of(prev);
        }
        if (refs.size() != arity) {
            throw l.badAttribute("has " + refs.size() + (refs.size() == 1 ? " input" : " inputs") + ", needs " + arity,
                    arity == 2 ? "an add layer reads \"inputs\": [a, b]" : "give \"input\": \"<layer>\"");
        }
        List<Layers.Value> out = new ArrayList<>();
        for (String r : refs) {
            Layers.Value v = values.get(r);
            if (v == null) {
                Integer at = position.get(r);
                String why = at == null ? "is neither the model input nor a layer"
                        : at == index ? "is this layer itself" : "is a later layer";
                throw new ModelException(Diagnostic.SF_BAD_GRAPH, l.name(), "input '" + r + "' " + why,
                        "an input must be the model input or an earlier layer");
            }
            out.add(v);
        }
        return out;
    }

    private static int[] inputShape(JsonNode shape, String inputName) {
        if (shape == null || !shape.isArray() || shape.size() == 0) {
            throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, inputName, "input \"shape\" is " + (shape == null ? "missing" : shape),
                    "give the shape without the batch axis, e.g. [1, 8, 8]");
        }
        List<Integer> dims = new ArrayList<>();
        for (int i = 0; i < shape.size(); i++) {
            JsonNode d = shape.get(i);
            boolean batch = i == 0 && shape.size() > 1 && (d.isNull() || (d.isInt() && d.asInt() == -1));
            if (batch) {
                continue; // a leading None / -1 is a batch axis, as Keras and ONNX write it
            }
            if (!d.isInt() || d.asInt() < 1) {
                throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, inputName, "input \"shape\" is " + shape,
                        "dimensions are positive integers, without the batch axis");
            }
            dims.add(d.asInt());
        }
        if (dims.size() > 3) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, inputName, "an input of rank " + dims.size() + " is not supported",
                    "inputs are (F), (C, L) or (C, H, W) without the batch axis");
        }
        return dims.stream().mapToInt(Integer::intValue).toArray();
    }

    private static void checkFields(JsonNode obj, Set<String> known, String node, String where) {
        for (Iterator<String> it = obj.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!known.contains(k) && !k.startsWith("_")) {
                throw new ModelException(Diagnostic.SF_CORRUPT_MODEL, node, "unknown field '" + k + "' in " + where,
                        "known fields: " + String.join(", ", new java.util.TreeSet<>(known)));
            }
        }
    }

    private static String text(JsonNode obj, String key, String dflt, String node) {
        JsonNode v = obj.get(key);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isTextual()) {
            throw new ModelException(Diagnostic.SF_CORRUPT_MODEL, node, "\"" + key + "\" is " + v + ", expected a string", null);
        }
        return v.asText();
    }

    private static ModelException corrupt(String reason, String hint) {
        return new ModelException(Diagnostic.SF_CORRUPT_MODEL, null, reason, hint);
    }
}
