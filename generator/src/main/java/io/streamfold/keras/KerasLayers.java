package io.streamfold.keras;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Translates Keras layers into layers of the streamfold JSON format ({@code docs/json-format.md}),
 * whose channels-last reading already has Keras semantics: Keras weight layouts, the Flatten order
 * of (H, W, C), TensorFlow's {@code "same"} padding, Keras BatchNormalization naming and epsilon.
 *
 * <p>One table maps a Keras class name to its translation and to the names of its weights in the
 * order Keras creates them (what a Keras 3 weights file numbers {@code vars/0, vars/1, ...}).
 * Only the config keys that change inference are read; initializers, regularizers, constraints,
 * dtype and {@code trainable} do not. A value streamfold cannot honour (channels_first data,
 * an unknown activation, dilation) is refused naming the layer.
 */
final class KerasLayers {

    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    /** Translates one layer: appends streamfold layers (usually one) to {@code out}. */
    private interface Translation {
        void translate(KerasConfig.Layer k, List<ObjectNode> out);
    }

    /** The weights of a layer, by their Keras names in creation order; empty for a layer without weights. */
    private interface Params {
        List<String> of(ObjectNode config);
    }

    private record Entry(Translation translation, Params params) {
    }

    private static final Map<String, Entry> CLASSES = new LinkedHashMap<>();

    private static final Params NONE = c -> List.of();

    private static void add(String className, Translation t, Params p) {
        CLASSES.put(className, new Entry(t, p));
    }

    static {
        Params kernelBias = c -> bool(c, "use_bias", true) ? List.of("kernel", "bias") : List.of("kernel");
        add("Dense", KerasLayers::dense, kernelBias);
        add("Conv1D", (k, out) -> conv(k, out, "conv1d"), kernelBias);
        add("Conv2D", (k, out) -> conv(k, out, "conv2d"), kernelBias);
        add("DepthwiseConv2D", KerasLayers::depthwise,
                c -> bool(c, "use_bias", true) ? List.of("depthwise_kernel", "bias") : List.of("depthwise_kernel"));
        add("BatchNormalization", KerasLayers::batchNorm, c -> {
            List<String> p = new ArrayList<>();
            if (bool(c, "scale", true)) {
                p.add("gamma");
            }
            if (bool(c, "center", true)) {
                p.add("beta");
            }
            p.add("moving_mean");
            p.add("moving_variance");
            return p;
        });
        add("Activation", (k, out) -> {
            ObjectNode l = layer(k, "activation");
            l.put("activation", activationName(k, k.config().get("activation")));
            out.add(l);
        }, NONE);
        add("ReLU", KerasLayers::relu, NONE);
        add("LeakyReLU", (k, out) -> {
            // Keras 2 calls the slope alpha, Keras 3 negative_slope; both default to 0.3.
            JsonNode a = KerasConfig.firstPresent(k.config(), "negative_slope", "alpha");
            out.add(layer(k, "leaky_relu").put("alpha", a == null ? 0.3 : number(k, a, "negative_slope")));
        }, NONE);
        add("ELU", (k, out) -> {
            JsonNode a = k.config().get("alpha");
            out.add(layer(k, "elu").put("alpha", a == null || a.isNull() ? 1.0 : number(k, a, "alpha")));
        }, NONE);
        add("Softmax", (k, out) -> {
            JsonNode a = k.config().get("axis");
            ObjectNode l = layer(k, "softmax");
            if (a != null && !a.isNull()) {
                l.set("axis", single(k, a, "axis"));
            } else {
                l.put("axis", -1);
            }
            out.add(l);
        }, NONE);
        add("MaxPooling1D", (k, out) -> pool(k, out, "maxpool1d"), NONE);
        add("MaxPooling2D", (k, out) -> pool(k, out, "maxpool2d"), NONE);
        add("AveragePooling1D", (k, out) -> pool(k, out, "avgpool1d"), NONE);
        add("AveragePooling2D", (k, out) -> pool(k, out, "avgpool2d"), NONE);
        add("GlobalAveragePooling1D", KerasLayers::globalAvgPool, NONE);
        add("GlobalAveragePooling2D", KerasLayers::globalAvgPool, NONE);
        add("Flatten", (k, out) -> {
            channelsLast(k);
            out.add(layer(k, "flatten"));
        }, NONE);
        add("Reshape", (k, out) -> {
            JsonNode t = k.config().get("target_shape");
            if (t == null || !t.isArray()) {
                throw bad(k, "'target_shape' is " + t, "a Reshape layer needs its target shape");
            }
            out.add((ObjectNode) layer(k, "reshape").set("shape", t.deepCopy()));
        }, NONE);
        add("Add", KerasLayers::add, NONE);
        // Identity at inference.
        for (String c : List.of("Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout")) {
            add(c, (k, out) -> out.add(layer(k, "dropout")), NONE);
        }
    }

