package io.streamfold.verilog;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.streamfold.verilog.VExpr.ref;
import static org.junit.jupiter.api.Assertions.assertEquals;

class VerilogPrinterTest {

    @Test
    void printsAModuleExactly() {
        VExpr cnt = ref("count");
        Map<String, VExpr> ports = new LinkedHashMap<>();
        ports.put("clk", ref("aclk"));
        ports.put("q", null);
        VModule m = new VModule("counter", "A 4-bit counter.", List.of(new VModule.Param("W", 4)),
                List.of(VModule.Port.in("aclk", 1), VModule.Port.in("aresetn", 1), VModule.Port.outReg("count", 4)),
                List.of(
                        new VItem.Decl(VItem.Kind.WIRE, true, 8, "neg", 0),
                        new VItem.Decl(VItem.Kind.REG, false, 8, "rom", 16),
                        new VItem.Assign(ref("neg"), new VExpr.Binary(">>>", new VExpr.Const(8, -3, true), new VExpr.Int(1))),
                        new VItem.AlwaysFf("aclk", List.of(new VStmt.If(VExpr.not(ref("aresetn")),
                                List.of(new VStmt.NonBlocking(cnt, new VExpr.Const(4, 0, false))),
                                List.of(new VStmt.If(new VExpr.Binary("==", cnt, new VExpr.Const(4, 9, false)),
                                        List.of(new VStmt.NonBlocking(cnt, new VExpr.Const(4, 0, false))),
                                        List.of(new VStmt.NonBlocking(cnt, new VExpr.Binary("+", cnt, new VExpr.Const(4, 1, false))))))))),
                        new VItem.Initial(List.of(new VStmt.SysCall("$readmemh", List.of("w.mem", ref("rom"))))),
                        new VItem.Instance("sub", "u_sub", Map.of("N", new VExpr.Int(2)), ports)));
        String expected = """
                // A 4-bit counter.
                module counter #(
                  parameter W = 4
                ) (
                  input  wire aclk,
                  input  wire aresetn,
                  output reg  [3:0] count
                );
                  wire signed [7:0] neg;
                  reg [7:0] rom [0:15];
                  assign neg = 8'shfd >>> 1;
                  always @(posedge aclk) begin
                    if (!aresetn) begin
                      count <= 4'h0;
                    end else if (count == 4'h9) begin
                      count <= 4'h0;
                    end else begin
                      count <= count + 4'h1;
                    end
                  end
                  initial begin
                    $readmemh("w.mem", rom);
                  end
                  sub #(.N(2)) u_sub (
                    .clk(aclk),
                    .q()
                  );
                endmodule
                """;
        assertEquals(expected, VerilogPrinter.print(m));
    }
}
