package io.streamfold.keras;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a Keras model configuration (the architecture JSON of {@code model.to_json()}, the
 * {@code model_config} attribute of a full-model .h5, the {@code config.json} of a .keras archive)
 * into one input, its layers in an order where every layer comes after its inputs, and one output.
 *
 * <p>Both generations of the format are read: Keras 2 (a Sequential's {@code config} a list of
 * layers in Keras 2.0/2.1, or {@code {"name", "layers"}}; a functional model's
 * {@code inbound_nodes} as {@code [[[layer, node, tensor, kwargs], ...]]}) and Keras 3
 * ({@code inbound_nodes} as {@code [{"args": [...], "kwargs": {...}}]} holding
 * {@code __keras_tensor__} objects, {@code batch_shape} on the InputLayer). A layer called more
 * than once (a shared layer), a nested model, several inputs or outputs are refused.
 */
final class KerasConfig {

    /** One layer: its class, its own config, and the names of the layers it reads (in order). */
    record Layer(String name, String className, ObjectNode config, List<String> inputs) {
    }

    /**
     * The architecture. {@code configOrder} lists every layer's class in the order of the config
     * (the order Keras 3 numbers its weight groups by); {@code layers} excludes the input and is in
     * dependency order, the output last.
     */
    record Arch(String name, String inputName, int[] inputShape, List<Layer> layers, List<Layer> configOrder) {
    }

    private static final Set<String> MODEL_CLASSES = Set.of("Sequential", "Model", "Functional");

    private KerasConfig() {
    }

    /** Whether a parsed JSON document is a Keras model configuration rather than another JSON file. */
    static boolean isModelConfig(JsonNode root) {
        return root != null && root.isObject() && root.path("class_name").isTextual() && root.has("config") && !root.has("format");
    }

