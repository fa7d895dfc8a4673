package io.streamfold.testbench;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.hw.Stage;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.ir.Window;
import io.streamfold.passes.PassContext;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.Quantize;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.IntegerInterpreter;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Seeded random small convolution and pooling layers (1D and 2D, kernel 1..3, stride 1..2,
 * asymmetric padding 0..1, group 1 or depthwise), quantized, with a random parallelism plan.
 */
final class WindowedLayers {

    /** One random layer: the quantized graph, a plan, inputs and a description for messages. */
    record Layer(QuantizedGraph q, ParallelismPlan plan, List<long[]> inputs, String desc, Kind kind, boolean twoD, Window window) {
    }

    /** The first random layer from {@code seed} on that satisfies {@code want}. */
    static Layer first(long seed, int inferences, java.util.function.Predicate<Layer> want) {
        for (long s = seed; ; s++) {
            Layer l = random(s, inferences);
            if (want.test(l)) {
                return l;
            }
        }
    }

    enum Kind { CONV, DEPTHWISE, MAXPOOL, AVGPOOL }

    private WindowedLayers() {
    }

    static Layer random(long seed, int inferences) {
        Random r = new Random(seed);
        while (true) {
            Layer l = attempt(r, seed, inferences);
            if (l != null) {
                return l;
            }
        }
    }

