package io.streamfold.cli;

import io.streamfold.compile.ModelLoader;
import io.streamfold.ir.Graph;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code streamfold inspect MODEL}: the graph as read, with shapes. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Prints the model's graph with the shape of every value.")
final class InspectCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "an .onnx or streamfold .json model")
    Path model;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Graph g = ModelLoader.load(model);
        out.print(g);
        out.flush();
        return ExitCodes.OK;
    }
}
