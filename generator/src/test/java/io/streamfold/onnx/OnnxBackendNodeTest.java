package io.streamfold.onnx;

import ai.onnx.proto.OnnxMl;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.onnx.OnnxTensors.Constant;
import io.streamfold.reference.FloatInterpreter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The official ONNX backend node tests (Debian's libonnx-testdata: {@code model.onnx} and
 * {@code test_data_set_*} TensorProtos per test), each at its own opset: every test whose
 * operators the reader has is read, and then either its float64 reference output equals
 * {@code output_0.pb} within 1e-5 of the output's range, or the reader refuses it in one line
 * ({@link ModelException}). A crash or a wrong result fails.
 *
 * <p>The harness binds the test's second and later graph inputs (weights given as inputs, e.g.
 * a Conv's W) from {@code input_1.pb}, ... as initializers, so that the one remaining input is
 * the activation. The leading axis of the input is the batch axis: a test tensor (3, 4, 5) is
 * three samples of (4, 5). Counts by outcome and opset are printed and written to
 * {@code target/onnx-node-tests.txt}.
 */
class OnnxBackendNodeTest {

    static final Path ROOT = Paths.get(System.getProperty("streamfold.onnxNodeTests", "/usr/share/libonnx-testdata/data/node"));

    /** Outcome -> opset -> count. */
    private static final Map<String, Map<Integer, Integer>> OUTCOMES = new ConcurrentHashMap<>();
    private static final List<String> LINES = java.util.Collections.synchronizedList(new ArrayList<>());

