package io.streamfold.keras;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.streamfold.data.NdArray;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A Keras model written twice for tests: as a Keras configuration (Keras 2 or Keras 3 style, with
 * weights for .h5/.keras files) and, by hand, as the streamfold JSON model it must mean. Reading
 * both must give the same graph; the JSON format's channels-last semantics are tested on their own
 * (against PyTorch and ONNX Runtime), so this checks the Keras translation and the weight mapping.
 */
final class KerasTestModel {

    static final ObjectMapper MAPPER = new ObjectMapper();

    /** One layer: Keras class, name, config (without name), inputs; its streamfold equivalent; its weights. */
    private record Layer(String cls, String name, ObjectNode config, List<String> inputs, List<ObjectNode> streamfold,
                         KerasTestFiles.LayerWeights weights) {
    }

    private final String inputName;
    private final int[] inputShape;
    private final boolean sequential;
    private final List<Layer> layers = new ArrayList<>();
    private final Random rnd = new Random(7);

    KerasTestModel(String inputName, boolean sequential, int... inputShape) {
        this.inputName = inputName;
        this.sequential = sequential;
        this.inputShape = inputShape.clone();
    }

    static ObjectNode obj(Object... kv) {
        ObjectNode o = MAPPER.createObjectNode();
        for (int i = 0; i < kv.length; i += 2) {
            o.set((String) kv[i], MAPPER.valueToTree(kv[i + 1]));
        }
        return o;
    }

    /**
     * Adds a layer. {@code sf} are its streamfold layers (name, type and input added here when a
     * single one is given without them); {@code weights} name, shape pairs: ("kernel", new int[] {3, 4}).
     */
    KerasTestModel add(String cls, String name, ObjectNode config, List<String> inputs, List<ObjectNode> sf, Object... weights) {
        KerasTestFiles.LayerWeights w = new KerasTestFiles.LayerWeights();
        for (int i = 0; i < weights.length; i += 2) {
            String wn = (String) weights[i];
            int[] shape = (int[]) weights[i + 1];
            int n = 1;
            for (int d : shape) {
                n *= d;
            }
            double[] v = new double[n];
            for (int j = 0; j < n; j++) {
                // float-representable, so the float32 HDF5 datasets hold exactly these values
                double x = wn.equals("moving_variance") ? 0.2 + rnd.nextDouble() : wn.equals("gamma") ? 0.5 + rnd.nextDouble()
                        : rnd.nextGaussian() * 0.5;
                v[j] = (float) x;
            }
            w.put(wn, new NdArray(shape, v));
        }
        if (sf.size() == 1 && !sf.get(0).has("name")) {
            ObjectNode s = sf.get(0);
            ObjectNode full = MAPPER.createObjectNode();
            full.put("name", name);
            full.set("type", s.get("type"));
            full.put("input", inputs.get(0));
            s.remove("type");
            full.setAll(s);
            sf = List.of(full);
        }
        layers.add(new Layer(cls, name, config, inputs, sf, w));
        return this;
    }

    KerasTestModel add(String cls, String name, ObjectNode config, String input, ObjectNode sf, Object... weights) {
        return add(cls, name, config, List.of(input), List.of(sf), weights);
    }

    /** The streamfold JSON model, channels last, every weight inline. */
    ObjectNode streamfold(String name) {
        ObjectNode m = MAPPER.createObjectNode();
        m.put("format", "streamfold-json");
        m.put("version", 1);
        m.put("name", name);
        ObjectNode in = m.putObject("input");
        in.put("name", inputName);
        in.set("shape", MAPPER.valueToTree(inputShape));
        in.put("layout", "channels_last");
        ArrayNode ls = m.putArray("layers");
        for (Layer l : layers) {
            for (ObjectNode s : l.streamfold()) {
                ObjectNode copy = s.deepCopy();
                if (s.get("name").asText().equals(l.name())) {
                    for (Map.Entry<String, NdArray> w : l.weights().entrySet()) {
                        copy.set(w.getKey(), MAPPER.valueToTree(w.getValue().data()));
                    }
                }
                ls.add(copy);
            }
        }
        return m;
    }

