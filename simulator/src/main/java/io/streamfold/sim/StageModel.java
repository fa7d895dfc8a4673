package io.streamfold.sim;

import io.streamfold.hw.Stage;
import io.streamfold.quant.QOp;

/** The cycle behaviour of one stage kind, as documented on its {@link Stage} record. */
abstract class StageModel {

    /** Cycles in which the stage fired. */
    long fires;

    /** One cycle: fire if possible, using only start-of-cycle FIFO state. */
    abstract void step();

    static StageModel of(Stage s, Fifo[] fifos) {
        return s.accept(new Stage.Visitor<StageModel>() {
            @Override
            public StageModel matVec(Stage.MatVec m) {
                return new MatVecModel(m, fifos[m.input()], fifos[m.output()]);
            }

            @Override
            public StageModel elementwise(Stage.Elementwise e) {
                return new ElementwiseModel(e, fifos[e.input()], fifos[e.output()]);
            }

            @Override
            public StageModel widthConverter(Stage.WidthConverter w) {
                return new WidthConverterModel(w, fifos[w.input()], fifos[w.output()]);
            }

            @Override
            public StageModel globalAvgPool(Stage.GlobalAvgPool g) {
                return new GlobalAvgPoolModel(g, fifos[g.input()], fifos[g.output()]);
            }

            @Override
            public StageModel fork(Stage.Fork f) {
                Fifo[] outs = new Fifo[f.outputs().size()];
                for (int i = 0; i < outs.length; i++) {
                    outs[i] = fifos[f.outputs().get(i)];
                }
                return new ForkModel(fifos[f.input()], outs);
            }

            @Override
            public StageModel add(Stage.Add a) {
                return new AddModel(a, fifos[a.inputA()], fifos[a.inputB()], fifos[a.output()]);
            }

            @Override
            public StageModel softmax(Stage.Softmax m) {
                return new SoftmaxModel(m, fifos[m.input()], fifos[m.output()]);
            }

            @Override
            public StageModel argmax(Stage.Argmax m) {
                return new ArgmaxModel(m, fifos[m.input()], fifos[m.output()]);
            }

            @Override
            public StageModel softmaxTree(Stage.SoftmaxTree m) {
                return new SoftmaxTreeModel(m, fifos[m.input()], fifos[m.output()]);
            }

            @Override
            public StageModel argmaxTree(Stage.ArgmaxTree m) {
                return new ArgmaxTreeModel(m, fifos[m.input()], fifos[m.output()]);
            }

            @Override
            public StageModel slidingWindow(Stage.SlidingWindow w) {
                return new SlidingWindowModel(w, fifos[w.input()], fifos[w.output()]);
            }

            @Override
            public StageModel poolReduce(Stage.PoolReduce p) {
                return new PoolReduceModel(p, fifos[p.input()], fifos[p.output()]);
            }

            @Override
            public StageModel depthwise(Stage.Depthwise d) {
                return new DepthwiseModel(d, fifos[d.input()], fifos[d.output()]);
            }
        });
    }

    static final class MatVecModel extends StageModel {
        private final Stage.MatVec s;
        private final Fifo in;
        private final Fifo out;
        private final int sfN;
        private final int nfN;
        private final int simd;
        private final int pe;
        // acc[nf * pe + p]: the running sum of every output (buffered: the PE lanes' accumulators
        // hold one group's at a time; streamed: all groups run at once)
        private final long[] acc;
        private final long[] buf;
        private final boolean buffered;
        // pipeline registers 1..depth after issue (read, products, adder tree): each holds its step's
        // lane sums (the values the tree will produce), valid, first, last and nf
        private final int depth;
        private final long[][] sums;
        private final boolean[] v;
        private final boolean[] first;
        private final boolean[] last;
        private final int[] nfk;
        // output register (if the target registers the unit's ends)
        private final long[] y;
        private boolean vOut;
        private final boolean regEnds;
        // the fused activation's position in its channel pattern, stepped per beat pushed
        private int actPos;
        private int wsel;
        private int wcnt;
        private int rsel;
        private int sf;
        private int nf;