    private static Layer attempt(Random r, long seed, int inferences) {
        boolean twoD = r.nextBoolean();
        Kind kind = Kind.values()[r.nextInt(Kind.values().length)];
        int c = 1 + r.nextInt(4);
        int h = 1 + r.nextInt(6);
        int w = 1 + r.nextInt(6);
        int rank = twoD ? 2 : 1;
        int[] k = new int[rank];
        int[] s = new int[rank];
        int[] pads = new int[2 * rank];
        int[] spatial = twoD ? new int[] {h, w} : new int[] {w};
        for (int a = 0; a < rank; a++) {
            k[a] = 1 + r.nextInt(3);
            s[a] = 1 + r.nextInt(2);
            pads[a] = k[a] > 1 ? r.nextInt(2) : 0;
            pads[rank + a] = k[a] > 1 ? r.nextInt(2) : 0;
        }
        Window win = Window.of(k, s, pads);
        for (int a = 0; a < rank; a++) {
            if (win.outputLength(a, spatial[a]) < 1) {
                return null;
            }
        }
        Shape in = twoD ? Shape.of(c, h, w) : Shape.of(c, w);
        Op op;
        int out = c;
        int m = 1;
        switch (kind) {
            case CONV -> {
                out = 1 + r.nextInt(4);
                op = new Op.Conv(randn(r, convDims(out, c, k)), randn(r, out), win, 1);
            }
            case DEPTHWISE -> {
                m = 1 + r.nextInt(2);
                out = c * m;
                op = new Op.Conv(randn(r, convDims(out, 1, k)), randn(r, out), win, c);
            }
            case MAXPOOL -> op = new Op.MaxPool(win);
            default -> op = new Op.AvgPool(win, r.nextBoolean());
        }
        List<Node> nodes = new ArrayList<>();
        nodes.add(new Node("layer", op, List.of("x"), "y"));
        String last = "y";
        if (r.nextInt(3) == 0) {
            nodes.add(new Node("relu", new Op.Relu(), List.of("y"), "z"));
            last = "z";
        }
        Graph g = new Graph("win" + seed, "x", in, nodes, last);
        List<double[]> calib = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            calib.add(input(r, in));
        }
        int bits = r.nextBoolean() ? 8 : 4 + r.nextInt(9);
        QuantConfig cfg = QuantConfig.defaults().withBits(bits, bits);
        QuantizedGraph q = new Quantize(cfg).run(g, calib, new PassContext());
        int e = divisor(r, c);
        ParallelismPlan plan = ParallelismPlan.serial().withInputElems(divisor(r, c));
        switch (kind) {
            case CONV -> plan = plan.with("layer", divisor(r, out), e);
            case DEPTHWISE, MAXPOOL, AVGPOOL -> {
                if (r.nextBoolean()) {
                    plan = plan.with("layer", e, 1);
                }
            }
        }
        List<long[]> xs = new ArrayList<>();
        for (int i = 0; i < inferences; i++) {
            xs.add(IntegerInterpreter.quantizeInput(q, input(r, in)));
        }
        String desc = "seed " + seed + ": " + kind + (kind == Kind.DEPTHWISE ? " x" + m : "") + " " + in + " -> " + out + " " + win
                + " " + bits + " bits, plan " + plan.folds() + " in " + plan.inputElems() + (nodes.size() > 1 ? " + relu" : "");
        return new Layer(q, plan, xs, desc, kind, twoD, win);
    }

    /** The design with every sliding window's row slots replaced by {@code rows.apply(window)}. */
    static HwDesign withRows(HwDesign d, java.util.function.ToIntFunction<Stage.SlidingWindow> rows) {
        List<Stage> st = new ArrayList<>();
        for (Stage s : d.stages()) {
            if (s instanceof Stage.SlidingWindow w) {
                s = new Stage.SlidingWindow(w.name(), w.source(), w.input(), w.output(), w.format(), w.channels(), w.height(),
                        w.width(), w.elems(), w.kernelH(), w.kernelW(), w.strideH(), w.strideW(), w.padTop(), w.padLeft(),
                        w.outHeight(), w.outWidth(), rows.applyAsInt(w), w.padValue(), w.channelMajor(), w.dilationH(), w.dilationW());
            }
            st.add(s);
        }
        return new HwDesign(d.name(), d.channels(), st, d.input(), d.output(), d.inputOrder(), d.outputOrder());
    }

    /** The layer features added after the first windowed layers, drawn by {@link #randomFeature}. */
    enum Feature { GROUPED, DILATED_CONV, DILATED_MAXPOOL, LONG_END_PAD }

    /**
     * A seeded random layer with one of the later features: a grouped conv with 1 < group < C
     * (2 or 3 groups of 2 or 3 channels), a dilated conv or max pool (dilation 1..3, at least one
     * above 1), or a pool whose end padding reaches up to the window's span less one, as ONNX
     * {@code ceil_mode} becomes in the IR. Every window starts inside the input or its begin
     * padding, as both ceil mode and the sliding-window unit require.
     */
    static Layer randomFeature(long seed, int inferences) {
        Random r = new Random(seed * 7919 + 17);
        while (true) {
            Layer l = attemptFeature(r, seed, inferences);
            if (l != null) {
                return l;
            }
        }
    }

    /** The first feature layer from {@code seed} on that satisfies {@code want}. */
    static Layer firstFeature(long seed, int inferences, java.util.function.Predicate<Layer> want) {
        for (long s = seed; ; s++) {
            Layer l = randomFeature(s, inferences);
            if (want.test(l)) {
                return l;
            }
        }
    }

    private static Layer attemptFeature(Random r, long seed, int inferences) {
        Feature feature = Feature.values()[r.nextInt(Feature.values().length)];
        boolean twoD = r.nextBoolean();
        int rank = twoD ? 2 : 1;
        int groups = 2 + r.nextInt(2);
        int c = feature == Feature.GROUPED ? groups * (2 + r.nextInt(2)) : 1 + r.nextInt(4);
        int h = 2 + r.nextInt(6);
        int w = 2 + r.nextInt(7);
        int[] spatial = twoD ? new int[] {h, w} : new int[] {w};
        int[] k = new int[rank];
        int[] st = new int[rank];
        int[] dil = new int[rank];
        int[] pb = new int[rank];
        int[] pe = new int[rank];
        boolean dilated = false;
        for (int a = 0; a < rank; a++) {
            k[a] = 1 + r.nextInt(3);
            st[a] = 1 + r.nextInt(2);
            dil[a] = feature == Feature.DILATED_CONV || feature == Feature.DILATED_MAXPOOL ? 1 + r.nextInt(3) : 1;
            dilated |= dil[a] > 1 && k[a] > 1;
            int span = dil[a] * (k[a] - 1) + 1;
            pb[a] = span > 1 ? r.nextInt(Math.min(2, span)) : 0;
            pe[a] = feature == Feature.LONG_END_PAD ? r.nextInt(span) : (span > 1 ? r.nextInt(2) : 0);
        }
        if ((feature == Feature.DILATED_CONV || feature == Feature.DILATED_MAXPOOL) && !dilated) {
            return null;
        }
        Window win = new Window(k, st, pb, pe, dil);
        for (int a = 0; a < rank; a++) {
            int out = win.outputLength(a, spatial[a]);
            if (out < 1 || (out - 1) * st[a] - pb[a] > spatial[a] - 1) {
                return null;
            }
        }
        Shape in = twoD ? Shape.of(c, h, w) : Shape.of(c, w);
        Op op;
        Kind kind;
        int out = c;
        switch (feature) {
            case GROUPED -> {
                kind = Kind.CONV;
                out = groups * (1 + r.nextInt(3));
                op = new Op.Conv(randn(r, convDims(out, c / groups, k)), randn(r, out), win, groups);
            }
            case DILATED_CONV -> {
                kind = Kind.CONV;
                out = 1 + r.nextInt(4);
                op = new Op.Conv(randn(r, convDims(out, c, k)), randn(r, out), win, 1);
            }
            case DILATED_MAXPOOL -> {
                kind = Kind.MAXPOOL;
                op = new Op.MaxPool(win);
            }
            default -> {
                kind = r.nextBoolean() ? Kind.MAXPOOL : Kind.AVGPOOL;
                op = kind == Kind.MAXPOOL ? new Op.MaxPool(win) : new Op.AvgPool(win, false);
            }
        }
        Graph g = new Graph("feat" + seed, "x", in, List.of(new Node("layer", op, List.of("x"), "y")), "y");
        List<double[]> calib = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            calib.add(input(r, in));
        }
        int bits = r.nextBoolean() ? 8 : 4 + r.nextInt(9);
        QuantizedGraph q = new Quantize(QuantConfig.defaults().withBits(bits, bits)).run(g, calib, new PassContext());
        ParallelismPlan plan = ParallelismPlan.serial().withInputElems(divisor(r, c));
        if (kind == Kind.CONV) {
            plan = plan.with("layer", divisor(r, out), divisor(r, c));
        } else if (r.nextBoolean()) {
            plan = plan.with("layer", divisor(r, c), 1);
        }
        List<long[]> xs = new ArrayList<>();
        for (int i = 0; i < inferences; i++) {
            xs.add(IntegerInterpreter.quantizeInput(q, input(r, in)));
        }
        String desc = "seed " + seed + ": " + feature + " " + op.kind() + (feature == Feature.GROUPED ? " groups " + groups : "") + " " + in
                + " -> " + out + " " + win + " " + bits + " bits, plan " + plan.folds() + " in " + plan.inputElems();
        return new Layer(q, plan, xs, desc, kind, twoD, win);
    }

    /** What follows the conv of a {@link #randomPolyphase} network. */
    enum Tail { NONE, RELU, RELU_MAXPOOL, DENSE }

    /**
     * A seeded random 2D conv that computes several output pixels per window
     * ({@link io.streamfold.hw.Polyphase}): one input channel half the time (else 2 or 3), kernel
     * 1..3 x 1..4, padding 0..K-1 on each side, vertical stride and dilation 1..2, a pixel count
     * drawn from those the layer can take, random PE/SIMD of that form and a random input beat
     * (a divisor of a pixel or whole pixels of a row); then nothing, a Relu (fused into the unit),
     * a Relu and a 2x2 max pool (unplanned half the time, so it takes what fits of the wide beats),
     * or a Dense.
     */
    static Layer randomPolyphase(long seed, int inferences) {
        Random r = new Random(seed * 104729 + 7);
        while (true) {
            Layer l = attemptPolyphase(r, seed, inferences);
            if (l != null) {
                return l;
            }
        }
    }

    /** The first polyphase network from {@code seed} on that satisfies {@code want}. */
    static Layer firstPolyphase(long seed, int inferences, java.util.function.Predicate<Layer> want) {
        for (long s = seed; ; s++) {
            Layer l = randomPolyphase(s, inferences);
            if (want.test(l)) {
                return l;
            }
        }
    }

    private static Layer attemptPolyphase(Random r, long seed, int inferences) {
        int c = r.nextBoolean() ? 1 : 2 + r.nextInt(2);
        int out = 1 + r.nextInt(4);
        int[] k = {1 + r.nextInt(3), 1 + r.nextInt(4)};
        int[] st = {1 + r.nextInt(2), 1};
        int[] dil = {k[0] > 1 ? 1 + r.nextInt(2) : 1, 1};
        int spanH = dil[0] * (k[0] - 1) + 1;
        int[] pb = {r.nextInt(spanH), r.nextInt(k[1])};
        int[] pe = {r.nextInt(spanH), r.nextInt(k[1])};
        int h = 2 + r.nextInt(5);
        int w = 2 * (1 + r.nextInt(5));
        Window win = new Window(k, st, pb, pe, dil);
        int[] spatial = {h, w};
        for (int a = 0; a < 2; a++) {
            int o = win.outputLength(a, spatial[a]);
            if (o < 1 || (o - 1) * st[a] - pb[a] > spatial[a] - 1) {
                return null;
            }
        }
        Shape in = Shape.of(c, h, w);
        List<Node> nodes = new ArrayList<>();
        nodes.add(new Node("layer", new Op.Conv(randn(r, convDims(out, c, k)), randn(r, out), win, 1), List.of("x"), "y"));
        Tail tail = Tail.values()[r.nextInt(Tail.values().length)];
        int oh = win.outputLength(0, h);
        int ow = win.outputLength(1, w);
        if (tail == Tail.RELU_MAXPOOL && (oh < 2 || ow < 2)) {
            tail = Tail.RELU;
        }
        String last = "y";
        switch (tail) {
            case NONE -> { }
            case RELU -> {
                nodes.add(new Node("relu", new Op.Relu(), List.of("y"), "z"));
                last = "z";
            }
            case RELU_MAXPOOL -> {
                nodes.add(new Node("relu", new Op.Relu(), List.of("y"), "z"));
                nodes.add(new Node("pool", new Op.MaxPool(Window.pool(2, 2)), List.of("z"), "p"));
                last = "p";
            }
            case DENSE -> {
                nodes.add(new Node("flat", new Op.Flatten(), List.of("y"), "f"));
                nodes.add(new Node("fc", new Op.Dense(randn(r, 3, out * oh * ow), randn(r, 3)), List.of("f"), "d"));
                last = "d";
            }
        }
        Graph g = new Graph("poly" + seed, "x", in, nodes, last);
        List<double[]> calib = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            calib.add(input(r, in));
        }
        int bits = r.nextBoolean() ? 8 : 4 + r.nextInt(9);
        QuantizedGraph q = new Quantize(QuantConfig.defaults().withBits(bits, bits)).run(g, calib, new PassContext());
        List<Integer> choices = io.streamfold.hw.Polyphase.choices(q, "layer");
        if (choices.isEmpty()) {
            return null;
        }
        int px = choices.get(r.nextInt(Math.min(3, choices.size())));
        List<Integer> widths = new ArrayList<>();
        for (int e = 1; e <= c * w; e++) {
            if (io.streamfold.hw.LowerToHardware.inputWidthFits(in, e)) {
                widths.add(e);
            }
        }
        ParallelismPlan plan = ParallelismPlan.serial().withInputElems(widths.get(r.nextInt(widths.size())))
                .with("layer", new ParallelismPlan.Fold(divisor(r, px * out), divisor(r, px * c), px));
        if (tail == Tail.RELU_MAXPOOL && r.nextBoolean()) {
            plan = plan.with("pool", divisor(r, out), 1);
        }
        if (tail == Tail.DENSE) {
            plan = plan.with("fc", divisor(r, 3), divisor(r, out * oh * ow));
        }
        List<long[]> xs = new ArrayList<>();
        for (int i = 0; i < inferences; i++) {
            xs.add(IntegerInterpreter.quantizeInput(q, input(r, in)));
        }
        String desc = "seed " + seed + ": polyphase conv " + in + " -> " + out + " " + win + " then " + tail + ", " + bits
                + " bits, plan " + plan.folds() + " in " + plan.inputElems();
        return new Layer(q, plan, xs, desc, Kind.CONV, true, win);
    }

    private static int[] convDims(int out, int inPerGroup, int[] k) {
        int[] d = new int[2 + k.length];
        d[0] = out;
        d[1] = inPerGroup;
        System.arraycopy(k, 0, d, 2, k.length);
        return d;
    }

    private static int divisor(Random r, int n) {
        List<Integer> ds = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            if (n % i == 0) {
                ds.add(i);
            }
        }
        return ds.get(r.nextInt(ds.size()));
    }

    private static Tensor randn(Random r, int... dims) {
        Shape s = new Shape(dims);
        double[] d = new double[s.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = 0.5 * r.nextGaussian();
        }
        return Tensor.of(s, d);
    }

    private static double[] input(Random r, Shape s) {
        double[] x = new double[s.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = 2 * r.nextGaussian();
        }
        return x;
    }
}
