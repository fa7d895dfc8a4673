package io.streamfold.sim;

import io.streamfold.testutil.Examples;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.LowerToHardware;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantizedGraph;
import org.junit.jupiter.api.Test;

import java.io.StringWriter;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VcdWriterTest {

    /** Replays a VCD: the value of every signal (by name) at each sampled cycle. */
    static Map<String, Map<Long, String>> replay(String vcd) {
        Map<String, String> names = new HashMap<>();
        Map<String, String> current = new HashMap<>();
        Map<String, Map<Long, String>> at = new HashMap<>();
        long t = 0;
        for (String line : vcd.split("\n")) {
            if (line.startsWith("$var")) {
                String[] p = line.split(" ");
                names.put(p[3], p[4]);
            } else if (line.startsWith("#")) {
                t = Long.parseLong(line.substring(1)) / 10;
            } else if (line.startsWith("b")) {
                String[] p = line.split(" ");
                current.put(names.get(p[1]), p[0].substring(1));
                at.computeIfAbsent(names.get(p[1]), k -> new HashMap<>()).put(t, p[0].substring(1));
            } else if (!line.isEmpty() && !line.startsWith("$") && Character.isDigit(line.charAt(0))) {
                String id = line.substring(1);
                at.computeIfAbsent(names.get(id), k -> new HashMap<>()).put(t, line.substring(0, 1));
            }
        }
        return at;
    }

    static String valueAt(Map<Long, String> changes, long cycle) {
        String v = "x";
        long best = -1;
        for (Map.Entry<Long, String> e : changes.entrySet()) {
            if (e.getKey() <= cycle && e.getKey() > best) {
                best = e.getKey();
                v = e.getValue();
            }
        }
        return v;
    }

    @Test
    void recordsEveryOutputTransfer() {
        QuantizedGraph q = Examples.quantize("mlp_bn", QuantConfig.defaults());
        HwDesign d = LowerToHardware.run(q, ParallelismPlan.serial().withInputElems(4).with("/0/Gemm", 2, 4));
        List<long[]> xs = Examples.inputs("mlp_bn", q, 2);
        StringWriter w = new StringWriter();
        CycleSimulator.Result r = CycleSimulator.run(d, xs, new Stimulus(1, 0.2, 0.3), new VcdWriter(w), true);
        String vcd = w.toString();
        assertTrue(vcd.contains("$enddefinitions $end"));
        assertTrue(vcd.contains("s0_n_0_Gemm_fire"));
        Map<String, Map<Long, String>> at = replay(vcd);
        for (CycleSimulator.OutputBeat b : r.beats()) {
            assertEquals("1", valueAt(at.get("m_axis_tvalid"), b.cycle()), "tvalid at " + b.cycle());
            assertEquals("1", valueAt(at.get("m_axis_tready"), b.cycle()), "tready at " + b.cycle());
            long data = Long.parseLong(valueAt(at.get("m_axis_tdata"), b.cycle()), 2);
            assertEquals(b.lanes()[0] & 0xff, data & 0xff);
        }
    }
}
