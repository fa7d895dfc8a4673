package io.streamfold.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static io.streamfold.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConvertCommandTest {

    @TempDir
    Path tmp;

    @Test
    void writesRtlTestbenchAndReport() throws Exception {
        Path out = tmp.resolve("mlp");
        CliTestSupport.Run r = run("convert", CliTestSupport.example("mlp_bn").toString(), "-o", out.toString(), "--fold", "/0/Gemm=4x8",
                "--input-elems", "8", "--tb-count", "2");
        assertEquals(0, r.code(), r.err());
        for (String f : new String[] {"mlp_bn.v", "mlp_bn_tb.v", "tb_expected.mem", "tb_input.mem", "tb_stim.mem", "run_icarus.sh",
                                      "run_verilator.sh", "Makefile", "report.json", "mlp_bn_s0_n_0_Gemm_w.mem"}) {
            assertTrue(Files.exists(out.resolve(f)), f);
        }
        String report = Files.readString(out.resolve("report.json"));
        assertTrue(report.contains("\"initiation_interval\" : 2048"), report);
        // every layer has its proved error bound over the calibration samples' box
        com.fasterxml.jackson.databind.JsonNode j = new com.fasterxml.jackson.databind.ObjectMapper().readTree(report);
        assertEquals(200, j.path("error_bound").path("samples").asInt());
        for (com.fasterxml.jackson.databind.JsonNode l : j.path("layers")) {
            assertTrue(l.path("bound").asDouble() > 0 && l.path("bound_may_saturate").isBoolean(), l.toString());
            assertTrue(l.path("float_range_over_box").get(0).asDouble() <= l.path("float_range_over_box").get(1).asDouble(), l.toString());
        }
        assertTrue(r.out().contains("II 2048 cycles"), r.out());
        try (var s = Files.list(tmp)) {
            assertEquals(1, s.count(), "no temporary folder is left behind");
        }
    }

    /**
     * A planned one-channel conv computing two pixels per window shows it in plan.json, report.json
     * and the report page, and the written plan applied with --plan gives the same design.
     */
    @Test
    void severalPixelsPerWindowAreInThePlanAndTheReports() throws Exception {
        Path out = tmp.resolve("cnn");
        CliTestSupport.Run r = run("convert", CliTestSupport.example("cnn_seed").toString(), "-o", out.toString(), "--dsp-budget", "64",
                "--tb-count", "1");
        assertEquals(0, r.code(), r.err());
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        assertEquals(2, json.readTree(out.resolve("plan.json").toFile()).path("layers").path("/1/Conv").path("pixels").asInt());
        com.fasterxml.jackson.databind.JsonNode report = json.readTree(out.resolve("report.json").toFile());
        assertEquals(288, report.path("hardware").path("initiation_interval").asInt());
        int withPixels = 0;
        for (com.fasterxml.jackson.databind.JsonNode s : report.path("hardware").path("stages")) {
            withPixels += s.path("pixels").asInt(1) == 2 && s.path("source").asText().equals("/1/Conv") ? 1 : 0;
        }
        assertEquals(1, withPixels, "the conv's matrix-vector stage says it computes 2 pixels per window");
        assertEquals(1, report.path("counters").path("lower-to-hardware").path("convolutions computing several pixels per window").asInt());
        assertTrue(Files.readString(out.resolve("report.html")).contains("16&times;2, 2 px"));
        Path again = tmp.resolve("again");
        CliTestSupport.Run p = run("convert", CliTestSupport.example("cnn_seed").toString(), "-o", again.toString(), "--plan",
                out.resolve("plan.json").toString(), "--tb-count", "1");
        assertEquals(0, p.code(), p.err());
        assertEquals(Files.readString(out.resolve("plan.json")), Files.readString(again.resolve("plan.json")));
        assertEquals(288, json.readTree(again.resolve("report.json").toFile()).path("hardware").path("initiation_interval").asInt());
    }

    @Test
    void htmlReportIsSelfContainedAndEscapesNodeNames() throws Exception {
        Path mlp = CliTestSupport.example("mlp_bn").getParent();
        Path json = mlp.getParent().resolve("json_mlp");
        Path model = tmp.resolve("odd").resolve("model.json");
        Files.createDirectories(model.getParent());
        Files.copy(json.resolve("model.npz"), model.resolveSibling("model.npz"));
        Files.writeString(model, Files.readString(json.resolve("model.json")).replace("\"name\": \"relu1\"", "\"name\": \"relu<1>&\\\"x\\\"\""));
        Path out = tmp.resolve("out");
        CliTestSupport.Run r = run("convert", model.toString(), "--calib", mlp.resolve("calib.npy").toString(), "-o", out.toString(),
                "--tb-count", "1");
        assertEquals(0, r.code(), r.err());
        String html = Files.readString(out.resolve("report.html"));
        assertTrue(html.startsWith("<!DOCTYPE html>"), html);
        assertTrue(html.contains("relu&lt;1&gt;&amp;&quot;x&quot;"), "node name escaped");
        assertFalse(html.contains("relu<1>"), "no raw node name");
        assertTrue(html.contains("<svg"), "inline SVG");
        assertFalse(html.contains("http"), "no external references");
        assertFalse(html.contains("<script"), "no scripts");
        for (String s : new String[] {"fc1", "folded into", "Q(8,", "SQNR", "multipliers", "latency", "busy", "float range over the box",
                                      "bound in LSB"}) {
            assertTrue(html.contains(s), s);
        }
    }

    @Test
    void convertingTwiceGivesByteIdenticalFolders() throws Exception {
        String model = CliTestSupport.example("cnn_residual").toString();
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        assertEquals(0, run("convert", model, "-o", a.toString(), "--dsp-budget", "64", "--tb-count", "1").code());
        assertEquals(0, run("convert", model, "-o", b.toString(), "--dsp-budget", "64", "--tb-count", "1").code());
        try (var files = Files.list(a)) {
            for (Path f : files.toList()) {
                assertEquals(Files.readString(f), Files.readString(b.resolve(f.getFileName())), f.getFileName().toString());
            }
        }
    }

    @Test
    void existingFolderNeedsForce() throws Exception {
        Path out = tmp.resolve("m");
        Files.createDirectories(out);
        Files.writeString(out.resolve("keep.txt"), "mine");
        String model = CliTestSupport.example("mlp_bn").toString();
        CliTestSupport.Run r = run("convert", model, "-o", out.toString(), "--tb-count", "1");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--force"), r.err());
        assertTrue(Files.exists(out.resolve("keep.txt")));
        // issue 11: --force replaces only a folder streamfold wrote, never the user's own
        assertEquals(2, run("convert", model, "-o", out.toString(), "--tb-count", "1", "--force").code());
        assertEquals("mine", Files.readString(out.resolve("keep.txt")));
        Path ours = tmp.resolve("ours");
        assertEquals(0, run("convert", model, "-o", ours.toString(), "--tb-count", "1").code());
        assertEquals(2, run("convert", model, "-o", ours.toString(), "--tb-count", "1").code());
        assertEquals(0, run("convert", model, "-o", ours.toString(), "--tb-count", "1", "--force").code());
        assertTrue(Files.exists(ours.resolve("mlp_bn.v")));
    }

    @Test
    void badFoldIsBadInputAndWritesNothing() {
        Path out = tmp.resolve("bad");
        CliTestSupport.Run r = run("convert", CliTestSupport.example("mlp_bn").toString(), "-o", out.toString(), "--fold", "/0/Gemm=5x8");
        assertEquals(3, r.code(), r.err());
        assertTrue(r.err().contains("/0/Gemm"), r.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void dspBudgetPlansAndTheWrittenPlanReapplies() throws Exception {
        String model = CliTestSupport.example("mlp_bn").toString();
        Path a = tmp.resolve("a");
        CliTestSupport.Run r = run("convert", model, "-o", a.toString(), "--dsp-budget", "64", "--tb-count", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("II 128 cycles"), r.out());
        String plan = Files.readString(a.resolve("plan.json"));
        assertTrue(plan.contains("\"/0/Gemm\" : {"), plan);
        Path b = tmp.resolve("b");
        r = run("convert", model, "-o", b.toString(), "--plan", a.resolve("plan.json").toString(), "--tb-count", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("II 128 cycles"), r.out());
        assertEquals(plan, Files.readString(b.resolve("plan.json")));
    }

    @Test
    void aBrokenPlanFileIsBadInput() throws Exception {
        Path plan = tmp.resolve("plan.json");
        Files.writeString(plan, "{\"layers\": {\"/0/Gemm\": {\"pe\": 0}}}");
        CliTestSupport.Run r = run("convert", CliTestSupport.example("mlp_bn").toString(), "-o", tmp.resolve("x").toString(),
                "--plan", plan.toString());
        assertEquals(3, r.code(), r.err());
        assertTrue(r.err().contains("plan.json") && r.err().contains("/0/Gemm"), r.err());
    }
}
