package io.streamfold.compile;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.json.JsonModelReader;
import io.streamfold.keras.KerasModelReader;
import io.streamfold.onnx.OnnxModelReader;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Picks the frontend for a model file: {@code .onnx} (ONNX), {@code .h5}/{@code .hdf5} and
 * {@code .keras} (Keras), {@code .json} (a streamfold JSON model, or a Keras architecture when its
 * top level holds {@code class_name} and {@code config}).
 */
public final class ModelLoader {

    private ModelLoader() {
    }

    /** Reads a model; errors name the file. */
    public static Graph load(Path file) {
        return open(file, null);
    }

    /**
     * Reads a model; {@code weights} (may be null) is the weights file of a Keras model, by default
     * its own file or, for an architecture {@code .json}, {@code <stem>_weights.h5} beside it. The
     * graph's {@link Graph#source()} says which layout the model's data files are in: channels last
     * for Keras, the declared input of an ONNX model (channels first unless its first node
     * transposes a channels-last input), channels first for a streamfold JSON model.
     */
    public static Graph open(Path file, Path weights) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (Files.isDirectory(file)) {
            throw new ModelException(Diagnostic.SF_CORRUPT_MODEL, file.toString(), null, "is a folder, not a model file",
                    "give the path of an .onnx, .json, .h5 or .keras model");
        }
        if (!Files.exists(file)) {
            throw new ModelException(Diagnostic.SF_CORRUPT_MODEL, file.toString(), null, "no such file",
                    "give the path of an .onnx, .json, .h5 or .keras model");
        }
        boolean keras = name.endsWith(".h5") || name.endsWith(".hdf5") || name.endsWith(".keras")
                || name.endsWith(".json") && isKerasJson(file);
        if (keras) {
            return KerasModelReader.read(file, weights).graph();
        }
        if (weights != null) {
            throw new ModelException(Diagnostic.SF_BAD_WEIGHTS, file.toString(), null, "a weights file was given for a model that is not Keras",
                    "--weights is for Keras architecture .json files (and overrides the weights of .h5/.keras files)");
        }
        if (name.endsWith(".onnx")) {
            return OnnxModelReader.read(file);
        }
        if (name.endsWith(".json")) {
            return JsonModelReader.read(file);
        }
        throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, file.toString(), null, "unknown model format",
                "streamfold reads .onnx, streamfold .json and Keras (.h5, .keras, architecture .json) models");
    }

    /**
     * A .json whose top level has {@code class_name} and {@code config} (a Keras configuration) and
     * no {@code format} (a streamfold model). Only the top-level keys are looked at, so a streamfold
     * model with large inline weights is not parsed twice; an unparsable file is left to the
     * streamfold reader to report.
     */
    private static boolean isKerasJson(Path file) {
        boolean className = false;
        boolean config = false;
        try (JsonParser p = new JsonFactory().createParser(file.toFile())) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return false;
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                if (key.equals("format")) {
                    return false;
                }
                className |= key.equals("class_name");
                config |= key.equals("config");
                if (className && config) {
                    return true;
                }
                p.nextToken();
                p.skipChildren();
            }
            return false;
        } catch (IOException e) {
            return false;
        }
    }
}
