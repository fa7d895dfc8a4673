package io.streamfold.verilog;

import io.streamfold.hw.Channel;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.Stage;
import io.streamfold.quant.Lut;
import io.streamfold.quant.QFormat;
import io.streamfold.quant.QOp;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.streamfold.verilog.RtlFixed.counterBits;
import static io.streamfold.verilog.RtlFixed.sconst;
import static io.streamfold.verilog.RtlFixed.uconst;
import static io.streamfold.verilog.RtlFixed.valueBits;
import static io.streamfold.verilog.VExpr.and;
import static io.streamfold.verilog.VExpr.bin;
import static io.streamfold.verilog.VExpr.not;
import static io.streamfold.verilog.VExpr.ref;

/**
 * Lowers a {@link HwDesign} to Verilog-2001: one module per stage, one FIFO module per channel
 * shape, and the top module with AXI4-Stream ports. Every module implements the cycle behaviour
 * documented on its {@link Stage} record; arithmetic comes from {@link RtlFixed}.
 *
 * <p>Stage modules share one port convention: {@code in_data/in_valid/in_pop} towards the input
 * FIFO ({@code in_valid} is "not empty"), {@code out_data/out_ready/out_push} towards the output
 * FIFO ({@code out_ready} is "not full"). Files: {@code <module>.v} per module, ROM contents in
 * {@code <module>_*.mem}; the map keeps a stable order, so emitting twice gives identical files.
 */
public final class VerilogLowering {

    private final HwDesign d;
    private final Map<String, String> files = new LinkedHashMap<>();

    private VerilogLowering(HwDesign d) {
        this.d = d;
    }

    /** File name to content, the top module first. */
    public static Map<String, String> emit(HwDesign d) {
        return new VerilogLowering(d).run();
    }

    /** The module name of a stage. */
    public static String moduleName(HwDesign d, Stage s) {
        return d.name() + "_" + s.name();
    }

    private Map<String, String> run() {
        Map<String, String> modules = new LinkedHashMap<>();
        modules.put(d.name() + ".v", VerilogPrinter.print(top()));
        for (Stage s : d.stages()) {
            VModule m = stage(s);
            modules.put(m.name() + ".v", VerilogPrinter.print(m));
        }
        for (Channel c : d.channels()) {
            String name = fifoName(c);
            modules.putIfAbsent(name + ".v", VerilogPrinter.print(fifo(name, c.beatBits(), c.depth())));
        }
        Map<String, String> out = new LinkedHashMap<>(modules);
        out.putAll(files);
        return out;
    }

    private String fifoName(Channel c) {
        return d.name() + "_fifo_w" + c.beatBits() + "_d" + c.depth();
    }

    // --- top ---------------------------------------------------------------------------------------

