package io.streamfold.ir;

import java.util.List;

/**
 * One operator application: {@code output = op(inputs...)}. The name is the node's name in the
 * source model, so that errors and reports can point at it.
 */
public record Node(String name, Op op, List<String> inputs, String output) {

    public Node {
        inputs = List.copyOf(inputs);
        if (name == null || name.isEmpty() || output == null || output.isEmpty()) {
            throw new IllegalArgumentException("a node needs a name and an output");
        }
        if (inputs.size() != op.arity()) {
            throw new IllegalArgumentException(op.kind() + " node " + name + " needs " + op.arity() + " inputs, has " + inputs.size());
        }
    }

    public Node(String name, Op op, String input, String output) {
        this(name, op, List.of(input), output);
    }

    public String input() {
        return inputs.get(0);
    }

    public Node withOp(Op newOp) {
        return new Node(name, newOp, inputs, output);
    }

    public Node withInputs(List<String> newInputs) {
        return new Node(name, op, newInputs, output);
    }

    @Override
    public String toString() {
        return name + ": " + output + " = " + op.kind() + "(" + String.join(", ", inputs) + ")";
    }
}
