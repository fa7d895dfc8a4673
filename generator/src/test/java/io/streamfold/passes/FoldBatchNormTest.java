package io.streamfold.passes;

import io.streamfold.ir.Graph;
import io.streamfold.ir.Node;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Tensor;
import io.streamfold.ir.Window;
import io.streamfold.passes.TestGraphs.Chain;
import io.streamfold.passes.TestGraphs.Signs;
import io.streamfold.reference.FloatInterpreter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.opentest4j.AssertionFailedError;

import java.util.List;
import java.util.Map;

import static io.streamfold.passes.FoldBatchNorm.CARRIED_THROUGH_FLATTEN;
import static io.streamfold.passes.FoldBatchNorm.FOLDED_FOLLOWING_CONV;
import static io.streamfold.passes.FoldBatchNorm.FOLDED_FOLLOWING_DENSE;
import static io.streamfold.passes.FoldBatchNorm.FOLDED_PRECEDING_CONV;
import static io.streamfold.passes.FoldBatchNorm.FOLDED_PRECEDING_DENSE;
import static io.streamfold.passes.FoldBatchNorm.KEPT_STANDALONE;
import static io.streamfold.passes.FoldBatchNorm.MOVED_PAST_AVGPOOL;
import static io.streamfold.passes.FoldBatchNorm.MOVED_PAST_MAXPOOL;
import static io.streamfold.passes.FoldBatchNorm.NAME;
import static io.streamfold.passes.FoldBatchNorm.NOT_MOVED_PAST_AVGPOOL;
import static io.streamfold.passes.FoldBatchNorm.NOT_MOVED_PAST_MAXPOOL;
import static io.streamfold.passes.TestGraphs.EPS_KERAS;
import static io.streamfold.passes.TestGraphs.EPS_TORCH;
import static io.streamfold.passes.TestGraphs.assertEquivalent;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each rule of {@link FoldBatchNorm} on a small hand-built graph with seeded random weights:
 * the folded graph computes the same function as the original (BN evaluated with its own formula)
 * and has the expected nodes and counters.
 */
class FoldBatchNormTest {

    private final FoldBatchNorm pass = new FoldBatchNorm();

    /** Runs the pass, checks equivalence and that no BatchNorm is left. */
    private Graph fold(Graph g, PassContext ctx) {
        Graph f = pass.run(g, ctx);
        assertFalse(f.opCounts().containsKey("BatchNormalization"), "a BatchNorm is left:\n" + f);
        assertEquivalent(g, f);
        assertEquals(g.output(), f.output(), "graph output name");
        return f;
    }

    private static Map<String, Integer> counters(PassContext ctx) {
        return ctx.counters(NAME);
    }

    private static int count(Graph g, String kind) {
        return g.opCounts().getOrDefault(kind, 0);
    }

    // --- Conv/Dense -> BN -------------------------------------------------------------------------

    @ParameterizedTest(name = "eps {0}")
    @ValueSource(doubles = {EPS_TORCH, EPS_KERAS})
    void conv2dThenBn(double eps) {
        TestGraphs t = new TestGraphs(1);
        Graph g = new Chain("g", Shape.of(3, 7, 7))
                .add("conv1", t.conv2d(5, 3, 3, 1, 1, 1))
                .add("bn1", t.bn(5, eps, Signs.MIXED, true))
                .add("relu1", new Op.Relu())
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Conv", 1, "Relu", 1), f.opCounts());
        assertEquals(Map.of(FOLDED_PRECEDING_CONV, 1), counters(ctx));
        Node conv = f.nodes().get(0);
        assertEquals("conv1", conv.name());
        assertEquals("bn1_out", conv.output(), "the folded conv writes the BN's value, which relu1 reads");
        assertTrue(ctx.notes().contains(NAME + ": bn1: folded into preceding conv conv1"), ctx.notes().toString());
    }

    @Test
    void conv1dThenBn() {
        TestGraphs t = new TestGraphs(2);
        Graph g = new Chain("g", Shape.of(4, 20))
                .add("conv1", t.conv1d(6, 4, 5, 2, 2, 1))
                .add("bn1", t.bn(6, EPS_KERAS, Signs.MIXED, true))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Conv", 1), f.opCounts());
        assertEquals(Map.of(FOLDED_PRECEDING_CONV, 1), counters(ctx));
    }

