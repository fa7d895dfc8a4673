package io.streamfold.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code streamfold} command line. */
@Command(name = "streamfold",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Compiles a trained neural network into streaming fixed-point Verilog and verifies it by simulation.",
        subcommands = {ConvertCommand.class, SimulateCommand.class, VerifyCommand.class, BatchCommand.class, DemoCommand.class,
            InspectCommand.class, SynthCommand.class, CommandLine.HelpCommand.class},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:success",
            "1:verification failed (mismatch, or accuracy under the threshold)",
            "2:usage error (bad flag or argument), or an output folder that may not be written (exists without --force, not written by streamfold, holds an input)",
            "3:bad input (unreadable/corrupt model, unsupported op, bad weights, bad data file), or a file the system cannot read or write",
            "4:internal error (details written to a file named in the message), or out of memory"})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line; tests call {@code execute} on it. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        ErrorHandler errors = new ErrorHandler();
        cl.setExecutionExceptionHandler(errors);
        cl.setParameterExceptionHandler(errors);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setExecutionStrategy(Main::execute);
        return cl;
    }

    /**
     * Runs the command; errors (which picocli does not hand to the exception handler) become one
     * line and code 4: out of memory names the options that make the run big, a stack overflow
     * (a pathologically deep model) says so.
     */
    private static int execute(CommandLine.ParseResult parsed) {
        CommandLine cl = parsed.commandSpec().commandLine();
        try {
            return new CommandLine.RunLast().execute(parsed);
        } catch (OutOfMemoryError e) {
            cl.getErr().println(ErrorHandler.outOfMemory(parsed));
        } catch (StackOverflowError e) {
            cl.getErr().println("error: stack overflow: the model is nested too deeply (give Java a larger stack: STREAMFOLD_JAVA_OPTS=-Xss64m)");
        }
        cl.getErr().flush();
        return ExitCodes.INTERNAL;
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command");
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"streamfold " + (v == null ? "dev" : v)};
        }
    }
}
