package io.streamfold.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.streamfold.flow.HtmlReport;
import io.streamfold.flow.Implementation;
import io.streamfold.hw.DeviceTarget;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code streamfold synth DIR}: synthesis, placement and routing of a folder {@code convert} wrote,
 * for its iCE40 target; writes the figures (logic cells, flip-flops, DSP, EBR, SPRAM, post-route
 * Fmax) into report.json and report.html. Exit 1 if the design does not fit or misses the clock.
 */
@Command(name = "synth", mixinStandardHelpOptions = true,
        description = "Synthesizes, places and routes a converted design with Yosys and nextpnr-ice40 and records the figures in its report; "
                + "exit 1 if it does not fit or misses --clock-mhz.")
final class SynthCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "DIR", description = "a folder written by streamfold convert")
    Path dir;

    @Option(names = "--target", paramLabel = "DEVICE", converter = HardwareOptions.TargetConverter.class,
            description = "ice40-up5k or ice40-hx8k (default: the folder's target if it is an iCE40, else ice40-up5k)")
    DeviceTarget target;

    @Option(names = "--clock-mhz", paramLabel = "F", description = "the clock to meet (default: the device's, 48 MHz on the iCE40s)")
    Double clockMhz;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1", description = "placer seed (default ${DEFAULT-VALUE})")
    int seed;

    @Option(names = "--seeds", paramLabel = "K", defaultValue = "1",
            description = "place and route with K placer seeds (--seed, --seed + 1, ...) after one synthesis and keep the fastest "
                    + "placement (default ${DEFAULT-VALUE}); every seed's Fmax goes to report.json")
    int seeds;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path reportFile = dir.resolve("report.json");
        if (!Files.isRegularFile(reportFile)) {
            throw new ModelException(Diagnostic.SF_BAD_DATA, dir.toString(), null, "not a folder written by convert (no report.json)",
                    "run streamfold convert MODEL -o DIR first");
        }
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode report;
        try {
            report = (ObjectNode) json.readTree(reportFile.toFile());
        } catch (IOException | ClassCastException e) {
            throw new ModelException(Diagnostic.SF_BAD_DATA, reportFile.toString(), null, "unreadable report: " + e.getMessage(), null);
        }
        DeviceTarget t = target;
        if (t == null) {
            DeviceTarget folder = DeviceTarget.of(report.path("target").asText("generic"));
            t = folder.placeable() ? folder : DeviceTarget.ICE40_UP5K;
        }
        if (!t.placeable()) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--target must be an iCE40 device, got " + t.name());
        }
        double clock = clockMhz != null ? clockMhz : t.clockMhz();
        if (!(clock > 0 && clock < 1000)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--clock-mhz must be in (0, 1000), got " + clock);
        }
        for (String tool : List.of("yosys", "nextpnr-ice40")) {
            if (!DemoCommand.onPath(tool)) {
                throw new ModelException(Diagnostic.SF_BAD_DATA, tool, null, "is not installed", "apt-get install yosys nextpnr-ice40");
            }
        }
        String top = report.path("top").asText();
        if (seeds < 1 || seeds > 64) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--seeds must be in 1..64, got " + seeds);
        }
        List<Integer> tried = new ArrayList<>();
        for (int k = 0; k < seeds; k++) {
            tried.add(seed + k);
        }
        Implementation.Sweep sweep = Implementation.sweep(dir, top, Implementation.designFiles(dir), t, clock, tried);
        Implementation.Result r = sweep.best();
        ObjectNode impl = json.valueToTree(sweep.toMap());
        // beside the measured count, the planner's for the same device (convert wrote it for the folder's target)
        JsonNode expected = report.path("hardware").path("dsps");
        boolean sameTarget = t.name().equals(report.path("target").asText());
        if (sameTarget && expected.isInt()) {
            impl.put("dsps_expected", expected.asInt());
        }
        report.set("implementation", impl);
        Files.writeString(reportFile, json.writeValueAsString(report) + "\n");
        Path html = dir.resolve("report.html");
        if (Files.isRegularFile(html)) {
            Files.writeString(html, HtmlReport.withImplementation(Files.readString(html), r));
        }
        out.println(sweep);
        if (sameTarget && expected.isInt()) {
            out.printf(Locale.ROOT, "DSP blocks: %d measured, %d expected by the planner%n", r.dsps(), expected.asInt());
        }
        boolean ok = r.meetsClock();
        out.printf(Locale.ROOT, "%s (logs: %s, %s; figures in %s)%n", ok ? "PASS: fits and meets the clock"
                : r.fits() ? String.format(Locale.ROOT, "FAIL: Fmax %.2f MHz is below %.1f MHz%s", r.fmaxMhz(), clock,
                        seeds == 1 ? " with placer seed " + seed + " (Fmax moves by several MHz between seeds: try --seeds 3)" : "")
                : "FAIL: " + r.failure(),
                Implementation.YOSYS_LOG, Implementation.PNR_LOG, reportFile);
        out.flush();
        return ok ? ExitCodes.OK : ExitCodes.VERIFY_FAILED;
    }
}
