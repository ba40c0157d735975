#!/usr/bin/env python3
"""PyTorch CPU reference of bench/infer (dev-only, never a dependency): the same ladder DenseNet
(packages/backbones/scripts/compare_torch.py, the authors' module names), the dataset-posterior
head, the bilinear upsampling to the input size, the hybrid score and the closed-set map — the
work of the exported ONNX graph — timed on N threads with the weights bench/infer wrote.

    PATH=$(getconf PATH) python3 bench/infer/torch_infer.py --weights w.safetensors \
        --arch '{"growthRate":32,...}' --input x.f32 --height 512 --width 1024 --threads 1 \
        --repeats 3 --scores-out s.f32

Prints one JSON line: {"ms": [...], "threads": n, "torch": version}; writes the hybrid score map
(float32, H×W) to --scores-out for the cross-check.
"""
import argparse
import json
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "packages", "backbones", "scripts"))
from compare_torch import LDN  # noqa: E402

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        t = torch.frombuffer(bytearray(raw[base + a : base + b]), dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"])
    return out


class Detector(nn.Module):
    """LDN + dataset-posterior head (BN → ReLU → Conv1×1), scores at the input size."""

    def __init__(self, arch, k):
        super().__init__()
        self.ldn = LDN(k, arch["growthRate"], arch["blockConfig"], arch["numInitFeatures"],
                       arch["bnSize"], arch["sppSize"], arch["sppGrids"], arch["upSizes"])
        c = arch["upSizes"][-1]
        self.head = nn.Module()
        self.head.bn = nn.BatchNorm2d(c)
        self.head.conv = nn.Conv2d(c, 1, 1, bias=True)

    def forward(self, x):
        pre, logits = self.ldn(x)
        g = self.head.conv(F.relu(self.head.bn(pre)))
        size = x.shape[2:]
        s = F.interpolate(logits, size, mode="bilinear", align_corners=False)
        g = F.interpolate(g, size, mode="bilinear", align_corners=False)
        hybrid = -F.softplus(-g[:, 0]) - torch.logsumexp(s, 1)
        return hybrid, s.argmax(1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True)
    p.add_argument("--arch", required=True)
    p.add_argument("--classes", type=int, required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--height", type=int, required=True)
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--scores-out")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    model = Detector(json.loads(a.arch), a.classes)
    state = {("ldn." + k if not k.startswith("head.") else k): v for k, v in read_safetensors(a.weights).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    # only the authors' unused auxiliary logits and BN step counters have no weights here
    missing = [m for m in missing if "logits_aux" not in m and not m.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit(f"weights do not match: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.eval()
    with open(a.input, "rb") as f:
        x = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(1, 3, a.height, a.width)
    times = []
    with torch.inference_mode():
        model(x)  # warm-up
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            hybrid, closed = model(x)
            times.append(1000 * (time.perf_counter() - t0))
    if a.scores_out:
        with open(a.scores_out, "wb") as f:
            f.write(hybrid[0].contiguous().numpy().astype("float32").tobytes())
    print(json.dumps({"ms": times, "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
