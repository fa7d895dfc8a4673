package io.streamfold.flow;

import io.streamfold.testbench.Testbench;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.streamfold.bound.ErrorBound;
import io.streamfold.bound.InputBox;
import io.streamfold.compile.Pipeline;
import io.streamfold.hw.Channel;
import io.streamfold.hw.DeviceTarget;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.Stage;
import io.streamfold.hw.WeightStore;
import io.streamfold.passes.FoldBatchNorm;
import io.streamfold.quant.LayerReport;
import io.streamfold.reference.IntegerInterpreter;
import io.streamfold.sim.CycleSimulator;
import io.streamfold.sim.Stimulus;
import io.streamfold.verilog.VerilogLowering;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code convert}: compiles a model to a folder holding the RTL, its ROM files, a self-checking
 * testbench with vectors from the cycle-accurate simulator, run scripts, {@code report.json} and the
 * same report for people, {@code report.html} ({@link HtmlReport}). Both reports hold the proved
 * per-layer error bound ({@link ErrorBound}) over the per-element hull of the calibration samples.
 */
public final class Converter {

    private Converter() {
    }

    /**
     * What was produced: {@code sim} is the run behind the testbench vectors (with its stimulus),
     * {@code timing} a run without gaps or backpressure, which latency and II are defined on.
     */
    public record Outcome(Pipeline.Result compiled, CycleSimulator.Result sim, CycleSimulator.Result timing, Map<String, String> files) {
        public HwDesign design() {
            return compiled.design();
        }
    }

