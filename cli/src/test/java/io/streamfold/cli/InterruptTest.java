package io.streamfold.cli;

import io.streamfold.data.NdArray;
import io.streamfold.data.Npy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Stream;

import static io.streamfold.cli.CliTestSupport.example;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Issue 11, defects 5 and 6, in real processes: SIGTERM (what Ctrl-C and kill send; the same
 * shutdown hook runs for SIGINT) leaves no temporary folder behind, and running out of memory is
 * one line with exit 4.
 */
class InterruptTest {

    @TempDir
    Path tmp;

    private static List<String> entries(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /**
     * A JSON model of 300 dense+relu pairs: its output folder holds ~1200 files, so writing it takes
     * long enough to be interrupted in the middle.
     */
    private Path deepModel(Path dir) throws Exception {
        Files.createDirectories(dir);
        Random r = new Random(11);
        StringBuilder layers = new StringBuilder();
        for (int i = 0; i < 300; i++) {
            StringBuilder k = new StringBuilder();
            for (int o = 0; o < 4; o++) {
                k.append(o > 0 ? "," : "").append('[');
                for (int j = 0; j < 4; j++) {
                    k.append(j > 0 ? "," : "").append(String.format(java.util.Locale.ROOT, "%.3f", r.nextDouble() - 0.5));
                }
                k.append(']');
            }
            layers.append(i > 0 ? ",\n" : "").append("{\"name\": \"fc").append(i).append("\", \"type\": \"dense\", \"units\": 4, \"kernel\": [")
                    .append(k).append("], \"bias\": [0, 0, 0, 0]}, {\"name\": \"r").append(i).append("\", \"type\": \"relu\"}");
        }
        Path model = dir.resolve("model.json");
        Files.writeString(model, "{\"format\": \"streamfold-json\", \"version\": 1, \"input\": {\"shape\": [4]}, \"layers\": [" + layers + "]}");
        double[] calib = new double[8 * 4];
        for (int i = 0; i < calib.length; i++) {
            calib[i] = r.nextDouble();
        }
        Npy.write(dir.resolve("calib.npy"), new NdArray(new int[] {8, 4}, calib));
        return model;
    }

    /**
     * Starts the CLI, sends SIGTERM as soon as {@code busy} holds for an entry of {@code watch}, and
     * returns true if it was caught in the act (false: it finished first).
     */
    private boolean terminateWhile(Path watch, Predicate<Path> busy, List<String> jvmArgs, String... args) throws Exception {
        Process p = CliTestSupport.spawn(tmp, jvmArgs, tmp.resolve("log.txt"), args);
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (p.isAlive() && System.nanoTime() < deadline) {
                if (Files.isDirectory(watch)) {
                    try (Stream<Path> s = Files.walk(watch, 3)) {
                        if (s.anyMatch(busy)) {
                            p.destroy(); // SIGTERM
                            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "stopped after SIGTERM");
                            return true;
                        }
                    } catch (java.io.UncheckedIOException e) {
                        // a folder vanished while we looked: look again
                    }
                }
                Thread.sleep(1);
            }
            p.waitFor(60, TimeUnit.SECONDS);
            return false;
        } finally {
            p.destroyForcibly();
        }
    }


    @Test
    void sigtermWhileConvertWritesLeavesNothing() throws Exception {
        Path model = deepModel(tmp.resolve("deep"));
        for (int attempt = 0; attempt < 3; attempt++) {
            if (terminateWhile(tmp, p -> p.getFileName().toString().startsWith(".out.tmp-"), List.of(),
                    "convert", model.toString(), "-o", "out", "--tb-count", "1")) {
                assertEquals(List.of("deep", "log.txt"), entries(tmp), Files.readString(tmp.resolve("log.txt")));
                return;
            }
            io.streamfold.flow.Cleanup.deleteTree(tmp.resolve("out"));
        }
        fail("convert finished before it could be interrupted three times");
    }

    @Test
    void sigtermDuringBatchLeavesNoTemporaryFolder() throws Exception {
        deepModel(tmp.resolve("models").resolve("a"));
        deepModel(tmp.resolve("models").resolve("b"));
        Path out = tmp.resolve("out");
        for (int attempt = 0; attempt < 3; attempt++) {
            if (terminateWhile(out, p -> p.getFileName().toString().contains(".tmp-"), List.of(),
                    "batch", "models", "-o", "out", "-j", "2", "--tb-count", "1")) {
                assertTrue(entries(out).stream().noneMatch(n -> n.startsWith(".")), entries(out).toString());
                return;
            }
            io.streamfold.flow.Cleanup.deleteTree(out);
        }
        fail("batch finished before it could be interrupted three times");
    }

    @Test
    void sigtermDuringVerifyRtlRemovesItsTemporaryFolder() throws Exception {
        assumeTrue(DemoCommand.onPath("iverilog"), "needs Icarus Verilog");
        Path jtmp = Files.createDirectories(tmp.resolve("jtmp"));
        // Caught while Icarus runs: the design is written and its simulation takes seconds.
        assertTrue(terminateWhile(jtmp, p -> p.getFileName().toString().equals("run_icarus.sh"), List.of("-Djava.io.tmpdir=" + jtmp),
                "verify", example("cnn_residual").toString(), "--rtl", "icarus", "--limit", "2", "--rtl-count", "2"),
                "verify --rtl finished before it could be interrupted");
        assertTrue(entries(jtmp).stream().noneMatch(n -> n.startsWith("streamfold-")), entries(jtmp).toString());
    }

    @Test
    void outOfMemoryIsOneLineNamingTheOptionThatWouldHelp() throws Exception {
        Path log = tmp.resolve("log.txt");
        // 1M-beat FIFOs do not fit the simulator in 64 MB
        Process p = CliTestSupport.spawn(tmp, List.of("-Xmx64m"), log, "convert", example("cnn_residual").toString(), "-o", "out",
                "--fifo-depth", "1048576", "--tb-count", "1");
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        String text = Files.readString(log);
        assertEquals(4, p.exitValue(), text);
        assertEquals(1, text.lines().count(), text);
        assertTrue(text.contains("out of memory") && text.contains("--fifo-depth 1048576"), text);
        assertFalse(Files.exists(tmp.resolve("out")));

        // an endless calibration "file"
        Path zero = Path.of("/dev/zero");
        assumeTrue(Files.exists(zero));
        Path calib = Files.createSymbolicLink(tmp.resolve("zeros.npy"), zero);
        p = CliTestSupport.spawn(tmp, List.of("-Xmx64m"), log, "convert", example("mlp_bn").toString(), "-o", "out", "--calib", calib.toString());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        text = Files.readString(log);
        assertEquals(4, p.exitValue(), text);
        assertEquals(1, text.lines().count(), text);
        assertTrue(text.contains("out of memory") && text.contains("--calib"), text);
        Files.delete(calib); // the link, not /dev/zero
    }
}
