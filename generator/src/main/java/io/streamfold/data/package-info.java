/** Numeric data files: {@code .npy} arrays (inputs, labels, calibration sets, side weights). */
package io.streamfold.data;
