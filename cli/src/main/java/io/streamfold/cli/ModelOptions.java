package io.streamfold.cli;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.ir.Graph;
import io.streamfold.json.Layout;
import picocli.CommandLine;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** How to read a model and its data files: options shared by the commands that take a model. */
final class ModelOptions {

    @Option(names = "--weights", paramLabel = "FILE",
            description = "weights of a Keras architecture .json (default: <stem>_weights.h5, <stem>.weights.h5 or <stem>.h5 beside it); "
                    + "replaces the weights of an .h5/.keras model")
    Path weights;

    @Option(names = "--data-layout", paramLabel = "LAYOUT", converter = LayoutConverter.class,
            description = "axis order of the data files (--calib, --inputs, --input, --tb-inputs, calib.npy, inputs.npy): channels_first "
                    + "(N, C, H, W) or channels_last (N, H, W, C); default: the model's own input layout (channels last for Keras "
                    + "models and for ONNX exports that transpose a channels-last input, channels first otherwise)")
    Layout dataLayout;

    /** Reads the model with {@code --weights}; its graph carries the model's own data layout. */
    Graph load(Path model) {
        return ModelLoader.open(model, weights);
    }

    /** Files these options read (for the output folder's safety checks): the weights file if given. */
    java.util.List<Path> inputs() {
        return weights == null ? java.util.List.of() : java.util.List.of(weights);
    }

    /** A data file's samples, written in {@code --data-layout} or else the model's own input layout, in the graph's channels-first order. */
    List<double[]> samples(Path file, Graph g) {
        return DataFiles.samples(file, g, dataLayout);
    }

    /** {@code channels_first} / {@code channels_last} (case and '-' vs '_' do not matter). */
    static final class LayoutConverter implements CommandLine.ITypeConverter<Layout> {
        @Override
        public Layout convert(String value) {
            String k = value.toLowerCase(Locale.ROOT).replace('-', '_');
            for (Layout l : Layout.values()) {
                if (l.jsonName().equals(k)) {
                    return l;
                }
            }
            throw new CommandLine.TypeConversionException("'" + value + "' is not a layout: use channels_first or channels_last");
        }
    }
}
