package io.streamfold.hw;

import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Op;
import io.streamfold.ir.Shape;
import io.streamfold.ir.Window;
import io.streamfold.quant.QOp;
import io.streamfold.quant.QuantizedGraph;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The polyphase form of a conv: its geometry, its taps, its lowering and what it declines. */
class PolyphaseTest {

    private static Op.Conv conv(int out, int in, int k, int[] pads) {
        return new Op.Conv(LowerWindowedTest.ramp(out, in, k, k), LowerWindowedTest.ramp(out),
                Window.of(new int[] {k, k}, new int[] {1, 1}, pads), 1);
    }

    @Test
    void superKernelCoversEveryPhaseAndPaddingCostsAnAlignmentColumn() {
        assertEquals(new Polyphase(2, 3, 0, 2, 0), Polyphase.of(2, 3, 0));
        assertEquals(new Polyphase(4, 3, 0, 2, 0), Polyphase.of(4, 3, 0));
        assertEquals(new Polyphase(2, 3, 1, 3, 1), Polyphase.of(2, 3, 1));
        assertEquals(new Polyphase(8, 3, 1, 3, 1), Polyphase.of(8, 3, 1));
        assertEquals(new Polyphase(4, 5, 2, 3, 1), Polyphase.of(4, 5, 2));
        assertEquals(new Polyphase(1, 5, 2, 5, 2), Polyphase.of(1, 5, 2), "one pixel is the layer itself");
    }

    /**
     * For every output phase, each original tap is read exactly once, from the input column the
     * original window reads, and every super-tap that reads nothing is a zero weight.
     */
    @Test
    void everySuperTapReadsTheColumnOfItsOriginalTap() {
        for (int p = 1; p <= 6; p++) {
            for (int k = 1; k <= 5; k++) {
                for (int pl = 0; pl < k; pl++) {
                    Polyphase ph = Polyphase.of(p, k, pl);
                    int xs = 3;
                    for (int q = 0; q < p; q++) {
                        int[] seen = new int[k];
                        for (int j = 0; j < ph.superKernelW(); j++) {
                            for (int pin = 0; pin < p; pin++) {
                                int kx = ph.tap(j, pin, q);
                                if (kx < 0) {
                                    continue;
                                }
                                seen[kx]++;
                                int column = (xs + j - ph.superPadLeft()) * p + pin;
                                assertEquals(xs * p + q - pl + kx, column, "P " + p + " K " + k + " PL " + pl + " phase " + q + " tap " + kx);
                            }
                        }
                        for (int kx = 0; kx < k; kx++) {
                            assertEquals(1, seen[kx], "P " + p + " K " + k + " PL " + pl + " phase " + q + " tap " + kx);
                        }
                    }
                }
            }
        }
    }