    @TestFactory
    Stream<DynamicTest> everyTestOfSupportedOperators() throws IOException {
        Assumptions.assumeTrue(Files.isDirectory(ROOT), "ONNX backend node tests not installed at " + ROOT
                + " (Debian package libonnx-testdata); skipped");
        List<Path> dirs;
        try (Stream<Path> s = Files.list(ROOT)) {
            dirs = s.filter(d -> Files.exists(d.resolve("model.onnx"))).sorted().toList();
        }
        List<DynamicTest> tests = new ArrayList<>();
        int others = 0;
        for (Path d : dirs) {
            OnnxMl.ModelProto m = OnnxMl.ModelProto.parseFrom(Files.readAllBytes(d.resolve("model.onnx")));
            boolean supported = m.getGraph().getNodeCount() > 0;
            for (OnnxMl.NodeProto n : m.getGraph().getNodeList()) {
                supported &= (n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx")) && OnnxModelReader.supports(n.getOpType());
            }
            if (!supported) {
                others++;
                continue;
            }
            tests.add(DynamicTest.dynamicTest(d.getFileName().toString(), () -> run(d, m)));
        }
        System.out.println("ONNX node tests: " + dirs.size() + " in " + ROOT + ", " + tests.size() + " use only operators streamfold reads, "
                + others + " use others");
        return tests.stream();
    }

    private static void run(Path dir, OnnxMl.ModelProto m) throws IOException {
        int opset = OnnxModelReader.opsetOf(m);
        String test = dir.getFileName().toString();
        OnnxMl.ModelProto bound = bindParameterInputs(m, dir.resolve("test_data_set_0"));
        Graph g;
        try {
            g = OnnxModelReader.parse(bound, test);
        } catch (ModelException e) {
            String line = e.toLine();
            assertFalse(line.contains("\n"), "one line: " + line);
            assertTrue(e.reason() != null && !e.reason().isEmpty(), line);
            record("refused " + e.id() + ": " + category(e), opset, test + ": " + line);
            return;
        }
        List<Path> sets;
        try (Stream<Path> s = Files.list(dir)) {
            sets = s.filter(p -> p.getFileName().toString().startsWith("test_data_set_")).sorted().toList();
        }
        double worst = 0;
        for (Path set : sets) {
            Constant x = tensor(set.resolve("input_0.pb"));
            Constant y = tensor(set.resolve("output_0.pb"));
            int samples = x.dims().length == 0 ? 1 : (int) x.dims()[0];
            int per = g.inputShape().size();
            assertEquals((long) samples * per, x.size(), test + ": input " + java.util.Arrays.toString(x.dims()) + " vs graph input "
                    + g.inputShape());
            int outPer = y.size() / samples;
            assertEquals(g.outputShape().size(), outPer, test + ": output " + java.util.Arrays.toString(y.dims()) + " vs graph output "
                    + g.outputShape());
            double lo = Double.POSITIVE_INFINITY;
            double hi = Double.NEGATIVE_INFINITY;
            for (double v : y.data()) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
            double tol = 1e-5 * Math.max(hi - lo, 1e-6);
            for (int s = 0; s < samples; s++) {
                double[] sample = java.util.Arrays.copyOfRange(x.data(), s * per, (s + 1) * per);
                double[] ours = g.toModelOutput(FloatInterpreter.run(g, g.toGraphInput(sample)));
                for (int i = 0; i < outPer; i++) {
                    double want = y.data()[s * outPer + i];
                    double diff = Math.abs(ours[i] - want);
                    worst = Math.max(worst, diff / Math.max(hi - lo, 1e-6));
                    if (!(diff <= tol)) {
                        record("WRONG", opset, test);
                        fail(test + " (opset " + opset + "): sample " + s + " element " + i + ": " + ours[i] + " vs " + want
                                + " (tolerance " + tol + ")");
                    }
                }
            }
        }
        record("passed", opset, String.format(Locale.ROOT, "%s: max |diff| %.2g of the output range, %d data sets", test, worst, sets.size()));
    }

    /** The model with every graph input after the first turned into an initializer holding the test's value of it. */
    private static OnnxMl.ModelProto bindParameterInputs(OnnxMl.ModelProto m, Path set) throws IOException {
        OnnxMl.GraphProto.Builder g = m.getGraph().toBuilder();
        Set<String> inits = new HashSet<>();
        for (TensorProto t : g.getInitializerList()) {
            inits.add(t.getName());
        }
        int k = 0;
        for (OnnxMl.ValueInfoProto in : m.getGraph().getInputList()) {
            if (inits.contains(in.getName())) {
                continue;
            }
            if (k > 0) {
                Path f = set.resolve("input_" + k + ".pb");
                if (Files.exists(f)) {
                    g.addInitializer(TensorProto.parseFrom(Files.readAllBytes(f)).toBuilder().setName(in.getName()));
                }
            }
            k++;
        }
        return m.toBuilder().setGraph(g).build();
    }

    private static Constant tensor(Path pb) {
        try {
            return OnnxTensors.decode(TensorProto.parseFrom(Files.readAllBytes(pb)), pb.getFileName().toString(), null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A refusal's reason without the numbers, so that refusals group by kind. */
    private static String category(ModelException e) {
        String r = e.reason().replaceAll("'[^']*'", "'_'").replaceAll("[\\[(][^\\])]*[\\])]", "(..)").replaceAll("-?\\d+(\\.\\d+)?", "#");
        return r.length() > 90 ? r.substring(0, 90) + "..." : r;
    }

    private static void record(String outcome, int opset, String line) {
        OUTCOMES.computeIfAbsent(outcome, o -> new ConcurrentHashMap<>()).merge(opset, 1, Integer::sum);
        LINES.add(String.format("%-8s opset %2d  %s", outcome.startsWith("refused") ? "refused" : outcome, opset, line));
    }

    @AfterAll
    static void summary() throws IOException {
        if (OUTCOMES.isEmpty()) {
            return;
        }
        StringBuilder sb = new StringBuilder("ONNX backend node tests by outcome (count per opset):\n");
        for (Map.Entry<String, Map<Integer, Integer>> e : new TreeMap<>(OUTCOMES).entrySet()) {
            int total = e.getValue().values().stream().mapToInt(Integer::intValue).sum();
            sb.append(String.format("  %4d  %s  %s%n", total, e.getKey(), new TreeMap<>(e.getValue())));
        }
        sb.append("\n");
        List<String> lines = new ArrayList<>(LINES);
        java.util.Collections.sort(lines);
        lines.forEach(l -> sb.append("  ").append(l).append('\n'));
        System.out.print(sb);
        Path out = Paths.get("target", "onnx-node-tests.txt");
        if (Files.isDirectory(out.getParent())) {
            Files.writeString(out, sb.toString());
        }
    }
}
