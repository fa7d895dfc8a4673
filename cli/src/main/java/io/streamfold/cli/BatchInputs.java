package io.streamfold.cli;

import io.streamfold.hw.LowerToHardware;
import io.streamfold.keras.KerasModelReader;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Turns the arguments of {@code batch} (model files, folders, glob patterns) into the list of models
 * to convert, each with its own output folder name.
 *
 * <p>Order is the order of the arguments; what one folder or pattern expands to is sorted by path,
 * so the same command always lists (and names) the models the same way. The folder name comes from
 * the file, not from the model's contents, so it is known before a broken model fails to load:
 * {@code x/foo.onnx} is {@code foo}, {@code examples/cnn_seed/model.onnx} is {@code cnn_seed} (as
 * the ONNX reader names such a graph). It is made a Verilog identifier ({@code [A-Za-z0-9_]},
 * which cannot name a parent folder or an absolute path); a name already taken, ignoring case for
 * case-insensitive file systems, gets {@code _2}, {@code _3}, ...
 */
final class BatchInputs {

    /** One model to convert; {@code name} is unique within the batch. */
    record Entry(Path file, String name) {
    }

    /** The expansion, and the arguments that matched nothing (reported, not fatal). */
    record Expansion(List<Entry> entries, List<String> unmatched) {
    }

    private BatchInputs() {
    }

    /**
     * Expands {@code args}, relative to {@code cwd}; {@code skip} (the output root) is never
     * searched, so a second run over {@code .} does not pick up the {@code report.json} of the first.
     */
    static Expansion expand(List<String> args, Path cwd, Path skip) throws IOException {
        Map<Path, Path> files = new LinkedHashMap<>();
        List<String> unmatched = new ArrayList<>();
        Path skipAbs = skip == null ? null : cwd.resolve(skip).toAbsolutePath().normalize();
        for (String arg : args) {
            List<Path> found = new ArrayList<>();
            Path literal = literal(cwd, arg);
            if (literal != null && Files.isDirectory(literal)) {
                found.addAll(scan(literal, skipAbs));
            } else if (literal != null && (Files.exists(literal) || !isGlob(arg))) {
                found.add(literal); // named explicitly: a missing or non-model file fails as that model
            } else {
                for (Path p : glob(cwd, arg, skipAbs)) {
                    if (Files.isDirectory(p)) {
                        found.addAll(scan(p, skipAbs));
                    } else if (isModel(p)) {
                        found.add(p);
                    }
                }
            }
            if (found.isEmpty()) {
                unmatched.add(arg);
            }
            for (Path p : found) {
                files.putIfAbsent(p.toAbsolutePath().normalize(), p);
            }
        }
        List<Entry> entries = new ArrayList<>();
        Set<String> taken = new HashSet<>();
        for (Path p : files.values()) {
            String base = folderName(p);
            String name = base;
            for (int i = 2; !taken.add(name.toLowerCase(Locale.ROOT)); i++) {
                name = base + "_" + i;
            }
            entries.add(new Entry(p, name));
        }
        return new Expansion(entries, unmatched);
    }

    /** The sanitized folder name of a model file (before making it unique). */
    static String folderName(Path file) {
        Path fn = file.getFileName();
        String stem = fn == null ? "" : fn.toString();
        int dot = stem.lastIndexOf('.');
        if (dot > 0) {
            stem = stem.substring(0, dot);
        }
        Path parent = file.toAbsolutePath().normalize().getParent();
        if (stem.equals("model") && parent != null && parent.getFileName() != null) {
            stem = parent.getFileName().toString();
        }
        return LowerToHardware.verilogName(stem);
    }

    static boolean isGlob(String s) {
        return s.chars().anyMatch(c -> "*?[{".indexOf(c) >= 0);
    }

    /**
     * A model by its name: any {@code .onnx} and {@code .keras}; an {@code .h5}/{@code .hdf5} that
     * holds a whole Keras model (not a weights-only file such as {@code <stem>_weights.h5}); a
     * {@code .json} of the streamfold format or a Keras architecture.
     */
    static boolean isModel(Path p) {
        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
        if (!Files.isRegularFile(p)) {
            return false;
        }
        if (n.endsWith(".onnx") || n.endsWith(".keras")) {
            return true;
        }
        if (n.endsWith(".h5") || n.endsWith(".hdf5")) {
            return KerasModelReader.isFullModel(p);
        }
        if (!n.endsWith(".json")) {
            return false;
        }
        // plan.json, report.json and other JSON files are not models; the format is named near the top
        try (InputStream in = Files.newInputStream(p)) {
            String head = new String(in.readNBytes(4096), StandardCharsets.UTF_8);
            return head.contains("\"streamfold-json\"") || KerasModelReader.looksLikeKerasJson(p);
        } catch (IOException e) {
            return true; // let the loader report why it cannot be read
        }
    }

    private static Path literal(Path cwd, String arg) {
        try {
            return cwd.resolve(arg);
        } catch (java.nio.file.InvalidPathException e) {
            return null; // e.g. '*' on Windows: only a pattern
        }
    }

    /** Every model file below {@code dir}, sorted; hidden folders and {@code skip} are not entered. */
    private static List<Path> scan(Path dir, Path skip) throws IOException {
        List<Path> out = new ArrayList<>();
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) {
                boolean hidden = !d.equals(dir) && d.getFileName().toString().startsWith(".");
                return hidden || d.toAbsolutePath().normalize().equals(skip) ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) {
                if (!f.getFileName().toString().startsWith(".") && isModel(f)) {
                    out.add(f);
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path f, IOException e) {
                return FileVisitResult.CONTINUE;
            }
        });
        out.sort(null);
        return out;
    }

    /**
     * The paths matching a glob pattern, sorted. The pattern is split at its first segment with a
     * wildcard: the part before is a folder (relative to {@code cwd}, or absolute), the rest is
     * matched against paths below it, {@code *} within one segment and {@code **} across segments.
     */
    private static List<Path> glob(Path cwd, String pattern, Path skip) throws IOException {
        String norm = pattern.replace(java.io.File.separatorChar, '/');
        String[] parts = norm.split("/", -1);
        int first = 0;
        while (first < parts.length && !isGlob(parts[first])) {
            first++;
        }
        String prefix = String.join("/", java.util.Arrays.copyOfRange(parts, 0, first));
        String rest = String.join("/", java.util.Arrays.copyOfRange(parts, first, parts.length));
        Path base = norm.startsWith("/") && prefix.isEmpty() ? Path.of("/") : cwd.resolve(prefix.isEmpty() ? "." : prefix);
        if (!Files.isDirectory(base) || rest.isEmpty()) {
            return List.of();
        }
        PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + rest);
        int depth = rest.contains("**") ? Integer.MAX_VALUE : parts.length - first;
        List<Path> out = new ArrayList<>();
        Files.walkFileTree(base, java.util.EnumSet.noneOf(java.nio.file.FileVisitOption.class), depth, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) {
                if (d.equals(base)) {
                    return FileVisitResult.CONTINUE;
                }
                if (d.getFileName().toString().startsWith(".") || d.toAbsolutePath().normalize().equals(skip)) {
                    return FileVisitResult.SKIP_SUBTREE;
                }
                if (m.matches(base.relativize(d))) {
                    out.add(d);
                    return FileVisitResult.SKIP_SUBTREE; // scanned whole later
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) {
                // at the depth limit, folders arrive here too
                if (!f.getFileName().toString().startsWith(".") && m.matches(base.relativize(f))) {
                    out.add(f);
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path f, IOException e) {
                return FileVisitResult.CONTINUE;
            }
        });
        out.sort(null);
        return out;
    }
}
