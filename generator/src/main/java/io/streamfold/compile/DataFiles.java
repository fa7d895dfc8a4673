package io.streamfold.compile;

import io.streamfold.data.NdArray;
import io.streamfold.data.Npy;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.IoErrors;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Shape;
import io.streamfold.json.Layout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads sample sets (inputs, calibration data, labels) from {@code .npy} or CSV files.
 *
 * <p>Samples are one per row: an {@code .npy} array of shape (N, ...) or a CSV file with one
 * sample per line (comma, semicolon or whitespace separated; a first line that is not numeric is
 * a header and skipped). They are channels first unless read with another {@link Layout}.
 */
public final class DataFiles {

    private DataFiles() {
    }

    /** Channels-first samples whose size must equal {@code sample.size()}. */
    public static List<double[]> samples(Path file, Shape sample) {
        return samples(file, sample, Layout.CHANNELS_FIRST);
    }

    /**
     * Samples written in {@code layout} (Keras data is (N, H, W, C)), returned in the channels-first
     * order of the graph input {@code sample}. Any array holding whole samples is read row by row;
     * one of full rank, (N, dims...), must have the dims of {@code layout}, so that data in the
     * other order is an error rather than silently transposed.
     */
    public static List<double[]> samples(Path file, Shape sample, Layout layout) {
        NdArray a = read(file);
        int per = sample.size();
        String order = layout.jsonName().replace('_', ' ');
        if (a.data().length == 0 || a.data().length % per != 0 || (a.rank() > 1 && a.rowSize() != per)) {
            throw new ModelException(Diagnostic.SF_BAD_DATA, file.toString(), null,
                    "array of shape " + java.util.Arrays.toString(a.shape()) + " does not hold samples of " + shown(sample, layout),
                    "expected (N, " + per + ") values, " + order);
        }
        if (sample.rank() > 1 && a.rank() == sample.rank() + 1) {
            int[] dims = java.util.Arrays.copyOfRange(a.shape(), 1, a.rank());
            if (!java.util.Arrays.equals(dims, layout.fromChannelsFirst(sample))) {
                Layout other = layout == Layout.CHANNELS_FIRST ? Layout.CHANNELS_LAST : Layout.CHANNELS_FIRST;
                boolean isOther = java.util.Arrays.equals(dims, other.fromChannelsFirst(sample));
                throw new ModelException(Diagnostic.SF_BAD_DATA, file.toString(), null,
                        "array of shape " + java.util.Arrays.toString(a.shape()) + " does not hold samples of " + shown(sample, layout),
                        isOther ? "it looks " + other.jsonName() + "; give --data-layout " + other.jsonName() + " to read it so"
                                : "expected (N, " + shown(sample, layout) + ")");
            }
        }
        List<double[]> out = new ArrayList<>();
        double[] d = a.data();
        for (int i = 0; i < d.length / per; i++) {
            double[] s = java.util.Arrays.copyOfRange(d, i * per, (i + 1) * per);
            for (double v : s) {
                if (!Double.isFinite(v)) {
                    throw new ModelException(Diagnostic.SF_BAD_DATA, file.toString(), null, "sample " + i + " holds " + v, "data must be finite");
                }
            }
            out.add(layout.toChannelsFirst(s, sample));
        }
        return out;
    }

    /** A sample shape as the data file holds it, e.g. {@code 8, 8, 1 (channels_last)}. */
    private static String shown(Shape sample, Layout layout) {
        String dims = java.util.Arrays.toString(layout.fromChannelsFirst(sample)).replaceAll("[\\[\\]]", "");
        return sample.rank() > 1 ? dims + " (" + layout.jsonName() + ")" : dims;
    }

    /** Integer labels, one per sample. */
    public static int[] labels(Path file) {
        NdArray a = read(file);
        int[] out = new int[a.data().length];
        for (int i = 0; i < out.length; i++) {
            double v = a.data()[i];
            if (v != Math.rint(v) || v < 0 || v > Integer.MAX_VALUE) {
                throw new ModelException(Diagnostic.SF_BAD_DATA, file.toString(), null, "label " + i + " is " + v, "labels are class indices 0, 1, ...");
            }
            out[i] = (int) v;
        }
        return out;
    }

    /** The whole file as an array (CSV: one row per line). */
    public static NdArray read(Path file) {
        String name = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (Files.isDirectory(file)) {
            throw new ModelException(Diagnostic.SF_BAD_DATA, file.toString(), null, "is a folder, not a data file", "give a .npy or .csv file");
        }
        if (!Files.exists(file)) {
            throw new ModelException(Diagnostic.SF_BAD_DATA, file.toString(), null, "no such file", null);
        }
        try {
            if (name.endsWith(".npy")) {
                return Npy.read(file);
            }
            if (name.endsWith(".csv") || name.endsWith(".txt")) {
                return csv(file);
            }
        } catch (IOException e) {
            throw new ModelException(Diagnostic.SF_BAD_DATA, file.toString(), null, IoErrors.reason(e), null);
        }
        throw new ModelException(Diagnostic.SF_BAD_DATA, file.toString(), null, "unknown data format", "use .npy or .csv");
    }

    private static NdArray csv(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file);
        List<double[]> rows = new ArrayList<>();
        int width = -1;
        for (int ln = 0; ln < lines.size(); ln++) {
            String line = lines.get(ln);
            if (ln == 0 && line.startsWith("\uFEFF")) {
                line = line.substring(1); // a UTF-8 byte order mark, as spreadsheet programs write: not a header
            }
            line = line.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] parts = line.split("[,;\\s]+");
            double[] row = new double[parts.length];
            try {
                for (int i = 0; i < parts.length; i++) {
                    row[i] = Double.parseDouble(parts[i]);
                }
            } catch (NumberFormatException e) {
                if (rows.isEmpty() && width < 0) {
                    width = 0; // a header line
                    continue;
                }
                throw new IOException("line " + (ln + 1) + ": not a number: " + e.getMessage());
            }
            if (!rows.isEmpty() && row.length != rows.get(0).length) {
                throw new IOException("line " + (ln + 1) + " has " + row.length + " values, the first row " + rows.get(0).length);
            }
            rows.add(row);
        }
        if (rows.isEmpty()) {
            throw new IOException("no data rows");
        }
        int cols = rows.get(0).length;
        double[] flat = new double[rows.size() * cols];
        for (int i = 0; i < rows.size(); i++) {
            System.arraycopy(rows.get(i), 0, flat, i * cols, cols);
        }
        return new NdArray(new int[] {rows.size(), cols}, flat);
    }
}
