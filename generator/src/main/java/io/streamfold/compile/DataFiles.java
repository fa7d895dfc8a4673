package io.streamfold.compile;

import io.streamfold.data.NdArray;
import io.streamfold.data.Npy;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Shape;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads sample sets (inputs, calibration data, labels) from {@code .npy} or CSV files.
 *
 * <p>Samples are flat, one per row: an {@code .npy} array of shape (N, ...) or a CSV file with one
 * sample per line, channels first, or in the source model's own input layout for
 * {@link #samples(Path, Graph)} (comma, semicolon or whitespace separated; a first line
 * that is not numeric is a header and skipped).
 */
public final class DataFiles {

    private DataFiles() {
    }

    /**
     * Samples for a graph's input, written in the layout the source model declares for its input
     * ({@link Graph#modelInputDims}; channels first unless the model says otherwise, e.g. an ONNX
     * export whose channels-last input is transposed by its first node), returned channels first.
     */
    public static List<double[]> samples(Path file, Graph g) {
        List<double[]> raw = samples(file, g.inputShape());
        if (g.source().inputOrder() == null) {
            return raw;
        }
        List<double[]> out = new ArrayList<>(raw.size());
        for (double[] s : raw) {
            out.add(g.toGraphInput(s));
        }
        return out;
    }

    /** Samples whose size must equal {@code sample.size()}. */
    public static List<double[]> samples(Path file, Shape sample) {
        NdArray a = read(file);
        int per = sample.size();
        if (a.data().length == 0 || a.data().length % per != 0 || (a.rank() > 1 && a.rowSize() != per)) {
            throw new ModelException(Diagnostic.SF_BAD_DATA, file.toString(), null,
                    "array of shape " + java.util.Arrays.toString(a.shape()) + " does not hold samples of " + sample,
                    "expected (N, " + per + ") values, channels first");
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
            out.add(s);
        }
        return out;
    }

    /** Integer labels, one per sample. */
    public static int[] labels(Path file) {
        NdArray a = read(file);
        int[] out = new int[a.data().length];
        for (int i = 0; i < out.length; i++) {
            double v = a.data()[i];
            if (v != Math.rint(v) || v < 0) {
                throw new ModelException(Diagnostic.SF_BAD_DATA, file.toString(), null, "label " + i + " is " + v, "labels are class indices 0, 1, ...");
            }
            out[i] = (int) v;
        }
        return out;
    }

    /** The whole file as an array (CSV: one row per line). */
    public static NdArray read(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        try {
            if (name.endsWith(".npy")) {
                return Npy.read(file);
            }
            if (name.endsWith(".csv") || name.endsWith(".txt")) {
                return csv(file);
            }
        } catch (IOException e) {
            throw new ModelException(Diagnostic.SF_BAD_DATA, file.toString(), null, e.getMessage(), null);
        }
        throw new ModelException(Diagnostic.SF_BAD_DATA, file.toString(), null, "unknown data format", "use .npy or .csv");
    }

    private static NdArray csv(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file);
        List<double[]> rows = new ArrayList<>();
        int width = -1;
        for (int ln = 0; ln < lines.size(); ln++) {
            String line = lines.get(ln).strip();
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
