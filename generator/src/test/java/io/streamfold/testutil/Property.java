package io.streamfold.testutil;

import java.util.Random;

/**
 * Runs a property over seeded random cases (the project's "seeded loops" for property-based
 * tests; see STYLE.md). Every case has its own seed, derived from the property's name, the case
 * number and a base seed, so a failure names the case and can be rerun on its own.
 *
 * <p>The base seed is fixed, so CI runs the same cases every time; fuzz beyond them locally with
 * {@code -Dstreamfold.property.seed=N} (any other seed) and {@code -Dstreamfold.property.tries=N}
 * (cases per property instead of the default of each test).
 */
public final class Property {

    /** One case of a property: fails by throwing. */
    @FunctionalInterface
    public interface Case {
        void check(Random random, int caseNo) throws Exception;
    }

    private Property() {
    }

    /** The base seed: {@code streamfold.property.seed}, else a fixed one. */
    public static long baseSeed() {
        return Long.getLong("streamfold.property.seed", 20_261_101L);
    }

    /** Cases to run for a property whose default is {@code tries}. */
    public static int tries(int tries) {
        return Integer.getInteger("streamfold.property.tries", tries);
    }

    /** The seed of one case. */
    public static long seed(String property, int caseNo) {
        long z = baseSeed() * 0x9E3779B97F4A7C15L + property.hashCode() * 0xBF58476D1CE4E5B9L + caseNo;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * Checks {@code property} on {@link #tries(int)} cases; the first failure is rethrown as an
     * AssertionError naming the case, its seed and the base seed.
     */
    public static void forAll(String property, int tries, Case c) {
        int n = tries(tries);
        for (int i = 0; i < n; i++) {
            long seed = seed(property, i);
            try {
                c.check(new Random(seed), i);
            } catch (Throwable t) {
                throw new AssertionError("property '" + property + "' fails on case " + i + " (case seed " + seed + ", base seed "
                        + baseSeed() + "; rerun with -Dstreamfold.property.seed=" + baseSeed() + "): " + t.getMessage(), t);
            }
        }
    }
}
