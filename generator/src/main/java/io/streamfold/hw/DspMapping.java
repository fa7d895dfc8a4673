package io.streamfold.hw;

/**
 * How a target's synthesis spends DSP blocks on a design's multipliers ({@link Product}s): the count
 * that {@code --dsp-budget} and a device's DSP blocks cap in the planner ({@link PlanParallelism}), and
 * that reports give as the DSP blocks a design is expected to take.
 */
public enum DspMapping {

    /**
     * Yosys {@code synth_ice40 -dsp} on the iCE40 UltraPlus: SB_MAC16 blocks as {@link #sbMac16}
     * counts them, a product by a constant as {@link #sbMac16ByConstant}.
     */
    SB_MAC16 {
        @Override
        public int blocks(Product p) {
            int each = p.constant() ? sbMac16ByConstant(p.aBits(), p.value()) : sbMac16(p.aBits(), p.bBits(), true);
            return Math.multiplyExact(p.count(), each);
        }
    },

    /**
     * One block per multiplier, whatever its widths: the count for a target without a synthesis
     * flow of its own to mirror ({@code generic}), and for a device without DSP blocks (iCE40 HX),
     * where multipliers are built in logic and a budget caps how many.
     */
    PER_MULTIPLIER {
        @Override
        public int blocks(Product p) {
            return p.count();
        }
    };

    /** Yosys' {@code mul2dsp} slices wider operands into this many bits per DSP ({@code DSP_A/B_MAXWIDTH}). */
    static final int SB_MAC16_WIDTH = 16;

    /** Below this product width Yosys leaves a slice product to logic ({@code DSP_Y_MINWIDTH}). */
    static final int SB_MAC16_MIN_PRODUCT = 11;

    /** An operand slice narrower than this stays in logic ({@code DSP_A/B_MINWIDTH}). */
    static final int SB_MAC16_MIN_OPERAND = 2;

    /** DSP blocks synthesis spends on one product. */
    public abstract int blocks(Product p);

    /** DSP blocks synthesis spends on a stage's products. */
    public int blocks(Stage s) {
        int n = 0;
        for (Product p : s.products()) {
            n = Math.addExact(n, blocks(p));
        }
        return n;
    }

    /** DSP blocks synthesis spends on a design's products. */
    public int blocks(HwDesign d) {
        int n = 0;
        for (Stage s : d.stages()) {
            n = Math.addExact(n, blocks(s));
        }
        return n;
    }

    /**
     * SB_MAC16 blocks Yosys 0.23 {@code synth_ice40 -dsp} spends on an {@code aBits x bBits} product
     * whose result keeps all {@code aBits + bBits} bits (as {@code RtlFixed.mul} writes every product):
     * each operand is cut into 16-bit slices from its low end (the top slice 1..16 bits), and every
     * pair of slices is one SB_MAC16 unless one of the two is a single bit or together they have
     * fewer than 11 bits; those partial products, and a whole product of fewer than 11 bits, stay
     * in LUTs. So 16 x 16 and 17 x 16 take 1 (the 17th bit's partial product is logic), 8 x 2 none,
     * 9 x 2 one, 20 x 19 three, 34 x 34 eight.
     *
     * <p>This is Yosys' {@code mul2dsp} with the iCE40 parameters ({@code DSP_A_MAXWIDTH=16
     * DSP_B_MAXWIDTH=16 DSP_A_MINWIDTH=2 DSP_B_MINWIDTH=2 DSP_Y_MINWIDTH=11}, no
     * {@code DSP_SIGNEDONLY}), and it is what was measured: {@code synth_ice40 -dsp} on one
     * multiplier per module, for every pair of widths in {1..21, 24, 27, 31..34, 40, 48, 49} signed
     * x signed (operands sign-extended into product-wide wires first, as the emitter does),
     * unsigned x unsigned, and signed x unsigned for a of 8, 16, 17, 20, 24 and 32 bits: 1,980
     * modules, every SB_MAC16 count as this rule gives it. Signedness does not change the count
     * (the SB_MAC16 takes either signedness per operand, so Yosys needs no sign headroom); the
     * parameter is there because a DSP that is signed only would.
     */
    public static int sbMac16(int aBits, int bBits, boolean signed) {
        if (aBits < 1 || bBits < 1) {
            throw new IllegalArgumentException(aBits + " x " + bBits);
        }
        int n = 0;
        for (int x : slices(aBits)) {
            for (int y : slices(bBits)) {
                if (x >= SB_MAC16_MIN_OPERAND && y >= SB_MAC16_MIN_OPERAND && x + y >= SB_MAC16_MIN_PRODUCT) {
                    n++;
                }
            }
        }
        return n;
    }

    /**
     * SB_MAC16 blocks of an {@code aBits}-bit operand times the constant {@code c}: none for 0 or
     * plus or minus a power of two (Yosys makes it a shift, and a negation), else {@link #sbMac16}
     * of the signed width of {@code c} without its trailing zero bits (Yosys multiplies by the odd
     * part and shifts). Measured with {@code synth_ice40 -dsp} on 8- and 16-bit operands times 0,
     * +-1, +-3, +-4, 5, 7, +-8, 9, 15, 16, 17, 63, +-64, +-65, 127, 128, 255, 256, 12345, 16384,
     * -16384, 26214 and 40000, and on 4..7-bit operands times 3, 5, 6, 7, 12, 14 and 24, whose
     * counts turn on the trailing zeros (7 bits x 6 is logic, 7 bits x 5 one SB_MAC16).
     */
    public static int sbMac16ByConstant(int aBits, long c) {
        if (c == 0) {
            return 0;
        }
        long odd = c >> Long.numberOfTrailingZeros(c);
        if (odd == 1 || odd == -1) {
            return 0;
        }
        return sbMac16(aBits, 65 - Long.numberOfLeadingZeros(odd < 0 ? ~odd : odd), true);
    }

    /** The widths of the 16-bit slices of a {@code bits}-wide operand, the top one last (1..16 bits). */
    private static int[] slices(int bits) {
        int full = (bits - 1) / SB_MAC16_WIDTH;
        int[] s = new int[full + 1];
        java.util.Arrays.fill(s, SB_MAC16_WIDTH);
        s[full] = bits - full * SB_MAC16_WIDTH;
        return s;
    }
}
