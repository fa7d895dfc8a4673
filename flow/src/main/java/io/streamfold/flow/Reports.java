package io.streamfold.flow;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** Helpers for the JSON reports (report.json, verify --json): their key order is part of the format. */
public final class Reports {

    private Reports() {
    }

    /** A map that keeps its keys in the order given ({@code Map.of} does not, and reports must be deterministic). */
    public static Map<String, Object> ordered(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    /** A figure as printed in tables: 4 significant digits, {@code inf} if infinite. */
    public static String number(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.4g", v) : "inf";
    }
}
