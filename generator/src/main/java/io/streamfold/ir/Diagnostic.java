package io.streamfold.ir;

/**
 * Stable identifiers of the input errors streamfold reports. Tests assert on these, not on the
 * wording of messages.
 */
public enum Diagnostic {
    /** The file cannot be read or is not a valid model (truncated, not protobuf, bad JSON). */
    SF_CORRUPT_MODEL,
    /** An operator streamfold does not implement, or an unsupported variant of one. */
    SF_UNSUPPORTED_OP,
    /** An attribute has a value streamfold does not accept. */
    SF_BAD_ATTRIBUTE,
    /** A weight or initializer is missing, has the wrong size, or holds NaN/Inf. */
    SF_BAD_WEIGHTS,
    /** BatchNormalization parameters are invalid (NaN/Inf, negative variance, wrong length). */
    SF_BAD_BATCHNORM,
    /** Tensor shapes do not fit together. */
    SF_SHAPE_MISMATCH,
    /** The graph is not a well-formed DAG (undefined value, duplicate name, cycle). */
    SF_BAD_GRAPH,
    /** A data file (inputs, labels, calibration) is unreadable or has the wrong shape. */
    SF_BAD_DATA,
    /** A quantization setting cannot be honoured (too wide, invalid format). */
    SF_BAD_QUANT,
    /** A parallelism setting cannot be honoured (does not divide the layer, over budget). */
    SF_BAD_PLAN,
    /** The graph is valid but has a construct the hardware back end does not implement yet. */
    SF_UNSUPPORTED_HW,
    /**
     * A file or folder cannot be read or written for a reason outside the model: permissions, a
     * full disk, a name too long, a missing folder.
     */
    SF_IO
}
