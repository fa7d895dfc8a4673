// Behavioural model of the iCE40 UltraPlus single-port RAM SB_SPRAM256KA (16K words of 16 bits),
// written by streamfold for simulation and lint only. Synthesis reads the design without this
// file, so Yosys sees its own SB_SPRAM256KA cell and each instance becomes one of the UP5K's SPRAM
// blocks. Behaviour as in the primitive's description: a synchronous read when selected and not
// writing, a write masked by nibble, the output held while not selected and undefined while
// writing (the design never uses a write's output). The power pins act at the clock edge here
// (asynchronously in the silicon); the design ties them inactive.
module SB_SPRAM256KA (
  input wire [13:0] ADDRESS,
  input wire [15:0] DATAIN,
  input wire [3:0] MASKWREN,
  input wire WREN,
  input wire CHIPSELECT,
  input wire CLOCK,
  input wire STANDBY,
  input wire SLEEP,
  input wire POWEROFF,
  output reg [15:0] DATAOUT
);
  reg [15:0] mem [0:16383];

  always @(posedge CLOCK) begin
    if (SLEEP || !POWEROFF) begin
      DATAOUT <= 16'd0;
    end else if (STANDBY) begin
      DATAOUT <= 16'bx;
    end else if (CHIPSELECT) begin
      if (WREN) begin
        if (MASKWREN[0]) mem[ADDRESS][3:0] <= DATAIN[3:0];
        if (MASKWREN[1]) mem[ADDRESS][7:4] <= DATAIN[7:4];
        if (MASKWREN[2]) mem[ADDRESS][11:8] <= DATAIN[11:8];
        if (MASKWREN[3]) mem[ADDRESS][15:12] <= DATAIN[15:12];
        DATAOUT <= 16'bx;
      end else begin
        DATAOUT <= mem[ADDRESS];
      end
    end
  end
endmodule
