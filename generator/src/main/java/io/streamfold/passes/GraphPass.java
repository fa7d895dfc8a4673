package io.streamfold.passes;

import io.streamfold.ir.Graph;

/** One transformation of the graph IR. A pass never mutates its input: it returns a new graph. */
public interface GraphPass {

    /** Stable name used by {@code --dump-after} and in reports, e.g. {@code fold-batchnorm}. */
    String name();

    Graph run(Graph g, PassContext ctx);
}
