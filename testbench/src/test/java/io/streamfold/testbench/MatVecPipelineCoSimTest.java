package io.streamfold.testbench;

import io.streamfold.hw.HwDesign;
import io.streamfold.hw.ParallelismPlan;
import io.streamfold.hw.Stage;
import io.streamfold.ir.Graph;
import io.streamfold.ir.Op;
import io.streamfold.quant.QuantConfig;
import io.streamfold.quant.QuantizedGraph;
import io.streamfold.sim.GraphFixtures;
import io.streamfold.sim.Stimulus;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The matrix-vector unit's pipeline variants under Icarus and Verilator, cycle-exact against the
 * simulator with random input gaps and output backpressure: without an input buffer when its PE
 * lanes cover all outputs (one beat or several per vector), beside the buffered unit.
 */
@Tag("eda")
class MatVecPipelineCoSimTest {

    @TempDir
    Path tmp;

    @Test
    void unitsWhoseLanesCoverAllOutputsHaveNoBufferUnderBothSimulators() throws Exception {
        GraphFixtures f = new GraphFixtures(61);
        Graph g = f.mlp(Arrays.asList(new Op.Relu(), new Op.Relu()), 12, 8, 6, 5);
        QuantizedGraph q = f.quantize(g, QuantConfig.defaults());
        // fc1: PE covers its 8 outputs, 3 input beats per vector; fc2: two passes (NF 2), buffered;
        // fc3: the whole vector in one beat and all outputs
        ParallelismPlan plan = ParallelismPlan.serial().withInputElems(4).with("fc1", 8, 4).with("fc2", 3, 8).with("fc3", 5, 6);
        HwDesign d = GraphStagesCoSimTest.emit(tmp, q, plan, f.inputs(q, 16), new Stimulus(5, 0.3, 0.4));
        int unbuffered = 0;
        for (Stage s : d.stages()) {
            if (s instanceof Stage.MatVec m) {
                assertEquals(m.nf() > 1, m.buffered(), m.name());
                assertEquals(m.buffered(), m.bufferBits() > 0, m.name());
                unbuffered += m.buffered() ? 0 : 1;
            }
        }
        assertEquals(2, unbuffered);
        GraphStagesCoSimTest.lintAndBothSimulators(tmp, d);
    }
}
