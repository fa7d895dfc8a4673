package io.streamfold.cli;

import ai.onnx.proto.OnnxMl;
import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import io.streamfold.data.NdArray;
import io.streamfold.data.Npy;
import io.streamfold.flow.OutputFolder;
import io.streamfold.testutil.Property;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import shade.com.google.protobuf.ByteString;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static io.streamfold.cli.CliTestSupport.example;
import static io.streamfold.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 11, part 4: the example models and data files, mutated (truncated, bytes flipped,
 * dimensions, attributes and weights changed, NaN/Inf/huge/tiny values, BOMs), under random option
 * values (inside and outside their ranges), through convert, inspect, simulate and batch. Whatever
 * the input: the exit code is 0, 2 or 3; stderr is at most one line, without a stack trace; and
 * nothing is left on disk but the inputs and, on success, the output.
 */
class CliFuzzTest {

    @TempDir
    Path tmp;

    private static final Pattern NUMBER = Pattern.compile("-?\\d+(\\.\\d+)?([eE][-+]?\\d+)?");

    private static <T> T pick(Random r, List<T> l) {
        return l.get(r.nextInt(l.size()));
    }

    private static Set<String> listing(Path dir) throws Exception {
        try (Stream<Path> s = Files.walk(dir)) {
            TreeSet<String> out = new TreeSet<>();
            s.filter(p -> !p.equals(dir)).forEach(p -> out.add(dir.relativize(p).toString()));
            return out;
        }
    }

    /** What one case ran, for the failure message. */
    private final List<String> log = new ArrayList<>();

    @Test
    void mutatedModelsDataAndOptionsExitCleanlyAndLeaveNothingBehind() {
        Property.forAll("cli-fuzz", 260, (r, caseNo) -> {
            log.clear();
            Path dir = Files.createDirectories(tmp.resolve("case" + caseNo));
            String base = r.nextInt(10) < 5 ? "mlp_bn" : pick(r, List.of("cnn_seed", "json_mlp", "json_mlp", "cnn_residual"));
            Path model = setUp(dir, base);
            Path calib = dir.resolve("calib.npy");
            mutate(r, base, model, calib);
            if (r.nextInt(8) == 0) {
                calib = asCsv(r, calib);
            }
            List<String> args = new ArrayList<>();
            String command = pick(r, List.of("convert", "convert", "convert", "convert", "convert", "inspect", "simulate", "batch"));
            Path out = dir.resolve("out");
            Path vcd = dir.resolve("run.vcd");
            args.add(command);
            args.add(model.toString());
            switch (command) {
                case "convert", "batch" -> args.addAll(List.of("-o", out.toString(), "--tb-count", String.valueOf(1 + r.nextInt(2))));
                case "simulate" -> {
                    args.addAll(List.of("--input", calib.toString(), "--limit", String.valueOf(1 + r.nextInt(3))));
                    if (r.nextBoolean()) {
                        args.addAll(List.of("--vcd", vcd.toString()));
                    }
                }
                default -> {
                }
            }
            if (!calib.getFileName().toString().equals("calib.npy") || r.nextInt(4) == 0) {
                args.addAll(List.of("--calib", calib.toString()));
            }
            options(r, base, dir, args);
            Set<String> before = listing(dir);
            log.add(String.join(" ", args));
            CliTestSupport.Run run = run(args.toArray(String[]::new));
            String where = "case " + caseNo + ": " + log + "\nexit " + run.code() + "\nstderr: " + run.err();
            assertTrue(run.code() == 0 || run.code() == 2 || run.code() == 3, where);
            assertTrue(run.err().lines().count() <= 1, where);
            assertFalse(run.err().contains("\tat ") || run.err().contains("Exception") || run.err().contains("internal error"), where);
            Set<String> after = listing(dir);
            Set<String> created = new TreeSet<>(after);
            created.removeAll(before);
            for (String f : created) {
                // on success: the output folder (no hidden file in it but the marker) or the VCD; on failure: nothing
                boolean output = f.equals("out") || f.startsWith("out/") && (!f.contains("/.") || f.endsWith("/" + OutputFolder.MARKER));
                assertTrue(run.code() == 0 && (output || f.equals("run.vcd")), "left behind: " + f + "\n" + where);
            }
            assertTrue(after.containsAll(before), "an input disappeared\n" + where);
            if (run.code() == 0 && command.equals("convert") && ICARUS) {
                compiles(out, where);
            }
            Cleanup.deleteTree(dir);
        });
    }

