package io.streamfold.hw;

import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Node;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Window;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QOp;
import io.streamfold.quant.QWeights;
import io.streamfold.quant.QuantizedGraph;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Lowers a quantized graph to the hardware IR under a parallelism plan:
 * {@code QuantizedGraph + ParallelismPlan => HwDesign}.
 *
 * <p>Each value gets a channel and a stream order (stream position to flat channels-first
 * index). Flatten and Reshape keep the flat index of every element, so they cost nothing: the
 * channel and order pass through, and a Dense after a Flatten reads its weight columns in stream
 * order. A layer whose input arrives with another number of elements per beat than its SIMD gets
 * a width converter in front. Registers go where the target's {@link Pipelining} puts them; where it
 * fuses activations, an elementwise op that is the only reader of a matrix-vector unit's output
 * runs inside that unit ({@code MatVec => MatVec with activation}; the channel takes the op's format).
 *
 * <p>A value read by several nodes (or read and also the graph output) goes through a
 * {@link Stage.Fork} with one output per reader. A fork fires only when every output has room, so
 * a branch that streams straight to a join ({@link Stage.Add}) while the other branch must take
 * a whole inference before it emits anything (a Dense, a pooling or sliding-window stage) would
 * stall the fork for good once its FIFO is full: the join waits for the long branch, which waits
 * for the fork. The bound used: the fork output of such a branch gets a FIFO of
 * {@code T + 2L + 2} beats, T the beats of one inference on that channel and L the stages on the
 * longest branch of the fork, each counted with its pipeline registers. With T beats the fork can always push a whole inference past the
 * join's waiting point, and every stage needs at most the whole inference to emit any of its
 * outputs, so the long branch always progresses (no deadlock); the {@code 2L + 2} cover what the
 * long branch holds in flight (a stage adds one or two cycles of latency), so the skip path does
 * not throttle a design that streams a beat per cycle. A fork output whose branch starts with a
 * matrix-vector stage (through width converters) keeps the plan's depth: that stage takes a
 * whole vector (into its free input bank, or, without a buffer, into its accumulators) without emitting anything, so it never holds the fork
 * back for longer than the other branches do.
 */
public final class LowerToHardware {

    /** Stable pass name. */
    public static final String NAME = "lower-to-hardware";

    private final QuantizedGraph q;
    private final ParallelismPlan plan;
    private final Pipelining pipelining;
    private final List<Channel> channels = new ArrayList<>();
    private final List<Stage> stages = new ArrayList<>();
    private final Map<String, Val> vals = new HashMap<>();
    /** Fork outputs not yet taken, per value read more than once. */
    private final Map<String, java.util.ArrayDeque<Val>> forked = new HashMap<>();
    private final List<Stage.Fork> forks = new ArrayList<>();

    /** A value in hardware: its channel and the flat index of each streamed element. */
    private record Val(int channel, int[] order) {
    }

    private LowerToHardware(QuantizedGraph q, ParallelismPlan plan, Pipelining pipelining) {
        this.q = q;
        this.plan = plan;
        this.pipelining = pipelining;
    }

    /** Lowers with the target's register placement ({@link DeviceTarget#pipelining()}). */
    public static HwDesign run(QuantizedGraph q, ParallelismPlan plan, Pipelining pipelining) {
        return new LowerToHardware(q, plan, pipelining).lower();
    }

    /** Lowers for the generic target. */
    public static HwDesign run(QuantizedGraph q, ParallelismPlan plan) {
        return run(q, plan, Pipelining.GENERIC);
    }

    private HwDesign lower() {
        Graph g = q.graph();
        Shape in = g.inputShape();
        int inElems = plan.inputElems();
        if (!inputWidthFits(in, inElems)) {
            throw new ModelException(Diagnostic.SF_BAD_PLAN, null, "the input has " + lanesPerPixel(in) + " elements per pixel"
                    + (in.rank() == 3 ? " and " + in.dim(2) + " pixels per row" : "") + ", " + inElems + " per beat does not fit",
                    in.rank() == 3 ? "give a divisor of the pixel, or whole pixels dividing the row" : "give a divisor of the pixel");
        }
        checkFolds(g);
        int inCh = channel("in", inElems, q.inputFormat(), in.size());
        int[] inOrder = streamOrder(in);
        vals.put(g.input(), new Val(inCh, inOrder));
        fanOut(g.input());
        for (Node n : g.nodes()) {
            lower(n, q.op(n.name()));
            fanOut(n.output());
        }
        Val out = take(g.output());
        if (out.channel() == inCh) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_HW, null, "the model computes nothing in hardware", null);
        }
        if (plan.argmax()) {
            out = argmax(out);
        }
        deepenSkipPaths();
        registerOutputs();
        checkCycles();
        return new HwDesign(topName(g.name()), channels, stages, inCh, out.channel(), inOrder, out.order());
    }

    /**
     * Every stage's cycles per inference must fit 31 bits: the simulator, the reports and the
     * testbench's 32-bit cycle counter count in them.
     */
    private void checkCycles() {
        for (Stage s : stages) {
            try {
                s.cycles();
            } catch (ArithmeticException e) {
                throw new ModelException(Diagnostic.SF_UNSUPPORTED_HW, s.source(), "needs more than " + Integer.MAX_VALUE
                        + " cycles per inference", "give the layer lanes with --fold NODE=PExSIMD (the planner starts from one lane per layer, so --dsp-budget cannot)");
            }
        }
    }

    /** Every fold in the plan must name a layer that has lanes, and fit them ({@link Lanes}). */
    private void checkFolds(Graph g) {
        for (Map.Entry<String, ParallelismPlan.Fold> e : plan.folds().entrySet()) {
            String name = e.getKey();
            QOp op = q.ops().get(name);
            if (op == null) {
                throw new ModelException(Diagnostic.SF_BAD_PLAN, name, "the plan folds a node that graph " + g.name() + " does not have",
                        "layers are named as in inspect's output");
            }
            if (Lanes.of(q, name) == null) {
                throw new ModelException(Diagnostic.SF_BAD_PLAN, name, "the plan folds a " + op.kind() + ", which has no PE/SIMD lanes",
                        "only Dense, Conv and pooling layers are folded (a pool's PE is its channel lanes)");
            }
            Lanes.of(q, name, e.getValue().pixels()).check(name, e.getValue());
        }
    }

    /** Number of reads of a value: input slots of nodes, plus one if it is the graph output. */
    private int uses(String value) {
        Graph g = q.graph();
        int uses = value.equals(g.output()) ? 1 : 0;
        for (Node n : g.nodes()) {
            for (String in : n.inputs()) {
                uses += in.equals(value) ? 1 : 0;
            }
        }
        return uses;
    }

    /** A value read more than once gets a fork with one output per read. */
    private void fanOut(String value) {
        int k = uses(value);
        if (k < 2) {
            return;
        }
        Val v = vals.get(value);
        Channel c = channels.get(v.channel());
        String name = "s" + stages.size() + "_fork_" + verilogName(value);
        List<Integer> outs = new ArrayList<>();
        java.util.ArrayDeque<Val> queue = new java.util.ArrayDeque<>();
        for (int i = 0; i < k; i++) {
            int ch = channel(name + "_" + i, c.elems(), c.format(), c.beats() * c.elems());
            outs.add(ch);
            queue.add(new Val(ch, v.order()));
        }
        Stage.Fork f = new Stage.Fork(name, value, v.channel(), outs, c.beats());
        stages.add(f);
        forks.add(f);
        forked.put(value, queue);
    }

    /** The stream of a value for one reader: the value's channel, or the next free fork output. */
    private Val take(String value) {
        java.util.ArrayDeque<Val> queue = forked.get(value);
        return queue == null ? vals.get(value) : queue.remove();
    }

    private void lower(Node n, QOp op) {
        List<Val> ins = new ArrayList<>();
        for (String v : n.inputs()) {
            ins.add(take(v));
        }
        Val x = ins.get(0);
        Channel cx = channels.get(x.channel());
        String name = "s" + stages.size() + "_" + verilogName(n.name());
        QFormat outFmt = q.format(n.output());
        Shape inShape = q.graph().shape(n.input());
        Shape outShape = q.graph().shape(n.output());
        op.accept(new QOp.Visitor<Void>() {
            @Override
            public Void dense(QOp.QDense d) {
                ParallelismPlan.Fold f = plan.fold(n.name());
                int nIn = d.inFeatures();
                int nOut = d.outFeatures();
                int input = widthTo(x.channel(), f.simd(), name);
                long[] rom = new long[nIn * nOut];
                int sfN = nIn / f.simd();
                for (int nf = 0; nf < nOut / f.pe(); nf++) {
                    for (int sf = 0; sf < sfN; sf++) {
                        for (int p = 0; p < f.pe(); p++) {
                            for (int s = 0; s < f.simd(); s++) {
                                int o = nf * f.pe() + p;
                                int i = x.order()[sf * f.simd() + s];
                                rom[(((nf * sfN + sf) * f.pe()) + p) * f.simd() + s] = d.weight().at(o * nIn + i);
                            }
                        }
                    }
                }
                int out = channel(name, f.pe(), outFmt, nOut);
                stages.add(new Stage.MatVec(name, n.name(), input, out, d, nIn, nOut, f.simd(), f.pe(), rom, 1, WeightStore.ROM,
                        Stage.MatVec.scheduleFor(nOut, f.pe()), pipelining, null, 1));
                vals.put(n.output(), new Val(out, identity(nOut)));
                return null;
            }

            @Override
            public Void conv(QOp.QConv c) {
                LowerToHardware.this.conv(n, c, x, outFmt, outShape);
                return null;
            }

            @Override
            public Void elementwise(QOp.QElementwise e) {
                if (e.identity()) {
                    vals.put(n.output(), x);
                    return null;
                }
                int[] channelOf = new int[cx.elems()];
                if (e.perChannel()) {
                    int[] order = x.order();
                    boolean canonical = java.util.Arrays.equals(order, streamOrder(inShape));
                    // a beat may hold several pixels (after a conv computing several per window): the period covers whole beats
                    int period = canonical ? lcm(lanesPerPixel(inShape), cx.elems()) : order.length;
                    channelOf = new int[period];
                    for (int k = 0; k < period; k++) {
                        channelOf[k] = order[k] / inShape.perChannel();
                    }
                }
                // an interpolating table is a two-register pipeline of its own: it keeps its stage
                int producer = e.pipelined() ? -1 : fusableProducer(x.channel());
                if (producer >= 0) {
                    // the op runs in the unit's output stage: the channel keeps its id and carries the op's format
                    Stage.MatVec m = (Stage.MatVec) stages.get(producer);
                    stages.set(producer, m.withActivation(new Stage.Elementwise(name, n.name(), x.channel(), x.channel(), cx.elems(), e,
                            channelOf, cx.beats())));
                    Channel c = channels.get(x.channel());
                    channels.set(x.channel(), new Channel(c.id(), c.name(), c.elems(), outFmt, c.depth(), c.beats()));
                    vals.put(n.output(), x);
                    return null;
                }
                int out = channel(name, cx.elems(), outFmt, outShape.size());
                stages.add(new Stage.Elementwise(name, n.name(), x.channel(), out, cx.elems(), e, channelOf, cx.beats()));
                vals.put(n.output(), new Val(out, x.order()));
                return null;
            }

            @Override
            public Void softmax(QOp.QSoftmax sm) {
                if (inShape.dim(sm.axis()) != inShape.size()) {
                    throw new ModelException(Diagnostic.SF_UNSUPPORTED_HW, n.name(), "Softmax over axis " + sm.axis() + " of " + inShape
                            + " is not over the whole tensor", "flatten before the softmax");
                }
                int out = channel(name, cx.elems(), outFmt, inShape.size());
                // the whole vector in one beat: the full-rate pipeline; narrower beats: the (cheaper) state machine
                stages.add(cx.elems() == inShape.size() ? new Stage.SoftmaxTree(name, n.name(), x.channel(), out, inShape.size(), sm, pipelining)
                        : new Stage.Softmax(name, n.name(), x.channel(), out, cx.elems(), inShape.size(), sm));
                vals.put(n.output(), new Val(out, x.order()));
                return null;
            }

            @Override
            public Void maxPool(QOp.QMaxPool p) {
                pool(n, p, x, outFmt, outShape);
                return null;
            }

            @Override
            public Void avgPool(QOp.QAvgPool p) {
                pool(n, p, x, outFmt, outShape);
                return null;
            }

            @Override
            public Void globalAvgPool(QOp.QGlobalAvgPool p) {
                if (!java.util.Arrays.equals(x.order(), streamOrder(inShape))) {
                    throw new ModelException(Diagnostic.SF_UNSUPPORTED_HW, n.name(), "GlobalAveragePool needs its input pixel by pixel, channels innermost", null);
                }
                int c = lanesPerPixel(inShape);
                int e = gcd(cx.elems(), c);
                int input = widthTo(x.channel(), e, name);
                int out = channel(name, e, outFmt, c);
                stages.add(new Stage.GlobalAvgPool(name, n.name(), input, out, e, c, inShape.size() / c, p));
                vals.put(n.output(), new Val(out, identity(c)));
                return null;
            }

            @Override
            public Void add(QOp.QAdd a) {
                Val y = ins.get(1);
                if (!java.util.Arrays.equals(x.order(), y.order())) {
                    throw new ModelException(Diagnostic.SF_UNSUPPORTED_HW, n.name(), "the two operands of Add stream in different orders",
                            "both must reach the Add pixel by pixel, channels innermost");
                }
                int e = cx.elems();
                int other = widthTo(y.channel(), e, name);
                int out = channel(name, e, outFmt, outShape.size());
                stages.add(new Stage.Add(name, n.name(), x.channel(), other, out, e, a, cx.beats()));
                vals.put(n.output(), new Val(out, x.order()));
                return null;
            }
        });
    }

    /**
     * The index of the matrix-vector stage an elementwise op reading {@code ch} fuses into
     * ({@link Pipelining#fuseActivations()}), or -1: the channel must be that unit's own output
     * (not a fork's: the value has no other reader) and the unit must have no activation yet.
     */
    private int fusableProducer(int ch) {
        if (!pipelining.fuseActivations()) {
            return -1;
        }
        for (int i = 0; i < stages.size(); i++) {
            if (stages.get(i) instanceof Stage.MatVec m && m.output() == ch && m.activation() == null) {
                return i;
            }
        }
        return -1;
    }

    /**
     * The argmax head after the output: one element, the flat index of the largest output; a
     * comparator tree when the output arrives as one beat, else the beat-serial scan.
     */
    private Val argmax(Val out) {
        Channel c = channels.get(out.channel());
        int n = out.order().length;
        String name = "s" + stages.size() + "_argmax";
        QFormat idx = new QFormat(Math.max(2, 65 - Long.numberOfLeadingZeros(n - 1)), 0);
        int ch = channel(name, 1, idx, 1);
        stages.add(c.elems() == n ? new Stage.ArgmaxTree(name, q.graph().output(), out.channel(), ch, c.format(), out.order(), idx, pipelining)
                : new Stage.Argmax(name, q.graph().output(), out.channel(), ch, c.elems(), c.format(), out.order(), idx));
        return new Val(ch, new int[] {0});
    }

    /**
     * Puts one register between every computing stage and its output FIFO (see
     * {@link Channel#registers()}): a stage's combinational logic then ends at a register instead of
     * running on into the FIFO's write logic and, through the next stage's read, into that stage.
     * Forks and width converters only route bits and stay unregistered ({@link Stage#outputRegisters()}).
     */
    private void registerOutputs() {
        for (Stage s : stages) {
            for (int ch : s.outputs()) {
                channels.set(ch, channels.get(ch).withRegisters(s.outputRegisters(), s.registersOwnOutput()));
            }
        }
    }

    /** Gives the fork outputs of streaming branches their deadlock-free depth (see the class comment). */
    private void deepenSkipPaths() {
        Map<Integer, Stage> consumer = new HashMap<>();
        for (Stage s : stages) {
            for (int ch : s.inputs()) {
                consumer.put(ch, s);
            }
        }
        for (Stage.Fork f : forks) {
            int longest = 0;
            for (int ch : f.outputs()) {
                longest = Math.max(longest, branchLength(ch, consumer));
            }
            for (int ch : f.outputs()) {
                if (!absorbsVector(ch, consumer)) {
                    Channel c = channels.get(ch);
                    channels.set(ch, c.withDepth(Math.max(c.depth(), c.beats() + 2 * longest + 2)));
                }
            }
        }
    }

    /**
     * Stages from a channel to the next join (a stage with several inputs) or the output, the longest
     * way through forks; a stage counts once plus its internal pipeline and output registers.
     */
    private static int branchLength(int ch, Map<Integer, Stage> consumer) {
        Stage s = consumer.get(ch);
        if (s == null || s.inputs().size() > 1) {
            return 0;
        }
        int longest = 0;
        for (int o : s.outputs()) {
            longest = Math.max(longest, branchLength(o, consumer));
        }
        return 1 + s.pipelineDepth() + s.outputRegisters() + longest;
    }

    /** True if the channel feeds a matrix-vector stage, through width converters only. */
    private static boolean absorbsVector(int ch, Map<Integer, Stage> consumer) {
        Stage s = consumer.get(ch);
        while (s instanceof Stage.WidthConverter w) {
            s = consumer.get(w.output());
        }
        return s instanceof Stage.MatVec;
    }

    /**
     * Window geometry of a conv or pool on a (C, H, W) input; a 1D (C, L) input becomes the
     * column (C, L, 1), so the line buffer holds pixels rather than whole sequences.
     */
    private record Geometry(int c, int h, int w, int kh, int kw, int sh, int sw, int pt, int pl, int oh, int ow, int dh, int dw) {
        int kk() {
            return kh * kw;
        }

        /** Rows one window spans. */
        int spanH() {
            return Stage.SlidingWindow.span(kh, dh);
        }

        int positions() {
            return oh * ow;
        }
    }

    private Geometry geometry(Node n, Window win, Shape in, Shape out) {
        Geometry g = win.rank() == 2
                ? new Geometry(in.dim(0), in.dim(1), in.dim(2), win.kernel(0), win.kernel(1), win.stride(0), win.stride(1),
                        win.padBegin(0), win.padBegin(1), out.dim(1), out.dim(2), win.dilation(0), win.dilation(1))
                : new Geometry(in.dim(0), in.dim(1), 1, win.kernel(0), 1, win.stride(0), 1, win.padBegin(0), 0, out.dim(1), 1,
                        win.dilation(0), 1);
        for (int a = 0; a < win.rank(); a++) {
            if (win.padBegin(a) >= win.span(a) || win.padEnd(a) >= win.span(a)) {
                throw new ModelException(Diagnostic.SF_UNSUPPORTED_HW, n.name(), "padding " + win + " as large as the window",
                        "the sliding-window unit needs pads smaller than the window's span");
            }
        }
        return g;
    }

    /** Checks that a value streams in the canonical order of its (C, ...) shape. */
    private void requireCanonical(Node n, Val x, Shape s) {
        if (!java.util.Arrays.equals(x.order(), streamOrder(s))) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_HW, n.name(), "the input of " + n.op().kind()
                    + " does not stream pixel by pixel", "windowed layers need a (C, H, W) or (C, L) tensor in stream order");
        }
    }

    /** Adds the sliding-window unit reading {@code input} ({@code elems} per beat); returns its output channel. */
    private int slidingWindow(Node n, int input, Geometry g, int elems, long pad, boolean channelMajor) {
        Channel c = channels.get(input);
        String name = "s" + stages.size() + "_swu_" + verilogName(n.name());
        int out = channel(name, elems, c.format(), g.positions() * g.kk() * g.c());
        int rows = Stage.SlidingWindow.fullRateRows(g.h(), g.spanH(), g.sh(), g.pt(), g.oh());
        int readRegisters = pipelining.banked(elems * c.format().bits(), (long) rows * g.w() * (g.c() / elems)) ? 2 : 1;
        stages.add(new Stage.SlidingWindow(name, n.name(), input, out, c.format(), g.c(), g.h(), g.w(), elems, g.kh(), g.kw(), g.sh(),
                g.sw(), g.pt(), g.pl(), g.oh(), g.ow(), rows, pad, channelMajor, g.dh(), g.dw(), readRegisters));
        return out;
    }

    /**
     * {@code Conv => SlidingWindow -> MatVec} (the MatVec reads each window as one vector in
     * (ky, kx, c) order, with the weights permuted to match) or {@code SlidingWindow -> Depthwise}
     * (group == C). The output streams as (oy, ox, o): the canonical order of the (O, OH, OW)
     * tensor.
     *
     * <p>A grouped conv with {@code 1 < group < C} is the group-1 conv whose weight is zero where
     * an output channel does not read an input channel: one MatVec with a block-diagonal ROM. The
     * lane rule stays the group-1 rule (SIMD divides C, PE the output channels, {@link Lanes}); the
     * price is that the unit multiplies the zero blocks too, {@code group} times the layer's own
     * MACs ({@link Stage#macs()} counts what the hardware multiplies).
     *
     * <p>With {@code pixels} P &gt; 1 in the plan the same two stages run the layer's polyphase
     * form ({@link Polyphase}): the sliding window walks the image as W/P super-pixels of P*C
     * channels, the unit's weights are the layer's own rearranged, with zeros where a super-tap
     * reaches beyond the kernel, and each vector gives P adjacent output pixels. The streams in and
     * out are element for element the layer's, so neither neighbour changes.
     */
    private void conv(Node n, QOp.QConv c, Val x, QFormat outFmt, Shape outShape) {
        Shape inShape = q.graph().shape(n.input());
        requireCanonical(n, x, inShape);
        Geometry g = geometry(n, c.window(), inShape, outShape);
        ParallelismPlan.Fold f = plan.fold(n.name());
        int cin = g.c();
        int cout = c.outChannels();
        QWeights w = c.weight();
        int cinG = w.shape().dim(1);
        int coutG = cout / c.group();
        if (c.group() == 1 || cinG > 1) {
            // weight (o, ci, k) of the dense equivalent: the layer's own where o's group reads ci, else 0
            long[] dense = new long[cout * g.kk() * cin];
            for (int o = 0; o < cout; o++) {
                int first = (o / coutG) * cinG;
                for (int ci = first; ci < first + cinG; ci++) {
                    for (int k = 0; k < g.kk(); k++) {
                        dense[(o * cin + ci) * g.kk() + k] = w.at((o * cinG + ci - first) * g.kk() + k);
                    }
                }
            }
            long[] bias = c.bias();
            int[] fracs = w.fracs();
            int px = f.pixels();
            if (px > 1) {
                // the polyphase form: the same streams, P pixels per window (Polyphase)
                Polyphase.check(q, n.name(), px);
                Polyphase ph = Polyphase.of(q, n.name(), px);
                dense = ph.weights(dense, cout, cin, g.kh());
                g = new Geometry(px * cin, g.h(), g.w() / px, g.kh(), ph.superKernelW(), g.sh(), 1, g.pt(), ph.superPadLeft(), g.oh(),
                        g.ow() / px, g.dh(), 1);
                bias = repeat(bias, px);
                fracs = repeat(fracs, px);
                cin *= px;
                cout *= px;
            }
            int win = slidingWindow(n, widthTo(x.channel(), f.simd(), verilogName(n.name())), g, f.simd(), 0, false);
            int nIn = g.kk() * cin;
            long[] rom = new long[nIn * cout];
            int sfN = nIn / f.simd();
            for (int nf = 0; nf < cout / f.pe(); nf++) {
                for (int sf = 0; sf < sfN; sf++) {
                    for (int p = 0; p < f.pe(); p++) {
                        for (int s = 0; s < f.simd(); s++) {
                            int o = nf * f.pe() + p;
                            int j = sf * f.simd() + s;
                            int ci = j % cin;
                            int kpos = j / cin;
                            rom[(((nf * sfN + sf) * f.pe()) + p) * f.simd() + s] = dense[(o * cin + ci) * g.kk() + kpos];
                        }
                    }
                }
            }
            QOp.QDense op = new QOp.QDense(c.in(), new QWeights(Shape.of(cout, nIn), dense, w.bits(), fracs, w.perChannel()),
                    bias, c.accBits(), c.out());
            String name = "s" + stages.size() + "_" + verilogName(n.name());
            int out = channel(name, f.pe(), outFmt, outShape.size());
            stages.add(new Stage.MatVec(name, n.name(), win, out, op, nIn, cout, f.simd(), f.pe(), rom, g.positions(), WeightStore.ROM,
                    Stage.MatVec.scheduleFor(cout, f.pe()), pipelining, null, px));
            vals.put(n.output(), new Val(out, streamOrder(outShape)));
        } else {
            int m = cout / cin;
            int e = f.pe();
            int win = slidingWindow(n, widthTo(x.channel(), e, verilogName(n.name())), g, e, 0, true);
            int cbN = cin / e;
            int lanes = e * m;
            long[] rom = new long[cbN * g.kk() * lanes];
            for (int cb = 0; cb < cbN; cb++) {
                for (int k = 0; k < g.kk(); k++) {
                    for (int p = 0; p < lanes; p++) {
                        int o = cb * lanes + p;
                        rom[(cb * g.kk() + k) * lanes + p] = w.at(o * g.kk() + k);
                    }
                }
            }
            String name = "s" + stages.size() + "_" + verilogName(n.name());
            int out = channel(name, lanes, outFmt, outShape.size());
            stages.add(new Stage.Depthwise(name, n.name(), win, out, c, e, m, g.kk(), cbN, g.positions(), rom));
            vals.put(n.output(), new Val(out, streamOrder(outShape)));
        }
    }

    /**
     * {@code MaxPool/AveragePool => SlidingWindow (channel-major) -> PoolReduce}; the window pads
     * with the format's minimum for max pooling and 0 for average pooling. Lanes: the node's PE
     * from the plan if it has an entry, else the incoming beat width.
     */
    private void pool(Node n, QOp.QPool op, Val x, QFormat outFmt, Shape outShape) {
        Shape inShape = q.graph().shape(n.input());
        requireCanonical(n, x, inShape);
        Geometry g = geometry(n, op.window(), inShape, outShape);
        // unplanned, the pool takes the incoming lanes, at most a pixel (a conv computing several pixels per window sends more)
        int e = plan.folds().containsKey(n.name()) ? plan.fold(n.name()).pe() : gcd(channels.get(x.channel()).elems(), g.c());
        if (g.c() % e != 0) {
            throw new ModelException(Diagnostic.SF_BAD_PLAN, n.name(), "PE " + e + " must divide the " + g.c() + " channels", null);
        }
        long pad = op instanceof QOp.QMaxPool ? op.in().min() : 0;
        int sw = slidingWindow(n, widthTo(x.channel(), e, verilogName(n.name())), g, e, pad, true);
        String name = "s" + stages.size() + "_" + verilogName(n.name());
        int out = channel(name, e, outFmt, outShape.size());
        stages.add(new Stage.PoolReduce(name, n.name(), sw, out, e, op, g.kk(), g.c() / e, g.positions()));
        vals.put(n.output(), new Val(out, streamOrder(outShape)));
    }

    /** The channel itself if it has {@code elems} per beat, else a width converter's output. */
    private int widthTo(int ch, int elems, String forStage) {
        Channel c = channels.get(ch);
        if (c.elems() == elems) {
            return ch;
        }
        String name = "s" + stages.size() + "_dwc_" + forStage;
        if (c.elems() % elems != 0 && elems % c.elems() != 0) {
            int g = gcd(c.elems(), elems);
            return widthTo(widthTo(ch, g, forStage), elems, forStage);
        }
        int out = channel(name, elems, c.format(), c.beats() * c.elems());
        stages.add(new Stage.WidthConverter(name, forStage, ch, out, c.elems(), elems, c.format(), c.beats()));
        return out;
    }

    private int channel(String name, int elems, QFormat f, int elements) {
        int id = channels.size();
        channels.add(new Channel(id, "c" + id + "_" + name, elems, f, plan.fifoDepth(), elements / elems));
        return id;
    }

    /**
     * True if the top-level input may carry {@code elems} elements per beat: a divisor of a pixel's
     * elements, or, for a (C, H, W) input, whole pixels that divide a row (a convolution computing
     * several pixels per window reads that many per beat, {@link Polyphase}).
     */
    public static boolean inputWidthFits(Shape in, int elems) {
        int c = lanesPerPixel(in);
        if (c % elems == 0) {
            return true;
        }
        return in.rank() == 3 && elems % c == 0 && in.dim(2) % (elems / c) == 0;
    }

    /** Elements of one pixel (C for a (C, ...) tensor), or the length of a vector. */
    static int lanesPerPixel(Shape s) {
        return s.rank() == 1 ? s.dim(0) : s.channels();
    }

    /** Stream order of a tensor: pixels in row-major order, channels innermost. */
    public static int[] streamOrder(Shape s) {
        int[] order = new int[s.size()];
        if (s.rank() == 1) {
            return identity(s.size());
        }
        int c = s.channels();
        int pixels = s.perChannel();
        for (int p = 0; p < pixels; p++) {
            for (int ch = 0; ch < c; ch++) {
                order[p * c + ch] = ch * pixels + p;
            }
        }
        return order;
    }

    /** {@code a} repeated {@code k} times end to end: the per-channel constants of the P pixels of a polyphase conv. */
    private static long[] repeat(long[] a, int k) {
        long[] r = new long[a.length * k];
        for (int i = 0; i < k; i++) {
            System.arraycopy(a, 0, r, i * a.length, a.length);
        }
        return r;
    }

    private static int[] repeat(int[] a, int k) {
        int[] r = new int[a.length * k];
        for (int i = 0; i < k; i++) {
            System.arraycopy(a, 0, r, i * a.length, a.length);
        }
        return r;
    }

    private static int[] identity(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }

    private static int gcd(int a, int b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    private static int lcm(int a, int b) {
        return a / gcd(a, b) * b;
    }

    /** Longest name {@link #verilogName} returns: module, file and ROM names built from it stay far below file-name limits. */
    static final int MAX_NAME = 48;

    /**
     * A Verilog identifier made from a model or node name: letters, digits and single underscores,
     * starting with a letter, never a keyword of Verilog (IEEE 1364-2005) or SystemVerilog
     * (IEEE 1800-2017), at most {@link #MAX_NAME} characters. A longer name keeps its start and
     * gets a hash of the whole name, so two long names that differ only at the end stay distinct.
     */
    public static String verilogName(String s) {
        String v = s.replaceAll("[^A-Za-z0-9_]", "_").replaceAll("_+", "_").replaceAll("^_|_$", "");
        if (v.isEmpty() || !Character.isLetter(v.charAt(0))) {
            v = "n_" + v;
        }
        if (v.length() > MAX_NAME) {
            String hash = String.format("%08x", s.hashCode());
            v = v.substring(0, MAX_NAME - hash.length() - 1).replaceAll("_+$", "") + "_" + hash;
        }
        return isKeyword(v) ? v + "_m" : v;
    }

    /**
     * The top module's name for a model name: {@link #verilogName}, and never a name declared
     * inside the top module or its testbench (a port, the channel nets {@code c<n>_*}, the
     * instances {@code u_*}, the testbench's registers): Verilator rejects a module that shares
     * its name with a signal or instance in its scope.
     */
    public static String topName(String model) {
        String v = verilogName(model);
        return RESERVED_TOP.contains(v) || v.matches("(u_)?[cs]\\d.*") ? v + "_top" : v;
    }

    /** Names declared in the top module (HwDesign's ports, VerilogLowering) and its testbench (tb_template.v). */
    private static final java.util.Set<String> RESERVED_TOP = java.util.Set.of("aclk", "aresetn", "s_axis_tdata", "s_axis_tvalid",
            "s_axis_tready", "s_axis_tlast", "m_axis_tdata", "m_axis_tvalid", "m_axis_tready", "m_axis_tlast", "out_beat", "N_IN", "N_OUT",
            "N_STIM", "BEATS_IN", "TIMEOUT", "W_IN", "W_OUT", "running", "reset_cycles", "cycle", "in_idx", "out_idx", "inputs", "expected",
            "stim", "stim_now", "in_at", "dut", "got");

    /** True if {@code s} is a reserved word of Verilog-2005 or SystemVerilog-2017 (both are case-sensitive). */
    public static boolean isKeyword(String s) {
        return VERILOG_KEYWORDS.contains(s);
    }

    /**
     * The reserved words of IEEE 1364-2005 (Annex B) and IEEE 1800-2017 (Annex B, a superset of the
     * former): Icarus and Verilator reject any of them as an identifier, some only in SystemVerilog
     * mode ({@code do}, {@code const}), which Verilator uses for {@code .v} files too.
     */
    private static final java.util.Set<String> VERILOG_KEYWORDS = java.util.Set.of((""
            // IEEE 1364-2005
            + "always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config deassign default defparam design "
            + "disable edge else end endcase endconfig endfunction endgenerate endmodule endprimitive endspecify endtable endtask event "
            + "for force forever fork function generate genvar highz0 highz1 if ifnone incdir include initial inout input instance "
            + "integer join large liblist library localparam macromodule medium module nand negedge nmos nor noshowcancelled not notif0 "
            + "notif1 or output parameter pmos posedge primitive pull0 pull1 pulldown pullup pulsestyle_ondetect pulsestyle_onevent "
            + "rcmos real realtime reg release repeat rnmos rpmos rtran rtranif0 rtranif1 scalared showcancelled signed small specify "
            + "specparam strong0 strong1 supply0 supply1 table task time tran tranif0 tranif1 tri tri0 tri1 triand trior trireg "
            + "unsigned use uwire vectored wait wand weak0 weak1 while wire wor xnor xor "
            // added by IEEE 1800-2017
            + "accept_on alias always_comb always_ff always_latch assert assume before bind bins binsof bit break byte chandle checker "
            + "class clocking const constraint context continue cover covergroup coverpoint cross dist do endchecker endclass "
            + "endclocking endgroup endinterface endpackage endprogram endproperty endsequence enum eventually expect export extends "
            + "extern final first_match foreach forkjoin global iff ignore_bins illegal_bins implements implies import inside int "
            + "interconnect interface intersect join_any join_none let local logic longint matches modport nettype new nexttime null "
            + "package packed priority program property protected pure rand randc randcase randsequence ref reject_on restrict return "
            + "s_always s_eventually s_nexttime s_until s_until_with sequence shortint shortreal soft solve static string strong struct "
            + "super sync_accept_on sync_reject_on tagged this throughout timeprecision timeunit type typedef union unique unique0 until "
            + "until_with untyped var virtual void wait_order weak wildcard with within").split(" "));
}
