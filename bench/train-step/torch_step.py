"""PyTorch CPU twin of net.mjs: same network, loss, optimiser and batch size.

Usage: python3 torch_step.py SIZE[,SIZE...] [--threads 1] [--steps N]
Prints one JSON line per size: {"size": S, "ms": [per-step milliseconds]}.

python3 torch_step.py --serve [--threads 1]: reads one size per line from stdin, runs one
training step at that size (a network and batch per size, created on first use) and prints its
milliseconds; the benchmark interleaves these with its own steps, so both see the same load.
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

K = 8


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.conv3 = nn.Conv2d(64, 64, 3, 1, 2, dilation=2, bias=False)
        self.bn3 = nn.BatchNorm2d(64)
        self.conv4 = nn.Conv2d(96, 32, 3, 1, 1, bias=False)
        self.bn4 = nn.BatchNorm2d(32)
        self.conv5 = nn.Conv2d(32, K + 1, 1)

    def forward(self, x):
        s = x.shape[-1]
        f1 = F.relu(self.bn1(self.conv1(x)))
        f2 = F.relu(self.bn2(self.conv2(f1)))
        f3 = F.relu(self.bn3(self.conv3(f2)))
        up = F.interpolate(f3, size=(s // 2, s // 2), mode="bilinear", align_corners=False)
        f4 = F.relu(self.bn4(self.conv4(torch.cat([up, f1], 1))))
        return F.interpolate(self.conv5(f4), size=(s, s), mode="bilinear", align_corners=False)


class Trainer:
    def __init__(self, s):
        self.net = Net()
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        self.x = torch.rand(4, 3, s, s)
        self.y = torch.randint(0, K, (4, s, s))
        self.o = (torch.rand(4, 1, s, s) > 0.9).float()

    def step(self):
        t0 = time.perf_counter()
        self.opt.zero_grad()
        out = self.net(self.x)
        loss = F.cross_entropy(out[:, :K], self.y) + F.binary_cross_entropy_with_logits(
            out[:, K:], self.o
        )
        loss.backward()
        self.opt.step()
        return (time.perf_counter() - t0) * 1000


def serve(threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    trainers = {}
    print(json.dumps({"ready": True, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        s = int(line.strip())
        if s not in trainers:
            trainers[s] = Trainer(s)
        print(json.dumps({"size": s, "ms": trainers[s].step()}), flush=True)


def main():
    if "--serve" in sys.argv:
        threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
        serve(threads)
        return
    sizes = [int(v) for v in sys.argv[1].split(",")]
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 1
    steps = int(sys.argv[sys.argv.index("--steps") + 1]) if "--steps" in sys.argv else 5
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    for s in sizes:
        net = Net()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        x = torch.rand(4, 3, s, s)
        y = torch.randint(0, K, (4, s, s))
        o = (torch.rand(4, 1, s, s) > 0.9).float()
        times = []
        for i in range(steps + 2):
            t0 = time.perf_counter()
            opt.zero_grad()
            out = net(x)
            loss = F.cross_entropy(out[:, :K], y) + F.binary_cross_entropy_with_logits(out[:, K:], o)
            loss.backward()
            opt.step()
            if i >= 2:
                times.append((time.perf_counter() - t0) * 1000)
        print(json.dumps({"size": s, "ms": times, "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main()
