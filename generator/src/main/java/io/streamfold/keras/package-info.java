/**
 * The Keras frontend: Keras 2 full-model .h5 files, architecture .json files with their weights
 * .h5, and Keras 3 .keras archives, read through the streamfold JSON format's channels-last layer
 * semantics (see {@link io.streamfold.keras.KerasModelReader}).
 */
package io.streamfold.keras;
