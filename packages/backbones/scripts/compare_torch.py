#!/usr/bin/env python3
"""Dev-only cross-check against PyTorch (not run in CI): builds the ladder DenseNet and DeepLabV3+
in PyTorch with the authors' / torchvision's module names, randomises weights and BN statistics,
runs a forward pass in eval mode and writes, per architecture, `<name>.safetensors` (state dict)
and `<name>.io.safetensors` (input NHWC, outputs NHWC). `compare_torch.mjs` loads the weights with
`loadWeights` and compares. Usage (from the repository root, after building the package):

    PATH=$(getconf PATH) python3 packages/backbones/scripts/compare_torch.py /tmp/cmp
    node packages/backbones/scripts/compare_torch.mjs /tmp/cmp
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_to_safetensors import save  # noqa: E402


class BNReluConv(nn.Sequential):
    def __init__(self, cin, cout, k, bias=False):
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(cin))
        self.add_module("relu", nn.ReLU())
        self.add_module("conv", nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias))


class DenseLayer(nn.Sequential):
    def __init__(self, cin, growth, bn_size):
        super().__init__()
        self.add_module("norm1", nn.BatchNorm2d(cin))
        self.add_module("relu1", nn.ReLU())
        self.add_module("conv1", nn.Conv2d(cin, bn_size * growth, 1, bias=False))
        self.add_module("norm2", nn.BatchNorm2d(bn_size * growth))
        self.add_module("relu2", nn.ReLU())
        self.add_module("conv2", nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False))


class LDN(nn.Module):
    def __init__(self, K, growth, blocks, init, bn_size, spp, grids, ups):
        super().__init__()
        feats = [("conv0", nn.Conv2d(3, init, 7, 2, 3, bias=False)), ("norm0", nn.BatchNorm2d(init)),
                 ("relu0", nn.ReLU()), ("pool0", nn.MaxPool2d(2, 2))]
        c, skips = init, []
        for i, n in enumerate(blocks):
            block = nn.Sequential()
            for j in range(n):
                block.add_module(f"denselayer{j + 1}", DenseLayer(c + j * growth, growth, bn_size))
            feats.append((f"denseblock{i + 1}", block))
            c += n * growth
            if i < len(blocks) - 1:
                skips.append(c)
                t = nn.Sequential()
                t.add_module("norm", nn.BatchNorm2d(c))
                t.add_module("relu", nn.ReLU())
                t.add_module("conv", nn.Conv2d(c, c // 2, 1, bias=False))
                t.add_module("pool", nn.AvgPool2d(3, 2, 1, count_include_pad=False))
                feats.append((f"transition{i + 1}", t))
                c //= 2
        self.backbone = nn.Module()
        self.backbone.features = nn.Sequential()
        for name, m in feats:
            self.backbone.features.add_module(name, m)
        self.grids = grids
        self.spp = nn.Module()
        self.spp.spp = nn.Module()
        s = nn.Sequential()
        level = spp // len(grids)
        s.add_module("spp_bn", BNReluConv(c, spp, 1))
        for i in range(len(grids)):
            s.add_module(f"spp{i}", BNReluConv(spp, level, 1))
        s.add_module("spp_fuse", BNReluConv(spp + level * len(grids), spp, 1))
        self.spp.spp.spp = s
        self.upsample = nn.Module()
        self.upsample.upsample_layers = nn.Sequential()
        c = spp
        for i, out in enumerate(ups):
            u = nn.Module()
            u.bottleneck = BNReluConv(skips[-1 - i], c, 1)
            u.blend_conv = BNReluConv(c, out, 3)
            u.logits_aux = BNReluConv(c, K, 1, bias=True)  # unused, as in the authors' code
            self.upsample.upsample_layers.add_module(f"upsample_{i}", u)
            c = out
        self.logits = BNReluConv(c, K, 1, bias=True)

    def forward(self, x):
        f = self.backbone.features
        x = f.pool0(f.relu0(f.norm0(f.conv0(x))))
        skips = []
        names = [n for n, _ in f.named_children() if n.startswith(("denseblock", "transition"))]
        for n in names:
            m = getattr(f, n)
            if n.startswith("denseblock"):
                feats = [x]
                for layer in m.children():
                    feats.append(layer(torch.cat(feats, 1)))
                x = torch.cat(feats, 1)
            else:
                skips.append(x)
                x = m(x)
        s = self.spp.spp.spp
        h, w = x.shape[2:]
        ar = w / h
        x = s.spp_bn(x)
        levels = [x]
        for i, g in enumerate(self.grids):
            p = F.adaptive_avg_pool2d(x, (g, max(1, round(ar * g))))
            levels.append(F.interpolate(getattr(s, f"spp{i}")(p), (h, w), mode="bilinear", align_corners=False))
        x = s.spp_fuse(torch.cat(levels, 1))
        for i, u in enumerate(self.upsample.upsample_layers.children()):
            skip = u.bottleneck(skips[-1 - i])
            x = F.interpolate(x, skip.shape[2:], mode="bilinear", align_corners=False)
            x = u.blend_conv(x + skip)
        return x, self.logits(x)


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride, d_first, d):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, d_first, dilation=d_first, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, d, dilation=d, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class DeepLabR18(nn.Module):
    """torchvision-style ResNet-18 at output stride 16 + the authors' DeepLabV3+ head."""

    def __init__(self, K, width=16, aspp=32, low=12, dec=24):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        plan = [(1, 1, 1), (2, 1, 1), (2, 1, 1), (1, 1, 2)]  # stride, first dilation, dilation
        c = width
        for li, (s, d0, d) in enumerate(plan):
            planes = width * 2 ** li
            layer = nn.Sequential(BasicBlock(c, planes, s, d0, d), BasicBlock(planes, planes, 1, d, d))
            setattr(self, f"layer{li + 1}", layer)
            c = planes
        self.aspp = nn.Module()
        self.aspp.img_conv = nn.Sequential(nn.Conv2d(c, aspp, 1, bias=False), nn.BatchNorm2d(aspp), nn.ReLU())
        self.aspp.features = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(c, aspp, 1, bias=False), nn.BatchNorm2d(aspp), nn.ReLU())]
            + [nn.Sequential(nn.Conv2d(c, aspp, 3, padding=r, dilation=r, bias=False), nn.BatchNorm2d(aspp), nn.ReLU())
               for r in (6, 12, 18)])
        self.bot_aspp = nn.Conv2d(5 * aspp, aspp, 1, bias=False)
        self.bot_fine = nn.Conv2d(width, low, 1, bias=False)
        self.final = nn.Sequential(
            nn.Conv2d(low + aspp, dec, 3, padding=1, bias=False), nn.BatchNorm2d(dec), nn.ReLU(),
            nn.Conv2d(dec, dec, 3, padding=1, bias=False), nn.BatchNorm2d(dec), nn.ReLU(),
            nn.Conv2d(dec, K, 1, bias=False))
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, x):
        x = (x - self.mean) / self.std
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        low = x = self.layer1(x)
        x = self.layer4(self.layer3(self.layer2(x)))
        pooled = self.aspp.img_conv(F.adaptive_avg_pool2d(x, 1))
        out = [F.interpolate(pooled, x.shape[2:], mode="bilinear", align_corners=True)]
        out += [f(x) for f in self.aspp.features]
        up = self.bot_aspp(torch.cat(out, 1))
        pre = torch.cat([self.bot_fine(low), F.interpolate(up, low.shape[2:], mode="bilinear", align_corners=True)], 1)
        return pre, self.final(pre)


