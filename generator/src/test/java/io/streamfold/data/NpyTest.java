package io.streamfold.data;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NpyTest {

    @Test
    void roundTripsFloat64() throws IOException {
        NdArray a = new NdArray(new int[] {2, 3}, new double[] {1, -2.5, 3, 4e-9, 5, Double.MAX_VALUE});
        assertEquals(a, Npy.parse(Npy.toBytes(a)));
        NdArray v = new NdArray(new int[] {4}, new double[] {1, 2, 3, 4});
        assertEquals(v, Npy.parse(Npy.toBytes(v)));
        assertEquals(0, Npy.toBytes(v).length % 16);
    }

    @Test
    void readsTheBundledFloat32AndInt64Files() throws IOException {
        NdArray x = Npy.read(io.streamfold.testutil.Examples.dir("cnn_seed").resolve("inputs.npy"));
        assertArrayEquals(new int[] {300, 1, 8, 8}, x.shape());
        assertTrue(Arrays.stream(x.data()).allMatch(d -> d >= 0 && d <= 1));
        NdArray y = Npy.read(io.streamfold.testutil.Examples.dir("cnn_seed").resolve("labels.npy"));
        assertArrayEquals(new int[] {300}, y.shape());
        assertTrue(Arrays.stream(y.data()).allMatch(d -> d >= 0 && d <= 9 && d == Math.rint(d)));
    }

    @Test
    void rejectsTruncatedAndForeignFiles() throws IOException {
        byte[] ok = Npy.toBytes(new NdArray(new int[] {3}, new double[] {1, 2, 3}));
        assertTrue(assertThrows(IOException.class, () -> Npy.parse(Arrays.copyOf(ok, ok.length - 4))).getMessage().contains("truncated"));
        assertThrows(IOException.class, () -> Npy.parse("not numpy at all".getBytes()));
    }

    @Test
    void halfPrecision() {
        assertEquals(1.0, Npy.half((short) 0x3c00));
        assertEquals(-2.0, Npy.half((short) 0xc000));
        assertEquals(Math.pow(2, -24), Npy.half((short) 0x0001));
    }
}
