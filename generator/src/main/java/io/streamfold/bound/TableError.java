package io.streamfold.bound;

import io.streamfold.quant.ExpTable;
import io.streamfold.quant.Lut;

import java.util.function.DoubleUnaryOperator;

/**
 * How far a lookup table is from the function it tabulates, measured exhaustively over its
 * entries: the largest {@code |T(index(X)) - f(X 2^-frac)|} over the integer inputs {@code X} of a
 * range, where {@code index} is the table's own rounding shift and saturation
 * ({@link Lut#index}) and {@code T} its entries.
 *
 * <p>The inputs that share an index form a cell: one input when the index is the input itself, a
 * run of {@code 2^s} inputs when the index drops {@code s} low bits, and everything beyond the
 * ends of the table in the two end cells. Per cell the function's extremes are known without
 * visiting every input: at the cell's ends if the function is monotone, else within the
 * Lipschitz envelope of its values at the ends,
 * {@code [(f(u) + f(w) - L (w - u)) / 2, (f(u) + f(w) + L (w - u)) / 2]}. So the cost is one
 * pass over the at most {@code 2^20} entries, and the result is exact for a monotone function
 * (and an exact index).
 */
final class TableError {

    private TableError() {
    }

    /**
     * The largest table error over the integer inputs {@code [xlo, xhi]} with {@code frac}
     * fractional bits; {@code f} is the function the table was built from, {@code monotone}
     * whether it is monotone (either way) and {@code lipschitz} a bound on its slope. 0 for an
     * empty range.
     */
    static double max(Lut lut, DoubleUnaryOperator f, boolean monotone, double lipschitz, int frac, long xlo, long xhi) {
        if (lut.interpolates()) {
            return interpolating(lut, f, monotone, lipschitz, frac, xlo, xhi);
        }
        double worst = 0;
        double step = lut.out().step();
        long x = xlo;
        while (x <= xhi) {
            long j = lut.index(x, frac);
            long last = Math.min(xhi, lastOfCell(lut, j, x, frac));
            double e = cell(lut.out().toDouble(lut.lookup(j)), f, monotone, lipschitz, frac, x, last);
            if (Double.isNaN(e)) {
                return Double.POSITIVE_INFINITY;
            }
            worst = Math.max(worst, e);
            if (last == Long.MAX_VALUE) {
                break;
            }
            x = last + 1;
        }
        // an entry is a quantized real: comparing it with f in float64 is exact up to its rounding
        return worst + 0x1p-50 * step;
    }

    /**
     * The largest error of softmax's {@code e^-t} over the codes {@code t} in {@code [0, thi]}: a
     * plain table as {@link #max} (e^-t is decreasing and 1-Lipschitz for {@code t >= 0}); a reduced
     * one evaluated at every code its reduction table covers (the quantizer builds one only for
     * inputs of at most {@link Lut#MAX_CHECKED_INPUT_BITS} bits, so at most 2^20 of them), the codes
     * beyond, which give 0, as one cell.
     */
    static double exp(ExpTable e, long thi) {
        return e.accept(new ExpTable.Visitor<Double>() {
            @Override
            public Double plain(ExpTable.Plain p) {
                return max(p.lut(), p.lut().function()::apply, true, 1, p.inFrac(), 0, thi);
            }

            @Override
            public Double reduced(ExpTable.Reduced r) {
                DoubleUnaryOperator f = t -> Math.exp(-t);
                long covered = ((long) r.reductions() << r.reduceShift()) - 1;
                double worst = 0;
                for (long t = 0; t <= Math.min(thi, covered); t++) {
                    worst = Math.max(worst, Math.abs(r.out().toDouble(r.apply(t)) - f.applyAsDouble(Math.scalb((double) t, -r.inFrac()))));
                }
                if (thi > covered) {
                    worst = Math.max(worst, cell(0, f, true, 1, r.inFrac(), covered + 1, thi));
                }
                return Double.isNaN(worst) ? Double.POSITIVE_INFINITY : worst + 0x1p-50 * r.out().step();
            }
        });
    }

