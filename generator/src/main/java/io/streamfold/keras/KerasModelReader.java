package io.streamfold.keras;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jhdf.HdfFile;
import io.jhdf.api.Attribute;
import io.streamfold.data.NdArray;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;
import io.streamfold.json.JsonModel;
import io.streamfold.json.JsonModelReader;
import io.streamfold.json.Layout;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Reads a Keras model into a channels-first {@link io.streamfold.ir.Graph}: a Keras 2 full-model
 * {@code .h5} (architecture in the root attribute {@code model_config}, weights under
 * {@code model_weights/}), an architecture {@code .json} with its weights {@code .h5}, or a Keras 3
 * {@code .keras} archive ({@code config.json} and {@code model.weights.h5}).
 *
 * <p>It adds no layer semantics of its own: {@link KerasConfig} reads the architecture,
 * {@link KerasLayers} writes each layer as a layer of the streamfold JSON format (declared
 * channels last, which that reader maps to the IR with Keras semantics), and
 * {@link KerasWeights} reads the HDF5 weights by {@code "<layer>/<param>"};
 * {@link JsonModelReader#fromTree} then builds the graph. The graph's
 * {@link io.streamfold.ir.SourceModel} is the channels-last layout of the Keras input and output,
 * so data files for a Keras model are read as Keras takes them, (N, H, W, C).
 *
 * <p>Errors are {@link ModelException}s naming the file (the weights file when the problem is
 * there) and the Keras layer.
 */
public final class KerasModelReader {

    private static final ObjectMapper MAPPER = JsonMapper.builder().build();
    private static final Set<String> CONV_CLASSES = Set.of("Conv1D", "Conv2D", "DepthwiseConv2D");

    private KerasModelReader() {
    }

    /**
     * Reads a Keras model file ({@code .h5}/{@code .hdf5}, {@code .keras} or an architecture
     * {@code .json}); {@code weights} overrides where the weights come from (null: the model file
     * itself, or for a {@code .json} the file {@link #defaultWeights} finds).
     */
    public static JsonModel read(Path file, Path weights) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        try {
            if (name.endsWith(".keras")) {
                return readKeras(file, weights);
            }
            if (name.endsWith(".h5") || name.endsWith(".hdf5")) {
                return readH5(file, weights);
            }
            return readJson(file, weights);
        } catch (ModelException e) {
            throw e.inFile(file.toString());
        }
    }

    /** Whether a JSON document is a Keras model configuration ({@code class_name} and {@code config} at the top). */
    public static boolean isKerasConfig(JsonNode root) {
        return KerasConfig.isModelConfig(root);
    }

    /** Whether a {@code .json} file holds a Keras architecture, judged from its beginning (cheap, for scanning folders). */
    public static boolean looksLikeKerasJson(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            String head = new String(in.readNBytes(4096), StandardCharsets.UTF_8);
            return head.contains("\"class_name\"") && head.contains("\"config\"") && !head.contains("\"streamfold-json\"");
        } catch (IOException e) {
            return false;
        }
    }

    /** Whether an HDF5 file is a full Keras model (has {@code model_config}); an unreadable file counts, so its error is reported. */
    public static boolean isFullModel(Path h5) {
        try (HdfFile f = new HdfFile(h5)) {
            return f.getAttribute("model_config") != null;
        } catch (RuntimeException e) {
            return true;
        }
    }

    /**
     * The weights beside an architecture {@code <stem>.json}, as Keras users name them:
     * {@code <stem>_weights.h5} (hls4ml's example models), {@code <stem>.weights.h5} (Keras 3),
     * {@code <stem>.h5}; null if there is none.
     */
    public static Path defaultWeights(Path json) {
        Path abs = json.toAbsolutePath();
        String stem = abs.getFileName().toString().replaceFirst("\\.[^.]*$", "");
        for (String candidate : List.of(stem + "_weights.h5", stem + ".weights.h5", stem + ".h5")) {
            Path p = abs.resolveSibling(candidate);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return null;
    }

    // ------------------------------------------------------------------------------ formats

    private static JsonModel readJson(Path file, Path weights) {
        JsonNode root = parse(read(file), "the architecture");
        if (!isKerasConfig(root)) {
            throw corrupt("not a Keras model configuration", "expected {\"class_name\": ..., \"config\": ...} as model.to_json() writes");
        }
        checkVersion(root.path("keras_version").asText(null), root.path("backend").asText(null), root);
        Path w = weights != null ? weights : defaultWeights(file);
        return build(root, stem(file), w == null ? null : WeightsSource.of(w),
                "give --weights FILE, or put " + stem(file) + "_weights.h5 beside " + file.getFileName());
    }

    private static JsonModel readH5(Path file, Path weights) {
        try (HdfFile f = open(file, Diagnostic.SF_CORRUPT_MODEL)) {
            Attribute config = f.getAttribute("model_config");
            if (config == null) {
                throw corrupt("holds no model_config: it is a weights-only file",
                        "give the architecture .json as the model and this file with --weights");
            }
            List<String> text = KerasWeights.strings(config);
            if (text.size() != 1) {
                throw corrupt("the model_config attribute is not a string", null);
            }
            JsonNode root = parse(text.get(0).getBytes(StandardCharsets.UTF_8), "model_config");
            List<String> version = KerasWeights.strings(f.getAttribute("keras_version"));
            List<String> backend = KerasWeights.strings(f.getAttribute("backend"));
            checkVersion(version.isEmpty() ? null : version.get(0), backend.isEmpty() ? null : backend.get(0), root);
            WeightsSource w = weights != null ? WeightsSource.of(weights) : new WeightsSource(file.toString(), file, f);
            return build(root, stem(file), w, null);
        }
    }

    private static JsonModel readKeras(Path file, Path weights) {
        byte[] config;
        byte[] h5 = null;
        try (ZipFile zip = new ZipFile(file.toFile())) {
            config = entry(zip, "config.json");
            if (config == null) {
                throw corrupt("the archive has no config.json", "a .keras file is a zip of config.json and model.weights.h5");
            }
            if (weights == null) {
                h5 = entry(zip, "model.weights.h5");
                if (h5 == null) {
                    throw corrupt("the archive has no model.weights.h5" + (zip.getEntry("model.weights.npz") != null
                            ? " (its weights are in model.weights.npz, which streamfold does not read)" : ""), "save with weights_format=\"h5\"");
                }
            }
        } catch (IOException e) {
            throw corrupt("cannot read the .keras archive: " + describe(e), "a .keras file is a zip of config.json and model.weights.h5");
        }
        JsonNode root = parse(config, "config.json");
        if (weights != null) {
            return build(root, stem(file), WeightsSource.of(weights), null);
        }
        String label = file + "[model.weights.h5]";
        try (HdfFile f = fromBytes(h5, label)) {
            return build(root, stem(file), new WeightsSource(label, null, f), null);
        }
    }

    /**
     * Where the weights are: a file to open, or one already open (a full model's own file, the
     * archive's entry); {@code label} names it in errors.
     */
    private record WeightsSource(String label, Path file, HdfFile open) {
        static WeightsSource of(Path file) {
            return new WeightsSource(file.toString(), file, null);
        }
    }

    /** {@code weights} may be null when the model has none; {@code noWeightsHint} says where they are looked for. */
    private static JsonModel build(JsonNode root, String name, WeightsSource weights, String noWeightsHint) {
        KerasConfig.Arch arch = KerasConfig.parse(root);
        ObjectNode tree = tree(arch, name);
        boolean needed = arch.layers().stream().anyMatch(l -> !KerasLayers.params(l).isEmpty());
        Map<String, NdArray> params = Map.of();
        String label = null;
        if (needed) {
            if (weights == null) {
                throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, null, null, "no weights file", noWeightsHint);
            }
            label = weights.label();
            try {
                if (weights.open() != null) {
                    params = KerasWeights.read(weights.open(), label, arch);
                } else {
                    try (HdfFile f = open(weights.file(), Diagnostic.SF_BAD_WEIGHTS)) {
                        params = KerasWeights.read(f, label, arch);
                    }
                }
            } catch (ModelException e) {
                throw e;
            } catch (RuntimeException e) { // jHDF on a damaged file
                throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, label, null, "cannot read the HDF5 weights: " + e.getMessage(), null);
            }
        }
        // Keras data is channels last, (N, H, W, C): the graph carries that layout (its SourceModel)
        // so that data files are read, and outputs reported, as Keras takes and gives them.
        return JsonModelReader.fromTree(tree, params, label == null ? "no weights file" : fileName(label), name).withDeclaredLayouts();
    }

    /** The architecture as a streamfold JSON model, channels last. */
    private static ObjectNode tree(KerasConfig.Arch arch, String name) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode root = f.objectNode();
        root.put("format", JsonModelReader.FORMAT);
        root.put("version", JsonModelReader.VERSION);
        root.put("name", name);
        ObjectNode input = root.putObject("input");
        input.put("name", arch.inputName());
        ArrayNode shape = input.putArray("shape");
        for (int d : arch.inputShape()) {
            shape.add(d);
        }
        input.put("layout", Layout.CHANNELS_LAST.jsonName());
        List<ObjectNode> layers = new ArrayList<>();
        for (KerasConfig.Layer l : arch.layers()) {
            KerasLayers.translate(l, layers);
        }
        root.putArray("layers").addAll(layers);
        return root;
    }

    /** Keras 1 configs use other names (nb_filter, output_dim), and Theano-trained kernels are flipped. */
    private static void checkVersion(String version, String backend, JsonNode root) {
        if (version != null && version.startsWith("1.")) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null, null, "Keras " + version + " model files are not supported",
                    "load and save the model with Keras 2 or later");
        }
        if ("theano".equals(backend)) {
            KerasConfig.Arch arch = KerasConfig.parse(root);
            for (KerasConfig.Layer l : arch.layers()) {
                if (CONV_CLASSES.contains(l.className())) {
                    throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, null, l.name(), "a convolution trained with the Theano backend",
                            "Theano stores kernels flipped; convert the model with the TensorFlow backend");
                }
            }
        }
    }

    // ------------------------------------------------------------------------------ helpers

    private static HdfFile open(Path file, Diagnostic id) {
        if (!Files.isRegularFile(file)) {
            throw new ModelException(id, file.toString(), null, "no such file", null);
        }
        try {
            return new HdfFile(file);
        } catch (RuntimeException e) {
            throw new ModelException(id, file.toString(), null, "not a readable HDF5 file: " + e.getMessage(), null);
        }
    }

    private static HdfFile fromBytes(byte[] bytes, String label) {
        try {
            return HdfFile.fromBytes(bytes);
        } catch (RuntimeException e) {
            throw new ModelException(Diagnostic.SF_CORRUPT_MODEL, label, null, "not a readable HDF5 file: " + e.getMessage(), null);
        }
    }

    private static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw corrupt("cannot read the file: " + describe(e), null);
        }
    }

    private static byte[] entry(ZipFile zip, String name) throws IOException {
        ZipEntry e = zip.getEntry(name);
        if (e == null) {
            return null;
        }
        try (InputStream in = zip.getInputStream(e)) {
            return in.readAllBytes();
        }
    }

    private static JsonNode parse(byte[] bytes, String what) {
        try {
            JsonNode n = MAPPER.readTree(bytes);
            if (n == null || n.isMissingNode()) {
                throw corrupt(what + " is empty", null);
            }
            return n;
        } catch (JsonProcessingException e) {
            String loc = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
            String msg = e.getOriginalMessage() == null ? "unreadable" : e.getOriginalMessage().lines().findFirst().orElse("");
            throw corrupt(what + " is not valid JSON" + loc + ": " + msg, null);
        } catch (IOException e) {
            throw corrupt("cannot read " + what + ": " + describe(e), null);
        }
    }

    private static String stem(Path file) {
        return file.toAbsolutePath().getFileName().toString().replaceFirst("\\.[^.]*$", "");
    }

    private static String fileName(String path) {
        int slash = path.lastIndexOf('/');
        return slash < 0 ? path : path.substring(slash + 1);
    }

    private static String describe(IOException e) {
        return e instanceof java.nio.file.NoSuchFileException ? "no such file" : String.valueOf(e.getMessage());
    }

    private static ModelException corrupt(String reason, String hint) {
        return new ModelException(Diagnostic.SF_CORRUPT_MODEL, null, null, reason, hint);
    }
}
