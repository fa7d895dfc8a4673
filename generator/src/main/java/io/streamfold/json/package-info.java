/**
 * The streamfold JSON model format: a small, documented way to describe a network without ONNX
 * (see {@code docs/json-format.md}). {@link io.streamfold.json.JsonModelReader} reads it into the
 * channels-first graph IR, converting Keras (channels-last) layouts on the way.
 */
package io.streamfold.json;
