/**
 * A small object model of Verilog-2001 and its printer.
 *
 * <p>Lowering builds these records; only {@link io.streamfold.verilog.VerilogPrinter} turns them
 * into text and owns indentation, so emitted files are uniform and deterministic.
 */
package io.streamfold.verilog;
