package io.streamfold.quant;

import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.ir.Window;
import io.streamfold.passes.PassContext;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Chooses a fixed-point format for every value and the integer parameters of every node:
 * {@code Graph (float) => QuantizedGraph}.
 *
 * <p>Formats: the graph input and the output of every computing node (Dense, Conv, Affine,
 * LeakyRelu, Clip, pooling averages, Add) get {@code Q(actBits, fracFor(range))} from their
 * calibrated range; Relu, MaxPool, Flatten and Reshape keep their input's format (no hardware);
 * Sigmoid, Tanh and Softmax, whose outputs lie in [-1, 1], get {@code Q(actBits, actBits-1)}
 * (1.0 itself saturates to one step below it). A value read only by Relu/Clip nodes is
 * calibrated to the range they let through (see {@code narrowBeforeClamps}). A per-layer override
 * replaces the width and/or frac of a node's output (a pass-through node then requantizes), and
 * the width of its weights.
 *
 * <p>Weights get {@code Q(weightBits, fracFor(max|w|))} per tensor or per output channel (an
 * Affine's scales always per channel); the bias is rounded into the accumulator's frac;
 * accumulators are sized to the exact worst case ({@link IntRange}). Tables: Sigmoid/Tanh index
 * by the input itself when it has at most {@code lutIndexBits} bits, else by a requantized index
 * ({@link Lut#forInput}); Softmax by {@link ExpTable#forDifferences}. Scalar constants (LeakyRelu
 * slopes, averaging reciprocals) have {@code constBits}. Widths above 62 bits are
 * {@link Diagnostic#SF_BAD_QUANT} errors naming the node. A remaining BatchNorm is quantized as
 * its {@link Op.BatchNorm#toAffine() affine}.
 */
public final class Quantize {

    /** Stable pass name, used for counters and notes. */
    public static final String NAME = "quantize";

    private final QuantConfig config;

    public Quantize(QuantConfig config) {
        this.config = config;
    }

    public String name() {
        return NAME;
    }

    public QuantConfig config() {
        return config;
    }

    /**
     * The folded graph {@link #run(Graph, List, PassContext)} calibrates: a large common offset of
     * softmax logits moved into the producing Dense layer's bias ({@link SoftmaxOffset}). Whoever
     * calibrates a folded graph by other means (the mixed-precision search) starts from this one, so
     * that formats it chooses are those this class would use for the same samples.
     */
    public static Graph centreSoftmaxLogits(Graph folded, List<double[]> samples, PassContext ctx) {
        return SoftmaxOffset.run(folded, samples, ctx);
    }

    /**
     * Calibrates on {@code samples} (flat, channels-first inputs) and quantizes; first moves a
     * large common offset of softmax logits into the producing Dense layer's bias
     * ({@link SoftmaxOffset}: the quantized graph's float graph is then the shifted one). With
     * {@link QuantConfig.CalibrationMethod#AUTO} the candidates are tried on the same samples
     * ({@link AutoCalibration}) and the choice is noted in {@code ctx}.
     */
    public QuantizedGraph run(Graph folded, List<double[]> samples, PassContext ctx) {
        // before calibration, so that the logits' ranges are those of the centred logits
        Graph g = centreSoftmaxLogits(folded, samples, ctx);
        QuantConfig.CalibrationMethod m = config.calibration();
        Calibration.Observation obs = Calibration.observe(g, samples, m != QuantConfig.CalibrationMethod.MAX_ABS);
        if (m == QuantConfig.CalibrationMethod.AUTO) {
            AutoCalibration.Choice c = AutoCalibration.choose(config, g, obs, samples);
            String how = describe(g, c.summary());
            ctx.note(NAME, "calibration", how);
            return run(g, c.ranges(), ctx).withCalibration(how);
        }
        String how = AutoCalibration.name(m) + (m == QuantConfig.CalibrationMethod.PERCENTILE ? " " + config.percentile() : "");
        return run(g, obs.ranges(m, config.percentile(), widths(g)), ctx).withCalibration(describe(g, how));
    }

    /**
     * How the formats were chosen: {@code method}, unless overrides give the frac of some of the
     * formats calibration would choose ({@code "...; 3 of 7 formats from FILE"}) or of all of them
     * ({@code "none: every format from FILE"}; the method then decided nothing). FILE is the
     * overrides file's name.
     */
    private String describe(Graph g, String method) {
        int calibrated = 0;
        int pinned = 0;
        QuantConfig.LayerOverride in = checkOverrides(g);
        calibrated++;
        pinned += in != null && in.actFrac() != null ? 1 : 0;
        for (Node n : g.nodes()) {
            QuantConfig.LayerOverride o = config.layer(n.name());
            boolean overridden = o != null && (o.actBits() != null || o.actFrac() != null);
            boolean unit = n.op() instanceof Op.Softmax || (n.op() instanceof Op.Tabulated t && t.unitRange());
            if ((passesThrough(n.op()) && !overridden) || (unit && !overridden)) {
                continue;
            }
            calibrated++;
            pinned += o != null && o.actFrac() != null ? 1 : 0;
        }
        if (pinned == 0) {
            return method;
        }
        // The file's name alone: an output folder's report then reads the same whether its design
        // came from a target (written to quant-config.json) or from --config that file.
        String from = config.overridesFile() != null ? java.nio.file.Path.of(config.overridesFile()).getFileName().toString() : "the overrides";
        return pinned == calibrated ? "none: every format from " + from : method + "; " + pinned + " of " + calibrated + " formats from " + from;
    }

    /**
     * The width of every value's format (input first, then each node output), as {@link #run}
     * will choose it: an override's width, else the input's width for a node that passes its
     * input through (Relu, MaxPool, Flatten, Reshape without an activation override), else the
     * default activation width. MSE calibration searches each value's clip at this width.
     */
    public Map<String, Integer> widths(Graph g) {
        QuantConfig.LayerOverride inputOverride = checkOverrides(g);
        Map<String, Integer> w = new LinkedHashMap<>();
        w.put(g.input(), inputOverride != null && inputOverride.actBits() != null ? inputOverride.actBits() : config.actBits());
        for (Node n : g.nodes()) {
            QuantConfig.LayerOverride o = config.layer(n.name());
            boolean overridden = o != null && (o.actBits() != null || o.actFrac() != null);
            if (passesThrough(n.op()) && !overridden) {
                w.put(n.output(), w.get(n.input()));
            } else {
                w.put(n.output(), o != null && o.actBits() != null ? o.actBits() : defaultBits(g, n));
            }
        }
        return w;
    }

    /**
     * Guard bits added to the default width of a standalone affine (an unfolded BatchNorm) whose
     * every reader is an Add. The affine scales each channel by its own factor (up to 6.7 in
     * cnn_residual), so one shared {@code actBits} format rounds the small-range channels
     * coarsely, and the Add rounds the sum again at {@code actBits}; with 8 more bits the Add's
     * rounding is the only one that counts, as if the multiply-add were fused into the Add. The
     * cost is that channel's FIFO and the Add's alignment adder, {@code GUARD_BITS} wider; no
     * multiplier gets wider, because only adders read the value.
     */
    public static final int AFFINE_GUARD_BITS = 8;

    /**
     * Guard bits stop at this width: beyond it the activations are wide enough that the second
     * rounding is negligible, and the Add's aligned sum must stay within 62 bits.
     */
    public static final int GUARDED_MAX_BITS = 32;

    /**
     * The width of node {@code n}'s output without an override: {@code actBits}, plus
     * {@link #AFFINE_GUARD_BITS} for an affine read only by Add nodes, as far as
     * {@link #GUARDED_MAX_BITS}.
     */
    public int defaultBits(Graph g, Node n) {
        boolean affine = n.op() instanceof Op.Affine || n.op() instanceof Op.BatchNorm;
        if (!affine || n.output().equals(g.output())) {
            return config.actBits();
        }
        List<Node> readers = g.consumersOf(n.output());
        for (Node r : readers) {
            if (!(r.op() instanceof Op.Add)) {
                return config.actBits();
            }
        }
        int a = config.actBits();
        return readers.isEmpty() ? a : Math.max(a, Math.min(a + AFFINE_GUARD_BITS, GUARDED_MAX_BITS));
    }

    /** Quantizes with given ranges (max |value| estimates) per value name. */
    public QuantizedGraph run(Graph g, Map<String, Double> calibrated, PassContext ctx) {
        QuantConfig.LayerOverride inputOverride = checkOverrides(g);
        Map<String, Double> ranges = narrowBeforeClamps(g, calibrated, ctx);
        Map<String, QFormat> formats = new LinkedHashMap<>();
        Map<String, QOp> ops = new LinkedHashMap<>();
        formats.put(g.input(), calibrated(g.input(), inputOverride, config.actBits(), ranges, g.input(), ctx));
        for (Node n : g.nodes()) {
            List<QFormat> in = new ArrayList<>();
            for (String v : n.inputs()) {
                in.add(formats.get(v));
            }
            QOp q = build(g, n, in, ranges, ctx);
            formats.put(n.output(), q.out());
            ops.put(n.name(), q);
            ctx.note(NAME, n.name(), LayerReport.of(n, q, ranges.getOrDefault(n.output(), Double.NaN)).toString());
        }
        return new QuantizedGraph(g, formats, ops, ranges);
    }

    /**
     * A value read only by Relu and Clip nodes needs no range beyond what they let through:
     * saturating it there changes nothing after them (a negative value saturated to the format's
     * minimum is still 0 after a Relu; one saturated beyond a Clip bound is still clamped to it).
     * So its range becomes that of the Relu outputs (their largest value) or the Clip bounds
     * ({@code max(|min|, |max|)}), if smaller. This gains precision for the producer; a
     * pass-through Relu inherits the finer format.
     */
    private static Map<String, Double> narrowBeforeClamps(Graph g, Map<String, Double> ranges, PassContext ctx) {
        Map<String, Double> out = new LinkedHashMap<>(ranges);
        for (String v : g.shapes().keySet()) {
            List<Node> readers = g.consumersOf(v);
            if (v.equals(g.output()) || readers.isEmpty() || !ranges.containsKey(v)) {
                continue;
            }
            double r = 0;
            for (Node n : readers) {
                if (n.op() instanceof Op.Relu && ranges.containsKey(n.output())) {
                    r = Math.max(r, ranges.get(n.output()));
                } else if (n.op() instanceof Op.Clip c) {
                    r = Math.max(r, Math.max(Math.abs(c.min()), Math.abs(c.max())));
                } else {
                    r = Double.POSITIVE_INFINITY;
                }
            }
            if (r < ranges.get(v)) {
                out.put(v, r);
                ctx.count(NAME, "ranges narrowed to a following relu or clip");
            }
        }
        return out;
    }

    /**
     * True for the ops whose output keeps its input's format unless an override says otherwise:
     * Relu, MaxPool, Flatten and Reshape (no arithmetic that needs a format of its own).
     */
    public static boolean passesThrough(Op op) {
        return op instanceof Op.Relu || op instanceof Op.MaxPool || op instanceof Op.Flatten || op instanceof Op.Reshape;
    }

    /** True for the ops with a weight tensor (or an affine's scales) whose width {@code weight_bits} sets. */
    public static boolean hasWeights(Op op) {
        return op instanceof Op.Dense || op instanceof Op.Conv || op instanceof Op.Affine || op instanceof Op.BatchNorm;
    }

    /** Checks that every override names a node or the graph input; returns the input's override. */
    private QuantConfig.LayerOverride checkOverrides(Graph g) {
        try {
            return checkOverrideNames(g);
        } catch (ModelException e) {
            throw config.overridesFile() == null ? e : e.inFile(config.overridesFile());
        }
    }

    private QuantConfig.LayerOverride checkOverrideNames(Graph g) {
        QuantConfig.LayerOverride input = config.input();
        TreeSet<String> names = new TreeSet<>();
        for (Node n : g.nodes()) {
            names.add(n.name());
        }
        for (Map.Entry<String, QuantConfig.LayerOverride> e : config.layers().entrySet()) {
            String k = e.getKey();
            if (names.contains(k)) {
                continue;
            }
            if (k.equals("input") || k.equals(g.input())) {
                if (e.getValue().weightBits() != null) {
                    throw new ModelException(Diagnostic.SF_BAD_QUANT, k, "the graph input has no weights", "remove \"weight_bits\"");
                }
                input = e.getValue();
                continue;
            }
            String known = String.join(", ", names.size() <= 12 ? names : List.copyOf(names).subList(0, 12)) + (names.size() > 12 ? ", ..." : "");
            throw new ModelException(Diagnostic.SF_BAD_QUANT, k, "no node of this name in graph " + g.name(), "nodes are: " + known);
        }
        return input;
    }

    private static double range(Map<String, Double> ranges, String value, String node) {
        Double r = ranges.get(value);
        if (r == null) {
            throw new ModelException(Diagnostic.SF_BAD_QUANT, node, "no calibrated range for value '" + value + "'", "calibrate on samples of this graph");
        }
        return r;
    }

    /** Q(bits, frac) from an override or the defaults, frac from the value's range unless given. */
    private QFormat calibrated(String node, QuantConfig.LayerOverride o, int defaultBits, Map<String, Double> ranges, String value,
                               PassContext ctx) {
        int bits = o != null && o.actBits() != null ? o.actBits() : defaultBits;
        if (o != null && o.actFrac() != null) {
            ctx.count(NAME, "formats overridden");
            return new QFormat(bits, o.actFrac());
        }
        double range = range(ranges, value, node);
        if (!Double.isFinite(range) || range < 0) {
            throw new ModelException(Diagnostic.SF_BAD_QUANT, node, "calibrated range of '" + value + "' is " + range, "check the calibration samples");
        }
        ctx.count(NAME, "formats from calibration");
        return new QFormat(bits, Fixed.fracFor(range, bits));
    }

    /** The input's format, unless an override asks for another one (then the node requantizes). */
    private QFormat follow(String node, QFormat in, String value, Map<String, Double> ranges, PassContext ctx) {
        QuantConfig.LayerOverride o = config.layer(node);
        if (o == null || (o.actBits() == null && o.actFrac() == null)) {
            ctx.count(NAME, "pass-through");
            return in;
        }
        return calibrated(node, o, config.actBits(), ranges, value, ctx);
    }

    /** Outputs within [-1, 1]: Q(bits, bits-1) unless overridden. */
    private QFormat unitRange(String node, PassContext ctx) {
        QuantConfig.LayerOverride o = config.layer(node);
        int bits = o != null && o.actBits() != null ? o.actBits() : config.actBits();
        if (o != null && o.actFrac() != null) {
            ctx.count(NAME, "formats overridden");
            return new QFormat(bits, o.actFrac());
        }
        return new QFormat(bits, bits - 1);
    }

    private QOp build(Graph g, Node n, List<QFormat> in, Map<String, Double> ranges, PassContext ctx) {
        try {
            return n.op().accept(new Builder(g, n, in, ranges, ctx));
        } catch (ArithmeticException e) {
            throw new ModelException(Diagnostic.SF_BAD_QUANT, n.name(), "fixed-point registers exceed 64 bits (" + e.getMessage() + ")",
                    "use fewer weight or activation bits for this layer");
        }
    }

    /** The integer parameters of one node, per op kind. */
    private final class Builder implements Op.Visitor<QOp>, Op.PointwiseVisitor<QOp> {
        private final Graph g;
        private final Node n;
        private final String name;
        private final List<QFormat> in;
        private final QFormat x;
        private final Map<String, Double> ranges;
        private final PassContext ctx;
        private final QuantConfig.LayerOverride o;
        private final int wBits;

        Builder(Graph g, Node n, List<QFormat> in, Map<String, Double> ranges, PassContext ctx) {
            this.g = g;
            this.n = n;
            this.name = n.name();
            this.in = in;
            this.x = in.get(0);
            this.ranges = ranges;
            this.ctx = ctx;
            this.o = config.layer(name);
            this.wBits = o != null && o.weightBits() != null ? o.weightBits() : config.weightBits();
        }

        /** An override of the weight width on an op without weights is a mistake worth reporting. */
        private void noWeights() {
            if (o != null && o.weightBits() != null) {
                throw new ModelException(Diagnostic.SF_BAD_QUANT, name, n.op().kind() + " has no weights", "remove \"weight_bits\"");
            }
        }

        private QFormat calibratedOut() {
            return calibrated(name, o, defaultBits(g, n), ranges, n.output(), ctx);
        }

        private QFormat followIn() {
            return follow(name, x, n.output(), ranges, ctx);
        }

        @Override
        public QOp dense(Op.Dense d) {
            ctx.count(NAME, "layers quantized");
            QFormat out = calibratedOut();
            QWeights w = QWeights.quantize(d.weight(), wBits, config.perChannel());
            long[] bias = alignBias(name, d.bias(), w, x);
            return new QOp.QDense(x, w, bias, accBits(name, w, bias, x), out);
        }

        @Override
        public QOp conv(Op.Conv c) {
            ctx.count(NAME, "layers quantized");
            QFormat out = calibratedOut();
            QWeights w = QWeights.quantize(c.weight(), wBits, config.perChannel());
            long[] bias = alignBias(name, c.bias(), w, x);
            return new QOp.QConv(x, w, bias, c.window(), c.group(), accBits(name, w, bias, x), out);
        }

        @Override
        public QOp batchNorm(Op.BatchNorm bn) {
            QOp q = affine(bn.toAffine());
            ctx.count(NAME, "batchnorms quantized as affine");
            return q;
        }

        @Override
        public QOp affine(Op.Affine a) {
            ctx.count(NAME, "layers quantized");
            QFormat out = calibratedOut();
            // An affine's constants differ per channel anyway, so its scales always get one
            // frac per channel: a per-tensor format would starve the small-scale channels.
            QWeights s = QWeights.quantize(a.scale(), wBits, true);
            long[] shift = alignBias(name, a.shift(), s, x);
            return new QOp.QAffine(x, s, shift, accBits(name, s, shift, x), out);
        }

        @Override
        public QOp prelu(Op.PRelu p) {
            noWeights();
            QFormat out = calibratedOut();
            double max = 0;
            for (int c = 0; c < p.channels(); c++) {
                max = Math.max(max, Math.abs(p.slope().at(c)));
            }
            // One format for every slope keeps one requantization shift for the negative branch.
            QFormat af = new QFormat(config.constBits(), Fixed.fracFor(max, config.constBits()));
            Fixed.checkWidth(x.bits() + af.bits(), name, "the slope product");
            long[] alpha = new long[p.channels()];
            for (int c = 0; c < alpha.length; c++) {
                alpha[c] = af.quantize(p.slope().at(c));
            }
            return new QOp.QPRelu(x, alpha, af.bits(), af.frac(), out);
        }

        @Override
        public QOp pointwise(Op.Pointwise p) {
            noWeights();
            return p.accept((Op.PointwiseVisitor<QOp>) this);
        }

        @Override
        public QOp relu(Op.Relu r) {
            return new QOp.QRelu(x, followIn());
        }

        @Override
        public QOp leakyRelu(Op.LeakyRelu l) {
            QFormat out = calibratedOut();
            QFormat af = new QFormat(config.constBits(), Fixed.fracFor(Math.abs(l.alpha()), config.constBits()));
            Fixed.checkWidth(x.bits() + af.bits(), name, "the slope product");
            return new QOp.QLeakyRelu(x, af.quantize(l.alpha()), af.bits(), af.frac(), out);
        }

        @Override
        public QOp clip(Op.Clip c) {
            QFormat out = calibratedOut();
            return new QOp.QClip(x, out.quantize(c.min()), out.quantize(c.max()), out);
        }

        @Override
        public QOp tabulated(Op.Tabulated t) {
            ctx.count(NAME, "luts built");
            QFormat out = t.unitRange() ? unitRange(name, ctx) : calibratedOut();
            return new QOp.QLut(t.kind(), x, Lut.forInput(LutFunction.of(t), x, out, config.lutIndexBits()));
        }

        @Override
        public QOp softmax(Op.Softmax s) {
            noWeights();
            ctx.count(NAME, "luts built");
            return Quantize.this.softmax(name, s, g.shape(n.input()), x, unitRange(name, ctx));
        }

        @Override
        public QOp maxPool(Op.MaxPool p) {
            noWeights();
            return new QOp.QMaxPool(x, p.window(), followIn());
        }

        @Override
        public QOp avgPool(Op.AvgPool p) {
            noWeights();
            QFormat out = calibratedOut();
            return Quantize.this.avgPool(name, p, g.shape(n.input()), g.shape(n.output()), x, out);
        }

        @Override
        public QOp globalAvgPool(Op.GlobalAvgPool p) {
            noWeights();
            QFormat out = calibratedOut();
            int count = g.shape(n.input()).perChannel();
            int k = recipFrac(name, count);
            long r = Fixed.reciprocalRound(count, k);
            IntRange sum = IntRange.of(x).times(count);
            return new QOp.QGlobalAvgPool(x, count, r, k, IntRange.point(r).bits(), width(name, sum, "the window sum"),
                    width(name, sum.times(r), "the scaled sum"), out);
        }

        @Override
        public QOp flatten(Op.Flatten f) {
            noWeights();
            return new QOp.QFlatten(x, followIn());
        }

        @Override
        public QOp reshape(Op.Reshape r) {
            noWeights();
            return new QOp.QReshape(x, r.target(), followIn());
        }

        @Override
        public QOp add(Op.Add a) {
            noWeights();
            QFormat b = in.get(1);
            QFormat out = calibratedOut();
            int frac = Math.max(x.frac(), b.frac());
            IntRange sum = IntRange.of(x).shiftLeft(frac - x.frac()).plus(IntRange.of(b).shiftLeft(frac - b.frac()));
            return new QOp.QAdd(x, b, frac, width(name, sum, "the aligned sum"), out);
        }
    }

    /** Rounds a per-channel bias (or shift) into the accumulator frac {@code w.frac(c) + x.frac}. */
    private static long[] alignBias(String node, Tensor bias, QWeights w, QFormat x) {
        long[] b = new long[bias.size()];
        for (int c = 0; c < b.length; c++) {
            double scaled = Math.scalb(bias.at(c), w.frac(c) + x.frac());
            if (Math.abs(scaled) >= 0x1p61) {
                throw new ModelException(Diagnostic.SF_BAD_QUANT, node,
                        "bias[" + c + "] = " + bias.at(c) + " does not fit a 62-bit accumulator at frac " + (w.frac(c) + x.frac()),
                        "the weights are tiny next to the bias; use fewer weight bits or a coarser input format");
            }
            b[c] = Fixed.roundHalfUp(scaled);
        }
        return b;
    }

    /**
     * Exact worst-case accumulator width over all output channels: the sum of every weight times
     * the input range, with and without the bias (so any summation order fits).
     */
    private static int accBits(String node, QWeights w, long[] bias, QFormat x) {
        IntRange xr = IntRange.of(x);
        int per = w.perChannelSize();
        int bits = 1;
        for (int c = 0; c < w.channels(); c++) {
            IntRange s = IntRange.point(0);
            for (int i = c * per; i < (c + 1) * per; i++) {
                s = s.plus(xr.times(w.at(i)));
            }
            bits = Math.max(bits, s.union(s.plus(IntRange.point(bias[c]))).bits());
        }
        Fixed.checkWidth(w.bits() + x.bits(), node, "a product");
        return Fixed.checkWidth(bits, node, "the accumulator");
    }

    private static int width(String node, IntRange r, String what) {
        return Fixed.checkWidth(r.bits(), node, what);
    }

    /** Reciprocal frac so that 1/minCount uses the full constant width. */
    private int recipFrac(String node, int minCount) {
        int k = Fixed.fracFor(1.0 / minCount, config.constBits());
        if (k > 61) {
            throw new ModelException(Diagnostic.SF_BAD_QUANT, node, "the averaging reciprocal needs 2^" + k, "use fewer constant bits");
        }
        return k;
    }

    private QOp avgPool(String name, Op.AvgPool p, Shape xs, Shape ys, QFormat x, QFormat out) {
        Window w = p.window();
        boolean twoD = w.rank() == 2;
        int inH = twoD ? xs.dim(1) : 1;
        int inW = twoD ? xs.dim(2) : xs.dim(1);
        int outH = twoD ? ys.dim(1) : 1;
        int outW = twoD ? ys.dim(2) : ys.dim(1);
        int kh = twoD ? w.kernel(0) : 1;
        int sh = twoD ? w.stride(0) : 1;
        int pt = twoD ? w.padBegin(0) : 0;
        int ax = twoD ? 1 : 0;
        int[] counts = new int[outH * outW];
        for (int oy = 0; oy < outH; oy++) {
            for (int ox = 0; ox < outW; ox++) {
                int cy = overlap(oy * sh - pt, kh, twoD ? w.dilation(0) : 1, inH);
                int cx = overlap(ox * w.stride(ax) - w.padBegin(ax), w.kernel(ax), w.dilation(ax), inW);
                counts[oy * outW + ox] = p.countIncludePad() ? w.kernelSize() : cy * cx;
            }
        }
        int min = Integer.MAX_VALUE;
        int max = 0;
        for (int c : counts) {
            if (c < 1) {
                throw new ModelException(Diagnostic.SF_BAD_QUANT, name, "a pooling window lies entirely in the padding", null);
            }
            min = Math.min(min, c);
            max = Math.max(max, c);
        }
        int k = recipFrac(name, min);
        long[] recip = new long[counts.length];
        long rMax = 0;
        for (int i = 0; i < counts.length; i++) {
            recip[i] = Fixed.reciprocalRound(counts[i], k);
            rMax = Math.max(rMax, recip[i]);
        }
        IntRange sum = IntRange.of(x).times(max);
        return new QOp.QAvgPool(x, w, p.countIncludePad(), counts, recip, k, IntRange.point(rMax).bits(),
                width(name, sum, "the window sum"), width(name, sum.times(rMax), "the scaled sum"), out);
    }

    /** Number of taps {@code start + j*d} ({@code 0 <= j < k}) inside {@code [0, n)}. */
    private static int overlap(int start, int k, int d, int n) {
        int count = 0;
        for (int j = 0; j < k; j++) {
            int p = start + j * d;
            count += p >= 0 && p < n ? 1 : 0;
        }
        return count;
    }

    /**
     * Softmax constants: the exp table has {@code eFrac = max(out.frac, 1) + 3} fractional bits
     * (3 guard bits below the output step) and two integer bits so 1.0 is exact; the reciprocal
     * has {@code max(out.frac, 1) + 2}, so truncating it moves a probability by at most a quarter
     * of an output step.
     */
    private QOp softmax(String name, Op.Softmax s, Shape xs, QFormat x, QFormat out) {
        int base = Math.max(out.frac(), 1);
        int eFrac = base + 3;
        int rFrac = base + 2;
        int k = eFrac + rFrac;
        if (k > 62) {
            throw new ModelException(Diagnostic.SF_BAD_QUANT, name, "softmax output " + out + " needs a 2^" + k + " reciprocal", "use at most 28 output bits");
        }
        ExpTable exp = ExpTable.forDifferences(x, new QFormat(eFrac + 2, eFrac), config.lutIndexBits());
        int n = xs.dim(s.axis());
        IntRange sum = IntRange.point(1L << eFrac).times(n).union(IntRange.point(0));
        int recipBits = IntRange.point(1L << rFrac).bits();
        Fixed.checkWidth(eFrac + 2 + recipBits, name, "the softmax product");
        return new QOp.QSoftmax(x, s.axis(), exp, width(name, sum, "the exp sum"), k, recipBits, out);
    }
}
