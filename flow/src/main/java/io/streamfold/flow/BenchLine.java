package io.streamfold.flow;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.nio.file.Path;
import java.util.Locale;

/**
 * One line of {@code bench/ice40}: the place-and-route figures and the schedule of a converted and
 * synthesized folder, with the time per inference at the achieved Fmax (II cycles per inference).
 */
public final class BenchLine {

    private BenchLine() {
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("--memory")) {
            System.out.println(memory(new ObjectMapper().readTree(Path.of(args[1]).toFile())));
            return;
        }
        JsonNode r = new ObjectMapper().readTree(Path.of(args[0]).toFile());
        JsonNode i = r.path("implementation");
        JsonNode hw = r.path("hardware");
        double fmax = i.path("fmax_mhz").asDouble(Double.NaN);
        long ii = hw.path("initiation_interval").asLong();
        // with a placer-seed sweep, every seed's Fmax after the verdict (the kept one is the column)
        StringBuilder seeds = new StringBuilder();
        if (i.path("fmax_by_seed").size() > 1) {
            i.path("fmax_by_seed").fields().forEachRemaining(e -> seeds.append(seeds.length() == 0 ? "  seeds " : " ")
                    .append(e.getKey()).append(':').append(e.getValue().isNull() ? "-" : String.format(Locale.ROOT, "%.1f", e.getValue().asDouble())));
        }
        System.out.printf(Locale.ROOT, "%-14s %-11s %9s %6d %4d %4d %5d %9s %8d %8d %10s  %s%s%n", args[1], i.path("device").asText(),
                i.path("logic_cells").asInt() + "/" + i.path("logic_cells_available").asInt(), i.path("flip_flops").asInt(),
                i.path("dsps").asInt(), i.path("block_rams").asInt(), i.path("sprams").asInt(),
                Double.isNaN(fmax) ? "-" : String.format(Locale.ROOT, "%.1f", fmax),
                ii, hw.path("latency").asLong(), Double.isNaN(fmax) ? "-" : String.format(Locale.ROOT, "%.1f", ii / fmax),
                args.length > 2 ? args[2] : "", seeds);
    }

    /** Where a converted design keeps its constants, from {@code report.json}: one line. */
    static String memory(JsonNode r) {
        JsonNode hw = r.path("hardware");
        StringBuilder spram = new StringBuilder();
        for (JsonNode s : hw.path("stages")) {
            if (s.path("weights").asText().equals("spram")) {
                spram.append(spram.length() == 0 ? "" : ", ").append(s.path("source").asText()).append(" (")
                        .append(s.path("spram_blocks").asInt()).append(" blocks)");
            }
        }
        return String.format(Locale.ROOT, "constants: %.1f kbit, %.1f kbit of them in the design (block RAM or logic); SPRAM: %s; "
                        + "buffers and FIFOs: %.1f kbit; weight load: %d bytes",
                hw.path("rom_bits").asLong() / 1024.0, hw.path("block_rom_bits").asLong() / 1024.0,
                spram.length() == 0 ? "none" : hw.path("spram_blocks").asInt() + " blocks, " + spram,
                hw.path("buffer_bits").asLong() / 1024.0, hw.path("weight_load_bytes").asLong());
    }
}