    private VModule top() {
        RtlBuilder b = new RtlBuilder();
        Channel in = d.inputChannel();
        Channel out = d.outputChannel();
        for (Channel c : d.channels()) {
            String n = c.name();
            b.add(new VItem.Decl(VItem.Kind.WIRE, false, c.beatBits(), n + "_in_data", 0));
            b.add(new VItem.Decl(VItem.Kind.WIRE, false, 1, n + "_push", 0));
            b.add(new VItem.Decl(VItem.Kind.WIRE, false, 1, n + "_ready", 0));
            b.add(new VItem.Decl(VItem.Kind.WIRE, false, c.beatBits(), n + "_out_data", 0));
            b.add(new VItem.Decl(VItem.Kind.WIRE, false, 1, n + "_valid", 0));
            b.add(new VItem.Decl(VItem.Kind.WIRE, false, 1, n + "_pop", 0));
        }
        b.comment("s_axis feeds the input FIFO; tlast is not needed: the beat count per inference is fixed");
        b.add(new VItem.Assign(ref(in.name() + "_in_data"), ref("s_axis_tdata")));
        b.add(new VItem.Assign(ref(in.name() + "_push"), and(ref("s_axis_tvalid"), ref(in.name() + "_ready"))));
        b.add(new VItem.Assign(ref("s_axis_tready"), ref(in.name() + "_ready")));
        b.comment("m_axis drains the output FIFO; tlast marks the last beat of each inference");
        b.add(new VItem.Assign(ref("m_axis_tdata"), ref(out.name() + "_out_data")));
        b.add(new VItem.Assign(ref("m_axis_tvalid"), ref(out.name() + "_valid")));
        b.add(new VItem.Assign(ref(out.name() + "_pop"), and(ref(out.name() + "_valid"), ref("m_axis_tready"))));
        int ob = counterBits(out.beats());
        VExpr.Ref ocnt = b.reg("out_beat", ob, false, 0);
        VExpr lastBeat = bin("==", ocnt, uconst(ob, out.beats() - 1));
        b.add(new VItem.Assign(ref("m_axis_tlast"), lastBeat));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(not(ref("aresetn")),
                List.of(new VStmt.NonBlocking(ocnt, uconst(ob, 0))),
                List.of(new VStmt.If(ref(out.name() + "_pop"),
                        List.of(new VStmt.NonBlocking(ocnt, new VExpr.Cond(lastBeat, uconst(ob, 0), bin("+", ocnt, uconst(ob, 1))))),
                        List.of()))))));
        for (Channel c : d.channels()) {
            Map<String, VExpr> ports = new LinkedHashMap<>();
            ports.put("aclk", ref("aclk"));
            ports.put("aresetn", ref("aresetn"));
            ports.put("in_data", ref(c.name() + "_in_data"));
            ports.put("in_push", ref(c.name() + "_push"));
            ports.put("in_ready", ref(c.name() + "_ready"));
            ports.put("out_data", ref(c.name() + "_out_data"));
            ports.put("out_valid", ref(c.name() + "_valid"));
            ports.put("out_pop", ref(c.name() + "_pop"));
            b.add(new VItem.Instance(fifoName(c), "u_" + c.name(), Map.of(), ports));
        }
        for (Stage s : d.stages()) {
            Map<String, VExpr> ports = new LinkedHashMap<>();
            ports.put("aclk", ref("aclk"));
            ports.put("aresetn", ref("aresetn"));
            List<Integer> ins = s.inputs();
            for (int i = 0; i < ins.size(); i++) {
                String p = ins.size() == 1 ? "in" : "in" + i;
                Channel c = d.channel(ins.get(i));
                ports.put(p + "_data", ref(c.name() + "_out_data"));
                ports.put(p + "_valid", ref(c.name() + "_valid"));
                ports.put(p + "_pop", ref(c.name() + "_pop"));
            }
            List<Integer> outs = s.outputs();
            for (int i = 0; i < outs.size(); i++) {
                String p = outs.size() == 1 ? "out" : "out" + i;
                Channel c = d.channel(outs.get(i));
                ports.put(p + "_data", ref(c.name() + "_in_data"));
                ports.put(p + "_ready", ref(c.name() + "_ready"));
                ports.put(p + "_push", ref(c.name() + "_push"));
            }
            b.add(new VItem.Instance(moduleName(d, s), "u_" + s.name(), Map.of(), ports));
        }
        List<VModule.Port> ports = List.of(
                VModule.Port.in("aclk", 1), VModule.Port.in("aresetn", 1),
                VModule.Port.in("s_axis_tdata", in.beatBits()), VModule.Port.in("s_axis_tvalid", 1),
                VModule.Port.out("s_axis_tready", 1), VModule.Port.in("s_axis_tlast", 1),
                VModule.Port.out("m_axis_tdata", out.beatBits()), VModule.Port.out("m_axis_tvalid", 1),
                VModule.Port.in("m_axis_tready", 1), VModule.Port.out("m_axis_tlast", 1));
        List<VItem> items = new ArrayList<>();
        items.add(new VItem.Comment("verilator lint_off UNUSEDSIGNAL"));
        items.add(new VItem.Decl(VItem.Kind.WIRE, false, 1, "unused_tlast", 0));
        items.add(new VItem.Assign(ref("unused_tlast"), ref("s_axis_tlast")));
        items.add(new VItem.Comment("verilator lint_on UNUSEDSIGNAL"));
        items.addAll(b.items);
        String doc = "streamfold design " + d.name() + ": " + d.stages().size() + " stages, " + d.multipliers() + " multipliers, II "
                + d.initiationInterval() + " cycles.\n"
                + "s_axis: " + in.elems() + " x " + in.format() + " per beat, " + in.beats() + " beats per inference.\n"
                + "m_axis: " + out.elems() + " x " + out.format() + " per beat, " + out.beats() + " beats per inference.\n"
                + "Elements are packed little-end first; tensors stream pixel by pixel, channels innermost.";
        return new VModule(d.name(), doc, List.of(), ports, items);
    }

    // --- FIFO --------------------------------------------------------------------------------------

    static VModule fifo(String name, int width, int depth) {
        RtlBuilder b = new RtlBuilder();
        int aw = counterBits(depth);
        int cw = valueBits(depth);
        VExpr.Ref mem = b.reg("mem", width, false, depth);
        VExpr.Ref rd = b.reg("rd", aw, false, 0);
        VExpr.Ref wr = b.reg("wr", aw, false, 0);
        VExpr.Ref count = b.reg("count", cw, false, 0);
        b.add(new VItem.Assign(ref("in_ready"), bin("!=", count, uconst(cw, depth))));
        b.add(new VItem.Assign(ref("out_valid"), bin("!=", count, uconst(cw, 0))));
        b.add(new VItem.Assign(ref("out_data"), new VExpr.Index(mem, rd)));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(ref("in_push"),
                List.of(new VStmt.NonBlocking(new VExpr.Index(mem, wr), ref("in_data"))), List.of()))));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(not(ref("aresetn")),
                List.of(new VStmt.NonBlocking(rd, uconst(aw, 0)), new VStmt.NonBlocking(wr, uconst(aw, 0)),
                        new VStmt.NonBlocking(count, uconst(cw, 0))),
                List.of(
                        new VStmt.If(ref("in_push"), List.of(new VStmt.NonBlocking(wr, wrap(wr, aw, depth))), List.of()),
                        new VStmt.If(ref("out_pop"), List.of(new VStmt.NonBlocking(rd, wrap(rd, aw, depth))), List.of()),
                        new VStmt.If(and(ref("in_push"), not(ref("out_pop"))),
                                List.of(new VStmt.NonBlocking(count, bin("+", count, uconst(cw, 1)))),
                                List.of(new VStmt.If(and(not(ref("in_push")), ref("out_pop")),
                                        List.of(new VStmt.NonBlocking(count, bin("-", count, uconst(cw, 1)))), List.of()))))))));
        return new VModule(name, "FIFO of " + depth + " beats of " + width + " bits; flags from the registered count.", List.of(),
                List.of(VModule.Port.in("aclk", 1), VModule.Port.in("aresetn", 1), VModule.Port.in("in_data", width),
                        VModule.Port.in("in_push", 1), VModule.Port.out("in_ready", 1), VModule.Port.out("out_data", width),
                        VModule.Port.out("out_valid", 1), VModule.Port.in("out_pop", 1)),
                b.items);
    }

    /** {@code (v == n-1) ? 0 : v + 1} in {@code bits} bits. */
    private static VExpr wrap(VExpr v, int bits, int n) {
        return new VExpr.Cond(bin("==", v, uconst(bits, n - 1)), uconst(bits, 0), bin("+", v, uconst(bits, 1)));
    }

    // --- stages ------------------------------------------------------------------------------------

    private VModule stage(Stage s) {
        if (s instanceof Stage.MatVec m) {
            return matVec(m);
        } else if (s instanceof Stage.Elementwise e) {
            return elementwise(e);
        } else if (s instanceof Stage.WidthConverter w) {
            return widthConverter(w);
        } else if (s instanceof Stage.GlobalAvgPool g) {
            return globalAvgPool(g);
        } else if (s instanceof Stage.Fork f) {
            return fork(f);
        } else if (s instanceof Stage.Add a) {
            return add(a);
        } else if (s instanceof Stage.Softmax m) {
            return softmax(m);
        } else if (s instanceof Stage.Argmax m) {
            return argmax(m);
        } else if (s instanceof Stage.SlidingWindow w) {
            return slidingWindow(w);
        } else if (s instanceof Stage.PoolReduce p) {
            return poolReduce(p);
        } else if (s instanceof Stage.Depthwise dw) {
            return depthwise(dw);
        }
        throw new IllegalStateException("no Verilog for " + s);
    }

    private static List<VModule.Port> ports(int inBits, int outBits) {
        return List.of(VModule.Port.in("aclk", 1), VModule.Port.in("aresetn", 1),
                VModule.Port.in("in_data", inBits), VModule.Port.in("in_valid", 1), VModule.Port.out("in_pop", 1),
                VModule.Port.out("out_data", outBits), VModule.Port.in("out_ready", 1), VModule.Port.out("out_push", 1));
    }

    private VModule matVec(Stage.MatVec s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        QOp.QDense op = s.op();
        int xb = op.in().bits();
        int wb = op.weight().bits();
        int aw = op.accBits();
        int ob = op.out().bits();
        int sfN = s.sf();
        int nfN = s.nf();
        int pe = s.pe();
        int simd = s.simd();
        int sfBits = counterBits(sfN);
        int nfBits = counterBits(nfN);
        int wcBits = valueBits(sfN);
        int bufBits = counterBits(2 * sfN);
        int romBits = counterBits(sfN * nfN);

        VExpr.Ref wsel = b.reg("wsel", 1, false, 0);
        VExpr.Ref wcnt = b.reg("wcnt", wcBits, false, 0);
        VExpr.Ref rsel = b.reg("rsel", 1, false, 0);
        VExpr.Ref sf = b.reg("sf", sfBits, false, 0);
        VExpr.Ref nf = b.reg("nf", nfBits, false, 0);
        VExpr.Ref addr = b.reg("addr", romBits, false, 0);
        VExpr.Ref buf = b.reg("buffer", simd * xb, false, 2 * sfN);
        VExpr.Ref wrom = b.reg("weights", pe * simd * wb, false, sfN * nfN);
        VExpr.Ref brom = b.reg("biases", pe * aw, false, nfN);
        files.put(mod + "_w.mem", MemFile.packed(s.weights(), pe * simd, wb));
        long[] biases = new long[nfN * pe];
        for (int o = 0; o < biases.length; o++) {
            biases[o] = op.bias(o);
        }
        files.put(mod + "_b.mem", MemFile.packed(biases, pe, aw));
        b.add(new VItem.Initial(List.of(
                new VStmt.SysCall("$readmemh", List.of(mod + "_w.mem", wrom)),
                new VStmt.SysCall("$readmemh", List.of(mod + "_b.mem", brom)))));

        VExpr full = bin("==", wcnt, uconst(wcBits, sfN));
        VExpr reuse = b.wire("reuse", 1, false, and(full, bin("==", rsel, wsel)));
        VExpr ws = b.wire("ws", 1, false, new VExpr.Cond(reuse, not(wsel), wsel));
        VExpr wc = b.wire("wc", wcBits, false, new VExpr.Cond(reuse, uconst(wcBits, 0), wcnt));
        VExpr load = b.wire("load", 1, false, and(ref("in_valid"), bin("!=", wc, uconst(wcBits, sfN))));
        VExpr needOut = b.wire("need_out", 1, false, bin("==", sf, uconst(sfBits, sfN - 1)));
        VExpr sfWide = zext(sf, sfBits, wcBits);
        VExpr avail = b.wire("avail", 1, false, bin("||", bin("!=", rsel, wsel), bin(">", wcnt, sfWide)));
        VExpr compute = b.wire("compute", 1, false, and(avail, bin("||", not(needOut), ref("out_ready"))));
        VExpr wcntNext = b.wire("wcnt_next", wcBits, false, new VExpr.Cond(load, bin("+", wc, uconst(wcBits, 1)), wc));
        VExpr waddr = b.wire("waddr", bufBits, false, new VExpr.Cond(ws,
                bin("+", uconst(bufBits, sfN), zext(wc, wcBits, bufBits)), zext(wc, wcBits, bufBits)));
        VExpr raddr = b.wire("raddr", bufBits, false, new VExpr.Cond(rsel,
                bin("+", uconst(bufBits, sfN), zext(sf, sfBits, bufBits)), zext(sf, sfBits, bufBits)));
        VExpr x = b.wire("x", simd * xb, false, new VExpr.Index(buf, raddr));
        VExpr w = b.wire("w", pe * simd * wb, false, new VExpr.Index(wrom, addr));
        VExpr bias = b.wire("bias", pe * aw, false, new VExpr.Index(brom, nf));
        List<VExpr> xs = new ArrayList<>();
        for (int i = 0; i < simd; i++) {
            xs.add(RtlFixed.lane(b, "x" + i, x, i, xb));
        }
        List<VExpr> ys = new ArrayList<>();
        List<VStmt> accUpdates = new ArrayList<>();
        for (int p = 0; p < pe; p++) {
            VExpr.Ref acc = b.reg("acc" + p, aw, true, 0);
            VExpr bp = RtlFixed.lane(b, "bias" + p, bias, p, aw);
            // Sums are formed at the wider of accumulator and product; the exact value fits aw bits.
            int sw = Math.max(aw, wb + xb);
            VExpr.Ref base = b.wire("base" + p, aw, true, new VExpr.Cond(bin("==", sf, uconst(sfBits, 0)), bp, acc));
            VExpr sum = RtlFixed.signExtend(base, aw, sw);
            for (int i = 0; i < simd; i++) {
                VExpr wi = RtlFixed.lane(b, "w" + p + "_" + i, w, p * simd + i, wb);
                VExpr prod = RtlFixed.mul(b, "prod" + p + "_" + i, wi, wb, xs.get(i), xb);
                sum = bin("+", sum, RtlFixed.signExtend(prod, wb + xb, sw));
            }
            VExpr.Ref sumW = sw > aw ? b.wirePartlyUnused("sum" + p, sw, true, sum) : b.wire("sum" + p, sw, true, sum);
            accUpdates.add(new VStmt.NonBlocking(acc, sw > aw ? new VExpr.Slice(sumW, aw - 1, 0) : sumW));
            // One requantizer per distinct shift of this lane's outputs, chosen by nf.
            Map<Integer, VExpr> byShift = new LinkedHashMap<>();
            List<VExpr> choices = new ArrayList<>();
            final int lane = p;
            for (int nf0 = 0; nf0 < nfN; nf0++) {
                int o = nf0 * pe + p;
                int frac = op.accFrac(o);
                choices.add(byShift.computeIfAbsent(frac,
                        f -> RtlFixed.requantize(b, "y" + lane + "_f" + (f < 0 ? "m" + (-f) : f), sumW, sw, f, op.out())));
            }
            ys.add(b.select("y" + p, ob, true, nf, choices));
        }
        b.add(new VItem.Assign(ref("out_data"), concatLanes(ys)));
        b.add(new VItem.Assign(ref("in_pop"), load));
        b.add(new VItem.Assign(ref("out_push"), and(compute, needOut)));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(load,
                List.of(new VStmt.NonBlocking(new VExpr.Index(buf, waddr), ref("in_data"))), List.of()))));
        List<VStmt> onCompute = new ArrayList<>(accUpdates);
        onCompute.add(new VStmt.NonBlocking(addr, wrap(addr, romBits, sfN * nfN)));
        onCompute.add(new VStmt.If(needOut,
                List.of(new VStmt.NonBlocking(sf, uconst(sfBits, 0)),
                        new VStmt.If(bin("==", nf, uconst(nfBits, nfN - 1)),
                                List.of(new VStmt.NonBlocking(nf, uconst(nfBits, 0)), new VStmt.NonBlocking(rsel, not(rsel))),
                                List.of(new VStmt.NonBlocking(nf, bin("+", nf, uconst(nfBits, 1)))))),
                List.of(new VStmt.NonBlocking(sf, bin("+", sf, uconst(sfBits, 1))))));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(not(ref("aresetn")),
                List.of(new VStmt.NonBlocking(wsel, uconst(1, 0)), new VStmt.NonBlocking(wcnt, uconst(wcBits, 0)),
                        new VStmt.NonBlocking(rsel, uconst(1, 0)), new VStmt.NonBlocking(sf, uconst(sfBits, 0)),
                        new VStmt.NonBlocking(nf, uconst(nfBits, 0)), new VStmt.NonBlocking(addr, uconst(romBits, 0))),
                List.of(
                        new VStmt.NonBlocking(wsel, ws),
                        new VStmt.NonBlocking(wcnt, wcntNext),
                        new VStmt.If(compute, onCompute, List.of()))))));
        String doc = "Matrix-vector stage " + s.name() + " (" + s.source() + "): " + s.inFeatures() + " -> " + s.outFeatures()
                + ", PE " + pe + ", SIMD " + simd + ", " + s.cycles() + " cycles per vector.\n"
                + "in " + op.in() + ", weights " + op.weight().bits() + " bits, accumulator " + aw + " bits, out " + op.out() + ".";
        return new VModule(mod, doc, List.of(), ports(simd * xb, pe * ob), b.items);
    }

    private VModule elementwise(Stage.Elementwise s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        QOp op = s.op();
        QFormat in = op.inputs().get(0);
        QFormat out = op.out();
        int e = s.elems();
        int period = s.periodBeats();
        int posBits = counterBits(period);
        VExpr fire = b.wire("fire", 1, false, and(ref("in_valid"), ref("out_ready")));
        VExpr.Ref pos = period > 1 ? b.reg("pos", posBits, false, 0) : null;
        VExpr.Ref lut = null;
        if (op instanceof QOp.QLut t) {
            Lut l = t.lut();
            lut = b.reg("lut_rom", l.out().bits(), false, l.size());
            files.put(mod + "_lut.mem", MemFile.packed(l.table(), 1, l.out().bits()));
            b.add(new VItem.Initial(List.of(new VStmt.SysCall("$readmemh", List.of(mod + "_lut.mem", lut)))));
        }
        List<VExpr> ys = new ArrayList<>();
        for (int i = 0; i < e; i++) {
            VExpr.Ref x = RtlFixed.lane(b, "x" + i, ref("in_data"), i, in.bits());
            final String n = "y" + i;
            VExpr y;
            if (op instanceof QOp.QRelu r) {
                VExpr.Ref m = b.wire("relu" + i, in.bits(), true,
                        new VExpr.Cond(new VExpr.Index(x, new VExpr.Int(in.bits() - 1)), sconst(in.bits(), 0), x));
                y = RtlFixed.requantize(b, n, m, in.bits(), in.frac(), r.out());
            } else if (op instanceof QOp.QClip c) {
                VExpr r = RtlFixed.requantize(b, n + "_r", x, in.bits(), in.frac(), out);
                y = b.wire(n, out.bits(), true, new VExpr.Cond(bin("<", r, sconst(out.bits(), c.lo())), sconst(out.bits(), c.lo()),
                        new VExpr.Cond(bin(">", r, sconst(out.bits(), c.hi())), sconst(out.bits(), c.hi()), r)));
            } else if (op instanceof QOp.QLeakyRelu l) {
                VExpr pos0 = RtlFixed.requantize(b, n + "_p", x, in.bits(), in.frac(), out);
                int pb = l.productBits();
                VExpr.Ref prod = RtlFixed.mul(b, "prod" + i, x, in.bits(), sconst(l.alphaBits(), l.alpha()), l.alphaBits());
                VExpr neg = RtlFixed.requantize(b, n + "_n", prod, pb, in.frac() + l.alphaFrac(), out);
                y = b.wire(n, out.bits(), true, new VExpr.Cond(new VExpr.Index(x, new VExpr.Int(in.bits() - 1)), neg, pos0));
            } else if (op instanceof QOp.QLut t) {
                Lut l = t.lut();
                int ib = l.indexBits();
                VExpr addr;
                if (l.signedIndex()) {
                    VExpr v = RtlFixed.requantize(b, n + "_i", x, in.bits(), in.frac(), new QFormat(ib, l.indexFrac()));
                    addr = v;
                } else {
                    VExpr v = RtlFixed.requantize(b, n + "_i", x, in.bits(), in.frac(), new QFormat(ib + 1, l.indexFrac()));
                    addr = new VExpr.Cond(new VExpr.Index(v, new VExpr.Int(ib)), uconst(ib, 0), new VExpr.Slice(v, ib - 1, 0));
                }
                VExpr.Ref a = b.wire(n + "_addr", ib, false, addr);
                y = b.wire(n, l.out().bits(), true, new VExpr.Index(lut, a));
            } else if (op instanceof QOp.QAffine a) {
                List<VExpr> scales = new ArrayList<>();
                List<VExpr> shifts = new ArrayList<>();
                int sb = a.scale().bits();
                int aw = a.accBits();
                for (int k = 0; k < period; k++) {
                    int c = s.channel(k, i);
                    scales.add(sconst(sb, a.scale().at(c)));
                    shifts.add(sconst(aw, a.shift(c)));
                }
                VExpr scale = b.select("scale" + i, sb, true, pos, scales);
                VExpr shift = b.select("shift" + i, aw, true, pos, shifts);
                VExpr.Ref sc = scale instanceof VExpr.Ref r0 ? r0 : b.wire("scale" + i + "_c", sb, true, scale);
                VExpr.Ref sh = shift instanceof VExpr.Ref r1 ? r1 : b.wire("shift" + i + "_c", aw, true, shift);
                VExpr.Ref prod = RtlFixed.mul(b, "prod" + i, x, in.bits(), sc, sb);
                int sw = Math.max(aw, a.productBits());
                VExpr.Ref acc = b.wire("acc" + i, sw, true,
                        bin("+", RtlFixed.signExtend(prod, a.productBits(), sw), RtlFixed.signExtend(sh, aw, sw)));
                Map<Integer, VExpr> byFrac = new LinkedHashMap<>();
                List<VExpr> choices = new ArrayList<>();
                for (int k = 0; k < period; k++) {
                    int f = a.accFrac(s.channel(k, i));
                    choices.add(byFrac.computeIfAbsent(f, f0 -> RtlFixed.requantize(b, n + "_f" + (f0 < 0 ? "m" + (-f0) : f0), acc, sw, f0, out)));
                }
                y = b.select(n, out.bits(), true, pos, choices);
            } else if (op instanceof QOp.QFlatten || op instanceof QOp.QReshape) {
                y = RtlFixed.requantize(b, n, x, in.bits(), in.frac(), out);
            } else {
                throw new IllegalStateException("not elementwise: " + op.kind());
            }
            ys.add(y);
        }
        b.add(new VItem.Assign(ref("out_data"), concatLanes(ys)));
        b.add(new VItem.Assign(ref("in_pop"), fire));
        b.add(new VItem.Assign(ref("out_push"), fire));
        if (pos != null) {
            b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(not(ref("aresetn")),
                    List.of(new VStmt.NonBlocking(pos, uconst(posBits, 0))),
                    List.of(new VStmt.If(fire, List.of(new VStmt.NonBlocking(pos, wrap(pos, posBits, period))), List.of()))))));
        } else {
            b.add(new VItem.Comment("verilator lint_off UNUSEDSIGNAL"));
            b.wire("unused_clock", 2, false, new VExpr.Concat(List.of(ref("aclk"), ref("aresetn"))));
            b.add(new VItem.Comment("verilator lint_on UNUSEDSIGNAL"));
        }
        String doc = op.kind() + " stage " + s.name() + " (" + s.source() + "): " + e + " elements per beat, " + in + " -> " + out + ".";
        return new VModule(mod, doc, List.of(), ports(e * in.bits(), e * out.bits()), b.items);
    }

    private VModule widthConverter(Stage.WidthConverter s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        int bits = s.format().bits();
        int k = s.ratio();
        int jb = counterBits(k);
        VExpr.Ref j = b.reg("j", jb, false, 0);
        VExpr last = b.wire("last", 1, false, bin("==", j, uconst(jb, k - 1)));
        VExpr fire;
        List<VStmt> onFire = new ArrayList<>();
        if (s.widening()) {
            int w = s.elemsIn() * bits;
            fire = b.wire("fire", 1, false, and(ref("in_valid"), bin("||", not(last), ref("out_ready"))));
            if (k > 1) {
                VExpr.Ref hold = b.reg("hold", (k - 1) * w, false, 0);
                List<VStmt.CaseItem> arms = new ArrayList<>();
                for (int g = 0; g < k - 1; g++) {
                    VExpr target = new VExpr.Slice(hold, (g + 1) * w - 1, g * w);
                    arms.add(new VStmt.CaseItem(List.of(uconst(jb, g)), List.of(new VStmt.NonBlocking(target, ref("in_data")))));
                }
                onFire.add(new VStmt.Case(j, arms, List.of()));
                b.add(new VItem.Assign(ref("out_data"), new VExpr.Concat(List.of(ref("in_data"), hold))));
            }
            b.add(new VItem.Assign(ref("in_pop"), fire));
            b.add(new VItem.Assign(ref("out_push"), and(fire, last)));
        } else {
            int w = s.elemsOut() * bits;
            fire = b.wire("fire", 1, false, and(ref("in_valid"), ref("out_ready")));
            List<VExpr> groups = new ArrayList<>();
            for (int g = 0; g < k; g++) {
                groups.add(new VExpr.Slice(ref("in_data"), (g + 1) * w - 1, g * w));
            }
            VExpr out = b.select("group", w, false, j, groups);
            b.add(new VItem.Assign(ref("out_data"), out));
            b.add(new VItem.Assign(ref("in_pop"), and(fire, last)));
            b.add(new VItem.Assign(ref("out_push"), fire));
        }
        onFire.add(new VStmt.NonBlocking(j, new VExpr.Cond(last, uconst(jb, 0), bin("+", j, uconst(jb, 1)))));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(not(ref("aresetn")),
                List.of(new VStmt.NonBlocking(j, uconst(jb, 0))),
                List.of(new VStmt.If(fire, onFire, List.of()))))));
        String doc = "Width converter " + s.name() + ": " + s.elemsIn() + " -> " + s.elemsOut() + " elements of " + s.format() + " per beat.";
        return new VModule(mod, doc, List.of(), ports(s.elemsIn() * bits, s.elemsOut() * bits), b.items);
    }

    // --- graph stages: pooling, fork/add, softmax, argmax -------------------------------------------

    /** {@code if (!aresetn) reset else if (cond) body} on the clock. */
    private static VItem.AlwaysFf clocked(List<VStmt> reset, VExpr cond, List<VStmt> body) {
        return new VItem.AlwaysFf("aclk", List.of(new VStmt.If(not(ref("aresetn")), reset,
                List.of(new VStmt.If(cond, body, List.of())))));
    }

    /** {@code v == n-1 ? 0 : v + 1}, the counter update. */
    private static VStmt.NonBlocking step(VExpr.Ref v, int bits, int n) {
        return new VStmt.NonBlocking(v, wrap(v, bits, n));
    }

    /** A stage without registers still has clock and reset ports; lint is told they are unused. */
    private static void unusedClock(RtlBuilder b) {
        b.add(new VItem.Comment("verilator lint_off UNUSEDSIGNAL"));
        b.wire("unused_clock", 2, false, new VExpr.Concat(List.of(ref("aclk"), ref("aresetn"))));
        b.add(new VItem.Comment("verilator lint_on UNUSEDSIGNAL"));
    }

    private VModule globalAvgPool(Stage.GlobalAvgPool s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        QOp.QGlobalAvgPool op = s.op();
        QFormat in = op.in();
        int e = s.elems();
        int groups = s.groups();
        int sb = op.sumBits();
        int gb = counterBits(groups);
        int pb = counterBits(s.pixels());
        VExpr.Ref g = b.reg("g", gb, false, 0);
        VExpr.Ref p = b.reg("p", pb, false, 0);
        VExpr.Ref acc = b.reg("acc", e * sb, false, groups);
        VExpr first = b.wire("first", 1, false, bin("==", p, uconst(pb, 0)));
        VExpr last = b.wire("last", 1, false, bin("==", p, uconst(pb, s.pixels() - 1)));
        VExpr fire = b.wire("fire", 1, false, and(ref("in_valid"), bin("||", not(last), ref("out_ready"))));
        VExpr.Ref prev = b.wire("prev", e * sb, false, new VExpr.Index(acc, g));
        VExpr.Ref recip = b.wire("recip", op.recipBits(), true, sconst(op.recipBits(), op.recip()));
        List<VExpr> sums = new ArrayList<>();
        List<VExpr> ys = new ArrayList<>();
        for (int i = 0; i < e; i++) {
            VExpr.Ref x = RtlFixed.lane(b, "x" + i, ref("in_data"), i, in.bits());
            VExpr.Ref old = RtlFixed.lane(b, "old" + i, prev, i, sb);
            VExpr base = new VExpr.Cond(first, sconst(sb, 0), old);
            VExpr.Ref sum = b.wire("sum" + i, sb, true, bin("+", base, RtlFixed.signExtend(x, in.bits(), sb)));
            sums.add(sum);
            VExpr.Ref prod = RtlFixed.mul(b, "scaled" + i, sum, sb, recip, op.recipBits());
            ys.add(RtlFixed.requantize(b, "y" + i, prod, sb + op.recipBits(), in.frac() + op.recipFrac(), op.out()));
        }
        b.add(new VItem.Assign(ref("out_data"), concatLanes(ys)));
        b.add(new VItem.Assign(ref("in_pop"), fire));
        b.add(new VItem.Assign(ref("out_push"), and(fire, last)));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(fire,
                List.of(new VStmt.NonBlocking(new VExpr.Index(acc, g), concatLanes(sums))), List.of()))));
        VExpr lastGroup = bin("==", g, uconst(gb, groups - 1));
        b.add(clocked(List.of(new VStmt.NonBlocking(g, uconst(gb, 0)), new VStmt.NonBlocking(p, uconst(pb, 0))), fire, List.of(
                step(g, gb, groups),
                new VStmt.If(lastGroup, List.of(step(p, pb, s.pixels())), List.of()))));
        String doc = "Global average pooling " + s.name() + " (" + s.source() + "): " + s.channels() + " channels x " + s.pixels()
                + " pixels, " + e + " elements per beat, " + in + " -> " + op.out() + ", sums of " + sb + " bits.";
        return new VModule(mod, doc, List.of(), ports(e * in.bits(), e * op.out().bits()), b.items);
    }

    private VModule fork(Stage.Fork s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        int bits = d.channel(s.input()).beatBits();
        int n = s.outputs().size();
        VExpr all = ref("in_valid");
        for (int k = 0; k < n; k++) {
            all = and(all, ref("out" + k + "_ready"));
        }
        VExpr fire = b.wire("fire", 1, false, all);
        b.add(new VItem.Assign(ref("in_pop"), fire));
        List<VModule.Port> ports = new ArrayList<>(List.of(VModule.Port.in("aclk", 1), VModule.Port.in("aresetn", 1),
                VModule.Port.in("in_data", bits), VModule.Port.in("in_valid", 1), VModule.Port.out("in_pop", 1)));
        for (int k = 0; k < n; k++) {
            b.add(new VItem.Assign(ref("out" + k + "_data"), ref("in_data")));
            b.add(new VItem.Assign(ref("out" + k + "_push"), fire));
            ports.add(VModule.Port.out("out" + k + "_data", bits));
            ports.add(VModule.Port.in("out" + k + "_ready", 1));
            ports.add(VModule.Port.out("out" + k + "_push", 1));
        }
        unusedClock(b);
        String doc = "Fork " + s.name() + " (value " + s.source() + "): one stream of " + bits + "-bit beats into " + n
                + "; fires when the input is present and every output has room.";
        return new VModule(mod, doc, List.of(), ports, b.items);
    }

    private VModule add(Stage.Add s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        QOp.QAdd op = s.op();
        int e = s.elems();
        int sb = op.sumBits();
        VExpr fire = b.wire("fire", 1, false, and(and(ref("in0_valid"), ref("in1_valid")), ref("out_ready")));
        List<VExpr> ys = new ArrayList<>();
        for (int i = 0; i < e; i++) {
            VExpr.Ref a = RtlFixed.lane(b, "a" + i, ref("in0_data"), i, op.a().bits());
            VExpr.Ref c = RtlFixed.lane(b, "b" + i, ref("in1_data"), i, op.b().bits());
            VExpr sum = bin("+", aligned(a, op.a().bits(), op.shiftA(), sb), aligned(c, op.b().bits(), op.shiftB(), sb));
            VExpr.Ref w = b.wire("sum" + i, sb, true, sum);
            ys.add(RtlFixed.requantize(b, "y" + i, w, sb, op.frac(), op.out()));
        }
        b.add(new VItem.Assign(ref("out_data"), concatLanes(ys)));
        b.add(new VItem.Assign(ref("in0_pop"), fire));
        b.add(new VItem.Assign(ref("in1_pop"), fire));
        b.add(new VItem.Assign(ref("out_push"), fire));
        unusedClock(b);
        List<VModule.Port> ports = List.of(VModule.Port.in("aclk", 1), VModule.Port.in("aresetn", 1),
                VModule.Port.in("in0_data", e * op.a().bits()), VModule.Port.in("in0_valid", 1), VModule.Port.out("in0_pop", 1),
                VModule.Port.in("in1_data", e * op.b().bits()), VModule.Port.in("in1_valid", 1), VModule.Port.out("in1_pop", 1),
                VModule.Port.out("out_data", e * op.out().bits()), VModule.Port.in("out_ready", 1), VModule.Port.out("out_push", 1));
        String doc = "Add " + s.name() + " (" + s.source() + "): " + e + " elements per beat, " + op.a() + " + " + op.b() + " -> "
                + op.out() + ", aligned to frac " + op.frac() + " in " + sb + " bits.";
        return new VModule(mod, doc, List.of(), ports, b.items);
    }

    /** A signed {@code bits}-wide value shifted left by {@code shift}, sign-extended to {@code width} (it fits). */
    private static VExpr aligned(VExpr v, int bits, int shift, int width) {
        VExpr extended = RtlFixed.signExtend(v, bits, width - shift);
        return shift == 0 ? extended : new VExpr.Concat(List.of(extended, uconst(shift, 0)));
    }

    private VModule softmax(Stage.Softmax s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        QOp.QSoftmax op = s.op();
        QFormat in = op.in();
        Lut lut = op.exp();
        int e = s.elems();
        int beats = s.beats();
        int xb = in.bits();
        int eb = lut.out().bits();
        int sb = op.sumBits();
        int k = op.recipShift();
        int q = s.divSteps();
        int ib = lut.indexBits();
        int bb = counterBits(beats);
        int tb = counterBits(q);
        // Phases LOAD = 0, EXP = 1, DIV = 2, OUT = 3 (Stage.Softmax).
        VExpr.Ref phase = b.reg("phase", 2, false, 0);
        VExpr.Ref bc = b.reg("b", bb, false, 0);
        VExpr.Ref t = b.reg("t", tb, false, 0);
        VExpr.Ref max = b.reg("max", xb, true, 0);
        VExpr.Ref sum = b.reg("sum", sb, false, 0);
        VExpr.Ref rem = b.reg("rem", sb, false, 0);
        VExpr.Ref quo = b.reg("quo", q, false, 0);
        VExpr.Ref xbuf = b.reg("xbuf", e * xb, false, beats);
        VExpr.Ref ebuf = b.reg("ebuf", e * eb, false, beats);
        VExpr.Ref table = b.reg("exp_rom", eb, false, lut.size());
        files.put(mod + "_exp.mem", MemFile.packed(lut.table(), 1, eb));
        b.add(new VItem.Initial(List.of(new VStmt.SysCall("$readmemh", List.of(mod + "_exp.mem", table)))));
        VExpr lastBeat = b.wire("last_beat", 1, false, bin("==", bc, uconst(bb, beats - 1)));
        VExpr first = b.wire("first_beat", 1, false, bin("==", bc, uconst(bb, 0)));
        VExpr inLoad = b.wire("in_load", 1, false, bin("==", phase, uconst(2, 0)));
        VExpr inExp = b.wire("in_exp", 1, false, bin("==", phase, uconst(2, 1)));
        VExpr inDiv = b.wire("in_div", 1, false, bin("==", phase, uconst(2, 2)));
        VExpr inOut = b.wire("in_out", 1, false, bin("==", phase, uconst(2, 3)));
        VExpr load = b.wire("load", 1, false, and(inLoad, ref("in_valid")));
        VExpr emit = b.wire("emit", 1, false, and(inOut, ref("out_ready")));

        // LOAD: the running maximum over the lanes of the beat, lane 0 first.
        VExpr m = max;
        for (int i = 0; i < e; i++) {
            VExpr.Ref x = RtlFixed.lane(b, "x" + i, ref("in_data"), i, xb);
            VExpr pick = i == 0 ? bin("||", first, bin(">", x, max)) : bin(">", x, m);
            m = b.wire("max" + i, xb, true, new VExpr.Cond(pick, x, m));
        }
        // EXP: e = table[index(max - x)], the unsigned index saturated as in Lut.index.
        VExpr.Ref xrow = b.wire("xrow", e * xb, false, new VExpr.Index(xbuf, bc));
        List<VExpr> es = new ArrayList<>();
        VExpr total = new VExpr.Cond(first, uconst(sb, 0), sum);
        for (int i = 0; i < e; i++) {
            VExpr.Ref xr = RtlFixed.lane(b, "xr" + i, xrow, i, xb);
            VExpr.Ref diff = b.wire("diff" + i, xb + 1, true,
                    bin("-", RtlFixed.signExtend(max, xb, xb + 1), RtlFixed.signExtend(xr, xb, xb + 1)));
            VExpr v = RtlFixed.requantize(b, "idx" + i, diff, xb + 1, in.frac(), new QFormat(ib + 1, lut.indexFrac()));
            VExpr.Ref addr = b.wire("addr" + i, ib, false,
                    new VExpr.Cond(new VExpr.Index(v, new VExpr.Int(ib)), uconst(ib, 0), new VExpr.Slice(v, ib - 1, 0)));
            VExpr.Ref ei = b.wire("e" + i, eb, false, new VExpr.Index(table, addr));
            es.add(ei);
            total = bin("+", total, zext(ei, eb, sb));
        }
        VExpr.Ref sumNext = b.wire("sum_next", sb, false, total);
        // DIV: one restoring step per cycle; 2^K has its single one bit at position K.
        VExpr bit = k <= q - 1 ? bin("==", t, uconst(tb, q - 1 - k)) : uconst(1, 0);
        VExpr.Ref r2 = b.wire("rem2", sb + 1, false, bin("+", new VExpr.Concat(List.of(rem, uconst(1, 0))), zext(bit, 1, sb + 1)));
        VExpr.Ref geq = b.wire("geq", 1, false, bin(">=", r2, zext(sum, sb, sb + 1)));
        VExpr.Ref diffR = b.wirePartlyUnused("rem_sub", sb + 1, false,
                new VExpr.Cond(geq, bin("-", r2, zext(sum, sb, sb + 1)), r2));
        VExpr quoNext = q == 1 ? geq : new VExpr.Concat(List.of(new VExpr.Slice(quo, q - 2, 0), geq));
        // OUT: p = requantize(e * q, K, out).
        VExpr.Ref erow = b.wire("erow", e * eb, false, new VExpr.Index(ebuf, bc));
        VExpr.Ref recip = b.wire("recip", q + 1, true, new VExpr.Concat(List.of(uconst(1, 0), quo)));
        List<VExpr> ys = new ArrayList<>();
        for (int i = 0; i < e; i++) {
            VExpr.Ref eo = RtlFixed.lane(b, "eo" + i, erow, i, eb);
            VExpr.Ref prod = RtlFixed.mul(b, "prod" + i, eo, eb, recip, q + 1);
            ys.add(RtlFixed.requantize(b, "p" + i, prod, eb + q + 1, k, op.out()));
        }
        b.add(new VItem.Assign(ref("out_data"), concatLanes(ys)));
        b.add(new VItem.Assign(ref("in_pop"), load));
        b.add(new VItem.Assign(ref("out_push"), emit));
        b.add(new VItem.AlwaysFf("aclk", List.of(
                new VStmt.If(load, List.of(new VStmt.NonBlocking(new VExpr.Index(xbuf, bc), ref("in_data"))), List.of()),
                new VStmt.If(inExp, List.of(new VStmt.NonBlocking(new VExpr.Index(ebuf, bc), concatLanes(es))), List.of()))));
        long r0 = (1L << k) >>> q;
        VExpr nextBeat = new VExpr.Cond(lastBeat, uconst(bb, 0), bin("+", bc, uconst(bb, 1)));
        List<VStmt> reset = List.of(new VStmt.NonBlocking(phase, uconst(2, 0)), new VStmt.NonBlocking(bc, uconst(bb, 0)),
                new VStmt.NonBlocking(t, uconst(tb, 0)));
        List<VStmt> run = List.of(
                new VStmt.If(load, List.of(new VStmt.NonBlocking(max, m), new VStmt.NonBlocking(bc, nextBeat),
                        new VStmt.If(lastBeat, List.of(new VStmt.NonBlocking(phase, uconst(2, 1))), List.of())), List.of()),
                new VStmt.If(inExp, List.of(new VStmt.NonBlocking(sum, sumNext), new VStmt.NonBlocking(bc, nextBeat),
                        new VStmt.NonBlocking(t, uconst(tb, 0)),
                        new VStmt.If(lastBeat, List.of(new VStmt.NonBlocking(phase, uconst(2, 2)),
                                new VStmt.NonBlocking(rem, uconst(sb, r0)), new VStmt.NonBlocking(quo, uconst(q, 0))), List.of())),
                        List.of()),
                new VStmt.If(inDiv, List.of(new VStmt.NonBlocking(rem, new VExpr.Slice(diffR, sb - 1, 0)),
                        new VStmt.NonBlocking(quo, quoNext), step(t, tb, q),
                        new VStmt.If(bin("==", t, uconst(tb, q - 1)), List.of(new VStmt.NonBlocking(phase, uconst(2, 3))), List.of())),
                        List.of()),
                new VStmt.If(emit, List.of(new VStmt.NonBlocking(bc, nextBeat),
                        new VStmt.If(lastBeat, List.of(new VStmt.NonBlocking(phase, uconst(2, 0))), List.of())), List.of()));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(not(ref("aresetn")), reset, run))));
        String doc = "Softmax " + s.name() + " (" + s.source() + "): " + s.n() + " elements, " + e + " per beat, " + in + " -> "
                + op.out() + ".\nPhases LOAD (" + beats + " beats), EXP (" + beats + " cycles), DIV (" + q + " cycles, restoring "
                + "divider of 2^" + k + " by the " + sb + "-bit sum), OUT (" + beats + " beats): " + s.cycles() + " cycles per vector.";
        return new VModule(mod, doc, List.of(), ports(e * xb, e * op.out().bits()), b.items);
    }

    private VModule argmax(Stage.Argmax s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        int e = s.elems();
        int beats = s.beats();
        int xb = s.in().bits();
        int ob = s.out().bits();
        int bb = counterBits(beats);
        VExpr.Ref bc = b.reg("b", bb, false, 0);
        VExpr.Ref best = b.reg("best", xb, true, 0);
        VExpr.Ref bestIdx = b.reg("best_idx", ob, false, 0);
        VExpr first = b.wire("first", 1, false, bin("==", bc, uconst(bb, 0)));
        VExpr last = b.wire("last", 1, false, bin("==", bc, uconst(bb, beats - 1)));
        VExpr fire = b.wire("fire", 1, false, and(ref("in_valid"), bin("||", not(last), ref("out_ready"))));
        VExpr v = best;
        VExpr idx = bestIdx;
        for (int i = 0; i < e; i++) {
            VExpr.Ref x = RtlFixed.lane(b, "x" + i, ref("in_data"), i, xb);
            List<VExpr> idxs = new ArrayList<>();
            for (int k = 0; k < beats; k++) {
                idxs.add(uconst(ob, s.index(k, i)));
            }
            VExpr li = b.select("idx" + i, ob, false, bc, idxs);
            VExpr take = bin("||", bin(">", x, v), and(bin("==", x, v), bin("<", li, idx)));
            VExpr.Ref tk = b.wire("take" + i, 1, false, i == 0 ? bin("||", first, take) : take);
            v = b.wire("v" + i, xb, true, new VExpr.Cond(tk, x, v));
            idx = b.wire("i" + i, ob, false, new VExpr.Cond(tk, li, idx));
        }
        b.add(new VItem.Assign(ref("out_data"), idx));
        b.add(new VItem.Assign(ref("in_pop"), fire));
        b.add(new VItem.Assign(ref("out_push"), and(fire, last)));
        b.add(clocked(List.of(new VStmt.NonBlocking(bc, uconst(bb, 0))), fire, List.of(
                step(bc, bb, beats), new VStmt.NonBlocking(best, v), new VStmt.NonBlocking(bestIdx, idx))));
        String doc = "Argmax head " + s.name() + ": index (" + s.out() + ") of the largest of " + s.index().length
                + " elements, ties to the lowest index; " + e + " elements per beat.";
        return new VModule(mod, doc, List.of(), ports(e * xb, ob), b.items);
    }

    private VModule slidingWindow(Stage.SlidingWindow s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        int xb = s.format().bits();
        int e = s.elems();
        int cbN = s.channelBeats();
        int rows = s.rows();
        int h = s.height();
        int w = s.width();
        int depth = rows * w * cbN;
        // Signed width of row/column positions, window offsets and row counts (with a sign bit).
        int sb = valueBits(Math.max(h, w) + Math.max(s.strideH(), s.strideW()) + Math.max(s.kernelH(), s.kernelW()) + rows + 1) + 1;
        int ab = counterBits(depth);
        int slb = valueBits(2 * rows);
        int wxB = counterBits(w);
        int cbB = counterBits(cbN);
        int slotB = counterBits(rows);
        int wrB = valueBits(rows);
        int oyB = counterBits(s.outHeight());
        int oxB = counterBits(s.outWidth());
        int kyB = counterBits(s.kernelH());
        int kxB = counterBits(s.kernelW());

        VExpr.Ref buf = b.reg("buffer", e * xb, false, depth);
        b.comment("writer: position in the row being written, its slot, complete rows held");
        VExpr.Ref wx = b.reg("wx", wxB, false, 0);
        VExpr.Ref wcb = b.reg("wcb", cbB, false, 0);
        VExpr.Ref wslot = b.reg("wslot", slotB, false, 0);
        VExpr.Ref wrows = b.reg("wrows", wrB, false, 0);
        b.comment("reader: output position, window position, window origin, slots of row ylo and of row 0");
        VExpr.Ref oy = b.reg("oy", oyB, false, 0);
        VExpr.Ref ox = b.reg("ox", oxB, false, 0);
        VExpr.Ref ky = b.reg("ky", kyB, false, 0);
        VExpr.Ref kx = b.reg("kx", kxB, false, 0);
        VExpr.Ref cb = b.reg("cb", cbB, false, 0);
        VExpr.Ref ylo = b.reg("ylo", sb, true, 0);
        VExpr.Ref xlo = b.reg("xlo", sb, true, 0);
        VExpr.Ref rtop = b.reg("rtop", slotB, false, 0);
        VExpr.Ref rbase = b.reg("rbase", slotB, false, 0);

        VExpr inRow = b.wire("in_row", 1, false, bin("||", bin("!=", wx, uconst(wxB, 0)), bin("!=", wcb, uconst(cbB, 0))));
        VExpr wrowEnd = b.wire("wrow_end", 1, false, and(bin("==", wx, uconst(wxB, w - 1)), bin("==", wcb, uconst(cbB, cbN - 1))));
        VExpr.Ref kyS = b.wire("ky_s", sb, true, zext(ky, kyB, sb));
        VExpr.Ref kxS = b.wire("kx_s", sb, true, zext(kx, kxB, sb));
        VExpr.Ref iy = b.wire("iy", sb, true, bin("+", ylo, kyS));
        VExpr.Ref ix = b.wire("ix", sb, true, bin("+", xlo, kxS));
        VExpr padded = b.wire("padded", 1, false, bin("||", bin("||", bin("<", iy, sconst(sb, 0)), bin(">=", iy, sconst(sb, h))),
                bin("||", bin("<", ix, sconst(sb, 0)), bin(">=", ix, sconst(sb, w)))));
        VExpr.Ref yoff = b.wire("yoff", sb, true, new VExpr.Cond(new VExpr.Index(ylo, new VExpr.Int(sb - 1)), sconst(sb, 0), ylo));
        VExpr.Ref rel = b.wire("rel", sb, true, bin("-", iy, yoff));
        VExpr.Ref wrowsS = b.wire("wrows_s", sb, true, zext(wrows, wrB, sb));
        VExpr.Ref wxS = b.wire("wx_s", sb, true, zext(wx, wxB, sb));
        VExpr written = b.wire("written", 1, false, bin("||", bin("<", rel, wrowsS), and(bin("==", rel, wrowsS),
                bin("||", bin("<", ix, wxS), and(bin("==", ix, wxS), bin("<", cb, wcb))))));
        VExpr lastWin = b.wire("last_win", 1, false, and(and(bin("==", ky, uconst(kyB, s.kernelH() - 1)),
                bin("==", kx, uconst(kxB, s.kernelW() - 1))), bin("==", cb, uconst(cbB, cbN - 1))));
        VExpr rowEnd = b.wire("row_end", 1, false, and(lastWin, bin("==", ox, uconst(oxB, s.outWidth() - 1))));
        VExpr lastRow = b.wire("last_row", 1, false, bin("==", oy, uconst(oyB, s.outHeight() - 1)));
        // Rows released at the end of output row oy: a table of Stage.SlidingWindow#release.
        List<VExpr> releases = new ArrayList<>();
        for (int y = 0; y < s.outHeight(); y++) {
            releases.add(uconst(wrB, s.release(y)));
        }
        VExpr relTable = b.select("release_row", wrB, false, oy, releases);
        VExpr.Ref release = b.wire("free_rows", wrB, false, new VExpr.Cond(rowEnd, relTable, uconst(wrB, 0)));
        VExpr emit = b.wire("emit", 1, false, and(and(ref("out_ready"), bin("||", padded, written)), bin("<=", release, wrows)));
        // The writer may take a slot the reader releases in this same cycle.
        VExpr.Ref wrowsLeft = b.wire("wrows_left", wrB, false, bin("-", wrows, new VExpr.Cond(emit, release, uconst(wrB, 0))));
        VExpr write = b.wire("write", 1, false, and(ref("in_valid"), bin("||", inRow, bin("!=", wrowsLeft, uconst(wrB, rows)))));

        VExpr.Ref slotSum = b.wire("slot_sum", slb, false, bin("+", zext(rtop, slotB, slb), zext(ky, kyB, slb)));
        VExpr slot = b.wirePartlyUnused("slot", slb, false, new VExpr.Cond(bin(">=", slotSum, uconst(slb, rows)),
                bin("-", slotSum, uconst(slb, rows)), slotSum));
        VExpr.Ref ixLow = b.wirePartlyUnused("ix_low", sb, false, ix);
        VExpr raddr = b.wire("raddr", ab, false, bin("+", bin("*", bin("+", bin("*", fit(slot, slb, ab), uconst(ab, w)),
                fit(ixLow, sb, ab)), uconst(ab, cbN)), zext(cb, cbB, ab)));
        VExpr waddr = b.wire("waddr", ab, false, bin("+", bin("*", bin("+", bin("*", zext(wslot, slotB, ab), uconst(ab, w)),
                zext(wx, wxB, ab)), uconst(ab, cbN)), zext(wcb, cbB, ab)));
        long padBits = s.padValue() & ((1L << xb) - 1);
        VExpr padBeat = e == 1 ? uconst(xb, padBits) : new VExpr.Repeat(e, uconst(xb, padBits));
        b.add(new VItem.Assign(ref("out_data"), new VExpr.Cond(padded, padBeat, new VExpr.Index(buf, raddr))));
        b.add(new VItem.Assign(ref("out_push"), emit));
        b.add(new VItem.Assign(ref("in_pop"), write));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(write,
                List.of(new VStmt.NonBlocking(new VExpr.Index(buf, waddr), ref("in_data"))), List.of()))));

        // Slot arithmetic mod rows: every sum below is < 2*rows.
        VExpr.Ref rtopStep = b.wire("rtop_step", slb, false, bin("+", zext(rtop, slotB, slb), uconst(slb, s.strideH() % rows)));
        VExpr.Ref rbaseStep = b.wire("rbase_step", slb, false, bin("+", zext(rbase, slotB, slb), uconst(slb, h % rows)));
        VExpr rbaseNext = b.wirePartlyUnused("rbase_next", slb, false, modRows(rbaseStep, slb, rows));
        VExpr.Ref rtopImg = b.wire("rtop_img", slb, false, bin("+", rbaseNext, uconst(slb, (rows - s.padTop()) % rows)));
        VExpr rtopNextRow = b.wirePartlyUnused("rtop_row", slb, false, modRows(rtopStep, slb, rows));
        VExpr rtopNextImg = b.wirePartlyUnused("rtop_next_img", slb, false, modRows(rtopImg, slb, rows));

        List<VStmt> pixel = List.of(new VStmt.If(bin("==", ox, uconst(oxB, s.outWidth() - 1)),
                List.of(new VStmt.NonBlocking(ox, uconst(oxB, 0)), new VStmt.NonBlocking(xlo, sconst(sb, -s.padLeft())),
                        new VStmt.If(lastRow,
                                List.of(new VStmt.NonBlocking(oy, uconst(oyB, 0)), new VStmt.NonBlocking(ylo, sconst(sb, -s.padTop())),
                                        new VStmt.NonBlocking(rbase, new VExpr.Slice(rbaseNext, slotB - 1, 0)),
                                        new VStmt.NonBlocking(rtop, new VExpr.Slice(rtopNextImg, slotB - 1, 0))),
                                List.of(new VStmt.NonBlocking(oy, bin("+", oy, uconst(oyB, 1))),
                                        new VStmt.NonBlocking(ylo, bin("+", ylo, sconst(sb, s.strideH()))),
                                        new VStmt.NonBlocking(rtop, new VExpr.Slice(rtopNextRow, slotB - 1, 0))))),
                List.of(new VStmt.NonBlocking(ox, bin("+", ox, uconst(oxB, 1))),
                        new VStmt.NonBlocking(xlo, bin("+", xlo, sconst(sb, s.strideW()))))));
        List<VStmt> advance;
        if (s.channelMajor()) {
            advance = step(kx, kxB, s.kernelW(), step(ky, kyB, s.kernelH(), step(cb, cbB, cbN, pixel)));
        } else {
            advance = step(cb, cbB, cbN, step(kx, kxB, s.kernelW(), step(ky, kyB, s.kernelH(), pixel)));
        }
        List<VStmt> onWrite = step(wcb, cbB, cbN, step(wx, wxB, w,
                List.of(new VStmt.NonBlocking(wslot, wrap(wslot, slotB, rows)))));
        VExpr wrowsNext = bin("+", wrowsLeft, new VExpr.Cond(and(write, wrowEnd), uconst(wrB, 1), uconst(wrB, 0)));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(not(ref("aresetn")),
                List.of(new VStmt.NonBlocking(wx, uconst(wxB, 0)), new VStmt.NonBlocking(wcb, uconst(cbB, 0)),
                        new VStmt.NonBlocking(wslot, uconst(slotB, 0)), new VStmt.NonBlocking(wrows, uconst(wrB, 0)),
                        new VStmt.NonBlocking(oy, uconst(oyB, 0)), new VStmt.NonBlocking(ox, uconst(oxB, 0)),
                        new VStmt.NonBlocking(ky, uconst(kyB, 0)), new VStmt.NonBlocking(kx, uconst(kxB, 0)),
                        new VStmt.NonBlocking(cb, uconst(cbB, 0)), new VStmt.NonBlocking(ylo, sconst(sb, -s.padTop())),
                        new VStmt.NonBlocking(xlo, sconst(sb, -s.padLeft())),
                        new VStmt.NonBlocking(rtop, uconst(slotB, Math.floorMod(-s.padTop(), rows))),
                        new VStmt.NonBlocking(rbase, uconst(slotB, 0))),
                List.of(new VStmt.If(write, onWrite, List.of()),
                        new VStmt.NonBlocking(wrows, wrowsNext),
                        new VStmt.If(emit, advance, List.of()))))));
        String doc = "Sliding-window unit " + s.name() + " (" + s.source() + "): (" + s.channels() + ", " + h + ", " + w + ") in "
                + e + "-element beats, kernel " + s.kernelH() + "x" + s.kernelW() + ", stride " + s.strideH() + "x" + s.strideW()
                + ", pad " + s.padTop() + "," + s.padLeft() + " -> " + s.outHeight() + "x" + s.outWidth() + " windows, order "
                + (s.channelMajor() ? "(cb, ky, kx)" : "(ky, kx, cb)") + ", " + rows + " row slots.";
        return new VModule(mod, doc, List.of(), ports(e * xb, e * xb), b.items);
    }

    /**
     * Counter {@code c} (0..n-1) steps by one; when it wraps to 0, {@code carry} runs (the next
     * counter of a nest).
     */
    private static List<VStmt> step(VExpr.Ref c, int bits, int n, List<VStmt> carry) {
        List<VStmt> wrapped = new ArrayList<>();
        wrapped.add(new VStmt.NonBlocking(c, uconst(bits, 0)));
        wrapped.addAll(carry);
        return List.of(new VStmt.If(bin("==", c, uconst(bits, n - 1)), wrapped,
                List.of(new VStmt.NonBlocking(c, bin("+", c, uconst(bits, 1))))));
    }

    /** {@code v mod n} for {@code v < 2n}, in {@code bits} bits. */
    private static VExpr modRows(VExpr v, int bits, int n) {
        return new VExpr.Cond(bin(">=", v, uconst(bits, n)), bin("-", v, uconst(bits, n)), v);
    }

    /** A {@code from}-bit unsigned value as {@code to} bits: zero-extended, or its low bits. */
    private static VExpr fit(VExpr v, int from, int to) {
        return from >= to ? (from == to ? v : new VExpr.Slice(v, to - 1, 0)) : zext(v, from, to);
    }

    private VModule poolReduce(Stage.PoolReduce s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        QOp op = s.op();
        QFormat in = op.inputs().get(0);
        QFormat out = op.out();
        int xb = in.bits();
        int e = s.elems();
        int kk = s.windowSize();
        int kB = counterBits(kk);
        int cbB = counterBits(s.channelBeats());
        int posB = counterBits(s.positions());
        VExpr.Ref k = b.reg("k", kB, false, 0);
        VExpr.Ref cb = b.reg("cb", cbB, false, 0);
        VExpr first = b.wire("first", 1, false, bin("==", k, uconst(kB, 0)));
        VExpr last = b.wire("last", 1, false, bin("==", k, uconst(kB, kk - 1)));
        VExpr fire = b.wire("fire", 1, false, and(ref("in_valid"), bin("||", not(last), ref("out_ready"))));
        VExpr.Ref pos = null;
        VExpr.Ref recip = null;
        int rb = 0;
        if (op instanceof QOp.QAvgPool a) {
            rb = a.recipBits();
            long[] r = a.recip();
            boolean uniform = java.util.Arrays.stream(r).distinct().count() == 1;
            if (uniform) {
                recip = b.wire("recip", rb, true, sconst(rb, r[0]));
            } else {
                pos = b.reg("pos", posB, false, 0);
                List<VExpr> choices = new ArrayList<>();
                for (long v : r) {
                    choices.add(sconst(rb, v));
                }
                recip = b.wire("recip", rb, true, b.select("recip_pos", rb, true, pos, choices));
            }
        }
        List<VExpr> ys = new ArrayList<>();
        List<VStmt> accUpdates = new ArrayList<>();
        for (int p = 0; p < e; p++) {
            VExpr.Ref x = RtlFixed.lane(b, "x" + p, ref("in_data"), p, xb);
            if (op instanceof QOp.QMaxPool m) {
                VExpr.Ref acc = b.reg("acc" + p, xb, true, 0);
                VExpr.Ref v = b.wire("v" + p, xb, true, new VExpr.Cond(bin("||", first, bin(">", x, acc)), x, acc));
                accUpdates.add(new VStmt.NonBlocking(acc, v));
                ys.add(RtlFixed.requantize(b, "y" + p, v, xb, in.frac(), m.out()));
            } else {
                QOp.QAvgPool a = (QOp.QAvgPool) op;
                int sw = a.sumBits();
                VExpr.Ref acc = b.reg("acc" + p, sw, true, 0);
                VExpr.Ref v = b.wire("v" + p, sw, true, bin("+", new VExpr.Cond(first, sconst(sw, 0), acc), RtlFixed.signExtend(x, xb, sw)));
                accUpdates.add(new VStmt.NonBlocking(acc, v));
                VExpr.Ref prod = RtlFixed.mul(b, "prod" + p, v, sw, recip, rb);
                ys.add(RtlFixed.requantize(b, "y" + p, prod, sw + rb, in.frac() + a.recipFrac(), out));
            }
        }
        b.add(new VItem.Assign(ref("out_data"), concatLanes(ys)));
        b.add(new VItem.Assign(ref("in_pop"), fire));
        b.add(new VItem.Assign(ref("out_push"), and(fire, last)));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(fire, accUpdates, List.of()))));
        List<VStmt> onGroup = new ArrayList<>();
        if (pos != null) {
            onGroup.add(new VStmt.NonBlocking(pos, wrap(pos, posB, s.positions())));
        }
        List<VStmt> onLast = step(cb, cbB, s.channelBeats(), onGroup);
        List<VStmt> reset = new ArrayList<>(List.of(new VStmt.NonBlocking(k, uconst(kB, 0)), new VStmt.NonBlocking(cb, uconst(cbB, 0))));
        if (pos != null) {
            reset.add(new VStmt.NonBlocking(pos, uconst(posB, 0)));
        }
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(not(ref("aresetn")), reset,
                List.of(new VStmt.If(fire, List.of(new VStmt.If(last,
                        concat(List.of(new VStmt.NonBlocking(k, uconst(kB, 0))), onLast),
                        List.of(new VStmt.NonBlocking(k, bin("+", k, uconst(kB, 1)))))), List.of()))))));
        String doc = op.kind() + " reduce " + s.name() + " (" + s.source() + "): " + kk + " window beats of " + e + " x " + in
                + " per output beat of " + out + ".";
        return new VModule(mod, doc, List.of(), ports(e * xb, e * out.bits()), b.items);
    }

    private VModule depthwise(Stage.Depthwise s) {
        String mod = moduleName(d, s);
        RtlBuilder b = new RtlBuilder();
        QOp.QConv op = s.op();
        int xb = op.in().bits();
        int wb = op.weight().bits();
        int aw = op.accBits();
        int lanes = s.lanes();
        int kk = s.windowSize();
        int cbN = s.channelBeats();
        int kB = counterBits(kk);
        int cbB = counterBits(cbN);
        int romBits = counterBits(cbN * kk);
        VExpr.Ref k = b.reg("k", kB, false, 0);
        VExpr.Ref cb = b.reg("cb", cbB, false, 0);
        VExpr.Ref addr = b.reg("addr", romBits, false, 0);
        VExpr.Ref wrom = b.reg("weights", lanes * wb, false, cbN * kk);
        VExpr.Ref brom = b.reg("biases", lanes * aw, false, cbN);
        files.put(mod + "_w.mem", MemFile.packed(s.weights(), lanes, wb));
        long[] biases = new long[cbN * lanes];
        for (int o = 0; o < biases.length; o++) {
            biases[o] = op.bias(o);
        }
        files.put(mod + "_b.mem", MemFile.packed(biases, lanes, aw));
        b.add(new VItem.Initial(List.of(
                new VStmt.SysCall("$readmemh", List.of(mod + "_w.mem", wrom)),
                new VStmt.SysCall("$readmemh", List.of(mod + "_b.mem", brom)))));
        VExpr first = b.wire("first", 1, false, bin("==", k, uconst(kB, 0)));
        VExpr last = b.wire("last", 1, false, bin("==", k, uconst(kB, kk - 1)));
        VExpr fire = b.wire("fire", 1, false, and(ref("in_valid"), bin("||", not(last), ref("out_ready"))));
        VExpr w = b.wire("w", lanes * wb, false, new VExpr.Index(wrom, addr));
        VExpr bias = b.wire("bias", lanes * aw, false, new VExpr.Index(brom, cb));
        List<VExpr> xs = new ArrayList<>();
        for (int i = 0; i < s.elems(); i++) {
            xs.add(RtlFixed.lane(b, "x" + i, ref("in_data"), i, xb));
        }
        List<VExpr> ys = new ArrayList<>();
        List<VStmt> accUpdates = new ArrayList<>();
        int sw = Math.max(aw, wb + xb);
        for (int p = 0; p < lanes; p++) {
            VExpr.Ref acc = b.reg("acc" + p, aw, true, 0);
            VExpr bp = RtlFixed.lane(b, "bias" + p, bias, p, aw);
            VExpr.Ref base = b.wire("base" + p, aw, true, new VExpr.Cond(first, bp, acc));
            VExpr wp = RtlFixed.lane(b, "w" + p, w, p, wb);
            VExpr prod = RtlFixed.mul(b, "prod" + p, wp, wb, xs.get(p / s.multiplier()), xb);
            VExpr sum = bin("+", RtlFixed.signExtend(base, aw, sw), RtlFixed.signExtend(prod, wb + xb, sw));
            VExpr.Ref sumW = sw > aw ? b.wirePartlyUnused("sum" + p, sw, true, sum) : b.wire("sum" + p, sw, true, sum);
            accUpdates.add(new VStmt.NonBlocking(acc, sw > aw ? new VExpr.Slice(sumW, aw - 1, 0) : sumW));
            Map<Integer, VExpr> byShift = new LinkedHashMap<>();
            List<VExpr> choices = new ArrayList<>();
            final int lane = p;
            for (int c0 = 0; c0 < cbN; c0++) {
                int frac = op.accFrac(c0 * lanes + p);
                choices.add(byShift.computeIfAbsent(frac,
                        f -> RtlFixed.requantize(b, "y" + lane + "_f" + (f < 0 ? "m" + (-f) : f), sumW, sw, f, op.out())));
            }
            ys.add(b.select("y" + p, op.out().bits(), true, cb, choices));
        }
        b.add(new VItem.Assign(ref("out_data"), concatLanes(ys)));
        b.add(new VItem.Assign(ref("in_pop"), fire));
        b.add(new VItem.Assign(ref("out_push"), and(fire, last)));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(fire, accUpdates, List.of()))));
        List<VStmt> onLast = concat(List.of(new VStmt.NonBlocking(k, uconst(kB, 0))),
                List.of(new VStmt.NonBlocking(cb, wrap(cb, cbB, cbN))));
        b.add(new VItem.AlwaysFf("aclk", List.of(new VStmt.If(not(ref("aresetn")),
                List.of(new VStmt.NonBlocking(k, uconst(kB, 0)), new VStmt.NonBlocking(cb, uconst(cbB, 0)),
                        new VStmt.NonBlocking(addr, uconst(romBits, 0))),
                List.of(new VStmt.If(fire, concat(List.of(new VStmt.NonBlocking(addr, wrap(addr, romBits, cbN * kk))),
                        List.of(new VStmt.If(last, onLast, List.of(new VStmt.NonBlocking(k, bin("+", k, uconst(kB, 1)))))))
                        , List.of()))))));
        String doc = "Depthwise convolution " + s.name() + " (" + s.source() + "): " + s.elems() + " channels x " + s.multiplier()
                + " outputs per beat, " + kk + " window beats, in " + op.in() + ", weights " + wb + " bits, accumulator " + aw
                + " bits, out " + op.out() + ".";
        return new VModule(mod, doc, List.of(), ports(s.elems() * xb, lanes * op.out().bits()), b.items);
    }

    private static List<VStmt> concat(List<VStmt> a, List<VStmt> b) {
        List<VStmt> l = new ArrayList<>(a);
        l.addAll(b);
        return l;
    }

    // --- helpers -----------------------------------------------------------------------------------

    /** Lanes packed little-end first: {@code {y[n-1], ..., y[0]}}. */
    private static VExpr concatLanes(List<VExpr> ys) {
        List<VExpr> parts = new ArrayList<>(ys);
        java.util.Collections.reverse(parts);
        return parts.size() == 1 ? parts.get(0) : new VExpr.Concat(parts);
    }

    /** Zero-extends an unsigned {@code from}-bit value to {@code to} bits. */
    private static VExpr zext(VExpr v, int from, int to) {
        return to == from ? v : new VExpr.Concat(List.of(uconst(to - from, 0), v));
    }
}
