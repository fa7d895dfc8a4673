package io.streamfold.testbench;

import io.streamfold.hw.Channel;
import io.streamfold.hw.HwDesign;
import io.streamfold.sim.CycleSimulator;
import io.streamfold.sim.Stimulus;
import io.streamfold.verilog.MemFile;
import io.streamfold.verilog.VerilogLowering;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes the self-checking testbench of a design: the testbench module, its vectors (input beats,
 * per-cycle stimulus, expected output beats with their cycles, all from the cycle-accurate
 * simulator) and the scripts that run it under Icarus Verilog and Verilator.
 */
public final class Testbench {

    /** Extra cycles of stimulus written past the simulated end. */
    static final int STIM_MARGIN = 64;

    private Testbench() {
    }

    /**
     * The testbench files for running {@code inputs} (flat channels-first integers) through the
     * design under {@code stim}; {@code sim} is the simulator's run of exactly that.
     */
    public static Map<String, String> files(HwDesign d, List<long[]> inputs, Stimulus stim, CycleSimulator.Result sim) {
        Channel in = d.inputChannel();
        Channel out = d.outputChannel();
        long[] stream = new long[inputs.size() * in.beats() * in.elems()];
        for (int i = 0; i < inputs.size(); i++) {
            long[] s = d.toStreamOrder(inputs.get(i));
            System.arraycopy(s, 0, stream, i * s.length, s.length);
        }
        Map<String, String> files = new LinkedHashMap<>();
        files.put(d.name() + "_tb.v", template(d, inputs.size(), sim));
        files.put("tb_input.mem", MemFile.packed(stream, in.elems(), in.format().bits()));
        StringBuilder exp = new StringBuilder();
        int outBits = out.beatBits();
        int digits = (32 + 1 + outBits + 3) / 4;
        for (int k = 0; k < sim.beats().size(); k++) {
            CycleSimulator.OutputBeat b = sim.beats().get(k);
            java.math.BigInteger data = new java.math.BigInteger(MemFile.packed(b.lanes(), out.elems(), out.format().bits()).trim(), 16);
            boolean last = k % out.beats() == out.beats() - 1;
            java.math.BigInteger word = java.math.BigInteger.valueOf(b.cycle()).shiftLeft(1).or(java.math.BigInteger.valueOf(last ? 1 : 0))
                    .shiftLeft(outBits).or(data);
            String hex = word.toString(16);
            exp.append("0".repeat(Math.max(0, digits - hex.length()))).append(hex).append('\n');
        }
        files.put("tb_expected.mem", exp.toString());
        StringBuilder st = new StringBuilder();
        long n = sim.cycles() + STIM_MARGIN;
        for (long c = 0; c < n; c++) {
            int bits = (stim.inputValid(c) ? 1 : 0) | (stim.outputReady(c) ? 2 : 0);
            st.append(bits).append('\n');
        }
        files.put("tb_stim.mem", st.toString());
        files.put("run_icarus.sh", script(d, false));
        files.put("run_verilator.sh", script(d, true));
        files.put("Makefile", makefile());
        return files;
    }

