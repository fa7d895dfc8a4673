package io.streamfold.hw;

import io.streamfold.passes.PassContext;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Chooses where each matrix-vector stage keeps its weights and its input, for a device whose block
 * RAM is bounded: {@code MatVec(ROM)  =>  MatVec(SPRAM)} for the largest weight sets, until the
 * constants left in the design fit the device's block RAM; then {@code MatVec(BUFFERED)  =>
 * MatVec(STREAMED)} for the largest input buffers, until the constants and the stages' buffers fit.
 *
 * <p>Nothing moves while everything fits block RAM, nor on a device without SPRAM. Otherwise the
 * stages are taken largest weight set first (ties in stage order); one moves when its SPRAM blocks
 * ({@link Stage.MatVec#spramBlocks()}) still fit beside those already placed, and the walk stops
 * as soon as the rest fits. A set too wide or too deep for the blocks left is skipped for the next
 * smaller one. The result may still not fit: {@link DeviceTarget#checkFits} says so. Only
 * matrix-vector weights can move: the other stages' constants are small tables and biases.
 *
 * <p>Buffers: a buffered unit holds two input vectors (block RAM); the streamed schedule
 * ({@link Stage.MatVec.Schedule#STREAMED}) holds none but keeps an accumulator for every output in
 * logic, so only a unit whose accumulators take fewer bits than its buffer is switched, largest
 * buffer first, while the constants in the design plus every stage's buffer exceed the block RAM.
 * The count is in bits, which packs better than the RAM blocks do, so it errs on keeping buffers;
 * place and route has the last word.
 */
public final class PlaceWeights {

    public static final String NAME = LowerToHardware.NAME;

    private PlaceWeights() {
    }

    /** The design with its largest weight sets in SPRAM as far as {@code t} needs and allows; one counter and note per move. */
    public static HwDesign run(HwDesign d, DeviceTarget t, PassContext ctx) {
        return t.blockRamBits() < 0 ? d : streamInputs(weights(d, t, ctx), t, ctx);
    }

    /** The first half of {@link #run}: weight sets to SPRAM. */
    public static HwDesign weights(HwDesign d, DeviceTarget t, PassContext ctx) {
        if (t.blockRamBits() < 0 || t.sprams() == 0 || d.blockRomBits() <= t.blockRamBits()) {
            return d;
        }
        List<Stage.MatVec> order = new ArrayList<>();
        for (Stage s : d.stages()) {
            if (s instanceof Stage.MatVec m && m.store() == WeightStore.ROM) {
                order.add(m);
            }
        }
        // stable sort: equal sets keep stage order
        order.sort(Comparator.comparingLong(Stage.MatVec::weightBits).reversed());
        // from what is left in the design, so that a placed design stays as it is
        long inDesign = d.blockRomBits();
        int blocks = d.spramBlocks();
        List<Stage> stages = new ArrayList<>(d.stages());
        for (Stage.MatVec m : order) {
            if (inDesign <= t.blockRamBits()) {
                break;
            }
            if (blocks + m.spramBlocks() > t.sprams()) {
                continue;
            }
            stages.set(stages.indexOf(m), m.withStore(WeightStore.SPRAM));
            inDesign -= m.weightBits();
            blocks += m.spramBlocks();
            ctx.count(NAME, "weight sets in SPRAM");
            ctx.note(NAME, m.source(), String.format(Locale.ROOT, "%.1f kbit of weights (%d x %d bits) in %d SPRAM block%s, loaded after reset",
                    m.weightBits() / 1024.0, m.rows(), m.rowBits(), m.spramBlocks(), m.spramBlocks() == 1 ? "" : "s"));
        }
        return new HwDesign(d.name(), d.channels(), stages, d.input(), d.output(), d.inputOrder(), d.outputOrder());
    }

    /** The second half of {@link #run}: input buffers dropped for the streamed schedule. */
    public static HwDesign streamInputs(HwDesign d, DeviceTarget t, PassContext ctx) {
        if (t.blockRamBits() < 0) {
            return d;
        }
        long need = d.blockRomBits() + d.stages().stream().mapToLong(Stage::bufferBits).sum();
        List<Stage.MatVec> order = new ArrayList<>();
        for (Stage s : d.stages()) {
            if (s instanceof Stage.MatVec m && m.schedule() == Stage.MatVec.Schedule.BUFFERED && m.accumulatorBits() < m.bufferBits()) {
                order.add(m);
            }
        }
        order.sort(Comparator.comparingLong(Stage.MatVec::bufferBits).reversed());
        List<Stage> stages = new ArrayList<>(d.stages());
        for (Stage.MatVec m : order) {
            if (need <= t.blockRamBits()) {
                break;
            }
            stages.set(stages.indexOf(m), m.withSchedule(Stage.MatVec.Schedule.STREAMED));
            need -= m.bufferBits();
            ctx.count(NAME, "input buffers streamed");
            ctx.note(NAME, m.source(), String.format(Locale.ROOT, "input not buffered (%.1f kbit saved): each beat serves the %d row groups "
                    + "as it arrives, %d accumulators", m.bufferBits() / 1024.0, m.nf(), m.outFeatures()));
        }
        return new HwDesign(d.name(), d.channels(), stages, d.input(), d.output(), d.inputOrder(), d.outputOrder());
    }
}