    @ParameterizedTest(name = "out channels {0}")
    @ValueSource(ints = {4, 8})
    void depthwiseConvThenBn(int out) {
        TestGraphs t = new TestGraphs(3);
        Graph g = new Chain("g", Shape.of(4, 6, 6))
                .add("dw", t.conv2d(out, 4, 3, 1, 1, 4))
                .add("bn", t.bn(out))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Conv", 1), f.opCounts());
        assertEquals(Map.of(FOLDED_PRECEDING_CONV, 1), counters(ctx));
    }

    @Test
    void denseThenBn() {
        TestGraphs t = new TestGraphs(4);
        Graph g = new Chain("g", Shape.of(10))
                .add("fc1", t.dense(7, 10))
                .add("bn1", t.bn(7))
                .add("sig", new Op.Sigmoid())
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Dense", 1, "Sigmoid", 1), f.opCounts());
        assertEquals(Map.of(FOLDED_PRECEDING_DENSE, 1), counters(ctx));
    }

    @Test
    void convThenTwoBnsFoldBoth() {
        TestGraphs t = new TestGraphs(5);
        Graph g = new Chain("g", Shape.of(2, 6, 6))
                .add("conv1", t.conv2d(3, 2, 3, 1, 0, 1))
                .add("bn1", t.bn(3, EPS_TORCH, Signs.MIXED, true))
                .add("bn2", t.bn(3, EPS_KERAS, Signs.MIXED, false))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Conv", 1), f.opCounts());
        assertEquals(Map.of(FOLDED_PRECEDING_CONV, 2), counters(ctx));
        assertEquals("bn2_out", f.output());
    }

    // --- BN -> Dense/Conv -------------------------------------------------------------------------

    @ParameterizedTest(name = "eps {0}")
    @ValueSource(doubles = {EPS_TORCH, EPS_KERAS})
    void bnThenDense(double eps) {
        TestGraphs t = new TestGraphs(6);
        Graph g = new Chain("g", Shape.of(9))
                .add("bn0", t.bn(9, eps, Signs.MIXED, true))
                .add("fc1", t.dense(4, 9))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Dense", 1), f.opCounts());
        assertEquals(Map.of(FOLDED_FOLLOWING_DENSE, 1), counters(ctx));
        assertEquals(List.of("x"), f.node("fc1").inputs(), "the folded dense reads the BN's input");
    }

    @Test
    void bnThenConvWithoutPadding() {
        TestGraphs t = new TestGraphs(7);
        Graph g = new Chain("g", Shape.of(3, 9, 9))
                .add("relu0", new Op.Relu())
                .add("bn1", t.bn(3))
                .add("conv1", t.conv2d(5, 3, 3, 2, 0, 1))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Relu", 1, "Conv", 1), f.opCounts());
        assertEquals(Map.of(FOLDED_FOLLOWING_CONV, 1), counters(ctx));
    }

    @Test
    void bnThenConv1dWithoutPadding() {
        TestGraphs t = new TestGraphs(8);
        Graph g = new Chain("g", Shape.of(4, 16))
                .add("bn1", t.bn(4, EPS_KERAS, Signs.MIXED, true))
                .add("conv1", t.conv1d(2, 4, 3, 1, 0, 1))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Conv", 1), f.opCounts());
        assertEquals(Map.of(FOLDED_FOLLOWING_CONV, 1), counters(ctx));
    }

    /** Depthwise (with channel multiplier 1 and 2) and grouped: output o reads only its group's channels. */
    @ParameterizedTest(name = "in 4, out {0}, group {1}")
    @org.junit.jupiter.params.provider.CsvSource({"4,4", "8,4", "6,2"})
    void bnThenGroupedConvWithoutPadding(int out, int group) {
        TestGraphs t = new TestGraphs(9);
        Graph g = new Chain("g", Shape.of(4, 7, 7))
                .add("bn1", t.bn(4))
                .add("dw", t.conv2d(out, 4, 3, 1, 0, group))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Conv", 1), f.opCounts());
        assertEquals(Map.of(FOLDED_FOLLOWING_CONV, 1), counters(ctx));
    }

    @Test
    void twoBnsThenConvFoldForwardBoth() {
        TestGraphs t = new TestGraphs(10);
        Graph g = new Chain("g", Shape.of(3, 5, 5))
                .add("bn1", t.bn(3))
                .add("bn2", t.bn(3, EPS_KERAS, Signs.MIXED, false))
                .add("conv1", t.conv2d(2, 3, 1, 1, 0, 1))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Conv", 1), f.opCounts());
        assertEquals(Map.of(FOLDED_FOLLOWING_CONV, 2), counters(ctx));
    }

