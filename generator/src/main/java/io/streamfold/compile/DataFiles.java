package io.streamfold.compile;

import io.streamfold.data.NdArray;
import io.streamfold.data.Npy;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.IoErrors;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Shape;
import io.streamfold.ir.SourceModel;
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
 * a header and skipped). A model's data files are written in the layout its source model declares
 * for its input ({@link Graph#source()}: channels last for a Keras model and for an ONNX export
 * whose channels-last input its first node transposes, channels first otherwise), or in the
 * layout {@code --data-layout} names; they are returned in the graph's channels-first order.
 */
public final class DataFiles {

    private DataFiles() {
    }

    /** Samples for a graph's input, written in the source model's own input layout, returned channels first. */
    public static List<double[]> samples(Path file, Graph g) {
        return samples(file, g, null);
    }

    /**
     * Samples for a graph's input written in {@code layout} (null: the source model's own input
     * layout), returned channels first. An explicit layout is relative to the graph's input: only
     * the data file is read so; the model's own layout still decides how ONNX Runtime is fed and
     * how outputs are reported.
     */
    public static List<double[]> samples(Path file, Graph g, Layout layout) {
        Shape in = g.inputShape();
        return layout == null ? samples(file, in, g.modelInputDims(), g.source().inputOrder())
                : samples(file, in, layout.fromChannelsFirst(in), layout.order(in));
    }

    /** Channels-first samples (the graph's own order) whose size must equal {@code sample.size()}. */
    public static List<double[]> samples(Path file, Shape sample) {
        return samples(file, sample, sample.dims(), null);
    }

    /**
     * Samples of the graph input {@code ir} written with the dims {@code dims}, element {@code k}
     * of a written sample being element {@code order[k]} of the graph's (null: the same). Any array
     * holding whole samples is read row by row; one of full rank, (N, dims...), must have these
     * dims, so that data in another order is an error rather than silently transposed.
     */
    private static List<double[]> samples(Path file, Shape ir, int[] dims, int[] order) {
        NdArray a = read(file);
        int per = ir.size();
        if (a.data().length == 0 || a.data().length % per != 0 || (a.rank() > 1 && a.rowSize() != per)) {
            throw new ModelException(Diagnostic.SF_BAD_DATA, file.toString(), null,
                    "array of shape " + java.util.Arrays.toString(a.shape()) + " does not hold samples of " + shown(ir, dims, order),
                    "expected (N, " + per + ") values" + (dims.length > 1 ? ", " + layoutName(ir, dims, order).replace('_', ' ') : ""));
        }
        if (dims.length > 1 && a.rank() == dims.length + 1) {
            int[] got = java.util.Arrays.copyOfRange(a.shape(), 1, a.rank());
            if (!java.util.Arrays.equals(got, dims)) {
                String hint = "expected (N, " + shown(ir, dims, order) + ")";
                for (Layout l : Layout.values()) {
                    if (java.util.Arrays.equals(got, l.fromChannelsFirst(ir))) {
                        hint = "it looks " + l.jsonName() + "; give --data-layout " + l.jsonName() + " to read it so";
                    }
                }
                throw new ModelException(Diagnostic.SF_BAD_DATA, file.toString(), null,
                        "array of shape " + java.util.Arrays.toString(a.shape()) + " does not hold samples of " + shown(ir, dims, order), hint);
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
            out.add(order == null ? s : SourceModel.scatter(s, order));
        }
        return out;
    }

    /** A sample shape as the data file holds it, e.g. {@code 8, 8, 1 (channels_last)}. */
    private static String shown(Shape ir, int[] dims, int[] order) {
        String list = java.util.Arrays.toString(dims).replaceAll("[\\[\\]]", "");
        return dims.length > 1 ? list + " (" + layoutName(ir, dims, order) + ")" : list;
    }

    /** The name of the layout the dims and order write the graph input {@code ir} in. */
    private static String layoutName(Shape ir, int[] dims, int[] order) {
        for (Layout l : Layout.values()) {
            if (java.util.Arrays.equals(dims, l.fromChannelsFirst(ir)) && java.util.Arrays.equals(order, l.order(ir))) {
                return l.jsonName();
            }
        }
        return "the model's layout";
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
