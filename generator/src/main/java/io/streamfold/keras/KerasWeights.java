package io.streamfold.keras;

import io.jhdf.api.Attribute;
import io.jhdf.api.Dataset;
import io.jhdf.api.Group;
import io.jhdf.api.Node;
import io.streamfold.data.NdArray;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads the weights of a Keras model from HDF5, by {@code "<layer>/<param>"} (the keys the
 * streamfold JSON reader looks parameters up by), checking that each layer has exactly the weights
 * its config implies.
 *
 * <p>Two layouts exist:
 * <ul>
 *   <li>Keras 2 ({@code save_weights} to .h5, and the {@code model_weights} group of a full-model
 *       .h5): the attribute {@code layer_names}; one group per layer whose attribute
 *       {@code weight_names} lists its datasets by path within the group, e.g.
 *       {@code dense_1/kernel:0}. A weight is identified by its last path element without the
 *       {@code :0} suffix.</li>
 *   <li>Keras 3 ({@code model.weights.h5} inside a .keras archive, and {@code .weights.h5} files):
 *       {@code layers/<name>/vars/<i>}, where {@code <name>} is the layer's class in snake case
 *       ({@code dense}, {@code conv2d}, {@code batch_normalization}), numbered per class in the
 *       order of the model's layers ({@code dense}, {@code dense_1}, ...), not the layer's own
 *       name; {@code <i>} counts the layer's weights in creation order. Keras 2.13-2.15 wrote
 *       {@code _layer_checkpoint_dependencies} for {@code layers}.</li>
 * </ul>
 */
final class KerasWeights {

    /** Other names a weight goes by: Keras 3 names the depthwise kernel {@code kernel}. */
    private static final Map<String, List<String>> ALIASES = Map.of("depthwise_kernel", List.of("depthwise_kernel", "kernel"));

    private KerasWeights() {
    }

    /** Whether a group holds Keras weights in either layout. */
    static boolean hasWeights(Group root) {
        return keras2Base(root) != null || keras3Base(root) != null;
    }

