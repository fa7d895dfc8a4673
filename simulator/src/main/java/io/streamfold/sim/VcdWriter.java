package io.streamfold.sim;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes a Value Change Dump (IEEE 1364 VCD, viewable in GTKWave) of signals sampled once per
 * clock cycle: each cycle is 10 time units, the rising edge at the start of it.
 */
public final class VcdWriter {

    private final Writer out;
    private final List<String> ids = new ArrayList<>();
    private final List<Integer> widths = new ArrayList<>();
    private final List<String> last = new ArrayList<>();
    private final java.util.Map<String, StringBuilder> scopes = new java.util.LinkedHashMap<>();
    private boolean headerDone;
    private long time = -1;

    public VcdWriter(Writer out) {
        this.out = out;
    }

    /** Declares a signal (before the first sample); returns its handle. */
    public int declare(String scope, String name, int width) {
        if (headerDone) {
            throw new IllegalStateException("declare before sampling");
        }
        int h = ids.size();
        ids.add(id(h));
        widths.add(width);
        last.add(null);
        scopes.computeIfAbsent(scope, k -> new StringBuilder()).append("$var wire ").append(width).append(' ').append(ids.get(h))
                .append(' ').append(name).append(" $end\n");
        return h;
    }

    /** Records the value of a signal in a cycle (a change is written only if it differs). */
    public void sample(long cycle, int handle, long value) {
        sample(cycle, handle, BigInteger.valueOf(value));
    }

    public void sample(long cycle, int handle, BigInteger value) {
        if (!headerDone) {
            write("$timescale 1ns $end\n");
            scopes.forEach((scope, vars) -> write("$scope module " + scope + " $end\n" + vars + "$upscope $end\n"));
            write("$enddefinitions $end\n");
            headerDone = true;
        }
        int w = widths.get(handle);
        BigInteger masked = value.and(BigInteger.ONE.shiftLeft(w).subtract(BigInteger.ONE));
        String v = w == 1 ? masked.toString() : "b" + masked.toString(2) + " ";
        if (v.equals(last.get(handle))) {
            return;
        }
        last.set(handle, v);
        long t = cycle * 10;
        if (t != time) {
            write("#" + t + "\n");
            time = t;
        }
        write(v + ids.get(handle) + "\n");
    }

    /** Packs lanes of {@code bits} bits, lane 0 in the low bits. */
    public static BigInteger pack(long[] lanes, int bits) {
        BigInteger v = BigInteger.ZERO;
        BigInteger mask = BigInteger.ONE.shiftLeft(bits).subtract(BigInteger.ONE);
        for (int i = lanes.length - 1; i >= 0; i--) {
            v = v.shiftLeft(bits).or(BigInteger.valueOf(lanes[i]).and(mask));
        }
        return v;
    }

    public void finish(long cycle) {
        write("#" + cycle * 10 + "\n");
        try {
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String id(int h) {
        StringBuilder sb = new StringBuilder();
        int n = h;
        do {
            sb.append((char) ('!' + n % 90));
            n /= 90;
        } while (n > 0);
        return sb.toString();
    }

    private void write(String s) {
        try {
            out.write(s);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