    /**
     * On a short row the window leaves out the super-columns that read padding at every output
     * position: every tap that reads the image at some position is still read there, once.
     */
    @Test
    void superColumnsThatOnlyEverReadPaddingAreLeftOut() {
        assertEquals(new Polyphase(8, 3, 1, 1, 0), Polyphase.of(8, 3, 1, 8, 8), "a whole row per window: one super-column");
        assertEquals(Polyphase.of(2, 3, 1), Polyphase.of(2, 3, 1, 8, 8), "cnn_seed at 2 pixels: nothing to leave out");
        for (int p = 1; p <= 6; p++) {
            for (int k = 1; k <= 5; k++) {
                for (int pl = 0; pl < k; pl++) {
                    for (int pr = 0; pr < k; pr++) {
                        for (int w = p; w <= 3 * p; w += p) {
                            int ow = w + pl + pr - k + 1;
                            if (ow < p || ow % p != 0 || ow - 1 - pl > w - 1) {
                                continue;
                            }
                            Polyphase ph = Polyphase.of(p, k, pl, w, ow);
                            for (int xs = 0; xs < ow / p; xs++) {
                                for (int q = 0; q < p; q++) {
                                    for (int kx = 0; kx < k; kx++) {
                                        int column = xs * p + q - pl + kx;
                                        int reads = 0;
                                        for (int j = 0; j < ph.superKernelW(); j++) {
                                            for (int pin = 0; pin < p; pin++) {
                                                if (ph.tap(j, pin, q) == kx) {
                                                    reads++;
                                                    assertEquals(column, (xs + j - ph.superPadLeft()) * p + pin);
                                                }
                                            }
                                        }
                                        String at = "P " + p + " K " + k + " pads " + pl + "," + pr + " W " + w + " xs " + xs + " q " + q + " kx " + kx;
                                        assertEquals(column >= 0 && column < w ? 1 : reads, reads, at);
                                        assertTrue(reads <= 1, at);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void oneChannelConvLowersToASuperPixelWindowAndAWiderMatVec() {
        QuantizedGraph q = LowerWindowedTest.single(Shape.of(1, 5, 8), conv(3, 1, 3, new int[] {1, 1, 1, 1}));
        HwDesign d = LowerToHardware.run(q, ParallelismPlan.serial().withInputElems(2).with("layer", new ParallelismPlan.Fold(6, 2, 2)));
        assertEquals(2, d.stages().size(), "input beats of 2 pixels feed the window as they are");
        Stage.SlidingWindow w = assertInstanceOf(Stage.SlidingWindow.class, d.stages().get(0));
        Stage.MatVec m = assertInstanceOf(Stage.MatVec.class, d.stages().get(1));
        assertEquals(List.of(2, 5, 4, 3, 3, 1, 1, 5, 4), List.of(w.channels(), w.height(), w.width(), w.kernelH(), w.kernelW(), w.padTop(),
                w.padLeft(), w.outHeight(), w.outWidth()));
        assertEquals(2, m.pixels());
        assertEquals(20, m.vectors());
        assertEquals(3 * 3 * 2, m.inFeatures());
        assertEquals(6, m.outFeatures());
        assertEquals(20 * 9, m.cycles());
        assertEquals(d.channels().get(m.output()).beats() * 6, 3 * 5 * 8, "the output stream is the layer's");
        // output (phase 1, channel 2) at super-tap (ky 2, j 2), input phase 0: original tap kx = (2-1)*2 + 0 - 1 + 1 = 2
        QOp.QConv c = (QOp.QConv) q.op("layer");
        int element = (2 * 3 + 2) * 2; // (ky, j, input phase) in window order
        int lane = 3 + 2;              // output phase 1, channel 2
        assertEquals(c.weight().at((2 * 3 + 2) * 3 + 2), m.weight(element / 2, lane, element % 2));
        // input phase 1 at super-tap j 0 of output phase 0: column xs*2 - 2 + 1 = xs*2 - 1, tap kx 0
        assertEquals(c.weight().at((0 * 3 + 1) * 3 + 0), m.weight(((1 * 3 + 0) * 2 + 1) / 2, 0, 1));
        // output phase 1 never reads super-column xs-1: a zero weight
        assertEquals(0, m.weight(0, 3, 0));
        assertEquals(0, m.weight(0, 3, 1));
    }

    @Test
    void lanesOfThePolyphaseFormCountItsPixels() {
        QuantizedGraph q = LowerWindowedTest.single(Shape.of(2, 4, 12), conv(5, 2, 3, new int[] {0, 0, 0, 2}));
        Lanes l = Lanes.of(q, "layer", 4);
        assertEquals(8, l.inputs());
        assertEquals(20, l.outputs());
        assertEquals(2 * 3 * 3 * 2, l.repeats(), "OH 2, 3 super-positions, 3 x 2 super-taps");
        assertEquals(List.of(2, 3, 4, 6, 12), Polyphase.choices(q, "layer"));
        assertEquals(l.repeats() * 2L * 4, l.cycles(new ParallelismPlan.Fold(5, 4, 4)));
    }

    @Test
    void whatCannotComputeSeveralPixelsIsABadPlanNamingTheLayer() {
        QuantizedGraph strided = LowerWindowedTest.single(Shape.of(1, 6, 8), LowerWindowedTest.conv(2, 1, 1, 3, 2, 1));
        QuantizedGraph narrow = LowerWindowedTest.single(Shape.of(1, 6, 8), conv(2, 1, 3, new int[] {0, 0, 0, 0})); // OW 6
        QuantizedGraph odd = LowerWindowedTest.single(Shape.of(1, 6, 7), conv(2, 1, 3, new int[] {1, 1, 1, 1}));   // W 7
        QuantizedGraph depthwise = LowerWindowedTest.single(Shape.of(2, 6, 8), LowerWindowedTest.conv(2, 2, 2, 3, 1, 1));
        QuantizedGraph pool = LowerWindowedTest.single(Shape.of(2, 6, 8), new Op.MaxPool(Window.pool(2, 2)));
        QuantizedGraph oneD = LowerWindowedTest.single(Shape.of(1, 8), new Op.Conv(LowerWindowedTest.ramp(2, 1, 3),
                LowerWindowedTest.ramp(2), Window.of(new int[] {3}, new int[] {1}, new int[] {1, 1}), 1));
        List<QuantizedGraph> declined = List.of(strided, narrow, odd, depthwise, pool, oneD);
        int[] pixels = {2, 4, 2, 2, 2, 2};
        for (int i = 0; i < declined.size(); i++) {
            QuantizedGraph q = declined.get(i);
            int p = pixels[i];
            assertNotNull(Polyphase.reason(q, "layer", p), q.graph().toString());
            ModelException e = assertThrows(ModelException.class,
                    () -> LowerToHardware.run(q, ParallelismPlan.serial().with("layer", new ParallelismPlan.Fold(1, 1, p))));
            assertEquals(Diagnostic.SF_BAD_PLAN, e.id());
            assertEquals("layer", e.node());
        }
        assertNull(Polyphase.reason(narrow, "layer", 2), "2 divides W 8 and OW 6");
        assertEquals(List.of(2), Polyphase.choices(narrow, "layer"));
        assertNotNull(Polyphase.beyond(narrow, "layer", 2));
        assertNull(Polyphase.beyond(narrow, "layer", 1));
    }

    @Test
    void theInputMayCarryWholePixelsOfARow() {
        Shape in = Shape.of(2, 3, 6);
        assertEquals(List.of(1, 2, 4, 6, 12), java.util.stream.IntStream.rangeClosed(1, 36)
                .filter(e -> LowerToHardware.inputWidthFits(in, e)).boxed().toList());
        QuantizedGraph q = LowerWindowedTest.single(Shape.of(1, 6, 8), conv(2, 1, 3, new int[] {1, 1, 1, 1}));
        ModelException e = assertThrows(ModelException.class, () -> LowerToHardware.run(q, ParallelismPlan.serial().withInputElems(3)));
        assertEquals(Diagnostic.SF_BAD_PLAN, e.id());
    }

    @Test
    void planFilesKeepThePixels() {
        ParallelismPlan p = ParallelismPlan.serial().with("c", new ParallelismPlan.Fold(16, 2, 2)).with("d", 2, 4);
        String json = p.toJson();
        assertEquals(p, ParallelismPlan.fromJson(json));
        assertEquals(1, json.split("\"pixels\"", -1).length - 1, "written only above 1: " + json);
        assertEquals(new ParallelismPlan.Fold(2, 4, 1), ParallelismPlan.fromJson(json).fold("d"));
        ModelException e = assertThrows(ModelException.class,
                () -> ParallelismPlan.fromJson("{\"layers\": {\"c\": {\"pe\": 1, \"simd\": 1, \"pixels\": 0}}}"));
        assertEquals(Diagnostic.SF_BAD_PLAN, e.id());
        assertEquals("c", e.node());
    }
}
