package io.streamfold.hw;

import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Window;
import io.streamfold.passes.PassContext;
import io.streamfold.quant.QOp;
import io.streamfold.quant.QuantizedGraph;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The polyphase (space-to-depth) form of a convolution that computes {@code P} horizontally
 * adjacent output pixels from one window:
 * {@code Conv(KH x KW, C -> O) over (C, H, W)  =>  Conv(KH x KWs, P*C -> P*O) over (P*C, H, W/P)}.
 *
 * <p>A row of W pixels of C channels, pixel by pixel with channels innermost, is element for
 * element the row of W/P "super-pixels" of P*C channels: super-channel {@code p*C + c} of
 * super-column X is channel c of pixel {@code X*P + p}. Likewise output super-channel
 * {@code q*O + o} of super-position xs is channel o of output pixel {@code xs*P + q}. So the
 * lowering runs the unchanged sliding window and matrix-vector unit on the super-image, and the
 * streams in and out are exactly the original layer's: nothing before or after it changes.
 *
 * <p>Output phase q of super-position xs reads the original columns {@code xs*P + q - PL + kx};
 * over all phases and taps these are {@code xs*P - PL .. xs*P + P - 1 - PL + KW - 1}, i.e. the
 * super-columns {@code xs - PLs .. xs - PLs + KWs - 1} with {@code PLs = ceil(PL/P)} and
 * {@code KWs = floor((P + KW - 2 - PL) / P) + PLs + 1} ({@code ceil((KW + P - 1) / P)} without
 * padding; left padding that is not a multiple of P costs a super-column of alignment). Super-tap
 * (ky, j) of output phase q and input phase p is original tap
 * {@code kx = (j - PLs)*P + p - q + PL} ({@link #tap}), and weight 0 where that falls outside the
 * kernel. The super-image's own padding (outside its W/P columns, and the original top rows) is 0
 * like the original's, so every output is the original's sum of the same products plus exact
 * zeros: the same integer, and the layer's accumulator width still holds (each product's range
 * contains 0, so any partial sum fits, {@code Quantize}). On a row of few super-pixels the window
 * leaves out the super-columns that read padding at every output position (with P = W, a padded
 * 3-wide kernel reads one super-column, not three): they would only add zeros.
 *
 * <p>Declined, with the reason ({@link #reason}): a 1D convolution (its length streams as a
 * column), a depthwise convolution, a horizontal stride or dilation other than 1, and a P that
 * does not divide both the input width W and the output width OW.
 *
 * @param pixels       P, output pixels per window
 * @param kernelW      KW, the original kernel width
 * @param padLeft      PL, the original left padding
 * @param superKernelW KWs, super-columns per window
 * @param superPadLeft PLs, super-columns of padding on the left
 */
public record Polyphase(int pixels, int kernelW, int padLeft, int superKernelW, int superPadLeft) {

    /**
     * The polyphase geometry for {@code pixels} P of a kernel {@code kernelW} wide with left
     * padding {@code padLeft}, on a row long enough that every super-column of the window reads
     * the image somewhere.
     */
    public static Polyphase of(int pixels, int kernelW, int padLeft) {
        int pls = (padLeft + pixels - 1) / pixels;
        int kws = (pixels + kernelW - 2 - padLeft) / pixels + pls + 1;
        return new Polyphase(pixels, kernelW, padLeft, kws, pls);
    }

    /**
     * The polyphase geometry on a row of {@code width} pixels with {@code outWidth} outputs, without
     * the super-columns of the window that read padding at every output position (they would only
     * add zeros): on a row of few super-pixels the window keeps super-columns
     * {@code max(0, PLs - OW/P + 1) .. min(KWs - 1, W/P - 1 + PLs)}. Dropping leading columns
     * lowers {@code PLs} by as many, so {@link #tap} keeps its formula. With P = W, for example,
     * a 3-wide padded kernel reads one super-column instead of three.
     */
    public static Polyphase of(int pixels, int kernelW, int padLeft, int width, int outWidth) {
        Polyphase full = of(pixels, kernelW, padLeft);
        int lo = Math.max(0, full.superPadLeft - outWidth / pixels + 1);
        int hi = Math.min(full.superKernelW - 1, width / pixels - 1 + full.superPadLeft);
        return new Polyphase(pixels, kernelW, padLeft, hi - lo + 1, full.superPadLeft - lo);
    }

    /** The geometry of conv {@code node} at {@code pixels} per window (which {@link #reason} must allow). */
    public static Polyphase of(QuantizedGraph q, String node, int pixels) {
        Window w = ((QOp.QConv) q.op(node)).window();
        int width = q.graph().shape(q.graph().node(node).input()).dim(2);
        int outWidth = q.graph().shape(q.graph().node(node).output()).dim(2);
        return of(pixels, w.kernel(1), w.padBegin(1), width, outWidth);
    }

    /**
     * The original kernel column read by super-tap column {@code j} for input phase {@code p} and
     * output phase {@code q}, or -1 where the super-window reaches beyond the kernel (weight 0).
     */
    public int tap(int j, int p, int q) {
        int kx = (j - superPadLeft) * pixels + p - q + padLeft;
        return kx >= 0 && kx < kernelW ? kx : -1;
    }

    /**
     * Why {@code node} cannot compute {@code pixels} output pixels per window, or null if it can
     * (P = 1 always can).
     */
    public static String reason(QuantizedGraph q, String node, int pixels) {
        if (pixels == 1) {
            return null;
        }
        String structural = structural(q, node);
        if (structural != null) {
            return structural;
        }
        Shape in = q.graph().shape(q.graph().node(node).input());
        Shape out = q.graph().shape(q.graph().node(node).output());
        if (in.dim(2) % pixels != 0) {
            return pixels + " pixels do not divide the input width " + in.dim(2);
        }
        if (out.dim(2) % pixels != 0) {
            return pixels + " pixels do not divide the output width " + out.dim(2);
        }
        return null;
    }

    /** Why {@code node} takes more than {@code pixels} pixels per window at no count, or null if some count is possible. */
    public static String beyond(QuantizedGraph q, String node, int pixels) {
        String structural = structural(q, node);
        if (structural != null) {
            return structural;
        }
        for (int p : choices(q, node)) {
            if (p > pixels) {
                return null;
            }
        }
        Shape in = q.graph().shape(q.graph().node(node).input());
        Shape out = q.graph().shape(q.graph().node(node).output());
        return "no count above " + pixels + " divides both the input width " + in.dim(2) + " and the output width " + out.dim(2);
    }

    /** The reason no pixel count above 1 fits {@code node} whatever the widths, or null. */
    private static String structural(QuantizedGraph q, String node) {
        if (!(q.op(node) instanceof QOp.QConv c)) {
            return "only a convolution computes several pixels per window";
        }
        Window w = c.window();
        if (w.rank() != 2) {
            return "a 1D convolution streams its length as a column, so it has no row to take several pixels of";
        }
        if (c.group() > 1 && c.weight().shape().dim(1) == 1) {
            return "a depthwise convolution computes one channel group at a time";
        }
        if (w.stride(1) != 1) {
            return "horizontal stride " + w.stride(1) + " (only stride 1 computes adjacent pixels from one window)";
        }
        if (w.dilation(1) != 1) {
            return "horizontal dilation " + w.dilation(1);
        }
        return null;
    }

    /** As {@link #reason}, but an {@link Diagnostic#SF_BAD_PLAN} naming the node. */
    public static void check(QuantizedGraph q, String node, int pixels) {
        String why = reason(q, node, pixels);
        if (why != null) {
            throw new ModelException(Diagnostic.SF_BAD_PLAN, node, "cannot compute " + pixels + " pixels per window: " + why,
                    "give the layer \"pixels\": 1 (or --fold NODE=PExSIMD without @P)");
        }
    }

    /** The pixel counts above 1 that {@code node} can take, ascending (empty for any other layer). */
    public static List<Integer> choices(QuantizedGraph q, String node) {
        List<Integer> ps = new ArrayList<>();
        if (structural(q, node) == null) {
            int w = q.graph().shape(q.graph().node(node).input()).dim(2);
            for (int p = 2; p <= w; p++) {
                if (reason(q, node, p) == null) {
                    ps.add(p);
                }
            }
        }
        return ps;
    }

    /**
     * Records what the design does with several pixels per window: a counter and a note of
     * {@link LowerToHardware#NAME} for every convolution lowered in this form (its geometry, its
     * multipliers, and the MACs the zero taps add), and, when {@code planned}, a note of
     * {@link PlanParallelism#NAME} for a convolution that sets the II with every lane in use and
     * cannot take more pixels per window, saying why.
     */
    public static void note(QuantizedGraph q, ParallelismPlan plan, HwDesign d, boolean planned, PassContext ctx) {
        for (Stage s : d.stages()) {
            if (!(s instanceof Stage.MatVec m) || !(q.op(m.source()) instanceof QOp.QConv c)) {
                continue;
            }
            Window w = c.window();
            int p = m.pixels();
            if (p > 1) {
                Polyphase ph = of(q, m.source(), p);
                Shape in = q.graph().shape(q.graph().node(m.source()).input());
                Shape out = q.graph().shape(q.graph().node(m.source()).output());
                long own = (long) out.size() * w.kernelSize() * c.weight().shape().dim(1);
                ctx.count(LowerToHardware.NAME, "convolutions computing several pixels per window");
                ctx.note(LowerToHardware.NAME, m.source(), String.format(Locale.ROOT, "%d pixels per window: the %dx%d kernel as %dx%d taps "
                        + "over %d super-pixel(s) of %d channels per row (left padding %d -> %d), %d outputs per window; %d multipliers, "
                        + "%.2fx the layer's MACs (the zero taps are multiplied too)", p, w.kernel(0), w.kernel(1), w.kernel(0),
                        ph.superKernelW(), in.dim(2) / p, p * in.channels(), w.padBegin(1), ph.superPadLeft(), p * c.outChannels(),
                        m.multipliers(), m.macs() / (double) own));
            }
            Lanes lanes = Lanes.of(q, m.source(), p);
            ParallelismPlan.Fold f = plan.fold(m.source());
            String why = beyond(q, m.source(), p);
            if (planned && m.cycles() == d.initiationInterval() && f.pe() == lanes.outputs() && f.simd() == lanes.inputs() && why != null) {
                ctx.note(PlanParallelism.NAME, m.source(), "sets the II (" + m.cycles() + " cycles, " + m.sf() + " window beats per "
                        + (p > 1 ? p + " pixels" : "pixel") + ") with every lane in use; no more pixels per window: " + why);
            }
        }
    }

    /**
     * The super-conv's dense weight from the original's: {@code dense[(o*C + c)*KH*KW + ky*KW + kx]}
     * (O outputs, C inputs) becomes {@code [(o'*P*C + c')*KH*KWs + ky*KWs + j]} with
     * {@code o' = q*O + o}, {@code c' = p*C + c}.
     */
    public long[] weights(long[] dense, int outs, int ins, int kernelH) {
        int kk = kernelH * kernelW;
        int kks = kernelH * superKernelW;
        int insS = pixels * ins;
        long[] s = new long[pixels * outs * insS * kks];
        for (int qo = 0; qo < pixels; qo++) {
            for (int o = 0; o < outs; o++) {
                for (int p = 0; p < pixels; p++) {
                    for (int c = 0; c < ins; c++) {
                        for (int ky = 0; ky < kernelH; ky++) {
                            for (int j = 0; j < superKernelW; j++) {
                                int kx = tap(j, p, qo);
                                if (kx >= 0) {
                                    s[((qo * outs + o) * insS + p * ins + c) * kks + ky * superKernelW + j] = dense[(o * ins + c) * kk
                                            + ky * kernelW + kx];
                                }
                            }
                        }
                    }
                }
            }
        }
        return s;
    }
}
