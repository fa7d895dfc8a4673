/**
 * Reference interpreters: the float64 semantics of the graph IR and the bit-true integer
 * semantics of the quantized graph.
 *
 * <p>They live in the generator module (not the simulator) because calibration runs the float
 * reference to choose fixed-point formats, and quantization is a generator pass.
 */
package io.streamfold.reference;
