#!/usr/bin/env python3
"""Train three small example networks on sklearn's 8x8 digits and export them to ONNX.

Run from the repository root with Debian's python (torch 1.13, onnx 1.12, sklearn 1.2):

    /usr/bin/python3 examples/train_examples.py

For each model a folder examples/<name>/ is (re)written with:
  model.onnx   opset 13, BatchNormalization nodes kept (TrainingMode.PRESERVE, no constant folding)
  inputs.npy   300 held-out test inputs, float32, (N,64) for the MLP, (N,1,8,8) for the CNNs, pixels / 16
  labels.npy   int64 true labels (N,)
  outputs.npy  float32 outputs of the eval-mode PyTorch model for inputs.npy (N,10)
  calib.npy    200 float32 inputs from the training split (fixed-point calibration), same layout
  README.md    architecture, epochs, test accuracy, ONNX node list
"""
import os
import random

import numpy as np
import onnx
import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 13
N_TEST = 300
N_CALIB = 200
BATCH = 64


def seed_everything():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    try:
        torch.use_deterministic_algorithms(True)
    except Exception as e:  # pragma: no cover
        print("warning: deterministic algorithms unavailable:", e)
    torch.set_num_threads(1)


def load_data():
    d = load_digits()
    x = (d.data.astype(np.float32) / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=N_TEST, random_state=0, stratify=y)
    return x_tr, x_te, y_tr, y_te


# ---------------------------------------------------------------- models

def make_mlp_bn():
    model = nn.Sequential(
        nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(),
        nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(),
        nn.Linear(32, 10),
    )
    # trained on the whole model (logits)
    return model, model


def make_cnn_seed():
    model = nn.Sequential(
        nn.BatchNorm2d(1),
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
        nn.BatchNorm2d(8),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
        nn.Softmax(dim=1),
    )
    # train on logits (everything but the final Softmax); slicing shares the modules
    return model, model[:-1]


class ResidualBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.relu = nn.ReLU()
        self.bn = nn.BatchNorm2d(c)  # BN after ReLU

    def forward(self, x):
        return x + self.bn(self.relu(self.conv(x)))


def make_cnn_residual():
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        ResidualBlock(8),
        nn.ReLU6(),
        # count_include_pad=False is mathematically identical here (padding=0), but avoids torch 1.13
        # exporting an all-zero Pad (+ Constant) node in front of AveragePool
        nn.AvgPool2d(2, count_include_pad=False),
        nn.Conv2d(8, 16, 1), nn.BatchNorm2d(16), nn.LeakyReLU(0.1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )
    return model, model


MODELS = [
    # name, factory, input shape (per sample), epochs, lr, description
    ("mlp_bn", make_mlp_bn, (64,), 40, 1e-2,
     "Linear(64,64) -> BatchNorm1d(64) -> ReLU -> Linear(64,32) -> BatchNorm1d(32) -> ReLU "
     "-> Linear(32,10); outputs logits"),
    ("cnn_seed", make_cnn_seed, (1, 8, 8), 40, 1e-2,
     "input (1,8,8): BatchNorm2d(1) -> Conv2d(1,8,3,pad=1) -> ReLU -> BatchNorm2d(8) -> MaxPool2d(2) "
     "-> Flatten -> Linear(128,10) -> Softmax(dim=1); outputs probabilities"),
    ("cnn_residual", make_cnn_residual, (1, 8, 8), 40, 1e-2,
     "input (1,8,8): Conv2d(1,8,3,pad=1) -> BatchNorm2d(8) -> ReLU -> "
     "[Conv2d(8,8,3,pad=1) -> ReLU -> BatchNorm2d(8)] + skip -> ReLU6 -> AvgPool2d(2) -> "
     "Conv2d(8,16,1) -> BatchNorm2d(16) -> LeakyReLU(0.1) -> AdaptiveAvgPool2d(1) -> Flatten "
     "-> Linear(16,10); outputs logits"),
]


# ---------------------------------------------------------------- training / export

