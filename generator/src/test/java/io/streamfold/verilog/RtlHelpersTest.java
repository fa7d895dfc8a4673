package io.streamfold.verilog;

import io.streamfold.quant.QFormat;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.stream.Collectors;

import static io.streamfold.verilog.RtlKit.clocked;
import static io.streamfold.verilog.VExpr.ref;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** The emitter helpers build exactly the Verilog the stage emitters used to spell out by hand. */
class RtlHelpersTest {

    private static String body(RtlBuilder b) {
        String text = VerilogPrinter.print(new VModule("m", null, List.of(), List.of(), b.items()));
        return text.lines().filter(l -> l.startsWith("  ")).map(l -> l.substring(2)).collect(Collectors.joining("\n", "", "\n"));
    }

    private static List<String> declared(RtlBuilder b) {
        return b.items().stream().filter(i -> i instanceof VItem.Decl).map(i -> ((VItem.Decl) i).name()).toList();
    }

    @Test
    void counterNestWithResetAndEnable() {
        RtlBuilder b = new RtlBuilder();
        RtlCounter k = b.counter("k", 3);
        RtlCounter cb = b.counter("cb", 5);
        VExpr last = b.wire("last", 1, false, k.atLast());
        b.add(clocked(List.of(k.clear(), cb.clear()), ref("fire"), k.stepCarry(last, List.of(cb.step()))));
        assertEquals("""
                reg [1:0] k;
                reg [2:0] cb;
                wire last;
                assign last = k == 2'h2;
                always @(posedge aclk) begin
                  if (!aresetn) begin
                    k <= 2'h0;
                    cb <= 3'h0;
                  end else if (fire) begin
                    if (last) begin
                      k <= 2'h0;
                      cb <= (cb == 3'h4) ? 3'h0 : (cb + 3'h1);
                    end else begin
                      k <= k + 2'h1;
                    end
                  end
                end
                """, body(b));
    }

    @Test
    void requantizeBankSharesOneRequantizerPerFraction() {
        RtlBuilder b = new RtlBuilder();
        VExpr y = RtlFixed.requantizeBank(b, "y0", ref("acc"), 16, List.of(6, -2, 6), new QFormat(8, 0), ref("nf"));
        assertEquals(ref("y0"), y);
        assertEquals("""
                // verilator lint_off UNUSEDSIGNAL
                wire signed [16:0] y0_f6_rnd;
                assign y0_f6_rnd = acc + 17'sh20;
                // verilator lint_on UNUSEDSIGNAL
                wire signed [10:0] y0_f6_shr;
                assign y0_f6_shr = y0_f6_rnd[16:6];
                wire signed [7:0] y0_f6_sat;
                assign y0_f6_sat = (y0_f6_shr > 11'sh7f) ? 8'sh7f : ((y0_f6_shr < 11'sh780) ? 8'sh80 : y0_f6_shr[7:0]);
                wire signed [17:0] y0_fm2_shl;
                assign y0_fm2_shl = {acc, 2'h0};
                wire signed [7:0] y0_fm2_sat;
                assign y0_fm2_sat = (y0_fm2_shl > 18'sh7f) ? 8'sh7f : ((y0_fm2_shl < 18'sh3ff80) ? 8'sh80 : y0_fm2_shl[7:0]);
                reg signed [7:0] y0;
                always @* begin
                  case (nf)
                    2'h0: begin
                      y0 = y0_f6_sat;
                    end
                    2'h1: begin
                      y0 = y0_fm2_sat;
                    end
                    2'h2: begin
                      y0 = y0_f6_sat;
                    end
                    default: begin
                      y0 = y0_f6_sat;
                    end
                  endcase
                end
                """, body(b));
    }

    @Test
    void requantizeBankWithOneFractionNeedsNoSelect() {
        RtlBuilder b = new RtlBuilder();
        VExpr y = RtlFixed.requantizeBank(b, "y0", ref("acc"), 16, List.of(4, 4), new QFormat(8, 0), ref("nf"));
        assertEquals(ref("y0_f4_sat"), y);
        assertFalse(declared(b).contains("y0"));
        assertFalse(body(b).contains("case"));
    }

    @Test
    void nextValueReadsTheClockedBlockAsAnExpression() {
        RtlBuilder b = new RtlBuilder();
        RtlCounter k = b.counter("k", 3);
        RtlCounter cb = b.counter("cb", 5);
        VExpr.Ref other = b.reg("other", 4, false, 0);
        VItem.AlwaysFf block = clocked(List.of(k.clear(), cb.clear()), ref("fire"), k.stepCarry(List.of(cb.step())));
        // k: cleared under reset, steps when fire, otherwise keeps its value
        assertEquals("(!aresetn) ? 2'h0 : (fire ? ((k == 2'h2) ? 2'h0 : (k + 2'h1)) : k)",
                VerilogPrinter.expr(RtlKit.nextValue(k.ref(), block.body())));
        // cb steps only when k wraps
        assertEquals("(!aresetn) ? 3'h0 : (fire ? ((k == 2'h2) ? ((cb == 3'h4) ? 3'h0 : (cb + 3'h1)) : cb) : cb)", VerilogPrinter.expr(RtlKit.nextValue(cb.ref(), block.body())));
        // a register the block never assigns keeps its value
        assertEquals("other", VerilogPrinter.expr(RtlKit.nextValue(other, block.body())));
        VStmt.Case c = new VStmt.Case(ref("sel"), List.of(new VStmt.CaseItem(List.of(RtlFixed.uconst(1, 0)),
                List.of(RtlKit.set(other, RtlFixed.uconst(4, 5))))), List.of(RtlKit.set(other, RtlFixed.uconst(4, 9))));
        assertEquals("(sel == 1'h0) ? 4'h5 : 4'h9", VerilogPrinter.expr(RtlKit.nextValue(other, List.of(c))));
    }
}
