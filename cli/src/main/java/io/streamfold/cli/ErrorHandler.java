package io.streamfold.cli;

import io.streamfold.ir.ModelException;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Maps exceptions to the documented exit codes: an input error is one line on stderr and code 3;
 * anything else is a bug: a short message, the stack trace written to a file, and code 4.
 */
final class ErrorHandler implements CommandLine.IExecutionExceptionHandler {

    @Override
    public int handleExecutionException(Exception ex, CommandLine cl, CommandLine.ParseResult parsed) {
        PrintWriter err = cl.getErr();
        if (ex instanceof ModelException me) {
            err.println(me.toLine());
            err.flush();
            return ExitCodes.BAD_INPUT;
        }
        String where = writeDetails(ex);
        err.println("internal error: " + ex + " (details in " + where + ")");
        err.flush();
        return ExitCodes.INTERNAL;
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
            return "(could not write details: " + io.getMessage() + ")";
        }
    }
}