    static Arch parse(JsonNode root) {
        if (!isModelConfig(root)) {
            throw corrupt("not a Keras model configuration (no \"class_name\" and \"config\" at the top level)");
        }
        String cls = root.get("class_name").asText();
        JsonNode config = root.get("config");
        if (cls.equals("Sequential")) {
            return sequential(config);
        }
        if (cls.equals("Model") || cls.equals("Functional")) {
            return functional(config);
        }
        throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null, "the model class '" + cls + "' is not supported",
                "streamfold reads Sequential and functional (Model, Functional) Keras models");
    }

    // ------------------------------------------------------------------------------- Sequential

    private static Arch sequential(JsonNode config) {
        JsonNode list;
        String name;
        if (config.isArray()) { // Keras 2.0 and 2.1 write the list of layers directly
            list = config;
            name = "sequential";
        } else if (config.isObject() && config.path("layers").isArray()) {
            list = config.get("layers");
            name = config.path("name").asText("sequential");
        } else {
            throw corrupt("the Sequential model's \"config\" is neither a list of layers nor an object with \"layers\"");
        }
        List<Layer> all = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            all.add(layer(list.get(i), i, false));
        }
        if (all.isEmpty()) {
            throw corrupt("the Sequential model has no layers");
        }
        String inputName;
        int[] shape;
        int first = 0;
        if (all.get(0).className().equals("InputLayer")) {
            inputName = all.get(0).name();
            shape = inputShape(all.get(0), all.get(0).config());
            first = 1;
        } else {
            Layer l0 = all.get(0);
            inputName = l0.name() + "_input"; // the name Keras gives the implicit input layer
            JsonNode declared = firstPresent(l0.config(), "batch_input_shape", "batch_shape");
            if (declared == null && config.isObject()) {
                declared = config.get("build_input_shape");
            }
            if (declared == null || !declared.isArray()) {
                throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, null, l0.name(), "the model's input shape is unknown",
                        "the first layer of a Sequential model needs batch_input_shape, or an InputLayer must come first");
            }
            shape = dims(declared, true, l0.name());
        }
        List<Layer> layers = new ArrayList<>();
        String prev = inputName;
        for (int i = first; i < all.size(); i++) {
            Layer l = all.get(i);
            if (l.className().equals("InputLayer")) {
                throw new ModelException(Diagnostic.SF_BAD_GRAPH, null, l.name(), "an InputLayer inside a Sequential model",
                        "only the first layer may be an InputLayer");
            }
            Layer chained = new Layer(l.name(), l.className(), l.config(), List.of(prev));
            layers.add(chained);
            prev = l.name();
        }
        checkUnique(all, inputName);
        return new Arch(name, inputName, shape, layers, all);
    }

    // ------------------------------------------------------------------------------- functional

    private static Arch functional(JsonNode config) {
        if (!config.isObject() || !config.path("layers").isArray()) {
            throw corrupt("the functional model's \"config\" has no \"layers\" list");
        }
        JsonNode list = config.get("layers");
        List<Layer> all = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            all.add(layer(list.get(i), i, true));
        }
        String name = config.path("name").asText("model");
        List<String> ins = endpoints(config.get("input_layers"), "input_layers");
        List<String> outs = endpoints(config.get("output_layers"), "output_layers");
        if (ins.size() != 1 || outs.size() != 1) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null, "the model has " + ins.size() + " inputs and " + outs.size() + " outputs",
                    "streamfold compiles models with one input and one output");
        }
        Map<String, Layer> byName = new LinkedHashMap<>();
        for (Layer l : all) {
            if (byName.put(l.name(), l) != null) {
                throw new ModelException(Diagnostic.SF_BAD_GRAPH, null, l.name(), "two layers have this name", "Keras layer names are unique");
            }
        }
        Layer input = byName.get(ins.get(0));
        if (input == null || !input.className().equals("InputLayer")) {
            throw new ModelException(Diagnostic.SF_BAD_GRAPH, null, ins.get(0), "the model input is not an InputLayer of the model", null);
        }
        String output = outs.get(0);
        if (!byName.containsKey(output)) {
            throw new ModelException(Diagnostic.SF_BAD_GRAPH, null, output, "the model output is not a layer of the model", null);
        }
        for (Layer l : all) {
            if (l.className().equals("InputLayer") && l != input) {
                throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null, l.name(), "a second InputLayer",
                        "streamfold compiles models with one input");
            }
            for (String r : l.inputs()) {
                if (!byName.containsKey(r)) {
                    throw new ModelException(Diagnostic.SF_BAD_GRAPH, null, l.name(), "reads '" + r + "', which is not a layer of the model", null);
                }
            }
            if (l != input && l.inputs().isEmpty()) {
                throw new ModelException(Diagnostic.SF_BAD_GRAPH, null, l.name(), "has no inbound node", "it is never called in the model");
            }
        }
        List<Layer> ordered = topological(all, byName, input, output);
        return new Arch(name, input.name(), inputShape(input, input.config()), ordered, all);
    }

    /**
     * Every layer but the input, each after the layers it reads, ties in config order; a layer that
     * does not lead to the output is refused (Keras only lists layers between input and output, so
     * this means a malformed file).
     */
    private static List<Layer> topological(List<Layer> all, Map<String, Layer> byName, Layer input, String output) {
        Set<String> needed = new HashSet<>();
        Deque<String> todo = new ArrayDeque<>(List.of(output));
        while (!todo.isEmpty()) {
            String n = todo.pop();
            if (needed.add(n)) {
                todo.addAll(byName.get(n).inputs());
            }
        }
        for (Layer l : all) {
            if (!needed.contains(l.name())) {
                throw new ModelException(Diagnostic.SF_BAD_GRAPH, null, l.name(), "does not lead to the model output '" + output + "'", null);
            }
        }
        List<Layer> out = new ArrayList<>();
        Set<String> done = new HashSet<>(List.of(input.name()));
        while (done.size() < all.size()) {
            boolean progress = false;
            for (Layer l : all) {
                if (!done.contains(l.name()) && done.containsAll(l.inputs())) {
                    out.add(l);
                    done.add(l.name());
                    progress = true;
                    break; // restart, so that ties keep the config order
                }
            }
            if (!progress) {
                throw new ModelException(Diagnostic.SF_BAD_GRAPH, null, null, "the layers' inbound nodes form a cycle", null);
            }
        }
        if (!out.get(out.size() - 1).name().equals(output)) {
            throw new ModelException(Diagnostic.SF_BAD_GRAPH, null, output, "the output layer is read by another layer", null);
        }
        return out;
    }

    /** {@code input_layers}/{@code output_layers}: {@code [[name, 0, 0], ...]}, a single {@code [name, 0, 0]}, or a dict of them. */
    private static List<String> endpoints(JsonNode n, String field) {
        if (n == null || n.isNull()) {
            throw corrupt("the functional model has no \"" + field + "\"");
        }
        List<String> out = new ArrayList<>();
        if (n.isArray() && n.size() > 0 && n.get(0).isTextual()) {
            out.add(history(n, field));
            return out;
        }
        Iterable<JsonNode> items = n.isObject() ? n::elements : n;
        for (JsonNode e : items) {
            out.add(history(e, field));
        }
        return out;
    }

    /** A tensor reference {@code [layer, node, tensor, ...]}: only node 0 and tensor 0 exist without shared or multi-output layers. */
    private static String history(JsonNode h, String where) {
        if (!h.isArray() || h.size() < 3 || !h.get(0).isTextual() || !h.get(1).isInt() || !h.get(2).isInt()) {
            throw corrupt("a tensor reference in " + where + " is " + abbreviate(h) + ", expected [layer, node_index, tensor_index]");
        }
        if (h.get(1).asInt() != 0 || h.get(2).asInt() != 0) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null, h.get(0).asText(), where + " reads output " + h.get(2).asInt()
                    + " of call " + h.get(1).asInt() + " of this layer", "shared layers and layers with several outputs are not supported");
        }
        return h.get(0).asText();
    }

    private static Layer layer(JsonNode j, int index, boolean functional) {
        if (!j.isObject() || !j.path("class_name").isTextual() || !j.path("config").isObject()) {
            throw corrupt("layer " + index + " is " + abbreviate(j) + ", expected {\"class_name\": ..., \"config\": {...}}");
        }
        String cls = j.get("class_name").asText();
        ObjectNode config = (ObjectNode) j.get("config");
        String name = j.path("name").isTextual() ? j.get("name").asText() : config.path("name").asText(null);
        if (name == null || name.isEmpty()) {
            throw corrupt("layer " + index + " (" + cls + ") has no name");
        }
        if (MODEL_CLASSES.contains(cls)) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null, name, "a nested model (" + cls + ") is not supported",
                    "flatten the model into one Sequential or functional model before saving");
        }
        if (j.path("registered_name").isTextual() && !j.get("registered_name").asText().equals(cls)) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null, name, "the custom layer '" + j.get("registered_name").asText()
                    + "' is not supported", null);
        }
        List<String> inputs = new ArrayList<>();
        if (functional) {
            JsonNode nodes = j.get("inbound_nodes");
            if (nodes != null && !nodes.isNull()) {
                if (!nodes.isArray()) {
                    throw corrupt(name + ": \"inbound_nodes\" is not a list");
                }
                if (nodes.size() > 1) {
                    throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null, name, "the layer is called " + nodes.size() + " times (a shared layer)",
                            "streamfold needs every layer to be used once");
                }
                if (nodes.size() == 1) {
                    inboundNode(nodes.get(0), name, inputs);
                }
            }
        }
        return new Layer(name, cls, config, List.copyOf(inputs));
    }

    /** The layers one call reads: Keras 2 {@code [[layer, node, tensor, kwargs], ...]} or Keras 3 {@code {"args": [...], "kwargs": {...}}}. */
    private static void inboundNode(JsonNode node, String layer, List<String> out) {
        String where = layer + ": inbound_nodes";
        if (node.isArray()) {
            for (JsonNode ref : node) {
                out.add(history(ref, where));
            }
            return;
        }
        if (node.isObject() && node.has("args")) {
            collectTensors(node.get("args"), where, out);
            List<String> inKwargs = new ArrayList<>();
            collectTensors(node.path("kwargs"), where, inKwargs);
            if (!inKwargs.isEmpty()) {
                throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null, layer, "reads a tensor through a keyword argument (e.g. a mask)",
                        "only positional inputs are supported");
            }
            return;
        }
        throw corrupt(where + " holds " + abbreviate(node) + ", expected a list of tensor references or {\"args\": ...}");
    }

    private static void collectTensors(JsonNode n, String where, List<String> out) {
        if (n == null || n.isNull()) {
            return;
        }
        if (n.isObject() && "__keras_tensor__".equals(n.path("class_name").asText(null))) {
            out.add(history(n.path("config").path("keras_history"), where));
            return;
        }
        if (n.isArray() || n.isObject()) {
            for (JsonNode c : n) {
                collectTensors(c, where, out);
            }
        }
    }

    /** The input shape without the batch axis: {@code batch_shape} (Keras 3), {@code batch_input_shape} (Keras 2) or {@code shape}. */
    private static int[] inputShape(Layer l, ObjectNode config) {
        JsonNode batch = firstPresent(config, "batch_shape", "batch_input_shape");
        if (batch != null) {
            return dims(batch, true, l.name());
        }
        JsonNode shape = firstPresent(config, "shape", "input_shape");
        if (shape != null) {
            return dims(shape, false, l.name());
        }
        throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, null, l.name(), "the InputLayer gives no shape", "expected batch_shape or batch_input_shape");
    }

    private static int[] dims(JsonNode shape, boolean withBatch, String layer) {
        if (!shape.isArray() || shape.size() < (withBatch ? 2 : 1)) {
            throw new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, null, layer, "input shape " + shape + " is not a list of dimensions", null);
        }
        int[] d = new int[shape.size() - (withBatch ? 1 : 0)];
        for (int i = 0; i < d.length; i++) {
            JsonNode v = shape.get(i + (withBatch ? 1 : 0));
            if (!v.isInt() || v.asInt() < 1) {
                throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null, layer, "input shape " + shape + " has an unknown or invalid dimension",
                        "streamfold needs a fixed input shape; only the batch axis may be None");
            }
            d[i] = v.asInt();
        }
        return d;
    }

    private static void checkUnique(List<Layer> all, String inputName) {
        Map<String, Integer> seen = new HashMap<>();
        seen.put(inputName, -1);
        for (int i = 0; i < all.size(); i++) {
            Integer before = seen.put(all.get(i).name(), i);
            if (before != null && !(i == 0 && before == -1)) {
                throw new ModelException(Diagnostic.SF_BAD_GRAPH, null, all.get(i).name(), "two layers have this name", "Keras layer names are unique");
            }
        }
    }

    static JsonNode firstPresent(JsonNode obj, String... keys) {
        for (String k : keys) {
            JsonNode v = obj.get(k);
            if (v != null && !v.isNull()) {
                return v;
            }
        }
        return null;
    }

    static String abbreviate(JsonNode n) {
        String s = String.valueOf(n);
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }

    private static ModelException corrupt(String reason) {
        return new ModelException(Diagnostic.SF_CORRUPT_MODEL, null, null, reason, null);
    }
}
