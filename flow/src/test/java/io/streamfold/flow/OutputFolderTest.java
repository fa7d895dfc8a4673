package io.streamfold.flow;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The output folder rules of issue 11: never lose a user's files, never lose a race, leave nothing behind. */
class OutputFolderTest {

    @TempDir
    Path tmp;

    private List<String> entries(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void writersRacingForOneNewFolderCannotBothWin() throws Exception {
        int writers = 4;
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        try {
            for (int round = 0; round < 25; round++) {
                Path target = tmp.resolve("race" + round);
                CyclicBarrier start = new CyclicBarrier(writers);
                List<Future<Boolean>> results = new ArrayList<>();
                for (int w = 0; w < writers; w++) {
                    String who = "writer " + w;
                    results.add(pool.submit(() -> {
                        start.await();
                        try {
                            OutputFolder.write(target, Map.of("who.txt", who), false);
                            return true;
                        } catch (OutputFolder.Refused e) {
                            return false;
                        }
                    }));
                }
                int won = 0;
                for (Future<Boolean> f : results) {
                    won += f.get() ? 1 : 0;
                }
                assertEquals(1, won, "round " + round + ": exactly one writer creates the folder, the others are refused");
                assertTrue(Files.readString(target.resolve("who.txt")).startsWith("writer "));
            }
            assertEquals(25, entries(tmp).size(), "no temporary folder or lock file left: " + entries(tmp));
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void forceReplacesOnlyWhatStreamfoldWrote() throws Exception {
        Path mine = Files.createDirectories(tmp.resolve("mine"));
        Files.writeString(mine.resolve("thesis.tex"), "years of work");
        OutputFolder.Refused r = assertThrows(OutputFolder.Refused.class, () -> OutputFolder.write(mine, Map.of("a.v", "x"), true));
        assertEquals(OutputFolder.Refused.Reason.NOT_OURS, r.reason());
        assertEquals(List.of("thesis.tex"), entries(mine));

        Path ours = tmp.resolve("ours");
        OutputFolder.write(ours, Map.of("a.v", "1"), false);
        assertTrue(Files.exists(ours.resolve(OutputFolder.MARKER)));
        assertEquals(OutputFolder.Refused.Reason.EXISTS,
                assertThrows(OutputFolder.Refused.class, () -> OutputFolder.write(ours, Map.of("a.v", "2"), false)).reason());
        Files.writeString(ours.resolve("obj_dir.log"), "a simulator run left this"); // a user's make run in the folder
        OutputFolder.write(ours, Map.of("a.v", "2"), true);
        assertEquals("2", Files.readString(ours.resolve("a.v")));
        assertEquals(List.of(OutputFolder.MARKER, "a.v"), entries(ours));

        Path empty = Files.createDirectories(tmp.resolve("empty"));
        OutputFolder.write(empty, Map.of("a.v", "3"), true);
        assertEquals("3", Files.readString(empty.resolve("a.v")));
        assertEquals(List.of("empty", "mine", "ours"), entries(tmp));
    }

    @Test
    void foldersOfEarlierVersionsAreRecognised() throws Exception {
        Path old = Files.createDirectories(tmp.resolve("old"));
        Files.writeString(old.resolve("report.json"), "{\"model\": \"m\", \"top\": \"m\", \"hardware\": {}}");
        Files.writeString(old.resolve("m.v"), "module m; endmodule\n");
        Files.writeString(old.resolve("plan.json"), "{}");
        OutputFolder.write(old, Map.of("a.v", "new"), true);
        assertEquals(List.of(OutputFolder.MARKER, "a.v"), entries(old));

        Path lookalike = Files.createDirectories(tmp.resolve("lookalike"));
        Files.writeString(lookalike.resolve("report.json"), "{\"quarterly\": \"numbers\"}");
        assertEquals(OutputFolder.Refused.Reason.NOT_OURS,
                assertThrows(OutputFolder.Refused.class, () -> OutputFolder.write(lookalike, Map.of("a.v", "x"), true)).reason());
    }

    @Test
    void neverAFolderThatHoldsAnInput() throws Exception {
        Path models = Files.createDirectories(tmp.resolve("models/mlp"));
        Path model = Files.writeString(models.resolve("model.onnx"), "weights");
        for (Path target : List.of(models, models.getParent(), tmp)) {
            OutputFolder.Refused r = assertThrows(OutputFolder.Refused.class, () -> OutputFolder.write(target, Map.of("a.v", "x"), true,
                    List.of(model)));
            assertEquals(OutputFolder.Refused.Reason.CONTAINS_INPUT, r.reason(), target.toString());
        }
        // not even when the folder is streamfold's own
        Files.writeString(models.resolve(OutputFolder.MARKER), "");
        assertEquals(OutputFolder.Refused.Reason.CONTAINS_INPUT,
                assertThrows(OutputFolder.Refused.class, () -> OutputFolder.write(models, Map.of("a.v", "x"), true, List.of(model))).reason());
        assertEquals("weights", Files.readString(model));
    }

    @Test
    void aFileInThePathIsNamedAsSuch() throws Exception {
        Path file = Files.writeString(tmp.resolve("notes.txt"), "x");
        OutputFolder.Refused r = assertThrows(OutputFolder.Refused.class,
                () -> OutputFolder.write(file.resolve("out"), Map.of("a.v", "x"), true));
        assertEquals(OutputFolder.Refused.Reason.NOT_A_FOLDER, r.reason());
    }

    @Test
    void aFailedWriteLeavesNothing() throws Exception {
        Path target = tmp.resolve("out");
        assertThrows(IllegalArgumentException.class, () -> OutputFolder.write(target, Map.of("a.v", "x", "../escape.v", "y"), false));
        assertEquals(List.of(), entries(tmp));
    }

    @Test
    void foldersAndFilesFollowTheUmask() throws Exception {
        // What the umask gives a folder created the ordinary way, next to it.
        Path reference = Files.createDirectory(tmp.resolve("reference"));
        Path target = tmp.resolve("out");
        OutputFolder.write(target, Map.of("a.v", "x"), false);
        assertEquals(PosixFilePermissions.toString(Files.getPosixFilePermissions(reference)),
                PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
        Path refFile = Files.writeString(reference.resolve("f"), "x");
        assertEquals(Files.getPosixFilePermissions(refFile), Files.getPosixFilePermissions(target.resolve("a.v")));
        assertFalse(Files.exists(tmp.resolve(".out.lock")));
    }
}
