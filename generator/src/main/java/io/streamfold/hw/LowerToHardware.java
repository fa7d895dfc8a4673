package io.streamfold.hw;

import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Node;
import io.streamfold.ir.Shape;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QOp;
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
        } else {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_HW, n.name(), op.kind() + " has no hardware stage yet",
                    "the streaming back end implements Dense and elementwise layers so far");
        }
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
        return VERILOG_KEYWORDS.contains(v) ? v + "_m" : v;
    }

    /** Verilog-2005 and SystemVerilog keywords a tool might reject as identifiers. */
    private static final java.util.Set<String> VERILOG_KEYWORDS = java.util.Set.of(
            "always", "and", "assign", "automatic", "begin", "buf", "case", "casex", "casez", "cell", "config", "default",
            "defparam", "design", "disable", "edge", "else", "end", "endcase", "endconfig", "endfunction", "endgenerate",
            "endmodule", "endprimitive", "endspecify", "endtable", "endtask", "event", "for", "force", "forever", "fork",
            "function", "generate", "genvar", "if", "initial", "inout", "input", "integer", "join", "library", "localparam",
            "module", "nand", "negedge", "nor", "not", "or", "output", "parameter", "posedge", "primitive", "real", "reg",
            "release", "repeat", "signed", "specify", "table", "task", "time", "tri", "unsigned", "wait", "while", "wire",
            "xor", "xnor", "logic", "bit", "byte", "int", "class", "package", "interface", "program", "final", "type", "string");
}
