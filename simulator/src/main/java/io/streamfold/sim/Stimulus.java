package io.streamfold.sim;

/**
 * The environment of the top-level ports, cycle by cycle: whether the source offers a beat on
 * {@code s_axis} (gaps) and whether the sink accepts one on {@code m_axis} (backpressure). A
 * stateless seeded hash of the cycle number, so the testbench can be given the same bits.
 *
 * @param seed       seed of the pattern
 * @param inputGap   probability that the source holds {@code tvalid} low in a cycle
 * @param outputStall probability that the sink holds {@code tready} low in a cycle
 */
public record Stimulus(long seed, double inputGap, double outputStall) {

    public Stimulus {
        if (!(inputGap >= 0 && inputGap < 1 && outputStall >= 0 && outputStall < 1)) {
            throw new IllegalArgumentException("probabilities must be in [0, 1): " + inputGap + ", " + outputStall);
        }
    }

    /** No gaps, no backpressure. */
    public static Stimulus ideal() {
        return new Stimulus(0, 0, 0);
    }

    /** Whether the source offers a beat in this cycle (if it has one left). */
    public boolean inputValid(long cycle) {
        return inputGap == 0 || uniform(cycle, 0x9E3779B97F4A7C15L) >= inputGap;
    }

    /** Whether the sink accepts a beat in this cycle. */
    public boolean outputReady(long cycle) {
        return outputStall == 0 || uniform(cycle, 0xC2B2AE3D27D4EB4FL) >= outputStall;
    }

    private double uniform(long cycle, long stream) {
        long z = seed * 0xBF58476D1CE4E5B9L + cycle * stream + stream;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z = z ^ (z >>> 31);
        return (z >>> 11) * 0x1.0p-53;
    }
}
