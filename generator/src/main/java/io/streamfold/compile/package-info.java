/**
 * The compiler driver: loading a model with the right frontend and running the passes in order.
 */
package io.streamfold.compile;
