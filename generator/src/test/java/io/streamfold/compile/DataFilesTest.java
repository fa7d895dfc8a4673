package io.streamfold.compile;

import io.streamfold.data.NdArray;
import io.streamfold.data.Npy;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Data files: sizes, labels and encodings that used to crash or mislead (issue 11, defects 6 and 8). */
class DataFilesTest {

    @TempDir
    Path tmp;

    /** A version 1.0 .npy file of float64 zeros whose header declares {@code shape} (written as given). */
    private Path npy(String shape, int values) throws Exception {
        StringBuilder header = new StringBuilder("{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }");
        while ((10 + header.length() + 1) % 64 != 0) {
            header.append(' ');
        }
        header.append('\n');
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
        out.write(header.length() & 0xff);
        out.write(header.length() >> 8);
        out.write(header.toString().getBytes(StandardCharsets.ISO_8859_1));
        out.write(ByteBuffer.allocate(8 * values).order(ByteOrder.LITTLE_ENDIAN).array());
        Path f = tmp.resolve("data" + Math.abs(shape.hashCode()) + ".npy");
        Files.write(f, out.toByteArray());
        return f;
    }

    private static ModelException bad(Path f) {
        ModelException e = assertThrows(ModelException.class, () -> DataFiles.read(f));
        assertEquals(Diagnostic.SF_BAD_DATA, e.id());
        assertEquals(f.toString(), e.file());
        assertFalse(e.toLine().contains("\n"), e.toLine());
        return e;
    }

    @Test
    void npyShapesBeyond32BitsOrNegativeAreBadData() throws Exception {
        bad(npy("(3000000000,)", 4));
        bad(npy("(-1, 4)", 4));
        bad(npy("(100000, 100000)", 4));
        bad(npy("(2, x)", 4));
    }

    @Test
    void npyLongDimensionsOfPython2AreRead() throws Exception {
        NdArray a = DataFiles.read(npy("(2L, 3L)", 6));
        assertArrayEquals(new int[] {2, 3}, a.shape());
    }

    @Test
    void csvWithAByteOrderMarkKeepsItsFirstRow() throws Exception {
        Path f = tmp.resolve("bom.csv");
        Files.writeString(f, "\uFEFF1,2\n3,4\n", StandardCharsets.UTF_8);
        List<double[]> rows = DataFiles.samples(f, Shape.of(2));
        assertEquals(2, rows.size());
        assertArrayEquals(new double[] {1, 2}, rows.get(0));
    }

    @Test
    void aLabelBeyond32BitsIsAnError() throws Exception {
        Path f = tmp.resolve("labels.npy");
        Npy.write(f, new NdArray(new int[] {3}, new double[] {1, 1e10, 2}));
        ModelException e = assertThrows(ModelException.class, () -> DataFiles.labels(f));
        assertEquals(Diagnostic.SF_BAD_DATA, e.id());
    }

    @Test
    void aMissingFileOrAFolderSaysSo() throws Exception {
        Path missing = tmp.resolve("calib.npy");
        ModelException e = bad(missing);
        // "error: X: X" said nothing: the reason must not be the path again
        assertNotEquals(missing.toString(), e.reason());
        Path folder = Files.createDirectory(tmp.resolve("inputs.npy"));
        ModelException f = bad(folder);
        assertTrue(f.reason().contains("folder"), f.toLine());
    }

    @Test
    void aFolderNamedLikeAModelIsNotMissing() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("x.onnx"));
        ModelException e = assertThrows(ModelException.class, () -> ModelLoader.load(dir));
        assertEquals(Diagnostic.SF_CORRUPT_MODEL, e.id());
        assertTrue(e.reason().contains("folder"), e.toLine());
    }
}
