#!/usr/bin/env python3
"""Train the 28x28 seed network of issue 9 and export it to ONNX (a bench model, not an example).

sklearn's 8x8 digits are upscaled bilinearly to 28x28 (align_corners=False), so the network has the
issue's shape without a download. Run from the repository root with Debian's python (python3-torch,
python3-onnx, python3-sklearn):

    /usr/bin/python3 bench/seed28/train.py

Writes into bench/seed28/:
  model.onnx   opset 13, BatchNormalization nodes kept (TrainingMode.PRESERVE, no constant folding)
  inputs.npy   50 held-out test inputs, float32 (N,1,28,28), pixels / 16
  labels.npy   int64 true labels (N,)
  outputs.npy  float32 outputs of the eval-mode PyTorch model for inputs.npy (N,10), probabilities
  calib.npy    100 float32 inputs from the training split (fixed-point calibration)
  README.md    architecture, training, test accuracy on the whole held-out split, ONNX node list

The network: input (1,28,28) -> BatchNorm2d(1) -> Conv2d(1,32,3) -> ReLU -> BatchNorm2d(32) ->
MaxPool2d(2) -> Flatten -> Linear(5408,10) -> Softmax. The Dense holds 54,080 weights, more than
the UP5K's 120 kbit of block RAM at 8 bits: the case its SPRAM is for.
"""
import os
import random

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 13
N_HELD_OUT = 300
N_KEPT = 50
N_CALIB = 64
BATCH = 64
EPOCHS = 15
LR = 3e-3


def seed_everything():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)


def upscale(x8):
    """(N,64) pixels / 16 -> (N,1,28,28), bilinear."""
    t = torch.from_numpy(x8.reshape(-1, 1, 8, 8))
    return F.interpolate(t, size=(28, 28), mode="bilinear", align_corners=False).numpy().astype(np.float32)


def make_model():
    model = nn.Sequential(
        nn.BatchNorm2d(1),
        nn.Conv2d(1, 32, 3), nn.ReLU(),
        nn.BatchNorm2d(32),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 13 * 13, 10),
        nn.Softmax(dim=1),
    )
    return model, model[:-1]


def train(train_model, x, y):
    opt = torch.optim.Adam(train_model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    n = xt.shape[0]
    for ep in range(EPOCHS):
        train_model.train()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            if idx.numel() < 2:
                continue
            opt.zero_grad()
            loss = loss_fn(train_model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * idx.numel()
        print(f"  epoch {ep + 1:3d}  loss {total / n:.4f}")


def export(model, path):
    model.eval()
    torch.onnx.export(
        model, torch.zeros((1, 1, 28, 28)), path, opset_version=OPSET,
        training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
        input_names=["input"], output_names=["output"],
        dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    m = onnx.load(path)
    onnx.checker.check_model(m)
    for nd in m.graph.node:
        if nd.op_type == "BatchNormalization":
            assert len(nd.output) == 1, f"BN node {nd.name} exported in training mode"
    return m


def main():
    seed_everything()
    d = load_digits()
    x = (d.data.astype(np.float32) / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=N_HELD_OUT, random_state=0, stratify=y)
    x_tr, x_te = upscale(x_tr), upscale(x_te)
    calib_idx = np.sort(np.random.RandomState(0).choice(x_tr.shape[0], N_CALIB, replace=False))

    model, train_model = make_model()
    train(train_model, x_tr, y_tr)
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(x_te)).numpy().astype(np.float32)
    acc = float((out.argmax(1) == y_te).mean())
    print(f"  test accuracy {acc:.4f} ({N_HELD_OUT} held-out digits)")
    assert acc >= 0.90, f"accuracy {acc} < 0.90"

    m = export(model, os.path.join(HERE, "model.onnx"))
    ops = [nd.op_type for nd in m.graph.node]
    np.save(os.path.join(HERE, "inputs.npy"), np.ascontiguousarray(x_te[:N_KEPT]))
    np.save(os.path.join(HERE, "labels.npy"), np.ascontiguousarray(y_te[:N_KEPT]))
    np.save(os.path.join(HERE, "outputs.npy"), np.ascontiguousarray(out[:N_KEPT]))
    np.save(os.path.join(HERE, "calib.npy"), np.ascontiguousarray(x_tr[calib_idx]))
    kept = float((out[:N_KEPT].argmax(1) == y_te[:N_KEPT]).mean())
    with open(os.path.join(HERE, "README.md"), "w") as f:
        f.write("# seed28: the 28x28 seed network of issue 9\n\n")
        f.write("- Architecture: input (1,28,28): BatchNorm2d(1) -> Conv2d(1,32,3) -> ReLU -> BatchNorm2d(32) -> "
                "MaxPool2d(2) -> Flatten -> Linear(5408,10) -> Softmax(dim=1); outputs probabilities.\n")
        f.write(f"- Data: sklearn's 8x8 digits (pixels/16) upscaled bilinearly to 28x28; {len(y_tr)} training digits, "
                f"{N_HELD_OUT} held out (stratified, seed 0).\n")
        f.write(f"- Training: Adam lr={LR}, {EPOCHS} epochs, minibatch {BATCH}, seed 0.\n")
        f.write(f"- Test accuracy (PyTorch, eval mode): {acc * 100:.2f}% on the {N_HELD_OUT} held-out digits, "
                f"{kept * 100:.2f}% on the {N_KEPT} kept in inputs.npy.\n")
        f.write(f"- ONNX (opset {OPSET}) nodes: {' -> '.join(ops)}.\n")
        f.write(f"- Files: model.onnx, inputs.npy ({N_KEPT} held-out inputs), labels.npy, outputs.npy (torch float32 "
                f"outputs), calib.npy ({N_CALIB} training inputs); generated by train.py. Not an example: "
                "the test suite does not run it; bench/seed28/run converts it for the UP5K, runs its testbench and places and routes it.\n")
    print(" ".join(ops))


if __name__ == "__main__":
    main()
