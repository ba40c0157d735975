#!/usr/bin/env python3
"""PyTorch CUDA reference of bench/gpu (dev-only, never a dependency): the detector of
bench/infer/torch_infer.py (the same ladder DenseNet, head, upsampling, hybrid score, closed-set
map) on the GPU — inference at HxW and one DenseHybrid training step (authors' loss: CE on inlier
pixels + beta·mean logsumexp over outlier pixels + 10·beta·BCE of the posterior, Adam) at a crop —
with the weights bench/gpu wrote. Prints one JSON line {"inferMs": [...], "trainMs": [...]}.
Exits 3 with a message when CUDA is not available.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "infer"))
from torch_infer import Detector, read_safetensors  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True)
    p.add_argument("--arch", required=True)
    p.add_argument("--classes", type=int, required=True)
    p.add_argument("--height", type=int, required=True)
    p.add_argument("--width", type=int, required=True)
    p.add_argument("--crop", type=int, default=512)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default="cuda")
    a = p.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        print("torch.cuda.is_available() is False", file=sys.stderr)
        sys.exit(3)
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    k = a.classes
    model = Detector(json.loads(a.arch), k)
    state = {("ldn." + n if not n.startswith("head.") else n): v for n, v in read_safetensors(a.weights).items()}
    model.load_state_dict(state, strict=False)
    model = model.to(dev)
    torch.backends.cudnn.benchmark = True
    x = torch.rand(1, 3, a.height, a.width, device=dev, generator=None)
    infer = []
    model.eval()
    with torch.inference_mode():
        for i in range(a.repeats + 1):
            sync()
            t0 = time.perf_counter()
            hybrid, closed = model(x)
            hybrid.cpu(), closed.cpu()
            sync()
            if i:
                infer.append(1000 * (time.perf_counter() - t0))
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-5, eps=1e-7)
    images = torch.rand(a.batch, 3, a.crop, a.crop, device=dev)
    labels = torch.randint(0, k + 1, (a.batch, a.crop, a.crop), device=dev)  # k = outlier
    beta = 0.03
    train = []
    for i in range(a.repeats + 1):
        sync()
        t0 = time.perf_counter()
        pre, logits = model.ldn(images)
        g = model.head.conv(F.relu(model.head.bn(pre)))
        s = F.interpolate(logits, (a.crop, a.crop), mode="bilinear", align_corners=False)
        g = F.interpolate(g, (a.crop, a.crop), mode="bilinear", align_corners=False)[:, 0]
        inlier = labels < k
        outlier = labels == k
        ce = F.cross_entropy(s, labels.clamp(max=k - 1), reduction="none")
        cls = (ce * inlier).sum() / inlier.sum().clamp(min=1)
        lik = (torch.logsumexp(s, 1) * outlier).sum() / outlier.sum().clamp(min=1)
        post = F.binary_cross_entropy_with_logits(g, outlier.float())
        loss = cls + beta * lik + 10 * beta * post
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()
        sync()
        if i:
            train.append(1000 * (time.perf_counter() - t0))
    name = torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu"
    print(json.dumps({"inferMs": infer, "trainMs": train, "device": name, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
