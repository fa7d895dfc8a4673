package io.streamfold.cli;

import java.io.PrintWriter;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;

/**
 * Reports a batch while it runs, from any worker thread. On a terminal: one line redrawn with
 * {@code \r} (bar, done/total, failures, the models being converted), failures printed above it
 * as they happen. Elsewhere (CI logs, pipes, tests): one plain line per finished model, in the
 * order they finish, e.g. {@code [3/7] ok cnn_seed 1.2s}.
 */
final class BatchProgress {

    private static final int BAR = 24;

    private final PrintWriter w;
    private final boolean bar;
    private final int total;
    private final int width;
    private final Set<String> running = new LinkedHashSet<>();
    private int done;
    private int failed;
    private int drawn;

    BatchProgress(PrintWriter w, boolean bar, int total) {
        this.w = w;
        this.bar = bar;
        this.total = total;
        this.width = columns();
    }

    synchronized void started(String name) {
        running.add(name);
        redraw();
    }

    /** A model is finished; {@code line} is what happened, e.g. {@code ok mlp_bn 0.8s}. */
    synchronized void finished(String name, boolean ok, String line) {
        running.remove(name);
        done++;
        failed += ok ? 0 : 1;
        String text = String.format(Locale.ROOT, "[%d/%d] %s", done, total, line);
        if (bar) {
            if (!ok) {
                clear();
                w.println(text);
            }
            redraw();
        } else {
            w.println(text);
            w.flush();
        }
    }

    /** Ends the bar's line, so that what follows starts on a fresh one. */
    synchronized void close() {
        if (bar && drawn > 0) {
            w.println();
            w.flush();
            drawn = 0;
        }
    }

    private void redraw() {
        if (!bar) {
            return;
        }
        int filled = total == 0 ? BAR : done * BAR / total;
        StringBuilder sb = new StringBuilder("[");
        sb.append("=".repeat(filled));
        if (filled < BAR) {
            sb.append('>').append(" ".repeat(BAR - filled - 1));
        }
        sb.append(String.format(Locale.ROOT, "] %d/%d", done, total));
        if (failed > 0) {
            sb.append(", ").append(failed).append(" failed");
        }
        if (!running.isEmpty()) {
            sb.append("  ").append(String.join(" ", running));
        }
        String line = sb.length() > width - 1 ? sb.substring(0, width - 4) + "..." : sb.toString();
        w.print("\r" + line + " ".repeat(Math.max(0, drawn - line.length())));
        w.flush();
        drawn = line.length();
    }

    private void clear() {
        if (drawn > 0) {
            w.print("\r" + " ".repeat(drawn) + "\r");
            drawn = 0;
        }
    }

    private static int columns() {
        try {
            int c = Integer.parseInt(System.getenv().getOrDefault("COLUMNS", "80").trim());
            return Math.max(40, c);
        } catch (NumberFormatException e) {
            return 80;
        }
    }
}
