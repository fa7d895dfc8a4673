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
            "2:usage error (bad flag or argument)",
            "3:bad input (unreadable/corrupt model, unsupported op, bad weights, bad data file)",
            "4:internal error (details written to a file named in the message)"})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line; tests call {@code execute} on it. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler(new ErrorHandler());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        return cl;
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
