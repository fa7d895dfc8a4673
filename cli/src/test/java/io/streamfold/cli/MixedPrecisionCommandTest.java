package io.streamfold.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static io.streamfold.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code --target-agreement}, {@code --target-sqnr} and {@code --write-config} on convert and verify. */
class MixedPrecisionCommandTest {

    @TempDir
    Path tmp;

    private static List<String> files(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void convertWritesTheChosenWidthsAndConvertConfigRebuildsTheSameDesign() throws Exception {
        String model = CliTestSupport.example("mlp_bn").toString();
        Path a = tmp.resolve("a");
        CliTestSupport.Run r = run("convert", model, "-o", a.toString(), "--target-agreement", "0.99", "--tb-count", "2");
        assertEquals(0, r.code(), r.out() + r.err());
        assertTrue(r.out().contains("mixed precision: the cheapest widths found with top-1 agreement >= 99.00% on the 200 calibration samples"),
                r.out());
        assertTrue(r.out().contains("uniform 8-bit") && r.out().contains("uniform 16-bit") && r.out().contains("/6/Gemm"), r.out());
        Path config = a.resolve(TargetOptions.CONFIG_FILE);
        assertTrue(Files.isRegularFile(config));
        JsonNode source = new ObjectMapper().readTree(a.resolve(ConvertCommand.SOURCE_FILE).toFile());
        assertEquals(config.toAbsolutePath().normalize().toString(), source.path("config").asText(), "simulate DIR rebuilds from the file");

        Path b = tmp.resolve("b");
        CliTestSupport.Run again = run("convert", model, "-o", b.toString(), "--config", config.toString(), "--tb-count", "2");
        assertEquals(0, again.code(), again.out() + again.err());
        List<String> fa = files(a);
        List<String> fb = files(b);
        assertEquals(fa.stream().filter(f -> !f.equals(TargetOptions.CONFIG_FILE)).toList(), fb);
        int compared = 0;
        for (String f : fb) {
            if (!f.equals(ConvertCommand.SOURCE_FILE)) {
                assertEquals(Files.readString(a.resolve(f)), Files.readString(b.resolve(f)), f);
                compared++;
            }
        }
        assertTrue(compared > 10, "RTL, ROMs, testbench and reports: " + fb);
        // Every format came from the file, none from calibration, and the report says so.
        assertEquals("none: every format from " + TargetOptions.CONFIG_FILE,
                new ObjectMapper().readTree(b.resolve("report.json").toFile()).path("calibration").asText());

        // The same search from verify writes the same file, and what it measures on the held-out inputs is verify's agreement.
        Path written = tmp.resolve("mp.json");
        Path json = tmp.resolve("v.json");
        CliTestSupport.Run v = run("verify", model, "--target-agreement", "0.99", "--write-config", written.toString(), "--json",
                json.toString(), "--limit", "100");
        assertEquals(0, v.code(), v.out() + v.err());
        assertEquals(Files.readString(config), Files.readString(written));
        assertTrue(v.out().contains("wrote the chosen widths to " + written), v.out());
        JsonNode mp = new ObjectMapper().readTree(json.toFile()).path("mixed_precision");
        JsonNode agreement = new ObjectMapper().readTree(json.toFile()).path("agreement");
        assertEquals(0.99, mp.path("target_agreement").asDouble());
        assertTrue(mp.path("target_sqnr_db").isNull());
        assertEquals(agreement.path("fraction").asDouble(), mp.path("held_out_agreement").asDouble());
        assertEquals(100, mp.path("held_out_samples").asInt());
        assertTrue(mp.path("chosen").path("calibration_agreement").asDouble() >= 0.99, mp.toString());
        long chosen = mp.path("chosen").path("cost").asLong();
        assertTrue(chosen < mp.path("uniform_8").path("cost").asLong() && mp.path("uniform_8").path("cost").asLong()
                < mp.path("uniform_16").path("cost").asLong(), mp.toString());
        assertEquals(4, mp.path("widths").size(), "the input, then each Gemm's output and weight widths: " + mp);
        assertTrue(mp.path("widths").get(0).path("weight_bits").isNull());
        assertEquals("/6/Gemm", mp.path("widths").get(3).path("node").asText());
        // Three serial multipliers: the cost's multiplier term is the sum of their operand-width products.
        long products = 0;
        for (int i = 1; i < 4; i++) {
            products += mp.path("widths").get(i).path("weight_bits").asLong() * mp.path("widths").get(i - 1).path("act_bits").asLong();
        }
        assertEquals(products, mp.path("chosen").path("multiplier_bits").asLong());
        assertTrue(v.out().contains("mixed precision: held-out top-1 agreement "), v.out());
        assertTrue(mp.path("search_seconds").asDouble() > 0, mp.toString());
        assertTrue(mp.path("margin_on_logits").isNull(), "mlp_bn outputs its logits: " + mp);
    }

    @Test
    void aTargetThat16BitsCannotReachIsBadInputInOneLine() {
        CliTestSupport.Run r = run("verify", CliTestSupport.example("mlp_bn").toString(), "--target-sqnr", "200");
        assertEquals(3, r.code(), r.out() + r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().contains("output SQNR >= 200.0 dB is out of reach: 16-bit weights and activations everywhere"), r.err());
        assertFalse(r.out().contains("verdict"), r.out());
    }

    @Test
    void combinationsThatMakeNoSenseAreUsageErrors() throws Exception {
        String model = CliTestSupport.example("mlp_bn").toString();
        Path cfg = tmp.resolve("c.json");
        Files.writeString(cfg, "{}");
        CliTestSupport.Run withConfig = run("verify", model, "--target-agreement", "0.9", "--config", cfg.toString());
        assertEquals(2, withConfig.code(), withConfig.err());
        assertTrue(withConfig.err().contains("--config"), withConfig.err());
        CliTestSupport.Run noTarget = run("convert", model, "-o", tmp.resolve("x").toString(), "--write-config", cfg.toString());
        assertEquals(2, noTarget.code(), noTarget.err());
        assertTrue(noTarget.err().contains("--write-config needs --target-agreement"), noTarget.err());
        assertFalse(Files.exists(tmp.resolve("x")));
    }
}
