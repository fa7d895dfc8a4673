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
     * <li>the <b>loader</b> (registers {@code wsel}, {@code wcnt}) writes into bank
     *     {@code ws}, slot {@code wc}: normally {@code ws = wsel, wc = wcnt}, but when its bank is
     *     full ({@code wcnt == SF}) and the compute process is on that same bank
     *     ({@code rsel == wsel}), the other bank is free and {@code ws = wsel ^ 1, wc = 0}. It pops
     *     an input beat into {@code buf[ws][wc]} whenever one is present and {@code wc < SF}; then
     *     {@code wsel = ws, wcnt = wc + (popped ? 1 : 0)}. A full bank that compute has not reached
     *     yet makes it wait. (Moving to the free bank and loading in the same cycle lets a
     *     vector of one beat, SF = 1, stream at one vector per cycle.)</li>
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

    /**
     * Global average pooling of a (C, H, W) stream (P = H*W pixels, channels innermost, E
     * elements per beat, E dividing C) into the C-vector, E elements per beat: G = C/E beats per
     * pixel, an exact running sum per channel in {@code sumBits} (registers {@code acc[C]}), and
     * counters {@code g} (0..G-1, beat in pixel) and {@code p} (0..P-1, pixel).
     *
     * <p>It fires when an input beat is present and, in the last pixel ({@code p == P-1}), the
     * output FIFO has room. A firing computes {@code s[i] = (p == 0 ? 0 : acc[g*E+i]) + x[i]} for
     * the E lanes, keeps it in {@code acc}, and in the last pixel pushes the beat
     * {@code op.finish(s[i])}: the result of channel group g leaves while its last input beat is
     * processed, with no extra phase. So it takes G*P cycles per inference (one per input beat)
     * and emits its G output beats during the last G of them.
     */
    record GlobalAvgPool(String name, String source, int input, int output, int elems, int channels, int pixels,
                         QOp.QGlobalAvgPool op) implements Stage {
        public GlobalAvgPool {
            if (elems < 1 || channels % elems != 0 || pixels < 1) {
                throw new IllegalArgumentException(name + ": " + elems + " elements per beat for " + channels + " channels");
            }
        }

        /** Beats per pixel, G = C/E. */
        public int groups() {
            return channels / elems;
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
            return groups() * pixels;
        }
    }

    /**
     * Copies one stream into several (a value read by several nodes): one input FIFO, n >= 2
     * output FIFOs of the same width. It fires when an input beat is present and every output
     * FIFO has room; then it pops the beat and pushes it into every output. One cycle per beat.
     * A branch that waits for another before it consumes (a residual's skip path) needs a deep
     * enough FIFO, see {@link io.streamfold.hw.LowerToHardware}.
     */
    record Fork(String name, String source, int input, List<Integer> outputs, int beats) implements Stage {
        public Fork {
            outputs = List.copyOf(outputs);
            if (outputs.size() < 2) {
                throw new IllegalArgumentException(name + ": a fork needs two or more outputs");
            }
        }

        @Override
        public List<Integer> inputs() {
            return List.of(input);
        }

        @Override
        public int cycles() {
            return beats;
        }
    }

    /**
     * Elementwise sum of two streams in the same order and width (E elements per beat): it fires
     * when both input FIFOs hold a beat and the output FIFO has room, pops both and pushes
     * {@code op.finish(op.sum(a[i], b[i]))} per lane ({@code a} from input 0). One cycle per beat.
     */
    record Add(String name, String source, int inputA, int inputB, int output, int elems, QOp.QAdd op, int beats)
            implements Stage {
        @Override
        public List<Integer> inputs() {
            return List.of(inputA, inputB);
        }

        @Override
        public List<Integer> outputs() {
            return List.of(output);
        }

        @Override
        public int cycles() {
            return beats;
        }
    }

    /**
     * Softmax of a vector of N elements (in any stream order; softmax commutes with a
     * permutation), E per beat, B = N/E beats, by {@link QOp.QSoftmax}'s "LUT exp + reciprocal".
     * One finite-state machine with four phases, registers {@code x[B]}, {@code e[B]} (beat
     * buffers), {@code m} (max), {@code S} (exact sum), {@code R}, {@code q} (divider), counters
     * {@code b} (beat) and {@code t} (divider step):
     * <ol>
     * <li><b>LOAD</b>, one cycle per input beat, only when one is present: {@code x[b] = beat},
     *     {@code m = max(b == 0 ? lane 0 : m, lanes)}; after beat B-1 go to EXP.</li>
     * <li><b>EXP</b>, B cycles, never stalls: {@code e[b][i] = op.exp(m, x[b][i])} (E reads of
     *     the exp ROM, the same table as {@code QSoftmax.exp}), {@code S = (b == 0 ? 0 : S) +
     *     sum_i e[b][i]}; after beat B-1 set {@code R = 2^K >> Q, q = 0} and go to DIV
     *     ({@code K = op.recipShift()}).</li>
     * <li><b>DIV</b>, exactly {@link #divSteps() Q} cycles: a restoring divider computing
     *     {@code q = floor(2^K / S)} one quotient bit per cycle: {@code R2 = 2R + bit(2^K, Q-1-t)},
     *     {@code R2 >= S ? (R = R2 - S, q = 2q + 1) : (R = R2, q = 2q)}. Q is the bit width of
     *     the largest quotient, {@code floor(2^K / Smin)} with {@code Smin = exp(0)} (the maximum
     *     element alone contributes it, so {@code S >= Smin}), which also makes the initial
     *     remainder {@code 2^K >> Q} smaller than S, as restoring division requires. Then OUT.</li>
     * <li><b>OUT</b>, one cycle per output beat, only when the output FIFO has room: push
     *     {@code op.prob(e[b][i], q)}; after beat B-1 go back to LOAD.</li>
     * </ol>
     * So an unstalled vector takes {@code 3B + Q} cycles; the next vector is loaded only after
     * the last output beat (no overlap).
     */
    record Softmax(String name, String source, int input, int output, int elems, int n, QOp.QSoftmax op) implements Stage {
        public Softmax {
            if (n % elems != 0) {
                throw new IllegalArgumentException(name + ": " + elems + " elements per beat for a vector of " + n);
            }
            if (op.exp().entry(0) < 1 || op.recipShift() >= 62) {
                throw new IllegalArgumentException(name + ": exp(0) = " + op.exp().entry(0) + ", 2^" + op.recipShift());
            }
        }

        public int beats() {
            return n / elems;
        }

        /** Divider steps Q: bits of the largest quotient {@code floor(2^K / exp(0))}. */
        public int divSteps() {
            return 64 - Long.numberOfLeadingZeros((1L << op.recipShift()) / op.exp().entry(0));
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
            return 3 * beats() + divSteps();
        }
    }

    /**
     * Argmax head: a vector of N elements (E per beat, B = N/E beats) in, one element out: the
     * flat index {@code index[k]} of the largest element, ties going to the lowest flat index
     * ({@code index[k]} maps stream position k to its flat channels-first index). Registers
     * {@code best}, {@code bestIdx} and a beat counter {@code b}. It fires when an input beat is
     * present and, on the last beat, the output FIFO has room; a firing scans the lanes in order
     * ({@code v > best || v == best && idx < bestIdx} replaces, where beat 0's lane 0 always
     * does) and on beat B-1 pushes {@code bestIdx} as {@code Q(bits, 0)}. B cycles per vector.
     */
    record Argmax(String name, String source, int input, int output, int elems, QFormat in, int[] index, QFormat out)
            implements Stage {
        public Argmax {
            index = index.clone();
            if (index.length % elems != 0 || !out.contains(index.length - 1)) {
                throw new IllegalArgumentException(name + ": " + index.length + " elements, " + elems + " per beat, index " + out);
            }
        }

        public int beats() {
            return index.length / elems;
        }

        /** Flat index of lane {@code i} of beat {@code b}. */
        public int index(int b, int i) {
            return index[b * elems + i];
        }

        @Override
        public int[] index() {
            return index.clone();
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
            return beats();
        }
    }
}
