package io.streamfold.cli;

import io.streamfold.compile.MixedPrecision;
import io.streamfold.compile.Pipeline;
import io.streamfold.flow.Reports;
import io.streamfold.hw.HardwareCost;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.IoErrors;
import io.streamfold.ir.ModelException;
import io.streamfold.quant.AutoCalibration;
import io.streamfold.quant.QuantConfig;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Automatic mixed precision, shared by {@code convert} and {@code verify}: with a target, the
 * per-layer widths come from {@link MixedPrecision#search} on the calibration data instead of
 * {@code --weight-bits}/{@code --act-bits}, and the choice can be written as a {@code --config}
 * file that reproduces the design.
 */
final class TargetOptions {

    @Option(names = "--target-agreement", paramLabel = "P", converter = OptionTypes.Fraction.class,
            description = "choose per-layer weight and activation widths (2..16 bits) for the cheapest design whose top-1 agreement "
                    + "with the float model on the calibration data is at least P, in [0, 1]")
    Double agreement;

    @Option(names = "--target-sqnr", paramLabel = "DB", converter = OptionTypes.Decibels.class,
            description = "choose per-layer widths for the cheapest design whose output SQNR on the calibration data is at least DB, "
                    + "in (0, 300] (with --target-agreement: both)")
    Double sqnr;

    @Option(names = "--write-config", paramLabel = "FILE",
            description = "with a target: write the chosen widths and formats as a --config file (convert also puts it in its folder)")
    Path writeConfig;

    /** The command this mixin belongs to, for usage errors about combinations of options. */
    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    /** The file convert writes into its folder with a target. */
    static final String CONFIG_FILE = "quant-config.json";

    /** Wall-clock seconds of the last {@link #search}, reported beside its result. */
    private double seconds;

    /** True if a target was given. */
    boolean active() {
        return agreement != null || sqnr != null;
    }

    /** Usage errors (exit 2): a file to write without a target, or a target with {@code --config}. */
    void check(QuantOptions quant) {
        if (writeConfig != null && !active()) {
            throw new CommandLine.ParameterException(command.commandLine(), "--write-config needs --target-agreement or --target-sqnr");
        }
        if (active() && quant.config != null) {
            throw new CommandLine.ParameterException(command.commandLine(), "--target-agreement and --target-sqnr choose every width "
                    + "themselves; they cannot start from --config " + quant.config);
        }
    }

    MixedPrecision.Target target() {
        return new MixedPrecision.Target(agreement == null ? Double.NaN : agreement, sqnr == null ? Double.NaN : sqnr);
    }

    /** {@link MixedPrecision#search} for the target, timed (the report gives the search's time). */
    MixedPrecision.Result search(Graph g, Pipeline.Settings settings, List<double[]> calib) {
        long t0 = System.nanoTime();
        MixedPrecision.Result r = MixedPrecision.search(g, settings, calib, target());
        seconds = (System.nanoTime() - t0) / 1e9;
        return r;
    }

    /**
     * {@code base} with the widths and formats the search chose, attributed to {@link #CONFIG_FILE}:
     * convert writes them there, and the report then says every format came from it.
     */
    static QuantConfig apply(QuantConfig base, MixedPrecision.Result r) {
        return base.withOverrides(r.overridesJson(), "mixed precision").withOverridesFile(CONFIG_FILE);
    }

    /** Writes the chosen config to {@code --write-config}, if given; returns the line saying so, or null. */
    String write(MixedPrecision.Result r) {
        if (writeConfig == null) {
            return null;
        }
        try {
            Files.writeString(writeConfig, r.overridesJson());
        } catch (IOException e) {
            throw new ModelException(Diagnostic.SF_IO, writeConfig.toString(), null, "cannot write: " + IoErrors.reason(e), null);
        }
        return "wrote the chosen widths to " + writeConfig + " (use it with --config)";
    }

    /** The search's result as text: the widths per layer, then the chosen design's cost beside uniform 8 and 16 bits. */
    void print(PrintWriter out, Graph folded, MixedPrecision.Result r) {
        MixedPrecision.Evaluation c = r.chosen();
        out.printf(Locale.ROOT, "mixed precision: the cheapest widths found with %s on the %d calibration samples (calibration %s, "
                + "%d designs evaluated in %.1f s)%n", r.target(), c.samples(), AutoCalibration.name(r.calibration()), r.evaluations(), seconds);
        out.printf("  %-28s %-17s %8s %11s%n", "node", "kind", "act bits", "weight bits");
        for (Row row : rows(folded, r)) {
            out.printf("  %-28s %-17s %8s %11s%n", row.node(), row.kind(), row.act() < 0 ? "-" : String.valueOf(row.act()),
                    row.weights() < 0 ? "-" : String.valueOf(row.weights()));
        }
        out.printf("  %-16s %12s %16s %10s %12s %22s %12s%n", "design", "cost (bits)", "multiplier bits", "ROM bits", "buffer bits",
                "calibration agreement", "output SQNR");
        line(out, "chosen", c);
        line(out, "uniform 8-bit", r.uniform8());
        line(out, "uniform 16-bit", r.uniform16());
        out.printf(Locale.ROOT, "  target met with the quantization error x%.0f on %s, on each half of the calibration samples (search %d/%d, "
                + "validation %d/%d)%n", MixedPrecision.MARGIN, r.judged(), c.search().robust(), c.search().samples(), c.validation().robust(),
                c.validation().samples());
        String why = r.whyNotCheaperThanUniform8();
        if (why != null) {
            out.println("  no design cheaper than uniform 8 bits: " + why);
        }
    }

    private static void line(PrintWriter out, String label, MixedPrecision.Evaluation e) {
        if (e == null) {
            out.printf("  %-16s %12s%n", label, "(cannot be built)");
            return;
        }
        HardwareCost k = e.cost();
        String agree = String.format(Locale.ROOT, "%d/%d (%.2f%%)", e.agree(), e.samples(), 100 * e.agreement());
        out.printf(Locale.ROOT, "  %-16s %12d %16d %10d %12d %22s %9.1f dB%n", label, k.total(), k.multiplierBits(), k.romBits(),
                k.bufferBits(), agree, e.sqnrDb());
    }

    /** One node's chosen widths (-1: none of that kind; a pass-through node keeps its input's). */
    record Row(String node, String kind, int act, int weights) {
    }

    static List<Row> rows(Graph folded, MixedPrecision.Result r) {
        List<Row> rows = new ArrayList<>();
        rows.add(new Row(folded.input(), "Input", r.width(folded.input(), false), -1));
        for (io.streamfold.ir.Node n : folded.nodes()) {
            int a = r.width(n.name(), false);
            int w = r.width(n.name(), true);
            if (a >= 0 || w >= 0) {
                rows.add(new Row(n.name(), n.op().kind(), a, w));
            }
        }
        return rows;
    }

    /** The search's figures for {@code verify --json}. */
    Map<String, Object> json(Graph folded, MixedPrecision.Result r, double heldOut, int heldOutSamples) {
        List<Map<String, Object>> widths = new ArrayList<>();
        for (Row row : rows(folded, r)) {
            widths.add(Reports.ordered("node", row.node(), "kind", row.kind(), "act_bits", row.act() < 0 ? null : row.act(), "weight_bits",
                    row.weights() < 0 ? null : row.weights()));
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("target_agreement", Double.isNaN(r.target().agreement()) ? null : r.target().agreement());
        m.put("target_sqnr_db", Double.isNaN(r.target().sqnrDb()) ? null : r.target().sqnrDb());
        m.put("calibration", AutoCalibration.name(r.calibration()));
        m.put("evaluated", r.evaluations());
        m.put("search_seconds", Math.round(seconds * 10) / 10.0);
        m.put("widths", widths);
        m.put("chosen", design(r.chosen()));
        m.put("uniform_8", design(r.uniform8()));
        m.put("uniform_16", design(r.uniform16()));
        m.put("margin", MixedPrecision.MARGIN);
        m.put("margin_on_logits", r.logits());
        m.put("cheaper_than_uniform_8", r.whyNotCheaperThanUniform8() == null);
        m.put("why_not_cheaper", r.whyNotCheaperThanUniform8());
        m.put("held_out_agreement", heldOut);
        m.put("held_out_samples", heldOutSamples);
        return m;
    }

    private static Map<String, Object> design(MixedPrecision.Evaluation e) {
        if (e == null) {
            return null;
        }
        HardwareCost k = e.cost();
        return Reports.ordered("cost", k.total(), "multiplier_bits", k.multiplierBits(), "rom_bits", k.romBits(), "buffer_bits",
                k.bufferBits(), "calibration_agreement", e.agreement(), "output_sqnr_db", e.sqnrDb(), "search_half_with_margin",
                half(e.search()), "validation_half_with_margin", half(e.validation()));
    }

    private static Map<String, Object> half(MixedPrecision.Half h) {
        return Reports.ordered("agree", h.robust(), "samples", h.samples());
    }
}