        MatVecModel(Stage.MatVec s, Fifo in, Fifo out) {
            this.s = s;
            this.in = in;
            this.out = out;
            this.sfN = s.sf();
            this.nfN = s.nf();
            this.simd = s.simd();
            this.pe = s.pe();
            this.acc = new long[s.outFeatures()];
            this.buffered = s.buffered();
            this.buf = buffered ? new long[2 * s.inFeatures()] : new long[0];
            this.depth = s.pipelineDepth();
            this.sums = new long[depth + 1][pe];
            this.v = new boolean[depth + 1];
            this.first = new boolean[depth + 1];
            this.last = new boolean[depth + 1];
            this.nfk = new int[depth + 1];
            this.y = new long[pe];
            this.regEnds = s.pipelining().registeredEnds();
        }

        /** The output value of lane {@code p} for output {@code o} from its exact sum: requantized, then the fused activation. */
        private long result(int o, int p, long sum) {
            long r = s.op().finish(o, sum);
            Stage.Elementwise a = s.activation();
            return a == null ? r : a.op().apply(a.channel(actPos, p), r);
        }

        private void pushed() {
            if (s.activation() != null && ++actPos == s.activation().periodBeats()) {
                actPos = 0;
            }
        }

        @Override
        void step() {
            // Every decision reads start-of-cycle state; all updates apply together at the edge.
            // The pipeline (read, products, then accumulate and requantize) advances as a whole unless its
            // result (the output register, or the last pipeline register's last step) waits for room.
            boolean ready = regEnds ? vOut : v[depth] && last[depth];
            boolean push = ready && !out.full();
            boolean adv = !ready || push;
            boolean reuse = wcnt == sfN && rsel == wsel;
            int ws = reuse ? wsel ^ 1 : wsel;
            int wc = reuse ? 0 : wcnt;
            boolean load = buffered && !in.empty() && wc < sfN;
            // without a buffer a step takes the input FIFO's head (popped with its last row group)
            boolean compute = (buffered ? rsel != wsel || wcnt > sf : !in.empty()) && adv;
            if (push && regEnds) {
                out.push(y);
                pushed();
            }
            if (adv) {
                // accumulate the step in the last pipeline register; at its last chunk, the output
                // register, or straight into the output FIFO
                vOut = regEnds && v[depth] && last[depth];
                if (v[depth]) {
                    QOp.QDense op = s.op();
                    for (int p = 0; p < pe; p++) {
                        int o = nfk[depth] * pe + p;
                        long sum = (first[depth] ? op.bias(o) : acc[o]) + sums[depth][p];
                        acc[o] = sum;
                        if (last[depth]) {
                            y[p] = result(o, p, sum);
                        }
                    }
                    if (push && !regEnds) {
                        out.push(y);
                        pushed();
                    }
                }
                // every register moves on to the next
                long[] t = sums[depth];
                for (int k = depth; k > 1; k--) {
                    v[k] = v[k - 1];
                    first[k] = first[k - 1];
                    last[k] = last[k - 1];
                    nfk[k] = nfk[k - 1];
                    sums[k] = sums[k - 1];
                }
                sums[1] = t;
                v[1] = compute;
                if (compute) {
                    int addr = s.row(nf, sf);
                    int base = (rsel * sfN + sf) * simd;
                    for (int p = 0; p < pe; p++) {
                        long sum = 0;
                        for (int i = 0; i < simd; i++) {
                            sum += s.weight(addr, p, i) * (buffered ? buf[base + i] : in.head(i));
                        }
                        sums[1][p] = sum;
                    }
                    first[1] = sf == 0;
                    last[1] = sf == sfN - 1;
                    nfk[1] = nf;
                    if (buffered) {
                        if (++sf == sfN) {
                            sf = 0;
                            if (++nf == nfN) {
                                nf = 0;
                                rsel ^= 1;
                            }
                        }
                    } else if (++nf == nfN) {
                        // streamed: nf inner, the beat popped with its last row group
                        nf = 0;
                        in.pop();
                        if (++sf == sfN) {
                            sf = 0;
                        }
                    }
                    fires++;
                }
            }
            if (load) {
                int base = (ws * sfN + wc) * simd;
                for (int i = 0; i < simd; i++) {
                    buf[base + i] = in.head(i);
                }
                in.pop();
            }
            wsel = ws;
            wcnt = load ? wc + 1 : wc;
        }
    }

    static final class ElementwiseModel extends StageModel {
        private final Stage.Elementwise s;
        private final Fifo in;
        private final Fifo out;
        private final long[] beat;
        private int pos;

