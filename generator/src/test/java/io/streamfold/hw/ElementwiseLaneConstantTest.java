package io.streamfold.hw;

import io.streamfold.quant.QFormat;
import io.streamfold.quant.QOp;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.OptionalLong;
import java.util.function.IntToLongFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link Stage.Elementwise#laneConstant}: the one rule by which a lane's per-channel constant is a
 * constant (the emitter wires it, the DSP count prices a product by it as a product by a constant).
 */
class ElementwiseLaneConstantTest {

    private static final QFormat Q8 = new QFormat(8, 4);

    /** Two lanes over a period of two beats: lane 0 carries channels 0 and 2, lane 1 channels 1 and 3. */
    private static Stage.Elementwise twoLanesTwoBeats() {
        return new Stage.Elementwise("s", "n", 0, 1, 2, new QOp.QRelu(Q8, Q8), new int[] {0, 1, 2, 3}, 4);
    }

    @Test
    void aLaneIsConstantExactlyWhenEveryBeatOfItsPeriodAgrees() {
        Stage.Elementwise s = twoLanesTwoBeats();
        IntToLongFunction value = c -> c % 2 == 0 ? 5 : c;   // lane 0 sees 5 and 5, lane 1 sees 1 and 3
        assertEquals(OptionalLong.of(5), s.laneConstant(0, value));
        assertEquals(OptionalLong.empty(), s.laneConstant(1, value));
    }

    @Test
    void aPeriodOfOneBeatMakesEveryLaneConstant() {
        Stage.Elementwise s = new Stage.Elementwise("s", "n", 0, 1, 2, new QOp.QRelu(Q8, Q8), new int[] {0, 1}, 4);
        assertEquals(OptionalLong.of(7), s.laneConstant(0, c -> 7 + c));
        assertEquals(OptionalLong.of(8), s.laneConstant(1, c -> 7 + c));
    }

    @Test
    void aPReluLaneWithOneSlopeIsAProductByThatConstantTheOtherAVaryingProduct() {
        // slopes per channel: lane 0 (channels 0, 2) has 5 and 5, lane 1 (channels 1, 3) has 1 and 3
        QOp.QPRelu prelu = new QOp.QPRelu(Q8, new long[] {5, 1, 5, 3}, 6, 4, Q8);
        Stage.Elementwise s = new Stage.Elementwise("s", "n", 0, 1, 2, prelu, new int[] {0, 1, 2, 3}, 4);
        assertEquals(List.of(Product.byConstant(1, 8, 6, 5), Product.of(1, 8, 6)), s.products());
        // one slope everywhere: both lanes are products by that constant, no varying product left
        QOp.QPRelu flat = new QOp.QPRelu(Q8, new long[] {3, 3, 3, 3}, 6, 4, Q8);
        Stage.Elementwise t = new Stage.Elementwise("t", "n", 0, 1, 2, flat, new int[] {0, 1, 2, 3}, 4);
        assertEquals(List.of(Product.byConstant(1, 8, 6, 3), Product.byConstant(1, 8, 6, 3)), t.products());
    }
}