    /** The Keras configuration as {@code model.to_json()} writes it, Keras 2 or Keras 3 style. */
    String config(boolean keras3) {
        ObjectNode root = MAPPER.createObjectNode();
        if (keras3) {
            root.put("module", "keras");
        }
        root.put("class_name", sequential ? "Sequential" : (keras3 ? "Functional" : "Model"));
        ObjectNode config = root.putObject("config");
        config.put("name", "model");
        ArrayNode ls = config.putArray("layers");
        ArrayNode batchShape = MAPPER.createArrayNode().addNull();
        for (int d : inputShape) {
            batchShape.add(d);
        }
        ObjectNode input = ls.addObject();
        if (keras3) {
            input.put("module", "keras.layers");
        }
        input.put("class_name", "InputLayer");
        ObjectNode ic = input.putObject("config");
        ic.set(keras3 ? "batch_shape" : "batch_input_shape", batchShape);
        ic.put("dtype", "float32");
        ic.put("sparse", false);
        ic.put("name", inputName);
        if (!sequential) {
            input.put("name", inputName);
            input.putArray("inbound_nodes");
        }
        for (Layer l : layers) {
            ObjectNode j = ls.addObject();
            if (keras3) {
                j.put("module", "keras.layers");
            }
            j.put("class_name", l.cls());
            ObjectNode c = l.config().deepCopy();
            c.put("name", l.name());
            c.put("trainable", true);
            if (keras3) {
                c.set("dtype", obj("module", "keras", "class_name", "DTypePolicy", "config", Map.of("name", "float32")));
                c.putNull("kernel_regularizer"); // the kind of field streamfold does not read
                j.putNull("registered_name");
            } else {
                c.put("dtype", "float32");
            }
            j.set("config", c);
            if (!sequential) {
                j.put("name", l.name());
                ArrayNode nodes = j.putArray("inbound_nodes");
                if (keras3) {
                    ObjectNode call = nodes.addObject();
                    ArrayNode args = call.putArray("args");
                    List<ObjectNode> tensors = new ArrayList<>();
                    for (String in : l.inputs()) {
                        tensors.add(obj("class_name", "__keras_tensor__", "config",
                                Map.of("shape", List.of(), "dtype", "float32", "keras_history", List.of(in, 0, 0))));
                    }
                    if (tensors.size() == 1) {
                        args.add(tensors.get(0));
                    } else {
                        args.addArray().addAll(tensors);
                    }
                    call.putObject("kwargs");
                } else {
                    ArrayNode call = nodes.addArray();
                    for (String in : l.inputs()) {
                        call.add(MAPPER.valueToTree(List.of(in, 0, 0, Map.of())));
                    }
                }
            }
        }
        if (!sequential) {
            config.set("input_layers", MAPPER.valueToTree(List.of(List.of(inputName, 0, 0))));
            String out = layers.get(layers.size() - 1).name();
            config.set("output_layers", keras3 ? MAPPER.valueToTree(List.of(out, 0, 0)) : MAPPER.valueToTree(List.of(List.of(out, 0, 0))));
        }
        if (!keras3) {
            root.put("keras_version", "2.1.6");
            root.put("backend", "tensorflow");
        }
        return root.toString();
    }

    /** The weights by layer name (Keras 2 files). */
    Map<String, KerasTestFiles.LayerWeights> keras2Weights() {
        Map<String, KerasTestFiles.LayerWeights> out = new LinkedHashMap<>();
        for (Layer l : layers) {
            if (!l.weights().isEmpty()) {
                out.put(l.name(), l.weights());
            }
        }
        return out;
    }

    /** The weights by Keras 3 group: the class in snake case, numbered per class in layer order. */
    Map<String, List<NdArray>> keras3Weights() {
        Map<String, List<NdArray>> out = new LinkedHashMap<>();
        Map<String, Integer> count = new HashMap<>();
        for (Layer l : layers) {
            String snake = KerasWeights.snakeCase(l.cls());
            int n = count.merge(snake, 1, Integer::sum) - 1;
            if (!l.weights().isEmpty()) {
                out.put(n == 0 ? snake : snake + "_" + n, new ArrayList<>(l.weights().values()));
            }
        }
        return out;
    }

    static JsonNode tree(String json) {
        try {
            return MAPPER.readTree(json);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