        ElementwiseModel(Stage.Elementwise s, Fifo in, Fifo out) {
            this.s = s;
            this.in = in;
            this.out = out;
            this.beat = new long[s.elems()];
        }

        @Override
        void step() {
            if (in.empty() || out.full()) {
                return;
            }
            QOp.QElementwise op = s.op();
            for (int i = 0; i < beat.length; i++) {
                beat[i] = op.apply(s.channel(pos, i), in.head(i));
            }
            in.pop();
            out.push(beat);
            if (++pos == s.periodBeats()) {
                pos = 0;
            }
            fires++;
        }
    }

    static final class WidthConverterModel extends StageModel {
        private final Stage.WidthConverter s;
        private final Fifo in;
        private final Fifo out;
        private final long[] beat;
        private int j;

        WidthConverterModel(Stage.WidthConverter s, Fifo in, Fifo out) {
            this.s = s;
            this.in = in;
            this.out = out;
            this.beat = new long[s.elemsOut()];
        }

        @Override
        void step() {
            int k = s.ratio();
            if (in.empty()) {
                return;
            }
            if (s.widening()) {
                boolean last = j == k - 1;
                if (last && out.full()) {
                    return;
                }
                for (int i = 0; i < s.elemsIn(); i++) {
                    beat[j * s.elemsIn() + i] = in.head(i);
                }
                in.pop();
                if (last) {
                    out.push(beat);
                }
            } else {
                if (out.full()) {
                    return;
                }
                for (int i = 0; i < s.elemsOut(); i++) {
                    beat[i] = in.head(j * s.elemsOut() + i);
                }
                out.push(beat);
                if (j == k - 1) {
                    in.pop();
                }
            }
            j = j == k - 1 ? 0 : j + 1;
            fires++;
        }
    }

    static final class GlobalAvgPoolModel extends StageModel {
        private final Stage.GlobalAvgPool s;
        private final Fifo in;
        private final Fifo out;
        private final long[] acc;
        private final long[] beat;
        private int g;
        private int p;

        GlobalAvgPoolModel(Stage.GlobalAvgPool s, Fifo in, Fifo out) {
            this.s = s;
            this.in = in;
            this.out = out;
            this.acc = new long[s.channels()];
            this.beat = new long[s.elems()];
        }

        @Override
        void step() {
            boolean last = p == s.pixels() - 1;
            if (in.empty() || last && out.full()) {
                return;
            }
            int e = s.elems();
            for (int i = 0; i < e; i++) {
                int c = g * e + i;
                long sum = (p == 0 ? 0 : acc[c]) + in.head(i);
                acc[c] = sum;
                beat[i] = last ? s.op().finish(sum) : 0;
            }
            in.pop();
            if (last) {
                out.push(beat);
            }
            if (++g == s.groups()) {
                g = 0;
                p = last ? 0 : p + 1;
            }
            fires++;
        }
    }

    static final class ForkModel extends StageModel {
        private final Fifo in;
        private final Fifo[] outs;
        private final long[] beat;

        ForkModel(Fifo in, Fifo[] outs) {
            this.in = in;
            this.outs = outs;
            this.beat = new long[in.elems];
        }

        @Override
        void step() {
            if (in.empty()) {
                return;
            }
            for (Fifo o : outs) {
                if (o.full()) {
                    return;
                }
            }
            for (int i = 0; i < beat.length; i++) {
                beat[i] = in.head(i);
            }
            in.pop();
            for (Fifo o : outs) {
                o.push(beat);
            }
            fires++;
        }
    }

    static final class AddModel extends StageModel {
        private final QOp.QAdd op;
        private final Fifo a;
        private final Fifo b;
        private final Fifo out;
        private final long[] beat;

        AddModel(Stage.Add s, Fifo a, Fifo b, Fifo out) {
            this.op = s.op();
            this.a = a;
            this.b = b;
            this.out = out;
            this.beat = new long[s.elems()];
        }

        @Override
        void step() {
            if (a.empty() || b.empty() || out.full()) {
                return;
            }
            for (int i = 0; i < beat.length; i++) {
                beat[i] = op.finish(op.sum(a.head(i), b.head(i)));
            }
            a.pop();
            b.pop();
            out.push(beat);
            fires++;
        }
    }

