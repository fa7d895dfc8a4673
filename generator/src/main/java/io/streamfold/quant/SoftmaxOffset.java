package io.streamfold.quant;

import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Tensor;
import io.streamfold.passes.PassContext;
import io.streamfold.reference.FloatInterpreter;

import java.util.ArrayList;
import java.util.List;

/**
 * Moves a common offset of softmax logits into the bias of the Dense layer that produces them:
 * {@code Dense(W, b) -> Softmax  =>  Dense(W, b - c) -> Softmax}, which leaves every probability
 * unchanged (softmax is shift-invariant) while the logits' range, and so their fixed-point
 * format, no longer has to hold {@code c}.
 *
 * <p>Conditions: the Dense output is read only by the Softmax and is not the graph output. The
 * offset {@code c} is the midpoint of the smallest and largest logit over the calibration
 * samples; it is moved only when {@code |c|} is at least half their spread (then the largest
 * magnitude at least halves, a bit of resolution or more), so logits already centred on zero,
 * as in most models, stay as they are. A softmax fed by the graph input keeps its offset: moving
 * it would change the input's encoding.
 */
final class SoftmaxOffset {

    private SoftmaxOffset() {
    }

    static Graph run(Graph g, List<double[]> samples, PassContext ctx) {
        if (samples.isEmpty()) {
            return g;
        }
        List<Node> candidates = new ArrayList<>();
        for (Node n : g.nodes()) {
            if (n.op() instanceof Op.Softmax && !g.input().equals(n.input())) {
                Node p = g.producer(n.input());
                if (p != null && p.op() instanceof Op.Dense && g.hasSingleUse(p.output()) && !p.output().equals(g.output())) {
                    candidates.add(p);
                }
            }
        }
        if (candidates.isEmpty()) {
            return g;
        }
        double[] lo = new double[candidates.size()];
        double[] hi = new double[candidates.size()];
        java.util.Arrays.fill(lo, Double.POSITIVE_INFINITY);
        java.util.Arrays.fill(hi, Double.NEGATIVE_INFINITY);
        for (double[] x : samples) {
            java.util.Map<String, double[]> v = FloatInterpreter.runAll(g, x);
            for (int k = 0; k < candidates.size(); k++) {
                for (double e : v.get(candidates.get(k).output())) {
                    lo[k] = Math.min(lo[k], e);
                    hi[k] = Math.max(hi[k], e);
                }
            }
        }
        Graph out = g;
        for (int k = 0; k < candidates.size(); k++) {
            double c = (lo[k] + hi[k]) / 2;
            if (!Double.isFinite(c) || Math.abs(c) < (hi[k] - lo[k]) / 2 || c == 0) {
                continue;
            }
            Node p = candidates.get(k);
            Op.Dense d = (Op.Dense) p.op();
            double[] b = d.bias().data();
            for (int i = 0; i < b.length; i++) {
                b[i] -= c;
            }
            Node moved = new Node(p.name(), new Op.Dense(d.weight(), Tensor.of(d.bias().shape(), b)), p.inputs(), p.output());
            out = out.mapNodes(n -> n.name().equals(p.name()) ? moved : n);
            ctx.count(Quantize.NAME, "softmax logit offsets moved into the bias");
            ctx.note(Quantize.NAME, p.name(), String.format("common logit offset %.6g moved into the bias (softmax is shift-invariant); "
                    + "logits now span [%.6g, %.6g]", c, lo[k] - c, hi[k] - c));
        }
        return out;
    }
}
