package io.streamfold.flow;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Writes a set of files as one folder, all or nothing, and never deletes anything it did not write.
 *
 * <p>The rules, checked before anything is written and again under the lock:
 * <ul>
 * <li>The target must not be, or contain, an input of the run (the model, its data files) or the
 *     working directory, and no part of its path may be a file.</li>
 * <li>An existing target is replaced only with {@code force}, and only if streamfold wrote it: it
 *     holds the marker file {@link #MARKER} (or is an output of an earlier version: a
 *     {@code report.json} naming a top module whose {@code <top>.v} and {@code plan.json} are
 *     beside it) or is empty. Anything else is refused, whatever {@code force} says.</li>
 * <li>Concurrent writers of the same target are serialized by an exclusive lock on
 *     {@code .<name>.lock} beside it (an OS lock: a killed process releases it); the second gets
 *     {@link Refused} instead of silently replacing the first one's folder.</li>
 * </ul>
 * The files go into a temporary folder {@code .<name>.tmp-*} beside the target, which is renamed
 * into place at the end; a replaced folder is first renamed aside ({@code .<name>.old-*}) and
 * deleted after. Temporary folders are removed on failure and, through {@link Cleanup}, when the
 * process is interrupted. Folders and files are created with the permissions of the umask.
 */
public final class OutputFolder {

    /** The file that marks a folder as written by streamfold, so that {@code --force} may replace it. */
    public static final String MARKER = ".streamfold-output";

    private static final String MARKER_TEXT = "This folder was written by streamfold; convert --force may delete and replace it.\n";

    private OutputFolder() {
    }

    /** Why a folder may not be written; the message is one line naming the folder. */
    public static final class Refused extends IOException {
        private static final long serialVersionUID = 1L;

        /** What is in the way. */
        public enum Reason {
            /** The target exists and {@code force} was not given. */
            EXISTS,
            /** The target exists and was not written by streamfold (or is not a folder). */
            NOT_OURS,
            /** The target is or contains an input of the run, or the working directory. */
            CONTAINS_INPUT,
            /** A part of the target's path is a file. */
            NOT_A_FOLDER,
            /** Another process is writing the same target. */
            BUSY
        }

        private final Reason reason;
        private final Path folder;

        Refused(Reason reason, Path folder, String message) {
            super(message);
            this.reason = reason;
            this.folder = folder;
        }

        public Reason reason() {
            return reason;
        }

        public Path folder() {
            return folder;
        }
    }

    /**
     * Checks, without writing anything, that {@code target} could be written: the rules of the
     * class comment. Commands call it before compiling so that a refusal costs nothing.
     *
     * @param inputs files the run reads (model, data, config); the target may not contain them
     */
    public static void check(Path target, boolean force, Collection<Path> inputs) throws Refused {
        Path abs = target.toAbsolutePath().normalize();
        if (abs.getParent() == null || abs.getFileName() == null) {
            throw new Refused(Refused.Reason.NOT_OURS, target, target + ": a file system root is not an output folder");
        }
        for (Path p = abs.getParent(); p != null; p = p.getParent()) {
            if (Files.exists(p) && !Files.isDirectory(p)) {
                throw new Refused(Refused.Reason.NOT_A_FOLDER, target, p + ": is a file, so it cannot hold the output folder " + target);
            }
        }
        Path real = realOrAbsolute(abs);
        List<Path> protectedPaths = new java.util.ArrayList<>();
        for (Path in : inputs) {
            if (in != null) {
                protectedPaths.add(in);
            }
        }
        protectedPaths.add(Path.of(""));
        for (Path in : protectedPaths) {
            Path r = realOrAbsolute(in.toAbsolutePath().normalize());
            if (r.startsWith(real) || r.startsWith(abs)) {
                String what = in.toString().isEmpty() ? "the working directory" : "the input " + in;
                throw new Refused(Refused.Reason.CONTAINS_INPUT, target, target + ": output folder " + (r.equals(real) ? "is " : "contains ")
                        + what + "; choose another -o folder");
            }
        }
        if (Files.exists(abs, LinkOption.NOFOLLOW_LINKS)) {
            if (!isOurs(abs)) {
                throw new Refused(Refused.Reason.NOT_OURS, target, target + ": exists and was not written by streamfold, "
                        + "so it is never replaced (not even with --force); choose another -o folder");
            }
            if (!force) {
                throw new Refused(Refused.Reason.EXISTS, target, target + ": output folder exists (use --force to replace it)");
            }
        }
    }

    /** True if {@code dir} is a folder streamfold wrote (see the class comment), or an empty folder. */
    public static boolean isOurs(Path dir) {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        if (Files.isRegularFile(dir.resolve(MARKER), LinkOption.NOFOLLOW_LINKS)) {
            return true;
        }
        try (var s = Files.list(dir)) {
            if (s.findAny().isEmpty()) {
                return true;
            }
        } catch (IOException e) {
            return false;
        }
        return writtenByEarlierVersion(dir);
    }

