package io.streamfold.quant;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Settings of the {@link Quantize} pass: default widths, how weight formats and activation ranges
 * are chosen, and per-layer overrides.
 *
 * @param weightBits   width of weights and affine scales (default 8)
 * @param actBits      width of activations, i.e. of every value between nodes (default 8)
 * @param perChannel   one weight frac per output channel instead of one per tensor (default on:
 *                     a layer with a few small-weight channels loses them in a per-tensor format;
 *                     off keeps one requantization shift per layer in hardware)
 * @param calibration  how a value's range is estimated from the calibration samples (default {@link CalibrationMethod#AUTO})
 * @param percentile   the percentile of |value| used by {@link CalibrationMethod#PERCENTILE} and tried by
 *                     {@link CalibrationMethod#AUTO} (default 99.99)
 * @param lutIndexBits largest LUT index width (default 10: tables of at most 1024 entries)
 * @param constBits    width of scalar constants: LeakyRelu slopes and average-pooling reciprocals
 *                     (default 16)
 * @param layers       overrides by node name
 * @param input        override of the graph input's format, or null
 * @param overridesFile the file the overrides were read from (errors about them name it), or null
 */
public record QuantConfig(int weightBits, int actBits, boolean perChannel, CalibrationMethod calibration, double percentile,
                          int lutIndexBits, int constBits, Map<String, LayerOverride> layers, LayerOverride input, String overridesFile) {

    /**
     * Largest |frac| an override may give: beyond it the requantization shifts (and so the RTL's
     * wires) grow by hundreds of bits while every value saturates or rounds to zero.
     */
    public static final int MAX_FRAC = 2 * QFormat.MAX_BITS;

    /** How a value's range is estimated over the calibration samples. */
    public enum CalibrationMethod {
        /** The largest |value| seen. */
        MAX_ABS,
        /** A percentile of |value| over all elements and samples: ignores rare outliers. */
        PERCENTILE,
        /** The format whose clip and round has the smallest mean squared error on the observed values. */
        MSE,
        /**
         * Each of the others in turn, keeping the one whose quantized graph agrees best with the float
         * reference on the calibration samples (see {@link AutoCalibration}).
         */
        AUTO
    }

    /**
     * Overrides for one node: its output (activation) format and its weight width. Null fields
     * keep the defaults; an activation width without a frac gets its frac from calibration.
     */
    public record LayerOverride(Integer actBits, Integer actFrac, Integer weightBits) {
        public LayerOverride {
            checkBits(actBits, "act bits");
            checkBits(weightBits, "weight_bits");
            if (actFrac != null && (actFrac < -MAX_FRAC || actFrac > MAX_FRAC)) {
                throw new ModelException(Diagnostic.SF_BAD_QUANT, null, "frac " + actFrac + " is outside -" + MAX_FRAC + ".." + MAX_FRAC, null);
            }
        }
    }

    public QuantConfig {
        layers = Map.copyOf(layers);
        checkBits(weightBits, "weight bits");
        checkBits(actBits, "activation bits");
        checkBits(constBits, "constant bits");
        if (lutIndexBits < 1 || lutIndexBits > Lut.MAX_INDEX_BITS) {
            throw new ModelException(Diagnostic.SF_BAD_QUANT, null, "LUT index width " + lutIndexBits + " is outside 1.." + Lut.MAX_INDEX_BITS, null);
        }
        if (!(percentile > 0 && percentile <= 100)) {
            throw new ModelException(Diagnostic.SF_BAD_QUANT, null, "percentile " + percentile + " is outside (0, 100]", null);
        }
    }

    /**
     * 8-bit weights and activations, per-channel weights, automatic calibration (the best of max-abs,
     * percentile 99.99 and MSE on the calibration samples, see {@link AutoCalibration}), 10-bit LUT
     * index (see {@link #withBits}).
     */
    public static QuantConfig defaults() {
        return new QuantConfig(8, 8, true, CalibrationMethod.AUTO, 99.99, 10, 16, Map.of(), null, null);
    }

    /** New widths; the table index width follows the activations ({@link #defaultLutIndexBits}). */
    public QuantConfig withBits(int weight, int act) {
        return new QuantConfig(weight, act, perChannel, calibration, percentile, defaultLutIndexBits(act), constBits, layers, input,
                overridesFile);
    }

    /**
     * The table index width for activations of {@code actBits}: 10 up to 14-bit activations (tables of
     * at most 1,024 entries, exact for inputs up to 10 bits), 12 from 16 bits, where a 10-bit index
     * is too coarse for softmax to tell close logits apart (ties cost top-1 agreement on real models).
     */
    public static int defaultLutIndexBits(int actBits) {
        return Math.max(10, Math.min(12, actBits - 4));
    }

    public QuantConfig withPerChannel(boolean on) {
        return new QuantConfig(weightBits, actBits, on, calibration, percentile, lutIndexBits, constBits, layers, input, overridesFile);
    }

    public QuantConfig withMaxAbs() {
        return withCalibration(CalibrationMethod.MAX_ABS);
    }

    /** Another calibration method (the percentile stays, for {@link CalibrationMethod#PERCENTILE} and {@link CalibrationMethod#AUTO}). */
    public QuantConfig withCalibration(CalibrationMethod method) {
        return new QuantConfig(weightBits, actBits, perChannel, method, percentile, lutIndexBits, constBits, layers, input, overridesFile);
    }

    public QuantConfig withPercentile(double p) {
        return new QuantConfig(weightBits, actBits, perChannel, CalibrationMethod.PERCENTILE, p, lutIndexBits, constBits, layers, input, overridesFile);
    }

    public QuantConfig withLutIndexBits(int n) {
        return new QuantConfig(weightBits, actBits, perChannel, calibration, percentile, n, constBits, layers, input, overridesFile);
    }

    public QuantConfig withConstBits(int n) {
        return new QuantConfig(weightBits, actBits, perChannel, calibration, percentile, lutIndexBits, n, layers, input, overridesFile);
    }

    public QuantConfig withOverrides(Map<String, LayerOverride> newLayers, LayerOverride newInput) {
        return new QuantConfig(weightBits, actBits, perChannel, calibration, percentile, lutIndexBits, constBits, newLayers, newInput, overridesFile);
    }

    /** The same settings, their overrides attributed to {@code file} in errors. */
    public QuantConfig withOverridesFile(String file) {
        return new QuantConfig(weightBits, actBits, perChannel, calibration, percentile, lutIndexBits, constBits, layers, input, file);
    }

    /** The override of a node, or null. */
    public LayerOverride layer(String node) {
        return layers.get(node);
    }

    /** Applies the overrides of a JSON file (see {@link #withOverrides(String, String)}). */
    public QuantConfig withOverrides(Path json) throws IOException {
        try {
            return withOverrides(Files.readString(json), json.toString()).withOverridesFile(json.toString());
        } catch (ModelException e) {
            throw e.inFile(json.toString());
        }
    }

    /**
     * Applies overrides written as
     * <pre>{"input": {"bits": 8, "frac": 7},
     *  "layers": {"conv1": {"act": {"bits": 12, "frac": 7}, "weight_bits": 10}}}</pre>
     * The graph input may also be given as {@code "input"} inside {@code "layers"}. Unknown keys
     * are errors; node names are checked against the graph by {@link Quantize}.
     */
    public QuantConfig withOverrides(String json, String source) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (JsonProcessingException e) {
            throw new ModelException(Diagnostic.SF_BAD_QUANT, source, null, "not valid JSON: " + e.getOriginalMessage(), null);
        }
        if (root == null || !root.isObject()) {
            throw new ModelException(Diagnostic.SF_BAD_QUANT, source, null, "the quantization settings must be a JSON object", null);
        }
        checkKeys(root, Set.of("layers", "input"), null);
        Map<String, LayerOverride> newLayers = new LinkedHashMap<>(layers);
        LayerOverride newInput = input;
        if (root.has("input")) {
            newInput = parseOverride("input", root.get("input"), true);
        }
        JsonNode ls = root.get("layers");
        if (ls != null) {
            if (!ls.isObject()) {
                throw new ModelException(Diagnostic.SF_BAD_QUANT, null, "\"layers\" must be an object of node name -> settings");
            }
            for (Map.Entry<String, JsonNode> e : ls.properties()) {
                newLayers.put(e.getKey(), parseOverride(e.getKey(), e.getValue(), false));
            }
        }
        return withOverrides(newLayers, newInput);
    }

    private static LayerOverride parseOverride(String node, JsonNode n, boolean isInput) {
        if (!n.isObject()) {
            throw new ModelException(Diagnostic.SF_BAD_QUANT, node, "settings must be a JSON object");
        }
        if (isInput) {
            // The top-level "input" is a format itself: {"bits": 8, "frac": 7}.
            checkKeys(n, Set.of("bits", "frac"), node);
            Integer bits = intField(n, "bits", node);
            Integer frac = intField(n, "frac", node);
            try {
                return new LayerOverride(bits, frac, null);
            } catch (ModelException e) {
                throw new ModelException(Diagnostic.SF_BAD_QUANT, node, e.reason(), e.hint());
            }
        }
        checkKeys(n, Set.of("act", "weight_bits"), node);
        Integer bits = null;
        Integer frac = null;
        JsonNode act = n.get("act");
        if (act != null) {
            if (!act.isObject()) {
                throw new ModelException(Diagnostic.SF_BAD_QUANT, node, "\"act\" must be an object like {\"bits\": 12, \"frac\": 7}");
            }
            checkKeys(act, Set.of("bits", "frac"), node);
            bits = intField(act, "bits", node);
            frac = intField(act, "frac", node);
        }
        Integer weightBits = intField(n, "weight_bits", node);
        try {
            return new LayerOverride(bits, frac, weightBits);
        } catch (ModelException e) {
            throw new ModelException(Diagnostic.SF_BAD_QUANT, node, e.reason(), e.hint());
        }
    }

    private static Integer intField(JsonNode n, String key, String node) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new ModelException(Diagnostic.SF_BAD_QUANT, node, "\"" + key + "\" must be an integer, got " + v);
        }
        return v.intValue();
    }

    private static void checkKeys(JsonNode n, Set<String> allowed, String node) {
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!allowed.contains(k)) {
                throw new ModelException(Diagnostic.SF_BAD_QUANT, node, "unknown setting \"" + k + "\"", "expected one of " + allowed);
            }
        }
    }

    private static void checkBits(Integer bits, String what) {
        if (bits != null && (bits < 1 || bits > QFormat.MAX_BITS)) {
            throw new ModelException(Diagnostic.SF_BAD_QUANT, null, what + " " + bits + " is outside 1.." + QFormat.MAX_BITS, null);
        }
    }
}
