package io.streamfold.flow;

import io.streamfold.bound.ErrorBound;
import io.streamfold.compile.Pipeline;
import io.streamfold.hw.DeviceTarget;
import io.streamfold.hw.DspMapping;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.PlanParallelism;
import io.streamfold.hw.Stage;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.passes.FoldBatchNorm;
import io.streamfold.quant.LayerReport;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QuantErrorReport;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.reference.FloatInterpreter;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.sim.CycleSimulator;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Renders {@code report.html}: one self-contained page (inline CSS and SVG, no scripts, no external
 * resources) with the folded graph and where each BatchNorm went, every layer's fixed-point format,
 * per-layer error histograms of the integer model against float64 on the given samples beside the
 * proved error bound ({@link ErrorBound}), and the hardware figures (stages, multipliers, II,
 * latency, utilization per stage).
 *
 * <p>Every string that comes from the model (node and value names, notes) goes through {@link #esc}.
 */
public final class HtmlReport {

    /**
     * Samples the error histograms are measured on: at most 64 (enough for stable shapes), fewer for
     * big models so that the report stays a small part of the conversion time (about 2e7 MACs in
     * all, but at least 8 samples).
     */
    static final int MAX_SAMPLES = 64;
    static final long MAC_BUDGET = 20_000_000L;
    private static final int BINS = 25;

    private HtmlReport() {
    }

    /**
     * The page for a compiled design; {@code samples} are float inputs (calibration or testbench),
     * {@code bound} the proved error bound over their per-element hull.
     */
    public static String render(Pipeline.Result c, HwDesign d, CycleSimulator.Result timing, List<double[]> samples, ErrorBound bound) {
        long perSample = Math.max(1, d.macs());
        int n = (int) Math.max(8, Math.min(MAX_SAMPLES, MAC_BUDGET / perSample));
        List<double[]> xs = samples.subList(0, Math.min(n, samples.size()));
        StringBuilder h = new StringBuilder(64 * 1024);
        String name = c.original().name();
        h.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>streamfold report: ").append(esc(name))
                .append("</title>\n<style>\n").append(CSS).append("</style>\n</head>\n<body>\n");
        h.append("<header><h1>").append(esc(name)).append("</h1><p>streamfold conversion report &middot; top module <code>")
                .append(esc(d.name())).append("</code> &middot; see also <code>report.json</code> and <code>plan.json</code></p></header>\n");
        summary(h, d, c.target(), timing);
        graph(h, c);
        formats(h, c.quantized());
        errors(h, c.quantized(), xs, samples.size(), bound);
        hardware(h, d, c.target(), timing, c.context().notes());
        h.append(IMPLEMENTATION_MARK).append("\n</body>\n</html>\n");
        return h.toString();
    }

    /** Where {@code streamfold synth} puts its figures in a page {@link #render} wrote. */
    static final String IMPLEMENTATION_MARK = "<!-- implementation -->";

    /** The page with the place-and-route figures of {@code r} in place of the mark (or of an earlier run's section). */
    public static String withImplementation(String page, Implementation.Result r) {
        StringBuilder h = new StringBuilder(IMPLEMENTATION_MARK).append("\n<section id=\"implementation\">\n<h2>5. Implementation (")
                .append(esc(r.device())).append(")</h2>\n<table>\n");
        row(h, "logic cells", r.logicCells() + " / " + r.logicCellsAvailable());
        row(h, "flip-flops", String.valueOf(r.flipFlops()));
        row(h, "DSP blocks (SB_MAC16)", String.valueOf(r.dsps()));
        row(h, "block RAMs (EBR)", String.valueOf(r.blockRams()));
        row(h, "SPRAM", String.valueOf(r.sprams()));
        row(h, "post-route Fmax", Double.isNaN(r.fmaxMhz()) ? "-" : fmt("%.2f MHz (clock %.1f MHz)", r.fmaxMhz(), r.clockMhz()));
        row(h, "verdict", r.meetsClock() ? "fits and meets the clock" : r.fits() ? "misses the clock" : r.failure());
        h.append("</table>\n</section>\n<!-- /implementation -->");
        int at = page.indexOf(IMPLEMENTATION_MARK);
        if (at < 0) {
            return page.replace("</body>", h + "\n</body>");
        }
        int end = page.indexOf("<!-- /implementation -->", at);
        return page.substring(0, at) + h + page.substring(end < 0 ? at + IMPLEMENTATION_MARK.length() : end + "<!-- /implementation -->".length());
    }

    private static void row(StringBuilder h, String k, String v) {
        h.append("<tr><th>").append(esc(k)).append("</th><td>").append(esc(v)).append("</td></tr>\n");
    }

    // ---------------------------------------------------------------------------------------------

    private static void summary(StringBuilder h, HwDesign d, DeviceTarget t, CycleSimulator.Result r) {
        h.append("<section class=\"cards\">\n");
        card(h, "stages", String.valueOf(d.stages().size()), "");
        card(h, "multipliers", String.valueOf(d.multipliers()), d.macs() + " MACs per inference");
        card(h, "DSP blocks", String.valueOf(t.dspBlocks(d)), dspNote(t));
        card(h, "initiation interval", d.initiationInterval() + " cycles", "measured " + r.measuredInterval());
        card(h, "latency", r.latency() + " cycles", "first input beat to first output beat");
        card(h, "multiplier utilization", fmt("%.1f%%", 100 * utilization(d)), "MACs / (II &times; multipliers)");
        card(h, "s_axis", d.inputChannel().elems() + " &times; " + d.inputFormat(), d.inputChannel().beats() + " beats per inference");
        card(h, "m_axis", d.outputChannel().elems() + " &times; " + d.outputFormat(), d.outputChannel().beats() + " beats per inference");
        h.append("</section>\n");
    }

    /** What the expected DSP count of target {@code t} counts. */
    private static String dspNote(DeviceTarget t) {
        if (t.dsps() == 0) {
            return "expected on " + esc(t.name()) + ": no DSP blocks, multipliers in logic";
        }
        return t.dspMapping() == DspMapping.SB_MAC16 ? "SB_MAC16 expected on " + esc(t.name()) + " (Yosys synth_ice40 -dsp)"
                : "one per multiplier (" + esc(t.name()) + ")";
    }

    private static void card(StringBuilder h, String label, String value, String note) {
        h.append("<div class=\"card\"><div class=\"label\">").append(label).append("</div><div class=\"value\">").append(value)
                .append("</div><div class=\"note\">").append(note).append("</div></div>\n");
    }

    private static void graph(StringBuilder h, Pipeline.Result c) {
        Graph orig = c.original();
        QuantizedGraph q = c.quantized();
        Graph g = q.graph();
        long bns = orig.nodes().stream().filter(n -> n.op().kind().equals("BatchNormalization") || n.op().kind().equals("BatchNorm")).count();
        h.append("<h2>1. Graph after BatchNorm folding</h2>\n<p>").append(orig.nodes().size()).append(" nodes in the source model (")
                .append(bns).append(" BatchNorm) &rarr; ").append(g.nodes().size())
                .append(" nodes after folding. Each BatchNorm was folded in float64, before quantizing.</p>\n");
        h.append("<div class=\"two\">\n<div class=\"diagram\">").append(graphSvg(g)).append("</div>\n<div>\n");
        h.append("<table>\n<tr><th>#</th><th>node</th><th>op</th><th>inputs</th><th>output shape</th><th>format</th></tr>\n");
        h.append("<tr><td class=\"n\">&ndash;</td><td><code>").append(esc(g.input())).append("</code></td><td>Input</td><td></td><td>")
                .append(g.inputShape()).append("</td><td><code>").append(q.inputFormat()).append("</code></td></tr>\n");
        int i = 0;
        for (Node n : g.nodes()) {
            h.append("<tr><td class=\"n\">").append(i++).append("</td><td><code>").append(esc(n.name())).append("</code></td><td><span class=\"op ")
                    .append(opClass(n.op().role())).append("\">").append(esc(n.op().kind())).append("</span></td><td>");
            for (int k = 0; k < n.inputs().size(); k++) {
                h.append(k > 0 ? ", " : "").append("<code>").append(esc(n.inputs().get(k))).append("</code>");
            }
            h.append("</td><td>").append(g.shape(n.output())).append("</td><td><code>").append(q.format(n.output())).append("</code></td></tr>\n");
        }
        h.append("</table>\n");
        h.append("<h3>What happened to each BatchNorm</h3>\n");
        Map<String, Integer> counters = c.context().counters(FoldBatchNorm.NAME);
        if (counters.isEmpty()) {
            h.append("<p>The model has no BatchNorm.</p>\n");
        } else {
            h.append("<ul class=\"counters\">");
            counters.forEach((k, v) -> h.append("<li><b>").append(v).append("</b> ").append(esc(k)).append("</li>"));
            h.append("</ul>\n<ul class=\"notes\">\n");
            String prefix = FoldBatchNorm.NAME + ": ";
            for (String note : c.context().notes()) {
                if (!note.startsWith(prefix)) {
                    continue;
                }
                String rest = note.substring(prefix.length());
                int colon = rest.indexOf(": ");
                if (colon > 0) {
                    h.append("<li><code>").append(esc(rest.substring(0, colon))).append("</code> ").append(esc(rest.substring(colon + 2)))
                            .append("</li>\n");
                } else {
                    h.append("<li>").append(esc(rest)).append("</li>\n");
                }
            }
            h.append("</ul>\n");
        }
        h.append("</div>\n</div>\n");
    }

    /** Boxes top to bottom in graph order; an edge that skips boxes (a residual) arcs on the right. */
    static String graphSvg(Graph g) {
        int w = 250;
        int bh = 38;
        int gap = 16;
        int x0 = 10;
        List<String> values = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        List<String> kinds = new ArrayList<>();
        List<Op.Role> roles = new ArrayList<>();
        values.add(g.input());
        labels.add(g.input());
        kinds.add("Input");
        roles.add(null);
        for (Node n : g.nodes()) {
            values.add(n.output());
            labels.add(n.name());
            kinds.add(n.op().kind());
            roles.add(n.op().role());
        }
        Map<String, Integer> producer = new HashMap<>();
        for (int i = 0; i < values.size(); i++) {
            producer.put(values.get(i), i);
        }
        int rows = values.size();
        int height = rows * (bh + gap) + 10;
        StringBuilder s = new StringBuilder();
        s.append("<svg width=\"").append(w + 90).append("\" height=\"").append(height)
                .append("\" viewBox=\"0 0 ").append(w + 90).append(' ').append(height).append("\" role=\"img\" aria-label=\"graph\">\n");
        s.append("<defs><marker id=\"arr\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">"
                + "<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#667\"/></marker></defs>\n");
        int arc = 0;
        for (int i = 1; i < rows; i++) {
            Node n = g.nodes().get(i - 1);
            for (String in : n.inputs()) {
                Integer p = producer.get(in);
                if (p == null) {
                    continue;
                }
                int yFrom = 5 + p * (bh + gap) + bh;
                int yTo = 5 + i * (bh + gap);
                if (p == i - 1) {
                    s.append("<line x1=\"").append(x0 + w / 2).append("\" y1=\"").append(yFrom).append("\" x2=\"").append(x0 + w / 2)
                            .append("\" y2=\"").append(yTo - 1).append("\" stroke=\"#667\" stroke-width=\"1.5\" marker-end=\"url(#arr)\"/>\n");
                } else {
                    int xr = x0 + w;
                    int bulge = 30 + 14 * (arc++ % 4);
                    int ya = yFrom - bh / 2;
                    int yb = yTo + bh / 2;
                    s.append("<path d=\"M").append(xr).append(',').append(ya).append(" C").append(xr + bulge).append(',').append(ya).append(' ')
                            .append(xr + bulge).append(',').append(yb).append(' ').append(xr + 2).append(',').append(yb)
                            .append("\" fill=\"none\" stroke=\"#a05a2c\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\" marker-end=\"url(#arr)\"/>\n");
                }
            }
        }
        for (int i = 0; i < rows; i++) {
            int y = 5 + i * (bh + gap);
            String fill = switch (opClass(roles.get(i))) {
                case "mac" -> "#dbe7f7";
                case "affine" -> "#fbe3c8";
                case "act" -> "#dcf0de";
                case "pool" -> "#ebe0f5";
                case "in" -> "#eeeeee";
                default -> "#f3f3f3";
            };
            s.append("<rect x=\"").append(x0).append("\" y=\"").append(y).append("\" width=\"").append(w).append("\" height=\"").append(bh)
                    .append("\" rx=\"6\" fill=\"").append(fill).append("\" stroke=\"#8a93a6\"/>\n");
            s.append("<text x=\"").append(x0 + 8).append("\" y=\"").append(y + 16).append("\" class=\"nm\">")
                    .append(esc(shorten(labels.get(i), 32))).append("</text>\n");
            s.append("<text x=\"").append(x0 + 8).append("\" y=\"").append(y + 31).append("\" class=\"sub\">").append(esc(kinds.get(i)))
                    .append(" &middot; ").append(g.shape(values.get(i))).append("</text>\n");
        }
        s.append("</svg>");
        return s.toString();
    }

    private static void formats(StringBuilder h, QuantizedGraph q) {
        h.append("<h2>2. Fixed-point formats</h2>\n<p><code>Q(bits,frac)</code>: two's complement with <i>frac</i> fractional bits; "
                + "round half up, saturate. Accumulators are sized to the exact worst case of the actual weights. Ranges calibrated by "
                + esc(q.calibration()) + ".</p>\n");
        h.append("<table>\n<tr><th>node</th><th>op</th><th>in &rarr; out</th><th>weights</th><th class=\"r\">acc bits</th>"
                + "<th class=\"r\">calibrated range</th><th>constants</th></tr>\n");
        for (LayerReport l : q.report()) {
            h.append("<tr><td><code>").append(esc(l.node())).append("</code></td><td>").append(esc(l.kind())).append("</td><td><code>");
            if (!l.inputs().isEmpty()) {
                h.append(esc(l.inputs().size() == 1 ? l.inputs().get(0).toString() : l.inputs().toString())).append(" &rarr; ");
            }
            h.append(l.output()).append("</code></td><td><code>").append(esc(l.weights())).append("</code></td><td class=\"r\">")
                    .append(l.accBits() > 0 ? String.valueOf(l.accBits()) : "").append("</td><td class=\"r\">")
                    .append(Double.isNaN(l.range()) ? "" : fmt("%.4g", l.range())).append("</td><td class=\"small\">").append(esc(l.detail()))
                    .append("</td></tr>\n");
        }
        h.append("</table>\n");
    }

    private static void errors(StringBuilder h, QuantizedGraph q, List<double[]> xs, int boxSamples, ErrorBound bound) {
        h.append("<h2>3. Quantization error per layer</h2>\n");
        if (xs.isEmpty()) {
            h.append("<p>No samples to measure on.</p>\n");
            return;
        }
        QuantErrorReport rep = QuantErrorReport.measure(q, xs);
        boundTable(h, rep, bound, xs.size(), boxSamples);
        Graph g = q.graph();
        List<String> values = new ArrayList<>();
        values.add(g.input());
        g.nodes().forEach(n -> values.add(n.output()));
        // error of every element, in LSBs of the value's own format, as histograms
        double[][] errs = new double[values.size()][];
        List<List<Double>> all = new ArrayList<>();
        values.forEach(v -> all.add(new ArrayList<>()));
        for (double[] x : xs) {
            Map<String, double[]> ref = FloatInterpreter.runAll(g, x);
            Map<String, long[]> got = IntegerInterpreter.runAll(q, IntegerInterpreter.quantizeInput(q, x));
            for (int v = 0; v < values.size(); v++) {
                QFormat f = q.format(values.get(v));
                double[] r = ref.get(values.get(v));
                long[] iv = got.get(values.get(v));
                for (int i = 0; i < r.length; i++) {
                    all.get(v).add((f.toDouble(iv[i]) - r[i]) / f.step());
                }
            }
        }
        for (int v = 0; v < values.size(); v++) {
            errs[v] = all.get(v).stream().mapToDouble(Double::doubleValue).toArray();
        }
        h.append("<p>Dequantized output of the bit-true integer model minus the float64 output of the same (folded) graph, on ")
                .append(xs.size()).append(" calibration samples. Errors accumulate: a layer's error includes that of every layer before it. "
                        + "Histograms count elements per error bin, in LSBs of the layer's output format. Top-1 agreement float vs fixed: <b>")
                .append(fmt("%.2f%%", 100 * rep.top1Agreement())).append("</b> (").append(rep.top1Agreements()).append('/')
                .append(rep.samples()).append(").</p>\n<div class=\"grid\">\n");
        for (int v = 0; v < values.size(); v++) {
            QuantErrorReport.LayerError l = rep.layers().get(v);
            h.append("<div class=\"hist\"><div class=\"ht\"><code>").append(esc(shorten(l.node(), 34))).append("</code> <span class=\"small\">")
                    .append(esc(l.kind())).append(" &middot; ").append(l.format()).append("</span></div>\n");
            h.append(histogramSvg(errs[v]));
            h.append("<div class=\"small\">max |err| ").append(fmt("%.3g", l.maxAbsError())).append(" &middot; rms ").append(fmt("%.3g", l.rmsError()))
                    .append(" &middot; SQNR ").append(Double.isInfinite(l.sqnrDb()) ? "&infin;" : fmt("%.1f dB", l.sqnrDb()))
                    .append(" &middot; saturated ").append(fmt("%.2f%%", 100 * l.saturated())).append(" &middot; bound ")
                    .append(Reports.number(bound.layer(l.node()).bound())).append("</div></div>\n");
        }
        h.append("</div>\n");
    }

    /**
     * The measured largest error of each layer beside its proved bound, in real units and in
     * LSBs of the layer's format, with the float range over the box that the bound assumes. A
     * measured error above its bound (a bug) is highlighted.
     */
    private static void boundTable(StringBuilder h, QuantErrorReport rep, ErrorBound bound, int measured, int boxSamples) {
        h.append("<p>The <b>bound</b> is proved: no input of the box, the per-element hull of the ").append(boxSamples)
                .append(" calibration samples (each input element between its smallest and largest value in them), can make a layer's "
                        + "|fixed &minus; float| larger. It counts input and weight quantization, requantization rounding, saturation, "
                        + "tables and the float64 rounding of the reference. Rows marked &#9650; may leave their format somewhere in the box "
                        + "(the float range below is wider than the format): their bound includes that saturation.</p>\n");
        h.append("<table>\n<tr><th>node</th><th>op</th><th>format</th><th class=\"r\">max |err| (").append(measured)
                .append(" samples)</th><th class=\"r\">bound</th><th class=\"r\">bound in LSB</th><th class=\"r\">float range over the box</th></tr>\n");
        for (QuantErrorReport.LayerError l : rep.layers()) {
            ErrorBound.LayerBound b = bound.layer(l.node());
            boolean exceeded = !(l.maxAbsError() <= b.bound());
            h.append("<tr").append(exceeded ? " class=\"hot\"" : "").append("><td><code>").append(esc(l.node())).append("</code></td><td>")
                    .append(esc(l.kind())).append("</td><td><code>").append(l.format()).append("</code></td><td class=\"r\">")
                    .append(fmt("%.4g", l.maxAbsError())).append("</td><td class=\"r\">").append(Reports.number(b.bound()))
                    .append(b.maySaturate() ? " &#9650;" : "").append(exceeded ? " (exceeded: a bug)" : "").append("</td><td class=\"r\">")
                    .append(Reports.number(b.boundLsb())).append("</td><td class=\"r\">[").append(Reports.number(b.floatMin())).append(", ")
                    .append(Reports.number(b.floatMax())).append("]</td></tr>\n");
        }
        h.append("</table>\n");
    }

    /**
     * Bars over a symmetric range, zero in the middle: at least one LSB either side, at most the
     * 99.5th percentile of |error|, so that a few saturated elements do not squash the shape; the
     * elements beyond it are counted in the end bars and the label says how many.
     */
    static String histogramSvg(double[] e) {
        int w = 300;
        int ht = 110;
        int top = 14;
        int bottom = 22;
        double[] abs = new double[e.length];
        for (int i = 0; i < e.length; i++) {
            abs[i] = Math.abs(e[i]);
        }
        java.util.Arrays.sort(abs);
        double lim = abs.length == 0 ? 1 : Math.max(1, Math.ceil(abs[Math.min(abs.length - 1, (int) (0.995 * abs.length))] * 2) / 2);
        long outliers = 0;
        for (double v : e) {
            outliers += Math.abs(v) > lim ? 1 : 0;
        }
        long[] bins = new long[BINS];
        for (double v : e) {
            int b = (int) Math.floor((v + lim) / (2 * lim) * BINS);
            bins[Math.max(0, Math.min(BINS - 1, b))]++;
        }
        long max = 1;
        for (long b : bins) {
            max = Math.max(max, b);
        }
        double bw = (double) w / BINS;
        int plot = ht - top - bottom;
        StringBuilder s = new StringBuilder();
        s.append("<svg width=\"").append(w).append("\" height=\"").append(ht).append("\" viewBox=\"0 0 ")
                .append(w).append(' ').append(ht).append("\" role=\"img\" aria-label=\"error histogram\">");
        s.append("<line x1=\"").append(w / 2).append("\" y1=\"").append(top).append("\" x2=\"").append(w / 2).append("\" y2=\"").append(ht - bottom)
                .append("\" stroke=\"#ccc\" stroke-dasharray=\"2 2\"/>");
        for (int b = 0; b < BINS; b++) {
            if (bins[b] == 0) {
                continue;
            }
            double bhgt = Math.max(1, plot * (double) bins[b] / max);
            s.append("<rect x=\"").append(fmt("%.1f", b * bw + 1)).append("\" y=\"").append(fmt("%.1f", ht - bottom - bhgt))
                    .append("\" width=\"").append(fmt("%.1f", bw - 2)).append("\" height=\"").append(fmt("%.1f", bhgt))
                    .append("\" fill=\"#4a78b5\"><title>").append(bins[b]).append("</title></rect>");
        }
        s.append("<line x1=\"0\" y1=\"").append(ht - bottom).append("\" x2=\"").append(w).append("\" y2=\"").append(ht - bottom)
                .append("\" stroke=\"#556\"/>");
        s.append("<text x=\"2\" y=\"10\" class=\"ax\">").append(max).append(" elements</text>");
        if (outliers > 0) {
            s.append("<text x=\"").append(w).append("\" y=\"10\" class=\"ax\" text-anchor=\"end\">").append(outliers)
                    .append(" beyond &plusmn;").append(fmt("%.1f", lim)).append(" in the end bars</text>");
        }
        s.append("<text x=\"0\" y=\"").append(ht - 6).append("\" class=\"ax\">").append(fmt("%+.1f", -lim)).append(" LSB</text>");
        s.append("<text x=\"").append(w / 2).append("\" y=\"").append(ht - 6).append("\" class=\"ax\" text-anchor=\"middle\">0</text>");
        s.append("<text x=\"").append(w).append("\" y=\"").append(ht - 6).append("\" class=\"ax\" text-anchor=\"end\">")
                .append(fmt("%+.1f", lim)).append(" LSB</text>");
        s.append("</svg>\n");
        return s.toString();
    }

    private static void hardware(StringBuilder h, HwDesign d, DeviceTarget t, CycleSimulator.Result r, List<String> notes) {
        h.append("<h2>4. Hardware</h2>\n<p>").append(d.stages().size()).append(" stages, ").append(d.multipliers()).append(" multipliers (")
                .append(t.dspBlocks(d)).append(" DSP blocks on ").append(esc(t.name())).append("), II ")
                .append(d.initiationInterval()).append(" cycles, latency ").append(r.latency())
                .append(" cycles. Busy = cycles a stage fired / all cycles of a run of ").append(r.outputs().size())
                .append(" back-to-back inferences without gaps or backpressure (").append(r.cycles())
                .append(" cycles; pipeline fill included).</p>\n");
        h.append("<table>\n<tr><th>stage</th><th>kind</th><th>implements</th><th class=\"r\">PE&times;SIMD</th><th class=\"r\">multipliers</th><th class=\"r\">DSP blocks</th>"
                + "<th class=\"r\">cycles / inference</th><th class=\"r\">multiplier use at II</th><th>busy</th></tr>\n");
        for (Stage s : d.stages()) {
            double busy = r.fires().getOrDefault(s.name(), 0L) / (double) Math.max(1, r.cycles());
            boolean bottleneck = s.cycles() == d.initiationInterval();
            h.append("<tr").append(bottleneck ? " class=\"hot\"" : "").append("><td><code>").append(esc(s.name())).append("</code></td><td>")
                    .append(s.kind()).append("</td><td><code>").append(esc(s.source())).append("</code></td><td class=\"r\">")
                    .append(s instanceof Stage.MatVec mv ? mv.pe() + "&times;" + mv.simd() + (mv.pixels() > 1 ? ", " + mv.pixels() + " px" : "") : "").append("</td><td class=\"r\">")
                    .append(s.multipliers() > 0 ? String.valueOf(s.multipliers()) : "").append("</td><td class=\"r\">")
                    .append(s.multipliers() > 0 ? String.valueOf(t.dspBlocks(s)) : "").append("</td><td class=\"r\">").append(s.cycles())
                    .append(bottleneck ? " &#9664;" : "").append("</td><td class=\"r\">")
                    .append(s.multipliers() > 0 && s.macs() > 0 ? fmt("%.1f%%", 100.0 * s.macs() / ((double) d.initiationInterval() * s.multipliers())) : "")
                    .append("</td><td>").append(bar(busy)).append("</td></tr>\n");
        }
        h.append("</table>\n<p class=\"small\">&#9664; the stage(s) that set the II. Multiplier use at II = the stage's MACs per inference / (II &times; its multipliers).</p>\n");
        // the planner's and the lowering's per-layer decisions (pixels per window, weights moved to SPRAM, ...)
        List<String> hw = notes.stream().filter(n -> n.startsWith(PlanParallelism.NAME + ": ") || n.startsWith(LowerToHardware.NAME + ": ")).toList();
        if (!hw.isEmpty()) {
            h.append("<ul class=\"notes\">\n");
            for (String n : hw) {
                h.append("<li>").append(esc(n)).append("</li>\n");
            }
            h.append("</ul>\n");
        }
    }

    private static String bar(double f) {
        int w = 160;
        return "<svg width=\"" + (w + 50) + "\" height=\"14\" viewBox=\"0 0 " + (w + 50)
                + " 14\"><rect x=\"0\" y=\"2\" width=\"" + w + "\" height=\"10\" fill=\"#eef\"/><rect x=\"0\" y=\"2\" width=\""
                + fmt("%.1f", w * Math.min(1, f)) + "\" height=\"10\" fill=\"#4a78b5\"/><text x=\"" + (w + 4) + "\" y=\"12\" class=\"ax\">"
                + fmt("%.1f%%", 100 * f) + "</text></svg>";
    }

    // ---------------------------------------------------------------------------------------------

    static double utilization(HwDesign d) {
        return d.utilization();
    }

    /** CSS class of an op role ({@code in} for the graph input). */
    private static String opClass(Op.Role role) {
        return role == null ? "in" : switch (role) {
            case MAC -> "mac";
            case AFFINE -> "affine";
            case ACTIVATION -> "act";
            case POOL -> "pool";
            case LAYOUT, JOIN -> "other";
        };
    }

    private static String shorten(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max - 1) + "\u2026";
    }

    private static String fmt(String f, Object... args) {
        return String.format(Locale.ROOT, f, args);
    }

    /** Text for HTML element content and attribute values. */
    public static String esc(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            switch (ch) {
                case '&' -> sb.append("&amp;");
                case '<' -> sb.append("&lt;");
                case '>' -> sb.append("&gt;");
                case '"' -> sb.append("&quot;");
                case '\'' -> sb.append("&#39;");
                default -> sb.append(ch);
            }
        }
        return sb.toString();
    }

    private static final String CSS = """
            body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1d2330;
                   max-width: 1180px; margin: 0 auto; padding: 16px 24px 48px; background: #fff; }
            header h1 { margin: 8px 0 0; font-size: 26px; }
            header p { margin: 2px 0 14px; color: #5a6478; }
            h2 { margin: 30px 0 8px; padding-bottom: 4px; border-bottom: 2px solid #e3e7ef; font-size: 19px; }
            h3 { font-size: 15px; margin: 18px 0 6px; }
            code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
            table { border-collapse: collapse; width: 100%; margin: 6px 0; }
            th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e8ebf1; vertical-align: top; }
            th { background: #f4f6fa; font-weight: 600; font-size: 12.5px; color: #3b4456; }
            tr:nth-child(even) td { background: #fafbfd; }
            td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }
            td.n { color: #8a93a6; }
            tr.hot td { background: #fff4e0; }
            .small { font-size: 12px; color: #5a6478; }
            .cards { display: flex; flex-wrap: wrap; gap: 10px; }
            .card { border: 1px solid #e0e4ec; border-radius: 8px; padding: 8px 12px; flex: 1 1 120px; background: #f9fafc; }
            .card .label { font-size: 11.5px; text-transform: uppercase; letter-spacing: .04em; color: #6a7488; }
            .card .value { font-size: 20px; font-weight: 600; }
            .card .note { font-size: 11.5px; color: #7a8498; }
            .two { display: flex; gap: 20px; align-items: flex-start; }
            .two > div:last-child { flex: 1; min-width: 0; }
            .diagram { flex: none; }
            .op { padding: 1px 6px; border-radius: 4px; font-size: 12px; background: #f0f0f0; }
            .op.mac { background: #dbe7f7; } .op.affine { background: #fbe3c8; } .op.act { background: #dcf0de; } .op.pool { background: #ebe0f5; }
            ul.counters { list-style: none; padding: 0; display: flex; gap: 16px; flex-wrap: wrap; margin: 4px 0; }
            ul.notes li { margin: 3px 0; }
            .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 12px; }
            .hist { border: 1px solid #e0e4ec; border-radius: 8px; padding: 8px 10px; }
            .ht { margin-bottom: 4px; }
            svg text.nm { font: 600 12.5px "DejaVu Sans Mono", Menlo, Consolas, monospace; fill: #1d2330; }
            svg text.sub { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: #5a6478; }
            svg text.ax { font: 10.5px system-ui, "DejaVu Sans", sans-serif; fill: #5a6478; }
            """;
}
