/**
 * Fixed-point arithmetic and quantization: the one place where streamfold's numbers are defined.
 *
 * <ul>
 * <li>{@link io.streamfold.quant.QFormat} and {@link io.streamfold.quant.Fixed}: formats, rounding
 * (half up), saturation, the rounding shift and requantization of docs/architecture.md, section 5;
 * {@link io.streamfold.quant.IntRange} for worst-case register widths.
 * <li>{@link io.streamfold.quant.Lut}: function tables (sigmoid, tanh, exp) that become ROMs.
 * <li>{@link io.streamfold.quant.Quantize} with {@link io.streamfold.quant.QuantConfig}: the pass
 * that calibrates a float graph ({@link io.streamfold.quant.Calibration}) and produces a
 * {@link io.streamfold.quant.QuantizedGraph}, whose {@link io.streamfold.quant.QOp} records hold
 * every integer constant and width a hardware stage needs.
 * <li>{@link io.streamfold.quant.QuantErrorReport}: integer versus float, per layer.
 * </ul>
 *
 * <p>The integer semantics are executed by {@link io.streamfold.reference.IntegerInterpreter};
 * the simulator and the Verilog emitter compute with the same records and primitives and never
 * choose a width, a constant or a rounding of their own.
 */
package io.streamfold.quant;
