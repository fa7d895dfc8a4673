package io.streamfold.cli;

import io.streamfold.hw.ParallelismPlan;
import io.streamfold.quant.QFormat;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

import java.util.Locale;

/**
 * Option value types that check their range where the option is parsed, so that a bad value is a
 * usage error (exit 2) naming the option and the allowed range, before any model is read. picocli
 * prints {@code Invalid value for option '--weight-bits': 0 is outside 1..62}.
 */
final class OptionTypes {

    private OptionTypes() {
    }

    /**
     * Largest stimulus probability: at p the testbench waits ~1/(1-p) cycles per beat, so beyond
     * 0.99 a simulation of a few inferences takes millions of cycles in Java and hours under Icarus.
     */
    static final double MAX_PROBABILITY = 0.99;

    static int intIn(String s, long min, long max) {
        long v;
        try {
            v = Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            throw new TypeConversionException("'" + s + "' is not an integer (allowed: " + range(min, max) + ")");
        }
        if (v < min || v > max) {
            throw new TypeConversionException(v + " is outside " + range(min, max));
        }
        return (int) v;
    }

    private static String range(long min, long max) {
        return max == Integer.MAX_VALUE ? ">= " + min : min + ".." + max;
    }

    static double doubleIn(String s, double min, boolean minOpen, double max) {
        double v;
        try {
            v = Double.parseDouble(s.strip());
        } catch (NumberFormatException e) {
            throw new TypeConversionException("'" + s + "' is not a number (allowed: " + rangeText(min, minOpen, max) + ")");
        }
        if (!(minOpen ? v > min : v >= min) || !(v <= max)) {
            throw new TypeConversionException(s + " is outside " + rangeText(min, minOpen, max));
        }
        return v;
    }

    private static String rangeText(double min, boolean minOpen, double max) {
        return (minOpen ? "(" : "[") + fmt(min) + ", " + fmt(max) + "]";
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
    }

    /** A fixed-point width: 1..62 bits. */
    static final class Bits implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String s) {
            return intIn(s, 1, QFormat.MAX_BITS);
        }
    }

    /** A lookup-table index width: 1..{@link io.streamfold.quant.Lut#MAX_INDEX_BITS} bits. */
    static final class LutIndexBits implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String s) {
            return intIn(s, 1, io.streamfold.quant.Lut.MAX_INDEX_BITS);
        }
    }

    /** A count of at least 1. */
    static final class Positive implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String s) {
            return intIn(s, 1, Integer.MAX_VALUE);
        }
    }

    /** A count of at least 0. */
    static final class NonNegative implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String s) {
            return intIn(s, 0, Integer.MAX_VALUE);
        }
    }

    /** A FIFO depth: 2 (the least that sustains one beat per cycle) to {@link ParallelismPlan#MAX_FIFO_DEPTH}. */
    static final class FifoDepth implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String s) {
            return intIn(s, 2, ParallelismPlan.MAX_FIFO_DEPTH);
        }
    }

    /** A per-cycle probability of the testbench stimulus: [0, {@link #MAX_PROBABILITY}]. */
    static final class Probability implements ITypeConverter<Double> {
        @Override
        public Double convert(String s) {
            return doubleIn(s, 0, false, MAX_PROBABILITY);
        }
    }

    /** A fraction: [0, 1]. */
    static final class Fraction implements ITypeConverter<Double> {
        @Override
        public Double convert(String s) {
            return doubleIn(s, 0, false, 1);
        }
    }

    /** A ratio in decibels for a target: (0, 300]. */
    static final class Decibels implements ITypeConverter<Double> {
        @Override
        public Double convert(String s) {
            return doubleIn(s, 0, true, 300);
        }
    }

    /** A percentile: (0, 100]. */
    static final class Percentile implements ITypeConverter<Double> {
        @Override
        public Double convert(String s) {
            return doubleIn(s, 0, true, 100);
        }
    }

    /** {@code --calibration auto|max-abs|percentile|mse} (case and '-' vs '_' do not matter). */
    static final class Calibration implements ITypeConverter<io.streamfold.quant.QuantConfig.CalibrationMethod> {
        @Override
        public io.streamfold.quant.QuantConfig.CalibrationMethod convert(String s) {
            String k = s.strip().toLowerCase(Locale.ROOT).replace('_', '-');
            for (io.streamfold.quant.QuantConfig.CalibrationMethod m : io.streamfold.quant.QuantConfig.CalibrationMethod.values()) {
                if (io.streamfold.quant.AutoCalibration.name(m).equals(k)) {
                    return m;
                }
            }
            throw new TypeConversionException("'" + s + "' is not a calibration method (allowed: auto, max-abs, percentile, mse)");
        }
    }

    /**
     * {@code --fold NODE=PExSIMD[@P]}: PE, SIMD and P (output pixels per window, 1 if absent) at
     * least 1; whether they fit the node is checked against the model (exit 3).
     */
    record Fold(String node, int pe, int simd, int pixels) {
    }

    static final class FoldSpec implements ITypeConverter<Fold> {
        @Override
        public Fold convert(String s) {
            int eq = s.lastIndexOf('=');
            String spec = eq < 1 ? "" : s.substring(eq + 1).toLowerCase(Locale.ROOT);
            int at = spec.indexOf('@');
            String[] lanes = eq < 1 ? new String[0] : (at < 0 ? spec : spec.substring(0, at)).split("x", -1);
            if (lanes.length != 2) {
                throw new TypeConversionException("'" + s + "' is not NODE=PExSIMD or NODE=PExSIMD@PIXELS (e.g. /0/Gemm=4x8, /1/Conv=16x2@2)");
            }
            try {
                return new Fold(s.substring(0, eq), intIn(lanes[0], 1, Integer.MAX_VALUE), intIn(lanes[1], 1, Integer.MAX_VALUE),
                        at < 0 ? 1 : intIn(spec.substring(at + 1), 1, Integer.MAX_VALUE));
            } catch (TypeConversionException e) {
                throw new TypeConversionException("'" + s + "': PE, SIMD and pixels must be integers >= 1 (e.g. /0/Gemm=4x8, /1/Conv=16x2@2)");
            }
        }
    }
}