    /** Folders written before {@link #MARKER} existed: report.json names the top module, whose RTL and plan are beside it. */
    private static boolean writtenByEarlierVersion(Path dir) {
        Path report = dir.resolve("report.json");
        try {
            if (!Files.isRegularFile(report, LinkOption.NOFOLLOW_LINKS) || Files.size(report) > (64 << 20)) {
                return false;
            }
            JsonNode n = new ObjectMapper().readTree(report.toFile());
            JsonNode top = n == null ? null : n.get("top");
            if (top == null || !top.isTextual() || !top.asText().matches("[A-Za-z][A-Za-z0-9_]*") || !n.has("hardware")) {
                return false;
            }
            return Files.isRegularFile(dir.resolve(top.asText() + ".v"), LinkOption.NOFOLLOW_LINKS)
                    && Files.isRegularFile(dir.resolve("plan.json"), LinkOption.NOFOLLOW_LINKS);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** {@link #write(Path, Map, boolean, Collection)} with no inputs to protect. */
    public static void write(Path target, Map<String, String> files, boolean force) throws IOException {
        write(target, files, force, List.of());
    }

    /**
     * Writes {@code files} (plus {@link #MARKER}) as folder {@code target}, following the rules of
     * the class comment; throws {@link Refused} when they forbid it, or the {@link IOException} of
     * the file system.
     */
    public static void write(Path target, Map<String, String> files, boolean force, Collection<Path> inputs) throws IOException {
        check(target, force, inputs);
        Path abs = target.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        String name = abs.getFileName().toString();
        Files.createDirectories(parent);
        Lock lock = Lock.acquire(parent.resolve("." + name + ".lock"), target);
        try {
            check(target, force, inputs); // again: another process may have written it while we compiled
            Path tmp = Cleanup.createTempDirectory(parent, "." + name + ".tmp-");
            try {
                for (Map.Entry<String, String> e : files.entrySet()) {
                    Cleanup.checkNotClosing();
                    Path f = tmp.resolve(e.getKey());
                    if (!Objects.equals(f.getParent(), tmp)) {
                        throw new IllegalArgumentException("file name " + e.getKey() + " is not a plain name"); // names are generated: a bug
                    }
                    Files.writeString(f, e.getValue(), StandardCharsets.UTF_8);
                }
                Files.writeString(tmp.resolve(MARKER), MARKER_TEXT, StandardCharsets.UTF_8);
                Path old = commit(tmp, abs, parent, name);
                if (old != null) {
                    Cleanup.delete(old);
                }
            } finally {
                Cleanup.delete(tmp);
            }
        } finally {
            lock.close();
        }
    }

    /**
     * Puts {@code tmp} in place of {@code abs}; returns the folder moved aside, to delete, or null.
     * Runs under {@link Cleanup#LOCK} so that an interrupt cannot fall between the two renames.
     */
    private static Path commit(Path tmp, Path abs, Path parent, String name) throws IOException {
        synchronized (Cleanup.LOCK) {
            Cleanup.checkNotClosing();
            if (!Files.exists(abs, LinkOption.NOFOLLOW_LINKS)) {
                // Reserve the name: createDirectory fails if anything appeared there, and rename then
                // atomically replaces our own empty placeholder.
                Files.createDirectory(abs);
                try {
                    move(tmp, abs);
                } catch (IOException e) {
                    try {
                        Files.deleteIfExists(abs);
                    } catch (IOException notEmpty) {
                        // someone else filled the placeholder: it is theirs now
                    }
                    throw e;
                }
                return null;
            }
            Path old = parent.resolve("." + name + ".old-" + Long.toUnsignedString(java.util.concurrent.ThreadLocalRandom.current().nextLong(), 36));
            move(abs, old);
            Cleanup.register(old);
            try {
                move(tmp, abs);
            } catch (IOException e) {
                move(old, abs);
                Cleanup.keep(old);
                throw e;
            }
            return old;
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    private static Path realOrAbsolute(Path abs) {
        // The deepest existing ancestor resolved through links, plus the rest as written.
        Path existing = abs;
        Path rest = null;
        while (existing != null && !Files.exists(existing)) {
            rest = rest == null ? existing.getFileName() : existing.getFileName().resolve(rest);
            existing = existing.getParent();
        }
        if (existing == null) {
            return abs;
        }
        try {
            Path r = existing.toRealPath();
            return rest == null ? r : r.resolve(rest);
        } catch (IOException e) {
            return abs;
        }
    }

    /** An exclusive OS lock on a file beside the target; the file is removed on release. */
    private static final class Lock {
        private final Path file;
        private final FileChannel channel;
        private final FileLock lock;

        private Lock(Path file, FileChannel channel, FileLock lock) {
            this.file = file;
            this.channel = channel;
            this.lock = lock;
        }

        static Lock acquire(Path file, Path target) throws IOException {
            for (int attempt = 0; attempt < 100; attempt++) {
                FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
                FileLock l;
                try {
                    l = ch.tryLock();
                } catch (OverlappingFileLockException e) {
                    l = null; // held by another thread of this process
                }
                if (l == null) {
                    ch.close();
                    throw new Refused(Refused.Reason.BUSY, target, target + ": another streamfold run is writing this output folder");
                }
                // The previous holder deletes the file when it releases it, so the file we locked may
                // no longer be the one at this path: write a token through our handle and read it back
                // through the path.
                String token = Long.toUnsignedString(java.util.concurrent.ThreadLocalRandom.current().nextLong(), 36)
                        + " " + ProcessHandle.current().pid() + "\n";
                ch.truncate(0);
                ch.write(java.nio.ByteBuffer.wrap(token.getBytes(StandardCharsets.US_ASCII)), 0);
                String there;
                try {
                    there = Files.readString(file, StandardCharsets.US_ASCII);
                } catch (NoSuchFileException e) {
                    there = null;
                }
                if (token.equals(there)) {
                    Cleanup.register(file);
                    return new Lock(file, ch, l);
                }
                l.release();
                ch.close();
            }
            throw new Refused(Refused.Reason.BUSY, target, target + ": another streamfold run is writing this output folder");
        }

        void close() throws IOException {
            try {
                Files.deleteIfExists(file);
                Cleanup.keep(file);
            } finally {
                lock.release();
                channel.close();
            }
        }
    }
}
