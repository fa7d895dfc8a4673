package io.streamfold.verilog;

import io.streamfold.quant.Fixed;
import io.streamfold.quant.QFormat;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The emitted requantization logic, run by Icarus Verilog, equals {@link Fixed#requantize} on
 * edge values (extremes, exact halves, saturation thresholds) for many width/shift combinations.
 */
@Tag("eda")
class RtlFixedTest {

    @TempDir
    Path tmp;

    record Case(int accBits, int fracIn, QFormat out) {
    }

    static List<Long> edgeValues(Case c, Random r) {
        long min = -(1L << (c.accBits - 1));
        long max = (1L << (c.accBits - 1)) - 1;
        List<Long> v = new ArrayList<>(List.of(min, max, 0L, 1L, -1L, min + 1, max - 1));
        int s = c.fracIn - c.out.frac();
        for (int k = -3; k <= 3; k++) {
            if (s > 0 && s < 62) {
                long half = 1L << (s - 1);
                v.add(k * (1L << s) + half);
                v.add(k * (1L << s) - half);
                v.add(k * (1L << s) + half - 1);
            }
            // around the saturation thresholds of the output
            long edge = s >= 0 && s < 40 ? c.out.max() << s : c.out.max() >> Math.min(-s, 62);
            v.add(edge + k);
            v.add(-edge + k);
        }
        for (int i = 0; i < 40; i++) {
            v.add(r.nextLong() >> (64 - c.accBits));
        }
        v.removeIf(x -> x < min || x > max);
        return v;
    }

    @Test
    void requantizeMatchesFixedUnderIcarus() throws Exception {
        Random r = new Random(2024);
        List<Case> cases = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            int aw = 2 + r.nextInt(40);
            int bits = 1 + r.nextInt(Math.min(aw + 4, 24));
            cases.add(new Case(aw, r.nextInt(30) - 8, new QFormat(bits, r.nextInt(30) - 10)));
        }
        cases.add(new Case(16, 8, new QFormat(8, 4)));
        cases.add(new Case(8, 0, new QFormat(8, 0)));
        cases.add(new Case(8, 10, new QFormat(4, 0)));
        cases.add(new Case(20, 0, new QFormat(8, 3)));
        StringBuilder tb = new StringBuilder("module tb;\n");
        StringBuilder checks = new StringBuilder();
        int n = 0;
        for (int ci = 0; ci < cases.size(); ci++) {
            Case c = cases.get(ci);
            RtlBuilder b = new RtlBuilder();
            VExpr y = RtlFixed.requantize(b, "y", VExpr.ref("acc"), c.accBits, c.fracIn, c.out);
            b.add(new VItem.Assign(VExpr.ref("q"), y));
            VModule m = new VModule("rq" + ci, null, List.of(),
                    List.of(new VModule.Port(VModule.Dir.INPUT, false, true, c.accBits, "acc"), VModule.Port.out("q", c.out.bits())), b.items());
            Files.writeString(tmp.resolve("rq" + ci + ".v"), VerilogPrinter.print(m));
            tb.append("  reg signed [").append(c.accBits - 1).append(":0] a").append(ci).append(";\n");
            tb.append("  wire [").append(c.out.bits() - 1).append(":0] q").append(ci).append(";\n");
            tb.append("  rq").append(ci).append(" u").append(ci).append(" (.acc(a").append(ci).append("), .q(q").append(ci).append("));\n");
            for (long v : edgeValues(c, r)) {
                long expect = Fixed.requantize(v, c.fracIn, c.out) & (c.out.bits() == 64 ? -1L : (1L << c.out.bits()) - 1);
                checks.append("    a").append(ci).append(" = ").append(v < 0 ? "-" : "").append(c.accBits).append("'sd")
                        .append(Math.abs(v)).append("; #1;\n");
                checks.append("    if (q").append(ci).append(" !== ").append(c.out.bits()).append("'h").append(Long.toHexString(expect))
                        .append(") begin $display(\"FAIL case ").append(ci).append(" acc ").append(v).append(" got %h want ")
                        .append(Long.toHexString(expect)).append("\", q").append(ci).append("); errors = errors + 1; end\n");
                n++;
            }
        }
        tb.append("  integer errors = 0;\n  initial begin\n").append(checks)
                .append("    if (errors == 0) $display(\"PASS\"); else $display(\"FAILED %0d\", errors);\n    $finish;\n  end\nendmodule\n");
        Files.writeString(tmp.resolve("tb.v"), tb.toString());
        Process p = new ProcessBuilder("sh", "-c", "iverilog -g2005 -s tb -o tb.vvp *.v && vvp -n tb.vvp").directory(tmp.toFile())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(300, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.lines().anyMatch(l -> l.equals("PASS")), n + " vectors:\n" + out);
    }
}
