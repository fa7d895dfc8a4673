package io.streamfold.compile;

import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.json.JsonModelReader;
import io.streamfold.onnx.OnnxModelReader;

import java.nio.file.Files;
import java.nio.file.Path;

/** Picks the frontend for a model file by its extension. */
public final class ModelLoader {

    private ModelLoader() {
    }

    /** Reads an {@code .onnx} or streamfold {@code .json} model; errors name the file. */
    public static Graph load(Path file) {
        String name = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        if (Files.isDirectory(file)) {
            throw new ModelException(Diagnostic.SF_CORRUPT_MODEL, file.toString(), null, "is a folder, not a model file",
                    "give the path of an .onnx or .json model");
        }
        if (!Files.exists(file)) {
            throw new ModelException(Diagnostic.SF_CORRUPT_MODEL, file.toString(), null, "no such file", "give the path of an .onnx or .json model");
        }
        if (name.endsWith(".onnx")) {
            return OnnxModelReader.read(file);
        }
        if (name.endsWith(".json")) {
            return JsonModelReader.read(file);
        }
        throw new ModelException(Diagnostic.SF_UNSUPPORTED_OP, file.toString(), null, "unknown model format",
                "streamfold reads .onnx and streamfold .json models");
    }
}
