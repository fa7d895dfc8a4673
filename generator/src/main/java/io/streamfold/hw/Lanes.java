package io.streamfold.hw;

import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Shape;
import io.streamfold.quant.QOp;
import io.streamfold.quant.QuantizedGraph;

/**
 * The one rule for which PE/SIMD a layer may have: SIMD must divide {@code inputs} and PE must
 * divide {@code outputs}. {@link PlanParallelism} searches within it and {@link LowerToHardware}
 * checks every plan against it, so a plan the planner writes always lowers.
 *
 * <ul>
 * <li>Dense: SIMD divides the input features, PE the output features.</li>
 * <li>Conv with one group, or grouped with several input channels per group (lowered as one
 *     conv with a block-diagonal weight): SIMD divides the input channels (a window is read
 *     channel group by channel group), PE the output channels.</li>
 * <li>Depthwise conv (one input channel per group), max and average pooling: no SIMD (1); PE
 *     divides the channels (groups) processed side by side.</li>
 * <li>A conv computing P &gt; 1 pixels per window ({@link Polyphase}): the group-1 rule of its
 *     super-conv, SIMD divides P times the input channels and PE P times the output channels,
 *     over {@code OH * OW/P} positions of {@code KH * KWs} taps.</li>
 * </ul>
 * Other layers have no lanes of their own: they run at the width of the stream they are fed.
 *
 * @param inputs   what SIMD must divide (1: SIMD is always 1)
 * @param outputs  what PE must divide
 * @param repeats  passes per inference: the layer takes {@code repeats * (inputs/SIMD) * (outputs/PE)}
 *                 cycles (1 for Dense; output positions times window size for windowed layers)
 * @param inWhat   the inputs in words, for errors
 * @param outWhat  the outputs in words, for errors
 */
public record Lanes(int inputs, int outputs, int repeats, String inWhat, String outWhat) {

    /** The lanes of a node at one pixel per window, or null if a plan cannot give it any. */
    public static Lanes of(QuantizedGraph q, String node) {
        return of(q, node, 1);
    }

    /**
     * The lanes of a node computing {@code pixels} output pixels per window, or null if a plan
     * cannot give it any; a layer that cannot take that many pixels is an
     * {@link Diagnostic#SF_BAD_PLAN} naming it ({@link Polyphase#check}).
     */
    public static Lanes of(QuantizedGraph q, String node, int pixels) {
        QOp op = q.ops().get(node);
        if (op == null) {
            return null;
        }
        if (pixels > 1) {
            Polyphase.check(q, node, pixels);
            QOp.QConv c = (QOp.QConv) op;
            Shape out = q.graph().shape(q.graph().node(node).output());
            Polyphase ph = Polyphase.of(q, node, pixels);
            int repeats = out.dim(1) * (out.dim(2) / pixels) * c.window().kernel(0) * ph.superKernelW();
            return new Lanes(pixels * c.weight().shape().dim(1) * c.group(), pixels * c.outChannels(), repeats,
                    "input channels of " + pixels + " pixels", "output channels of " + pixels + " pixels");
        }
        Shape in = q.graph().shape(q.graph().node(node).input());
        int positions = q.graph().shape(q.graph().node(node).output()).perChannel();
        return op.accept(new QOp.Visitor<Lanes>() {
            @Override
            public Lanes dense(QOp.QDense d) {
                return new Lanes(d.inFeatures(), d.outFeatures(), 1, "inputs", "outputs");
            }

            @Override
            public Lanes conv(QOp.QConv c) {
                int repeats = positions * c.window().kernelSize();
                int cinG = c.weight().shape().dim(1);
                // A grouped conv (1 < group < C) runs as a group-1 conv with a block-diagonal weight.
                return c.group() == 1 || cinG > 1 ? new Lanes(cinG * c.group(), c.outChannels(), repeats, "input channels", "output channels")
                        : new Lanes(1, c.group(), repeats, "", "channels of a depthwise conv");
            }

            @Override
            public Lanes elementwise(QOp.QElementwise e) {
                return null;
            }

            @Override
            public Lanes softmax(QOp.QSoftmax s) {
                return null;
            }

            @Override
            public Lanes maxPool(QOp.QMaxPool p) {
                return new Lanes(1, LowerToHardware.lanesPerPixel(in), positions * p.window().kernelSize(), "", "channels");
            }

            @Override
            public Lanes avgPool(QOp.QAvgPool p) {
                return new Lanes(1, LowerToHardware.lanesPerPixel(in), positions * p.window().kernelSize(), "", "channels");
            }

            @Override
            public Lanes globalAvgPool(QOp.QGlobalAvgPool p) {
                return null;
            }

            @Override
            public Lanes add(QOp.QAdd a) {
                return null;
            }
        });
    }

    /** Cycles per inference of the layer at {@code f}: {@code repeats * (inputs/SIMD) * (outputs/PE)}. */
    public long cycles(ParallelismPlan.Fold f) {
        return (long) repeats * (inputs / f.simd()) * (outputs / f.pe());
    }

    /** Checks a fold against this rule; the error names the node. */
    public void check(String node, ParallelismPlan.Fold f) {
        if (inputs % f.simd() != 0) {
            throw new ModelException(Diagnostic.SF_BAD_PLAN, node, inputs == 1 ? "SIMD " + f.simd() + " on a layer without SIMD lanes"
                    : "SIMD " + f.simd() + " must divide " + inputs + " " + inWhat, inputs == 1 ? "give it SIMD 1" : null);
        }
        if (outputs % f.pe() != 0) {
            throw new ModelException(Diagnostic.SF_BAD_PLAN, node, "PE " + f.pe() + " must divide the " + outputs + " " + outWhat, null);
        }
    }
}