    static final class SoftmaxModel extends StageModel {
        private static final int LOAD = 0;
        private static final int EXP = 1;
        private static final int DIV = 2;
        private static final int OUT = 3;
        private final Stage.Softmax s;
        private final QOp.QSoftmax op;
        private final Fifo in;
        private final Fifo out;
        private final long[] x;
        private final long[] e;
        private final long[] beat;
        private int phase;
        private int b;
        private int t;
        private long max;
        private long sum;
        private long recip;

        SoftmaxModel(Stage.Softmax s, Fifo in, Fifo out) {
            this.s = s;
            this.op = s.op();
            this.in = in;
            this.out = out;
            this.x = new long[s.n()];
            this.e = new long[s.n()];
            this.beat = new long[s.elems()];
        }

        @Override
        void step() {
            int n = s.elems();
            int last = s.beats() - 1;
            switch (phase) {
                case LOAD -> {
                    if (in.empty()) {
                        return;
                    }
                    for (int i = 0; i < n; i++) {
                        long v = in.head(i);
                        x[b * n + i] = v;
                        max = b == 0 && i == 0 ? v : Math.max(max, v);
                    }
                    in.pop();
                    phase = b == last ? EXP : LOAD;
                    b = b == last ? 0 : b + 1;
                }
                case EXP -> {
                    // B + 1 + X cycles: the RTL's read register and the X registers of the exponential delay the last sum
                    int end = last + 1 + s.expStages();
                    if (b <= last) {
                        long s0 = b == 0 ? 0 : sum;
                        for (int i = 0; i < n; i++) {
                            e[b * n + i] = op.exp(max, x[b * n + i]);
                            s0 += e[b * n + i];
                        }
                        sum = s0;
                    }
                    phase = b == end ? DIV : EXP;
                    b = b == end ? 0 : b + 1;
                    t = 0;
                }
                case DIV -> {
                    // The restoring divider's value after its Q steps is exactly floor(2^K / S).
                    if (++t == s.divSteps()) {
                        recip = op.reciprocal(sum);
                        phase = OUT;
                    }
                }
                default -> {
                    if (out.full()) {
                        return;
                    }
                    for (int i = 0; i < n; i++) {
                        beat[i] = op.prob(e[b * n + i], recip);
                    }
                    out.push(beat);
                    phase = b == last ? LOAD : OUT;
                    b = b == last ? 0 : b + 1;
                }
            }
            fires++;
        }
    }

    static final class ArgmaxModel extends StageModel {
        private final Stage.Argmax s;
        private final Fifo in;
        private final Fifo out;
        private final long[] beat = new long[1];
        private int b;
        private long best;
        private int bestIdx;

        ArgmaxModel(Stage.Argmax s, Fifo in, Fifo out) {
            this.s = s;
            this.in = in;
            this.out = out;
        }

        @Override
        void step() {
            boolean last = b == s.beats() - 1;
            if (in.empty() || last && out.full()) {
                return;
            }
            for (int i = 0; i < s.elems(); i++) {
                long v = in.head(i);
                int idx = s.index(b, i);
                if (b == 0 && i == 0 || v > best || v == best && idx < bestIdx) {
                    best = v;
                    bestIdx = idx;
                }
            }
            in.pop();
            if (last) {
                beat[0] = bestIdx;
                out.push(beat);
            }
            b = last ? 0 : b + 1;
            fires++;
        }
    }

    /**
     * The full-rate softmax: a vector per firing when an input beat is present and the output has
     * room for every vector in flight; the result, computed at once, lands after the output
     * channel's register stages (the pipeline's latency).
     */
    static final class SoftmaxTreeModel extends StageModel {
        private final QOp.QSoftmax op;
        private final Fifo in;
        private final Fifo out;
        private final long[] e;
        private final long[] beat;

        SoftmaxTreeModel(Stage.SoftmaxTree s, Fifo in, Fifo out) {
            this.op = s.op();
            this.in = in;
            this.out = out;
            this.e = new long[s.n()];
            this.beat = new long[s.n()];
        }

        @Override
        void step() {
            if (in.empty() || out.full()) {
                return;
            }
            long max = in.head(0);
            for (int i = 1; i < e.length; i++) {
                max = Math.max(max, in.head(i));
            }
            long sum = 0;
            for (int i = 0; i < e.length; i++) {
                e[i] = op.exp(max, in.head(i));
                sum += e[i];
            }
            long r = op.reciprocal(sum);
            for (int i = 0; i < e.length; i++) {
                beat[i] = op.prob(e[i], r);
            }
            in.pop();
            out.push(beat);
            fires++;
        }
    }

