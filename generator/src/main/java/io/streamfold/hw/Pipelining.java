package io.streamfold.hw;

/**
 * Where a device target puts the pipeline registers of the computing stages: the one rule the
 * lowering applies to every tree (adder, comparator and divider levels) and to the ends of the
 * matrix-vector unit. {@link DeviceTarget} holds it, {@link LowerToHardware} copies it into the
 * stages that have trees ({@link Stage.MatVec}, {@link Stage.SoftmaxTree}, {@link Stage.ArgmaxTree}),
 * and their depth methods, which the Verilog emitter and the simulator both read, follow from it.
 *
 * @param levelsPerRegister adder, comparator or divider-step levels between two registers of a tree
 *                          (a register after every this many levels)
 * @param registeredEnds    the matrix-vector unit registers both ends: the input beat is taken into
 *                          a read register before it is multiplied, and the result into an output
 *                          register and then its channel's register stage, so neither the input
 *                          FIFO's read nor the output FIFO's write shares a path with arithmetic; if
 *                          false, a unit whose weights are constants (one ROM word) multiplies the
 *                          input FIFO's head directly, and the last levels (the accumulate, the
 *                          requantization, a fused activation) write the output FIFO, whose memory
 *                          is then the output register
 * @param fuseActivations   an elementwise op (Relu, Clip, LeakyRelu, PRelu, Affine, table, requantizing
 *                          Flatten/Reshape) that is the only reader of a matrix-vector unit's output is
 *                          computed in that unit's output stage instead of a stage of its own with its
 *                          own register and FIFO
 * @param blockRamBits      bits of one block RAM if a memory deeper than one block at its width
 *                          registers its read data once more after the multiplexer that picks the
 *                          block ({@link #banked}); 0 if no memory does
 */
public record Pipelining(int levelsPerRegister, boolean registeredEnds, boolean fuseActivations, int blockRamBits) {

    /**
     * iCE40: a register every two levels, both ends of the matrix-vector unit registered, no
     * fusion: its LUT4 fabric and SB_MAC16 at 48 MHz leave no room for longer paths.
     */
    public static final Pipelining ICE40 = new Pipelining(2, true, false, 4096);

    /**
     * Xilinx-class fabric at 200 MHz, as hls4ml targets: carry chains make an adder level cheap, so
     * a register every four levels; multipliers fed from the FIFO and results written into it;
     * activations fused into the matrix-vector unit's output stage.
     */
    public static final Pipelining GENERIC = new Pipelining(4, false, true, 0);

    public Pipelining {
        if (levelsPerRegister < 1 || blockRamBits < 0) {
            throw new IllegalArgumentException("levels per register " + levelsPerRegister + ", block RAM bits " + blockRamBits);
        }
    }

    /** A placement without a register after block multiplexers. */
    public Pipelining(int levelsPerRegister, boolean registeredEnds, boolean fuseActivations) {
        this(levelsPerRegister, registeredEnds, fuseActivations, 0);
    }

    /**
     * True if a memory of {@code entries} words of {@code width} bits spans more than one block RAM
     * in depth, so its read passes a multiplexer over the blocks, and the read data is registered
     * once more after it. A block of {@link #blockRamBits()} bits is as deep as its narrowest port
     * mode that holds the word, at most 16 bits wide (iCE40 SB_RAM40_4K: 2048x2, 1024x4, 512x8,
     * 256x16; wider words take blocks side by side, which needs no multiplexer). On the UP5K a
     * 26x32-channel max-pool line buffer of 9 blocks had its multiplexer, the padding and the
     * FIFO's input in one cycle: the critical path of the seed network.
     */
    public boolean banked(int width, long entries) {
        if (blockRamBits == 0) {
            return false;
        }
        int port = 2;
        while (port < Math.min(width, 16)) {
            port *= 2;
        }
        return entries > blockRamBits / port;
    }

    /**
     * Registers in a tree of {@code levels} levels: one after every {@link #levelsPerRegister()}
     * levels, and {@code andLast} one after the last level if it has none.
     */
    public int registers(int levels, boolean andLast) {
        int r = levels / levelsPerRegister;
        return andLast && levels % levelsPerRegister != 0 ? r + 1 : r;
    }

    /** True if a register follows level {@code level} (1-based) of a tree of {@code levels} levels ({@link #registers}). */
    public boolean registerAfter(int level, int levels, boolean andLast) {
        return level % levelsPerRegister == 0 || andLast && level == levels;
    }
}
