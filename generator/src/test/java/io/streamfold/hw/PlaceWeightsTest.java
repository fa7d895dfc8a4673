package io.streamfold.hw;

import io.streamfold.compile.DataFiles;
import io.streamfold.compile.ModelLoader;
import io.streamfold.compile.Pipeline;
import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.Graph;
import io.streamfold.ir.ModelException;
import io.streamfold.passes.PassContext;
import io.streamfold.quant.QuantConfig;
import io.streamfold.testutil.Examples;
import io.streamfold.verilog.MemFile;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link PlaceWeights}: weight sets go to SPRAM largest first, only as far as block RAM needs it and
 * the SPRAM blocks allow; {@link DeviceTarget#checkFits} counts both memories; the weight-load
 * stream is the ROM's rows cut into 16-bit words.
 */
class PlaceWeightsTest {

    // mlp_bn: /0/Gemm 64x64 (32 kbit at 8 bits), /3/Gemm 32x64 (16 kbit), /6/Gemm 10x32 (2.5 kbit), plus biases
    private static Pipeline.Result compile(ParallelismPlan plan, DeviceTarget t) {
        Graph g = ModelLoader.load(Examples.onnx("mlp_bn"));
        List<double[]> calib = DataFiles.samples(Examples.dir("mlp_bn").resolve("calib.npy"), g.inputShape());
        return Pipeline.compile(g, new Pipeline.Settings(QuantConfig.defaults(), plan, 0, t), calib);
    }

    private static DeviceTarget device(long blockRamKbit, int sprams) {
        return new DeviceTarget("test", "", "", "", 0, -1, blockRamKbit * 1024, sprams, 48, Pipelining.ICE40);
    }

    private static List<String> inSpram(HwDesign d) {
        return d.spramStages().stream().map(Stage.MatVec::source).toList();
    }

    @Test
    void nothingMovesWhileBlockRamHoldsEverything() {
        Pipeline.Result r = compile(ParallelismPlan.serial(), DeviceTarget.ICE40_UP5K);
        assertEquals(List.of(), inSpram(r.design()));
        assertEquals(r.design().romBits(), r.design().blockRomBits());
        assertEquals(0, r.design().weightLoad().length);
        assertEquals(0, r.context().counter(PlaceWeights.NAME, "weight sets in SPRAM"));
    }

    @Test
    void theLargestSetsMoveUntilTheRestFits() {
        Pipeline.Result one = compile(ParallelismPlan.serial(), device(30, 4));
        assertEquals(List.of("/0/Gemm"), inSpram(one.design()));
        assertEquals(1, one.context().counter(PlaceWeights.NAME, "weight sets in SPRAM"));
        assertTrue(one.design().blockRomBits() <= 30 * 1024);
        assertEquals(one.design().romBits() - 8L * 64 * 64, one.design().blockRomBits());
        // 4,096 rows of 8 bits: one block; the load stream is one word per row
        assertEquals(1, one.design().spramBlocks());
        assertEquals(4096, one.design().weightLoad().length);

        Pipeline.Result two = compile(ParallelismPlan.serial(), device(10, 4));
        assertEquals(List.of("/0/Gemm", "/3/Gemm"), inSpram(two.design()));
        // a placed design stays as it is (simulate DIR places the folder's design again)
        HwDesign again = PlaceWeights.run(two.design(), device(10, 4), new PassContext());
        assertEquals(inSpram(two.design()), inSpram(again));
        assertEquals(two.design().spramBlocks(), again.spramBlocks());
    }

    @Test
    void inputBuffersGiveWayOnlyWhereTheAccumulatorsAreSmaller() {
        // 6 kbit of block RAM: /0/Gemm and /3/Gemm go to SPRAM, which leaves the biases and /6/Gemm's
        // weights; the buffers (2 x 64 x 8 bits for /0/Gemm and /3/Gemm, 2 x 32 x 8 for /6/Gemm) do not
        // fit beside them. /3/Gemm's (64 -> 32) then /6/Gemm's (32 -> 10) give way; /0/Gemm's 64
        // accumulators would take more bits than its buffer, so it keeps it
        HwDesign d = compile(ParallelismPlan.serial(), device(6, 4)).design();
        for (Stage s : d.stages()) {
            if (s instanceof Stage.MatVec m) {
                assertEquals(m.source().equals("/0/Gemm") ? Stage.MatVec.Schedule.BUFFERED : Stage.MatVec.Schedule.STREAMED, m.schedule(),
                        m.source());
                assertEquals(m.schedule() == Stage.MatVec.Schedule.STREAMED ? 0 : 2L * m.inFeatures() * m.op().in().bits(), m.bufferBits());
            }
        }
        // the weight rows follow the new step order: row sf*NF + nf holds what row nf*SF + sf held
        Stage.MatVec buffered = (Stage.MatVec) compile(ParallelismPlan.serial(), DeviceTarget.GENERIC).design().stages().stream()
                .filter(s -> s instanceof Stage.MatVec m && m.source().equals("/6/Gemm")).findFirst().orElseThrow();
        Stage.MatVec streamed = buffered.withSchedule(Stage.MatVec.Schedule.STREAMED);
        for (int nf = 0; nf < buffered.nf(); nf++) {
            for (int sf = 0; sf < buffered.sf(); sf++) {
                assertEquals(buffered.weight(nf * buffered.sf() + sf, 0, 0), streamed.weight(sf * buffered.nf() + nf, 0, 0));
            }
        }
    }

    @Test
    void aSetTooWideForTheBlocksLeftIsSkippedForTheNext() {
        // /0/Gemm at PE 8 x SIMD 8: rows of 512 bits would take 32 blocks side by side
        Pipeline.Result r = compile(ParallelismPlan.serial().with("/0/Gemm", 8, 8), device(40, 4));
        assertEquals(List.of("/3/Gemm"), inSpram(r.design()));
    }

    @Test
    void whatStillDoesNotFitIsRefused() {
        ModelException e = assertThrows(ModelException.class, () -> compile(ParallelismPlan.serial(), device(10, 1)));
        assertEquals(Diagnostic.SF_UNSUPPORTED_HW, e.id());
        HwDesign d = compile(ParallelismPlan.serial(), device(10, 4)).design();
        // a hand-made placement beyond the device's blocks
        ModelException blocks = assertThrows(ModelException.class, () -> device(64, 1).checkFits(d));
        assertEquals(Diagnostic.SF_UNSUPPORTED_HW, blocks.id());
    }

    @Test
    void theLoadStreamIsEachRowCutIntoSixteenBitWordsLowBitsFirst() {
        // /0/Gemm too wide as above; /3/Gemm at PE 4 x SIMD 2: rows of 64 bits, four words each
        HwDesign d = compile(ParallelismPlan.serial().with("/0/Gemm", 8, 8).with("/3/Gemm", 4, 2), device(40, 4)).design();
        Stage.MatVec m = d.spramStages().get(0);
        assertEquals("/3/Gemm", m.source());
        assertEquals(64, m.rowBits());
        assertEquals(4, m.spramBlocks());
        String[] rows = MemFile.packed(m.weights(), m.pe() * m.simd(), m.op().weight().bits()).split("\n");
        int[] words = d.weightLoad();
        assertEquals(rows.length * 4, words.length);
        for (int r = 0; r < rows.length; r++) {
            for (int c = 0; c < 4; c++) {
                String hex = rows[r].substring(rows[r].length() - 4 * (c + 1), rows[r].length() - 4 * c);
                assertEquals(Integer.parseInt(hex, 16), words[r * 4 + c], "row " + r + " word " + c);
            }
        }
    }
}
