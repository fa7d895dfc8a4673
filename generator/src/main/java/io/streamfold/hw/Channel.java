package io.streamfold.hw;

import io.streamfold.quant.QFormat;

/**
 * A FIFO between two stages (or between the top-level port and a stage).
 *
 * @param id     index in {@link HwDesign#channels()}
 * @param name   a readable name, unique in the design (a Verilog identifier)
 * @param elems  elements per beat
 * @param format fixed-point format of each element
 * @param depth  FIFO depth in beats (at least 2, so a producer and a consumer that both fire every
 *               cycle never stall each other)
 * @param beats  beats per inference
 * @param registers register stages between the producer and the FIFO memory: a beat pushed in
 *               cycle t is written at the edge ending cycle t + registers, and the FIFO tells
 *               the producer it has room only while {@code count + registers < depth}, so every beat
 *               in flight has a slot and the producer's output path ends at a register (cuts the
 *               combinational path from one stage's logic into the next stage's)
 * @param lateData the producer registers the data itself (a synchronous memory read, or a pipeline
 *               of fixed latency {@code registers}): it presents the data of a beat pushed in cycle t
 *               in cycle t + registers, and the FIFO's register stages carry only the push
 */
public record Channel(int id, String name, int elems, QFormat format, int depth, int beats, int registers, boolean lateData) {

    public Channel {
        if (elems < 1 || depth < 2 || beats < 1 || registers < 0 || registers > depth - 2 || (lateData && registers < 1)) {
            throw new IllegalArgumentException("channel " + name + ": elems " + elems + ", depth " + depth + ", beats " + beats
                    + ", registers " + registers + (lateData ? " (late data)" : ""));
        }
    }

    /** An unregistered channel: the producer writes the FIFO memory directly. */
    public Channel(int id, String name, int elems, QFormat format, int depth, int beats) {
        this(id, name, elems, format, depth, beats, 0, false);
    }

    /**
     * This channel with {@code r} input registers and its depth grown by as many beats, so a
     * producer and a consumer that both move a beat per cycle still never stall each other.
     */
    public Channel withRegisters(int r, boolean late) {
        return new Channel(id, name, elems, format, depth - registers + r, beats, r, late);
    }

    /** Bits of one beat. */
    public int beatBits() {
        return elems * format.bits();
    }

    public Channel withDepth(int d) {
        return new Channel(id, name, elems, format, d, beats, registers, lateData);
    }
}
