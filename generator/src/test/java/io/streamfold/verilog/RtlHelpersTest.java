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
                assign y0_f6_sat = ((!y0_f6_shr[10]) && (|y0_f6_shr[9:7])) ? 8'sh7f : ((y0_f6_shr[10] && (!(&y0_f6_shr[9:7]))) ? 8'sh80 : y0_f6_shr[7:0]);
                wire signed [17:0] y0_fm2_shl;
                assign y0_fm2_shl = {acc, 2'h0};
                wire signed [7:0] y0_fm2_sat;
                assign y0_fm2_sat = ((!y0_fm2_shl[17]) && (|y0_fm2_shl[16:7])) ? 8'sh7f : ((y0_fm2_shl[17] && (!(&y0_fm2_shl[16:7]))) ? 8'sh80 : y0_fm2_shl[7:0]);
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
}