    // --- BN -> Flatten/Reshape -> Dense -------------------------------------------------------------

    @Test
    void bnThenFlattenThenDense() {
        TestGraphs t = new TestGraphs(11);
        Graph g = new Chain("g", Shape.of(3, 4, 5))
                .add("relu0", new Op.Relu())
                .add("bn1", t.bn(3))
                .add("flat", new Op.Flatten())
                .add("fc1", t.dense(6, 60))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Relu", 1, "Flatten", 1, "Dense", 1), f.opCounts());
        assertEquals(Map.of(CARRIED_THROUGH_FLATTEN, 1, FOLDED_FOLLOWING_DENSE, 1), counters(ctx));
        assertEquals(List.of("relu0_out"), f.node("flat").inputs());
    }

    @Test
    void bnThenReshapeThenDense() {
        TestGraphs t = new TestGraphs(12);
        Graph g = new Chain("g", Shape.of(5, 6))
                .add("bn1", t.bn(5, EPS_KERAS, Signs.MIXED, true))
                .add("reshape", new Op.Reshape(Shape.of(30)))
                .add("fc1", t.dense(3, 30))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Reshape", 1, "Dense", 1), f.opCounts());
        assertEquals(Map.of(CARRIED_THROUGH_FLATTEN, 1, FOLDED_FOLLOWING_DENSE, 1), counters(ctx));
    }

    @Test
    void bnThenFlattenFeedingTwoLayersStaysAffine() {
        TestGraphs t = new TestGraphs(13);
        Chain c = new Chain("g", Shape.of(2, 3, 3));
        c.add("bn1", t.bn(2)).add("flat", new Op.Flatten());
        String flat = c.last();
        c.add("fc1", t.dense(4, 18), flat).add("fc2", t.dense(4, 18), flat).add("sum", new Op.Add(), "fc1_out", "fc2_out");
        Graph g = c.build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(1, count(f, "Affine"));
        assertEquals(Map.of(KEPT_STANDALONE, 1), counters(ctx));
    }

    // --- BN -> pools --------------------------------------------------------------------------------

    @Test
    void bnMovedPastMaxPoolThenFoldedIntoConv() {
        TestGraphs t = new TestGraphs(14);
        Graph g = new Chain("g", Shape.of(3, 8, 8))
                .add("relu0", new Op.Relu())
                .add("bn1", t.bn(3, EPS_TORCH, Signs.POSITIVE, true))
                .add("pool1", new Op.MaxPool(Window.pool(2, 2)))
                .add("conv1", t.conv2d(4, 3, 3, 1, 0, 1))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Relu", 1, "MaxPool", 1, "Conv", 1), f.opCounts());
        assertEquals(Map.of(MOVED_PAST_MAXPOOL, 1, FOLDED_FOLLOWING_CONV, 1), counters(ctx));
        assertEquals(List.of("relu0_out"), f.node("pool1").inputs());
    }

