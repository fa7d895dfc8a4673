package io.streamfold.cli;

import io.streamfold.compile.DataFiles;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.quant.QuantConfig;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Quantization options shared by the commands that compile a model. */
final class QuantOptions {

    @Option(names = "--weight-bits", paramLabel = "N", description = "weight width in bits (default ${DEFAULT-VALUE})", defaultValue = "8")
    int weightBits;

    @Option(names = "--act-bits", paramLabel = "N", description = "activation width in bits (default ${DEFAULT-VALUE})", defaultValue = "8")
    int actBits;

    @Option(names = "--per-tensor", description = "one weight format per layer instead of per output channel")
    boolean perTensor;

    @Option(names = "--percentile", paramLabel = "P", description = "calibrate activation ranges to this percentile of |x| instead of the maximum")
    Double percentile;

    @Option(names = "--config", paramLabel = "FILE", description = "JSON file of per-layer format overrides")
    Path config;

    @Option(names = "--calib", paramLabel = "DATA", description = "calibration inputs (.npy or .csv, channels first); default: calib.npy beside the model")
    Path calib;

    QuantConfig config() {
        QuantConfig c = QuantConfig.defaults().withBits(weightBits, actBits).withPerChannel(!perTensor);
        if (percentile != null) {
            c = c.withPercentile(percentile);
        }
        if (config != null) {
            try {
                c = c.withOverrides(config);
            } catch (java.io.IOException e) {
                throw new ModelException(Diagnostic.SF_BAD_QUANT, config.toString(), null, "cannot read: " + e.getMessage(), null);
            }
        }
        return c;
    }

    /** The calibration samples: {@code --calib}, else {@code calib.npy} next to the model. */
    List<double[]> calibration(Path model, Graph g) {
        Path f = calib;
        if (f == null) {
            Path sibling = model.toAbsolutePath().getParent().resolve("calib.npy");
            if (!Files.exists(sibling)) {
                throw new ModelException(Diagnostic.SF_BAD_DATA, model.toString(), null, "no calibration data",
                        "give --calib DATA (.npy or .csv of typical inputs) or put calib.npy beside the model");
            }
            f = sibling;
        }
        return DataFiles.samples(f, g.inputShape());
    }
}
