package io.streamfold.hw;

/**
 * Where a {@link Stage.MatVec} keeps its weights. {@link PlaceWeights} chooses; both back ends read
 * the choice and add none of their own.
 */
public enum WeightStore {
    /** A ROM of the design, initialised from a {@code .mem} file: block RAM on an FPGA (or logic when small). */
    ROM,
    /**
     * Single-port SPRAM (the UP5K's {@code SB_SPRAM256KA}, 16K words of 16 bits), which the bitstream
     * cannot initialise: the weights arrive through the top-level weight-load port after reset,
     * a byte per beat, and the inference streams are accepted only once every such stage is full.
     */
    SPRAM;

    /** Words of one SPRAM block. */
    public static final int SPRAM_WORDS = 16384;

    /** Bits of one SPRAM word. */
    public static final int SPRAM_WIDTH = 16;

    /** SPRAM blocks side by side that hold a row of {@code rowBits}. */
    public static int spramColumns(int rowBits) {
        return (rowBits + SPRAM_WIDTH - 1) / SPRAM_WIDTH;
    }

    /** SPRAM banks, one above the other, that hold {@code rows} rows. */
    public static int spramBanks(int rows) {
        return (rows + SPRAM_WORDS - 1) / SPRAM_WORDS;
    }
}
