package io.streamfold.testbench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs the EDA tools (Icarus Verilog, Verilator, Yosys) on an emitted design folder. */
public final class EdaRunner {

    /** What a tool run produced. */
    public record Run(int exitCode, String output) {
        /** True if the testbench printed PASS and the tool exited cleanly. */
        public boolean passed() {
            return exitCode == 0 && output.lines().anyMatch(l -> l.startsWith("PASS"));
        }
    }

    /** Simulators that can run the testbench. */
    public enum Simulator { ICARUS, VERILATOR }

    private EdaRunner() {
    }

    /** Writes files into a folder. */
    public static void write(Path dir, Map<String, String> files) throws IOException {
        Files.createDirectories(dir);
        for (Map.Entry<String, String> e : files.entrySet()) {
            Files.writeString(dir.resolve(e.getKey()), e.getValue(), StandardCharsets.UTF_8);
        }
    }

    /** Runs the folder's testbench script under one simulator. */
    public static Run simulate(Path dir, Simulator sim, long timeoutSeconds) throws IOException, InterruptedException {
        return run(dir, List.of("sh", sim == Simulator.ICARUS ? "run_icarus.sh" : "run_verilator.sh"), timeoutSeconds);
    }

    /** {@code verilator --lint-only -Wall} on the design modules (not the testbench). */
    public static Run lint(Path dir, String top, List<String> files) throws IOException, InterruptedException {
        List<String> cmd = new java.util.ArrayList<>(List.of("verilator", "--lint-only", "-Wall", "--top-module", top));
        cmd.addAll(files);
        return run(dir, cmd, 300);
    }

    /** Yosys synthesis ({@code synth} or {@code synth_xilinx}) of the design, with {@code stat}. */
    public static Run synthesize(Path dir, String top, List<String> files, String synthCommand) throws IOException, InterruptedException {
        String script = "read_verilog " + String.join(" ", files) + "; " + synthCommand + " -top " + top + "; stat";
        return run(dir, List.of("yosys", "-p", script), 1800);
    }

    /** Tool processes still running; a shutdown (Ctrl-C) stops them so that none outlives streamfold. */
    private static final java.util.Set<Process> RUNNING = java.util.concurrent.ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> RUNNING.forEach(EdaRunner::kill), "streamfold-eda-stop"));
    }

    private static void kill(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
    }

    /**
     * Runs {@code command} in {@code dir}, collecting stdout and stderr in memory (no log file that
     * an interrupt could leave behind).
     */
    public static Run run(Path dir, List<String> command, long timeoutSeconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        RUNNING.add(p);
        try {
            java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
            Thread reader = new Thread(() -> {
                try (java.io.InputStream in = p.getInputStream()) {
                    in.transferTo(buf);
                } catch (IOException e) {
                    // the process was killed: its output ends here
                }
            }, "streamfold-eda-output");
            reader.setDaemon(true);
            reader.start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                kill(p);
                return new Run(-1, "timeout after " + timeoutSeconds + " s: " + String.join(" ", command));
            }
            reader.join(30_000); // a leftover grandchild could hold the pipe open
            return new Run(p.exitValue(), buf.toString(StandardCharsets.UTF_8));
        } finally {
            RUNNING.remove(p);
            if (p.isAlive()) {
                kill(p);
            }
        }
    }
}
