package io.streamfold.hw;

import io.streamfold.quant.QFormat;
import io.streamfold.quant.QOp;

import java.util.List;

/**
 * One streaming stage of the datapath. Each kind documents its exact cycle behaviour; the
 * Verilog emitter and the simulator implement that behaviour and nothing else. A stage "fires"
 * in a cycle when everything it needs is there (input beats present, room in output FIFOs, as of
 * the start of the cycle); otherwise it holds its state.
 */
public sealed interface Stage {

    /** Instance name, unique in the design, a Verilog identifier. */
    String name();

    /** The IR node(s) this stage implements, for reports. */
    String source();

    /** Channel ids read. */
    List<Integer> inputs();

    /** Channel ids written. */
    List<Integer> outputs();

    /** Cycles per inference if never stalled: the stage's own initiation interval. */
    int cycles();

    /** Hardware multipliers of the stage. */
    default int multipliers() {
        return 0;
    }

    /** Multiply-accumulates per inference. */
    default long macs() {
        return 0;
    }

    /**
     * Matrix-vector unit (a Dense layer): {@code PE} output lanes times {@code SIMD} input lanes,
     * with {@code SF = N/SIMD} input beats and {@code NF = M/PE} output beats per vector. Two
     * processes share a two-bank input buffer of SF beats per bank:
     * <ul>
     * <li>the <b>loader</b> (registers {@code wsel}, {@code wcnt}) pops an input beat into
     *     {@code buf[wsel][wcnt]} whenever one is present and {@code wcnt < SF}. When a bank is
     *     full ({@code wcnt == SF}, counting the beat written in this cycle) and the compute
     *     process is on that same bank ({@code rsel == wsel}), it moves to the other bank
     *     ({@code wsel ^= 1, wcnt = 0}); otherwise it waits at {@code wcnt == SF} until compute
     *     arrives there;</li>
     * <li>the <b>compute</b> process (registers {@code rsel}, {@code nf}, {@code sf}, {@code acc})
     *     steps through {@code nf = 0..NF-1}, in each through {@code sf = 0..SF-1}. A step needs
     *     its beat loaded ({@code rsel != wsel || wcnt > sf}) and, if {@code sf == SF-1}, room in
     *     the output FIFO. It computes
     *     {@code sum[p] = (sf == 0 ? bias[o] : acc[p]) + sum_s w[nf*SF+sf][p][s] * buf[rsel][sf][s]}
     *     for {@code o = nf*PE + p}, keeps it in {@code acc[p]}, and at {@code sf == SF-1} pushes
     *     one output beat of {@code op.finish(o, sum[p])}. After the last step it moves to the
     *     other bank ({@code rsel ^= 1}).</li>
     * </ul>
     * Both processes decide on start-of-cycle state. The next vector loads while the current one
     * is computed, so the initiation interval is NF*SF cycles (at least SF).
     *
     * @param weights ROM, {@code [nf*SF + sf][p][s]} flattened, already permuted to stream order
     */
    record MatVec(String name, String source, int input, int output, QOp.QDense op, int inFeatures, int outFeatures,
                  int simd, int pe, long[] weights) implements Stage {
        public MatVec {
            weights = weights.clone();
            if (inFeatures % simd != 0 || outFeatures % pe != 0 || weights.length != inFeatures * outFeatures) {
                throw new IllegalArgumentException(name + ": N=" + inFeatures + " M=" + outFeatures + " SIMD=" + simd + " PE=" + pe);
            }
        }

        public int sf() {
            return inFeatures / simd;
        }

        public int nf() {
            return outFeatures / pe;
        }

        /** Weight of lane {@code p}, {@code s} at ROM address {@code addr}, without copying. */
        public long weight(int addr, int p, int s) {
            return weights[(addr * pe + p) * simd + s];
        }

        @Override
        public long[] weights() {
            return weights.clone();
        }

        @Override
        public List<Integer> inputs() {
            return List.of(input);
        }

        @Override
        public List<Integer> outputs() {
            return List.of(output);
        }

        @Override
        public int cycles() {
            return sf() * nf();
        }

        @Override
        public int multipliers() {
            return pe * simd;
        }

        @Override
        public long macs() {
            return (long) inFeatures * outFeatures;
        }
    }

    /**
     * An elementwise function applied to every element of each beat, one beat per firing:
     * Relu, Clip, LeakyRelu, a table (Sigmoid, Tanh), a per-channel Affine, or a requantizing
     * Flatten/Reshape. It fires when an input beat is present and the output FIFO has room.
     *
     * <p>Per-channel ops need the channel of each element: the stream repeats with a period of
     * {@code channelOf.length} elements (a multiple of {@code elems}), and element {@code k} of
     * the period belongs to channel {@code channelOf[k]}; a beat counter walks the period.
     */
    record Elementwise(String name, String source, int input, int output, int elems, QOp op, int[] channelOf, int beats)
            implements Stage {
        public Elementwise {
            channelOf = channelOf.clone();
            if (channelOf.length % elems != 0) {
                throw new IllegalArgumentException(name + ": period " + channelOf.length + " is not a multiple of " + elems);
            }
        }

        /** Beats in one period of the channel pattern. */
        public int periodBeats() {
            return channelOf.length / elems;
        }

        public int channel(int beatInPeriod, int lane) {
            return channelOf[beatInPeriod * elems + lane];
        }

        @Override
        public int[] channelOf() {
            return channelOf.clone();
        }

        @Override
        public List<Integer> inputs() {
            return List.of(input);
        }

        @Override
        public List<Integer> outputs() {
            return List.of(output);
        }

        @Override
        public int cycles() {
            return beats;
        }

        @Override
        public int multipliers() {
            return op instanceof QOp.QAffine || op instanceof QOp.QLeakyRelu ? elems : 0;
        }
    }

    /**
     * Changes the number of elements per beat, one of the two a multiple of the other.
     * Widening by {@code k}: each firing pops one beat into lane group {@code j} of a holding
     * register; the k-th firing also pushes the assembled beat (so it needs room in the output
     * then). Narrowing by {@code k}: the input beat stays at the FIFO head while firing {@code j}
     * pushes its lane group {@code j}; the k-th firing pops it.
     */
    record WidthConverter(String name, String source, int input, int output, int elemsIn, int elemsOut, QFormat format, int beatsIn)
            implements Stage {
        public WidthConverter {
            if (elemsIn % elemsOut != 0 && elemsOut % elemsIn != 0) {
                throw new IllegalArgumentException(name + ": " + elemsIn + " -> " + elemsOut + " elements");
            }
        }

        public boolean widening() {
            return elemsOut > elemsIn;
        }

        /** The ratio k of the wider to the narrower beat. */
        public int ratio() {
            return widening() ? elemsOut / elemsIn : elemsIn / elemsOut;
        }

        @Override
        public List<Integer> inputs() {
            return List.of(input);
        }

        @Override
        public List<Integer> outputs() {
            return List.of(output);
        }

        @Override
        public int cycles() {
            return widening() ? beatsIn : beatsIn * ratio();
        }
    }
}