    private static String template(HwDesign d, int inferences, CycleSimulator.Result sim) {
        String t;
        try (InputStream is = Testbench.class.getResourceAsStream("tb_template.v")) {
            t = new String(is.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Channel in = d.inputChannel();
        Channel out = d.outputChannel();
        Map<String, String> v = new LinkedHashMap<>();
        v.put("TOP", d.name());
        v.put("N_IN", Integer.toString(inferences * in.beats()));
        v.put("N_OUT", Integer.toString(sim.beats().size()));
        v.put("N_STIM", Long.toString(sim.cycles() + STIM_MARGIN));
        v.put("BEATS_IN", Integer.toString(in.beats()));
        v.put("TIMEOUT", Long.toString(sim.cycles() * 2 + 1000));
        v.put("W_IN", Integer.toString(in.beatBits()));
        v.put("W_OUT", Integer.toString(out.beatBits()));
        int words = 2 * d.weightLoad().length;
        boolean load = words > 0;
        v.put("WEIGHTS_DOC", load ? ",\n// after the " + words + " bytes of " + VerilogLowering.weightsFile(d) + " went in through s_axis_weights "
                + "(one per cycle from the\n// edge that releases reset) and the edge that sees s_axis_weights_tready low" : "");
        v.put("WEIGHTS_PARAMS", load ? "\n  localparam integer N_W = " + words + ";" : "");
        v.put("WEIGHTS_REGS", load ? "\n  reg [7:0] weights [0:N_W-1];\n  reg [31:0] w_idx = 32'd0;\n  wire [7:0] s_axis_weights_tdata;"
                + "\n  wire s_axis_weights_tvalid;\n  wire s_axis_weights_tready;" : "");
        v.put("WEIGHTS_DRIVE", load ? "\n  assign s_axis_weights_tvalid = aresetn && (w_idx < N_W);"
                + "\n  assign s_axis_weights_tdata = weights[(w_idx < N_W) ? w_idx : 32'd0];" : "");
        v.put("WEIGHTS_PORTS", load ? ",\n    .s_axis_weights_tdata(s_axis_weights_tdata), .s_axis_weights_tvalid(s_axis_weights_tvalid),"
                + " .s_axis_weights_tready(s_axis_weights_tready)" : "");
        v.put("WEIGHTS_READ", load ? "\n    $readmemh(\"" + VerilogLowering.weightsFile(d) + "\", weights);" : "");
        v.put("RUNNING_SET", load ? "" : "\n      running <= 1'b1;");
        v.put("WEIGHTS_LOAD", load ? "  // The weights go in first; the inference streams start once the design has taken the last.\n"
                + "  reg [31:0] load_cycles = 32'd0;\n"
                + "  always @(posedge aclk) begin\n"
                + "    if (s_axis_weights_tvalid && s_axis_weights_tready) begin\n      w_idx <= w_idx + 32'd1;\n    end\n"
                + "    if (aresetn && !s_axis_weights_tready) begin\n      running <= 1'b1;\n    end\n"
                + "    if (aresetn && !running) begin\n      load_cycles <= load_cycles + 32'd1;\n"
                + "      if (load_cycles == N_W + 1000) begin\n"
                + "        $display(\"FAIL: weight load not finished after %0d cycles (%0d of %0d bytes taken)\", load_cycles, w_idx, N_W);\n"
                + "        $fatal(1);\n      end\n    end\n  end\n\n" : "");
        for (Map.Entry<String, String> e : v.entrySet()) {
            t = t.replace("${" + e.getKey() + "}", e.getValue());
        }
        return t;
    }

    private static String script(HwDesign d, boolean verilator) {
        String top = d.name() + "_tb";
        if (verilator) {
            return "#!/bin/sh\n"
                    + "# Builds and runs the testbench under Verilator (5.x); prints PASS or FAIL.\n"
                    + "set -e\ncd \"$(dirname \"$0\")\"\n"
                    + "verilator --binary --timing -Wno-fatal -Wno-lint -Wno-style -O1 --top-module " + top + " -Mdir obj_verilator -o tb *.v"
                    + " > verilator_build.log 2>&1 || { cat verilator_build.log; exit 1; }\n"
                    + "exec ./obj_verilator/tb\n";
        }
        return "#!/bin/sh\n"
                + "# Builds and runs the testbench under Icarus Verilog; prints PASS or FAIL.\n"
                + "set -e\ncd \"$(dirname \"$0\")\"\n"
                + "iverilog -g2005 -s " + top + " -o tb.vvp *.v\n"
                + "exec vvp -n tb.vvp\n";
    }

    private static String makefile() {
        return "# make icarus | make verilator: run the self-checking testbench (PASS/FAIL).\n"
                + "# make ice40: synthesis, placement and routing with Yosys and nextpnr-ice40 (run_ice40.sh).\n"
                + ".PHONY: icarus verilator ice40 clean\n"
                + "icarus:\n\tsh run_icarus.sh\n"
                + "verilator:\n\tsh run_verilator.sh\n"
                + "ice40:\n\tsh run_ice40.sh\n"
                + "clean:\n\trm -rf tb.vvp obj_verilator ice40_*\n";
    }
}
