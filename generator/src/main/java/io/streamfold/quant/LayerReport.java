package io.streamfold.quant;

import io.streamfold.ir.Node;

import java.util.List;

/**
 * One line of the quantization report: the formats a node reads and writes, its weight format
 * and accumulator width where it has them, and the calibrated range of its output.
 *
 * @param node     node name (or the graph input's value name)
 * @param kind     op kind ({@code Input} for the graph input)
 * @param inputs   formats read
 * @param output   format written
 * @param weights  weight (or affine scale) format, e.g. {@code Q(8,5..7) per channel}, or empty
 * @param accBits  widest register of the stage (accumulator, aligned sum, product), 0 if none
 * @param range    calibrated range of the output (NaN if unknown)
 * @param detail   the other constants in words: shifts, tables, reciprocals
 */
public record LayerReport(String node, String kind, List<QFormat> inputs, QFormat output, String weights, int accBits,
                          double range, String detail) {

    public LayerReport {
        inputs = List.copyOf(inputs);
    }

    static LayerReport input(String value, QFormat f, double range) {
        return new LayerReport(value, "Input", List.of(), f, "", 0, range, "");
    }

    static LayerReport of(Node n, QOp q, double range) {
        String w = "";
        int acc = 0;
        String detail;
        if (q instanceof QOp.QDense d) {
            w = d.weight().toString();
            acc = d.accBits();
            detail = "products " + d.productBits() + " bits, shift " + shifts(d.weight(), d.in(), d.out());
        } else if (q instanceof QOp.QConv c) {
            w = c.weight().toString();
            acc = c.accBits();
            detail = "products " + c.productBits() + " bits, shift " + shifts(c.weight(), c.in(), c.out());
        } else if (q instanceof QOp.QAffine a) {
            w = a.scale().toString();
            acc = a.accBits();
            detail = "shift " + shifts(a.scale(), a.in(), a.out());
        } else if (q instanceof QOp.QLeakyRelu l) {
            acc = l.productBits();
            detail = "alpha " + l.alpha() + " in Q(" + l.alphaBits() + "," + l.alphaFrac() + ")";
        } else if (q instanceof QOp.QClip c) {
            detail = "bounds [" + c.lo() + ", " + c.hi() + "]";
        } else if (q instanceof QOp.QLut l) {
            detail = l.lut().toString();
        } else if (q instanceof QOp.QSoftmax s) {
            acc = s.productBits();
            detail = s.exp() + ", sum " + s.sumBits() + " bits, r = floor(2^" + s.recipShift() + "/sum) in " + s.recipBits() + " bits";
        } else if (q instanceof QOp.QAvgPool p) {
            acc = p.accBits();
            detail = "sum " + p.sumBits() + " bits, reciprocals at frac " + p.recipFrac() + " in " + p.recipBits() + " bits";
        } else if (q instanceof QOp.QGlobalAvgPool p) {
            acc = p.accBits();
            detail = "sum " + p.sumBits() + " bits, 1/" + p.count() + " = " + p.recip() + " at frac " + p.recipFrac();
        } else if (q instanceof QOp.QAdd a) {
            acc = a.sumBits();
            detail = "aligned to frac " + a.frac() + " (shifts " + a.shiftA() + ", " + a.shiftB() + ")";
        } else {
            detail = q.inputs().get(0).equals(q.out()) ? "pass-through" : "requantize";
        }
        return new LayerReport(n.name(), n.op().kind(), q.inputs(), q.out(), w, acc, range, detail);
    }

    private static String shifts(QWeights w, QFormat in, QFormat out) {
        int lo = w.minFrac() + in.frac() - out.frac();
        int hi = w.maxFrac() + in.frac() - out.frac();
        return lo == hi ? String.valueOf(lo) : lo + ".." + hi;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        sb.append(node).append(" (").append(kind).append("): ");
        if (!inputs.isEmpty()) {
            sb.append(inputs.size() == 1 ? inputs.get(0).toString() : inputs.toString()).append(" -> ");
        }
        sb.append(output);
        if (!Double.isNaN(range)) {
            sb.append(String.format(" range %.4g", range));
        }
        if (!weights.isEmpty()) {
            sb.append(", weights ").append(weights);
        }
        if (accBits > 0) {
            sb.append(", acc ").append(accBits).append(" bits");
        }
        if (!detail.isEmpty()) {
            sb.append(", ").append(detail);
        }
        return sb.toString();
    }
}
