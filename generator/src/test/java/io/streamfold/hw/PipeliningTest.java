package io.streamfold.hw;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Register placement: which memories read through a multiplexer over block RAMs. */
class PipeliningTest {

    @Test
    void iCE40BlocksAreAsDeepAsTheirPortMode() {
        Pipelining p = Pipelining.ICE40;
        // 512x8, 256x16, 1024x4, 2048x2 fill one SB_RAM40_4K
        assertFalse(p.banked(8, 512));
        assertTrue(p.banked(8, 513));
        assertFalse(p.banked(16, 256));
        assertTrue(p.banked(16, 257));
        assertFalse(p.banked(3, 1024));
        assertTrue(p.banked(4, 1025));
        assertFalse(p.banked(1, 2048));
        assertTrue(p.banked(2, 2049));
        // wider words sit side by side in 256-deep blocks
        assertFalse(p.banked(48, 256));
        assertTrue(p.banked(48, 257));
        // the seed network's max-pool line buffer: 5 rows x 26 pixels x 32 channels of 8 bits, 9 blocks deep
        assertTrue(p.banked(8, 5 * 26 * 32));
    }

    @Test
    void genericNeverRegistersAfterBlocks() {
        assertFalse(Pipelining.GENERIC.banked(8, 1 << 20));
        assertEquals(0, new Pipelining(2, true, false).blockRamBits());
    }
}
