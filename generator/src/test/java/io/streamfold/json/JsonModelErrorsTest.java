package io.streamfold.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

/** Every problem is a {@link ModelException} with its diagnostic id, naming the file and the layer. */
class JsonModelErrorsTest {

    @TempDir
    Path dir;

    private static final String HEAD = "{\"format\": \"streamfold-json\", \"version\": 1, \"name\": \"m\",\n";

    /** Reads {@code json} from model.json and returns the error, checking its file and one-line form. */
    private ModelException fail(String json) {
        Path p = JsonTestModels.write(dir, "model.json", json);
        ModelException e = assertThrows(ModelException.class, () -> JsonModelReader.read(p));
        assertEquals(p.toString(), e.file());
        assertTrue(e.toLine().startsWith("error: " + p + ": "), e.toLine());
        assertFalse(e.toLine().contains("\n"), "one line: " + e.toLine());
        return e;
    }

    private ModelException failLayers(String input, String layers) {
        return fail(HEAD + "\"input\": " + input + ",\n\"layers\": [\n" + layers + "\n]}\n");
    }

    private static void assertError(ModelException e, Diagnostic id, String node, String... fragments) {
        assertEquals(id, e.id(), e.getMessage());
        assertEquals(node, e.node(), e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "'" + f + "' in: " + e.getMessage());
        }
    }

    @Test
    void invalidJsonGivesLineAndColumn() {
        ModelException e = fail(HEAD + "\"input\": {\"shape\": [3]},\n\"layers\": [{\"name\": \"a\" \"type\": \"relu\"}]}");
        assertError(e, Diagnostic.SF_CORRUPT_MODEL, null, "invalid JSON at line 3, column ");
        assertNull(e.getCause());
    }

    @Test
    void truncatedJson() {
        String full = HEAD + "\"input\": {\"shape\": [3]},\n\"layers\": [{\"name\": \"a\", \"type\": \"relu\"}]}";
        ModelException e = fail(full.substring(0, full.length() - 20));
        assertError(e, Diagnostic.SF_CORRUPT_MODEL, null, "invalid JSON at line 3", "end-of-input", "truncated?");
    }

    @Test
    void notAModel() {
        assertError(fail(""), Diagnostic.SF_CORRUPT_MODEL, null, "empty");
        assertError(fail("[1, 2]"), Diagnostic.SF_CORRUPT_MODEL, null, "not an object");
        assertError(fail("{\"format\": \"onnx\"}"), Diagnostic.SF_CORRUPT_MODEL, null, "\"format\" is \"onnx\"");
        assertError(fail("{\"format\": \"streamfold-json\", \"version\": 2}"), Diagnostic.SF_CORRUPT_MODEL, null, "version 2 is not supported");
        assertError(fail(HEAD + "\"input\": {\"shape\": [3]}, \"layers\": [], \"extra\": 1}"), Diagnostic.SF_CORRUPT_MODEL, null,
                "unknown field 'extra'");
        assertError(fail(HEAD + "\"input\": {\"shape\": [3]}, \"layers\": []}"), Diagnostic.SF_CORRUPT_MODEL, null, "\"layers\" is empty");
        assertError(fail(HEAD + "\"input\": {\"shape\": [3]}, \"input\": {\"shape\": [3]}, \"layers\": []}"), Diagnostic.SF_CORRUPT_MODEL, null,
                "Duplicate field 'input'");
    }

    @Test
    void unreadableFile() {
        Path p = dir.resolve("absent.json");
        ModelException e = assertThrows(ModelException.class, () -> JsonModelReader.read(p));
        assertError(e, Diagnostic.SF_CORRUPT_MODEL, null, "cannot read the file: no such file");
        assertEquals(p.toString(), e.file());
    }

    @Test
    void unknownLayerType() {
        ModelException e = failLayers("{\"shape\": [3]}", "{\"name\": \"rnn1\", \"type\": \"LSTM\", \"units\": 4}");
        assertError(e, Diagnostic.SF_UNSUPPORTED_OP, "rnn1", "layer type 'LSTM' is not supported", "supported types: dense");
    }

    @Test
    void wrongWeightSizeNamesLayerParamAndShapes() {
        ModelException e = failLayers("{\"shape\": [1, 5, 5]}", """
                {"name": "conv1", "type": "conv2d", "filters": 8, "kernel_size": 3,
                 "weight": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27],
                 "bias": [0, 0, 0, 0, 0, 0, 0, 0]}""");
        assertError(e, Diagnostic.SF_BAD_WEIGHTS, "conv1", "conv1: weight has 27 values, expected 8x1x3x3=72 (channels_first");
        assertEquals("error: " + dir.resolve("model.json") + ": conv1: weight has 27 values, expected 8x1x3x3=72 "
                + "(channels_first models use PyTorch layouts: the conv weight is (filters, in/groups, kh, kw))", e.toLine());
    }

    @Test
    void transposedWeightWithTheRightSizeIsCaught() {
        ModelException e = failLayers("{\"shape\": [3], \"layout\": \"channels_last\"}",
                "{\"name\": \"fc\", \"type\": \"dense\", \"units\": 2, \"kernel\": [[1, 2, 3], [4, 5, 6]], \"bias\": [0, 0]}");
        assertError(e, Diagnostic.SF_BAD_WEIGHTS, "fc", "kernel has shape 2x3, expected 3x2", "Keras layouts");
    }

    @Test
    void raggedOrNonNumericWeights() {
        assertError(failLayers("{\"shape\": [2]}", "{\"name\": \"fc\", \"type\": \"dense\", \"units\": 2, \"weight\": [[1, 2], [3]], \"bias\": [0, 0]}"),
                Diagnostic.SF_BAD_WEIGHTS, "fc", "ragged", "weight[1]");
        assertError(failLayers("{\"shape\": [2]}", "{\"name\": \"fc\", \"type\": \"dense\", \"units\": 2, \"weight\": [[1, 2], [3, \"x\"]], \"bias\": [0, 0]}"),
                Diagnostic.SF_BAD_WEIGHTS, "fc", "weight[1][1] is \"x\", not a number");
        assertError(failLayers("{\"shape\": [2]}", "{\"name\": \"fc\", \"type\": \"dense\", \"units\": 2, \"weight\": \"w.bin\", \"bias\": [0, 0]}"),
                Diagnostic.SF_BAD_WEIGHTS, "fc", "weight is \"w.bin\"", "{\"npy\"");
    }

    @Test
    void nanWeight() {
        ModelException e = failLayers("{\"shape\": [2]}",
                "{\"name\": \"fc\", \"type\": \"dense\", \"units\": 1, \"weight\": [[1, NaN]], \"bias\": [0]}");
        assertError(e, Diagnostic.SF_BAD_WEIGHTS, "fc", "weight[1] is NaN");
    }

    @Test
    void negativeVariance() {
        ModelException e = failLayers("{\"shape\": [2]}", """
                {"name": "bn1", "type": "batchnorm", "weight": [1, 1], "bias": [0, 0],
                 "running_mean": [0, 0], "running_var": [1, -0.5]}""");
        assertError(e, Diagnostic.SF_BAD_BATCHNORM, "bn1", "variance[1] is negative");
    }

    @Test
    void batchNormProblems() {
        assertError(failLayers("{\"shape\": [2]}", """
                {"name": "bn1", "type": "batchnorm", "weight": [1, 1], "bias": [0, 0], "running_mean": [0, 0, 0], "running_var": [1, 1]}"""),
                Diagnostic.SF_BAD_BATCHNORM, "bn1", "running_mean has 3 values, expected 2");
        assertError(failLayers("{\"shape\": [2]}", """
                {"name": "bn1", "type": "batchnorm", "gamma": [1, 1], "bias": [0, 0], "running_mean": [0, 0], "running_var": [1, 1]}"""),
                Diagnostic.SF_BAD_BATCHNORM, "bn1", "mixes Keras names");
        assertError(failLayers("{\"shape\": [2]}", """
                {"name": "bn1", "type": "batchnorm", "gamma": [1, 1], "beta": [0, 0], "moving_mean": [0, 0]}"""),
                Diagnostic.SF_BAD_WEIGHTS, "bn1", "moving_variance is missing");
    }

    @Test
    void missingWeight() {
        ModelException e = failLayers("{\"shape\": [2]}", "{\"name\": \"fc\", \"type\": \"dense\", \"units\": 1, \"bias\": [0]}");
        assertError(e, Diagnostic.SF_BAD_WEIGHTS, "fc", "kernel is missing", "'fc/kernel'");
    }

    @Test
    void unknownInputReference() {
        ModelException e = failLayers("{\"name\": \"x\", \"shape\": [2]}",
                "{\"name\": \"a\", \"type\": \"relu\"}, {\"name\": \"b\", \"type\": \"relu\", \"input\": \"nowhere\"}");
        assertError(e, Diagnostic.SF_BAD_GRAPH, "b", "input 'nowhere' is neither the model input nor a layer");
        e = failLayers("{\"name\": \"x\", \"shape\": [2]}",
                "{\"name\": \"a\", \"type\": \"relu\", \"input\": \"b\"}, {\"name\": \"b\", \"type\": \"relu\"}");
        assertError(e, Diagnostic.SF_BAD_GRAPH, "a", "input 'b' is a later layer");
    }

    @Test
    void duplicateLayerName() {
        ModelException e = failLayers("{\"shape\": [2]}", "{\"name\": \"a\", \"type\": \"relu\"}, {\"name\": \"a\", \"type\": \"tanh\"}");
        assertError(e, Diagnostic.SF_BAD_GRAPH, "a", "two layers have this name");
    }

    @Test
    void addShapeMismatch() {
        ModelException e = failLayers("{\"name\": \"x\", \"shape\": [3]}", """
                {"name": "fc", "type": "dense", "units": 2, "weight": [[1, 0, 0], [0, 1, 0]], "bias": [0, 0]},
                {"name": "sum", "type": "add", "inputs": ["x", "fc"]}""");
        assertError(e, Diagnostic.SF_SHAPE_MISMATCH, "sum", "Add operands have shapes [3] and [2]");
        e = failLayers("{\"shape\": [3]}", "{\"name\": \"sum\", \"type\": \"add\", \"inputs\": [\"input\"]}");
        assertError(e, Diagnostic.SF_BAD_ATTRIBUTE, "sum", "needs 2");
    }

    @Test
    void shapeMismatches() {
        assertError(failLayers("{\"shape\": [2, 4, 4]}", "{\"name\": \"fc\", \"type\": \"dense\", \"units\": 1, \"weight\": [[1]], \"bias\": [0]}"),
                Diagnostic.SF_SHAPE_MISMATCH, "fc", "dense expects a vector", "insert a flatten");
        assertError(failLayers("{\"shape\": [8]}", "{\"name\": \"c\", \"type\": \"conv2d\", \"filters\": 1, \"kernel_size\": 3}"),
                Diagnostic.SF_SHAPE_MISMATCH, "c", "conv2d expects an input (C, H, W), got 8");
        assertError(failLayers("{\"shape\": [1, 2, 2]}", "{\"name\": \"p\", \"type\": \"maxpool2d\", \"pool_size\": 3}"),
                Diagnostic.SF_SHAPE_MISMATCH, "p", "does not fit");
        assertError(failLayers("{\"shape\": [6]}", "{\"name\": \"r\", \"type\": \"reshape\", \"shape\": [4, -1]}"),
                Diagnostic.SF_SHAPE_MISMATCH, "r", "cannot reshape");
    }

    @Test
    void badAttributes() {
        assertError(failLayers("{\"shape\": [1, 4, 4]}",
                "{\"name\": \"c\", \"type\": \"conv2d\", \"filters\": 1, \"kernel_size\": 3, \"stides\": 2, \"weight\": [1,1,1,1,1,1,1,1,1], \"bias\": [0]}"),
                Diagnostic.SF_BAD_ATTRIBUTE, "c", "unknown field 'stides'", "strides");
        assertError(failLayers("{\"shape\": [1, 4, 4]}", "{\"name\": \"c\", \"type\": \"conv2d\", \"filters\": \"eight\", \"kernel_size\": 3}"),
                Diagnostic.SF_BAD_ATTRIBUTE, "c", "'filters' is \"eight\", expected an integer");
        assertError(failLayers("{\"shape\": [1, 4, 4]}", "{\"name\": \"p\", \"type\": \"maxpool2d\", \"pool_size\": 2, \"padding\": \"full\"}"),
                Diagnostic.SF_BAD_ATTRIBUTE, "p", "padding \"full\" is not supported");
        assertError(failLayers("{\"shape\": [4]}", "{\"name\": \"l\", \"type\": \"leaky_relu\"}"),
                Diagnostic.SF_BAD_ATTRIBUTE, "l", "'alpha' is missing");
        assertError(failLayers("{\"shape\": [1, 4, 4]}", "{\"name\": \"c\", \"type\": \"conv2d\", \"filters\": 1, \"kernel_size\": 3, \"dilation\": 2}"),
                Diagnostic.SF_UNSUPPORTED_OP, "c", "dilation");
        assertError(failLayers("{\"shape\": [4], \"layout\": \"nhwc\"}", "{\"name\": \"r\", \"type\": \"relu\"}"),
                Diagnostic.SF_BAD_ATTRIBUTE, "input", "layout \"nhwc\" is not supported");
        assertError(failLayers("{\"shape\": [4]}", "{\"name\": \"a\", \"type\": \"activation\", \"activation\": \"gelu\"}"),
                Diagnostic.SF_UNSUPPORTED_OP, "a", "activation 'gelu' is not supported");
    }

    @Test
    void channelsLastFlattenCannotFeedAConv() {
        ModelException e = failLayers("{\"shape\": [2, 2, 3], \"layout\": \"channels_last\"}", """
                {"name": "f", "type": "flatten"},
                {"name": "r", "type": "reshape", "shape": [3, 4]},
                {"name": "c", "type": "conv1d", "filters": 1, "kernel_size": 1, "kernel": [1, 1, 1, 1], "bias": [0]}""");
        assertError(e, Diagnostic.SF_UNSUPPORTED_OP, "c", "cannot follow this channels_last flatten or reshape");
    }
}
