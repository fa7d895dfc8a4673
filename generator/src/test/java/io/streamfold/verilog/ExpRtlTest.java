package io.streamfold.verilog;

import io.streamfold.quant.ExpTable;
import io.streamfold.quant.QFormat;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static io.streamfold.verilog.RtlKit.set;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The emitted range-reduced exponential ({@link ExpRtl}), run by Icarus Verilog one code per
 * cycle, equals {@link ExpTable.Reduced#apply} at every distance code of 12- and 16-bit softmax
 * inputs, {@link ExpTable.Reduced#STAGES} cycles after the code goes in.
 */
@Tag("eda")
class ExpRtlTest {

    @TempDir
    Path tmp;

    @Test
    void reducedExpEqualsTheJavaTableAtEveryCodeUnderIcarus() throws Exception {
        for (QFormat in : List.of(new QFormat(12, 8), new QFormat(16, 12))) {
            QFormat out = new QFormat(in.bits() + 4, in.bits() + 2);
            ExpTable.Reduced e = assertInstanceOf(ExpTable.Reduced.class, ExpTable.forDifferences(in, out, in.bits() >= 16 ? 12 : 10));
            Path dir = tmp.resolve("q" + in.bits());
            Files.createDirectories(dir);
            String out1 = run(dir, in, e);
            assertTrue(out1.lines().anyMatch(l -> l.equals("PASS")), in + " " + e + ":\n" + out1);
        }
    }

    /** A module {@code exp_dut(aclk, t, e)} around {@link ExpRtl#lanes} and a testbench over every code; returns the simulator's output. */
    private static String run(Path dir, QFormat in, ExpTable.Reduced e) throws Exception {
        int tw = in.bits() + 1;
        int eb = e.out().bits();
        RtlBuilder b = new RtlBuilder();
        Map<String, String> files = new TreeMap<>();
        ExpRtl.files(files, "dut", e);
        List<VStmt> loads = new ArrayList<>();
        ExpRtl.Roms roms = ExpRtl.roms(b, "dut", "", e, loads);
        b.add(new VItem.Initial(loads));
        List<VStmt> pipe = new ArrayList<>();
        List<VExpr> ys = ExpRtl.lanes(b, ExpRtl.Stages.numbered(b, "s", pipe), List.of(VExpr.ref("t")), tw, e, List.of(roms));
        VExpr.Ref y = b.reg("y", eb, false, 0);
        pipe.add(set(y, ys.get(0)));
        b.add(RtlKit.clockedNoReset(pipe));
        b.assign("e", y);
        VModule m = new VModule("exp_dut", null, List.of(),
                List.of(VModule.Port.in("aclk", 1), new VModule.Port(VModule.Dir.INPUT, false, true, tw, "t"), VModule.Port.out("e", eb)),
                b.items());
        Files.writeString(dir.resolve("exp_dut.v"), VerilogPrinter.print(m));
        for (Map.Entry<String, String> f : files.entrySet()) {
            Files.writeString(dir.resolve(f.getKey()), f.getValue());
        }
        int n = 1 << in.bits();
        long[] want = new long[n];
        for (int t = 0; t < n; t++) {
            want[t] = e.apply(t);
        }
        Files.writeString(dir.resolve("want.mem"), MemFile.packed(want, 1, eb));
        int l = ExpTable.Reduced.STAGES;
        String tb = "module tb;\n"
                + "  reg aclk = 0;\n"
                + "  reg signed [" + (tw - 1) + ":0] t = 0;\n"
                + "  wire [" + (eb - 1) + ":0] e;\n"
                + "  reg [" + (eb - 1) + ":0] want [0:" + (n - 1) + "];\n"
                + "  integer i;\n  integer errors = 0;\n"
                + "  exp_dut u (.aclk(aclk), .t(t), .e(e));\n"
                + "  initial begin\n"
                + "    $readmemh(\"want.mem\", want);\n"
                + "    for (i = 0; i < " + (n + l - 1) + "; i = i + 1) begin\n"
                + "      t = i < " + n + " ? i : 0;\n"
                + "      #1 aclk = 1; #1 aclk = 0;\n"
                + "      if (i >= " + (l - 1) + " && e !== want[i - " + (l - 1) + "]) begin\n"
                + "        if (errors < 10) $display(\"FAIL t=%0d got %0d want %0d\", i - " + (l - 1) + ", e, want[i - " + (l - 1) + "]);\n"
                + "        errors = errors + 1;\n"
                + "      end\n"
                + "    end\n"
                + "    if (errors == 0) $display(\"PASS\"); else $display(\"FAILED %0d\", errors);\n"
                + "    $finish;\n"
                + "  end\n"
                + "endmodule\n";
        Files.writeString(dir.resolve("tb.v"), tb);
        Process p = new ProcessBuilder("sh", "-c", "iverilog -g2005 -s tb -o tb.vvp *.v && vvp -n tb.vvp").directory(dir.toFile())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(300, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out;
    }
}
