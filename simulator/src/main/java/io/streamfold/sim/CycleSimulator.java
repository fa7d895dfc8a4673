package io.streamfold.sim;

import io.streamfold.hw.Channel;
import io.streamfold.hw.HwDesign;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Simulates a {@link HwDesign} cycle by cycle. Cycle 0 is the first clock edge after reset; in
 * each cycle the top-level source offers its next input beat (unless the stimulus inserts a gap),
 * the sink takes an output beat (unless it applies backpressure), every stage fires or waits, and
 * then all FIFOs update at the edge, exactly as in the RTL.
 */
public final class CycleSimulator {

    /** One transfer on {@code m_axis}: the cycle of the clock edge and the element values. */
    public record OutputBeat(long cycle, long[] lanes) {
        public OutputBeat {
            lanes = lanes.clone();
        }

        @Override
        public long[] lanes() {
            return lanes.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof OutputBeat b && b.cycle == cycle && Arrays.equals(b.lanes, lanes);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(cycle) * 31 + Arrays.hashCode(lanes);
        }

        @Override
        public String toString() {
            return "@" + cycle + " " + Arrays.toString(lanes);
        }
    }

    /**
     * What a run produced.
     *
     * @param outputs          per inference, the output tensor (flat channels-first)
     * @param beats            every output beat with its cycle
     * @param firstInputCycle  per inference, the cycle its first input beat was taken
     * @param firstOutputCycle per inference, the cycle its first output beat was given
     * @param cycles           cycles simulated (one past the last output beat)
     * @param fires            per stage name, cycles in which it fired
     */
    public record Result(List<long[]> outputs, List<OutputBeat> beats, long[] firstInputCycle, long[] firstOutputCycle, long cycles,
                         Map<String, Long> fires) {

        /** Cycle of the first output beat minus cycle of the first input beat (first inference). */
        public long latency() {
            return firstOutputCycle[0] - firstInputCycle[0];
        }

        /**
         * Cycles between the first output beats of the last two inferences, or -1. In steady state
         * this equals the interval between their first input beats (the definition in docs/architecture.md, section 6, of
         * II); unlike the input side it is not shortened while the input buffers fill, so it is
         * right after a few inferences already.
         */
        public long measuredInterval() {
            int n = firstOutputCycle.length;
            return n < 2 ? -1 : firstOutputCycle[n - 1] - firstOutputCycle[n - 2];
        }
    }

    /** Cycles without any movement, not counting cycles of gaps or backpressure, after which the design is declared deadlocked. */
    static final long DEADLOCK_CYCLES = 100_000;

    private CycleSimulator() {
    }

    /** Runs the inputs (flat channels-first, integer values in the input format) through the design. */
    public static Result run(HwDesign d, List<long[]> inputs, Stimulus stim) {
        return run(d, inputs, stim, null, false);
    }

