/**
 * The cycle-accurate simulator of a {@link io.streamfold.hw.HwDesign}: the same FIFOs, the same
 * firing rules and the same arithmetic (through {@link io.streamfold.quant.QOp} and
 * {@link io.streamfold.quant.Fixed}) as the emitted RTL, so every output beat and its cycle
 * number equal the RTL's. State is kept in primitive arrays, one model object per stage.
 */
package io.streamfold.sim;
