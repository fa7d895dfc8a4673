package io.streamfold.keras;

import io.jhdf.HdfFile;
import io.jhdf.WritableHdfFile;
import io.jhdf.api.Dataset;
import io.jhdf.api.Group;
import io.jhdf.api.WritableGroup;
import io.streamfold.data.NdArray;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Array;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Writes Keras model files for tests with jHDF's HDF5 writer, in the layouts Keras uses (see
 * {@link KerasWeights}): Keras 2 weights files and full-model files, Keras 3 weights and .keras
 * archives. Weights are given per layer as (weight name, array) in creation order.
 */
final class KerasTestFiles {

    /** A layer's weights by Keras 2 name (e.g. {@code kernel}), in creation order. */
    static final class LayerWeights extends LinkedHashMap<String, NdArray> {
        private static final long serialVersionUID = 1L;
    }

    private KerasTestFiles() {
    }

    /** A Keras 2 {@code save_weights} file. */
    static void writeKeras2Weights(Path file, Map<String, LayerWeights> layers) {
        try (WritableHdfFile f = HdfFile.write(file)) {
            keras2Group(f, layers);
            f.putAttribute("keras_version", "2.1.6");
            f.putAttribute("backend", "tensorflow");
        }
    }

    /** A Keras 2 full-model file: {@code model_config} and the weights under {@code model_weights/}. */
    static void writeKeras2FullModel(Path file, String configJson, Map<String, LayerWeights> layers) {
        try (WritableHdfFile f = HdfFile.write(file)) {
            f.putAttribute("model_config", configJson);
            f.putAttribute("keras_version", "2.1.6");
            f.putAttribute("backend", "tensorflow");
            keras2Group(f.putGroup("model_weights"), layers);
        }
    }

    /**
     * Keras 2's layout: {@code layer_names}; per layer a group with {@code weight_names} naming
     * datasets {@code <layer>/<weight>:0} below it. (jHDF cannot write an empty string list, so
     * layers without weights are left out, which the reader must accept.)
     */
    private static void keras2Group(WritableGroup g, Map<String, LayerWeights> layers) {
        g.putAttribute("layer_names", layers.keySet().toArray(new String[0]));
        for (Map.Entry<String, LayerWeights> l : layers.entrySet()) {
            WritableGroup lg = g.putGroup(l.getKey());
            WritableGroup inner = lg.putGroup(l.getKey());
            List<String> names = new ArrayList<>();
            for (Map.Entry<String, NdArray> w : l.getValue().entrySet()) {
                inner.putDataset(w.getKey() + ":0", nested(w.getValue()));
                names.add(l.getKey() + "/" + w.getKey() + ":0");
            }
            lg.putAttribute("weight_names", names.toArray(new String[0]));
        }
    }

    /** A Keras 3 weights file: {@code layers/<group>/vars/<i>}; {@code groups} maps e.g. {@code dense_1} to its weights in order. */
    static void writeKeras3Weights(Path file, Map<String, List<NdArray>> groups) {
        try (WritableHdfFile f = HdfFile.write(file)) {
            WritableGroup layers = f.putGroup("layers");
            for (Map.Entry<String, List<NdArray>> e : groups.entrySet()) {
                WritableGroup vars = layers.putGroup(e.getKey()).putGroup("vars");
                for (int i = 0; i < e.getValue().size(); i++) {
                    vars.putDataset(String.valueOf(i), nested(e.getValue().get(i)));
                }
            }
            // Keras also writes the model's own empty group vars/; jHDF 0.10 cannot read back an empty group it wrote.
        }
    }

    /** A Keras 3 {@code .keras} archive: metadata.json, config.json and model.weights.h5. */
    static void writeDotKeras(Path file, String configJson, Map<String, List<NdArray>> groups) {
        try {
            Path h5 = Files.createTempFile(file.toAbsolutePath().getParent(), "weights", ".h5");
            writeKeras3Weights(h5, groups);
            byte[] weights = Files.readAllBytes(h5);
            Files.delete(h5);
            try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(file))) {
                put(zip, "metadata.json", "{\"keras_version\": \"3.6.0\", \"date_saved\": \"2025-01-01@00:00:00\"}"
                        .getBytes(StandardCharsets.UTF_8));
                put(zip, "config.json", configJson.getBytes(StandardCharsets.UTF_8));
                put(zip, "model.weights.h5", weights);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A zip with the given entries (for malformed archives). */
    static void writeZip(Path file, Map<String, byte[]> entries) {
        try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(file))) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                put(zip, e.getKey(), e.getValue());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void put(ZipOutputStream zip, String name, byte[] data) throws IOException {
        zip.putNextEntry(new ZipEntry(name));
        zip.write(data);
        zip.closeEntry();
    }

    /**
     * The weights of a Keras 2 weights file, read directly with jHDF (not through the reader under
     * test), by layer and weight name without {@code :0}.
     */
    static Map<String, LayerWeights> readKeras2(Path file) {
        Map<String, LayerWeights> out = new LinkedHashMap<>();
        try (HdfFile f = new HdfFile(file)) {
            for (String layer : (String[]) f.getAttribute("layer_names").getData()) {
                Group g = (Group) f.getChild(layer);
                Object names = g.getAttribute("weight_names") == null ? null : g.getAttribute("weight_names").getData();
                if (names == null) {
                    continue;
                }
                LayerWeights w = new LayerWeights();
                for (String path : (String[]) names) {
                    Dataset d = (Dataset) g.getByPath(path);
                    float[] v = (float[]) d.getDataFlat();
                    double[] dv = new double[v.length];
                    for (int i = 0; i < v.length; i++) {
                        dv[i] = v[i];
                    }
                    String name = path.substring(path.lastIndexOf('/') + 1).replace(":0", "");
                    w.put(name, new NdArray(d.getDimensions(), dv));
                }
                out.put(layer, w);
            }
        }
        return out;
    }

    /** The array as nested {@code float} arrays of its shape (what jHDF writes with that shape). */
    static Object nested(NdArray a) {
        int[] dims = a.shape();
        Object out = Array.newInstance(float.class, dims);
        int[] at = {0};
        fill(out, a.data(), at);
        return out;
    }

    private static void fill(Object arr, double[] data, int[] at) {
        if (arr instanceof float[] f) {
            for (int i = 0; i < f.length; i++) {
                f[i] = (float) data[at[0]++];
            }
            return;
        }
        for (int i = 0; i < Array.getLength(arr); i++) {
            fill(Array.get(arr, i), data, at);
        }
    }
}
