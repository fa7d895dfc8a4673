package io.streamfold.sim;

/**
 * A FIFO with the RTL's timing: flags from the count at the start of the cycle, pushes and pops
 * taking effect at the clock edge ({@link #commit}).
 */
final class Fifo {

    final int elems;
    final int depth;
    private final long[] data;
    private int head;
    private int count;
    private boolean pushed;
    private boolean popped;

    Fifo(int elems, int depth) {
        this.elems = elems;
        this.depth = depth;
        this.data = new long[elems * depth];
    }

    boolean full() {
        return count == depth;
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

    /** Writes the beat into the tail slot; counted at the edge. */
    void push(long[] beat) {
        if (count == depth || pushed) {
            throw new IllegalStateException("push into a full FIFO");
        }
        System.arraycopy(beat, 0, data, ((head + count) % depth) * elems, elems);
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
        if (pushed) {
            count++;
            pushed = false;
        }
        return moved;
    }
}
