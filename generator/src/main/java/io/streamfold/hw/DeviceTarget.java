package io.streamfold.hw;

import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;

import java.util.List;
import java.util.Locale;

/**
 * An FPGA the design is meant for: its resources and the clock to aim for. The planner does not
 * spend more DSP blocks than the device has (unless a budget says otherwise), counting them as the
 * device's synthesis spends them ({@link #dspMapping()}: a 20 x 19-bit product takes three iCE40
 * SB_MAC16, a product by a power of two none); lowering puts the largest weight sets into its SPRAM
 * when block RAM cannot hold them ({@link PlaceWeights}) and checks that the constants fit; and
 * {@code streamfold synth} places and routes for it.
 *
 * <p>Logic cells cannot be predicted before synthesis, so only {@code synth} checks them.
 *
 * @param name       the {@code --target} name
 * @param family     nextpnr architecture ({@code ice40}) or empty for the generic target
 * @param nextpnrDevice nextpnr device flag ({@code up5k}, {@code hx8k}) or empty
 * @param pack       the package nextpnr places into
 * @param logicCells logic cells (LUT4 + flip-flop), 0 if unbounded
 * @param dsps       DSP blocks (iCE40 SB_MAC16), -1 if unbounded
 * @param blockRamBits block RAM bits (iCE40 EBR: 4 kbit each), -1 if unbounded
 * @param sprams     single-port 256 kbit RAMs (UP5K SB_SPRAM256KA)
 * @param clockMhz   the clock to aim for
 * @param pipelining where the stages' pipeline registers go on this device's fabric
 * @param dspMapping how its synthesis spends DSP blocks on multipliers: what the planner's budget counts
 */
public record DeviceTarget(String name, String family, String nextpnrDevice, String pack, int logicCells, int dsps, long blockRamBits,
                           int sprams, double clockMhz, Pipelining pipelining, DspMapping dspMapping) {

    /** A device whose DSP blocks are counted one per multiplier. */
    public DeviceTarget(String name, String family, String nextpnrDevice, String pack, int logicCells, int dsps, long blockRamBits,
                        int sprams, double clockMhz, Pipelining pipelining) {
        this(name, family, nextpnrDevice, pack, logicCells, dsps, blockRamBits, sprams, clockMhz, pipelining, DspMapping.PER_MULTIPLIER);
    }

    /** Bits of one iCE40 SPRAM. */
    public static final long SPRAM_BITS = 256 * 1024;

    /** Lattice iCE40 UltraPlus 5K: 5,280 LCs, 8 DSPs, 30 EBR, 4 SPRAM; its own oscillator runs at 48 MHz. */
    public static final DeviceTarget ICE40_UP5K = new DeviceTarget("ice40-up5k", "ice40", "up5k", "sg48", 5280, 8, 30 * 4096L, 4, 48, Pipelining.ICE40,
            DspMapping.SB_MAC16);

    /**
     * Lattice iCE40 HX8K: 7,680 LCs, no DSPs, 32 EBR, no SPRAM. Multipliers are logic here, so a
     * {@code --dsp-budget} counts multipliers.
     */
    public static final DeviceTarget ICE40_HX8K = new DeviceTarget("ice40-hx8k", "ice40", "hx8k", "ct256", 7680, 0, 32 * 4096L, 0, 48, Pipelining.ICE40,
            DspMapping.PER_MULTIPLIER);

    /**
     * No device limits (Xilinx-style synthesis, simulation); pipelined for Xilinx-class fabric. A
     * budget counts multipliers: no one device's DSP packing is assumed.
     */
    public static final DeviceTarget GENERIC = new DeviceTarget("generic", "", "", "", 0, -1, -1, 0, 100, Pipelining.GENERIC,
            DspMapping.PER_MULTIPLIER);

    public static final List<DeviceTarget> ALL = List.of(ICE40_UP5K, ICE40_HX8K, GENERIC);

    /** The target of a {@code --target} name; the error lists the known ones. */
    public static DeviceTarget of(String name) {
        for (DeviceTarget t : ALL) {
            if (t.name.equals(name.toLowerCase(Locale.ROOT))) {
                return t;
            }
        }
        throw new ModelException(Diagnostic.SF_BAD_PLAN, null, "unknown target '" + name + "'",
                "targets: " + String.join(", ", ALL.stream().map(DeviceTarget::name).toList()));
    }

    /**
     * The DSP blocks {@code d} is expected to take on this device: none on a device without them
     * (its multipliers are logic), else as {@link #dspMapping()} counts them.
     */
    public int dspBlocks(HwDesign d) {
        return dsps == 0 ? 0 : dspMapping.blocks(d);
    }

    /** {@link #dspBlocks(HwDesign)} of one stage. */
    public int dspBlocks(Stage s) {
        return dsps == 0 ? 0 : dspMapping.blocks(s);
    }

    /** True for a device nextpnr can place and route. */
    public boolean placeable() {
        return !family.isEmpty();
    }

    /** Block RAM plus SPRAM bits. */
    public long memoryBits() {
        return blockRamBits < 0 ? -1 : blockRamBits + sprams * SPRAM_BITS;
    }

    /**
     * Checks what can be checked before synthesis: the design's DSP blocks ({@link #dspBlocks}) must
     * not exceed the device's (an explicit plan or fold can ask for more than the planner would),
     * the constants left in the design (weights in ROMs, biases, lookup tables) must fit the
     * device's block RAM, and the weight sets placed in SPRAM ({@link PlaceWeights}) its SPRAM
     * blocks. Throws a one-line error saying what does not fit.
     */
    public void checkFits(HwDesign d) {
        int dspNeed = dspBlocks(d);
        if (dsps > 0 && dspNeed > dsps) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_HW, null, String.format(Locale.ROOT,
                    "the design needs %d DSP blocks (%d multipliers), %s has %d", dspNeed, d.multipliers(), name, dsps),
                    "use fewer lanes (--fold, --plan) or a larger device");
        }
        long need = d.blockRomBits();
        int blocks = d.spramBlocks();
        if (blocks > sprams) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_HW, null, String.format(Locale.ROOT,
                    "the weights placed in SPRAM need %d blocks, %s has %d", blocks, name, sprams), "use fewer lanes or a larger device");
        }
        if (blockRamBits >= 0 && need > blockRamBits) {
            throw new ModelException(Diagnostic.SF_UNSUPPORTED_HW, null, String.format(Locale.ROOT,
                    "the weights and tables need %.1f kbit of block RAM%s, %s has %.0f kbit block RAM + %.0f kbit SPRAM", need / 1024.0,
                    blocks == 0 ? "" : String.format(Locale.ROOT, " beside %.1f kbit in %d SPRAM blocks", (d.romBits() - need) / 1024.0, blocks),
                    name, blockRamBits / 1024.0, sprams * SPRAM_BITS / 1024.0), "use fewer weight bits or a larger device");
        }
    }
}
