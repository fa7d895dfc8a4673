package io.streamfold.hw;

import io.streamfold.quant.QOp;

/**
 * What a design costs, in bits, for comparing quantizations of one model (the mixed-precision
 * search, {@code io.streamfold.compile.MixedPrecision}): {@code total = multiplierBits + romBits +
 * bufferBits}.
 *
 * <ul>
 *   <li>{@code multiplierBits}: the sum over every hardware multiplier of the product of its operand
 *       widths, e.g. 64 for an 8x8 multiplier: the partial-product bits of an array multiplier,
 *       roughly what one costs in logic, and a fair proxy for DSP use as well;
 *   <li>{@code romBits}: every constant (weights, biases, tables: {@link HwDesign#romBits()});
 *   <li>{@code bufferBits}: the stages' buffers and every FIFO ({@link HwDesign#bufferBits()}).
 * </ul>
 *
 * A bit of storage and a partial-product bit weigh the same: on the FPGAs streamfold targets a
 * multiplier bit and a memory bit are of the same order once block RAM runs out, and a weighted sum
 * would need device-specific weights this comparison does not have.
 */
public record HardwareCost(long multiplierBits, long romBits, long bufferBits) {

    /** The sum of the three terms. */
    public long total() {
        return multiplierBits + romBits + bufferBits;
    }

    /** The cost of {@code d}. */
    public static HardwareCost of(HwDesign d) {
        long mult = 0;
        for (Stage s : d.stages()) {
            mult += multiplierBits(s);
        }
        return new HardwareCost(mult, d.romBits(), d.bufferBits());
    }

    /** A stage's multipliers times their operand widths, summed. */
    private static long multiplierBits(Stage s) {
        return s.accept(BITS);
    }

    /**
     * The sum of {@code a * b} over the stage's multipliers, each multiplying an a-bit by a b-bit
     * operand; 0 for a stage without. Most stages have one kind of multiplier, {@link Stage#multipliers()}
     * of them.
     */
    private static final Stage.Visitor<Long> BITS = new Stage.Visitor<>() {
        @Override
        public Long matVec(Stage.MatVec s) {
            // a fused activation's multipliers have operands of their own
            long own = (long) s.pe() * s.simd() * s.op().weight().bits() * s.op().in().bits();
            return s.activation() == null ? own : own + multiplierBits(s.activation());
        }

        @Override
        public Long elementwise(Stage.Elementwise s) {
            return s.multipliers() * s.op().accept(new QOp.ElementwiseVisitor<Long>() {
                @Override
                public Long affine(QOp.QAffine op) {
                    return (long) op.scale().bits() * op.in().bits();
                }

                @Override
                public Long relu(QOp.QRelu op) {
                    return 0L;
                }

                @Override
                public Long leakyRelu(QOp.QLeakyRelu op) {
                    return (long) op.alphaBits() * op.in().bits();
                }

                @Override
                public Long prelu(QOp.QPRelu op) {
                    return (long) op.alphaBits() * op.in().bits();
                }

                @Override
                public Long clip(QOp.QClip op) {
                    return 0L;
                }

                @Override
                public Long lut(QOp.QLut op) {
                    // the interpolation product: a slope times the remainder as a signed operand
                    return op.lut().interpolates() ? (long) op.lut().slopeBits() * (op.lut().interpBits() + 1) : 0L;
                }

                @Override
                public Long flatten(QOp.QFlatten op) {
                    return 0L;
                }

                @Override
                public Long reshape(QOp.QReshape op) {
                    return 0L;
                }
            });
        }

        @Override
        public Long widthConverter(Stage.WidthConverter s) {
            return 0L;
        }

        @Override
        public Long globalAvgPool(Stage.GlobalAvgPool s) {
            return s.multipliers() * (long) s.op().sumBits() * s.op().recipBits();
        }

        @Override
        public Long fork(Stage.Fork s) {
            return 0L;
        }

        @Override
        public Long add(Stage.Add s) {
            return 0L;
        }

        @Override
        public Long softmax(Stage.Softmax s) {
            // per lane: the product e * r, and the exponential's interpolation if it has one
            return s.elems() * ((long) s.op().exp().out().bits() * s.op().recipBits() + s.op().exp().multiplierBits());
        }

        @Override
        public Long argmax(Stage.Argmax s) {
            return 0L;
        }

        @Override
        public Long softmaxTree(Stage.SoftmaxTree s) {
            // as the state machine, with every lane at once
            return s.n() * ((long) s.op().exp().out().bits() * s.op().recipBits() + s.op().exp().multiplierBits());
        }

        @Override
        public Long argmaxTree(Stage.ArgmaxTree s) {
            return 0L;
        }

        @Override
        public Long slidingWindow(Stage.SlidingWindow s) {
            return 0L;
        }

        @Override
        public Long poolReduce(Stage.PoolReduce s) {
            return s.op() instanceof QOp.QAvgPool a ? s.multipliers() * (long) a.sumBits() * a.recipBits() : 0L;
        }

        @Override
        public Long depthwise(Stage.Depthwise s) {
            return s.multipliers() * (long) s.op().weight().bits() * s.op().in().bits();
        }
    };
}
