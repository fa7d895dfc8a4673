package io.streamfold.hw;

import io.streamfold.ir.Diagnostic;
import io.streamfold.ir.ModelException;

import java.util.Map;

/**
 * How much hardware each layer gets: {@code PE} output lanes and {@code SIMD} input lanes for a
 * matrix-vector layer (multipliers = PE * SIMD), the elements per beat of the top-level input,
 * and the FIFO depth between stages.
 *
 * @param folds      by node name; a layer that is not listed gets PE = SIMD = 1
 * @param inputElems elements per {@code s_axis} beat
 * @param fifoDepth  depth of every FIFO, in beats (at least 2)
 */
public record ParallelismPlan(Map<String, Fold> folds, int inputElems, int fifoDepth) {

    /** Lanes of one layer. */
    public record Fold(int pe, int simd) {
        public Fold {
            if (pe < 1 || simd < 1) {
                throw new ModelException(Diagnostic.SF_BAD_PLAN, null, "PE and SIMD must be >= 1, got " + pe + " and " + simd, null);
            }
        }
    }

    public ParallelismPlan {
        folds = Map.copyOf(folds);
        if (inputElems < 1 || fifoDepth < 2) {
            throw new ModelException(Diagnostic.SF_BAD_PLAN, null, "input elements " + inputElems + ", FIFO depth " + fifoDepth,
                    "need >= 1 element per beat and FIFOs of >= 2 beats");
        }
    }

    /** One lane everywhere: the smallest design. */
    public static ParallelismPlan serial() {
        return new ParallelismPlan(Map.of(), 1, 2);
    }

    public Fold fold(String node) {
        return folds.getOrDefault(node, new Fold(1, 1));
    }

    public ParallelismPlan with(String node, int pe, int simd) {
        java.util.Map<String, Fold> m = new java.util.HashMap<>(folds);
        m.put(node, new Fold(pe, simd));
        return new ParallelismPlan(m, inputElems, fifoDepth);
    }

    public ParallelismPlan withInputElems(int n) {
        return new ParallelismPlan(folds, n, fifoDepth);
    }
}
