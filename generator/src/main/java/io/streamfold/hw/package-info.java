/**
 * The hardware IR: streaming stages connected by FIFO channels, with every width, ROM and
 * schedule decided. The Verilog emitter and the cycle-accurate simulator both read it and decide
 * nothing about the hardware themselves.
 *
 * <h2>Timing model (shared by the RTL and the simulator)</h2>
 * Every channel is a FIFO whose {@code full}/{@code empty} flags are computed from a registered
 * count. In each cycle every stage looks only at its own registers and at the flags of the FIFOs
 * it touches, as they were at the start of the cycle, and decides whether it fires; all pushes,
 * pops and register updates happen at the clock edge. So no ready/valid path crosses a stage
 * combinationally, and a stage's behaviour is a function of state only.
 *
 * <h2>Stream order</h2>
 * A tensor streams channel-innermost: (C, H, W) as pixels in row-major order with the C channels
 * of each pixel in consecutive elements; a vector in index order. A beat packs {@code elems}
 * consecutive elements, element 0 in the least significant bits.
 */
package io.streamfold.hw;
