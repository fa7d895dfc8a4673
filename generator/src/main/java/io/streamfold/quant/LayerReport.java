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
        return q.accept(new QOp.Visitor<LayerReport>() {
            @Override
            public LayerReport dense(QOp.QDense d) {
                return line(d.weight().toString(), d.accBits(), "products " + d.productBits() + " bits, shift " + shifts(d.weight(), d.in(), d.out()));
            }

            @Override
            public LayerReport conv(QOp.QConv c) {
                return line(c.weight().toString(), c.accBits(), "products " + c.productBits() + " bits, shift " + shifts(c.weight(), c.in(), c.out()));
            }

            @Override
            public LayerReport elementwise(QOp.QElementwise e) {
                return e.accept(new QOp.ElementwiseVisitor<LayerReport>() {
                    @Override
                    public LayerReport affine(QOp.QAffine a) {
                        return line(a.scale().toString(), a.accBits(), "shift " + shifts(a.scale(), a.in(), a.out()));
                    }

                    @Override
                    public LayerReport relu(QOp.QRelu r) {
                        return requantize(r);
                    }

                    @Override
                    public LayerReport leakyRelu(QOp.QLeakyRelu l) {
                        return line("", l.productBits(), "alpha " + l.alpha() + " in Q(" + l.alphaBits() + "," + l.alphaFrac() + ")");
                    }

                    @Override
                    public LayerReport prelu(QOp.QPRelu p) {
                        return line("", p.productBits(), p.channels() + " slopes in Q(" + p.alphaBits() + "," + p.alphaFrac() + ")");
                    }

                    @Override
                    public LayerReport clip(QOp.QClip c) {
                        return line("", 0, "bounds [" + c.lo() + ", " + c.hi() + "]");
                    }

                    @Override
                    public LayerReport lut(QOp.QLut l) {
                        return line("", 0, l.lut().toString());
                    }

                    @Override
                    public LayerReport flatten(QOp.QFlatten f) {
                        return requantize(f);
                    }

                    @Override
                    public LayerReport reshape(QOp.QReshape r) {
                        return requantize(r);
                    }
                });
            }

            @Override
            public LayerReport softmax(QOp.QSoftmax s) {
                return line("", s.productBits(), s.exp() + ", sum " + s.sumBits() + " bits, r = floor(2^" + s.recipShift() + "/sum) in "
                        + s.recipBits() + " bits");
            }

            @Override
            public LayerReport maxPool(QOp.QMaxPool p) {
                return requantize(p);
            }

            @Override
            public LayerReport avgPool(QOp.QAvgPool p) {
                return line("", p.accBits(), "sum " + p.sumBits() + " bits, reciprocals at frac " + p.recipFrac() + " in " + p.recipBits() + " bits");
            }

            @Override
            public LayerReport globalAvgPool(QOp.QGlobalAvgPool p) {
                return line("", p.accBits(), "sum " + p.sumBits() + " bits, 1/" + p.count() + " = " + p.recip() + " at frac " + p.recipFrac());
            }

            @Override
            public LayerReport add(QOp.QAdd a) {
                return line("", a.sumBits(), "aligned to frac " + a.frac() + " (shifts " + a.shiftA() + ", " + a.shiftB() + ")");
            }

            private LayerReport requantize(QOp op) {
                return line("", 0, op.inputs().get(0).equals(op.out()) ? "pass-through" : "requantize");
            }

            private LayerReport line(String weights, int accBits, String detail) {
                return new LayerReport(n.name(), n.op().kind(), q.inputs(), q.out(), weights, accBits, range, detail);
            }
        });
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
