package io.streamfold.flow;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.streamfold.hw.DeviceTarget;
import io.streamfold.testbench.EdaRunner;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Synthesis, placement and routing of an emitted design with the open iCE40 flow (Yosys
 * {@code synth_ice40}, then {@code nextpnr-ice40}), and the figures it reports: logic cells,
 * flip-flops, DSP blocks, block RAM, SPRAM and the post-route maximum clock frequency.
 *
 * <p>The commands are built in one place ({@link #commands}): the folder's {@code run_ice40.sh}
 * (what {@code make ice40} runs) is rendered from them, and {@code streamfold synth} runs them, so
 * both always do the same thing. The design's top-level ports become package pins; a design whose
 * beats are wider than the package has pins does not place (reported as such).
 */
public final class Implementation {

    /** Files the flow writes into the design folder. */
    public static final String NETLIST = "ice40_netlist.json";
    public static final String YOSYS_LOG = "ice40_yosys.log";
    public static final String YOSYS_STAT = "ice40_stat.txt";
    public static final String PNR_LOG = "ice40_nextpnr.log";
    public static final String PNR_REPORT = "ice40_nextpnr.json";

    private Implementation() {
    }

    /**
     * What place and route achieved.
     *
     * @param device       the target's name
     * @param logicCells   logic cells used ({@code ICESTORM_LC})
     * @param logicCellsAvailable the device's logic cells
     * @param flipFlops    flip-flops after synthesis (every {@code SB_DFF*} cell)
     * @param dsps         {@code SB_MAC16} blocks
     * @param blockRams    {@code SB_RAM40_4K} blocks (EBR)
     * @param sprams       {@code SB_SPRAM256KA} blocks
     * @param fmaxMhz      post-route maximum frequency of {@code aclk}, NaN if routing did not finish
     * @param clockMhz     the clock aimed for
     * @param failure      why it does not fit or did not route, empty if it did
     */
    public record Result(String device, int logicCells, int logicCellsAvailable, int flipFlops, int dsps, int blockRams, int sprams,
                         double fmaxMhz, double clockMhz, String failure) {

        /** True if the design placed and routed on the device. */
        public boolean fits() {
            return failure.isEmpty();
        }

        public boolean meetsClock() {
            return fits() && fmaxMhz >= clockMhz;
        }

        /** The figures as a JSON-ready map, in a fixed order. */
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("device", device);
            m.put("logic_cells", logicCells);
            m.put("logic_cells_available", logicCellsAvailable);
            m.put("flip_flops", flipFlops);
            m.put("dsps", dsps);
            m.put("block_rams", blockRams);
            m.put("sprams", sprams);
            m.put("fmax_mhz", Double.isNaN(fmaxMhz) ? null : Math.round(fmaxMhz * 100) / 100.0);
            m.put("clock_mhz", clockMhz);
            m.put("fits", fits());
            m.put("meets_clock", meetsClock());
            m.put("failure", failure.isEmpty() ? null : failure);
            return m;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%s: %d/%d logic cells, %d flip-flops, %d DSP, %d EBR, %d SPRAM, Fmax %s MHz (clock %.1f MHz)%s",
                    device, logicCells, logicCellsAvailable, flipFlops, dsps, blockRams, sprams,
                    Double.isNaN(fmaxMhz) ? "-" : String.format(Locale.ROOT, "%.2f", fmaxMhz), clockMhz,
                    failure.isEmpty() ? "" : ": " + failure);
        }
    }

    /**
     * The fewest flip-flops a clock-enable net must drive to be kept as an enable
     * ({@code synth_ice40 -dffe_min_ce_use}); a smaller group's enable becomes a multiplexer in its
     * LUTs. The eight logic cells of an iCE40 logic block share one clock-enable, so a register
     * group with an enable of its own strands the rest of its block, and the placer has to spread
     * these small groups across the device; the streams' control (counters, flags, FIFO state)
     * consists of such groups. Measured with Yosys 0.23 and nextpnr-ice40 0.4 on the UP5K, placer
     * seeds 1-4 (bench/results-ice40.txt): mean Fmax cnn_residual 43.9 -> 48.5 MHz, seed28 46.8 -> 49.0,
     * mlp_bn 52.0 -> 53.3, cnn_seed 49.9 -> 50.0, for 0.5-1 % more logic cells; 4 was worse on
     * seed28 and cnn_seed, 16 did not help cnn_residual.
     */
    static final int MIN_CLOCK_ENABLE_USE = 8;

    /** The Yosys and nextpnr command lines for a design's Verilog files. */
    public static List<List<String>> commands(String top, List<String> verilogFiles, DeviceTarget t, double clockMhz, int seed) {
        if (!t.placeable()) {
            throw new IllegalArgumentException(t.name() + " is not an iCE40 device");
        }
        String synth = "synth_ice40" + (t.dsps() > 0 ? " -dsp" : "") + " -dffe_min_ce_use " + MIN_CLOCK_ENABLE_USE
                + " -top " + top + " -json " + NETLIST;
        String script = "read_verilog " + String.join(" ", verilogFiles) + "; " + synth + "; tee -q -o " + YOSYS_STAT + " stat";
        List<List<String>> cmds = new ArrayList<>();
        cmds.add(List.of("yosys", "-q", "-l", YOSYS_LOG, "-p", script));
        cmds.add(List.of("nextpnr-ice40", "--" + t.nextpnrDevice(), "--package", t.pack(), "--json", NETLIST, "--freq",
                fmt(clockMhz), "--seed", Integer.toString(seed), "--timing-allow-fail", "--report", PNR_REPORT, "-q", "-l", PNR_LOG));
        return cmds;
    }

    /** {@code run_ice40.sh}: the same commands as a script. */
    public static String script(String top, List<String> verilogFiles, DeviceTarget t) {
        StringBuilder sb = new StringBuilder("#!/bin/sh\n# Synthesis, placement and routing for " + t.name()
                + " (Yosys + nextpnr-ice40); streamfold synth runs the same and reports the figures.\nset -e\ncd \"$(dirname \"$0\")\"\n");
        for (List<String> c : commands(top, verilogFiles, t, t.clockMhz(), 1)) {
            List<String> q = new ArrayList<>();
            for (String a : c) {
                q.add(a.matches("[A-Za-z0-9_./=+-]+") ? a : "'" + a.replace("'", "'\\''") + "'");
            }
            sb.append(String.join(" ", q)).append('\n');
        }
        return sb.toString();
    }

    /** Runs synthesis and place-and-route in {@code dir} with one placer seed and reads the figures. */
    public static Result run(Path dir, String top, List<String> verilogFiles, DeviceTarget t, double clockMhz, int seed)
            throws IOException, InterruptedException {
        return sweep(dir, top, verilogFiles, t, clockMhz, List.of(seed)).best();
    }

    /**
     * A placement sweep: the figures of the seed with the highest Fmax among those that fit (the
     * lowest seed on a tie), and every seed's Fmax (NaN where it did not fit or route).
     */
    public record Sweep(Result best, int bestSeed, Map<Integer, Double> fmaxBySeed) {

        /** {@code best}'s figures plus {@code seed} and {@code fmax_by_seed}. */
        public Map<String, Object> toMap() {
            Map<String, Object> m = best.toMap();
            m.put("seed", bestSeed);
            Map<String, Object> bySeed = new LinkedHashMap<>();
            fmaxBySeed.forEach((k, v) -> bySeed.put(Integer.toString(k), Double.isNaN(v) ? null : Math.round(v * 100) / 100.0));
            m.put("fmax_by_seed", bySeed);
            return m;
        }

        @Override
        public String toString() {
            if (fmaxBySeed.size() == 1) {
                return best.toString();
            }
            StringBuilder sb = new StringBuilder(best.toString()).append("\nplacer seeds:");
            fmaxBySeed.forEach((k, v) -> sb.append(String.format(Locale.ROOT, " %d: %s", k, Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2f", v))));
            return sb.append(String.format(Locale.ROOT, " MHz; kept seed %d (its log and report are %s, %s)", bestSeed, PNR_LOG, PNR_REPORT)).toString();
        }
    }

    /**
     * Synthesizes once, then places and routes with each of {@code seeds} placer seeds (nextpnr's
     * placement, and so Fmax, moves by several MHz between seeds of the same netlist) and keeps
     * the best: its log and report under the usual names, every seed's as {@code ice40_nextpnr_seedN.*}.
     */
    public static Sweep sweep(Path dir, String top, List<String> verilogFiles, DeviceTarget t, double clockMhz, List<Integer> seeds)
            throws IOException, InterruptedException {
        if (seeds.isEmpty()) {
            throw new IllegalArgumentException("no placer seed");
        }
        List<List<String>> first = commands(top, verilogFiles, t, clockMhz, seeds.get(0));
        EdaRunner.Run synth = EdaRunner.run(dir, first.get(0), 3600);
        if (synth.exitCode() != 0) {
            Result failed = new Result(t.name(), 0, t.logicCells(), 0, 0, 0, 0, Double.NaN, clockMhz, "synthesis failed: " + lastError(synth.output()));
            return new Sweep(failed, seeds.get(0), Map.of(seeds.get(0), Double.NaN));
        }
        String stat = Files.readString(dir.resolve(YOSYS_STAT));
        Map<Integer, Double> bySeed = new LinkedHashMap<>();
        Result best = null;
        int bestSeed = seeds.get(0);
        for (int seed : seeds) {
            Files.deleteIfExists(dir.resolve(PNR_REPORT));
            EdaRunner.Run pnr = EdaRunner.run(dir, commands(top, verilogFiles, t, clockMhz, seed).get(1), 3600);
            String log = Files.exists(dir.resolve(PNR_LOG)) ? Files.readString(dir.resolve(PNR_LOG)) : pnr.output();
            String report = Files.exists(dir.resolve(PNR_REPORT)) ? Files.readString(dir.resolve(PNR_REPORT)) : null;
            Result r = parse(t, clockMhz, stat, log, report, pnr.exitCode() == 0 ? "" : lastError(log + "\n" + pnr.output()));
            bySeed.put(seed, r.fits() ? r.fmaxMhz() : Double.NaN);
            if (seeds.size() > 1) {
                Files.writeString(dir.resolve(seedFile(PNR_LOG, seed)), log);
                if (report != null) {
                    Files.writeString(dir.resolve(seedFile(PNR_REPORT, seed)), report);
                }
            }
            if (best == null || (r.fits() && (!best.fits() || r.fmaxMhz() > best.fmaxMhz()))) {
                best = r;
                bestSeed = seed;
            }
        }
        if (seeds.size() > 1) {
            Files.copy(dir.resolve(seedFile(PNR_LOG, bestSeed)), dir.resolve(PNR_LOG), StandardCopyOption.REPLACE_EXISTING);
            Path report = dir.resolve(seedFile(PNR_REPORT, bestSeed));
            if (Files.exists(report)) {
                Files.copy(report, dir.resolve(PNR_REPORT), StandardCopyOption.REPLACE_EXISTING);
            } else {
                Files.deleteIfExists(dir.resolve(PNR_REPORT));
            }
        }
        return new Sweep(best, bestSeed, bySeed);
    }

    /** {@code ice40_nextpnr.log} -> {@code ice40_nextpnr_seed3.log}. */
    static String seedFile(String name, int seed) {
        int dot = name.lastIndexOf('.');
        return name.substring(0, dot) + "_seed" + seed + name.substring(dot);
    }

    /** The design's Verilog files in a folder {@code convert} wrote: every {@code .v} but the testbench. */
    public static List<String> designFiles(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".v") && !n.endsWith("_tb.v")
                    && !io.streamfold.verilog.VerilogLowering.simulationOnly(n)).sorted().toList();
        }
    }

    /** The figures from Yosys' {@code stat}, nextpnr's log and its JSON report (null if it wrote none). */
    static Result parse(DeviceTarget t, double clockMhz, String stat, String pnrLog, String pnrReport, String failure) throws IOException {
        int ffs = 0;
        Matcher m = Pattern.compile("(?m)^\\s*(SB_DFF\\w*)\\s+(\\d+)").matcher(stat);
        while (m.find()) {
            ffs += Integer.parseInt(m.group(2));
        }
        int dsp = cells(stat, "SB_MAC16");
        int ebr = cells(stat, "SB_RAM40_4K");
        int spram = cells(stat, "SB_SPRAM256KA");
        int lc = used(pnrLog, "ICESTORM_LC");
        int lcAvail = t.logicCells();
        double fmax = Double.NaN;
        if (pnrReport != null) {
            JsonNode r = new ObjectMapper().readTree(pnrReport);
            JsonNode u = r.path("utilization").path("ICESTORM_LC");
            if (!u.isMissingNode()) {
                lc = u.path("used").asInt();
                lcAvail = u.path("available").asInt();
            }
            for (JsonNode clk : r.path("fmax")) {
                fmax = Double.isNaN(fmax) ? clk.path("achieved").asDouble() : Math.min(fmax, clk.path("achieved").asDouble());
            }
        }
        if (!failure.isEmpty() && lcAvail > 0 && lc > lcAvail) {
            failure = "needs " + lc + " logic cells, " + t.name() + " has " + lcAvail;
        }
        return new Result(t.name(), lc, lcAvail, ffs, dsp, ebr, spram, fmax, clockMhz, failure);
    }

    /** The count of a cell type in Yosys' {@code stat} of the flattened design. */
    private static int cells(String stat, String cell) {
        Matcher m = Pattern.compile("(?m)^\\s*" + cell + "\\s+(\\d+)").matcher(stat);
        int n = 0;
        while (m.find()) {
            n = Integer.parseInt(m.group(1));
        }
        return n;
    }

    /** {@code used} of a nextpnr "Device utilisation" line ({@code ICESTORM_LC:  5942/ 5280   112%}), 0 if absent. */
    private static int used(String log, String bel) {
        Matcher m = Pattern.compile(bel + ":\\s+(\\d+)/\\s*(\\d+)").matcher(log);
        int n = 0;
        while (m.find()) {
            n = Integer.parseInt(m.group(1));
        }
        return n;
    }

    private static String lastError(String log) {
        String err = "";
        for (String l : log.split("\n")) {
            if (l.startsWith("ERROR:")) {
                err = l.substring(6).strip();
            }
        }
        return err.isEmpty() ? "see the tool log" : err;
    }

    private static String fmt(double mhz) {
        return mhz == Math.rint(mhz) ? Long.toString((long) mhz) : Double.toString(mhz);
    }
}