    /**
     * Simulates the testbench vectors on a compiled design and returns the folder's files (nothing
     * written yet).
     *
     * @param c         a result of {@link Pipeline#compile}
     * @param calib     the calibration samples (report.html's error histograms; the testbench inputs if empty)
     * @param tbInputs  samples for the testbench vectors (flat, channels first)
     * @param stimulus  gaps/backpressure the testbench applies
     */
    public static Outcome build(Pipeline.Result c, List<double[]> calib, List<double[]> tbInputs, Stimulus stimulus) {
        HwDesign d = c.design();
        List<long[]> xs = new ArrayList<>();
        for (double[] x : tbInputs) {
            xs.add(IntegerInterpreter.quantizeInput(c.quantized(), x));
        }
        CycleSimulator.Result r = CycleSimulator.run(d, xs, stimulus);
        List<long[]> three = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            three.add(xs.get(i % xs.size()));
        }
        CycleSimulator.Result timing = CycleSimulator.run(d, three, Stimulus.ideal());
        Map<String, String> files = new LinkedHashMap<>(VerilogLowering.emit(d));
        files.putAll(Testbench.files(d, xs, stimulus, r));
        List<String> verilog = files.keySet().stream().filter(n -> n.endsWith(".v") && !n.endsWith("_tb.v") && !VerilogLowering.simulationOnly(n))
                .sorted().toList();
        files.put("run_ice40.sh", Implementation.script(d.name(), verilog, c.target().placeable() ? c.target() : DeviceTarget.ICE40_UP5K));
        List<double[]> samples = calib.isEmpty() ? tbInputs : calib;
        ErrorBound bound = ErrorBound.analyze(c.quantized(), InputBox.hull(samples));
        files.put("report.json", reportJson(c, timing, bound, samples.size()));
        files.put("report.html", HtmlReport.render(c, d, timing, samples, bound));
        files.put("plan.json", c.plan().toJson());
        return new Outcome(c, r, timing, files);
    }

    /**
     * {@link #build} and writes the folder atomically ({@link OutputFolder}: an existing folder is
     * replaced only with {@code force} and only if streamfold wrote it; it may not contain
     * {@code inputs}).
     */
    public static Outcome convert(Pipeline.Result c, List<double[]> calib, List<double[]> tbInputs, Stimulus stimulus, Path outDir,
                                  boolean force, java.util.Collection<Path> inputs) throws IOException {
        Outcome out = build(c, calib, tbInputs, stimulus);
        OutputFolder.write(outDir, out.files(), force, inputs);
        return out;
    }

    /**
     * {@code report.json}; {@code bound} is the error bound over the per-element hull of the
     * {@code boxSamples} calibration samples (or testbench inputs, without calibration samples).
     */
    static String reportJson(Pipeline.Result c, CycleSimulator.Result r, ErrorBound bound, int boxSamples) {
        HwDesign d = c.design();
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("model", c.original().name());
        root.put("top", d.name());
        root.put("target", c.target().name());
        root.put("calibration", c.quantized().calibration());
        Map<String, Object> hw = new LinkedHashMap<>();
        hw.put("initiation_interval", d.initiationInterval());
        hw.put("measured_interval", r.measuredInterval());
        hw.put("latency", r.latency());
        hw.put("multipliers", d.multipliers());
        // the DSP blocks the planner expects on the target (streamfold synth adds the measured count under "implementation")
        hw.put("dsps", c.target().dspBlocks(d));
        hw.put("dsp_mapping", c.target().dsps() == 0 ? "none" : c.target().dspMapping().name().toLowerCase(java.util.Locale.ROOT));
        hw.put("macs_per_inference", d.macs());
        hw.put("multiplier_utilization", d.utilization());
        hw.put("rom_bits", d.romBits());
        hw.put("buffer_bits", d.bufferBits());
        // weights in SPRAM: where they are, and what the weight-load port takes after reset
        hw.put("block_rom_bits", d.blockRomBits());
        hw.put("spram_blocks", d.spramBlocks());
        hw.put("weight_load_bytes", 2 * d.weightLoad().length);
        Map<String, Object> io = new LinkedHashMap<>();
        io.put("s_axis", Reports.ordered("elements_per_beat", d.inputChannel().elems(), "format", d.inputFormat().toString(),
                "beats_per_inference", d.inputChannel().beats()));
        io.put("m_axis", Reports.ordered("elements_per_beat", d.outputChannel().elems(), "format", d.outputFormat().toString(),
                "beats_per_inference", d.outputChannel().beats()));
        hw.put("streams", io);
        List<Map<String, Object>> stages = new ArrayList<>();
        for (Stage s : d.stages()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", s.name());
            m.put("kind", s.kind());
            m.put("source", s.source());
            m.put("cycles_per_inference", s.cycles());
            m.put("multipliers", s.multipliers());
            m.put("dsps", c.target().dspBlocks(s));
            m.put("utilization", r.fires().get(s.name()) / (double) r.cycles());
            if (s instanceof Stage.MatVec mv) {
                m.put("pe", mv.pe());
                m.put("simd", mv.simd());
                if (mv.pixels() > 1) {
                    // a convolution computing several output pixels per window (hw.Polyphase); absent means 1
                    m.put("pixels", mv.pixels());
                }
                m.put("weights", mv.store().name().toLowerCase(java.util.Locale.ROOT));
                m.put("schedule", mv.schedule().name().toLowerCase(java.util.Locale.ROOT));
                if (mv.store() == WeightStore.SPRAM) {
                    m.put("spram_blocks", mv.spramBlocks());
                }
                m.put("pipeline_registers", mv.pipelineDepth());
                if (mv.activation() != null) {
                    // the elementwise node computed in the unit's output stage (no stage of its own)
                    m.put("fused", Reports.ordered("source", mv.activation().source(), "kind", mv.activation().op().kind()));
                }
            }
            stages.add(m);
        }
        hw.put("stages", stages);
        List<Map<String, Object>> channels = new ArrayList<>();
        for (Channel ch : d.channels()) {
            channels.add(Reports.ordered("name", ch.name(), "elements_per_beat", ch.elems(), "format", ch.format().toString(), "depth", ch.depth()));
        }
        hw.put("channels", channels);
        root.put("hardware", hw);
        List<Map<String, Object>> layers = new ArrayList<>();
        for (LayerReport l : c.quantized().report()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("node", l.node());
            m.put("kind", l.kind());
            m.put("inputs", l.inputs().stream().map(Object::toString).toList());
            m.put("output", l.output().toString());
            m.put("weights", l.weights());
            m.put("acc_bits", l.accBits());
            m.put("range", Double.isNaN(l.range()) ? null : l.range());
            m.put("detail", l.detail());
            ErrorBound.LayerBound b = bound.layer(l.node());
            m.put("bound", Double.isFinite(b.bound()) ? b.bound() : null);
            m.put("bound_may_saturate", b.maySaturate());
            m.put("float_range_over_box", Arrays.asList(finite(b.floatMin()), finite(b.floatMax())));
            layers.add(m);
        }
        root.put("layers", layers);
        root.put("error_bound", Reports.ordered("box", "per-element hull of the calibration samples", "samples", boxSamples));
        root.put("batchnorm_folding", Reports.ordered("counters", c.context().counters(FoldBatchNorm.NAME),
                "notes", c.context().notes().stream().filter(n -> n.startsWith(FoldBatchNorm.NAME)).toList()));
        root.put("counters", c.context().counters());
        try {
            return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(root) + "\n";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A number for JSON: null if infinite (JSON has no infinity). */
    private static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }
}