    private KerasLayers() {
    }

    /** The supported Keras layer classes, for messages. */
    static String supported() {
        return "InputLayer, " + String.join(", ", CLASSES.keySet());
    }

    /** The weights the layer holds, by Keras name in creation order (empty if none). */
    static List<String> params(KerasConfig.Layer k) {
        return entry(k).params().of(k.config());
    }

    /** Appends the streamfold layers of one Keras layer. */
    static void translate(KerasConfig.Layer k, List<ObjectNode> out) {
        entry(k).translation().translate(k, out);
    }

    private static Entry entry(KerasConfig.Layer k) {
        Entry e = CLASSES.get(k.className());
        if (e == null) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null, k.name(), "the Keras layer " + k.className() + " is not supported",
                    "supported: " + supported());
        }
        return e;
    }

    // ------------------------------------------------------------------------------ layers

    private static void dense(KerasConfig.Layer k, List<ObjectNode> out) {
        ObjectNode l = layer(k, "dense");
        l.set("units", required(k, "units"));
        l.put("use_bias", bool(k.config(), "use_bias", true));
        activation(k, l);
        out.add(l);
    }

    private static void conv(KerasConfig.Layer k, List<ObjectNode> out, String type) {
        channelsLast(k);
        ObjectNode l = layer(k, type);
        l.set("filters", required(k, "filters"));
        l.set("kernel_size", required(k, "kernel_size"));
        copy(k, l, "strides", "padding", "dilation_rate");
        JsonNode groups = k.config().get("groups");
        if (groups != null && !groups.isNull()) {
            l.set("groups", groups);
        }
        l.put("use_bias", bool(k.config(), "use_bias", true));
        activation(k, l);
        out.add(l);
    }

    private static void depthwise(KerasConfig.Layer k, List<ObjectNode> out) {
        channelsLast(k);
        ObjectNode l = layer(k, "depthwise_conv2d");
        l.set("kernel_size", required(k, "kernel_size"));
        copy(k, l, "strides", "padding", "dilation_rate", "depth_multiplier");
        l.put("use_bias", bool(k.config(), "use_bias", true));
        activation(k, l);
        out.add(l);
    }

    private static void batchNorm(KerasConfig.Layer k, List<ObjectNode> out) {
        ObjectNode c = k.config();
        if (bool(c, "renorm", false)) {
            throw unsupported(k, "batch renormalization (renorm: true) is not supported", null);
        }
        JsonNode vbs = c.get("virtual_batch_size");
        if (vbs != null && !vbs.isNull()) {
            throw unsupported(k, "virtual_batch_size is not supported", null);
        }
        ObjectNode l = layer(k, "batchnorm");
        JsonNode eps = c.get("epsilon");
        // Keras' default, written out so the streamfold reader cannot take another framework's.
        l.put("epsilon", eps == null || eps.isNull() ? 1e-3 : number(k, eps, "epsilon"));
        l.put("center", bool(c, "center", true));
        l.put("scale", bool(c, "scale", true));
        JsonNode axis = c.get("axis");
        if (axis != null && !axis.isNull()) {
            l.set("axis", single(k, axis, "axis"));
        }
        out.add(l);
    }

    private static void relu(KerasConfig.Layer k, List<ObjectNode> out) {
        ObjectNode c = k.config();
        double slope = optNumber(k, "negative_slope", 0);
        double threshold = optNumber(k, "threshold", 0);
        JsonNode max = c.get("max_value");
        boolean capped = max != null && !max.isNull();
        if (threshold != 0) {
            throw unsupported(k, "ReLU with threshold " + threshold + " is not supported", "only threshold 0");
        }
        if (slope != 0) {
            if (capped) {
                throw unsupported(k, "ReLU with both negative_slope and max_value is not supported", null);
            }
            out.add(layer(k, "leaky_relu").put("alpha", slope));
            return;
        }
        ObjectNode l = layer(k, "relu");
        if (capped) {
            l.put("max_value", number(k, max, "max_value"));
        }
        out.add(l);
    }

    private static void pool(KerasConfig.Layer k, List<ObjectNode> out, String type) {
        channelsLast(k);
        ObjectNode l = layer(k, type);
        l.set("pool_size", required(k, "pool_size"));
        copy(k, l, "strides", "padding");
        out.add(l);
    }

    private static void globalAvgPool(KerasConfig.Layer k, List<ObjectNode> out) {
        channelsLast(k);
        out.add(layer(k, "global_avgpool").put("keepdims", bool(k.config(), "keepdims", false)));
    }

    /** Keras' Add sums any number of inputs; the IR adds two, so more become a chain named {@code <name>/add<i>}. */
    private static void add(KerasConfig.Layer k, List<ObjectNode> out) {
        List<String> ins = k.inputs();
        if (ins.size() < 2) {
            throw new ModelException(Diagnostic.SF_BAD_GRAPH, null, k.name(), "Add reads " + ins.size() + " tensor", "it needs at least two");
        }
        String acc = ins.get(0);
        for (int i = 1; i < ins.size(); i++) {
            String name = i == ins.size() - 1 ? k.name() : k.name() + "/add" + i;
            ObjectNode l = F.objectNode();
            l.put("name", name);
            l.put("type", "add");
            ArrayNode pair = l.putArray("inputs");
            pair.add(acc);
            pair.add(ins.get(i));
            out.add(l);
            acc = name;
        }
    }

    // ----------------------------------------------------------------------------- helpers

    /** A streamfold layer of the given type reading the Keras layer's (single) input. */
    private static ObjectNode layer(KerasConfig.Layer k, String type) {
        if (k.inputs().size() != 1) {
            throw new ModelException(Diagnostic.SF_BAD_GRAPH, null, k.name(), "a " + k.className() + " reads " + k.inputs().size() + " tensors",
                    "it reads one");
        }
        ObjectNode l = F.objectNode();
        l.put("name", k.name());
        l.put("type", type);
        l.put("input", k.inputs().get(0));
        return l;
    }

    /** A layer's {@code activation=}: absent or linear adds nothing; the streamfold reader adds the node and rejects unknown ones. */
    private static void activation(KerasConfig.Layer k, ObjectNode l) {
        JsonNode a = k.config().get("activation");
        if (a == null || a.isNull()) {
            return;
        }
        String name = activationName(k, a);
        if (!name.equals("linear")) {
            l.put("activation", name);
        }
    }

    /** A built-in activation's name; Keras 3 may write it as {@code {"class_name": "function", "config": "relu"}}. */
    private static String activationName(KerasConfig.Layer k, JsonNode a) {
        if (a != null && a.isTextual()) {
            return a.asText();
        }
        boolean builtIn = a != null && a.isObject() && a.path("config").isTextual()
                && (!a.path("registered_name").isTextual() || a.get("registered_name").asText().equals("function"));
        if (builtIn) {
            return a.get("config").asText();
        }
        throw unsupported(k, "activation " + KerasConfig.abbreviate(a) + " is not supported", "built-in activations are given by name");
    }

    /** Refuses data_format channels_first: streamfold reads Keras models channels last. */
    private static void channelsLast(KerasConfig.Layer k) {
        JsonNode f = k.config().get("data_format");
        if (f != null && !f.isNull() && !f.asText().equals("channels_last")) {
            throw unsupported(k, "data_format '" + f.asText() + "' is not supported", "Keras models are read channels_last");
        }
    }

    private static void copy(KerasConfig.Layer k, ObjectNode l, String... keys) {
        for (String key : keys) {
            JsonNode v = k.config().get(key);
            if (v != null && !v.isNull()) {
                l.set(key, v.deepCopy());
            }
        }
    }

    private static JsonNode required(KerasConfig.Layer k, String key) {
        JsonNode v = k.config().get(key);
        if (v == null || v.isNull()) {
            throw bad(k, "'" + key + "' is missing", "a " + k.className() + " layer needs it");
        }
        return v.deepCopy();
    }

    /** An integer axis; Keras 2 sometimes writes a one-element list. */
    private static JsonNode single(KerasConfig.Layer k, JsonNode v, String key) {
        if (v.isInt()) {
            return v;
        }
        if (v.isArray() && v.size() == 1 && v.get(0).isInt()) {
            return v.get(0);
        }
        throw unsupported(k, key + " " + v + " is not supported", "only one axis, the channels");
    }

    static boolean bool(ObjectNode c, String key, boolean dflt) {
        JsonNode v = c.get(key);
        return v == null || v.isNull() ? dflt : v.asBoolean(dflt);
    }

    private static double optNumber(KerasConfig.Layer k, String key, double dflt) {
        JsonNode v = k.config().get(key);
        return v == null || v.isNull() ? dflt : number(k, v, key);
    }

    private static double number(KerasConfig.Layer k, JsonNode v, String key) {
        if (!v.isNumber()) {
            throw bad(k, "'" + key + "' is " + v + ", expected a number", null);
        }
        return v.asDouble();
    }

    private static ModelException bad(KerasConfig.Layer k, String reason, String hint) {
        return new ModelException(Diagnostic.SF_BAD_ATTRIBUTE, null, k.name(), reason, hint);
    }

    private static ModelException unsupported(KerasConfig.Layer k, String reason, String hint) {
        return new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null, k.name(), reason, hint);
    }
}
