// Self-checking testbench for ${TOP}, written by streamfold.
// Feeds ${N_IN} input beats from tb_input.mem, applies the per-cycle source gaps and sink
// backpressure of tb_stim.mem (bit 0: source offers a beat, bit 1: sink accepts one), and
// compares every output beat and the cycle it appears in with tb_expected.mem ({cycle, tlast,
// data} per line), which the cycle-accurate simulator wrote. Cycle 0 is the first rising edge
// of aclk with aresetn high${WEIGHTS_DOC}. Prints PASS or FAIL with the first mismatch.
module ${TOP}_tb;
  localparam integer N_IN = ${N_IN};
  localparam integer N_OUT = ${N_OUT};
  localparam integer N_STIM = ${N_STIM};
  localparam integer BEATS_IN = ${BEATS_IN};
  localparam integer TIMEOUT = ${TIMEOUT};
  localparam integer W_IN = ${W_IN};
  localparam integer W_OUT = ${W_OUT};${WEIGHTS_PARAMS}

  reg aclk = 1'b0;
  reg aresetn = 1'b0;
  reg running = 1'b0;
  reg [2:0] reset_cycles = 3'd0;
  reg [31:0] cycle = 32'd0;
  reg [31:0] in_idx = 32'd0;
  reg [31:0] out_idx = 32'd0;
  reg [W_IN-1:0] inputs [0:N_IN-1];
  reg [32+1+W_OUT-1:0] expected [0:N_OUT-1];
  reg [1:0] stim [0:N_STIM-1];${WEIGHTS_REGS}

  wire [W_IN-1:0] s_axis_tdata;
  wire s_axis_tvalid;
  wire s_axis_tready;
  wire s_axis_tlast;
  wire [W_OUT-1:0] m_axis_tdata;
  wire m_axis_tvalid;
  wire m_axis_tready;
  wire m_axis_tlast;

  wire [1:0] stim_now = (cycle < N_STIM) ? stim[cycle] : 2'b11;
  wire [31:0] in_at = (in_idx < N_IN) ? in_idx : 32'd0;
  assign s_axis_tvalid = running && (in_idx < N_IN) && stim_now[0];
  assign s_axis_tdata = inputs[in_at];
  assign s_axis_tlast = (in_idx % BEATS_IN) == BEATS_IN - 1;
  assign m_axis_tready = running && stim_now[1];${WEIGHTS_DRIVE}

  ${TOP} dut (
    .aclk(aclk), .aresetn(aresetn),
    .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready), .s_axis_tlast(s_axis_tlast),
    .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready), .m_axis_tlast(m_axis_tlast)${WEIGHTS_PORTS}
  );

  always #5 aclk = ~aclk;

  initial begin
    $readmemh("tb_input.mem", inputs);
    $readmemh("tb_expected.mem", expected);
    $readmemh("tb_stim.mem", stim);${WEIGHTS_READ}
  end

  // Reset for four edges; the edge after the one that releases it is cycle 0.
  always @(posedge aclk) begin
    if (reset_cycles == 3'd4) begin
      aresetn <= 1'b1;${RUNNING_SET}
    end else begin
      reset_cycles <= reset_cycles + 3'd1;
    end
  end

${WEIGHTS_LOAD}  reg [32+1+W_OUT-1:0] got;
  always @(posedge aclk) begin
    if (running) begin
      if (s_axis_tvalid && s_axis_tready) begin
        in_idx <= in_idx + 32'd1;
      end
      if (m_axis_tvalid && m_axis_tready) begin
        got = {cycle, m_axis_tlast, m_axis_tdata};
        if (got !== expected[out_idx]) begin
          $display("FAIL: output beat %0d: got cycle %0d tlast %0d data %h, expected cycle %0d tlast %0d data %h",
                   out_idx, cycle, m_axis_tlast, m_axis_tdata,
                   expected[out_idx][32+1+W_OUT-1:1+W_OUT], expected[out_idx][W_OUT], expected[out_idx][W_OUT-1:0]);
          $fatal(1);
        end
        out_idx <= out_idx + 32'd1;
        if (out_idx == N_OUT - 1) begin
          $display("PASS: %0d output beats, every value and cycle as expected (last at cycle %0d)", N_OUT, cycle);
          $finish;
        end
      end
      if (cycle == TIMEOUT) begin
        $display("FAIL: timeout at cycle %0d after %0d of %0d output beats", cycle, out_idx, N_OUT);
        $fatal(1);
      end
      cycle <= cycle + 32'd1;
    end
  end
endmodule
