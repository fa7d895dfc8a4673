package io.streamfold.hw;

import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;
import io.streamfold.ir.Shape;
import io.streamfold.quant.QuantizedGraph;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Chooses PE/SIMD per layer and the input beat width under a DSP budget:
 * {@code QuantizedGraph + budget => ParallelismPlan}, in the spirit of FINN's {@code SetFolding}.
 * The budget counts DSP blocks as the target's synthesis spends them ({@link DspMapping}: on the
 * iCE40 UltraPlus a 16 x 16 product is one SB_MAC16, a 20 x 19 one three, a product by a power of
 * two none; on the generic target, and on a device without DSP blocks, one per multiplier).
 *
 * <p>The heuristic is deliberately simple, a greedy loop with no search:
 * <ol>
 * <li>Start with one lane everywhere and one element per input beat.</li>
 * <li>Lower the plan and read every stage's cycles per inference ({@link Stage#cycles()}, the
 *     input and output beats too); the largest is the design's initiation interval (II).</li>
 * <li>Give every stage at the II the next larger valid fold: a matrix-vector stage the next
 *     divisor of its input count as SIMD, and once SIMD is full the next divisor of its output
 *     count as PE; a stage without lanes (elementwise, fork, add, pooling, softmax, converters)
 *     runs at the beats it is fed, so its nearest matrix-vector producer gets the next PE, or
 *     the input the next number of elements per beat (a divisor of a pixel, then whole pixels
 *     dividing a row). A convolution whose lanes are all used, which still takes a cycle per
 *     window beat, computes more output pixels per window ({@link Polyphase}): the next pixel
 *     count it can take, at the fewest multipliers that make it faster than now. If some stage
 *     at the II has no larger fold, or the new plan needs more DSP blocks than the budget, stop
 *     with the last plan.</li>
 * <li>Trim: at the II reached, give every layer the fewest multipliers (then the fewest cycles,
 *     then the fewest pixels per window) that still meet it, and the input the fewest elements
 *     per beat, which frees what the greedy steps over-provisioned (a divisor step can more than
 *     halve a stage's cycles; a conv given several pixels per window on the way may not need
 *     them at the end).</li>
 * </ol>
 * It works from stage cycle counts only, so any stage kind with {@code cycles()} and a foldable
 * layer behind it (Conv, through {@link #moves}) plugs in. It does not balance for latency,
 * does not try PE before SIMD when that would fit a budget better, and does not pack two narrow
 * products into one DSP block (Yosys does not either).
 */
public final class PlanParallelism {

    /** Stable pass name. */
    public static final String NAME = "plan-parallelism";

    /** The plan chosen, the design it gives and the DSP blocks the budget counted in it. */
    public record Result(ParallelismPlan plan, HwDesign design, int dsps) {
        public int ii() {
            return design.initiationInterval();
        }

        public int multipliers() {
            return design.multipliers();
        }

        /** {@code sum(MACs) / (II * multipliers)}, the utilization figure of bench/; 0 if there are no multipliers. */
        public double utilization() {
            return design.utilization();
        }

        @Override
        public String toString() {
            return String.format("II %d cycles, %d multipliers, %d DSP blocks, utilization %.3f", ii(), multipliers(), dsps, utilization());
        }
    }

    private final QuantizedGraph q;
    private final int budget;
    private final Pipelining pipelining;
    private final DspMapping dsp;

    private PlanParallelism(QuantizedGraph q, int budget, Pipelining pipelining, DspMapping dsp) {
        this.q = q;
        this.budget = budget;
        this.pipelining = pipelining;
        this.dsp = dsp;
    }

    /**
     * Plans for at most {@code budget} DSP blocks as {@code dsp} counts them; FIFO depth and argmax
     * head as in {@code base}; the designs are lowered with the target's {@code pipelining}.
     */
    public static Result run(QuantizedGraph q, int budget, ParallelismPlan base, Pipelining pipelining, DspMapping dsp) {
        return new PlanParallelism(q, budget, pipelining, dsp).plan(new ParallelismPlan(Map.of(), 1, base.fifoDepth(), base.argmax()));
    }

    /** {@link #run(QuantizedGraph, int, ParallelismPlan, Pipelining, DspMapping)} for at most {@code budget} multipliers. */
    public static Result run(QuantizedGraph q, int budget, ParallelismPlan base, Pipelining pipelining) {
        return run(q, budget, base, pipelining, DspMapping.PER_MULTIPLIER);
    }

    /** {@link #run(QuantizedGraph, int, ParallelismPlan, Pipelining, DspMapping)} for the generic target. */
    public static Result run(QuantizedGraph q, int budget, ParallelismPlan base) {
        return run(q, budget, base, Pipelining.GENERIC);
    }

    public static Result run(QuantizedGraph q, int budget) {
        return run(q, budget, ParallelismPlan.serial());
    }

    private Result plan(ParallelismPlan start) {
        HwDesign d = LowerToHardware.run(q, start, pipelining);
        int need = dsp.blocks(d);
        if (need > budget) {
            throw new ModelException(Diagnostic.SF_BAD_PLAN, null, "the smallest design needs " + need + " DSP blocks ("
                    + d.multipliers() + " multipliers), the budget is " + budget, "raise --dsp-budget to at least " + need);
        }
        ParallelismPlan plan = start;
        while (true) {
            ParallelismPlan next = step(plan, d);
            if (next == null) {
                break;
            }
            HwDesign nd = LowerToHardware.run(q, next, pipelining);
            if (dsp.blocks(nd) > budget) {
                break;
            }
            plan = next;
            d = nd;
        }
        return trim(plan, d);
    }

    /** Every stage at the II one fold larger, or null if one of them cannot grow. */
    private ParallelismPlan step(ParallelismPlan plan, HwDesign d) {
        int ii = d.initiationInterval();
        Map<Integer, Stage> producer = new HashMap<>();
        for (Stage s : d.stages()) {
            for (int ch : s.outputs()) {
                producer.put(ch, s);
            }
        }
        ParallelismPlan next = plan;
        List<String> grown = new ArrayList<>();
        for (Stage s : d.stages()) {
            if (next == null) {
                return null;
            }
            if (s.cycles() != ii) {
                continue;
            }
            if (foldable(s.source())) {
                if (!grown.contains(s.source())) {
                    next = grow(next, s.source());
                    grown.add(s.source());
                }
            } else if (s instanceof Stage.WidthConverter w && !w.widening()) {
                // A narrowing converter emits its consumer's lanes per beat: grow the consumer (past a
                // second converter, which a SIMD that does not divide the incoming beat puts behind it).
                Stage consumer = consumerOf(d, w.output());
                while (consumer instanceof Stage.WidthConverter c) {
                    consumer = consumerOf(d, c.output());
                }
                if (consumer != null && foldable(consumer.source()) && !grown.contains(consumer.source())) {
                    next = grow(next, consumer.source());
                    grown.add(consumer.source());
                }
            } else {
                next = upstream(next, s.inputs().get(0), producer, d, grown);
            }
        }
        if (d.inputChannel().beats() == ii && !grown.contains("input")) {
            next = widerInput(next);
            grown.add("input");
        }
        if (d.outputChannel().beats() == ii) {
            next = upstream(next, d.output(), producer, d, grown);
        }
        return next == null || next.equals(plan) ? null : next;
    }

    /** Gives the nearest lane-bearing producer of channel {@code ch} more output lanes. */
    private ParallelismPlan upstream(ParallelismPlan plan, int ch, Map<Integer, Stage> producer, HwDesign d, List<String> grown) {
        if (plan == null) {
            return null;
        }
        Stage p = producer.get(ch);
        while (p != null && !foldable(p.source())) {
            p = producer.get(p.inputs().get(0));
        }
        if (p == null) {
            if (grown.contains("input")) {
                return plan;
            }
            grown.add("input");
            return widerInput(plan);
        }
        String node = p.source();
        if (grown.contains(node)) {
            return plan;
        }
        grown.add(node);
        ParallelismPlan.Fold f = plan.fold(node);
        int pe = nextDivisor(lanes(plan, node).outputs(), f.pe());
        return pe < 0 ? morePixels(plan, node) : plan.with(node, new ParallelismPlan.Fold(pe, f.simd(), f.pixels()));
    }

    /** True if the node has lanes a plan can set ({@link Lanes}). */
    private boolean foldable(String node) {
        return Lanes.of(q, node) != null;
    }

    private static Stage consumerOf(HwDesign d, int ch) {
        for (Stage s : d.stages()) {
            if (s.inputs().contains(ch)) {
                return s;
            }
        }
        return null;
    }

    /** A layer's lanes at the pixels per window the plan gives it. */
    private Lanes lanes(ParallelismPlan plan, String node) {
        return Lanes.of(q, node, plan.fold(node).pixels());
    }

    /** The next fold of a layer: SIMD first, then PE, then more pixels per window; null when none is left. */
    private ParallelismPlan grow(ParallelismPlan plan, String node) {
        if (plan == null) {
            return null;
        }
        Lanes lanes = lanes(plan, node);
        List<ParallelismPlan.Fold> moves = moves(lanes.inputs(), lanes.outputs(), plan.fold(node));
        return moves.isEmpty() ? morePixels(plan, node) : plan.with(node, moves.get(0));
    }

    /**
     * The conv {@code node} computing more output pixels per window: the next pixel count it can
     * take ({@link Polyphase#choices}) at the fewest multipliers that need fewer cycles than its
     * fold now; null if there is none (not a conv, or no pixel count is faster).
     */
    private ParallelismPlan morePixels(ParallelismPlan plan, String node) {
        ParallelismPlan.Fold f = plan.fold(node);
        long now = lanes(plan, node).cycles(f);
        for (int p : Polyphase.choices(q, node)) {
            if (p <= f.pixels()) {
                continue;
            }
            Lanes l = Lanes.of(q, node, p);
            long perRepeat = (now - 1) / l.repeats();
            if (perRepeat < 1) {
                continue;
            }
            ParallelismPlan.Fold c = cheapest(l.inputs(), l.outputs(), (int) Math.min(Integer.MAX_VALUE, perRepeat));
            ParallelismPlan.Fold at = new ParallelismPlan.Fold(c.pe(), c.simd(), p);
            if (l.cycles(at) < now) {
                return plan.with(node, at);
            }
        }
        return null;
    }

    /** Larger folds of a layer with {@code in} inputs and {@code out} outputs, the preferred first. */
    static List<ParallelismPlan.Fold> moves(int in, int out, ParallelismPlan.Fold f) {
        List<ParallelismPlan.Fold> m = new ArrayList<>();
        int simd = nextDivisor(in, f.simd());
        if (simd > 0) {
            m.add(new ParallelismPlan.Fold(f.pe(), simd, f.pixels()));
        } else {
            int pe = nextDivisor(out, f.pe());
            if (pe > 0) {
                m.add(new ParallelismPlan.Fold(pe, f.simd(), f.pixels()));
            }
        }
        return m;
    }

    private ParallelismPlan widerInput(ParallelismPlan plan) {
        if (plan == null) {
            return null;
        }
        for (int e = plan.inputElems() + 1; e <= widestInput(); e++) {
            if (LowerToHardware.inputWidthFits(q.graph().inputShape(), e)) {
                return plan.withInputElems(e);
            }
        }
        return null;
    }

    /** The most elements an input beat can carry: a pixel, or a row of a (C, H, W) input. */
    private int widestInput() {
        Shape in = q.graph().inputShape();
        return in.rank() == 3 ? in.channels() * in.dim(2) : LowerToHardware.lanesPerPixel(in);
    }

    /**
     * Fewest multipliers per layer and fewest input lanes that keep the II; kept only if the design
     * agrees (no more DSP blocks). A layer's products all have the same widths, so its fewest
     * multipliers are its fewest DSP blocks.
     */
    private Result trim(ParallelismPlan plan, HwDesign d) {
        int ii = d.initiationInterval();
        Map<String, ParallelismPlan.Fold> folds = new LinkedHashMap<>();
        for (String node : q.ops().keySet()) {
            if (Lanes.of(q, node) == null) {
                continue;
            }
            folds.put(node, cheapestAt(node, ii));
        }
        Shape in = q.graph().inputShape();
        int inElems = plan.inputElems();
        for (int e = 1; e <= widestInput(); e++) {
            if (LowerToHardware.inputWidthFits(in, e) && in.size() / e <= ii) {
                inElems = e;
                break;
            }
        }
        ParallelismPlan trimmed = new ParallelismPlan(folds, inElems, plan.fifoDepth(), plan.argmax());
        HwDesign td = LowerToHardware.run(q, trimmed, pipelining);
        if (td.initiationInterval() <= ii && dsp.blocks(td) <= dsp.blocks(d)) {
            return new Result(trimmed, td, dsp.blocks(td));
        }
        return new Result(plan, d, dsp.blocks(d));
    }

    /**
     * The fold of {@code node} with the fewest multipliers, then the fewest cycles, then the
     * fewest pixels per window, that takes at most {@code ii} cycles; if none does, the fastest
     * fold at one pixel per window (the design check in {@link #trim} then keeps the untrimmed plan).
     */
    private ParallelismPlan.Fold cheapestAt(String node, int ii) {
        List<Integer> pixels = new ArrayList<>(List.of(1));
        pixels.addAll(Polyphase.choices(q, node));
        ParallelismPlan.Fold best = null;
        for (int p : pixels) {
            Lanes l = Lanes.of(q, node, p);
            ParallelismPlan.Fold c = cheapest(l.inputs(), l.outputs(), ii / Math.max(1, l.repeats()));
            ParallelismPlan.Fold at = new ParallelismPlan.Fold(c.pe(), c.simd(), p);
            if (l.cycles(at) > ii) {
                continue;
            }
            if (best == null || at.pe() * at.simd() < best.pe() * best.simd()
                    || at.pe() * at.simd() == best.pe() * best.simd() && l.cycles(at) < Lanes.of(q, node, best.pixels()).cycles(best)) {
                best = at;
            }
        }
        if (best == null) {
            Lanes one = Lanes.of(q, node);
            return cheapest(one.inputs(), one.outputs(), ii / Math.max(1, one.repeats()));
        }
        return best;
    }

    /** The fold with the fewest multipliers, then the fewest cycles, with at most {@code ii} cycles. */
    static ParallelismPlan.Fold cheapest(int in, int out, int ii) {
        ParallelismPlan.Fold best = new ParallelismPlan.Fold(out, in);
        for (int pe = 1; pe <= out; pe++) {
            for (int simd = 1; simd <= in && out % pe == 0; simd++) {
                if (in % simd != 0) {
                    continue;
                }
                long cycles = (long) (in / simd) * (out / pe);
                long bestCycles = (long) (in / best.simd()) * (out / best.pe());
                int mults = pe * simd;
                int bestMults = best.pe() * best.simd();
                if (cycles <= ii && (mults < bestMults || mults == bestMults && cycles < bestCycles)) {
                    best = new ParallelismPlan.Fold(pe, simd);
                }
            }
        }
        return best;
    }

    /** The smallest divisor of {@code n} above {@code d}, or -1. */
    static int nextDivisor(int n, int d) {
        for (int k = d + 1; k <= n; k++) {
            if (n % k == 0) {
                return k;
            }
        }
        return -1;
    }
}
