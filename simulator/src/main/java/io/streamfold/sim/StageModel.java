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
        if (s instanceof Stage.MatVec m) {
            return new MatVecModel(m, fifos[m.input()], fifos[m.output()]);
        }
        if (s instanceof Stage.Elementwise e) {
            return new ElementwiseModel(e, fifos[e.input()], fifos[e.output()]);
        }
        if (s instanceof Stage.WidthConverter w) {
            return new WidthConverterModel(w, fifos[w.input()], fifos[w.output()]);
        }
        if (s instanceof Stage.SlidingWindow w) {
            return new SlidingWindowModel(w, fifos[w.input()], fifos[w.output()]);
        }
        if (s instanceof Stage.PoolReduce p) {
            return new PoolReduceModel(p, fifos[p.input()], fifos[p.output()]);
        }
        if (s instanceof Stage.Depthwise d) {
            return new DepthwiseModel(d, fifos[d.input()], fifos[d.output()]);
        }
        throw new IllegalStateException("no model for " + s);
    }

    static final class MatVecModel extends StageModel {
        private final Stage.MatVec s;
        private final Fifo in;
        private final Fifo out;
        private final int sfN;
        private final int nfN;
        private final int simd;
        private final long[] acc;
        private final long[] buf;
        private final long[] beat;
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
            this.acc = new long[s.pe()];
            this.buf = new long[2 * s.inFeatures()];
            this.beat = new long[s.pe()];
        }

        @Override
        void step() {
            // Both processes read start-of-cycle state; their updates are applied together.
            boolean load = !in.empty() && wcnt < sfN;
            boolean needOut = sf == sfN - 1;
            boolean compute = (rsel != wsel || wcnt > sf) && (!needOut || !out.full());
            int nextWsel = wsel;
            int nextWcnt = wcnt;
            if (load) {
                int base = (wsel * sfN + wcnt) * simd;
                for (int i = 0; i < simd; i++) {
                    buf[base + i] = in.head(i);
                }
                in.pop();
                nextWcnt = wcnt + 1;
            }
            boolean leave = compute && needOut && nf == nfN - 1;
            if (nextWcnt == sfN && (rsel == wsel || leave)) {
                nextWsel = wsel ^ 1;
                nextWcnt = 0;
            }
            if (compute) {
                int addr = nf * sfN + sf;
                int base = (rsel * sfN + sf) * simd;
                QOp.QDense op = s.op();
                for (int p = 0; p < s.pe(); p++) {
                    int o = nf * s.pe() + p;
                    long sum = sf == 0 ? op.bias(o) : acc[p];
                    for (int i = 0; i < simd; i++) {
                        sum += s.weight(addr, p, i) * buf[base + i];
                    }
                    acc[p] = sum;
                    if (needOut) {
                        beat[p] = op.finish(o, sum);
                    }
                }
                if (needOut) {
                    out.push(beat);
                }
                if (++sf == sfN) {
                    sf = 0;
                    if (++nf == nfN) {
                        nf = 0;
                        rsel ^= 1;
                    }
                }
                fires++;
            }
            wsel = nextWsel;
            wcnt = nextWcnt;
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
            QOp op = s.op();
            for (int i = 0; i < beat.length; i++) {
                beat[i] = apply(op, s.channel(pos, i), in.head(i));
            }
            in.pop();
            out.push(beat);
            if (++pos == s.periodBeats()) {
                pos = 0;
            }
            fires++;
        }

        static long apply(QOp op, int channel, long x) {
            if (op instanceof QOp.QRelu r) {
                return r.apply(x);
            } else if (op instanceof QOp.QClip c) {
                return c.apply(x);
            } else if (op instanceof QOp.QLeakyRelu l) {
                return l.apply(x);
            } else if (op instanceof QOp.QLut t) {
                return t.apply(x);
            } else if (op instanceof QOp.QAffine a) {
                return a.apply(channel, x);
            } else if (op instanceof QOp.QFlatten f) {
                return f.apply(x);
            } else if (op instanceof QOp.QReshape r) {
                return r.apply(x);
            }
            throw new IllegalStateException("not elementwise: " + op.kind());
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
        }

        @Override
        void step() {
            int w = s.width();
            // reader decision
            int iy = ylo + ky;
            int ix = xlo + kx;
            boolean padded = iy < 0 || iy >= s.height() || ix < 0 || ix >= w;
            int yoff = Math.max(0, ylo);
            int rel = iy - yoff;
            boolean written = rel < wrows || (rel == wrows && (ix < wx || (ix == wx && cb < wcb)));
            boolean lastOfWindow = ky == s.kernelH() - 1 && kx == s.kernelW() - 1 && cb == cbN - 1;
            boolean rowEnd = lastOfWindow && ox == s.outWidth() - 1;
            int release = rowEnd ? s.release(oy) : 0;
            boolean emit = !out.full() && (padded || written) && release <= wrows;
            // writer decision: may take a slot the reader releases in this cycle
            boolean inRow = wx != 0 || wcb != 0;
            int nextWrows = wrows - (emit ? release : 0);
            boolean write = !in.empty() && (inRow || nextWrows < rows);
            if (emit) {
                if (padded) {
                    out.push(pad);
                } else {
                    int slot = rtop + ky >= rows ? rtop + ky - rows : rtop + ky;
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

    static final class PoolReduceModel extends StageModel {
        private final Stage.PoolReduce s;
        private final Fifo in;
        private final Fifo out;
        private final long[] acc;
        private final long[] beat;
        private int k;
        private int cb;
        private int pos;

        PoolReduceModel(Stage.PoolReduce s, Fifo in, Fifo out) {
            this.s = s;
            this.in = in;
            this.out = out;
            this.acc = new long[s.elems()];
            this.beat = new long[s.elems()];
        }

        @Override
        void step() {
            boolean last = k == s.windowSize() - 1;
            if (in.empty() || (last && out.full())) {
                return;
            }
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
            in.pop();
            if (last) {
                out.push(beat);
                k = 0;
                if (++cb == s.channelBeats()) {
                    cb = 0;
                    pos = pos + 1 == s.positions() ? 0 : pos + 1;
                }
            } else {
                k++;
            }
            fires++;
        }
    }

    static final class DepthwiseModel extends StageModel {
        private final Stage.Depthwise s;
        private final Fifo in;
        private final Fifo out;
        private final long[] acc;
        private final long[] beat;
        private int k;
        private int cb;

        DepthwiseModel(Stage.Depthwise s, Fifo in, Fifo out) {
            this.s = s;
            this.in = in;
            this.out = out;
            this.acc = new long[s.lanes()];
            this.beat = new long[s.lanes()];
        }

        @Override
        void step() {
            boolean last = k == s.windowSize() - 1;
            if (in.empty() || (last && out.full())) {
                return;
            }
            int addr = cb * s.windowSize() + k;
            for (int p = 0; p < acc.length; p++) {
                int o = cb * acc.length + p;
                long sum = (k == 0 ? s.op().bias(o) : acc[p]) + s.weight(addr, p) * in.head(p / s.multiplier());
                acc[p] = sum;
                if (last) {
                    beat[p] = s.op().finish(o, sum);
                }
            }
            in.pop();
            if (last) {
                out.push(beat);
                k = 0;
                cb = cb + 1 == s.channelBeats() ? 0 : cb + 1;
            } else {
                k++;
            }
            fires++;
        }
    }
}