    /** The weights of every layer of {@code arch} that has some; {@code file} names the HDF5 file in errors. */
    static Map<String, NdArray> read(Group root, String file, KerasConfig.Arch arch) {
        Map<String, NdArray> out = new LinkedHashMap<>();
        Group k2 = keras2Base(root);
        Group k3 = k2 == null ? keras3Base(root) : null;
        if (k2 == null && k3 == null) {
            throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, file, null, "not a Keras weights file",
                    "expected the attribute layer_names (Keras 2) or the group layers/ (Keras 3)");
        }
        Map<String, Integer> perClass = new HashMap<>();
        for (KerasConfig.Layer l : arch.configOrder()) {
            String snake = snakeCase(l.className());
            int n = perClass.merge(snake, 1, Integer::sum) - 1;
            if (l.className().equals("InputLayer")) {
                continue;
            }
            List<String> want = KerasLayers.params(l);
            if (want.isEmpty()) {
                continue;
            }
            if (k2 != null) {
                keras2Layer(k2, file, l, want, out);
            } else {
                keras3Layer(k3, file, l, n == 0 ? snake : snake + "_" + n, want, out);
            }
        }
        return out;
    }

    private static void keras2Layer(Group base, String file, KerasConfig.Layer l, List<String> want, Map<String, NdArray> out) {
        Node g = base.getChildren().get(l.name());
        if (!(g instanceof Group group)) {
            throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, file, l.name(), "the weights file has no group for this layer",
                    "it has weights for " + layerNames(base) + "; is it the weights file of this model?");
        }
        List<String> names = strings(group.getAttribute("weight_names"));
        Map<String, String> byParam = new LinkedHashMap<>();
        for (String path : names) {
            String last = path.substring(path.lastIndexOf('/') + 1).replaceFirst(":\\d+$", "");
            String param = paramFor(last, want);
            if (param == null) {
                throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, file, l.name(), "unexpected weight '" + path + "'",
                        "a " + l.className() + " with this config has " + String.join(", ", want));
            }
            if (byParam.put(param, path) != null) {
                throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, file, l.name(), "two weights named " + param, null);
            }
        }
        for (String p : want) {
            String path = byParam.get(p);
            if (path == null) {
                throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, file, l.name(), "the weight " + p + " is missing (the layer has "
                        + (names.isEmpty() ? "none" : String.join(", ", names)) + ")", "a " + l.className() + " with this config has "
                        + String.join(", ", want));
            }
            out.put(l.name() + "/" + p, array(dataset(group, path, file, l.name()), file, l.name(), path));
        }
    }

    private static void keras3Layer(Group base, String file, KerasConfig.Layer l, String groupName, List<String> want,
            Map<String, NdArray> out) {
        Node g = base.getChildren().get(groupName);
        Node vars = g instanceof Group gg ? gg.getChildren().get("vars") : null;
        if (!(vars instanceof Group v)) {
            throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, file, l.name(), "the weights file has no group " + base.getName() + "/" + groupName
                    + "/vars for this layer", "Keras 3 stores the n-th " + l.className() + " of the model under " + groupName.replaceFirst("_\\d+$", "")
                    + "_<n>; is it the weights file of this model?");
        }
        int count = v.getChildren().size();
        if (count != want.size()) {
            throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, file, l.name(), base.getName() + "/" + groupName + "/vars holds " + count
                    + " weights, expected " + want.size() + " (" + String.join(", ", want) + ")", null);
        }
        for (int i = 0; i < want.size(); i++) {
            String path = base.getName() + "/" + groupName + "/vars/" + i;
            out.put(l.name() + "/" + want.get(i), array(dataset(v, String.valueOf(i), file, l.name()), file, l.name(), path));
        }
    }

    /** The group holding Keras 2 layer groups: the root, or a full-model file's {@code model_weights}. */
    private static Group keras2Base(Group root) {
        if (root.getAttribute("layer_names") != null) {
            return root;
        }
        Node mw = root.getChildren().get("model_weights");
        if (mw instanceof Group g && g.getAttribute("layer_names") != null) {
            return g;
        }
        return null;
    }

    private static Group keras3Base(Group root) {
        for (String name : List.of("layers", "_layer_checkpoint_dependencies")) {
            Node n = root.getChildren().get(name);
            if (n instanceof Group g) {
                return g;
            }
        }
        return null;
    }

    private static String paramFor(String name, List<String> want) {
        for (String p : want) {
            if (ALIASES.getOrDefault(p, List.of(p)).contains(name)) {
                return p;
            }
        }
        return null;
    }

    private static Dataset dataset(Group g, String path, String file, String layer) {
        Node n = g;
        for (String part : path.split("/")) {
            n = n instanceof Group gg ? gg.getChildren().get(part) : null;
        }
        if (!(n instanceof Dataset d)) {
            throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, file, layer, "the weight " + path + " is listed but is not a dataset in the file", null);
        }
        return d;
    }

    /** A dataset as an array of doubles in row-major order. */
    private static NdArray array(Dataset d, String file, String layer, String path) {
        Attribute dtype = d.getAttribute("dtype");
        if (dtype != null && "bfloat16".equals(String.valueOf(dtype.getData()))) {
            throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, file, layer, path + " is bfloat16", "save the model in float32");
        }
        Object flat = d.isEmpty() ? new double[0] : d.getDataFlat();
        double[] v;
        if (flat instanceof float[] f) {
            v = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                v[i] = f[i];
            }
        } else if (flat instanceof double[] dd) {
            v = dd.clone();
        } else {
            throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, file, layer, path + " holds " + d.getJavaType().getSimpleName().toLowerCase(Locale.ROOT)
                    + " values", "weights are floating point");
        }
        int[] dims = d.getDimensions();
        return new NdArray(dims.length == 0 ? new int[] {v.length} : dims, v);
    }

    /** A string or string-array attribute (Keras writes fixed-length byte strings); an empty one is null in jHDF. */
    static List<String> strings(Attribute a) {
        List<String> out = new ArrayList<>();
        Object v = a == null ? null : a.getData();
        if (v instanceof String s) {
            out.add(s);
        } else if (v instanceof String[] ss) {
            out.addAll(List.of(ss));
        } else if (v instanceof Object[] os) {
            for (Object o : os) {
                out.add(String.valueOf(o));
            }
        }
        return out;
    }

    private static String layerNames(Group base) {
        List<String> names = new ArrayList<>();
        for (Map.Entry<String, Node> e : base.getChildren().entrySet()) {
            if (e.getValue() instanceof Group g && !strings(g.getAttribute("weight_names")).isEmpty()) {
                names.add(e.getKey());
            }
        }
        return names.isEmpty() ? "no layer" : String.join(", ", names);
    }

    /** Keras' {@code naming.to_snake_case} of a class name: {@code Conv2D -> conv2d}, {@code BatchNormalization -> batch_normalization}. */
    static String snakeCase(String name) {
        String s = name.replaceAll("\\W+", "");
        s = s.replaceAll("(.)([A-Z][a-z]+)", "$1_$2");
        return s.replaceAll("([a-z])([A-Z])", "$1_$2").toLowerCase(Locale.ROOT);
    }
}
