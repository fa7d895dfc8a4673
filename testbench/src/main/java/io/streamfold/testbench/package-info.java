/**
 * Testbench emission and co-simulation: a self-checking Verilog testbench whose vectors come from
 * the cycle-accurate simulator, and runners for Icarus Verilog and Verilator.
 */
package io.streamfold.testbench;
