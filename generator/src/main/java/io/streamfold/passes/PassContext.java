package io.streamfold.passes;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What passes record while they run: counters ({@code "batchnorms folded into conv" -> 2}) that
 * {@code inspect} prints and tests assert on, and notes explaining per-node decisions
 * ({@code "bn2: kept standalone: next conv is padded"}).
 */
public final class PassContext {

    private final Map<String, Map<String, Integer>> counters = new LinkedHashMap<>();
    private final List<String> notes = new ArrayList<>();

    /** Adds one to a counter of a pass. */
    public void count(String pass, String counter) {
        counters.computeIfAbsent(pass, k -> new LinkedHashMap<>()).merge(counter, 1, Integer::sum);
    }

    /** A counter's value (0 if it never counted). */
    public int counter(String pass, String counter) {
        return counters.getOrDefault(pass, Map.of()).getOrDefault(counter, 0);
    }

    /** The counters of one pass, in the order they first counted. */
    public Map<String, Integer> counters(String pass) {
        return Collections.unmodifiableMap(counters.getOrDefault(pass, Map.of()));
    }

    /** All counters by pass. */
    public Map<String, Map<String, Integer>> counters() {
        return Collections.unmodifiableMap(counters);
    }

    /** Records why a pass did what it did to one node. */
    public void note(String pass, String node, String what) {
        notes.add(pass + ": " + node + ": " + what);
    }

    public List<String> notes() {
        return Collections.unmodifiableList(notes);
    }
}
