package io.streamfold.verilog;

import io.streamfold.hw.Channel;
import io.streamfold.hw.HwDesign;
import io.streamfold.hw.Stage;
import io.streamfold.hw.WeightStore;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.streamfold.verilog.RtlFixed.uconst;
import static io.streamfold.verilog.RtlFixed.valueBits;
import static io.streamfold.verilog.RtlKit.clocked;
import static io.streamfold.verilog.RtlKit.clockedNoReset;
import static io.streamfold.verilog.RtlKit.set;
import static io.streamfold.verilog.RtlKit.when;
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
 *
 * <p>This class owns the top module, the FIFOs and the dispatch; the stage modules come from
 * {@link MatVecRtl}, {@link ElementwiseRtl}, {@link WindowRtl}, {@link GraphRtl} and {@link HeadRtl}.
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
            modules.putIfAbsent(name + ".v", VerilogPrinter.print(fifo(name, c.beatBits(), c.depth(), c.registers(), c.lateData())));
        }
        if (!d.spramStages().isEmpty()) {
            modules.put(SPRAM_MODEL, spramModel());
            int[] words = d.weightLoad();
            long[] bytes = new long[2 * words.length];
            for (int i = 0; i < words.length; i++) {
                bytes[2 * i] = words[i] & 0xff;
                bytes[2 * i + 1] = words[i] >> 8;
            }
            files.put(weightsFile(d), MemFile.packed(bytes, 1, WEIGHT_PORT_BITS));
        }
        Map<String, String> out = new LinkedHashMap<>(modules);
        out.putAll(files);
        return out;
    }

    /**
     * The behavioural model of {@code SB_SPRAM256KA} that simulation and lint read in place of the
     * iCE40 primitive. Synthesis must not read it: Yosys maps the instances to the UP5K's SPRAM
     * only while the module is its own black box ({@link #simulationOnly}).
     */
    public static final String SPRAM_MODEL = "SB_SPRAM256KA.v";

    /** True for a file of {@link #emit} that only simulation and lint read, never synthesis. */
    public static boolean simulationOnly(String file) {
        return file.equals(SPRAM_MODEL);
    }

    /**
     * Bits of a beat of the weight-load port {@code s_axis_weights}: a byte, so that the port and
     * the two inference streams fit the UP5K's 39 I/O pins of its sg48 package; each 16-bit SPRAM
     * word arrives as two beats, low byte first.
     */
    public static final int WEIGHT_PORT_BITS = 8;

    /** The weight-load stream of a design with weights in SPRAM: one byte (2 hex digits) per line, in port order. */
    public static String weightsFile(HwDesign d) {
        return d.name() + "_weights.mem";
    }

    private static String spramModel() {
        try (java.io.InputStream is = VerilogLowering.class.getResourceAsStream(SPRAM_MODEL)) {
            return new String(is.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private String fifoName(Channel c) {
        return d.name() + "_fifo_w" + c.beatBits() + "_d" + c.depth() + (c.registers() > 0 ? "_r" + c.registers() : "") + (c.lateData() ? "_late" : "");
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
        List<Stage.MatVec> spram = d.spramStages();
        VExpr inReady = ref(in.name() + "_ready");
        Map<Stage, VExpr> loadValid = new LinkedHashMap<>();
        if (!spram.isEmpty()) {
            inReady = and(inReady, weightLoader(b, spram, loadValid));
        }
        b.comment("s_axis feeds the input FIFO; tlast is not needed: the beat count per inference is fixed");
        b.assign(in.name() + "_in_data", ref("s_axis_tdata"));
        b.assign(in.name() + "_push", and(ref("s_axis_tvalid"), inReady));
        b.assign("s_axis_tready", inReady);
        b.comment("m_axis drains the output FIFO; tlast marks the last beat of each inference");
        b.assign("m_axis_tdata", ref(out.name() + "_out_data"));
        b.assign("m_axis_tvalid", ref(out.name() + "_valid"));
        b.assign(out.name() + "_pop", and(ref(out.name() + "_valid"), ref("m_axis_tready")));
        RtlCounter outBeat = b.counter("out_beat", out.beats());
        b.assign("m_axis_tlast", outBeat.atLast());
        b.add(clocked(List.of(outBeat.clear()), ref(out.name() + "_pop"), List.of(outBeat.step())));
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
            if (loadValid.containsKey(s)) {
                ports.put("wl_valid", loadValid.get(s));
                ports.put("wl_data", ref("weights_data"));
            }
            b.add(new VItem.Instance(moduleName(d, s), "u_" + s.name(), Map.of(), ports));
        }
        List<VModule.Port> ports = new ArrayList<>(List.of(
                VModule.Port.in("aclk", 1), VModule.Port.in("aresetn", 1),
                VModule.Port.in("s_axis_tdata", in.beatBits()), VModule.Port.in("s_axis_tvalid", 1),
                VModule.Port.out("s_axis_tready", 1), VModule.Port.in("s_axis_tlast", 1),
                VModule.Port.out("m_axis_tdata", out.beatBits()), VModule.Port.out("m_axis_tvalid", 1),
                VModule.Port.in("m_axis_tready", 1), VModule.Port.out("m_axis_tlast", 1)));
        if (!spram.isEmpty()) {
            ports.add(VModule.Port.in("s_axis_weights_tdata", WEIGHT_PORT_BITS));
            ports.add(VModule.Port.in("s_axis_weights_tvalid", 1));
            ports.add(VModule.Port.out("s_axis_weights_tready", 1));
        }
        List<VItem> items = new ArrayList<>();
        items.add(new VItem.Comment("verilator lint_off UNUSEDSIGNAL"));
        items.add(new VItem.Decl(VItem.Kind.WIRE, false, 1, "unused_tlast", 0));
        items.add(new VItem.Assign(ref("unused_tlast"), ref("s_axis_tlast")));
        items.add(new VItem.Comment("verilator lint_on UNUSEDSIGNAL"));
        items.addAll(b.items());
        String doc = "streamfold design " + d.name() + ": " + d.stages().size() + " stages, " + d.multipliers() + " multipliers, II "
                + d.initiationInterval() + " cycles.\n"
                + "s_axis: " + in.elems() + " x " + in.format() + " per beat, " + in.beats() + " beats per inference.\n"
                + "m_axis: " + out.elems() + " x " + out.format() + " per beat, " + out.beats() + " beats per inference.\n"
                + "Elements are packed little-end first; tensors stream pixel by pixel, channels innermost."
                + (spram.isEmpty() ? "" : "\ns_axis_weights: after every reset, the " + 2 * d.weightLoad().length + " bytes of "
                + weightsFile(d) + " in order (the weights kept in SPRAM); s_axis_tready stays low until the last is taken.");
        return new VModule(d.name(), doc, List.of(), ports, items);
    }

    /**
     * The weight-load port: {@code s_axis_weights} takes one byte per cycle after reset until every
     * SPRAM stage is full ({@link HwDesign#weightLoad()} order, each word low byte first), then
     * drops its ready for good. A word is written with its high byte, from {@code weights_data}.
     * Fills {@code valid} with each stage's write strobe; returns {@code weights_loaded}, which
     * opens the input stream, so that no step is issued while SPRAM is being written.
     */
    private static VExpr weightLoader(RtlBuilder b, List<Stage.MatVec> spram, Map<Stage, VExpr> valid) {
        long total = 0;
        for (Stage.MatVec m : spram) {
            total += m.loadWords();
        }
        VExpr.Ref loaded = b.reg("weights_loaded", 1, false, 0);
        RtlCounter word = b.counter("weights_word", Math.toIntExact(total));
        b.assign("s_axis_weights_tready", not(loaded));
        VExpr take = b.wire("weights_take", 1, false, and(ref("s_axis_weights_tvalid"), not(loaded)));
        VExpr.Ref high = b.reg("weights_high", 1, false, 0);
        VExpr.Ref low = b.reg("weights_low", WEIGHT_PORT_BITS, false, 0);
        b.wire("weights_data", WeightStore.SPRAM_WIDTH, false, new VExpr.Concat(List.of(ref("s_axis_weights_tdata"), low)));
        VExpr write = b.wire("weights_write", 1, false, and(take, high));
        b.add(clockedNoReset(and(take, not(high)), List.of(set(low, ref("s_axis_weights_tdata")))));
        long start = 0;
        for (Stage.MatVec m : spram) {
            long end = start + m.loadWords();
            VExpr mine = write;
            if (start > 0) {
                mine = and(mine, bin(">=", word.ref(), uconst(word.bits(), start)));
            }
            if (end < total) {
                mine = and(mine, bin("<", word.ref(), uconst(word.bits(), end)));
            }
            valid.put(m, spram.size() == 1 ? write : b.wire("wl_valid_" + m.name(), 1, false, mine));
            start = end;
        }
        b.add(clocked(List.of(word.clear(), set(loaded, uconst(1, 0)), set(high, uconst(1, 0))), take,
                List.of(set(high, not(high)), when(high, List.of(word.step(), when(word.atLast(), List.of(set(loaded, uconst(1, 1)))))))));
        return loaded;
    }

    // --- FIFO --------------------------------------------------------------------------------------

    /**
     * A FIFO of {@code depth} beats whose input passes {@code registers} register stages first
     * ({@link Channel#registers()}): {@code in_ready} says there is room for the beat and for every
     * beat still in those registers ({@code count + registers < depth}).
     */
    /** FIFOs up to this depth live in flip-flops and present their head beat from a register. */
    static final int HEAD_REGISTER_DEPTH = 8;

    static VModule fifo(String name, int width, int depth, int registers, boolean lateData) {
        RtlBuilder b = new RtlBuilder();
        int cw = valueBits(depth);
        boolean headRegister = depth <= HEAD_REGISTER_DEPTH;
        VExpr.Ref count = b.reg("count", cw, false, 0);
        VExpr push = ref("in_push");
        VExpr data = ref("in_data");
        List<VStmt> clearValid = new ArrayList<>();
        List<VStmt> shiftValid = new ArrayList<>();
        List<VStmt> shiftData = new ArrayList<>();
        for (int k = 1; k <= registers; k++) {
            VExpr.Ref v = b.reg("pipe_valid" + k, 1, false, 0);
            clearValid.add(set(v, uconst(1, 0)));
            shiftValid.add(set(v, push));
            push = v;
            if (!lateData) {
                VExpr.Ref x = b.reg("pipe_data" + k, width, false, 0);
                shiftData.add(set(x, data));
                data = x;
            }
        }
        if (!shiftData.isEmpty()) {
            b.add(clockedNoReset(shiftData));
        }
        if (registers > 0) {
            b.add(clocked(clearValid, shiftValid));
        }
        // The flags as registers, written with their value after the edge: each of the three ways
        // the count can go is compared from the count register alone, the push and pop pick one.
        int limit = depth - registers;
        VExpr.Ref room = b.reg("room", 1, false, 0);
        VExpr.Ref avail = b.reg("avail", 1, false, 0);
        VExpr.Ref grows = b.wire("grows", 1, false, and(push, not(ref("out_pop"))));
        VExpr.Ref shrinks = b.wire("shrinks", 1, false, and(not(push), ref("out_pop")));
        VExpr roomNext = new VExpr.Cond(grows, bin("<", count, uconst(cw, limit - 1)),
                new VExpr.Cond(shrinks, limit >= (1L << cw) - 1 ? uconst(1, 1) : bin("<=", count, uconst(cw, limit)),
                        bin("<", count, uconst(cw, limit))));
        VExpr availNext = new VExpr.Cond(grows, uconst(1, 1),
                new VExpr.Cond(shrinks, bin("!=", count, uconst(cw, 1)), bin("!=", count, uconst(cw, 0))));
        b.add(clocked(List.of(set(room, uconst(1, 1)), set(avail, uconst(1, 0))), List.of(set(room, roomNext), set(avail, availNext))));
        b.assign("in_ready", room);
        b.assign("out_valid", avail);
        List<VStmt> pointerReset = new ArrayList<>(List.of(set(count, uconst(cw, 0))));
        List<VStmt> pointerUpdate = new ArrayList<>();
        if (headRegister) {
            // The head beat in a register of its own and the beats behind it in depth - 1 slots (no
            // memory for Yosys to map, and no slot holding a copy of the head). The head register
            // takes, after a pop, the oldest slot's beat (or the beat arriving, if the slots are
            // empty), else keeps its beat (or takes the beat arriving into an empty FIFO): a
            // multiplexer of registers the pop picks last, so the consumer reads a register. A beat
            // goes into the slots unless it becomes the head: the FIFO is empty, or holds one beat
            // that is popped.
            int slotsN = depth - 1;   // at least 1 (Channel: depth >= 2)
            VExpr.Ref head = b.reg("head", width, false, 0);
            VExpr behind = b.wire("behind", 1, false, bin(">=", count, uconst(cw, 2)));
            VExpr empty = bin("==", count, uconst(cw, 0));
            VExpr toSlots = b.wire("to_slots", 1, false, and(push,
                    bin("||", behind, and(bin("==", count, uconst(cw, 1)), not(ref("out_pop"))))));
            List<VExpr> slots = new ArrayList<>();
            List<VStmt> writes = new ArrayList<>();
            RtlCounter wr = slotsN > 1 ? b.counter("wr", slotsN) : null;
            RtlCounter rd = slotsN > 1 ? b.counter("rd", slotsN) : null;
            for (int k = 0; k < slotsN; k++) {
                VExpr.Ref slot = b.reg("slot" + k, width, false, 0);
                slots.add(slot);
                writes.add(wr == null ? set(slot, data) : when(wr.is(k), List.of(set(slot, data))));
            }
            b.add(clockedNoReset(toSlots, writes));
            VExpr oldest = rd == null ? slots.get(0) : b.select("oldest", width, false, rd.ref(), slots);
            if (wr != null) {
                pointerReset.add(wr.clear());
                pointerReset.add(rd.clear());
                pointerUpdate.add(when(toSlots, List.of(wr.step())));
                pointerUpdate.add(when(and(ref("out_pop"), behind), List.of(rd.step())));
            }
            VExpr afterPop = new VExpr.Cond(behind, oldest, data);
            VExpr kept = new VExpr.Cond(empty, data, head);
            b.add(clockedNoReset(List.of(set(head, new VExpr.Cond(ref("out_pop"), afterPop, kept)))));
            b.assign("out_data", head);
        } else {
            // A deep FIFO is block RAM: Yosys folds the rd register into the memory's read port, so
            // rd's next value is the read address, one multiplexer of rd and rd_inc after the pop;
            // rd_inc, the slot after the head (rd + 1 mod depth), is a counter register of its own.
            RtlCounter rd = b.counter("rd", depth);
            RtlCounter wr = b.counter("wr", depth);
            RtlCounter rdIncC = b.counter("rd_inc", depth);
            VExpr.Ref rdInc = rdIncC.ref();
            b.add(clocked(List.of(set(rdInc, uconst(rdIncC.bits(), 1))), ref("out_pop"), List.of(rdIncC.step())));
            VExpr.Ref mem = b.reg("mem", width, false, depth);
            b.assign("out_data", new VExpr.Index(mem, rd.ref()));
            b.add(clockedNoReset(push, List.of(set(new VExpr.Index(mem, wr.ref()), data))));
            pointerReset.add(wr.clear());
            pointerReset.add(rd.clear());
            pointerUpdate.add(when(push, List.of(wr.step())));
            pointerUpdate.add(when(ref("out_pop"), List.of(set(rd.ref(), rdInc))));
        }
        pointerUpdate.add(new VStmt.If(grows,
                List.of(set(count, bin("+", count, uconst(cw, 1)))),
                List.of(when(shrinks, List.of(set(count, bin("-", count, uconst(cw, 1))))))));
        b.add(clocked(pointerReset, pointerUpdate));
        String doc = "FIFO of " + depth + " beats of " + width + " bits; flags are registers (the count's next value compared ahead)"
                + (headRegister ? ", the head beat from a register, the beats behind it in " + (depth - 1) + " slot" + (depth == 2 ? "." : "s.") : ".")
                + (registers == 0 ? "" : "\nBeats enter through " + registers + " register stage" + (registers == 1 ? "" : "s")
                + "; in_ready leaves room for them (count + " + registers + " < " + depth + ")."
                + (lateData ? "\nThe producer registers the data itself: in_data is the data of the push " + registers + " cycle(s) earlier." : ""));
        return new VModule(name, doc, List.of(),
                List.of(VModule.Port.in("aclk", 1), VModule.Port.in("aresetn", 1), VModule.Port.in("in_data", width),
                        VModule.Port.in("in_push", 1), VModule.Port.out("in_ready", 1), VModule.Port.out("out_data", width),
                        VModule.Port.out("out_valid", 1), VModule.Port.in("out_pop", 1)),
                b.items());
    }

    private VModule stage(Stage s) {
        return s.accept(new Stage.Visitor<VModule>() {
            @Override
            public VModule matVec(Stage.MatVec m) {
                if (m.activation() != null) {
                    // the fused op's module, instantiated inside the unit
                    VModule a = ElementwiseRtl.elementwise(d, files, m.activation());
                    files.put(a.name() + ".v", VerilogPrinter.print(a));
                }
                return MatVecRtl.matVec(d, files, m);
            }

            @Override
            public VModule elementwise(Stage.Elementwise e) {
                return ElementwiseRtl.elementwise(d, files, e);
            }

            @Override
            public VModule widthConverter(Stage.WidthConverter w) {
                return ElementwiseRtl.widthConverter(d, files, w);
            }

            @Override
            public VModule globalAvgPool(Stage.GlobalAvgPool g) {
                return WindowRtl.globalAvgPool(d, files, g);
            }

            @Override
            public VModule fork(Stage.Fork f) {
                return GraphRtl.fork(d, files, f);
            }

            @Override
            public VModule add(Stage.Add a) {
                return GraphRtl.add(d, files, a);
            }

            @Override
            public VModule softmax(Stage.Softmax m) {
                return GraphRtl.softmax(d, files, m);
            }

            @Override
            public VModule argmax(Stage.Argmax m) {
                return GraphRtl.argmax(d, files, m);
            }

            @Override
            public VModule softmaxTree(Stage.SoftmaxTree m) {
                return HeadRtl.softmaxTree(d, files, m);
            }

            @Override
            public VModule argmaxTree(Stage.ArgmaxTree m) {
                return HeadRtl.argmaxTree(d, files, m);
            }

            @Override
            public VModule slidingWindow(Stage.SlidingWindow w) {
                return WindowRtl.slidingWindow(d, files, w);
            }

            @Override
            public VModule poolReduce(Stage.PoolReduce p) {
                return WindowRtl.poolReduce(d, files, p);
            }

            @Override
            public VModule depthwise(Stage.Depthwise dw) {
                return MatVecRtl.depthwise(d, files, dw);
            }
        });
    }
}
