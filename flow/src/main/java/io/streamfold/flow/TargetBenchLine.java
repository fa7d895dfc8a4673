package io.streamfold.flow;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.nio.file.Path;
import java.util.Locale;

/**
 * One line of {@code bench/mixed-precision}, from the {@code verify --target-agreement ... --json}
 * file of one model: the cost of the chosen widths beside uniform 8- and 16-bit designs, the
 * agreement on the calibration data the search met, the agreement on the held-out inputs, and the
 * search's wall-clock time.
 * {@code --header} prints the column titles.
 */
public final class TargetBenchLine {

    private TargetBenchLine() {
    }

    private static final String FORMAT = "%-14s %-17s %12s %12s %13s %13s %9s %9s %9s  %s%n";

    public static void main(String[] args) throws Exception {
        if (args[0].equals("--header")) {
            System.out.printf(Locale.ROOT, FORMAT, "model", "calibration data", "chosen cost", "uniform-8", "uniform-16", "calib agree",
                    "held-out", "samples", "search s", "below uniform-8");
            return;
        }
        JsonNode mp = new ObjectMapper().readTree(Path.of(args[0]).toFile()).path("mixed_precision");
        System.out.printf(Locale.ROOT, FORMAT, args[1], args[2], mp.path("chosen").path("cost").asLong(),
                mp.path("uniform_8").path("cost").asLong(), mp.path("uniform_16").path("cost").asLong(),
                pct(mp.path("chosen").path("calibration_agreement").asDouble()), pct(mp.path("held_out_agreement").asDouble()),
                mp.path("held_out_samples").asInt(), String.format(Locale.ROOT, "%.1f", mp.path("search_seconds").asDouble()),
                mp.path("cheaper_than_uniform_8").asBoolean(true) ? "yes"
                        : "no: " + mp.path("why_not_cheaper").asText());
    }

    private static String pct(double f) {
        return String.format(Locale.ROOT, "%.2f%%", 100 * f);
    }
}
