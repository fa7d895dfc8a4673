package io.streamfold.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads and writes NumPy {@code .npy} files (format versions 1.0 to 3.0): C order, dtypes
 * float16/32/64, int8/16/32/64, uint8/16/32 and bool, either byte order.
 *
 * <p>Errors are {@link IOException}s whose message says what is wrong; callers attach the file.
 */
public final class Npy {

    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([<>|=])([a-z])(\\d+)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    private Npy() {
    }

    public static NdArray read(Path file) throws IOException {
        if (Files.isRegularFile(file) && Files.size(file) > Integer.MAX_VALUE - 64) {
            throw new IOException("file of " + Files.size(file) + " bytes is too large for a .npy array");
        }
        return parse(Files.readAllBytes(file));
    }

    /** Parses the bytes of a {@code .npy} file. */
    public static NdArray parse(byte[] bytes) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 10) {
            throw new IOException("not a .npy file (too short)");
        }
        for (int i = 0; i < MAGIC.length; i++) {
            if (bytes[i] != MAGIC[i]) {
                throw new IOException("not a .npy file (bad magic)");
            }
        }
        int major = bytes[6];
        int headerLen;
        int headerStart;
        if (major == 1) {
            headerLen = Short.toUnsignedInt(buf.getShort(8));
            headerStart = 10;
        } else if (major == 2 || major == 3) {
            if (bytes.length < 12) {
                throw new IOException("truncated .npy header");
            }
            headerLen = buf.getInt(8);
            headerStart = 12;
        } else {
            throw new IOException("unsupported .npy version " + major);
        }
        if (headerLen < 0 || headerStart + headerLen > bytes.length) {
            throw new IOException("truncated .npy header");
        }
        String header = new String(bytes, headerStart, headerLen, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Matcher d = DESCR.matcher(header);
        Matcher f = FORTRAN.matcher(header);
        Matcher s = SHAPE.matcher(header);
        if (!d.find() || !f.find() || !s.find()) {
            throw new IOException("unreadable .npy header: " + header.trim());
        }
        if (f.group(1).equals("True")) {
            throw new IOException("Fortran-order arrays are not supported (save with np.ascontiguousarray)");
        }
        List<Integer> dims = new ArrayList<>();
        for (String part : s.group(1).split(",")) {
            String p = part.trim();
            if (p.isEmpty()) {
                continue;
            }
            // NumPy on Python 2 wrote long dimensions as 2L.
            if (!p.matches("\\d{1,18}L?")) {
                throw new IOException("bad .npy shape (" + s.group(1).trim() + "): dimension '" + p + "' is not a non-negative integer");
            }
            long v = Long.parseLong(p.endsWith("L") ? p.substring(0, p.length() - 1) : p);
            if (v > Integer.MAX_VALUE) {
                throw new IOException("bad .npy shape (" + s.group(1).trim() + "): dimension " + v + " is too large");
            }
            dims.add((int) v);
        }
        int[] shape = dims.stream().mapToInt(Integer::intValue).toArray();
        long count = 1;
        for (int x : shape) {
            count *= x;
            if (count > Integer.MAX_VALUE) {
                throw new IOException("bad .npy shape (" + s.group(1).trim() + "): more than " + Integer.MAX_VALUE + " elements");
            }
        }
        char kind = d.group(2).charAt(0);
        int size = Integer.parseInt(d.group(3));
        ByteOrder order = d.group(1).equals(">") ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
        int dataStart = headerStart + headerLen;
        if (size < 1 || size > 16) {
            throw new IOException("unsupported .npy dtype " + kind + size);
        }
        if (dataStart + count * size > bytes.length) {
            throw new IOException("truncated .npy data: expected " + count * size + " bytes, found " + (bytes.length - dataStart));
        }
        ByteBuffer data = ByteBuffer.wrap(bytes, dataStart, bytes.length - dataStart).slice().order(order);
        double[] out = new double[(int) count];
        for (int i = 0; i < out.length; i++) {
            out[i] = element(data, i * size, kind, size);
        }
        return new NdArray(shape, out);
    }

    private static double element(ByteBuffer b, int at, char kind, int size) throws IOException {
        switch (kind) {
            case 'f':
                if (size == 8) {
                    return b.getDouble(at);
                } else if (size == 4) {
                    return b.getFloat(at);
                } else if (size == 2) {
                    return half(b.getShort(at));
                }
                break;
            case 'i':
                if (size == 8) {
                    return b.getLong(at);
                } else if (size == 4) {
                    return b.getInt(at);
                } else if (size == 2) {
                    return b.getShort(at);
                } else if (size == 1) {
                    return b.get(at);
                }
                break;
            case 'u':
                if (size == 4) {
                    return Integer.toUnsignedLong(b.getInt(at));
                } else if (size == 2) {
                    return Short.toUnsignedInt(b.getShort(at));
                } else if (size == 1) {
                    return Byte.toUnsignedInt(b.get(at));
                }
                break;
            case 'b':
                if (size == 1) {
                    return b.get(at) != 0 ? 1 : 0;
                }
                break;
            default:
                break;
        }
        throw new IOException("unsupported .npy dtype " + kind + size);
    }

    /** IEEE 754 binary16 to double (Java 17 has no Float.float16ToFloat). */
    public static double half(short h) {
        int sign = (h >> 15) & 1;
        int exp = (h >> 10) & 0x1f;
        int mant = h & 0x3ff;
        double v;
        if (exp == 0) {
            v = mant * Math.pow(2, -24);
        } else if (exp == 31) {
            v = mant == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else {
            v = (1 + mant / 1024.0) * Math.pow(2, exp - 15);
        }
        return sign == 1 ? -v : v;
    }

    /** Writes a float64 array as a version 1.0 little-endian {@code .npy} file. */
    public static byte[] toBytes(NdArray a) {
        StringBuilder shape = new StringBuilder("(");
        for (int i = 0; i < a.rank(); i++) {
            shape.append(a.shape()[i]).append(a.rank() == 1 ? "," : (i + 1 < a.rank() ? ", " : ""));
        }
        shape.append(')');
        StringBuilder header = new StringBuilder("{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }");
        int total = MAGIC.length + 4 + header.length() + 1;
        while (total % 64 != 0) {
            header.append(' ');
            total++;
        }
        header.append('\n');
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(MAGIC);
        out.write(1);
        out.write(0);
        int hl = header.length();
        out.write(hl & 0xff);
        out.write(hl >> 8);
        out.writeBytes(header.toString().getBytes(StandardCharsets.ISO_8859_1));
        ByteBuffer body = ByteBuffer.allocate(8 * a.data().length).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : a.data()) {
            body.putDouble(v);
        }
        out.writeBytes(body.array());
        return out.toByteArray();
    }

    public static void write(Path file, NdArray a) throws IOException {
        Files.write(file, toBytes(a));
    }
}
