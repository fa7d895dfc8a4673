package io.streamfold.sim;

import io.streamfold.hw.Channel;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.Stage;

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

        /** Cycles between the first input beats of the last two inferences (steady state), or -1. */
        public long measuredInterval() {
            int n = firstInputCycle.length;
            return n < 2 ? -1 : firstInputCycle[n - 1] - firstInputCycle[n - 2];
        }
    }

    /** Cycles without any movement after which the design is declared deadlocked. */
    static final long DEADLOCK_CYCLES = 100_000;

    private CycleSimulator() {
    }

    /** Runs the inputs (flat channels-first, integer values in the input format) through the design. */
    public static Result run(HwDesign d, List<long[]> inputs, Stimulus stim) {
        Fifo[] fifos = new Fifo[d.channels().size()];
        for (Channel c : d.channels()) {
            fifos[c.id()] = new Fifo(c.elems(), c.depth());
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
        while (received < totalOut) {
            boolean moved = false;
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
            for (StageModel m : models) {
                m.step();
            }
            for (Fifo f : fifos) {
                moved |= f.commit();
            }
            idle = moved ? 0 : idle + 1;
            if (idle > DEADLOCK_CYCLES) {
                throw new IllegalStateException("design " + d.name() + " deadlocked at cycle " + cycle + " after " + received + " of "
                        + totalOut + " output beats");
            }
            cycle++;
        }
        Map<String, Long> fires = new LinkedHashMap<>();
        for (int i = 0; i < models.length; i++) {
            fires.put(d.stages().get(i).name(), models[i].fires);
        }
        return new Result(outputs, beats, firstIn, firstOut, cycle, fires);
    }

    /** Fraction of cycles each stage fired, for utilization reports. */
    public static Map<String, Double> utilization(HwDesign d, Result r) {
        Map<String, Double> u = new LinkedHashMap<>();
        for (Stage s : d.stages()) {
            u.put(s.name(), r.fires().get(s.name()) / (double) r.cycles());
        }
        return u;
    }
}