def train(train_model, x, y, epochs, lr):
    opt = torch.optim.Adam(train_model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    n = xt.shape[0]
    for ep in range(epochs):
        train_model.train()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            if idx.numel() < 2:  # BN needs more than one sample per batch
                continue
            opt.zero_grad()
            loss = loss_fn(train_model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * idx.numel()
        if (ep + 1) % 10 == 0:
            print(f"  epoch {ep + 1:3d}  loss {total / n:.4f}")


def bn_count(model):
    return sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def export(model, shape, path):
    model.eval()
    dummy = torch.zeros((1,) + shape, dtype=torch.float32)
    torch.onnx.export(
        model, dummy, path, opset_version=OPSET,
        training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
        input_names=["input"], output_names=["output"],
        dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    m = onnx.load(path)
    onnx.checker.check_model(m)
    nodes = list(m.graph.node)
    bns = [nd for nd in nodes if nd.op_type == "BatchNormalization"]
    assert len(bns) == bn_count(model), (len(bns), bn_count(model))
    for nd in bns:
        assert len(nd.output) == 1, f"BN node {nd.name} has {len(nd.output)} outputs (training mode?)"
        for a in nd.attribute:
            if a.name == "training_mode":
                assert a.i == 0, "BN exported in training mode"
    for nd in nodes:
        if nd.op_type == "Dropout":
            assert len(nd.input) < 3, "training-mode Dropout in graph"
    return m


def main():
    seed_everything()
    x_tr, x_te, y_tr, y_te = load_data()
    rng = np.random.RandomState(0)
    calib_idx = np.sort(rng.choice(x_tr.shape[0], N_CALIB, replace=False))
    summary = []
    for name, factory, shape, epochs, lr, desc in MODELS:
        print(f"== {name}")
        torch.manual_seed(0)
        model, train_model = factory()
        xtr = x_tr.reshape((-1,) + shape)
        xte = np.ascontiguousarray(x_te.reshape((-1,) + shape), dtype=np.float32)
        xcal = np.ascontiguousarray(xtr[calib_idx], dtype=np.float32)
        train(train_model, xtr, y_tr, epochs, lr)

        model.eval()
        with torch.no_grad():
            out = model(torch.from_numpy(xte)).numpy().astype(np.float32)
        acc = float((out.argmax(1) == y_te).mean())
        print(f"  test accuracy {acc:.4f}")
        assert acc >= 0.90, f"{name}: accuracy {acc} < 0.90"

        d = os.path.join(HERE, name)
        os.makedirs(d, exist_ok=True)
        m = export(model, shape, os.path.join(d, "model.onnx"))
        ops = [nd.op_type for nd in m.graph.node]

        np.save(os.path.join(d, "inputs.npy"), xte)
        np.save(os.path.join(d, "labels.npy"), np.ascontiguousarray(y_te, dtype=np.int64))
        np.save(os.path.join(d, "outputs.npy"), np.ascontiguousarray(out, dtype=np.float32))
        np.save(os.path.join(d, "calib.npy"), xcal)

        with open(os.path.join(d, "README.md"), "w") as f:
            f.write(f"# {name}\n\n")
            f.write(f"- Architecture: {desc}.\n")
            f.write(f"- Training: Adam lr={lr}, {epochs} epochs, minibatch {BATCH}, "
                    f"{len(y_tr)} training digits (sklearn 8x8 digits, pixels/16), seed 0.\n")
            f.write(f"- Test accuracy (PyTorch, eval mode, {len(y_te)} held-out digits): {acc * 100:.2f}%.\n")
            f.write(f"- ONNX (opset {OPSET}) nodes: {' -> '.join(ops)}.\n")
            f.write("- Files: model.onnx, inputs.npy (test), labels.npy, outputs.npy (torch float32 "
                    "outputs), calib.npy (200 training inputs); generated by ../train_examples.py.\n")
        summary.append((name, ops, acc, float(np.abs(out).max())))

    print()
    for name, ops, acc, mx in summary:
        print(f"{name}: acc={acc:.4f} max|out|={mx:.4f}")
        print("   ", " ".join(ops))


if __name__ == "__main__":
    main()
