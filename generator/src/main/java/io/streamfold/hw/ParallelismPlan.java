package io.streamfold.hw;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * How much hardware each layer gets: {@code PE} output lanes and {@code SIMD} input lanes for a
 * matrix-vector layer (multipliers = PE * SIMD), the elements per beat of the top-level input,
 * the FIFO depth between stages, and whether an argmax head follows the output.
 *
 * <p>The plan is a file a user can edit ({@link #toJson}, {@link #fromJson}):
 * <pre>
 * {
 *   "input_elems" : 8,
 *   "fifo_depth" : 2,
 *   "argmax" : false,
 *   "layers" : { "/0/Gemm" : { "pe" : 4, "simd" : 8 }, "/1/Conv" : { "pe" : 16, "simd" : 2, "pixels" : 2 } }
 * }
 * </pre>
 * Only {@code layers} is required; the others default to 1, 2 and false; a layer's
 * {@code pixels} defaults to 1 and is written only above 1. Whether a fold fits its
 * layer is checked when the plan is applied ({@link LowerToHardware}), naming the node.
 *
 * @param folds      by node name; a layer that is not listed gets PE = SIMD = 1
 * @param inputElems elements per {@code s_axis} beat
 * @param fifoDepth  depth of every FIFO, in beats (at least 2); residual skip paths get more
 * @param argmax     append an argmax head: the design outputs the index of the largest output
 */
public record ParallelismPlan(Map<String, Fold> folds, int inputElems, int fifoDepth, boolean argmax) {

    /**
     * Lanes of one layer. With {@code pixels} P above 1 a convolution computes P horizontally
     * adjacent output pixels per window ({@link Polyphase}), and PE and SIMD are the lanes of that
     * form: SIMD divides P times the input channels, PE P times the output channels.
     */
    public record Fold(int pe, int simd, int pixels) {
        public Fold {
            if (pe < 1 || simd < 1 || pixels < 1) {
                throw new ModelException(Diagnostic.SF_BAD_PLAN, null, "PE, SIMD and pixels must be >= 1, got " + pe + ", " + simd
                        + " and " + pixels, null);
            }
        }

        /** One pixel per window. */
        public Fold(int pe, int simd) {
            this(pe, simd, 1);
        }
    }

    /**
     * Deepest FIFO a plan may ask for: 2^20 beats is far beyond any useful buffering, and the
     * simulator holds every FIFO in memory.
     */
    public static final int MAX_FIFO_DEPTH = 1 << 20;

    public ParallelismPlan {
        folds = Map.copyOf(folds);
        if (inputElems < 1 || fifoDepth < 2 || fifoDepth > MAX_FIFO_DEPTH) {
            throw new ModelException(Diagnostic.SF_BAD_PLAN, null, "input elements " + inputElems + ", FIFO depth " + fifoDepth,
                    "need >= 1 element per beat and FIFOs of 2.." + MAX_FIFO_DEPTH + " beats");
        }
    }

    public ParallelismPlan(Map<String, Fold> folds, int inputElems, int fifoDepth) {
        this(folds, inputElems, fifoDepth, false);
    }

    /** One lane everywhere: the smallest design. */
    public static ParallelismPlan serial() {
        return new ParallelismPlan(Map.of(), 1, 2);
    }

    public Fold fold(String node) {
        return folds.getOrDefault(node, new Fold(1, 1));
    }

    /** The plan with {@code node} at PE x SIMD and one pixel per window. */
    public ParallelismPlan with(String node, int pe, int simd) {
        return with(node, new Fold(pe, simd));
    }

    public ParallelismPlan with(String node, Fold f) {
        java.util.Map<String, Fold> m = new java.util.HashMap<>(folds);
        m.put(node, f);
        return new ParallelismPlan(m, inputElems, fifoDepth, argmax);
    }

    public ParallelismPlan withInputElems(int n) {
        return new ParallelismPlan(folds, n, fifoDepth, argmax);
    }

    public ParallelismPlan withFifoDepth(int d) {
        return new ParallelismPlan(folds, inputElems, d, argmax);
    }

    public ParallelismPlan withArgmax(boolean on) {
        return new ParallelismPlan(folds, inputElems, fifoDepth, on);
    }

    // --- plan.json ---------------------------------------------------------------------------------

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** The plan as {@code plan.json} text (layers sorted by name, so the file is stable). */
    public String toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("input_elems", inputElems);
        root.put("fifo_depth", fifoDepth);
        root.put("argmax", argmax);
        ObjectNode layers = root.putObject("layers");
        for (Map.Entry<String, Fold> e : new TreeMap<>(folds).entrySet()) {
            ObjectNode l = layers.putObject(e.getKey());
            l.put("pe", e.getValue().pe());
            l.put("simd", e.getValue().simd());
            if (e.getValue().pixels() > 1) {
                l.put("pixels", e.getValue().pixels());
            }
        }
        try {
            return JSON.writeValueAsString(root) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Reads {@code plan.json} text. Malformed JSON, unknown keys and values that are not positive
     * integers are {@link Diagnostic#SF_BAD_PLAN} errors naming the layer they are in.
     */
    public static ParallelismPlan fromJson(String text) {
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new ModelException(Diagnostic.SF_BAD_PLAN, null, "the plan is not valid JSON: " + e.getOriginalMessage(),
                    "write it as convert does: {\"layers\": {\"<node>\": {\"pe\": 1, \"simd\": 1}}}");
        }
        if (root == null || !root.isObject()) {
            throw new ModelException(Diagnostic.SF_BAD_PLAN, null, "the plan must be a JSON object", null);
        }
        int inputElems = 1;
        int fifoDepth = 2;
        boolean argmax = false;
        Map<String, Fold> folds = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            switch (e.getKey()) {
                case "input_elems" -> inputElems = positive(e.getValue(), null, "input_elems");
                case "fifo_depth" -> fifoDepth = positive(e.getValue(), null, "fifo_depth");
                case "argmax" -> {
                    if (!e.getValue().isBoolean()) {
                        throw new ModelException(Diagnostic.SF_BAD_PLAN, null, "\"argmax\" must be true or false", null);
                    }
                    argmax = e.getValue().booleanValue();
                }
                case "layers" -> {
                    if (!e.getValue().isObject()) {
                        throw new ModelException(Diagnostic.SF_BAD_PLAN, null, "\"layers\" must map node names to {\"pe\", \"simd\"}", null);
                    }
                    for (Iterator<Map.Entry<String, JsonNode>> ls = e.getValue().fields(); ls.hasNext(); ) {
                        Map.Entry<String, JsonNode> l = ls.next();
                        folds.put(l.getKey(), fold(l.getKey(), l.getValue()));
                    }
                }
                default -> throw new ModelException(Diagnostic.SF_BAD_PLAN, null, "unknown key \"" + e.getKey() + "\"",
                        "keys are input_elems, fifo_depth, argmax, layers");
            }
        }
        if (fifoDepth < 2) {
            throw new ModelException(Diagnostic.SF_BAD_PLAN, null, "fifo_depth " + fifoDepth + " is below 2",
                    "a FIFO needs 2 beats so neighbouring stages both fire every cycle");
        }
        return new ParallelismPlan(folds, inputElems, fifoDepth, argmax);
    }

    private static Fold fold(String node, JsonNode v) {
        if (!v.isObject()) {
            throw new ModelException(Diagnostic.SF_BAD_PLAN, node, "a layer's plan must be {\"pe\": n, \"simd\": n} (and optionally \"pixels\": n)", null);
        }
        int pe = 1;
        int simd = 1;
        int pixels = 1;
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            switch (e.getKey()) {
                case "pe" -> pe = positive(e.getValue(), node, "pe");
                case "simd" -> simd = positive(e.getValue(), node, "simd");
                case "pixels" -> pixels = positive(e.getValue(), node, "pixels");
                default -> throw new ModelException(Diagnostic.SF_BAD_PLAN, node, "unknown key \"" + e.getKey() + "\"", "keys are pe, simd, pixels");
            }
        }
        return new Fold(pe, simd, pixels);
    }

    private static int positive(JsonNode v, String node, String key) {
        if (!v.canConvertToInt() || !v.isIntegralNumber() || v.intValue() < 1) {
            throw new ModelException(Diagnostic.SF_BAD_PLAN, node, "\"" + key + "\" must be a positive integer, got " + v, null);
        }
        return v.intValue();
    }
}
