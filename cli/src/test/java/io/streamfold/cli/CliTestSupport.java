package io.streamfold.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

/** Runs the CLI in-process and captures its output. */
final class CliTestSupport {

    record Run(int code, String out, String err) {
    }

    private CliTestSupport() {
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        picocli.CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    /**
     * Starts the CLI in a separate JVM (for what only a real process shows: signals, out of
     * memory); output goes to {@code log}.
     */
    static Process spawn(Path cwd, java.util.List<String> jvmArgs, Path log, String... args) throws java.io.IOException {
        java.util.List<String> cmd = new java.util.ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmArgs);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(java.util.List.of(args));
        return new ProcessBuilder(cmd).directory(cwd.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** A peer's model folder in the shared fixtures beside the repository (may be absent). */
    static Path peerFixture(String name) {
        return io.streamfold.testutil.Examples.peer(name);
    }

    static Path example(String model) {
        Path p = io.streamfold.testutil.Examples.onnx(model);
        if (!Files.exists(p)) {
            throw new IllegalStateException("missing example " + p);
        }
        return p;
    }
}
