package io.streamfold.cli;

import io.streamfold.compile.ModelLoader;
import io.streamfold.compile.Pipeline;
import io.streamfold.ir.Graph;
import io.streamfold.passes.FoldBatchNorm;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code streamfold inspect MODEL}: the graph as read, what BN folding did and why, the graph
 * after folding, and the fixed-point format of every value.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Prints the graph before and after BatchNorm folding (which BN went where and why) and the fixed-point formats.")
final class InspectCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "an .onnx or streamfold .json model")
    Path model;

    @Mixin
    QuantOptions quant;

    @Option(names = "--no-quant", description = "stop after folding (no calibration data needed)")
    boolean noQuant;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Graph g = ModelLoader.load(model);
        out.println("== imported");
        out.print(g);
        Pipeline.Result r;
        if (noQuant) {
            io.streamfold.passes.PassContext ctx = new io.streamfold.passes.PassContext();
            Graph folded = new FoldBatchNorm().run(g, ctx);
            r = new Pipeline.Result(g, folded, null, ctx);
        } else {
            try {
                r = Pipeline.run(g, quant.config(), quant.calibration(model, g));
            } catch (io.streamfold.ir.ModelException e) {
                throw e.inFile(model.toString());
            }
        }
        out.println("== " + FoldBatchNorm.NAME);
        out.print(FoldBatchNorm.describe(r.context()).indent(2));
        out.print(r.folded());
        if (r.quantized() != null) {
            out.println("== quantize");
            out.print(r.quantized());
        }
        out.flush();
        return ExitCodes.OK;
    }
}
