/**
 * The ONNX frontend: reads an {@code .onnx} model (opsets 1 to 21, each operator at its version) into the graph IR.
 *
 * <p>Protobuf decoding comes from the {@code onnx-protobuf} artifact; this package maps ONNX
 * operators, attributes and initializers to {@link io.streamfold.ir.Op} records, strips the batch
 * dimension and reports every problem as a {@link io.streamfold.ir.ModelException} naming the node.
 */
package io.streamfold.onnx;
