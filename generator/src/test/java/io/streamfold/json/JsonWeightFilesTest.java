package io.streamfold.json;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamfold.data.NdArray;
import io.streamfold.data.Npy;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Op;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** Weights by reference: .npy files, .npz archives (stored and deflated) and the side file. */
class JsonWeightFilesTest {

    @TempDir
    Path dir;

    private static final double[] W = {1, 2, 3, 4, 5, 6};
    private static final double[] B = {0.5, -0.5};

    /** Writes an .npz as numpy does: one {@code <key>.npy} entry per array. */
    static void writeNpz(Path file, Map<String, NdArray> arrays, boolean deflate) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            for (Map.Entry<String, NdArray> e : arrays.entrySet()) {
                byte[] data = Npy.toBytes(e.getValue());
                ZipEntry z = new ZipEntry(e.getKey() + ".npy");
                if (!deflate) {
                    CRC32 crc = new CRC32();
                    crc.update(data);
                    z.setMethod(ZipEntry.STORED);
                    z.setSize(data.length);
                    z.setCompressedSize(data.length);
                    z.setCrc(crc.getValue());
                }
                zip.putNextEntry(z);
                zip.write(data);
                zip.closeEntry();
            }
        }
        Files.write(file, bytes.toByteArray());
    }

    private static String mlp(String weightsField, String fc) {
        return """
                {"format": "streamfold-json", "version": 1, %s
                 "input": {"shape": [3]},
                 "layers": [{"name": "fc", "type": "dense", "units": 2, %s}]}
                """.formatted(weightsField, fc);
    }

    private static void assertDense(Graph g) {
        Op.Dense d = (Op.Dense) g.node("fc").op();
        assertArrayEquals(W, d.weight().data());
        assertArrayEquals(B, d.bias().data());
    }

    @Test
    void npyReferencesResolveAgainstTheJsonFolder() throws IOException {
        Files.createDirectories(dir.resolve("w"));
        Npy.write(dir.resolve("w/fc_w.npy"), new NdArray(new int[] {2, 3}, W));
        Npy.write(dir.resolve("w/fc_b.npy"), new NdArray(new int[] {2}, B));
        Path json = JsonTestModels.write(dir, "m.json", mlp("", "\"weight\": {\"npy\": \"w/fc_w.npy\"}, \"bias\": {\"npy\": \"w/fc_b.npy\"}"));
        assertDense(JsonModelReader.read(json));
    }

    @Test
    void npzReferencesStoredAndDeflated() throws IOException {
        for (boolean deflate : new boolean[] {false, true}) {
            Map<String, NdArray> arrays = new LinkedHashMap<>();
            arrays.put("dense_w", new NdArray(new int[] {2, 3}, W));
            arrays.put("fc/bias", new NdArray(new int[] {2}, B));
            writeNpz(dir.resolve("p.npz"), arrays, deflate);
            // An explicit key, and the default key <layer>/<param>.
            Path json = JsonTestModels.write(dir, "m.json",
                    mlp("", "\"weight\": {\"npz\": \"p.npz\", \"key\": \"dense_w\"}, \"bias\": {\"npz\": \"p.npz\"}"));
            assertDense(JsonModelReader.read(json));
        }
    }

    @Test
    void topLevelWeightsFileSuppliesLayerParamKeys() throws IOException {
        Map<String, NdArray> arrays = new LinkedHashMap<>();
        arrays.put("fc/weight", new NdArray(new int[] {2, 3}, W));
        arrays.put("fc/bias", new NdArray(new int[] {2}, B));
        writeNpz(dir.resolve("model.npz"), arrays, true);
        assertDense(JsonModelReader.read(JsonTestModels.write(dir, "m.json", mlp("\"weights\": \"model.npz\",", "\"comment\": \"all weights in model.npz\""))));

        // An inline parameter takes precedence over the side file.
        Graph g = JsonModelReader.read(JsonTestModels.write(dir, "m2.json", mlp("\"weights\": \"model.npz\",", "\"bias\": [7, 8]")));
        assertArrayEquals(new double[] {7, 8}, ((Op.Dense) g.node("fc").op()).bias().data());
    }

    @Test
    void batchNormStatisticsFromTheSideFileDecideTheNaming() throws IOException {
        Map<String, NdArray> arrays = new LinkedHashMap<>();
        arrays.put("bn/moving_mean", new NdArray(new int[] {2}, new double[] {1, 2}));
        arrays.put("bn/moving_variance", new NdArray(new int[] {2}, new double[] {3, 4}));
        arrays.put("bn/gamma", new NdArray(new int[] {2}, new double[] {5, 6}));
        arrays.put("bn/beta", new NdArray(new int[] {2}, new double[] {7, 8}));
        writeNpz(dir.resolve("model.npz"), arrays, false);
        String json = """
                {"format": "streamfold-json", "version": 1, "weights": "model.npz", "input": {"shape": [2]},
                 "layers": [{"name": "bn", "type": "BatchNormalization"}]}
                """;
        Op.BatchNorm bn = (Op.BatchNorm) JsonModelReader.read(JsonTestModels.write(dir, "m.json", json)).node("bn").op();
        assertEquals(1e-3, bn.eps(), "Keras names from the side file: Keras default epsilon");
        assertArrayEquals(new double[] {3, 4}, bn.var().data());
    }

    @Test
    void missingAndCorruptSideFilesAreBadWeights() throws IOException {
        ModelException e = assertThrows(ModelException.class,
                () -> JsonModelReader.read(JsonTestModels.write(dir, "m.json", mlp("", "\"weight\": {\"npy\": \"nope.npy\"}, \"bias\": [0, 0]"))));
        assertEquals(Diagnostic.SF_BAD_WEIGHTS, e.id());
        assertEquals("fc", e.node());
        assertTrue(e.getMessage().contains("weight: cannot read nope.npy: no such file"), e.getMessage());

        Files.write(dir.resolve("bad.npy"), new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 10, 0, '{'});
        e = assertThrows(ModelException.class,
                () -> JsonModelReader.read(JsonTestModels.write(dir, "m.json", mlp("", "\"weight\": {\"npy\": \"bad.npy\"}, \"bias\": [0, 0]"))));
        assertEquals(Diagnostic.SF_BAD_WEIGHTS, e.id());
        assertTrue(e.getMessage().contains("truncated .npy header"), e.getMessage());

        e = assertThrows(ModelException.class,
                () -> JsonModelReader.read(JsonTestModels.write(dir, "m.json", mlp("\"weights\": \"missing.npz\",", "\"bias\": [0, 0]"))));
        assertEquals(Diagnostic.SF_BAD_WEIGHTS, e.id());
        assertTrue(e.getMessage().startsWith(dir.resolve("m.json") + ": cannot read the weights file missing.npz"), e.getMessage());

        Files.writeString(dir.resolve("junk.npz"), "not a zip");
        e = assertThrows(ModelException.class,
                () -> JsonModelReader.read(JsonTestModels.write(dir, "m.json", mlp("\"weights\": \"junk.npz\",", "\"bias\": [0, 0]"))));
        assertEquals(Diagnostic.SF_BAD_WEIGHTS, e.id());

        Map<String, NdArray> arrays = new LinkedHashMap<>();
        arrays.put("other", new NdArray(new int[] {2}, B));
        writeNpz(dir.resolve("p.npz"), arrays, true);
        e = assertThrows(ModelException.class,
                () -> JsonModelReader.read(JsonTestModels.write(dir, "m.json", mlp("", "\"weight\": {\"npz\": \"p.npz\"}, \"bias\": [0, 0]"))));
        assertEquals(Diagnostic.SF_BAD_WEIGHTS, e.id());
        assertTrue(e.getMessage().contains("p.npz has no array 'fc/weight' (it has other)"), e.getMessage());
    }
}