    @Test
    void bnMovedPastPaddedMaxPoolAtGraphEndKeepsOutputName() {
        TestGraphs t = new TestGraphs(15);
        int[] k = {3, 3};
        Graph g = new Chain("g", Shape.of(2, 7, 7))
                .add("bn1", t.bn(2, EPS_KERAS, Signs.POSITIVE, true))
                .add("pool1", new Op.MaxPool(Window.of(k, new int[] {2, 2}, new int[] {1, 1, 1, 1})))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of(MOVED_PAST_MAXPOOL, 1, KEPT_STANDALONE, 1), counters(ctx));
        assertEquals("pool1_out", f.output());
        assertEquals(List.of("pool1", "bn1"), f.nodes().stream().map(Node::name).toList());
        assertEquals(Op.Affine.class, f.node("bn1").op().getClass());
        assertEquals("pool1_out", f.node("bn1").output());
    }

    @Test
    void negativeScaleRefusesMaxPoolMove() {
        TestGraphs t = new TestGraphs(16);
        Graph g = new Chain("g", Shape.of(4, 8, 8))
                .add("relu0", new Op.Relu())
                .add("bn1", t.bn(4, EPS_TORCH, Signs.MIXED, true))
                .add("pool1", new Op.MaxPool(Window.pool(2, 2)))
                .add("conv1", t.conv2d(3, 4, 3, 1, 0, 1))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Relu", 1, "Affine", 1, "MaxPool", 1, "Conv", 1), f.opCounts());
        assertEquals(Map.of(NOT_MOVED_PAST_MAXPOOL, 1, KEPT_STANDALONE, 1), counters(ctx));
        assertEquals(List.of("relu0", "bn1", "pool1", "conv1"), f.nodes().stream().map(Node::name).toList());
        double a1 = ((Op.BatchNorm) g.node("bn1").op()).scale()[1];
        assertTrue(ctx.notes().contains(NAME + ": bn1: kept standalone: not moved past MaxPool pool1: scale[1] = " + a1 + " <= 0"),
                ctx.notes().toString());
    }

    @Test
    void zeroScaleRefusesMaxPoolMove() {
        TestGraphs t = new TestGraphs(17);
        Op.BatchNorm bn = t.bn(3, EPS_TORCH, Signs.POSITIVE, false);
        Op.BatchNorm zeroGamma = new Op.BatchNorm(Tensor.of(Shape.of(3), 1.5, 0.0, 0.7), bn.beta(), bn.mean(), bn.var(), bn.eps());
        Graph g = new Chain("g", Shape.of(3, 4, 4))
                .add("bn1", zeroGamma)
                .add("pool1", new Op.MaxPool(Window.pool(2, 2)))
                .add("conv1", t.conv2d(2, 3, 2, 1, 0, 1))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(1, count(f, "Affine"));
        assertEquals(Map.of(NOT_MOVED_PAST_MAXPOOL, 1, KEPT_STANDALONE, 1), counters(ctx));
    }

    @Test
    void bnMovedPastAvgPoolThenFoldedThroughFlattenIntoDense() {
        TestGraphs t = new TestGraphs(18);
        Graph g = new Chain("g", Shape.of(3, 6, 6))
                .add("relu0", new Op.Relu())
                .add("bn1", t.bn(3))
                .add("pool1", new Op.AvgPool(Window.pool(2, 2), true))
                .add("flat", new Op.Flatten())
                .add("fc1", t.dense(5, 27))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Relu", 1, "AveragePool", 1, "Flatten", 1, "Dense", 1), f.opCounts());
        assertEquals(Map.of(MOVED_PAST_AVGPOOL, 1, CARRIED_THROUGH_FLATTEN, 1, FOLDED_FOLLOWING_DENSE, 1), counters(ctx));
    }

    @Test
    void bnMovedPastGlobalAvgPoolThenFoldedIntoDense() {
        TestGraphs t = new TestGraphs(19);
        Graph g = new Chain("g", Shape.of(6, 5, 5))
                .add("relu0", new Op.Relu())
                .add("bn1", t.bn(6, EPS_KERAS, Signs.MIXED, true))
                .add("gap", new Op.GlobalAvgPool())
                .add("flat", new Op.Flatten())
                .add("fc1", t.dense(3, 6))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Relu", 1, "GlobalAveragePool", 1, "Flatten", 1, "Dense", 1), f.opCounts());
        assertEquals(Map.of(MOVED_PAST_AVGPOOL, 1, CARRIED_THROUGH_FLATTEN, 1, FOLDED_FOLLOWING_DENSE, 1), counters(ctx));
    }

    /** Padding left out of the divisor: every window averages real elements only, so the move is exact. */
    @Test
    void bnMovedPastPaddedAvgPoolThatExcludesPadding() {
        TestGraphs t = new TestGraphs(20);
        Graph g = new Chain("g", Shape.of(3, 5, 5))
                .add("relu0", new Op.Relu())
                .add("bn1", t.bn(3))
                .add("pool1", new Op.AvgPool(Window.of(new int[] {3, 3}, new int[] {2, 2}, new int[] {1, 1, 1, 1}), false))
                .add("conv1", t.conv2d(2, 3, 3, 1, 0, 1))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Relu", 1, "AveragePool", 1, "Conv", 1), f.opCounts());
        assertEquals(Map.of(MOVED_PAST_AVGPOOL, 1, FOLDED_FOLLOWING_CONV, 1), counters(ctx));
    }

    @Test
    void bnNotMovedPastPaddedAvgPoolThatCountsPadding() {
        TestGraphs t = new TestGraphs(21);
        Graph g = new Chain("g", Shape.of(3, 5, 5))
                .add("relu0", new Op.Relu())
                .add("bn1", t.bn(3))
                .add("pool1", new Op.AvgPool(Window.of(new int[] {3, 3}, new int[] {2, 2}, new int[] {1, 1, 1, 1}), true))
                .add("conv1", t.conv2d(2, 3, 3, 1, 0, 1))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Relu", 1, "Affine", 1, "AveragePool", 1, "Conv", 1), f.opCounts());
        assertEquals(Map.of(NOT_MOVED_PAST_AVGPOOL, 1, KEPT_STANDALONE, 1), counters(ctx));
    }

    @Test
    void bnMovedPastSeveralPools() {
        TestGraphs t = new TestGraphs(22);
        Graph g = new Chain("g", Shape.of(2, 8, 8))
                .add("relu0", new Op.Relu())
                .add("bn1", t.bn(2, EPS_TORCH, Signs.POSITIVE, true))
                .add("mp", new Op.MaxPool(Window.pool(2, 2)))
                .add("ap", new Op.AvgPool(Window.pool(2, 2), false))
                .add("flat", new Op.Flatten())
                .add("fc", t.dense(3, 8))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Relu", 1, "MaxPool", 1, "AveragePool", 1, "Flatten", 1, "Dense", 1), f.opCounts());
        assertEquals(Map.of(MOVED_PAST_MAXPOOL, 1, MOVED_PAST_AVGPOOL, 1, CARRIED_THROUGH_FLATTEN, 1, FOLDED_FOLLOWING_DENSE, 1),
                counters(ctx));
    }

    // --- kept standalone ----------------------------------------------------------------------------

    @Test
    void bnBeforePaddedConvStaysAffine() {
        TestGraphs t = new TestGraphs(23);
        Graph g = new Chain("g", Shape.of(3, 6, 6))
                .add("relu0", new Op.Relu())
                .add("bn1", t.bn(3))
                .add("conv1", t.conv2d(4, 3, 3, 1, 1, 1))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Relu", 1, "Affine", 1, "Conv", 1), f.opCounts());
        assertEquals(Map.of(KEPT_STANDALONE, 1), counters(ctx));
        assertEquals("bn1_out", f.node("bn1").output());
        assertTrue(ctx.notes().stream().anyMatch(n -> n.startsWith(NAME + ": bn1: kept standalone: next conv conv1 is padded")),
                ctx.notes().toString());
    }

    @Test
    void bnAfterReluAtGraphEndStaysAffine() {
        TestGraphs t = new TestGraphs(24);
        Graph g = new Chain("g", Shape.of(4, 5, 5))
                .add("conv1", t.conv2d(3, 4, 3, 1, 1, 1))
                .add("relu1", new Op.Relu())
                .add("bn1", t.bn(3, EPS_KERAS, Signs.MIXED, true))
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Conv", 1, "Relu", 1, "Affine", 1), f.opCounts());
        assertEquals(Map.of(KEPT_STANDALONE, 1), counters(ctx));
        Op.Affine a = (Op.Affine) f.node("bn1").op();
        Op.BatchNorm bn = (Op.BatchNorm) g.node("bn1").op();
        assertEquals(bn.toAffine(), a);
        assertTrue(ctx.notes().contains(NAME + ": bn1: kept standalone: its output is the graph output"), ctx.notes().toString());
    }

    /** The conv's output also feeds the skip connection, so the BN cannot be folded backwards. */
    @Test
    void bnOnResidualBranchStaysAffine() {
        TestGraphs t = new TestGraphs(25);
        Graph g = new Chain("g", Shape.of(3, 6, 6))
                .add("conv1", t.conv2d(4, 3, 3, 1, 1, 1))
                .add("bn1", t.bn(4), "conv1_out")
                .add("relu1", new Op.Relu())
                .add("add", new Op.Add(), "relu1_out", "conv1_out")
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Conv", 1, "Affine", 1, "Relu", 1, "Add", 1), f.opCounts());
        assertEquals(Map.of(KEPT_STANDALONE, 1), counters(ctx));
    }

    /** Only the BN's own output needs a single reader to fold forward; its input may have several. */
    @Test
    void bnOnResidualBranchFoldsIntoFollowingUnpaddedConv() {
        TestGraphs t = new TestGraphs(26);
        Graph g = new Chain("g", Shape.of(3, 6, 6))
                .add("conv1", t.conv2d(4, 3, 3, 1, 1, 1))
                .add("bn1", t.bn(4), "conv1_out")
                .add("conv2", t.conv2d(4, 4, 1, 1, 0, 1))
                .add("add", new Op.Add(), "conv2_out", "conv1_out")
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Conv", 2, "Add", 1), f.opCounts());
        assertEquals(Map.of(FOLDED_FOLLOWING_CONV, 1), counters(ctx));
    }

    @Test
    void bnWithTwoReadersStaysAffine() {
        TestGraphs t = new TestGraphs(27);
        Graph g = new Chain("g", Shape.of(8))
                .add("fc0", t.dense(6, 8))
                .add("relu0", new Op.Relu())
                .add("bn1", t.bn(6))
                .add("fc1", t.dense(6, 6), "bn1_out")
                .add("add", new Op.Add(), "fc1_out", "bn1_out")
                .build();
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Dense", 2, "Relu", 1, "Affine", 1, "Add", 1), f.opCounts());
        assertEquals(Map.of(KEPT_STANDALONE, 1), counters(ctx));
    }

    // --- the pass as a whole ------------------------------------------------------------------------

    private static Graph mixedNet(long seed) {
        TestGraphs t = new TestGraphs(seed);
        return new Chain("mixed", Shape.of(3, 10, 10))
                .add("conv1", t.conv2d(4, 3, 3, 1, 1, 1))
                .add("bn1", t.bn(4))
                .add("relu1", new Op.Relu())
                .add("bn2", t.bn(4))
                .add("conv2", t.conv2d(4, 4, 3, 1, 1, 4))
                .add("relu2", new Op.Relu())
                .add("bn3", t.bn(4, EPS_KERAS, Signs.POSITIVE, true))
                .add("pool", new Op.MaxPool(Window.pool(2, 2)))
                .add("flat", new Op.Flatten())
                .add("fc1", t.dense(5, 100))
                .build();
    }

    @Test
    void mixedNetworkCountsEveryBnOnce() {
        Graph g = mixedNet(28);
        PassContext ctx = new PassContext();
        Graph f = fold(g, ctx);
        assertEquals(Map.of("Conv", 2, "Relu", 2, "Affine", 1, "MaxPool", 1, "Flatten", 1, "Dense", 1), f.opCounts());
        assertEquals(Map.of(FOLDED_PRECEDING_CONV, 1, KEPT_STANDALONE, 1, MOVED_PAST_MAXPOOL, 1, CARRIED_THROUGH_FLATTEN, 1,
                FOLDED_FOLLOWING_DENSE, 1), counters(ctx));
        String d = FoldBatchNorm.describe(ctx);
        assertTrue(d.contains("bn2: kept standalone: next conv conv2 is padded"), d);
        assertTrue(d.contains("bn3: moved past MaxPool pool"), d);
    }

    @Test
    void passNeverMutatesItsInput() {
        Graph g = mixedNet(29);
        double[] x = new TestGraphs(30).input(g.inputShape());
        double[] before = FloatInterpreter.run(g, x);
        pass.run(g, new PassContext());
        assertEquals(mixedNet(29).nodes(), g.nodes(), "nodes and their weights are unchanged");
        assertEquals(mixedNet(29).toString(), g.toString());
        assertEquals(java.util.Arrays.toString(before), java.util.Arrays.toString(FloatInterpreter.run(g, x)));
    }

    @Test
    void graphWithoutBatchNormIsUnchanged() {
        TestGraphs t = new TestGraphs(31);
        Graph g = new Chain("g", Shape.of(4)).add("fc", t.dense(2, 4)).add("relu", new Op.Relu()).build();
        PassContext ctx = new PassContext();
        Graph f = pass.run(g, ctx);
        assertEquals(g.nodes(), f.nodes());
        assertEquals(Map.of(), counters(ctx));
    }

    /**
     * The equivalence check itself must catch the bugs a fold can have: a shift lost, a scale
     * applied with the wrong sign or to the wrong channel.
     */
    @Test
    void equivalenceCheckCatchesFoldingBugs() {
        TestGraphs t = new TestGraphs(32);
        Graph g = new Chain("g", Shape.of(3, 5, 5))
                .add("conv1", t.conv2d(4, 3, 3, 1, 0, 1))
                .add("bn1", t.bn(4))
                .build();
        Graph f = pass.run(g, new PassContext());
        Op.Conv c = (Op.Conv) f.node("conv1").op();
        Op.BatchNorm bn = (Op.BatchNorm) g.node("bn1").op();
        Op.Conv orig = (Op.Conv) g.node("conv1").op();

        double[] bias = c.bias().data();
        bias[2] += 1e-6 * Math.max(1, c.bias().maxAbs());
        assertBroken(g, f, new Op.Conv(c.weight(), Tensor.of(c.bias().shape(), bias), c.window(), c.group()));

        double[] w = c.weight().data();
        w[w.length - 1] = -w[w.length - 1];
        assertBroken(g, f, new Op.Conv(Tensor.of(c.weight().shape(), w), c.bias(), c.window(), c.group()));

        // Scaling by the channels in the wrong order (the first two swapped).
        double[] a = bn.scale();
        double[] b = bn.shift();
        double[] ws = orig.weight().data();
        double[] bs = orig.bias().data();
        int per = ws.length / 4;
        for (int o = 0; o < 4; o++) {
            int wrong = o < 2 ? 1 - o : o;
            for (int i = o * per; i < (o + 1) * per; i++) {
                ws[i] *= a[wrong];
            }
            bs[o] = a[wrong] * bs[o] + b[wrong];
        }
        assertBroken(g, f, new Op.Conv(Tensor.of(c.weight().shape(), ws), Tensor.of(c.bias().shape(), bs), c.window(), c.group()));
    }

    private static void assertBroken(Graph original, Graph folded, Op.Conv bad) {
        Graph broken = folded.mapNodes(n -> n.name().equals("conv1") ? n.withOp(bad) : n);
        assertThrows(AssertionFailedError.class, () -> assertEquivalent(original, broken));
    }

    /** Random chains of conv, pools, activations and BNs in every position. */
    @Test
    void randomChainsFoldEquivalently() {
        for (long seed = 100; seed < 160; seed++) {
            TestGraphs t = new TestGraphs(seed);
            java.util.Random r = t.random();
            int ch = 2 + r.nextInt(3);
            int size = 9 + r.nextInt(4);
            Shape in = Shape.of(ch, size, size);
            Chain c = new Chain("rand" + seed, in);
            int bns = 0;
            for (int i = 0; i < 5 && size >= 4; i++) {
                switch (r.nextInt(6)) {
                    case 0 -> {
                        int out = 2 + r.nextInt(3);
                        int pad = r.nextInt(2);
                        boolean dw = r.nextBoolean();
                        c.add("conv" + i, t.conv2d(dw ? ch : out, ch, 3, 1, pad, dw ? ch : 1));
                        ch = dw ? ch : out;
                        size = size - 2 + 2 * pad;
                    }
                    case 1 -> c.add("relu" + i, new Op.Relu());
                    case 2 -> {
                        c.add("mp" + i, new Op.MaxPool(Window.pool(2, 2)));
                        size /= 2;
                    }
                    case 3 -> {
                        c.add("ap" + i, new Op.AvgPool(Window.pool(2, 2), r.nextBoolean()));
                        size /= 2;
                    }
                    default -> {
                        c.add("bn" + i, t.bn(ch, r.nextBoolean() ? EPS_TORCH : EPS_KERAS,
                                r.nextBoolean() ? Signs.MIXED : Signs.POSITIVE, r.nextBoolean()));
                        bns++;
                    }
                }
            }
            c.add("bnf", t.bn(ch)).add("flat", new Op.Flatten()).add("fc", t.dense(3, ch * size * size));
            if (r.nextBoolean()) {
                c.add("bnl", t.bn(3));
                bns++;
            }
            bns++;
            Graph g = c.build();
            PassContext ctx = new PassContext();
            Graph f = fold(g, ctx);
            int handled = 0;
            for (String k : List.of(FOLDED_PRECEDING_CONV, FOLDED_PRECEDING_DENSE, FOLDED_FOLLOWING_CONV, FOLDED_FOLLOWING_DENSE,
                    KEPT_STANDALONE)) {
                handled += ctx.counter(NAME, k);
            }
            assertEquals(bns, handled, "every BN is folded or kept exactly once\n" + g);
            assertEquals(ctx.counter(NAME, KEPT_STANDALONE), count(f, "Affine"));
        }
    }
}
