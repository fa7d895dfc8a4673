package io.streamfold.hw;

import io.streamfold.quant.QFormat;

import java.util.List;

/**
 * A complete streaming datapath: channels, stages in topological order, the top-level input and
 * output channels, and the stream order of the input and output tensors.
 *
 * @param name        top module name (a Verilog identifier)
 * @param channels    every FIFO, indexed by {@link Channel#id()}
 * @param stages      in topological order
 * @param input       channel fed by {@code s_axis}
 * @param output      channel drained by {@code m_axis}
 * @param inputOrder  {@code inputOrder[k]} = flat channels-first index of the k-th streamed input element
 * @param outputOrder likewise for the output
 */
public record HwDesign(String name, List<Channel> channels, List<Stage> stages, int input, int output, int[] inputOrder,
                       int[] outputOrder) {

    public HwDesign {
        channels = List.copyOf(channels);
        stages = List.copyOf(stages);
        inputOrder = inputOrder.clone();
        outputOrder = outputOrder.clone();
        for (int i = 0; i < channels.size(); i++) {
            if (channels.get(i).id() != i) {
                throw new IllegalArgumentException("channel " + i + " has id " + channels.get(i).id());
            }
        }
    }

    @Override
    public int[] inputOrder() {
        return inputOrder.clone();
    }

    @Override
    public int[] outputOrder() {
        return outputOrder.clone();
    }

    public Channel channel(int id) {
        return channels.get(id);
    }

    public Channel inputChannel() {
        return channels.get(input);
    }

    public Channel outputChannel() {
        return channels.get(output);
    }

    public QFormat inputFormat() {
        return inputChannel().format();
    }

    public QFormat outputFormat() {
        return outputChannel().format();
    }

    /** The initiation interval the slowest stage allows (the design's II without backpressure). */
    public int initiationInterval() {
        int ii = Math.max(inputChannel().beats(), outputChannel().beats());
        for (Stage s : stages) {
            ii = Math.max(ii, s.cycles());
        }
        return ii;
    }

    public int multipliers() {
        return stages.stream().mapToInt(Stage::multipliers).sum();
    }

    /** Bits of every constant table (weights, biases, lookup tables). */
    public long romBits() {
        return stages.stream().mapToLong(Stage::romBits).sum();
    }

    /** The matrix-vector stages whose weights are in SPRAM, in stage order: the order the weight-load port fills them. */
    public List<Stage.MatVec> spramStages() {
        return stages.stream().filter(s -> s instanceof Stage.MatVec m && m.store() == WeightStore.SPRAM).map(s -> (Stage.MatVec) s).toList();
    }

    /** SPRAM blocks the design instantiates. */
    public int spramBlocks() {
        return spramStages().stream().mapToInt(Stage.MatVec::spramBlocks).sum();
    }

    /** Bits of the constants kept in the design (ROMs, block RAM or logic): {@link #romBits()} less the weights in SPRAM. */
    public long blockRomBits() {
        return romBits() - spramStages().stream().mapToLong(Stage.MatVec::weightBits).sum();
    }

    /**
     * The weight-load stream, 16-bit words in the order the port takes them: the SPRAM stages in
     * stage order, each row by row, each row's words low bits first ({@link Stage.MatVec#loadWord}).
     * Empty when no weights are in SPRAM.
     */
    public int[] weightLoad() {
        long n = spramStages().stream().mapToLong(Stage.MatVec::loadWords).sum();
        int[] words = new int[Math.toIntExact(n)];
        int k = 0;
        for (Stage.MatVec m : spramStages()) {
            int cols = WeightStore.spramColumns(m.rowBits());
            for (int row = 0; row < m.rows(); row++) {
                for (int c = 0; c < cols; c++) {
                    words[k++] = m.loadWord(row, c);
                }
            }
        }
        return words;
    }

    /** Bits of the stages' buffers and of every FIFO. */
    public long bufferBits() {
        return stages.stream().mapToLong(Stage::bufferBits).sum() + channels.stream().mapToLong(c -> (long) c.depth() * c.beatBits()).sum();
    }

    public long macs() {
        return stages.stream().mapToLong(Stage::macs).sum();
    }

    /**
     * Multiplier utilization {@code sum(MACs) / (II * multipliers)} at the scheduled II
     * (the utilization figure of bench/); 0 for a design without multipliers.
     */
    public double utilization() {
        int m = multipliers();
        return m == 0 ? 0 : macs() / ((double) initiationInterval() * m);
    }

    /** Reorders a flat channels-first tensor into stream order. */
    public long[] toStreamOrder(long[] tensor) {
        long[] s = new long[inputOrder.length];
        for (int k = 0; k < s.length; k++) {
            s[k] = tensor[inputOrder[k]];
        }
        return s;
    }

    /** Reorders a streamed output back to flat channels-first order. */
    public long[] fromStreamOrder(long[] stream) {
        long[] t = new long[outputOrder.length];
        for (int k = 0; k < stream.length; k++) {
            t[outputOrder[k]] = stream[k];
        }
        return t;
    }
}