    /** The full-rate argmax: as {@link SoftmaxTreeModel}, the flat index of the largest lane, ties to the lowest. */
    static final class ArgmaxTreeModel extends StageModel {
        private final Stage.ArgmaxTree s;
        private final Fifo in;
        private final Fifo out;
        private final long[] beat = new long[1];

        ArgmaxTreeModel(Stage.ArgmaxTree s, Fifo in, Fifo out) {
            this.s = s;
            this.in = in;
            this.out = out;
        }

        @Override
        void step() {
            if (in.empty() || out.full()) {
                return;
            }
            int best = 0;
            for (int i = 1; i < s.elems(); i++) {
                long v = in.head(i);
                long b = in.head(best);
                if (v > b || v == b && s.index(i) < s.index(best)) {
                    best = i;
                }
            }
            beat[0] = s.index(best);
            in.pop();
            out.push(beat);
            fires++;
        }
    }

    static final class SlidingWindowModel extends StageModel {
        private final Stage.SlidingWindow s;
        private final Fifo in;
        private final Fifo out;
        private final int e;
        private final int cbN;
        private final int rows;
        private final long[] buf;
        private final long[] beat;
        private final long[] pad;
        // writer
        private int wx;
        private int wcb;
        private int wslot;
        private int wrows;
        // reader
        private int oy;
        private int ox;
        private int ky;
        private int kx;
        private int cb;
        private int ylo;
        private int xlo;
        private int rtop;
        private int rbase;
        // readiness of the current output row and of its release, as of the previous cycle (registers rowok_q, relok_q)
        private boolean rowokQ;
        private boolean relokQ;

        SlidingWindowModel(Stage.SlidingWindow s, Fifo in, Fifo out) {
            this.s = s;
            this.in = in;
            this.out = out;
            this.e = s.elems();
            this.cbN = s.channelBeats();
            this.rows = s.rows();
            this.buf = new long[rows * s.width() * cbN * e];
            this.beat = new long[e];
            this.pad = new long[e];
            java.util.Arrays.fill(pad, s.padValue());
            this.ylo = -s.padTop();
            this.xlo = -s.padLeft();
            this.rtop = Math.floorMod(-s.padTop(), rows);
            this.rowokQ = s.rowNeed(0) <= 0;
            this.relokQ = s.release(0) <= 0;
        }

        @Override
        void step() {
            int w = s.width();
            // reader decision
            int iy = ylo + ky * s.dilationH();
            int ix = xlo + kx * s.dilationW();
            boolean padded = s.padded(iy, ix);
            boolean lastOfWindow = ky == s.kernelH() - 1 && kx == s.kernelW() - 1 && cb == cbN - 1;
            boolean rowEnd = lastOfWindow && ox == s.outWidth() - 1;
            int release = rowEnd ? s.release(oy) : 0;
            // ready: the rows of the current output row complete as of the previous cycle (rowokQ); a row
            // end also needs the rows it releases complete (relokQ)
            boolean emit = !out.full() && rowokQ && (!rowEnd || relokQ);
            // the writer's rows as the readiness register sees them at the edge: start of this cycle, less this cycle's release
            int seenRows = wrows - (emit ? release : 0);
            // writer decision, on start-of-cycle state: a slot the reader releases now is free from the next cycle
            boolean inRow = wx != 0 || wcb != 0;
            int nextWrows = wrows - (emit ? release : 0);
            boolean write = !in.empty() && (inRow || wrows < rows);
            if (emit) {
                if (padded) {
                    out.push(pad);
                } else {
                    int dy = ky * s.dilationH();
                    int slot = rtop + dy >= rows ? rtop + dy - rows : rtop + dy;
                    System.arraycopy(buf, ((slot * w + ix) * cbN + cb) * e, beat, 0, e);
                    out.push(beat);
                }
            }
            if (write) {
                for (int i = 0; i < e; i++) {
                    buf[((wslot * w + wx) * cbN + wcb) * e + i] = in.head(i);
                }
                in.pop();
                if (++wcb == cbN) {
                    wcb = 0;
                    if (++wx == w) {
                        wx = 0;
                        wslot = wslot + 1 == rows ? 0 : wslot + 1;
                        nextWrows++;
                    }
                }
            }
            wrows = nextWrows;
            if (emit) {
                advance();
                fires++;
            }
            // counted from the oldest row held
            rowokQ = s.rowNeed(oy) <= seenRows;
            relokQ = s.release(oy) <= seenRows;
        }

