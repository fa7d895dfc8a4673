/**
 * A proved bound on the quantization error: per value of a quantized graph, the largest
 * {@code |fixed - float|} over a box of inputs ({@link io.streamfold.bound.ErrorBound}).
 */
package io.streamfold.bound;
