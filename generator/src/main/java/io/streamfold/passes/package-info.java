/**
 * Graph passes. Each pass is one class with one entry point ({@link io.streamfold.passes.GraphPass#run});
 * it returns a new graph and records what it did in a {@link io.streamfold.passes.PassContext}.
 */
package io.streamfold.passes;
