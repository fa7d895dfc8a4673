package io.streamfold.cli;

import io.streamfold.compile.DataFiles;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.json.Layout;
import io.streamfold.quant.AutoCalibration;
import io.streamfold.quant.QuantConfig;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Quantization options shared by the commands that compile a model. */
final class QuantOptions {

    @Option(names = "--weight-bits", paramLabel = "N", converter = OptionTypes.Bits.class,
            description = "weight width in bits, 1..62 (default ${DEFAULT-VALUE})", defaultValue = "8")
    int weightBits;

    @Option(names = "--act-bits", paramLabel = "N", converter = OptionTypes.Bits.class,
            description = "activation width in bits, 1..62 (default ${DEFAULT-VALUE})", defaultValue = "8")
    int actBits;

    @Option(names = "--per-tensor", description = "one weight format per layer instead of per output channel")
    boolean perTensor;

    @Option(names = "--calibration", paramLabel = "METHOD", converter = OptionTypes.Calibration.class,
            description = "how activation ranges are estimated from the calibration data: auto (default: whichever of the others "
                    + "agrees best with the float model on that data), max-abs, percentile (see --percentile) or mse (the clip with "
                    + "the smallest mean squared error)")
    QuantConfig.CalibrationMethod calibration;

    @Option(names = "--percentile", paramLabel = "P", converter = OptionTypes.Percentile.class,
            description = "the percentile of |x|, in (0, 100], for --calibration percentile and auto (default 99.99); "
                    + "alone it means --calibration percentile")
    Double percentile;

    /** The command this mixin belongs to, for usage errors about combinations of these options. */
    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Option(names = "--lut-index-bits", paramLabel = "N", converter = OptionTypes.LutIndexBits.class,
            description = "widest lookup-table index: sigmoid, tanh, ELU, ... tables and softmax's exp tables have at most 2^N entries "
                    + "(default: 10, and 12 for activations of 16 bits or more)")
    Integer lutIndexBits;

    @Option(names = "--config", paramLabel = "FILE", description = "JSON file of per-layer format overrides")
    Path config;

    @Option(names = "--calib", paramLabel = "DATA", description = "calibration inputs (.npy or .csv, in the model's input layout or --data-layout); default: calib.npy beside the model (verify without either: the first half of its inputs)")
    Path calib;

    QuantConfig config() {
        QuantConfig c = QuantConfig.defaults().withBits(weightBits, actBits).withPerChannel(!perTensor);
        if (lutIndexBits != null) {
            c = c.withLutIndexBits(lutIndexBits);
        }
        if (percentile != null) {
            if (calibration != null && calibration != QuantConfig.CalibrationMethod.PERCENTILE
                    && calibration != QuantConfig.CalibrationMethod.AUTO) {
                throw new CommandLine.ParameterException(command.commandLine(), "--percentile applies to --calibration percentile or auto, not "
                        + AutoCalibration.name(calibration));
            }
            c = c.withPercentile(percentile);
        }
        if (calibration != null) {
            c = c.withCalibration(calibration);
        }
        if (config != null) {
            try {
                c = c.withOverrides(config);
            } catch (java.io.IOException e) {
                throw new ModelException(Diagnostic.SF_BAD_QUANT, config.toString(), null, "cannot read: " + io.streamfold.ir.IoErrors.reason(e), null);
            }
        }
        return c;
    }

    /**
     * The model and these settings as JSON, with absolute paths: what {@code simulate DIR} needs
     * to rebuild the design a {@code convert} wrote (its parallelism is in {@code plan.json}).
     */
    String sourceJson(Path model, ModelOptions models) {
        return sourceJson(model, models, config);
    }

    /** {@link #sourceJson(Path, ModelOptions)} with another overrides file (the one a mixed-precision search wrote). */
    String sourceJson(Path model, ModelOptions models, Path config) {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("model", model.toAbsolutePath().normalize().toString());
        m.put("weights", models.weights == null ? null : models.weights.toAbsolutePath().normalize().toString());
        m.put("data_layout", models.dataLayout == null ? null : models.dataLayout.jsonName());
        Path c = calib != null ? calib : model.toAbsolutePath().getParent().resolve("calib.npy");
        m.put("calib", c.toAbsolutePath().normalize().toString());
        m.put("weight_bits", weightBits);
        m.put("act_bits", actBits);
        m.put("per_tensor", perTensor);
        m.put("lut_index_bits", lutIndexBits);
        m.put("percentile", percentile);
        m.put("calibration", calibration == null ? null : AutoCalibration.name(calibration));
        m.put("config", config == null ? null : config.toAbsolutePath().normalize().toString());
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(m) + "\n";
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Reads the settings {@link #sourceJson} wrote (into these options and {@code models}); returns the model path. */
    Path fromSourceJson(Path file, ModelOptions models) {
        try {
            com.fasterxml.jackson.databind.JsonNode n = new com.fasterxml.jackson.databind.ObjectMapper().readTree(file.toFile());
            // Folders written before Keras support have neither field.
            if (n.hasNonNull("weights")) {
                models.weights = Path.of(n.get("weights").asText());
            }
            if (n.hasNonNull("data_layout")) {
                models.dataLayout = new ModelOptions.LayoutConverter().convert(n.get("data_layout").asText());
            }
            weightBits = n.get("weight_bits").asInt();
            actBits = n.get("act_bits").asInt();
            perTensor = n.get("per_tensor").asBoolean();
            lutIndexBits = n.hasNonNull("lut_index_bits") ? n.get("lut_index_bits").asInt() : null;
            percentile = n.get("percentile").isNull() ? null : n.get("percentile").asDouble();
            // Folders written before --calibration were calibrated by max-abs unless a percentile was given.
            calibration = !n.has("calibration") ? (percentile == null ? QuantConfig.CalibrationMethod.MAX_ABS : null)
                    : n.get("calibration").isNull() ? null : new OptionTypes.Calibration().convert(n.get("calibration").asText());
            config = n.get("config").isNull() ? null : Path.of(n.get("config").asText());
            calib = Path.of(n.get("calib").asText());
            return Path.of(n.get("model").asText());
        } catch (java.io.IOException | RuntimeException e) {
            throw new ModelException(Diagnostic.SF_BAD_DATA, file.toString(), null, "unreadable: " + e.getMessage(),
                    "a folder written by streamfold convert holds a valid source.json");
        }
    }

    /** Files these options read (for the output folder's safety checks): the calibration data and the config. */
    List<Path> inputs(Path model) {
        List<Path> l = new java.util.ArrayList<>();
        l.add(calib != null ? calib : model.toAbsolutePath().getParent().resolve("calib.npy"));
        if (config != null) {
            l.add(config);
        }
        return l;
    }

    /**
     * The calibration samples, written in {@code layout} (null: the model's own input layout):
     * {@code --calib}, else {@code calib.npy} next to the model.
     */
    List<double[]> calibration(Path model, Graph g, Layout layout) {
        Path f = calibrationFile(model);
        if (f == null) {
            throw new ModelException(Diagnostic.SF_BAD_DATA, model.toString(), null, "no calibration data",
                    "give --calib DATA (.npy or .csv of typical inputs) or put calib.npy beside the model");
        }
        return DataFiles.samples(f, g, layout);
    }

    /** {@code --calib}, else {@code calib.npy} next to the model if there is one, else null. */
    Path calibrationFile(Path model) {
        if (calib != null) {
            return calib;
        }
        Path sibling = model.toAbsolutePath().getParent().resolve("calib.npy");
        return Files.exists(sibling) ? sibling : null;
    }
}
