package io.streamfold.cli;

import io.streamfold.flow.OutputFolder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static io.streamfold.cli.CliTestSupport.example;
import static io.streamfold.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Issue 11, defects 1, 2 and 8: --force never deletes a user's files, demo follows the same rule. */
class OutputSafetyTest {

    @TempDir
    Path tmp;

    /** A copy of mlp_bn (model and calibration data) in {@code tmp/name}. */
    private Path copy(String name) throws Exception {
        Path d = Files.createDirectories(tmp.resolve(name));
        Files.copy(example("mlp_bn"), d.resolve("model.onnx"));
        Files.copy(example("mlp_bn").resolveSibling("calib.npy"), d.resolve("calib.npy"));
        Files.writeString(d.resolve("notes.txt"), "mine");
        return d;
    }

    private static List<String> entries(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static void assertOneLine(CliTestSupport.Run r) {
        assertEquals(1, r.err().lines().count(), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
    }

    @Test
    void forceNeverDeletesTheModelsFolderOrItsParents() throws Exception {
        Path d = copy("d");
        String model = d.resolve("model.onnx").toString();
        for (Path out : List.of(d, tmp)) {
            CliTestSupport.Run r = run("convert", model, "-o", out.toString(), "--force", "--tb-count", "1");
            assertEquals(2, r.code(), r.err());
            assertOneLine(r);
            assertTrue(r.err().contains(out.toString()), r.err());
        }
        assertEquals(List.of("calib.npy", "model.onnx", "notes.txt"), entries(d));
        // the calibration data given with --calib is an input too
        Path calib = d.resolve("calib.npy");
        assertEquals(2, run("convert", model, "--calib", calib.toString(), "-o", d.toString(), "--force").code());
        assertEquals(List.of("d"), entries(tmp));
    }

    @Test
    void forceReplacesOnlyAFolderStreamfoldWrote() throws Exception {
        String model = example("mlp_bn").toString();
        Path users = copy("users");
        Files.delete(users.resolve("model.onnx"));
        CliTestSupport.Run r = run("convert", model, "-o", users.toString(), "--force", "--tb-count", "1");
        assertEquals(2, r.code(), r.err());
        assertOneLine(r);
        assertEquals(List.of("calib.npy", "notes.txt"), entries(users));

        Path out = tmp.resolve("out");
        assertEquals(0, run("convert", model, "-o", out.toString(), "--tb-count", "1").code());
        assertTrue(Files.exists(out.resolve(OutputFolder.MARKER)));
        assertEquals(0, run("convert", model, "-o", out.toString(), "--tb-count", "1", "--force").code());
        assertTrue(Files.exists(out.resolve("mlp_bn.v")));
    }

    @Test
    void aFileSystemRootOrTheWorkingDirectoryIsNeverAnOutputFolder() {
        for (String out : List.of("/", ".", "")) {
            CliTestSupport.Run r = run("convert", example("mlp_bn").toString(), "-o", out, "--force", "--tb-count", "1");
            assertEquals(2, r.code(), out + ": " + r.err());
            assertOneLine(r);
        }
    }

    @Test
    void aVcdNeverOverwritesAnInput() throws Exception {
        Path d = copy("d");
        byte[] model = Files.readAllBytes(d.resolve("model.onnx"));
        Path inputs = example("mlp_bn").resolveSibling("inputs.npy");
        CliTestSupport.Run r = run("simulate", d.resolve("model.onnx").toString(), "--input", inputs.toString(), "--limit", "1",
                "--vcd", d.resolve("model.onnx").toString());
        assertEquals(2, r.code(), r.err());
        assertOneLine(r);
        assertTrue(java.util.Arrays.equals(model, Files.readAllBytes(d.resolve("model.onnx"))));
    }

    @Test
    void aFileInTheOutputPathIsNotAnExistingFolder() throws Exception {
        Path file = Files.writeString(tmp.resolve("file.txt"), "x");
        CliTestSupport.Run r = run("convert", example("mlp_bn").toString(), "-o", file.resolve("out").toString(), "--force");
        assertEquals(2, r.code(), r.err());
        assertOneLine(r);
        assertTrue(r.err().contains(file.toString()), r.err());
        assertFalse(r.err().contains("output folder exists"), r.err());
    }

    @Test
    void demoNeedsForceToReplaceAndNeverTouchesAUsersFolder() throws Exception {
        String examples = example("mlp_bn").getParent().getParent().toString();
        Path root = tmp.resolve("demo-out");
        Path users = Files.createDirectories(root.resolve("cnn_seed"));
        Files.writeString(users.resolve("mine.v"), "module mine; endmodule\n");
        for (String force : List.of("--force", "--verbose")) {
            CliTestSupport.Run r = run("demo", "--examples", examples, "-o", root.toString(), force);
            assertEquals(2, r.code(), r.err());
            assertOneLine(r);
            assertTrue(r.err().contains(users.toString()), r.err());
            assertEquals("", r.out(), "refused before any work");
        }
        assertEquals(List.of("mine.v"), entries(users));
        assertEquals(List.of("cnn_seed"), entries(root));
    }

    @Test
    void demoRefusesAnExistingOutputWithoutForce() throws Exception {
        String examples = example("mlp_bn").getParent().getParent().toString();
        Path root = tmp.resolve("demo-out");
        assertEquals(0, run("convert", example("mlp_bn").toString(), "-o", root.resolve("mlp_bn").toString(), "--tb-count", "1").code());
        CliTestSupport.Run r = run("demo", "--examples", examples, "-o", root.toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--force"), r.err());
        assertEquals("", r.out());
    }
}
