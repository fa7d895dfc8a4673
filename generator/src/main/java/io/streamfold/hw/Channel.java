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
 */
public record Channel(int id, String name, int elems, QFormat format, int depth, int beats) {

    public Channel {
        if (elems < 1 || depth < 2 || beats < 1) {
            throw new IllegalArgumentException("channel " + name + ": elems " + elems + ", depth " + depth + ", beats " + beats);
        }
    }

    /** Bits of one beat. */
    public int beatBits() {
        return elems * format.bits();
    }

    public Channel withDepth(int d) {
        return new Channel(id, name, elems, format, d, beats);
    }
}
