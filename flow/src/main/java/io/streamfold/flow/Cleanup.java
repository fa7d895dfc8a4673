package io.streamfold.flow;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * Removes this process's temporary files and folders when it is stopped: a shutdown hook (run on
 * normal exit, SIGINT and SIGTERM) deletes every path still registered.
 *
 * <p>Creating a temporary path and registering it is one step under {@link #LOCK}, and the hook
 * takes the same lock to stop further creations before it deletes: otherwise a folder created
 * while the hook runs would outlive it. Work that must not be cut in half by the hook (the
 * renames that put an output folder in place) also runs under {@link #LOCK}.
 */
public final class Cleanup {

    /** Held by the hook while it stops new creations, and by anything that must finish before it runs. */
    static final Object LOCK = new Object();

    private static final Set<Path> PATHS = ConcurrentHashMap.newKeySet();
    private static volatile boolean closing;

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(Cleanup::onShutdown, "streamfold-cleanup"));
    }

    private Cleanup() {
    }

    /** Thrown when a temporary path is requested after shutdown began. */
    public static final class ShuttingDown extends IOException {
        private static final long serialVersionUID = 1L;

        ShuttingDown() {
            super("interrupted: streamfold is shutting down");
        }
    }

    /** True once the process is shutting down: writers stop instead of filling folders about to be deleted. */
    public static boolean closing() {
        return closing;
    }

    /** Throws {@link ShuttingDown} if the process is shutting down. */
    public static void checkNotClosing() throws ShuttingDown {
        if (closing) {
            throw new ShuttingDown();
        }
    }

    /**
     * Creates the folder {@code dir} (which must not exist) and registers it for deletion at
     * shutdown. The folder gets the permissions of the umask, unlike {@link Files#createTempDirectory}.
     */
    public static Path createDirectory(Path dir) throws IOException {
        synchronized (LOCK) {
            checkNotClosing();
            Files.createDirectory(dir);
            PATHS.add(dir);
            return dir;
        }
    }

    /** A new folder {@code <parent>/<prefix><random>}, registered for deletion at shutdown. */
    public static Path createTempDirectory(Path parent, String prefix) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path dir = parent.resolve(prefix + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36));
            try {
                return createDirectory(dir);
            } catch (FileAlreadyExistsException e) {
                if (attempt > 100) {
                    throw e;
                }
            }
        }
    }

    /** A new folder in the system's temporary folder, registered for deletion at shutdown. */
    public static Path createTempDirectory(String prefix) throws IOException {
        return createTempDirectory(Path.of(System.getProperty("java.io.tmpdir")), prefix);
    }

    /** Registers an existing path for deletion at shutdown. */
    static void register(Path p) {
        PATHS.add(p);
    }

    /** The path is no longer temporary (renamed into place, or kept on purpose). */
    public static void keep(Path p) {
        PATHS.remove(p);
    }

    /** Deletes a registered path now and forgets it. */
    public static void delete(Path p) throws IOException {
        deleteTree(p);
        PATHS.remove(p);
    }

    /** Deletes a file or a folder with everything in it; nothing if it does not exist. */
    public static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        List<Path> all;
        // Links are not followed: a link inside a folder being removed is removed, not its target.
        try (Stream<Path> s = Files.walk(p)) {
            all = s.sorted(Comparator.reverseOrder()).toList();
        } catch (NoSuchFileException e) {
            return;
        }
        for (Path q : all) {
            Files.deleteIfExists(q);
        }
    }

    private static void onShutdown() {
        synchronized (LOCK) {
            closing = true;
        }
        for (Path p : List.copyOf(PATHS)) {
            // Another thread may still be adding a file to a folder being deleted: retry until it stops.
            for (int attempt = 0; attempt < 50 && Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS); attempt++) {
                try {
                    deleteTree(p);
                } catch (IOException | RuntimeException e) {
                    try {
                        Thread.sleep(10);
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            }
        }
    }
}
