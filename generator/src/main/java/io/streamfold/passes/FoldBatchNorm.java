package io.streamfold.passes;

import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Folds every inference BatchNormalization into a neighbouring linear layer, in double precision,
 * and turns each one that cannot be folded into a standalone per-channel {@link Op.Affine}
 * (docs/architecture.md, section 4). With {@code a = gamma / sqrt(var + eps)} and {@code b = beta - a*mean}:
 *
 * <pre>
 *   Conv|Dense -> BN                =>  Conv'|Dense'       W'[c,...] = a[c] W[c,...], bias'[c] = a[c] bias[c] + b[c]
 *   BN -> Dense|Conv (no padding)   =>  Dense'|Conv'       W'[o,c,...] = W[o,c,...] a[c], bias'[o] = bias[o] + sum W[o,c,...] b[c]
 *   BN -> Flatten|Reshape -> Dense  =>  Flatten -> Dense'  as above, feature j of a (C, H, W) value has channel j / (H*W)
 *   BN -> MaxPool                   =>  MaxPool -> BN      only if every a[c] > 0 (max commutes with increasing maps only)
 *   BN -> AvgPool|GlobalAvgPool     =>  pool -> BN         AvgPool only unpadded, or padded without countIncludePad
 *   BN (anything else)              =>  Affine(a, b)       e.g. BN -> padded Conv: the padding zeros would become b
 * </pre>
 *
 * <p>Every rule that joins or swaps two nodes needs the value between them to have exactly one
 * reader and not to be the graph output. The rules are applied one at a time, to the first
 * BatchNorm (in graph order) that one applies to, until none applies; so a BN moved past a pool
 * gets the other rules retried, and {@code Conv -> BN -> BN} folds both. Only then are the
 * remaining BNs turned into Affine nodes, so an Affine is never created for a BN that a later
 * rewrite would have made foldable.
 *
 * <p>Names: a fold keeps the name of the Conv/Dense node (the BN's name is recorded in a note), and
 * the folded layer writes the value the pair wrote last, so consumers and the graph output need
 * no renaming. A move swaps the two nodes and keeps the chain of value names: the pool now reads
 * the BN's input and writes the BN's old output value, and the BN reads that and writes the
 * pool's old output value, which its consumers (or the graph output) keep reading. An Affine
 * keeps the BN's node name and values.
 */
public final class FoldBatchNorm implements GraphPass {

    /** Stable pass name, used in reports, counters and {@code --dump-after}. */
    public static final String NAME = "fold-batchnorm";

    /** Counters (stable names: tests and {@code inspect} use them). */
    public static final String FOLDED_PRECEDING_CONV = "folded into preceding conv";
    public static final String FOLDED_PRECEDING_DENSE = "folded into preceding dense";
    public static final String FOLDED_FOLLOWING_CONV = "folded into following conv";
    public static final String FOLDED_FOLLOWING_DENSE = "folded into following dense";
    /** Counted in addition to {@link #FOLDED_FOLLOWING_DENSE} for BN -> Flatten|Reshape -> Dense. */
    public static final String CARRIED_THROUGH_FLATTEN = "carried through flatten";
    public static final String MOVED_PAST_MAXPOOL = "moved past maxpool";
    /** AvgPool and GlobalAvgPool. */
    public static final String MOVED_PAST_AVGPOOL = "moved past avgpool";
    /** Counted in addition to {@link #KEPT_STANDALONE} when a MaxPool move is refused. */
    public static final String NOT_MOVED_PAST_MAXPOOL = "not moved past maxpool";
    /** Counted in addition to {@link #KEPT_STANDALONE} when an AvgPool move is refused. */
    public static final String NOT_MOVED_PAST_AVGPOOL = "not moved past avgpool";
    public static final String KEPT_STANDALONE = "kept standalone";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Graph run(Graph g, PassContext ctx) {
        Graph cur = g;
        // Each rewrite removes a BN or moves one further downstream, so this bound is never met
        // unless a rule is broken.
        int budget = (g.nodes().size() + 1) * (g.nodes().size() + 1);
        for (Graph next = rewriteOne(cur, ctx); next != null; next = rewriteOne(cur, ctx)) {
            cur = next;
            if (--budget < 0) {
                throw new IllegalStateException(NAME + " does not converge on graph " + g.name());
            }
        }
        return keepStandalone(cur, ctx);
    }

    /**
     * The pass's counters and its notes about single nodes, one per line, e.g. for
     * {@code inspect}: {@code folded into preceding conv: 2} ... {@code bn2: kept standalone: ...}.
     */
    public static String describe(PassContext ctx) {
        StringBuilder sb = new StringBuilder();
        ctx.counters(NAME).forEach((k, v) -> sb.append(k).append(": ").append(v).append('\n'));
        String prefix = NAME + ": ";
        for (String note : ctx.notes()) {
            if (note.startsWith(prefix)) {
                sb.append(note, prefix.length(), note.length()).append('\n');
            }
        }
        return sb.toString();
    }

    // ---------------------------------------------------------------------------------------------

    /** The graph after one fold or move, or null if no rule applies to any BatchNorm. */
    private static Graph rewriteOne(Graph g, PassContext ctx) {
        for (Node n : g.nodes()) {
            if (n.op() instanceof Op.BatchNorm bn) {
                Graph r = rewrite(g, n, bn, ctx);
                if (r != null) {
                    return r;
                }
            }
        }
        return null;
    }

    private static Graph rewrite(Graph g, Node n, Op.BatchNorm bn, PassContext ctx) {
        double[] a = bn.scale();
        double[] b = bn.shift();

        // Backwards into the layer that produces the BN's input: exact, and preferred because it
        // leaves the BN's consumer untouched (it may be a padded Conv or a pool).
        Node p = g.producer(n.input());
        if (p != null && g.hasSingleUse(n.input())) {
            if (p.op() instanceof Op.Conv c && c.outChannels() == bn.channels()) {
                Tensor[] wb = scaleOutputs(c.weight(), c.bias(), a, b);
                Node folded = new Node(p.name(), new Op.Conv(wb[0], wb[1], c.window(), c.group()), p.inputs(), n.output());
                return done(g, ctx, n, FOLDED_PRECEDING_CONV, "folded into preceding conv " + p.name(),
                        replace(g.nodes(), n, p, folded));
            }
            if (p.op() instanceof Op.Dense d && d.outFeatures() == bn.channels()) {
                Tensor[] wb = scaleOutputs(d.weight(), d.bias(), a, b);
                Node folded = new Node(p.name(), new Op.Dense(wb[0], wb[1]), p.inputs(), n.output());
                return done(g, ctx, n, FOLDED_PRECEDING_DENSE, "folded into preceding dense " + p.name(),
                        replace(g.nodes(), n, p, folded));
            }
        }

        if (!g.hasSingleUse(n.output())) {
            return null;
        }
        Node q = g.consumersOf(n.output()).get(0);
        if (q.op() instanceof Op.Dense d) {
            // A Dense reads a rank-1 value: its input features are the BN's channels.
            Tensor[] wb = scaleInputs(d.weight(), d.bias(), 1, a, b);
            Node folded = new Node(q.name(), new Op.Dense(wb[0], wb[1]), List.of(n.input()), q.output());
            return done(g, ctx, n, FOLDED_FOLLOWING_DENSE, "folded into following dense " + q.name(),
                    replace(g.nodes(), n, q, folded));
        }
        if (q.op() instanceof Op.Conv c) {
            if (c.window().hasPadding()) {
                return null;
            }
            Tensor[] wb = scaleInputs(c.weight(), c.bias(), c.group(), a, b);
            Node folded = new Node(q.name(), new Op.Conv(wb[0], wb[1], c.window(), c.group()), List.of(n.input()), q.output());
            return done(g, ctx, n, FOLDED_FOLLOWING_CONV, "folded into following conv " + q.name(),
                    replace(g.nodes(), n, q, folded));
        }
        if (isFlatten(q.op()) && g.hasSingleUse(q.output())) {
            Node r = g.consumersOf(q.output()).get(0);
            if (!(r.op() instanceof Op.Dense d)) {
                return null;
            }
            // Flatten and Reshape keep the row-major element order: feature j of the (C, ...)
            // value is channel j / perChannel.
            int perChannel = g.shape(n.input()).perChannel();
            Tensor[] wb = scaleInputs(d.weight(), d.bias(), 1, expand(a, perChannel), expand(b, perChannel));
            Node flat = new Node(q.name(), q.op(), List.of(n.input()), q.output());
            Node folded = new Node(r.name(), new Op.Dense(wb[0], wb[1]), r.inputs(), r.output());
            ctx.count(NAME, CARRIED_THROUGH_FLATTEN);
            List<Node> nodes = replace(g.nodes(), n, q, flat);
            String note = "folded into following dense " + r.name() + " through " + q.op().kind() + " " + q.name();
            return done(g, ctx, n, FOLDED_FOLLOWING_DENSE, note, replace(nodes, null, r, folded));
        }
        if (q.op() instanceof Op.MaxPool && firstNonPositive(a) < 0) {
            return done(g, ctx, n, MOVED_PAST_MAXPOOL, "moved past MaxPool " + q.name(), swap(g.nodes(), n, q));
        }
        if ((q.op() instanceof Op.AvgPool ap && averagesExactly(ap)) || q.op() instanceof Op.GlobalAvgPool) {
            return done(g, ctx, n, MOVED_PAST_AVGPOOL, "moved past " + q.op().kind() + " " + q.name(), swap(g.nodes(), n, q));
        }
        return null;
    }

    /** Replaces every BN still present by an Affine node of the same name, noting why. */
    private static Graph keepStandalone(Graph g, PassContext ctx) {
        List<Node> out = new ArrayList<>(g.nodes().size());
        for (Node n : g.nodes()) {
            if (n.op() instanceof Op.BatchNorm bn) {
                ctx.count(NAME, KEPT_STANDALONE);
                ctx.note(NAME, n.name(), "kept standalone: " + whyStandalone(g, n, bn, ctx));
                out.add(n.withOp(bn.toAffine()));
            } else {
                out.add(n);
            }
        }
        return g.withNodes(out);
    }

    private static String whyStandalone(Graph g, Node n, Op.BatchNorm bn, PassContext ctx) {
        String why = consumerSide(g, n, bn, ctx);
        Node p = g.producer(n.input());
        if (p != null && (p.op() instanceof Op.Conv || p.op() instanceof Op.Dense)) {
            why += "; the output of " + p.op().kind() + " " + p.name() + " has other readers";
        }
        return why;
    }

    private static String consumerSide(Graph g, Node n, Op.BatchNorm bn, PassContext ctx) {
        if (n.output().equals(g.output())) {
            return "its output is the graph output";
        }
        List<Node> readers = g.consumersOf(n.output());
        if (readers.size() != 1) {
            List<String> names = readers.stream().map(Node::name).toList();
            return "its output has " + readers.size() + " readers " + names;
        }
        Node q = readers.get(0);
        if (q.op() instanceof Op.Conv) {
            return "next conv " + q.name() + " is padded (its padding zeros would become the shift)";
        }
        if (q.op() instanceof Op.MaxPool) {
            double[] a = bn.scale();
            int c = firstNonPositive(a);
            ctx.count(NAME, NOT_MOVED_PAST_MAXPOOL);
            return "not moved past MaxPool " + q.name() + ": scale[" + c + "] = " + a[c] + " <= 0";
        }
        if (q.op() instanceof Op.AvgPool) {
            ctx.count(NAME, NOT_MOVED_PAST_AVGPOOL);
            return "not moved past AveragePool " + q.name() + ": it is padded and counts the padding in its divisor";
        }
        if (isFlatten(q.op())) {
            return q.op().kind() + " " + q.name() + " does not feed a single Dense";
        }
        return "next node " + q.name() + " is a " + q.op().kind() + ", not a linear layer";
    }

    // --- the arithmetic --------------------------------------------------------------------------

    /**
     * Conv/Dense -> BN: output channel c of the layer is scaled by a[c] and shifted by b[c].
     * Works for any group count because the weight's first axis is the output channel.
     */
    private static Tensor[] scaleOutputs(Tensor weight, Tensor bias, double[] a, double[] b) {
        double[] w = weight.data();
        int outs = bias.size();
        int per = w.length / outs;
        double[] bs = new double[outs];
        for (int o = 0; o < outs; o++) {
            for (int i = o * per; i < (o + 1) * per; i++) {
                w[i] *= a[o];
            }
            bs[o] = a[o] * bias.at(o) + b[o];
        }
        return new Tensor[] {Tensor.of(weight.shape(), w), Tensor.of(bias.shape(), bs)};
    }

    /**
     * BN -> Conv/Dense: input channel ic is {@code a[ic] x + b[ic]}. Weight layout is
     * (out, in/group, k...) (a Dense is one group with k = 1); output channel o belongs to group
     * {@code o / (out/group)} and its weight row ci reads input channel {@code group*inPerGroup + ci}.
     * The bias sum uses the unscaled weights.
     */
    private static Tensor[] scaleInputs(Tensor weight, Tensor bias, int group, double[] a, double[] b) {
        double[] w = weight.data();
        int outs = weight.shape().dim(0);
        int inPerGroup = weight.shape().dim(1);
        int k = w.length / (outs * inPerGroup);
        int outsPerGroup = outs / group;
        double[] bs = new double[outs];
        for (int o = 0; o < outs; o++) {
            int firstIn = (o / outsPerGroup) * inPerGroup;
            double acc = bias.at(o);
            for (int ci = 0; ci < inPerGroup; ci++) {
                int ic = firstIn + ci;
                for (int i = (o * inPerGroup + ci) * k; i < (o * inPerGroup + ci + 1) * k; i++) {
                    acc += w[i] * b[ic];
                    w[i] *= a[ic];
                }
            }
            bs[o] = acc;
        }
        return new Tensor[] {Tensor.of(weight.shape(), w), Tensor.of(Shape.of(outs), bs)};
    }

    /** A per-channel vector repeated for each element of the channel (row-major, channels first). */
    private static double[] expand(double[] v, int perChannel) {
        double[] out = new double[v.length * perChannel];
        for (int j = 0; j < out.length; j++) {
            out[j] = v[j / perChannel];
        }
        return out;
    }

    /** Index of the first {@code a[c] <= 0} (or NaN), or -1 if all are strictly positive. */
    private static int firstNonPositive(double[] a) {
        for (int c = 0; c < a.length; c++) {
            if (!(a[c] > 0)) {
                return c;
            }
        }
        return -1;
    }

    /**
     * An average of {@code a x + b} is {@code a avg(x) + b} only if the divisor counts exactly
     * the elements summed: true without padding, or when padding is left out of the count.
     */
    private static boolean averagesExactly(Op.AvgPool p) {
        return !p.window().hasPadding() || !p.countIncludePad();
    }

    private static boolean isFlatten(Op op) {
        return op instanceof Op.Flatten || (op instanceof Op.Reshape r && r.target().rank() == 1);
    }

    // --- graph surgery ---------------------------------------------------------------------------

    private static Graph done(Graph g, PassContext ctx, Node bnNode, String counter, String note, List<Node> nodes) {
        ctx.count(NAME, counter);
        ctx.note(NAME, bnNode.name(), note);
        return g.withNodes(nodes);
    }

    /**
     * The nodes with {@code remove} (if not null) dropped and {@code old} replaced in place by
     * {@code with}. Node names are unique in a graph, so they identify nodes.
     */
    private static List<Node> replace(List<Node> nodes, Node remove, Node old, Node with) {
        List<Node> out = new ArrayList<>(nodes.size());
        for (Node x : nodes) {
            if (x.name().equals(old.name())) {
                out.add(with);
            } else if (remove == null || !x.name().equals(remove.name())) {
                out.add(x);
            }
        }
        return out;
    }

    /**
     * BN -> pool becomes pool -> BN, in the pool's position: the pool reads the BN's input and
     * writes the BN's old output value; the BN reads that and writes the pool's old output.
     */
    private static List<Node> swap(List<Node> nodes, Node bn, Node pool) {
        List<Node> out = new ArrayList<>(nodes.size());
        for (Node x : nodes) {
            if (x.name().equals(pool.name())) {
                out.add(new Node(pool.name(), pool.op(), List.of(bn.input()), bn.output()));
                out.add(new Node(bn.name(), bn.op(), List.of(bn.output()), pool.output()));
            } else if (!x.name().equals(bn.name())) {
                out.add(x);
            }
        }
        return out;
    }
}
