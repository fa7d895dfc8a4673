package io.streamfold.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code synth} on a tiny design (a 4-4-2 MLP: place and route takes seconds): the figures land in
 * report.json and report.html, a clock the design cannot meet exits 1. The examples are placed and
 * routed by the bench, not here.
 */
class SynthCommandTest {

    @TempDir
    static Path tmp;

    static Path design;

    @BeforeAll
    static void convert() throws Exception {
        assumeTrue(DemoCommand.onPath("yosys") && DemoCommand.onPath("nextpnr-ice40"), "yosys and nextpnr-ice40 are not installed");
        Path model = Path.of(SynthCommandTest.class.getResource("/tiny_mlp/model.json").toURI());
        design = tmp.resolve("tiny");
        CliTestSupport.Run c = CliTestSupport.run("convert", model.toString(), "-o", design.toString(), "--target", "ice40-up5k");
        assertEquals(0, c.code(), c.err());
        assertTrue(Files.readString(design.resolve("Makefile")).contains("ice40:"));
        assertTrue(Files.readString(design.resolve("run_ice40.sh")).contains("nextpnr-ice40 --up5k --package sg48"));
    }

    @Test
    void placesAndRoutesAndRecordsTheFigures() throws Exception {
        // 12 MHz: what this test needs is a design that fits and routes; the Fmax figures are the bench's
        CliTestSupport.Run r = CliTestSupport.run("synth", design.toString(), "--clock-mhz", "12");
        assertEquals(0, r.code(), r.out() + r.err());
        JsonNode impl = new ObjectMapper().readTree(design.resolve("report.json").toFile()).path("implementation");
        assertEquals("ice40-up5k", impl.path("device").asText());
        int lcs = impl.path("logic_cells").asInt();
        assertTrue(lcs > 50 && lcs <= 5280, "logic cells " + lcs);
        assertTrue(impl.path("flip_flops").asInt() > 0);
        assertTrue(impl.path("dsps").asInt() <= 8);
        // the planner's count (convert wrote it for the same device) beside the measured one
        assertTrue(impl.path("dsps_expected").isInt(), impl.toString());
        assertEquals(impl.path("dsps_expected").asInt(), impl.path("dsps").asInt());
        assertTrue(impl.path("fmax_mhz").asDouble() >= 12, "Fmax " + impl.path("fmax_mhz"));
        assertEquals(12.0, impl.path("clock_mhz").asDouble());
        assertTrue(impl.path("fits").asBoolean() && impl.path("meets_clock").asBoolean());
        String html = Files.readString(design.resolve("report.html"));
        assertTrue(html.contains("Implementation (ice40-up5k)") && html.contains(lcs + " / 5280"));
    }

    @Test
    void aClockTheDesignCannotMeetFails() throws Exception {
        Path copy = tmp.resolve("fast");
        CliTestSupport.Run c = CliTestSupport.run("convert", Path.of(SynthCommandTest.class.getResource("/tiny_mlp/model.json").toURI()).toString(),
                "-o", copy.toString(), "--target", "ice40-up5k");
        assertEquals(0, c.code(), c.err());
        // two placer seeds after one synthesis: the faster placement is the one reported
        CliTestSupport.Run r = CliTestSupport.run("synth", copy.toString(), "--clock-mhz", "900", "--seed", "3", "--seeds", "2");
        assertEquals(ExitCodes.VERIFY_FAILED, r.code(), r.out() + r.err());
        JsonNode impl = new ObjectMapper().readTree(copy.resolve("report.json").toFile()).path("implementation");
        assertTrue(impl.path("fits").asBoolean());
        assertFalse(impl.path("meets_clock").asBoolean());
        double f3 = impl.path("fmax_by_seed").path("3").asDouble();
        double f4 = impl.path("fmax_by_seed").path("4").asDouble();
        assertEquals(2, impl.path("fmax_by_seed").size());
        assertEquals(Math.max(f3, f4), impl.path("fmax_mhz").asDouble(), 1e-9);
        assertEquals(f3 >= f4 ? 3 : 4, impl.path("seed").asInt());
        assertTrue(Files.isRegularFile(copy.resolve("ice40_nextpnr_seed3.log")) && Files.isRegularFile(copy.resolve("ice40_nextpnr_seed4.log")));
        assertTrue(Files.readString(copy.resolve("ice40_nextpnr.log"))
                .equals(Files.readString(copy.resolve("ice40_nextpnr_seed" + impl.path("seed").asInt() + ".log"))));
        String verdict = r.out().strip().lines().reduce((a, b) -> b).orElseThrow();
        assertTrue(verdict.startsWith("FAIL: Fmax ") && !verdict.contains("--seeds"), verdict);
        // with one seed the verdict says which, and that others place differently (still one line, FAIL first)
        CliTestSupport.Run one = CliTestSupport.run("synth", copy.toString(), "--clock-mhz", "900", "--seed", "5");
        assertEquals(ExitCodes.VERIFY_FAILED, one.code(), one.out() + one.err());
        String oneVerdict = one.out().strip().lines().reduce((a, b) -> b).orElseThrow();
        assertTrue(oneVerdict.startsWith("FAIL: Fmax ") && oneVerdict.contains("with placer seed 5") && oneVerdict.contains("try --seeds 3"), oneVerdict);
    }

    @Test
    void aFolderConvertDidNotWriteIsBadInput() {
        CliTestSupport.Run r = CliTestSupport.run("synth", tmp.resolve("nothing").toString());
        assertEquals(ExitCodes.BAD_INPUT, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }

    @Test
    void anUnknownTargetIsAUsageError() {
        CliTestSupport.Run r = CliTestSupport.run("synth", design.toString(), "--target", "ecp5");
        assertEquals(ExitCodes.USAGE, r.code());
    }
}
