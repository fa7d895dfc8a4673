package io.streamfold.hw;

import io.streamfold.quant.ExpTable;
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

    /**
     * Cycles per inference if never stalled: the stage's own initiation interval. At most
     * 2^31-1 ({@link LowerToHardware} refuses a design that would need more, so the products
     * here are exact, and throw on overflow only before that check).
     */
    int cycles();

    /**
     * What the stage costs besides logic.
     *
     * @param products    its hardware multipliers, with the operand widths the emitter gives them
     * @param romBits     bits of constants it reads (weights, biases, tables): what must fit block RAM or logic
     * @param bufferBits  bits of the memories it writes (input banks, line buffers, beat buffers), registers excluded
     */
    record Resources(List<Product> products, long romBits, long bufferBits) {
        /** A stage without multipliers or memories. */
        public static final Resources NONE = new Resources(List.of(), 0, 0);

        public Resources {
            products = products.stream().filter(p -> p.count() > 0).toList();
        }

        /** Resources without multipliers. */
        public static Resources memories(long romBits, long bufferBits) {
            return new Resources(List.of(), romBits, bufferBits);
        }

        /** Hardware multipliers: the products' counts summed. */
        public int multipliers() {
            return Product.count(products);
        }
    }

    /** The stage's multipliers and memories; every kind states them. */
    Resources resources();

    /** Hardware multipliers of the stage, whatever their widths (DSP blocks: {@link DspMapping#blocks(Stage)}). */
    default int multipliers() {
        return resources().multipliers();
    }

    /** The stage's multipliers with their operand widths. */
    default List<Product> products() {
        return resources().products();
    }

    /** Bits of constants the stage reads. */
    default long romBits() {
        return resources().romBits();
    }

    /** Bits of the memories the stage writes. */
    default long bufferBits() {
        return resources().bufferBits();
    }

    /** The stage kind: a stable name, part of report.json and inspect's output. */
    String kind();

    /**
     * The stage's output data comes out of registers of its own {@link #outputRegisters()} cycles
     * after the push ({@link Channel#lateData()}): a synchronous memory read (one register), or a
     * fixed-latency pipeline whose registers stand in for the channel's register stages, which
     * then carry only the push.
     */
    default boolean registersOwnOutput() {
        return false;
    }

    /**
     * Pipeline registers inside the stage between its decision to take a step and its output
     * register (the matrix-vector unit's read, product and adder-tree registers); 0 for a stage
     * whose step is one cycle of logic.
     */
    default int pipelineDepth() {
        return 0;
    }

    /**
     * Register stages between this stage and each of its output FIFOs ({@link Channel#registers()}):
     * 1 for every stage that computes, so its logic ends at a register; 0 for stages that only
     * route bits (a fork, a width converter); the latency L of a pipeline that never stalls once it
     * has taken a vector ({@link SoftmaxTree}, {@link ArgmaxTree}): the FIFO then keeps room for
     * every vector in flight (the stage takes one only on that credit), and the stage's result,
     * computed when it fires, lands L cycles later. {@link LowerToHardware} gives each output
     * channel this many registers; the Verilog FIFO and the simulator's FIFO implement them.
     */
    int outputRegisters();

    /** Lanes in words for reports (PE x SIMD, or element lanes), empty if the stage has no lane choice. */
    default String describeLanes() {
        return "";
    }

    /** Calls the visitor method of this stage's kind. */
    <R> R accept(Visitor<R> v);

    /** One method per stage kind: the emitter and the simulator implement it, so neither can miss a kind. */
    interface Visitor<R> {
        R matVec(MatVec s);

        R elementwise(Elementwise s);

        R widthConverter(WidthConverter s);

        R globalAvgPool(GlobalAvgPool s);

        R fork(Fork s);

        R add(Add s);

        R softmax(Softmax s);

        R argmax(Argmax s);

        R softmaxTree(SoftmaxTree s);

        R argmaxTree(ArgmaxTree s);

        R slidingWindow(SlidingWindow s);

        R poolReduce(PoolReduce s);

        R depthwise(Depthwise s);
    }

    /** A stage with one input channel and one output channel. */
    sealed interface OneToOne extends Stage {
        int input();

        int output();

        @Override
        default List<Integer> inputs() {
            return List.of(input());
        }

        @Override
        default List<Integer> outputs() {
            return List.of(output());
        }
    }

    /** Multiply-accumulates per inference. */
    default long macs() {
        return 0;
    }

    /**
     * Matrix-vector unit (a Dense layer): {@code PE} output lanes times {@code SIMD} input lanes,
     * with {@code SF = N/SIMD} input beats and {@code NF = M/PE} output beats per vector.
     *
     * <p>Under the {@link Schedule#BUFFERED} schedule two processes share a two-bank input buffer
     * of SF beats per bank (the {@link Schedule#STREAMED} schedule, below, has none):
     * <ul>
     * <li>the <b>loader</b> (registers {@code wsel}, {@code wcnt}) writes into bank
     *     {@code ws}, slot {@code wc}: normally {@code ws = wsel, wc = wcnt}, but when its bank is
     *     full ({@code wcnt == SF}) and the compute process is on that same bank
     *     ({@code rsel == wsel}), the other bank is free and {@code ws = wsel ^ 1, wc = 0}. It pops
     *     an input beat into {@code buf[ws][wc]} whenever one is present and {@code wc < SF}; then
     *     {@code wsel = ws, wcnt = wc + (popped ? 1 : 0)}. A full bank that compute has not reached
     *     yet makes it wait. (Moving to the free bank and loading in the same cycle lets a
     *     vector of one beat, SF = 1, stream at one vector per cycle.)</li>
     * <li>the <b>compute</b> process is a pipeline that advances as a whole ({@code adv}) unless its
     *     result waits for room in the output FIFO; where its registers go is the target's
     *     {@link Pipelining}:
     *     <ol>
     *     <li><b>issue</b> (registers {@code rsel}, {@code nf}, {@code sf}): when {@code adv} and the
     *         step's beat is loaded ({@code rsel != wsel || wcnt > sf}; without a buffer: present in
     *         the input FIFO), it reads chunk {@code sf} of the buffer and the weights of row
     *         {@code nf} and steps through {@code nf = 0..NF-1}, in each through {@code sf = 0..SF-1};
     *         after the last step it moves to the other bank ({@code rsel ^= 1});</li>
     *     <li><b>read</b> (register 1, if {@link #readStage()}): the buffer chunk (or the input beat)
     *         and the weights, synchronous reads (block RAM). A unit whose weights are one ROM word
     *         (constants) and which has no buffer has no read register when the target does not
     *         register the unit's ends: it multiplies the input FIFO's head;</li>
     *     <li><b>products</b> (the next register): {@code w[nf*SF+sf][p][s] * x[s]};</li>
     *     <li><b>adder tree</b> (the next {@link #treeStages()} registers, the last at
     *         {@link #pipelineDepth()}): the SIMD products of each PE lane summed, a register after
     *         every {@link Pipelining#levelsPerRegister()} adder levels and, if the target registers
     *         the unit's ends, after the last;</li>
     *     <li><b>accumulate</b>: {@code sum[p] = (first ? bias[o] : acc[p]) + tree[p]} for
     *         {@code o = nf*PE + p}, kept in the accumulators {@code acc}; at the last chunk the
     *         beat is {@code finish(o, sum[p])}, through the {@link #activation()} if one is fused
     *         ({@code activation.op().apply(channel, y)}, its channel pattern stepped once per beat
     *         pushed). If the target registers the unit's ends, the accumulators are the output
     *         register ({@code v_out}), pushed from the next cycle on in a cycle the output FIFO has
     *         room, through the channel's register stage ({@link #outputRegisters()} 1); if not, the
     *         beat is pushed in the cycle its step leaves register {@link #pipelineDepth()}, which
     *         then waits while the output FIFO is full ({@link #outputRegisters()} 0).</li>
     *     </ol>
     *     Every register carries its step's valid, first, last and nf along. A step issued in cycle
     *     t leaves register {@link #pipelineDepth()} (reaches the accumulators) in cycle
     *     t + {@link #pipelineDepth()}.</li>
     * </ul>
     * Both processes decide on start-of-cycle state. The next vector loads while the current one
     * is computed, so the initiation interval is NF*SF cycles per vector.
     *
     * <p>A convolution runs the same unit once per output pixel on the windows of a
     * {@link SlidingWindow}: {@code vectors} is the number of vectors per inference (1 for a
     * Dense layer), which only scales {@link #cycles()} and {@link #macs()}. In a convolution's
     * polyphase form ({@code pixels} P &gt; 1) a vector is the window of P adjacent output pixels
     * and its outputs are their channels; the zero weights of that form are multiplied too, so
     * {@link #macs()} counts them, as for a grouped conv.
     *
     * <p>Where the weights live is {@code store} ({@link WeightStore}): a ROM in the design, or
     * SPRAM filled through the weight-load port after reset. The read is the same either way: one
     * row of {@link #rowBits()} bits per issued step, registered; SPRAM only changes where the row
     * comes from, so the firing rule and the timing above hold for both (a unit with SPRAM weights
     * always has the read register: the SPRAM's output register is it).
     *
     * <p>The {@link Schedule#STREAMED} schedule has no input buffer ({@link #buffered()} false):
     * steps go {@code sf} outer, {@code nf} inner, so each input beat serves every row group as it
     * arrives and there is an accumulator for every output instead:
     * <ul>
     * <li><b>issue</b> (registers {@code sf}, {@code nf}): when {@code adv} and an input beat is
     *     present, it takes the beat at the FIFO head and weight row {@code sf*NF + nf}; the issue
     *     of {@code nf == NF-1} pops the beat (the read register, if any, holds it);</li>
     * <li>read, products and adder tree as above;</li>
     * <li><b>accumulate</b>: {@code s = (first ? bias[o] : acc[nf][p]) + sum[p]} for {@code o = nf*PE + p};
     *     at the last chunk ({@code sf == SF-1}) {@code s} is the result (through the activation
     *     and the output register or straight into the output FIFO, as above), otherwise it goes
     *     back into {@code acc[nf][p]}.</li>
     * </ul>
     * The NF beats of a vector leave on consecutive cycles after its last input beat; the unit
     * takes NF*SF cycles per vector as the buffered one does. The groups reach the accumulators in
     * turn, so the RTL keeps {@code acc[.][p]} as NF registers that rotate on every step (the head
     * is the arriving group's); with NF = 1 they are the PE lanes' own accumulators, output-stationary,
     * and each input beat is used once: the lowering streams every unit whose PE lanes cover all
     * outputs (NF = 1) on every target, since a buffer would only add its load cycle.
     * {@link #pipelining()} and {@link #activation()} apply to both schedules and both stores.
     *
     * @param weights    ROM, {@code [row][p][s]} flattened in read order, already permuted to stream
     *                   order: row {@code nf*SF + sf} (buffered) or {@code sf*NF + nf} (streamed)
     * @param vectors    input vectors per inference
     * @param store      where the weights are kept
     * @param schedule   buffered (two input banks, {@code nf} outer) or streamed (no buffer, {@code sf} outer)
     * @param pipelining the target's register placement
     * @param activation the elementwise stage fused into the output stage (its lanes are the PE
     *                   lanes, its channel pattern the output beats'), or null; its input and
     *                   output channel ids are this stage's output
     * @param pixels     output pixels per vector: 1, or P for a convolution lowered in its
     *                   polyphase form ({@link Polyphase}: the vector is a window of P-pixel
     *                   super-pixels, the outputs are P adjacent pixels' channels); only reports read it
     */
    record MatVec(String name, String source, int input, int output, QOp.QDense op, int inFeatures, int outFeatures,
                  int simd, int pe, long[] weights, int vectors, WeightStore store, Schedule schedule, Pipelining pipelining,
                  Elementwise activation, int pixels) implements OneToOne {

        /** The order of a matrix-vector unit's steps, and whether it buffers its input vector. */
        public enum Schedule {
            /** Two input banks of SF beats; steps {@code nf} outer, {@code sf} inner; PE accumulators. */
            BUFFERED,
            /** No input buffer; steps {@code sf} outer, {@code nf} inner; an accumulator per output. */
            STREAMED
        }

        /** The schedule the lowering gives a unit of {@code outFeatures} outputs on {@code pe} lanes: streamed when NF = 1. */
        public static Schedule scheduleFor(int outFeatures, int pe) {
            return outFeatures == pe ? Schedule.STREAMED : Schedule.BUFFERED;
        }

        public MatVec {
            weights = weights.clone();
            if (inFeatures % simd != 0 || outFeatures % pe != 0 || weights.length != inFeatures * outFeatures || vectors < 1
                    || pixels < 1 || outFeatures % pixels != 0
                    || activation != null && (activation.elems() != pe || !activation.op().in().equals(op.out()))) {
                throw new IllegalArgumentException(name + ": N=" + inFeatures + " M=" + outFeatures + " SIMD=" + simd + " PE=" + pe
                        + " vectors=" + vectors + (activation == null ? "" : ", activation " + activation.name()));
            }
            java.util.Objects.requireNonNull(store);
            java.util.Objects.requireNonNull(schedule);
            java.util.Objects.requireNonNull(pipelining);
        }

        /** The weight row that step ({@code nf}, {@code sf}) reads. */
        public int row(int nf, int sf) {
            return schedule == Schedule.BUFFERED ? nf * sf() + sf : sf * nf() + nf;
        }

        /** The same stage under {@code to}, its weight rows reordered to the new read order. */
        public MatVec withSchedule(Schedule to) {
            MatVec t = new MatVec(name, source, input, output, op, inFeatures, outFeatures, simd, pe, weights, vectors, store, to,
                    pipelining, activation, pixels);
            int lanes = pe * simd;
            long[] w = new long[weights.length];
            for (int nf = 0; nf < nf(); nf++) {
                for (int sf = 0; sf < sf(); sf++) {
                    System.arraycopy(weights, row(nf, sf) * lanes, w, t.row(nf, sf) * lanes, lanes);
                }
            }
            return new MatVec(name, source, input, output, op, inFeatures, outFeatures, simd, pe, w, vectors, store, to,
                    pipelining, activation, pixels);
        }

        /** Bits of an accumulator for every output (the streamed schedule's; each one bit wider for the rounding constant). */
        public long accumulatorBits() {
            return (long) outFeatures * (op.accBits() + 1);
        }

        /** This unit with {@code a} fused into its output stage ({@link #source()} stays the layer's node: the planner folds it by that name). */
        public MatVec withActivation(Elementwise a) {
            return new MatVec(name, source, input, output, op, inFeatures, outFeatures, simd, pe, weights, vectors,
                    store, schedule, pipelining, a, pixels);
        }

        /** The format of the output beats: the activation's if one is fused. */
        public QFormat outFormat() {
            return activation == null ? op.out() : activation.op().out();
        }

        /**
         * True if the step's operands pass a read register before the products: always with a
         * buffer, a weight ROM of several words or SPRAM weights (synchronous reads), and where the
         * target registers the unit's ends ({@link Pipelining#registeredEnds()}).
         */
        public boolean readStage() {
            return buffered() || sf() * nf() > 1 || store == WeightStore.SPRAM || pipelining.registeredEnds();
        }

        /** The same stage with its weights kept in {@code where}. */
        public MatVec withStore(WeightStore where) {
            return new MatVec(name, source, input, output, op, inFeatures, outFeatures, simd, pe, weights, vectors, where, schedule,
                    pipelining, activation, pixels);
        }

        /** Bits of one weight row, the read of one step: PE x SIMD weights. */
        public int rowBits() {
            return pe * simd * op.weight().bits();
        }

        /** Weight rows, NF x SF. */
        public int rows() {
            return nf() * sf();
        }

        /** Bits of the weights alone (biases excluded). */
        public long weightBits() {
            return (long) weights.length * op.weight().bits();
        }

        /** SPRAM blocks the weights would take: a row across {@code ceil(rowBits / 16)} blocks, rows in banks of 16K. */
        public int spramBlocks() {
            return WeightStore.spramColumns(rowBits()) * WeightStore.spramBanks(rows());
        }

        /**
         * Word {@code column} of weight row {@code row} as the weight-load port carries it: bits
         * {@code [16 column + 15 : 16 column]} of the row with its PE x SIMD weights packed lane 0 in
         * the low bits (as in the ROM's {@code .mem} file), each in two's complement.
         */
        public int loadWord(int row, int column) {
            int wb = op.weight().bits();
            int lanes = pe * simd;
            int word = 0;
            for (int bit = 0; bit < WeightStore.SPRAM_WIDTH; bit++) {
                int k = column * WeightStore.SPRAM_WIDTH + bit;
                if (k < lanes * wb && ((weights[row * lanes + k / wb] >> (k % wb)) & 1) != 0) {
                    word |= 1 << bit;
                }
            }
            return word;
        }

        /** Words of the weight-load stream this stage takes: 0 for a ROM, else one per 16-bit column of every row. */
        public long loadWords() {
            return store == WeightStore.SPRAM ? (long) rows() * WeightStore.spramColumns(rowBits()) : 0;
        }

        public int sf() {
            return inFeatures / simd;
        }

        /**
         * True if the unit keeps its input in a two-bank buffer ({@link Schedule#BUFFERED}); a
         * streamed unit takes each beat from the input FIFO's head.
         */
        public boolean buffered() {
            return schedule == Schedule.BUFFERED;
        }

        /** Adder levels of the tree that sums a step's SIMD products, {@code ceil(log2 SIMD)}. */
        public int treeLevels() {
            return 32 - Integer.numberOfLeadingZeros(simd - 1);
        }

        /**
         * Registers in the adder tree: one after every {@link Pipelining#levelsPerRegister()} levels,
         * and after the last if the target registers the unit's ends (then the accumulate is a
         * level of its own); 0 for SIMD = 1.
         */
        public int treeStages() {
            return pipelining.registers(treeLevels(), pipelining.registeredEnds());
        }

        /** Registers between the issue of a step and the accumulators: the read, the products, the adder tree. */
        @Override
        public int pipelineDepth() {
            return (readStage() ? 1 : 0) + 1 + treeStages();
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
        public int cycles() {
            return Math.multiplyExact(Math.multiplyExact(sf(), nf()), vectors);
        }


        @Override
        public String describeLanes() {
            return "PE " + pe + " x SIMD " + simd + (pixels > 1 ? ", " + pixels + " px" : "");
        }

        @Override
        public long macs() {
            return (long) inFeatures * outFeatures * vectors;
        }

        @Override
        public String kind() {
            return "MatVec";
        }

        @Override
        public int outputRegisters() {
            return pipelining.registeredEnds() ? 1 : 0;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.matVec(this);
        }



        @Override
        public Resources resources() {
            long rom = (long) weights.length * op.weight().bits() + (long) outFeatures * op.accBits();
            Resources a = activation == null ? Resources.NONE : activation.resources();
            // weights come from a ROM (or SPRAM) read, never a constant operand, even when the ROM is one word
            List<Product> products = new java.util.ArrayList<>(List.of(Product.of(pe * simd, op.weight().bits(), op.in().bits())));
            products.addAll(a.products());
            return new Resources(products, rom + a.romBits(), buffered() ? 2L * sf() * simd * op.in().bits() : 0);
        }
    }

    /**
     * An elementwise function applied to every element of each beat, one beat per firing:
     * Relu, Clip, LeakyRelu, a table (Sigmoid, Tanh), a per-channel Affine, or a requantizing
     * Flatten/Reshape. It fires when an input beat is present and the output FIFO has room. A
     * {@link MatVec} can also run one in its output stage ({@link MatVec#activation()}), firing it
     * once per beat it pushes.
     *
     * <p>Most ops are one cycle of logic before the output channel's register. A pipelined op
     * ({@link QOp.QElementwise#pipelined()}: an interpolating table, Clip, Affine) is a pipeline of
     * two free-running registers that never stalls; e.g. an interpolating table reads the value and
     * slope ROMs at one address (block RAM) with the remainder carried along, then registers the sum
     * {@code v 2^s + d r}, whose requantization feeds the FIFO.
     * The result of a beat taken in cycle t is presented in cycle t + 2 ({@link #registersOwnOutput()}),
     * and the channel's two register stages carry only the push, so the FIFO keeps a slot for
     * every beat in flight (as {@link SoftmaxTree}).
     *
     * <p>Per-channel ops need the channel of each element: the stream repeats with a period of
     * {@code channelOf.length} elements (a multiple of {@code elems}), and element {@code k} of
     * the period belongs to channel {@code channelOf[k]}; a beat counter walks the period.
     */
    record Elementwise(String name, String source, int input, int output, int elems, QOp.QElementwise op, int[] channelOf, int beats) implements OneToOne {
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
        public int cycles() {
            return beats;
        }


        @Override
        public String kind() {
            return "Elementwise";
        }

        @Override
        public boolean registersOwnOutput() {
            return op.pipelined();
        }

        @Override
        public int outputRegisters() {
            return op.pipelined() ? 2 : 1;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.elementwise(this);
        }



        @Override
        public Resources resources() {
            return new Resources(laneProducts(), op.tableBits(), 0);
        }

        /**
         * One product per lane, if the op has one: a per-channel constant (Affine's scale, PRelu's
         * slope) is a constant operand in a lane whose channels all have the same value
         * ({@link #laneConstant}, which the emitter reads too).
         */
        private List<Product> laneProducts() {
            int xb = op.in().bits();
            return op.accept(new QOp.ElementwiseVisitor<List<Product>>() {
                @Override
                public List<Product> affine(QOp.QAffine a) {
                    return perLane(xb, a.scale().bits(), c -> a.scale().at(c));
                }

                @Override
                public List<Product> relu(QOp.QRelu r) {
                    return List.of();
                }

                @Override
                public List<Product> leakyRelu(QOp.QLeakyRelu l) {
                    return List.of(Product.byConstant(elems, xb, l.alphaBits(), l.alpha()));
                }

                @Override
                public List<Product> prelu(QOp.QPRelu pr) {
                    return perLane(xb, pr.alphaBits(), pr::alpha);
                }

                @Override
                public List<Product> clip(QOp.QClip c) {
                    return List.of();
                }

                @Override
                public List<Product> lut(QOp.QLut t) {
                    // the interpolation: a slope times the remainder as a signed operand
                    return t.lut().interpolates() ? List.of(Product.of(elems, t.lut().slopeBits(), t.lut().interpBits() + 1)) : List.of();
                }

                @Override
                public List<Product> flatten(QOp.QFlatten f) {
                    return List.of();
                }

                @Override
                public List<Product> reshape(QOp.QReshape r) {
                    return List.of();
                }
            });
        }

        /**
         * The value a per-channel constant ({@code valueOf} a channel's: Affine's scale or shift,
         * PRelu's slope) has in lane {@code lane} if it is the same at every beat of the period, else
         * empty. The emitter wires such a lane's value in place of a selection by the beat's position,
         * and a product by it counts as a product by a constant ({@link #resources()}).
         */
        public java.util.OptionalLong laneConstant(int lane, java.util.function.IntToLongFunction valueOf) {
            long first = valueOf.applyAsLong(channel(0, lane));
            for (int k = 1; k < periodBeats(); k++) {
                if (valueOf.applyAsLong(channel(k, lane)) != first) {
                    return java.util.OptionalLong.empty();
                }
            }
            return java.util.OptionalLong.of(first);
        }

        /** Each lane's product by its channels' constants ({@code valueOf} a channel's), constant where they agree. */
        private List<Product> perLane(int xb, int cb, java.util.function.IntToLongFunction valueOf) {
            List<Product> ps = new java.util.ArrayList<>();
            int varying = 0;
            for (int lane = 0; lane < elems; lane++) {
                java.util.OptionalLong constant = laneConstant(lane, valueOf);
                if (constant.isPresent()) {
                    ps.add(Product.byConstant(1, xb, cb, constant.getAsLong()));
                } else {
                    varying++;
                }
            }
            ps.add(Product.of(varying, xb, cb));
            return ps;
        }
    }

    /**
     * Changes the number of elements per beat, one of the two a multiple of the other.
     * Widening by {@code k}: each firing pops one beat into lane group {@code j} of a holding
     * register; the k-th firing also pushes the assembled beat (so it needs room in the output
     * then). Narrowing by {@code k}: the input beat stays at the FIFO head while firing {@code j}
     * pushes its lane group {@code j}; the k-th firing pops it.
     */
    record WidthConverter(String name, String source, int input, int output, int elemsIn, int elemsOut, QFormat format, int beatsIn) implements OneToOne {
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
        public int cycles() {
            return widening() ? beatsIn : Math.multiplyExact(beatsIn, ratio());
        }

        @Override
        public String kind() {
            return "WidthConverter";
        }

        @Override
        public int outputRegisters() {
            return 0;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.widthConverter(this);
        }




        @Override
        public Resources resources() {
            return Resources.memories(0, widening() ? (long) (ratio() - 1) * elemsIn * format.bits() : 0);
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
                         QOp.QGlobalAvgPool op) implements OneToOne {
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
        public int cycles() {
            return Math.multiplyExact(groups(), pixels);
        }

        @Override
        public String kind() {
            return "GlobalAvgPool";
        }

        /**
         * A group's result is presented two cycles after its push: its finished sums are registered,
         * then scaled by the reciprocal and rounded into a second register (the accumulate and the
         * product a register apart).
         */
        @Override
        public boolean registersOwnOutput() {
            return true;
        }

        @Override
        public int outputRegisters() {
            return 2;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.globalAvgPool(this);
        }




        @Override
        public Resources resources() {
            // one product sum * reciprocal per lane, the reciprocal a constant
            return new Resources(List.of(Product.byConstant(elems, op.sumBits(), op.recipBits(), op.recip())), 0, 0);
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

        @Override
        public String kind() {
            return "Fork";
        }

        @Override
        public int outputRegisters() {
            return 0;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.fork(this);
        }




        @Override
        public Resources resources() {
            return Resources.NONE;
        }
    }

    /**
     * Elementwise sum of two streams in the same order and width (E elements per beat): it fires
     * when both input FIFOs hold a beat and the output FIFO has room, pops both and pushes
     * {@code op.finish(op.sum(a[i], b[i]))} per lane ({@code a} from input 0). One cycle per beat.
     * In the RTL the operands and then their aligned sum pass two free-running registers, the
     * output channel's register stages ({@link #registersOwnOutput()}), so the rounding and
     * saturation are all that sits before the FIFO.
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

        @Override
        public String kind() {
            return "Add";
        }

        @Override
        public boolean registersOwnOutput() {
            return true;
        }

        @Override
        public int outputRegisters() {
            return 2;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.add(this);
        }




        @Override
        public Resources resources() {
            return Resources.NONE;
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
     *     {@code m = max(b == 0 ? lane 0 : m, lanes)}; after beat B-1 go to EXP. (The RTL
     *     updates {@code m} from a register of the beat one cycle later, which nothing can see:
     *     EXP first reads {@code m} in its second cycle.)</li>
     * <li><b>EXP</b>, B + 1 + X cycles, never stalls: a pipeline that reads beat b of {@code x}
     *     (a register), then computes the exponentials in X = {@link #expStages()} registers (the
     *     exp ROM for a plain table, X = 1; the seven stages of a reduced one, {@link ExpTable.Reduced}),
     *     then adds: {@code e[b][i] = op.exp(m, x[b][i])}, {@code S = (b == 0 ? 0 : S) +
     *     sum_i e[b][i]}; when beat B-1 has been added, set {@code R = 2^K >> Q, q = 0} and go to
     *     DIV ({@code K = op.recipShift()}).</li>
     * <li><b>DIV</b>, exactly {@link #divSteps() Q} cycles: a restoring divider computing
     *     {@code q = floor(2^K / S)} one quotient bit per cycle: {@code R2 = 2R + bit(2^K, Q-1-t)},
     *     {@code R2 >= S ? (R = R2 - S, q = 2q + 1) : (R = R2, q = 2q)}. Q is the bit width of
     *     the largest quotient, {@code floor(2^K / Smin)} with {@code Smin = exp(0)} (the maximum
     *     element alone contributes it, so {@code S >= Smin}), which also makes the initial
     *     remainder {@code 2^K >> Q} smaller than S, as restoring division requires. Then OUT.</li>
     * <li><b>OUT</b>, one cycle per output beat, only when the output FIFO has room: push
     *     {@code op.prob(e[b][i], q)}; after beat B-1 go back to LOAD.</li>
     * </ol>
     * So an unstalled vector takes {@code 3B + 1 + X + Q} cycles; the next vector is loaded only after
     * the last output beat (no overlap). A vector that arrives as one beat gets the full-rate
     * {@link SoftmaxTree} instead ({@link LowerToHardware} chooses by the beat width).
     */
    record Softmax(String name, String source, int input, int output, int elems, int n, QOp.QSoftmax op) implements OneToOne {
        public Softmax {
            if (n % elems != 0) {
                throw new IllegalArgumentException(name + ": " + elems + " elements per beat for a vector of " + n);
            }
            if (op.exp().one() < 1 || op.recipShift() >= 62) {
                throw new IllegalArgumentException(name + ": exp(0) = " + op.exp().one() + ", 2^" + op.recipShift());
            }
        }

        public int beats() {
            return n / elems;
        }

        /** Registers of the exponential, from the beat's register to the value added: {@link ExpTable#stages()}. */
        public int expStages() {
            return op.exp().stages();
        }

        /** Divider steps Q: bits of the largest quotient {@code floor(2^K / exp(0))}. */
        public int divSteps() {
            return quotientBits(op);
        }

        /**
         * Bits of the largest reciprocal {@code floor(2^K / exp(0))} (the maximum element alone
         * contributes {@code exp(0)}, so every sum is at least that): the restoring divider's steps.
         */
        public static int quotientBits(QOp.QSoftmax op) {
            return 64 - Long.numberOfLeadingZeros((1L << op.recipShift()) / op.exp().one());
        }

        @Override
        public int cycles() {
            return Math.addExact(Math.multiplyExact(3, beats()), divSteps() + 1 + expStages());
        }

        @Override
        public String kind() {
            return "Softmax";
        }

        @Override
        public int outputRegisters() {
            return 1;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.softmax(this);
        }




        @Override
        public Resources resources() {
            // one product e * r per lane and the exponential's own (a reduced table interpolates);
            // the lanes read one table
            return new Resources(softmaxProducts(op, elems), op.exp().romBits(), 2L * n * op.in().bits());
        }

        /**
         * The products of {@code lanes} softmax lanes: each an exponential times the reciprocal
         * ({@code eBits x (Q+1)}, Q = {@link #quotientBits}, the quotient with a zero sign bit), and
         * the range-reduced exponential's interpolation, a slope times the remainder as a signed operand.
         */
        static List<Product> softmaxProducts(QOp.QSoftmax op, int lanes) {
            List<Product> ps = new java.util.ArrayList<>();
            ps.add(Product.of(lanes, op.exp().out().bits(), quotientBits(op) + 1));
            int[] interp = op.exp().multiplierOperands();
            if (interp.length > 0) {
                ps.add(Product.of(lanes, interp[0], interp[1]));
            }
            return ps;
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
     * A vector that arrives as one beat gets the full-rate {@link ArgmaxTree} instead.
     */
    record Argmax(String name, String source, int input, int output, int elems, QFormat in, int[] index, QFormat out) implements OneToOne {
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
        public int cycles() {
            return beats();
        }

        @Override
        public String kind() {
            return "Argmax";
        }

        @Override
        public int outputRegisters() {
            return 1;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.argmax(this);
        }




        @Override
        public Resources resources() {
            return Resources.NONE;
        }
    }

    /**
     * Full-rate softmax of a vector of N elements that arrives as one beat (N elements per beat),
     * the same arithmetic as {@link Softmax} ({@link QOp.QSoftmax}: bit-identical results), as a
     * pipeline of fixed latency L = {@link #latency()} that takes one vector per cycle and never
     * stalls. It fires when an input beat is present and the output FIFO has room; the FIFO's
     * room counts every vector in flight (the pipeline registers are the channel's L register
     * stages, {@link #outputRegisters()}), so a vector taken always has a slot when it comes out:
     * the flow control is this credit, and {@code out_ready} only gates the decision to take a
     * vector. The result of a vector taken in cycle t is presented in cycle t + L and written
     * into the FIFO at the edge ending that cycle ({@link #registersOwnOutput()}).
     *
     * <p>The pipeline, on free-running registers (no enable): a "level" is one comparator, adder
     * or divider step deep, and a register follows every R-th level of each part, R the target's
     * {@link Pipelining#levelsPerRegister()}.
     * <ol>
     * <li><b>max and index</b>: {@code Lm = ceil(log2 N)} levels of a balanced comparator tree over
     *     the lanes give {@code m = max x}; one more level computes each lane's table address,
     *     {@code exp.address(exp.index(m - x[i]))} of a plain table, or the distance {@code m - x[i]}
     *     a reduced table starts from; {@code floor((Lm + 1) / R)} registers
     *     ({@link #indexStages()}), each carrying the lanes along;</li>
     * <li><b>exponential</b>: {@link #expStages()} registers, {@code e[i] = op.exp(m, x[i])}, one
     *     table per lane: a plain table's ROM (one register, a registered read: block RAM), or
     *     the seven stages of a reduced table ({@link ExpTable.Reduced}: distance, reduction ROM,
     *     reduced argument, interpolation ROM, interpolation sum, shift, rounding);</li>
     * <li><b>sum and reciprocal</b>: {@code Ls = ceil(log2 N)} levels of a balanced adder tree give
     *     the exact sum S, then Q = {@link #divSteps()} levels of the restoring divider of
     *     {@link Softmax} give {@code q = floor(2^K / S)} one quotient bit per level;
     *     {@code ceil((Ls + Q) / R)} registers ({@link #divStages()}), with the last level, each
     *     carrying e along;</li>
     * <li><b>product</b>: the output register, {@code e[i] * q} plus the rounding constant of
     *     the requantization; the output is {@code op.prob(e[i], q)} (shift and saturation).</li>
     * </ol>
     */
    record SoftmaxTree(String name, String source, int input, int output, int n, QOp.QSoftmax op, Pipelining pipelining)
            implements OneToOne {
        public SoftmaxTree {
            if (n < 1 || op.exp().one() < 1 || op.recipShift() >= 62 || (1L << op.recipShift()) < op.exp().one()) {
                throw new IllegalArgumentException(name + ": softmax of " + n + ", exp(0) = " + op.exp().one() + ", 2^"
                        + op.recipShift());
            }
        }

        /** Elements per beat: the whole vector. */
        public int elems() {
            return n;
        }

        /** Levels of a balanced binary tree over the N lanes, {@code ceil(log2 N)}. */
        public int treeLevels() {
            return 32 - Integer.numberOfLeadingZeros(n - 1);
        }

        /** Divider steps Q: bits of the largest quotient (as {@link Softmax#divSteps()}). */
        public int divSteps() {
            return Softmax.quotientBits(op);
        }

        /** Registers of the max tree and the address level: {@code floor((Lm + 1) / R)}. */
        public int indexStages() {
            return pipelining.registers(treeLevels() + 1, false);
        }

        /** Registers of the adder tree and the divider: {@code ceil((Ls + Q) / R)}. */
        public int divStages() {
            return pipelining.registers(treeLevels() + divSteps(), true);
        }

        /** Registers of each lane's exponential: {@link ExpTable#stages()}. */
        public int expStages() {
            return op.exp().stages();
        }

        /** Cycles from taking a vector to presenting its probabilities: index, exponential, divider, product. */
        public int latency() {
            return indexStages() + expStages() + divStages() + 1;
        }

        @Override
        public int cycles() {
            return 1;
        }

        @Override
        public String describeLanes() {
            return n + " lanes";
        }

        @Override
        public String kind() {
            return "SoftmaxTree";
        }

        @Override
        public boolean registersOwnOutput() {
            return true;
        }

        @Override
        public int outputRegisters() {
            return latency();
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.softmaxTree(this);
        }

        @Override
        public Resources resources() {
            // one product e * q per lane and the exponential's own; one exp table per lane
            return new Resources(Softmax.softmaxProducts(op, n), (long) n * op.exp().romBits(), 0);
        }
    }

    /**
     * Full-rate argmax head: the N elements of a vector arrive as one beat; out comes the flat
     * index {@code index[k]} of the largest, ties to the lowest flat index, as {@link Argmax}. A
     * balanced comparator tree whose leaves are the lanes in order of their flat index, so that
     * at every node the right operand (the higher indices) wins only if it is strictly greater;
     * {@code ceil(log2 N)} levels, a register after every R-th level ({@link Pipelining#levelsPerRegister()})
     * and after the last, at least one: latency L = {@link #latency()}. Flow control as {@link SoftmaxTree}: it fires
     * when an input beat is present and the output FIFO has room for every vector in flight
     * (its L register stages); the index of a vector taken in cycle t is presented in cycle t + L.
     */
    record ArgmaxTree(String name, String source, int input, int output, QFormat in, int[] index, QFormat out, Pipelining pipelining)
            implements OneToOne {
        public ArgmaxTree {
            index = index.clone();
            if (index.length < 1 || !out.contains(index.length - 1)) {
                throw new IllegalArgumentException(name + ": " + index.length + " elements, index " + out);
            }
        }

        /** Elements per beat: the whole vector. */
        public int elems() {
            return index.length;
        }

        /** Flat index of lane {@code i}. */
        public int index(int i) {
            return index[i];
        }

        @Override
        public int[] index() {
            return index.clone();
        }

        /** Comparator levels, {@code ceil(log2 N)}. */
        public int treeLevels() {
            return 32 - Integer.numberOfLeadingZeros(index.length - 1);
        }

        /** Registers from taking a vector to presenting its index: {@code max(1, ceil(levels / R))}. */
        public int latency() {
            return Math.max(1, pipelining.registers(treeLevels(), true));
        }

        @Override
        public int cycles() {
            return 1;
        }

        @Override
        public String kind() {
            return "ArgmaxTree";
        }

        @Override
        public boolean registersOwnOutput() {
            return true;
        }

        @Override
        public int outputRegisters() {
            return latency();
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.argmaxTree(this);
        }

        @Override
        public Resources resources() {
            return Resources.NONE;
        }
    }

    /**
     * Sliding-window unit (a line buffer of {@code rows} input rows plus the window walk): turns
     * the (C, H, W) stream, {@code E = elems} elements per beat ({@code CB = C/E} beats per pixel),
     * into, for each output position (oy, ox) in row-major order, the {@code KH*KW*C} window
     * elements as {@code KH*KW*CB} beats: in order (ky, kx, cb) — what a {@link MatVec} reads as
     * one vector — or, with {@code channelMajor}, in order (cb, ky, kx), so that a per-channel
     * reduction ({@link PoolReduce}, {@link Depthwise}) sees each channel group's window
     * contiguously. Window element (ky, kx) of (oy, ox) is input pixel
     * {@code (iy, ix) = (oy*SH - PT + ky*DH, ox*SW - PL + kx*DW)} (DH, DW: the dilations; a window
     * spans {@code KHd = DH*(KH-1) + 1} rows); outside the image the beat is all
     * {@code padValue}. A 1D (C, L) tensor is lowered as (C, L, 1): a column, so the buffer holds
     * {@code rows} pixels, not whole sequences.
     *
     * <p>The buffer is {@code rows} row slots of W*CB beats, used circularly. Two processes share
     * it; both decide on start-of-cycle state and their updates apply together at the edge:
     * <ul>
     * <li>the <b>writer</b> (registers {@code wx}, {@code wcb}: position in the row being written;
     *     {@code wslot}: its slot; {@code wrows}: rows written completely and not yet released,
     *     0..rows) pops an input beat into {@code buf[wslot][wx][wcb]} when one is present and
     *     either it is inside a row ({@code (wx, wcb) != (0, 0)}) or a slot is free
     *     ({@code wrows < rows}; a slot the reader releases in a cycle is free from the next). After the last beat of a row, {@code wslot} moves to the next
     *     slot (mod rows) and {@code wrows} grows by one.</li>
     * <li>the <b>reader</b> (registers {@code oy, ox} and window counters {@code ky, kx, cb};
     *     {@code ylo = oy*SH - PT}, {@code xlo = ox*SW - PL}; {@code rtop}: slot of input row
     *     {@code ylo} mod rows; {@code rbase}: slot of row 0 of its image) emits the current
     *     window beat when the output FIFO has room and its output row is ready: the
     *     {@link #rowNeed} rows it needs, counted from the oldest held row {@code yoff = max(0, ylo)}
     *     (rows of this image below {@code yoff} are released), are complete:
     *     {@code rowNeed(oy) <= wrows}; window element (ky, kx) is input pixel
     *     {@code iy = ylo + ky*DH}, {@code ix = xlo + kx*DW}. Waiting for
     *     whole rows costs latency (about one input row per image), not throughput: the writer
     *     fills the next rows while the reader walks the held ones. The last beat of an output row
     *     ({@code ox == OW-1}, last window beat) also releases the rows no later window of the
     *     image reads, {@code release = end - yoff} with
     *     {@code end = (oy == OH-1) ? H : max(0, ylo + SH)}, and needs them all written:
     *     {@code release <= wrows}. Both tests read {@code wrows} as it was at the start of the
     *     <em>previous</em> cycle, less the rows the reader released in that cycle (registers
     *     {@code rowok_q}, {@code relok_q}): the writer only adds rows, so the answer is
     *     conservative, and with the row end a register too the emit decision is one gate of registers. It then subtracts {@code release} from {@code wrows} and moves
     *     {@code ylo += SH}, {@code rtop += SH} (mod rows); after the last output row of an image
     *     {@code rbase += H}, {@code rtop = rbase - PT} (mod rows), {@code ylo = -PT}. A real
     *     beat reads {@code buf[(rtop + ky*DH) mod rows][ix][cb]}.</li>
     * </ul>
     * Never deadlocks when {@code rows >= KHd + SH - 1} (and {@code PT < KHd}): a reader waiting for
     * input needs a row it holds at most KHd rows of; one waiting at a row end needs at most
     * {@code max(SH, KHd + SH - 1 - PB)} rows; both fit. With {@code rows = KHd + SH} the writer
     * fills the next SH rows while the reader walks KHd; with {@link #fullRateRows} the writer
     * also prefetches the next image's first rows, so the reader emits one beat per cycle
     * across images when its input keeps up.
     *
     * <p>In the RTL the reader keeps {@code ix}, the release amount and needs of its row, the
     * padding flags and the counters' last-value flags as registers beside its counters, the
     * writer keeps "inside a row" and "a slot is free", and neither looks at the other's decision
     * of the same cycle. The buffer is read synchronously from a registered address of the
     * emitted position: the beat's data comes {@link #outputRegisters()} cycles after its push
     * ({@link #registersOwnOutput()}).
     */
    record SlidingWindow(String name, String source, int input, int output, QFormat format, int channels, int height, int width,
                         int elems, int kernelH, int kernelW, int strideH, int strideW, int padTop, int padLeft, int outHeight,
                         int outWidth, int rows, long padValue, boolean channelMajor, int dilationH, int dilationW,
                         int readRegisters) implements OneToOne {
        public SlidingWindow {
            if (channels % elems != 0 || kernelH < 1 || kernelW < 1 || strideH < 1 || strideW < 1 || padTop < 0 || padLeft < 0
                    || dilationH < 1 || dilationW < 1 || readRegisters < 1 || readRegisters > 2
                    || padTop >= span(kernelH, dilationH) || padLeft >= span(kernelW, dilationW) || outHeight < 1 || outWidth < 1
                    || (outHeight - 1) * strideH - padTop > height - 1 || (outWidth - 1) * strideW - padLeft > width - 1
                    || rows < minRows(span(kernelH, dilationH), strideH) || !format.contains(padValue)) {
                throw new IllegalArgumentException(name + ": sliding window C=" + channels + " H=" + height + " W=" + width + " E="
                        + elems + " K=" + kernelH + "x" + kernelW + " S=" + strideH + "x" + strideW + " P=" + padTop + "," + padLeft
                        + " D=" + dilationH + "x" + dilationW + " out " + outHeight + "x" + outWidth + " rows " + rows
                        + " read registers " + readRegisters);
            }
        }

        /** A window whose read data comes straight from the block RAM's register. */
        public SlidingWindow(String name, String source, int input, int output, QFormat format, int channels, int height, int width,
                             int elems, int kernelH, int kernelW, int strideH, int strideW, int padTop, int padLeft, int outHeight,
                             int outWidth, int rows, long padValue, boolean channelMajor, int dilationH, int dilationW) {
            this(name, source, input, output, format, channels, height, width, elems, kernelH, kernelW, strideH, strideW, padTop,
                    padLeft, outHeight, outWidth, rows, padValue, channelMajor, dilationH, dilationW, 1);
        }

        /** An undilated window. */
        public SlidingWindow(String name, String source, int input, int output, QFormat format, int channels, int height, int width,
                             int elems, int kernelH, int kernelW, int strideH, int strideW, int padTop, int padLeft, int outHeight,
                             int outWidth, int rows, long padValue, boolean channelMajor) {
            this(name, source, input, output, format, channels, height, width, elems, kernelH, kernelW, strideH, strideW, padTop,
                    padLeft, outHeight, outWidth, rows, padValue, channelMajor, 1, 1);
        }

        /** Rows (or columns) one window covers: {@code dilation*(kernel-1) + 1}. */
        public static int span(int kernel, int dilation) {
            return dilation * (kernel - 1) + 1;
        }

        /** Rows one window covers (KHd). */
        public int spanH() {
            return span(kernelH, dilationH);
        }

        /** Columns one window covers. */
        public int spanW() {
            return span(kernelW, dilationW);
        }

        public boolean dilated() {
            return dilationH != 1 || dilationW != 1;
        }

        /** The fewest row slots that never deadlock, for a window spanning {@code kernelH} rows. */
        public static int minRows(int kernelH, int strideH) {
            return kernelH + strideH - 1;
        }

        /**
         * Row slots for full rate: {@code KH + SH} (the reader walks KH rows while the writer
         * fills the next SH), and at an image boundary room for both the rows the last output row
         * still holds ({@code H - max(0, ylo(OH-1))}) and the rows the first window of the next
         * image reads ({@code min(H, KH - PT)}), so the writer prefetches them while the reader
         * finishes the image. (A channel-major window walks one channel group across a row
         * faster than the writer fills all channels of it, so the last of those rows must be
         * complete too.) For a dilated window {@code kernelH} is the rows it spans. One slot more
         * covers the cycle by which the writer sees a released slot late and the reader sees a
         * completed row late (both decide on registered state).
         */
        public static int fullRateRows(int height, int kernelH, int strideH, int padTop, int outHeight) {
            int held = height - Math.max(0, (outHeight - 1) * strideH - padTop);
            return 1 + Math.max(kernelH + strideH, held + Math.min(height, kernelH - padTop));
        }

        /** Beats per pixel (CB). */
        public int channelBeats() {
            return channels / elems;
        }

        /** Beats per output position. */
        public int windowBeats() {
            return kernelH * kernelW * channelBeats();
        }

        public int inputBeats() {
            return height * width * channelBeats();
        }

        public int outputBeats() {
            return outHeight * outWidth * windowBeats();
        }

        /** Input pixel (iy, ix) lies outside the image: its window beat is padding. */
        public boolean padded(int iy, int ix) {
            return iy < 0 || iy >= height || ix < 0 || ix >= width;
        }

        /**
         * Rows, counted from the oldest row held ({@code yoff = max(0, ylo)}), that must be complete
         * before output row {@code oy} may start: through the last image row its windows read.
         * The reader checks this once per output row, so no per-beat test sits between the output
         * FIFO's room and the emit.
         */
        public int rowNeed(int oy) {
            int ylo = oy * strideH - padTop;
            int last = Math.min(height - 1, ylo + (spanH() - 1));
            return Math.max(0, last - Math.max(0, ylo) + 1);
        }

        /** Rows released by the last beat of output row {@code oy}. */
        public int release(int oy) {
            int ylo = oy * strideH - padTop;
            int end = oy == outHeight - 1 ? height : Math.max(0, ylo + strideH);
            return end - Math.max(0, ylo);
        }

        @Override
        public int cycles() {
            return Math.max(inputBeats(), outputBeats());
        }

        @Override
        public String kind() {
            return "SlidingWindow";
        }

        /**
         * The line buffer is read synchronously at the window position of the push, through
         * address registers: the slot (mod rows) and the column offset in the push cycle, the
         * address (row base + offset) in the next, the block RAM read in the third; a buffer
         * spanning several block RAMs in depth registers the read data once more after their
         * multiplexer, with the padding applied ({@link #readRegisters()} 2,
         * {@link Pipelining#banked}). {@link #addressStages()} + {@link #readRegisters()} registers.
         */
        @Override
        public boolean registersOwnOutput() {
            return true;
        }

        @Override
        public int outputRegisters() {
            return addressStages() + readRegisters;
        }

        /**
         * Register stages of the read address: 2, or 1 when the last beat of an output row can
         * read offset 0 of its row (one channel beat, last window's last column 0), which a writer
         * refilling that released row could overwrite before a read two edges later.
         */
        public int addressStages() {
            int lastCol = (outWidth - 1) * strideW - padLeft + (kernelW - 1) * dilationW;
            return channelBeats() == 1 && lastCol == 0 ? 1 : 2;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.slidingWindow(this);
        }




        @Override
        public Resources resources() {
            return Resources.memories(0, (long) rows * width * channels * format.bits());
        }
    }

    /**
     * Per-channel window reduction of pooling, after a channel-major {@link SlidingWindow}: for
     * each output position and channel group it reads the {@code K = windowSize} window beats
     * ({@code k = 0..K-1}) and emits one beat of {@code elems} results. Registers {@code k},
     * {@code cb} (channel group), {@code pos} (output position, row-major) and one accumulator per
     * lane. It fires when an input beat is present and, if {@code k == K-1}, the output FIFO has
     * room. Each firing computes, per lane, {@code v = (k == 0) ? x : max(acc, x)} (MaxPool) or
     * {@code v = (k == 0 ? 0 : acc) + x} (AvgPool, exact in {@code sumBits}), keeps it in
     * {@code acc}, and at {@code k == K-1} pushes {@code op.finish(v)} (MaxPool) or
     * {@code op.finish(pos, v)} (AvgPool: the reciprocal of this position's element count).
     * Padding enters as the window's pad value: the format's minimum for max (it never wins, as
     * every window holds a real element), 0 for the sum.
     */
    record PoolReduce(String name, String source, int input, int output, int elems, QOp.QPool op, int windowSize, int channelBeats,
                      int positions) implements OneToOne {
        public PoolReduce {
            if (windowSize < 1 || channelBeats < 1 || positions < 1) {
                throw new IllegalArgumentException(name + ": pooling reduce of " + op.kind());
            }
            if (op instanceof QOp.QAvgPool a && a.counts().length != positions) {
                throw new IllegalArgumentException(name + ": " + a.counts().length + " reciprocals for " + positions + " positions");
            }
        }

        public boolean max() {
            return op instanceof QOp.QMaxPool;
        }

        @Override
        public int cycles() {
            return Math.multiplyExact(Math.multiplyExact(positions, channelBeats), windowSize);
        }


        @Override
        public String describeLanes() {
            return elems + " lanes";
        }

        @Override
        public String kind() {
            return "PoolReduce";
        }

        /** The beat completed by the last window beat comes from the accumulators, the cycle after its push. */
        @Override
        public boolean registersOwnOutput() {
            return true;
        }

        @Override
        public int outputRegisters() {
            return 1;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.poolReduce(this);
        }



        @Override
        public Resources resources() {
            if (!(op instanceof QOp.QAvgPool a)) {
                return Resources.memories(op.tableBits(), 0);
            }
            // the window sum times its position's reciprocal: a constant when every position has the same
            long[] r = a.recip();
            boolean uniform = java.util.Arrays.stream(r).distinct().count() == 1;
            Product p = uniform ? Product.byConstant(elems, a.sumBits(), a.recipBits(), r[0]) : Product.of(elems, a.sumBits(), a.recipBits());
            return new Resources(List.of(p), op.tableBits(), 0);
        }
    }

    /**
     * Depthwise convolution (group == C, {@code M = multiplier} outputs per channel), FINN's
     * vector-vector unit, after a channel-major {@link SlidingWindow} of {@code elems} channels
     * per beat: output lane {@code p} ({@code 0..elems*M-1}) of channel group {@code cb} is output
     * channel {@code o = cb*elems*M + p} and reads input lane {@code p / M}. Same control as
     * {@link PoolReduce}: registers {@code k}, {@code cb}, {@code acc[p]}; it fires when an input
     * beat is present and, if {@code k == K-1}, the output FIFO has room; each firing computes
     * {@code sum[p] = (k == 0 ? bias[o] : acc[p]) + w[cb*K + k][p] * x[p / M]}, keeps it, and at
     * {@code k == K-1} pushes one beat of {@code op.finish(o, sum[p])}. One output beat per
     * channel group per position, so the initiation interval is positions * CB * K cycles.
     *
     * @param weights ROM, {@code [cb*K + k][p]} flattened
     */
    record Depthwise(String name, String source, int input, int output, QOp.QConv op, int elems, int multiplier, int windowSize,
                     int channelBeats, int positions, long[] weights) implements OneToOne {
        public Depthwise {
            weights = weights.clone();
            if (weights.length != channelBeats * windowSize * elems * multiplier || multiplier < 1) {
                throw new IllegalArgumentException(name + ": depthwise weights " + weights.length);
            }
        }

        /** Output lanes. */
        public int lanes() {
            return elems * multiplier;
        }

        public long weight(int addr, int p) {
            return weights[addr * lanes() + p];
        }

        @Override
        public long[] weights() {
            return weights.clone();
        }

        @Override
        public int cycles() {
            return Math.multiplyExact(Math.multiplyExact(positions, channelBeats), windowSize);
        }


        @Override
        public String describeLanes() {
            return lanes() + " lanes";
        }

        @Override
        public long macs() {
            return (long) positions * channelBeats * windowSize * lanes();
        }

        @Override
        public String kind() {
            return "Depthwise";
        }

        /** The beat completed by the last tap comes from the accumulators, the cycle after its push. */
        @Override
        public boolean registersOwnOutput() {
            return true;
        }

        @Override
        public int outputRegisters() {
            return 1;
        }

        @Override
        public <R> R accept(Visitor<R> v) {
            return v.depthwise(this);
        }



        @Override
        public Resources resources() {
            long rom = (long) weights.length * op.weight().bits() + (long) channelBeats * lanes() * op.accBits();
            return new Resources(List.of(Product.of(lanes(), op.weight().bits(), op.in().bits())), rom, 0);
        }
    }
}
