package io.streamfold.cli;

import io.streamfold.flow.OutputFolder;
import io.streamfold.ir.IoErrors;
import io.streamfold.ir.ModelException;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Maps exceptions to the documented exit codes, always as one line on stderr: an output folder
 * that may not be written is code 2; an input error, or a file the system cannot read or write
 * (permissions, full disk, missing folder), code 3; anything else is a bug: a short message, the
 * stack trace written to a file, and code 4. Out of memory is code 4 too, with the options that
 * would need less ({@link #outOfMemory}).
 */
final class ErrorHandler implements CommandLine.IExecutionExceptionHandler, CommandLine.IParameterExceptionHandler {

    @Override
    public int handleExecutionException(Exception ex, CommandLine cl, CommandLine.ParseResult parsed) {
        PrintWriter err = cl.getErr();
        int code;
        IOException io = ex instanceof IOException i ? i : (ex instanceof UncheckedIOException u ? u.getCause() : null);
        if (ex instanceof ModelException me) {
            err.println(me.toLine());
            code = ExitCodes.BAD_INPUT;
        } else if (io instanceof OutputFolder.Refused r) {
            err.println("error: " + r.getMessage());
            code = ExitCodes.USAGE;
        } else if (io != null) {
            err.println(ioLine(io));
            code = ExitCodes.BAD_INPUT;
        } else {
            err.println("internal error: " + ex + " (details in " + writeDetails(ex) + ")");
            code = ExitCodes.INTERNAL;
        }
        err.flush();
        return code;
    }

    /** {@code error: <file>: <reason>} for a failure of the file system. */
    static String ioLine(IOException e) {
        String f = IoErrors.file(e);
        return "error: " + (f != null ? f + ": " : "") + IoErrors.reason(e);
    }

    /** A usage error in one line (picocli would add the whole usage text, which buries the message). */
    @Override
    public int handleParseException(CommandLine.ParameterException ex, String[] args) {
        CommandLine cl = ex.getCommandLine();
        PrintWriter err = cl.getErr();
        String msg = ex.getMessage() == null ? "usage error" : ex.getMessage().strip().replace('\n', ' ');
        err.println("error: " + msg + " (see " + cl.getCommandSpec().qualifiedName() + " --help)");
        err.flush();
        return ExitCodes.USAGE;
    }

    /**
     * The line for an {@link OutOfMemoryError}: which given options make the run big, or else
     * how to give Java more memory.
     */
    static String outOfMemory(CommandLine.ParseResult parsed) {
        List<String> hints = new ArrayList<>();
        CommandLine.ParseResult sub = parsed;
        while (sub != null && sub.hasSubcommand()) {
            sub = sub.subcommand();
        }
        if (sub != null) {
            for (String opt : List.of("--fifo-depth", "--calib", "--inputs", "--input", "--tb-inputs", "--tb-count", "--limit",
                    "--verify-count", "--rtl-count", "--input-elems", "-j")) {
                if (sub.hasMatchedOption(opt)) {
                    Object value = sub.matchedOptionValue(opt, null);
                    hints.add(opt + " " + value);
                }
            }
        }
        String which = hints.isEmpty() ? "" : "the model or data may be too large, or one of: " + String.join(", ", hints) + "; ";
        return "error: out of memory (" + which + "give Java more memory with STREAMFOLD_JAVA_OPTS=-Xmx8g)";
    }

    /** Writes the stack trace of a bug to a temporary file; returns its path (or why it could not). */
    static String writeDetails(Throwable ex) {
        try {
            Path f = Files.createTempFile("streamfold-crash-", ".txt");
            StringWriter sw = new StringWriter();
            ex.printStackTrace(new PrintWriter(sw));
            Files.writeString(f, sw.toString());
            return f.toString();
        } catch (IOException io) {
            return "(could not write details: " + IoErrors.reason(io) + ")";
        }
    }
}
