package io.streamfold.testutil;

import io.streamfold.compile.ModelLoader;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Tensor;

/** A real model whose softmax logits carry a large common offset: cnn_seed with its last Dense bias raised. */
public final class LogitOffset {

    private LogitOffset() {
    }

    /** cnn_seed with {@code offset} added to every bias of the Dense layer its softmax reads. */
    public static Graph cnnSeedRaisedBy(double offset) {
        Graph g = ModelLoader.load(Examples.onnx("cnn_seed"));
        Node fc = g.nodes().stream().filter(n -> n.op() instanceof Op.Dense && g.consumersOf(n.output()).get(0).op() instanceof Op.Softmax)
                .findFirst().orElseThrow();
        Op.Dense d = (Op.Dense) fc.op();
        double[] b = d.bias().data();
        for (int i = 0; i < b.length; i++) {
            b[i] += offset;
        }
        Node raised = new Node(fc.name(), new Op.Dense(d.weight(), Tensor.of(d.bias().shape(), b)), fc.inputs(), fc.output());
        return g.mapNodes(n -> n.name().equals(fc.name()) ? raised : n);
    }
}
