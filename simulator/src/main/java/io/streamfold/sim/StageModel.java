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
            if (nextWcnt == sfN && rsel == wsel) {
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
}