    /**
     * Like {@link #run(HwDesign, List, Stimulus)}, writing a VCD of the top-level AXI4-Stream
     * signals to {@code vcd} (if not null) and, with {@code stages}, every FIFO's occupancy and
     * every stage's fire signal.
     */
    public static Result run(HwDesign d, List<long[]> inputs, Stimulus stim, VcdWriter vcd, boolean stages) {
        Fifo[] fifos = new Fifo[d.channels().size()];
        for (Channel c : d.channels()) {
            fifos[c.id()] = new Fifo(c.elems(), c.depth(), c.registers());
        }
        StageModel[] models = new StageModel[d.stages().size()];
        for (int i = 0; i < models.length; i++) {
            models[i] = StageModel.of(d.stages().get(i), fifos);
        }
        Channel inC = d.inputChannel();
        Channel outC = d.outputChannel();
        Fifo in = fifos[d.input()];
        Fifo out = fifos[d.output()];
        int inBeats = inC.beats();
        int outBeats = outC.beats();
        long[][] stream = new long[inputs.size()][];
        for (int i = 0; i < inputs.size(); i++) {
            stream[i] = d.toStreamOrder(inputs.get(i));
        }
        long totalIn = (long) inBeats * inputs.size();
        long totalOut = (long) outBeats * inputs.size();
        long[] firstIn = new long[inputs.size()];
        long[] firstOut = new long[inputs.size()];
        List<OutputBeat> beats = new ArrayList<>();
        long[] inBeat = new long[inC.elems()];
        long[] outStream = new long[outC.elems() * outBeats];
        List<long[]> outputs = new ArrayList<>();
        long sent = 0;
        long received = 0;
        long cycle = 0;
        long idle = 0;
        int[] sig = vcd == null ? null : declare(vcd, d, stages);
        long[] firesBefore = new long[models.length];
        while (received < totalOut) {
            boolean moved = false;
            if (vcd != null) {
                boolean sValid = sent < totalIn && stim.inputValid(cycle);
                vcd.sample(cycle, sig[0], sValid ? 1 : 0);
                vcd.sample(cycle, sig[1], in.full() ? 0 : 1);
                if (sValid) {
                    int inf = (int) (sent / inBeats);
                    int b = (int) (sent % inBeats);
                    vcd.sample(cycle, sig[2], VcdWriter.pack(java.util.Arrays.copyOfRange(stream[inf], b * inC.elems(), (b + 1) * inC.elems()),
                            inC.format().bits()));
                }
                vcd.sample(cycle, sig[3], out.empty() ? 0 : 1);
                vcd.sample(cycle, sig[4], stim.outputReady(cycle) ? 1 : 0);
                if (!out.empty()) {
                    long[] lanes = new long[outC.elems()];
                    for (int i = 0; i < lanes.length; i++) {
                        lanes[i] = out.head(i);
                    }
                    vcd.sample(cycle, sig[5], VcdWriter.pack(lanes, outC.format().bits()));
                }
                vcd.sample(cycle, sig[6], received % outBeats == outBeats - 1 ? 1 : 0);
                if (stages) {
                    for (int i = 0; i < fifos.length; i++) {
                        vcd.sample(cycle, sig[7 + i], fifos[i].count());
                    }
                }
            }
            if (sent < totalIn && stim.inputValid(cycle) && !in.full()) {
                int inf = (int) (sent / inBeats);
                int b = (int) (sent % inBeats);
                System.arraycopy(stream[inf], b * inC.elems(), inBeat, 0, inC.elems());
                in.push(inBeat);
                if (b == 0) {
                    firstIn[inf] = cycle;
                }
                sent++;
            }
            if (!out.empty() && stim.outputReady(cycle)) {
                long[] lanes = new long[outC.elems()];
                for (int i = 0; i < lanes.length; i++) {
                    lanes[i] = out.head(i);
                }
                out.pop();
                beats.add(new OutputBeat(cycle, lanes));
                int inf = (int) (received / outBeats);
                int b = (int) (received % outBeats);
                if (b == 0) {
                    firstOut[inf] = cycle;
                }
                System.arraycopy(lanes, 0, outStream, b * lanes.length, lanes.length);
                if (b == outBeats - 1) {
                    outputs.add(d.fromStreamOrder(outStream));
                }
                received++;
            }
            for (int i = 0; i < models.length; i++) {
                firesBefore[i] = models[i].fires;
                models[i].step();
            }
            if (vcd != null && stages) {
                for (int i = 0; i < models.length; i++) {
                    vcd.sample(cycle, sig[7 + fifos.length + i], models[i].fires != firesBefore[i] ? 1 : 0);
                }
            }
            for (Fifo f : fifos) {
                moved |= f.commit();
            }
            // Only cycles in which the environment lets data move count towards a deadlock: under
            // heavy backpressure a design may legitimately wait far longer than DEADLOCK_CYCLES.
            boolean open = (sent >= totalIn || stim.inputValid(cycle)) && stim.outputReady(cycle);
            idle = moved ? 0 : (open ? idle + 1 : idle);
            if (idle > DEADLOCK_CYCLES) {
                throw new IllegalStateException("design " + d.name() + " deadlocked at cycle " + cycle + " after " + received + " of "
                        + totalOut + " output beats");
            }
            cycle++;
        }
        if (vcd != null) {
            vcd.finish(cycle);
        }
        Map<String, Long> fires = new LinkedHashMap<>();
        for (int i = 0; i < models.length; i++) {
            fires.put(d.stages().get(i).name(), models[i].fires);
        }
        return new Result(outputs, beats, firstIn, firstOut, cycle, fires);
    }

    private static int[] declare(VcdWriter vcd, HwDesign d, boolean stages) {
        int n = 7 + (stages ? d.channels().size() + d.stages().size() : 0);
        int[] h = new int[n];
        String top = d.name();
        h[0] = vcd.declare(top, "s_axis_tvalid", 1);
        h[1] = vcd.declare(top, "s_axis_tready", 1);
        h[2] = vcd.declare(top, "s_axis_tdata", d.inputChannel().beatBits());
        h[3] = vcd.declare(top, "m_axis_tvalid", 1);
        h[4] = vcd.declare(top, "m_axis_tready", 1);
        h[5] = vcd.declare(top, "m_axis_tdata", d.outputChannel().beatBits());
        h[6] = vcd.declare(top, "m_axis_tlast", 1);
        if (stages) {
            for (Channel c : d.channels()) {
                h[7 + c.id()] = vcd.declare("fifos", c.name() + "_count", 32 - Integer.numberOfLeadingZeros(c.depth()));
            }
            for (int i = 0; i < d.stages().size(); i++) {
                h[7 + d.channels().size() + i] = vcd.declare("stages", d.stages().get(i).name() + "_fire", 1);
            }
        }
        return h;
    }

}