    /**
     * An interpolating table: every input of its cells ({@link Lut#clampLo()} to {@link Lut#clampHi()})
     * is evaluated (the quantizer builds one only for inputs of at most
     * {@link Lut#MAX_CHECKED_INPUT_BITS} bits, so at most 2^20 of them); the inputs beyond them
     * share the end's result and form one cell each, as the ends of a plain table.
     */
    private static double interpolating(Lut lut, DoubleUnaryOperator f, boolean monotone, double lipschitz, int frac, long xlo,
            long xhi) {
        long lo = lut.clampLo();
        long hi = lut.clampHi();
        double worst = 0;
        if (xlo < lo) {
            worst = Math.max(worst, cell(lut.out().toDouble(lut.apply(lo, frac)), f, monotone, lipschitz, frac, xlo, Math.min(xhi, lo - 1)));
        }
        if (xhi > hi) {
            worst = Math.max(worst, cell(lut.out().toDouble(lut.apply(hi, frac)), f, monotone, lipschitz, frac, Math.max(xlo, hi + 1), xhi));
        }
        for (long x = Math.max(xlo, lo); x <= Math.min(xhi, hi); x++) {
            worst = Math.max(worst, Math.abs(lut.out().toDouble(lut.apply(x, frac)) - f.applyAsDouble(Math.scalb((double) x, -frac))));
        }
        return Double.isNaN(worst) ? Double.POSITIVE_INFINITY : worst + 0x1p-50 * lut.out().step();
    }

    /**
     * The largest {@code |t - f(X 2^-frac)|} over the inputs {@code [u, w]} that all give the
     * result {@code t}: at the ends for a monotone function, else within the Lipschitz envelope.
     */
    private static double cell(double t, DoubleUnaryOperator f, boolean monotone, double lipschitz, int frac, long u, long w) {
        double vu = Math.scalb((double) u, -frac);
        double fu = f.applyAsDouble(vu);
        if (w == u) {
            return Math.abs(t - fu);
        }
        double vw = Math.scalb((double) w, -frac);
        double fw = f.applyAsDouble(vw);
        if (monotone) {
            return Math.max(Math.abs(t - fu), Math.abs(t - fw));
        }
        double spread = lipschitz * (vw - vu);
        return Math.max(Math.abs(t - (fu + fw - spread) / 2), Math.abs(t - (fu + fw + spread) / 2));
    }

    /**
     * The last input of the cell of index {@code j} that starts at or before {@code x}: inputs
     * {@code X} with {@code index(X) == j}, which are consecutive because the index is monotone.
     * The end cells of the table run to the end of the input range.
     */
    private static long lastOfCell(Lut lut, long j, long x, int frac) {
        if (j == lut.indexMax()) {
            return Long.MAX_VALUE;
        }
        int s = frac - lut.indexFrac();
        if (s <= 0) {
            // index = X * 2^-s exactly (or saturated at the bottom): each input has its own index,
            // except those below the table, which share its first entry
            if (j == lut.indexMin()) {
                long top = j >> -s; // largest X with X * 2^-s <= indexMin
                return Math.max(x, top);
            }
            return x;
        }
        if (s >= 63) {
            return Long.MAX_VALUE;
        }
        // index = roundHalfUp(X / 2^s): X maps to j for X in [j 2^s - 2^(s-1), j 2^s + 2^(s-1) - 1]
        long half = 1L << (s - 1);
        try {
            return Math.max(x, Math.addExact(Math.multiplyExact(j, 1L << s), half - 1));
        } catch (ArithmeticException overflow) {
            return Long.MAX_VALUE;
        }
    }

    /**
     * True if the entries are non-decreasing over the indices of inputs {@code [xlo, xhi]}: then
     * {@code X -> T(index(X))} is non-decreasing there (for an interpolating table too: its slopes
     * are the differences of those entries, so the interpolation and its rounding never decrease).
     */
    static boolean nonDecreasing(Lut lut, int frac, long xlo, long xhi) {
        long from = lut.index(xlo, frac);
        // an interpolating table's last cell reaches toward the next entry
        long to = Math.min(lut.index(xhi, frac) + (lut.interpolates() ? 1 : 0), lut.indexMax());
        for (long j = from; j < to; j++) {
            if (lut.lookup(j + 1) < lut.lookup(j)) {
                return false;
            }
        }
        return true;
    }
}
