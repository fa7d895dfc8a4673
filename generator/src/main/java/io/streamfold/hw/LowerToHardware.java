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
 * a width converter in front.
 */
public final class LowerToHardware {

    /** Stable pass name. */
    public static final String NAME = "lower-to-hardware";

    private final QuantizedGraph q;
    private final ParallelismPlan plan;
    private final List<Channel> channels = new ArrayList<>();
    private final List<Stage> stages = new ArrayList<>();
    private final Map<String, Val> vals = new HashMap<>();

    /** A value in hardware: its channel and the flat index of each streamed element. */
    private record Val(int channel, int[] order) {
    }

    private LowerToHardware(QuantizedGraph q, ParallelismPlan plan) {
        this.q = q;
        this.plan = plan;
    }

    public static HwDesign run(QuantizedGraph q, ParallelismPlan plan) {
        return new LowerToHardware(q, plan).lower();
    }

    private HwDesign lower() {
        Graph g = q.graph();
        Shape in = g.inputShape();
        int inElems = plan.inputElems();
        if (lanesPerPixel(in) % inElems != 0) {
            throw new ModelException(Diagnostic.SF_BAD_PLAN, null, "the input has " + lanesPerPixel(in) + " elements per pixel, "
                    + inElems + " per beat does not divide it", null);
        }
        int inCh = channel("in", inElems, q.inputFormat(), in.size());
        vals.put(g.input(), new Val(inCh, streamOrder(in)));
        for (Node n : g.nodes()) {
            lower(n, q.op(n.name()));
        }
        Val out = vals.get(g.output());
        if (out.channel() == inCh) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_HW, null, "the model computes nothing in hardware", null);
        }
        return new HwDesign(verilogName(g.name()), channels, stages, inCh, out.channel(), vals.get(g.input()).order(), out.order());
    }

    private void lower(Node n, QOp op) {
        Val x = vals.get(n.input());
        Channel cx = channels.get(x.channel());
        String name = "s" + stages.size() + "_" + verilogName(n.name());
        QFormat outFmt = q.format(n.output());
        Shape outShape = q.graph().shape(n.output());
        if (op instanceof QOp.QDense d) {
            ParallelismPlan.Fold f = plan.fold(n.name());
            int nIn = d.inFeatures();
            int nOut = d.outFeatures();
            if (nIn % f.simd() != 0 || nOut % f.pe() != 0) {
                throw new ModelException(Diagnostic.SF_BAD_PLAN, n.name(), "SIMD " + f.simd() + " must divide " + nIn + " inputs and PE "
                        + f.pe() + " must divide " + nOut + " outputs", null);
            }
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
            stages.add(new Stage.MatVec(name, n.name(), input, out, d, nIn, nOut, f.simd(), f.pe(), rom));
            vals.put(n.output(), new Val(out, identity(nOut)));
        } else if (op instanceof QOp.QFlatten || op instanceof QOp.QReshape) {
            if (op.inputs().get(0).equals(op.out())) {
                vals.put(n.output(), x);
            } else {
                elementwise(n, op, x, cx, name, outFmt, outShape, new int[cx.elems()]);
            }
        } else if (op instanceof QOp.QRelu || op instanceof QOp.QClip || op instanceof QOp.QLeakyRelu || op instanceof QOp.QLut) {
            elementwise(n, op, x, cx, name, outFmt, outShape, new int[cx.elems()]);
        } else if (op instanceof QOp.QAffine) {
            Shape s = q.graph().shape(n.input());
            int[] order = x.order();
            boolean canonical = java.util.Arrays.equals(order, streamOrder(s));
            int period = canonical ? lanesPerPixel(s) : order.length;
            int[] channelOf = new int[period];
            for (int k = 0; k < period; k++) {
                channelOf[k] = order[k] / s.perChannel();
            }
            elementwise(n, op, x, cx, name, outFmt, outShape, channelOf);
        } else if (op instanceof QOp.QConv c) {
            conv(n, c, x, outFmt, outShape);
        } else if (op instanceof QOp.QMaxPool || op instanceof QOp.QAvgPool) {
            pool(n, op, x, outFmt, outShape);
        } else {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_HW, n.name(), op.kind() + " has no hardware stage yet",
                    "the streaming back end implements Dense, Conv (group 1 or depthwise), MaxPool, AveragePool and elementwise layers so far");
        }
    }

    /**
     * Window geometry of a conv or pool on a (C, H, W) input; a 1D (C, L) input becomes the
     * column (C, L, 1), so the line buffer holds pixels rather than whole sequences.
     */
    private record Geometry(int c, int h, int w, int kh, int kw, int sh, int sw, int pt, int pl, int oh, int ow) {
        int kk() {
            return kh * kw;
        }

        int positions() {
            return oh * ow;
        }
    }

    private Geometry geometry(Node n, Window win, Shape in, Shape out) {
        Geometry g = win.rank() == 2
                ? new Geometry(in.dim(0), in.dim(1), in.dim(2), win.kernel(0), win.kernel(1), win.stride(0), win.stride(1),
                        win.padBegin(0), win.padBegin(1), out.dim(1), out.dim(2))
                : new Geometry(in.dim(0), in.dim(1), 1, win.kernel(0), 1, win.stride(0), 1, win.padBegin(0), 0, out.dim(1), 1);
        for (int a = 0; a < win.rank(); a++) {
            if (win.padBegin(a) >= win.kernel(a) || win.padEnd(a) >= win.kernel(a)) {
                throw new ModelException(Diagnostic.SF_UNSUPPORTED_HW, n.name(), "padding " + win + " as large as the kernel",
                        "the sliding-window unit needs pads smaller than the kernel");
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
        int rows = Stage.SlidingWindow.fullRateRows(g.h(), g.kh(), g.sh(), g.pt(), g.oh());
        stages.add(new Stage.SlidingWindow(name, n.name(), input, out, c.format(), g.c(), g.h(), g.w(), elems, g.kh(), g.kw(), g.sh(),
                g.sw(), g.pt(), g.pl(), g.oh(), g.ow(), rows, pad, channelMajor));
        return out;
    }

    /**
     * {@code Conv => SlidingWindow -> MatVec} (group 1: the MatVec reads each window as one
     * vector in (ky, kx, c) order, with the weights permuted to match) or
     * {@code SlidingWindow -> Depthwise} (group == C). The output streams as (oy, ox, o): the
     * canonical order of the (O, OH, OW) tensor.
     */
    private void conv(Node n, QOp.QConv c, Val x, QFormat outFmt, Shape outShape) {
        Shape inShape = q.graph().shape(n.input());
        requireCanonical(n, x, inShape);
        Geometry g = geometry(n, c.window(), inShape, outShape);
        ParallelismPlan.Fold f = plan.fold(n.name());
        int cin = g.c();
        int cout = c.outChannels();
        QWeights w = c.weight();
        if (c.group() == 1) {
            if (cin % f.simd() != 0 || cout % f.pe() != 0) {
                throw new ModelException(Diagnostic.SF_BAD_PLAN, n.name(), "SIMD " + f.simd() + " must divide " + cin
                        + " input channels and PE " + f.pe() + " must divide " + cout + " output channels", null);
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
                            rom[(((nf * sfN + sf) * f.pe()) + p) * f.simd() + s] = w.at((o * cin + ci) * g.kk() + kpos);
                        }
                    }
                }
            }
            QOp.QDense dense = new QOp.QDense(c.in(), new QWeights(Shape.of(cout, nIn), w.values(), w.bits(), w.fracs(), w.perChannel()),
                    c.bias(), c.accBits(), c.out());
            String name = "s" + stages.size() + "_" + verilogName(n.name());
            int out = channel(name, f.pe(), outFmt, outShape.size());
            stages.add(new Stage.MatVec(name, n.name(), win, out, dense, nIn, cout, f.simd(), f.pe(), rom, g.positions()));
            vals.put(n.output(), new Val(out, streamOrder(outShape)));
        } else if (c.group() == cin && cout % cin == 0) {
            int m = cout / cin;
            int e = f.pe();
            if (cin % e != 0) {
                throw new ModelException(Diagnostic.SF_BAD_PLAN, n.name(), "PE " + e + " must divide the " + cin + " channels of a depthwise conv",
                        null);
            }
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
        } else {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_HW, n.name(), "grouped convolution with " + c.group() + " groups",
                    "the streaming back end implements group 1 and depthwise (group == input channels) convolutions");
        }
    }

    /**
     * {@code MaxPool/AveragePool => SlidingWindow (channel-major) -> PoolReduce}; the window pads
     * with the format's minimum for max pooling and 0 for average pooling. Lanes: the node's PE
     * from the plan if it has an entry, else the incoming beat width.
     */
    private void pool(Node n, QOp op, Val x, QFormat outFmt, Shape outShape) {
        Shape inShape = q.graph().shape(n.input());
        requireCanonical(n, x, inShape);
        Window win = op instanceof QOp.QMaxPool mp ? mp.window() : ((QOp.QAvgPool) op).window();
        Geometry g = geometry(n, win, inShape, outShape);
        int e = plan.folds().containsKey(n.name()) ? plan.fold(n.name()).pe() : channels.get(x.channel()).elems();
        if (g.c() % e != 0) {
            throw new ModelException(Diagnostic.SF_BAD_PLAN, n.name(), "PE " + e + " must divide the " + g.c() + " channels", null);
        }
        QFormat in = op.inputs().get(0);
        long pad = op instanceof QOp.QMaxPool ? in.min() : 0;
        int sw = slidingWindow(n, widthTo(x.channel(), e, verilogName(n.name())), g, e, pad, true);
        String name = "s" + stages.size() + "_" + verilogName(n.name());
        int out = channel(name, e, outFmt, outShape.size());
        stages.add(new Stage.PoolReduce(name, n.name(), sw, out, e, op, g.kk(), g.c() / e, g.positions()));
        vals.put(n.output(), new Val(out, streamOrder(outShape)));
    }

    private void elementwise(Node n, QOp op, Val x, Channel cx, String name, QFormat outFmt, Shape outShape, int[] channelOf) {
        int out = channel(name, cx.elems(), outFmt, outShape.size());
        stages.add(new Stage.Elementwise(name, n.name(), x.channel(), out, cx.elems(), op, channelOf, cx.beats()));
        vals.put(n.output(), new Val(out, x.order()));
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

    /** A Verilog identifier made from a model or node name. */
    public static String verilogName(String s) {
        String v = s.replaceAll("[^A-Za-z0-9_]", "_").replaceAll("_+", "_").replaceAll("^_|_$", "");
        if (v.isEmpty() || !Character.isLetter(v.charAt(0))) {
            v = "n_" + v;
        }
        return v;
    }
}
