package io.streamfold.verilog;

import java.math.BigInteger;

/** Writes ROM contents as {@code $readmemh} text: one word per line, fixed-width hex. */
public final class MemFile {

    private MemFile() {
    }

    /**
     * Packs {@code lanes} signed fields of {@code width} bits per word, lane 0 in the least
     * significant bits, and formats {@code words} words.
     */
    public static String packed(long[] values, int lanes, int width) {
        if (values.length % lanes != 0) {
            throw new IllegalArgumentException(values.length + " values do not fill words of " + lanes + " lanes");
        }
        int words = values.length / lanes;
        int digits = (lanes * width + 3) / 4;
        StringBuilder sb = new StringBuilder(words * (digits + 1));
        BigInteger mask = BigInteger.ONE.shiftLeft(width).subtract(BigInteger.ONE);
        for (int w = 0; w < words; w++) {
            BigInteger word = BigInteger.ZERO;
            for (int l = lanes - 1; l >= 0; l--) {
                word = word.shiftLeft(width).or(BigInteger.valueOf(values[w * lanes + l]).and(mask));
            }
            String hex = word.toString(16);
            sb.append("0".repeat(digits - hex.length())).append(hex).append('\n');
        }
        return sb.toString();
    }
}
