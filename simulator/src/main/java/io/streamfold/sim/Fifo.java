package io.streamfold.sim;

/**
 * A FIFO with the RTL's timing: flags from the count at the start of the cycle, pushes and pops
 * taking effect at the clock edge ({@link #commit}). A pushed beat first passes {@code registers}
 * register stages ({@link io.streamfold.hw.Channel#registers()}): pushed in cycle t, it is written
 * at the edge ending cycle t + registers, and {@link #full()} keeps room for the beats in flight.
 */
final class Fifo {

    final int elems;
    final int depth;
    private final int registers;
    private final long[] data;
    private int head;
    private int count;
    private boolean pushed;
    private boolean popped;
    /** The beat pushed this cycle (valid if {@link #pushed}). */
    private final long[] incoming;
    /** Register stage k holds the beat pushed k+1 cycles ago, if {@code pipeValid[k]}. */
    private final long[][] pipe;
    private final boolean[] pipeValid;

    Fifo(int elems, int depth, int registers) {
        this.elems = elems;
        this.depth = depth;
        this.registers = registers;
        this.data = new long[elems * depth];
        this.incoming = new long[elems];
        this.pipe = new long[registers][elems];
        this.pipeValid = new boolean[registers];
    }

    /** No room for a push this cycle: {@code count + registers >= depth}. */
    boolean full() {
        return count + registers >= depth;
    }

    boolean empty() {
        return count == 0;
    }

    int count() {
        return count;
    }

    /** Lane {@code i} of the beat at the head. */
    long head(int i) {
        return data[head * elems + i];
    }

    /** Takes the beat into the first register stage (or the tail slot); counted when it lands. */
    void push(long[] beat) {
        if (full() || pushed) {
            throw new IllegalStateException("push into a full FIFO");
        }
        System.arraycopy(beat, 0, incoming, 0, elems);
        pushed = true;
    }

    void pop() {
        if (count == 0 || popped) {
            throw new IllegalStateException("pop from an empty FIFO");
        }
        popped = true;
    }

    /** The clock edge. Returns true if anything moved. */
    boolean commit() {
        boolean moved = pushed || popped;
        if (popped) {
            head = head + 1 == depth ? 0 : head + 1;
            count--;
            popped = false;
        }
        if (registers == 0) {
            if (pushed) {
                land(incoming);
            }
        } else {
            int last = registers - 1;
            if (pipeValid[last]) {
                land(pipe[last]);
                moved = true;
            }
            for (int k = last; k > 0; k--) {
                pipeValid[k] = pipeValid[k - 1];
                long[] t = pipe[k];
                pipe[k] = pipe[k - 1];
                pipe[k - 1] = t;
                moved |= pipeValid[k];
            }
            pipeValid[0] = pushed;
            if (pushed) {
                System.arraycopy(incoming, 0, pipe[0], 0, elems);
            }
        }
        pushed = false;
        return moved;
    }

    private void land(long[] beat) {
        System.arraycopy(beat, 0, data, ((head + count) % depth) * elems, elems);
        count++;
    }
}