        private void advance() {
            boolean pixelDone;
            if (s.channelMajor()) {
                pixelDone = false;
                if (++kx == s.kernelW()) {
                    kx = 0;
                    if (++ky == s.kernelH()) {
                        ky = 0;
                        if (++cb == cbN) {
                            cb = 0;
                            pixelDone = true;
                        }
                    }
                }
            } else {
                pixelDone = false;
                if (++cb == cbN) {
                    cb = 0;
                    if (++kx == s.kernelW()) {
                        kx = 0;
                        if (++ky == s.kernelH()) {
                            ky = 0;
                            pixelDone = true;
                        }
                    }
                }
            }
            if (!pixelDone) {
                return;
            }
            if (++ox < s.outWidth()) {
                xlo += s.strideW();
                return;
            }
            ox = 0;
            xlo = -s.padLeft();
            if (++oy < s.outHeight()) {
                ylo += s.strideH();
                rtop = (rtop + s.strideH()) % rows;
                return;
            }
            oy = 0;
            ylo = -s.padTop();
            rbase = (rbase + s.height()) % rows;
            rtop = Math.floorMod(rbase - s.padTop(), rows);
        }
    }

    /**
     * The control shared by the per-channel window reductions (PoolReduce, Depthwise): window beat
     * {@code k} of channel group {@code cb} at output position {@code pos}; fires when an input beat
     * is present and, on the last window beat, the output has room.
     */
    abstract static class WindowReduceModel extends StageModel {
        final Fifo in;
        final Fifo out;
        final long[] acc;
        final long[] beat;
        private final int windowSize;
        private final int channelBeats;
        private final int positions;
        int k;
        int cb;
        int pos;

        WindowReduceModel(Fifo in, Fifo out, int lanes, int windowSize, int channelBeats, int positions) {
            this.in = in;
            this.out = out;
            this.acc = new long[lanes];
            this.beat = new long[lanes];
            this.windowSize = windowSize;
            this.channelBeats = channelBeats;
            this.positions = positions;
        }

        /** Updates {@code acc} for the current input beat; on the last window beat also fills {@code beat}. */
        abstract void reduce(boolean last);

        @Override
        final void step() {
            boolean last = k == windowSize - 1;
            if (in.empty() || (last && out.full())) {
                return;
            }
            reduce(last);
            in.pop();
            if (last) {
                out.push(beat);
                k = 0;
                if (++cb == channelBeats) {
                    cb = 0;
                    pos = pos + 1 == positions ? 0 : pos + 1;
                }
            } else {
                k++;
            }
            fires++;
        }
    }

    static final class PoolReduceModel extends WindowReduceModel {
        private final Stage.PoolReduce s;

        PoolReduceModel(Stage.PoolReduce s, Fifo in, Fifo out) {
            super(in, out, s.elems(), s.windowSize(), s.channelBeats(), s.positions());
            this.s = s;
        }

        @Override
        void reduce(boolean last) {
            for (int p = 0; p < acc.length; p++) {
                long x = in.head(p);
                long v;
                if (s.op() instanceof QOp.QMaxPool m) {
                    v = k == 0 ? x : Math.max(acc[p], x);
                    beat[p] = m.finish(v);
                } else {
                    QOp.QAvgPool a = (QOp.QAvgPool) s.op();
                    v = (k == 0 ? 0 : acc[p]) + x;
                    beat[p] = a.finish(pos, v);
                }
                acc[p] = v;
            }
        }
    }

    static final class DepthwiseModel extends WindowReduceModel {
        private final Stage.Depthwise s;

        DepthwiseModel(Stage.Depthwise s, Fifo in, Fifo out) {
            super(in, out, s.lanes(), s.windowSize(), s.channelBeats(), s.positions());
            this.s = s;
        }

        @Override
        void reduce(boolean last) {
            int addr = cb * s.windowSize() + k;
            for (int p = 0; p < acc.length; p++) {
                int o = cb * acc.length + p;
                long sum = (k == 0 ? s.op().bias(o) : acc[p]) + s.weight(addr, p) * in.head(p / s.multiplier());
                acc[p] = sum;
                if (last) {
                    beat[p] = s.op().finish(o, sum);
                }
            }
        }
    }
}