def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var") or (name.endswith("weight") and t.dim() == 1):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif t.dim() == 4:
                t.copy_(torch.randn(t.shape, generator=g) * (1.0 / (t[0].numel())) ** 0.5)
            else:
                t.copy_(0.2 * torch.randn(t.shape, generator=g))


def run(name, model, out_dir, h, w):
    randomise(model, 1)
    model.eval()
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        pre, logits = model(x)
    save(model.state_dict(), os.path.join(out_dir, f"{name}.safetensors"))
    nhwc = lambda t: t.permute(0, 2, 3, 1).contiguous()
    save({"input": nhwc(x), "preLogits": nhwc(pre), "logits": nhwc(logits)}, os.path.join(out_dir, f"{name}.io.safetensors"))
    print(name, tuple(pre.shape), tuple(logits.shape))


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/densehybrid-compare"
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    # ladder DenseNet, 'tiny' preset sizes (see LADDER_DENSENET_PRESET_ARCHITECTURES), K = 5
    run("ldn-tiny", LDN(5, 12, [2, 2, 2, 2], 16, 4, 64, [8, 4, 2, 1], [64, 32, 128]), out, 97, 131)
    # DeepLabV3+ ResNet-18 at OS16, narrow (baseWidth 16, aspp 32, low 12, decoder 24), K = 4
    run("dlv3-r18", DeepLabR18(4), out, 97, 131)
    # DenseNet-121 LDN: names and shapes only (a forward at 64×64)
    run("ldn-121", LDN(19, 32, [6, 12, 24, 16], 64, 4, 512, [8, 4, 2, 1], [256, 256, 128]), out, 64, 64)