    private static final boolean ICARUS = DemoCommand.onPath("iverilog");

    /** The design and its testbench compile under Icarus, as run_icarus.sh builds them. */
    private static void compiles(Path out, String where) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("iverilog", "-g2005", "-o", "/dev/null"));
        try (Stream<Path> s = Files.list(out)) {
            s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".v")).sorted().forEach(cmd::add);
        }
        String tb = cmd.stream().filter(n -> n.endsWith("_tb.v")).findFirst().orElseThrow();
        cmd.addAll(2, List.of("-s", tb.substring(0, tb.length() - 2)));
        io.streamfold.testbench.EdaRunner.Run run = io.streamfold.testbench.EdaRunner.run(out, cmd, 120);
        assertEquals(0, run.exitCode(), "iverilog:\n" + run.output() + "\n" + where);
    }

    // --- inputs -------------------------------------------------------------------------------------

    /** Copies an example into {@code dir}; returns the model file. */
    private static Path setUp(Path dir, String base) throws Exception {
        Path exampleDir = example("mlp_bn").getParent().getParent().resolve(base);
        if (base.startsWith("json")) {
            Files.copy(exampleDir.resolve("model.json"), dir.resolve("model.json"));
            Files.copy(exampleDir.resolve("model.npz"), dir.resolve("model.npz"));
        } else {
            Files.copy(exampleDir.resolve("model.onnx"), dir.resolve("model.onnx"));
        }
        Files.copy(exampleDir.resolve("calib.npy"), dir.resolve("calib.npy"));
        return dir.resolve(base.startsWith("json") ? "model.json" : "model.onnx");
    }

    private void mutate(Random r, String base, Path model, Path calib) throws Exception {
        switch (r.nextInt(6)) {
            case 0 -> log.add("no mutation");
            case 1 -> mutateBytes(r, model);
            case 2, 3 -> {
                if (base.startsWith("json")) {
                    mutateJson(r, model);
                } else {
                    mutateOnnx(r, model);
                }
            }
            default -> mutateData(r, calib);
        }
    }

    private void mutateBytes(Random r, Path f) throws Exception {
        byte[] b = Files.readAllBytes(f);
        switch (r.nextInt(3)) {
            case 0 -> {
                int cut = r.nextInt(b.length);
                log.add(f.getFileName() + " truncated at " + cut);
                b = java.util.Arrays.copyOf(b, cut);
            }
            case 1 -> {
                int n = 1 + r.nextInt(8);
                log.add(f.getFileName() + ": " + n + " bytes flipped");
                for (int i = 0; i < n; i++) {
                    b[r.nextInt(b.length)] ^= (byte) (1 + r.nextInt(255));
                }
            }
            default -> {
                int at = r.nextInt(b.length);
                byte[] junk = new byte[1 + r.nextInt(16)];
                r.nextBytes(junk);
                log.add(f.getFileName() + ": " + junk.length + " bytes inserted at " + at);
                byte[] c = new byte[b.length + junk.length];
                System.arraycopy(b, 0, c, 0, at);
                System.arraycopy(junk, 0, c, at, junk.length);
                System.arraycopy(b, at, c, at + junk.length, b.length - at);
                b = c;
            }
        }
        Files.write(f, b);
    }

    private static final List<Long> HUGE_INTS = List.of(0L, -1L, 1L, 2L, 3L, 7L, 1000L, 1L << 31, 1L << 33, 1L << 40, 3_000_000_000L,
            -(1L << 40), Long.MAX_VALUE);

    private static final List<Float> ODD_FLOATS = List.of(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 1e38f, -1e38f,
            1e-38f, 1e-45f, 0f, 1e6f);

    private void mutateOnnx(Random r, Path f) throws Exception {
        OnnxMl.ModelProto m = OnnxMl.ModelProto.parseFrom(Files.readAllBytes(f));
        OnnxMl.GraphProto.Builder g = m.getGraph().toBuilder();
        switch (r.nextInt(5)) {
            case 0 -> {
                OnnxMl.TensorShapeProto.Builder s = g.getInputBuilder(0).getTypeBuilder().getTensorTypeBuilder().getShapeBuilder();
                int k = r.nextInt(s.getDimCount());
                long v = pick(r, HUGE_INTS);
                log.add("input dim " + k + " = " + v);
                s.getDimBuilder(k).setDimValue(v);
            }
            case 1 -> {
                int ni = r.nextInt(g.getNodeCount());
                OnnxMl.NodeProto.Builder n = g.getNodeBuilder(ni);
                String key = pick(r, List.of("axis", "group", "strides", "pads", "kernel_shape", "transB", "count_include_pad", "allowzero"));
                long v = pick(r, HUGE_INTS);
                AttributeProto.Builder a = AttributeProto.newBuilder().setName(key);
                if (key.equals("strides") || key.equals("pads") || key.equals("kernel_shape")) {
                    a.setType(AttributeProto.AttributeType.INTS);
                    for (int i = 0; i < 2 + (key.equals("pads") ? 2 : 0); i++) {
                        a.addInts(r.nextBoolean() ? v : 1);
                    }
                } else {
                    a.setType(AttributeProto.AttributeType.INT).setI(v);
                }
                log.add(n.getName() + "." + key + " = " + a.build());
                for (int k = n.getAttributeCount() - 1; k >= 0; k--) {
                    if (n.getAttribute(k).getName().equals(key)) {
                        n.removeAttribute(k);
                    }
                }
                n.addAttribute(a);
            }
            case 2, 3 -> {
                int ti = r.nextInt(g.getInitializerCount());
                TensorProto t = g.getInitializer(ti);
                if (t.getDataType() != 1 || t.getRawData().isEmpty()) {
                    log.add("initializer " + t.getName() + " left as is");
                    break;
                }
                ByteBuffer b = ByteBuffer.allocate(t.getRawData().size()).order(ByteOrder.LITTLE_ENDIAN);
                t.getRawData().copyTo(b);
                boolean all = r.nextBoolean();
                float v = pick(r, ODD_FLOATS);
                log.add("initializer " + t.getName() + (all ? " all = " : " one = ") + v);
                int count = b.capacity() / 4;
                int one = r.nextInt(Math.max(1, count));
                for (int i = 0; i < count; i++) {
                    if (all || i == one) {
                        b.putFloat(4 * i, v);
                    }
                }
                g.setInitializer(ti, t.toBuilder().setRawData(ByteString.copyFrom(b.array())));
            }
            default -> {
                int ti = r.nextInt(g.getInitializerCount());
                TensorProto t = g.getInitializer(ti);
                if (t.getDimsCount() == 0) {
                    break;
                }
                int k = r.nextInt(t.getDimsCount());
                long v = pick(r, HUGE_INTS);
                log.add("initializer " + t.getName() + " dim " + k + " = " + v);
                g.setInitializer(ti, t.toBuilder().setDims(k, v));
            }
        }
        Files.write(f, m.toBuilder().setGraph(g).build().toByteArray());
    }

    private void mutateJson(Random r, Path f) throws Exception {
        String s = Files.readString(f);
        Matcher mt = NUMBER.matcher(s);
        List<int[]> spans = new ArrayList<>();
        while (mt.find()) {
            spans.add(new int[] {mt.start(), mt.end()});
        }
        if (spans.isEmpty() || r.nextInt(4) == 0) {
            mutateBytes(r, f);
            return;
        }
        int[] sp = pick(r, spans);
        String v = pick(r, List.of("0", "-1", "1e308", "2147483648", "1e-320", "3.5", "99999999999", "-0", "100000", "1"));
        log.add("model.json: " + s.substring(sp[0], sp[1]) + " at " + sp[0] + " -> " + v);
        Files.writeString(f, s.substring(0, sp[0]) + v + s.substring(sp[1]));
    }

    private void mutateData(Random r, Path f) throws Exception {
        if (r.nextInt(3) == 0) {
            mutateBytes(r, f);
            return;
        }
        NdArray a = Npy.read(f);
        double[] d = a.data();
        double v = pick(r, List.of(Double.NaN, Double.POSITIVE_INFINITY, -1e300, 1e300, 1e-300, 0.0, 1e15));
        boolean all = r.nextBoolean();
        log.add("calib " + (all ? "all = " : "one = ") + v);
        int one = r.nextInt(d.length);
        for (int i = 0; i < d.length; i++) {
            if (all || i == one) {
                d[i] = v;
            }
        }
        int[] shape = a.shape();
        if (r.nextInt(5) == 0 && shape.length > 1) {
            shape = new int[] {shape[0] * 2, d.length / (shape[0] * 2)};
            log.add("calib reshaped to " + java.util.Arrays.toString(shape));
            if (shape[0] * shape[1] != d.length) {
                return;
            }
        }
        Npy.write(f, new NdArray(shape, d));
    }

    /** The calibration data as CSV, sometimes with a UTF-8 byte order mark or a header. */
    private Path asCsv(Random r, Path npy) throws Exception {
        Path csv = npy.resolveSibling("calib.csv");
        StringBuilder sb = new StringBuilder(r.nextBoolean() ? "\uFEFF" : "");
        if (r.nextBoolean()) {
            sb.append("# samples\n");
        }
        try {
            NdArray a = Npy.read(npy);
            int rows = a.shape()[0];
            int per = a.data().length / Math.max(1, rows);
            for (int i = 0; i < Math.min(rows, 20); i++) {
                for (int j = 0; j < per; j++) {
                    sb.append(j > 0 ? "," : "").append(String.format(Locale.ROOT, "%.6g", a.data()[i * per + j]));
                }
                sb.append('\n');
            }
        } catch (java.io.IOException e) {
            sb.append("not,numbers\n1,2\n");
        }
        Files.writeString(csv, sb.toString(), StandardCharsets.UTF_8);
        log.add("calib as CSV");
        return csv;
    }

    // --- options --------------------------------------------------------------------------------------

    private static final List<String> BITS = List.of("-1", "0", "1", "2", "3", "5", "8", "12", "16", "31", "62", "63", "100", "x");

    private void options(Random r, String base, Path dir, List<String> args) throws Exception {
        List<String> nodes = switch (base) {
            case "mlp_bn" -> List.of("/0/Gemm", "/3/Gemm", "/6/Gemm");
            case "json_mlp" -> List.of("fc1", "fc2", "fc3", "relu1");
            case "cnn_seed" -> List.of("/1/Conv", "/6/Gemm", "/4/MaxPool");
            default -> List.of("/0/Conv", "/11/Gemm", "/3/conv/Conv");
        };
        int n = r.nextInt(4);
        for (int i = 0; i < n; i++) {
            switch (r.nextInt(13)) {
                case 0 -> args.addAll(List.of("--weight-bits", pick(r, BITS)));
                case 1 -> args.addAll(List.of("--act-bits", pick(r, BITS)));
                case 2 -> args.add("--per-tensor");
                case 3 -> args.addAll(List.of("--percentile", pick(r, List.of("0", "50", "99.9", "100", "101", "-3", "NaN"))));
                case 4 -> args.addAll(List.of("--fifo-depth", pick(r, List.of("0", "1", "2", "3", "16", "4096", "1048577", "-2"))));
                case 5 -> args.addAll(List.of("--input-elems", pick(r, List.of("0", "1", "2", "4", "8", "64", "65", "-1"))));
                case 6 -> args.addAll(List.of("--fold", pick(r, nodes) + "=" + pick(r, List.of("0", "1", "2", "3", "4", "8", "64", "100"))
                        + "x" + pick(r, List.of("0", "1", "2", "4", "8", "32", "64"))));
                case 7 -> args.addAll(List.of("--dsp-budget", pick(r, List.of("-1", "0", "1", "3", "16", "64", "1000"))));
                case 8 -> args.add("--argmax");
                case 9 -> args.addAll(List.of(pick(r, List.of("--gaps", "--stalls")), pick(r, List.of("0", "0.5", "0.99", "0.999999", "1", "-1"))));
                case 10 -> args.addAll(List.of("--seed", String.valueOf(r.nextLong())));
                default -> {
                    Path cfg = dir.resolve("q.json");
                    String node = pick(r, nodes);
                    String text = "{\"layers\": {\"" + node + "\": {\"act\": {\"bits\": " + pick(r, List.of(1, 4, 8, 16, 62, 63)) + ", \"frac\": "
                            + pick(r, List.of(-1000, -124, -20, 0, 3, 7, 30, 124, 125)) + "}, \"weight_bits\": " + pick(r, List.of(1, 2, 8, 16, 0))
                            + "}}}";
                    Files.writeString(cfg, text);
                    log.add("q.json: " + text);
                    args.addAll(List.of("--config", cfg.toString()));
                }
            }
        }
    }

    /** Access to the flow's delete helper without a dependency on its package in every line. */
    private static final class Cleanup {
        static void deleteTree(Path p) throws Exception {
            io.streamfold.flow.Cleanup.deleteTree(p);
        }
    }
}
