#!/usr/bin/env python3
"""Write examples/json_mlp/model.npz: the weights of examples/mlp_bn/model.onnx, keyed for model.json.

Run from the repository root (needs only numpy; the ONNX file is decoded with a tiny protobuf reader
so that no onnx package is required):

    python3 examples/json_mlp/make_weights.py

model.json describes the same network as mlp_bn (Linear -> BatchNorm1d -> ReLU, twice, then
Linear) in PyTorch naming; its weights live in model.npz under the keys "<layer>/<param>".
"""
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ONNX = os.path.join(HERE, "..", "mlp_bn", "model.onnx")

# ONNX initializer name -> (JSON layer, JSON parameter)
NAMES = {
    "0.weight": ("fc1", "weight"), "0.bias": ("fc1", "bias"),
    "1.weight": ("bn1", "weight"), "1.bias": ("bn1", "bias"),
    "1.running_mean": ("bn1", "running_mean"), "1.running_var": ("bn1", "running_var"),
    "3.weight": ("fc2", "weight"), "3.bias": ("fc2", "bias"),
    "4.weight": ("bn2", "weight"), "4.bias": ("bn2", "bias"),
    "4.running_mean": ("bn2", "running_mean"), "4.running_var": ("bn2", "running_var"),
    "6.weight": ("fc3", "weight"), "6.bias": ("fc3", "bias"),
}


def varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def fields(b):
    """(field number, wire type, value) of one protobuf message."""
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        f, w = key >> 3, key & 7
        if w == 0:
            v, i = varint(b, i)
        elif w == 1:
            v, i = b[i:i + 8], i + 8
        elif w == 5:
            v, i = b[i:i + 4], i + 4
        elif w == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise ValueError("unsupported wire type %d" % w)
        yield f, w, v


def tensor(msg):
    """TensorProto (float32) -> (name, array)."""
    dims, name, raw, floats = [], None, None, []
    for f, w, v in fields(msg):
        if f == 1:
            if w == 2:  # packed
                j = 0
                while j < len(v):
                    d, j = varint(v, j)
                    dims.append(d)
            else:
                dims.append(v)
        elif f == 2 and v != 1:
            raise ValueError("only float32 initializers are expected")
        elif f == 4:
            floats.extend(struct.unpack("<%df" % (len(v) // 4), v))
        elif f == 8:
            name = v.decode()
        elif f == 9:
            raw = v
    data = np.frombuffer(raw, dtype="<f4") if raw is not None else np.array(floats, dtype=np.float32)
    return name, data.reshape(dims)


def main():
    model = open(ONNX, "rb").read()
    graph = next(v for f, _, v in fields(model) if f == 7)
    arrays = {}
    for f, _, v in fields(graph):
        if f == 5:
            name, a = tensor(v)
            layer, param = NAMES[name]
            arrays[layer + "/" + param] = a
        elif f == 1:
            node = {}
            for nf, _, nv in fields(v):
                node.setdefault(nf, []).append(nv)
            op = node[4][0].decode()
            for attr in node.get(5, []):
                a = {af: av for af, _, av in fields(attr)}
                aname = a[1].decode()
                if op == "BatchNormalization" and aname == "epsilon":
                    eps = struct.unpack("<f", a[2])[0]
                    assert abs(eps - 1e-5) < 1e-12, eps  # model.json relies on PyTorch's default eps
                if op == "Gemm" and aname == "transB":
                    assert a[3] == 1  # weight is (out, in): PyTorch layout
    assert len(arrays) == len(NAMES)
    out = os.path.join(HERE, "model.npz")
    np.savez(out, **arrays)
    print("wrote", out, "with", len(arrays), "arrays,", sum(a.size for a in arrays.values()), "parameters")


if __name__ == "__main__":
    main()
