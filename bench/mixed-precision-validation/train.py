#!/usr/bin/env python3
"""Validation models for the mixed-precision acceptance rule (not examples, not tests).

The three example architectures of examples/train_examples.py, retrained on other stratified
splits of sklearn's 8x8 digits (split, calibration draw and weight seeds 1-5), so that each model
has 300 held-out test digits of its own and 200 training digits to calibrate on: the situation of
the examples' calib.npy against their inputs.npy, without using the examples' test inputs.

    /usr/bin/python3 bench/mixed-precision-validation/train.py OUT_DIR [SEED ...]

writes OUT_DIR/<model>_s<seed>/ with model.onnx, calib.npy, inputs.npy and labels.npy (the
layouts of the examples). Debian's python3-torch, python3-onnx and python3-sklearn.
"""
import os
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples"))
import train_examples as te  # noqa: E402


def main():
    out = sys.argv[1]
    seeds = [int(s) for s in sys.argv[2:]] or [1, 2, 3, 4, 5]
    te.seed_everything()
    d = load_digits()
    x = (d.data.astype(np.float32) / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    for seed in seeds:
        x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=te.N_TEST, random_state=seed, stratify=y)
        calib_idx = np.sort(np.random.RandomState(seed).choice(x_tr.shape[0], te.N_CALIB, replace=False))
        for name, factory, shape, epochs, lr, _ in te.MODELS:
            torch.manual_seed(seed)
            model, train_model = factory()
            xtr = x_tr.reshape((-1,) + shape)
            xte = np.ascontiguousarray(x_te.reshape((-1,) + shape), dtype=np.float32)
            te.train(train_model, xtr, y_tr, epochs, lr)
            model.eval()
            with torch.no_grad():
                acc = float((model(torch.from_numpy(xte)).numpy().argmax(1) == y_te).mean())
            folder = os.path.join(out, f"{name}_s{seed}")
            os.makedirs(folder, exist_ok=True)
            te.export(model, shape, os.path.join(folder, "model.onnx"))
            np.save(os.path.join(folder, "inputs.npy"), xte)
            np.save(os.path.join(folder, "labels.npy"), np.ascontiguousarray(y_te, dtype=np.int64))
            np.save(os.path.join(folder, "calib.npy"), np.ascontiguousarray(xtr[calib_idx], dtype=np.float32))
            print(f"{name}_s{seed}: test accuracy {acc * 100:.2f}%", flush=True)


if __name__ == "__main__":
    main()
