#!/usr/bin/env python3
"""Dev-only cross-check of `densehybrid import --arch ldn121` (not run in CI, not a dependency).

A PyTorch module written for this project from the *structure and state_dict key names* of the
authors' LDN-121 with the DenseHybrid head (`LadderDenseNetTH` in matejgrcic/DenseHybrid,
models/ladder_densenet.py); no code of theirs is copied. Same parameter names, shapes and eval
forward:

- `backbone.features`: conv0 7×7/2 (no bias), norm0, ReLU, max-pool **2×2**/2, then four dense
  blocks (`denseblockN.denselayerM.{norm1,conv1,norm2,conv2}`: BN-ReLU-1×1 to 4·32, BN-ReLU-3×3 to
  32; DenseNet-121: 6-12-24-16 layers) with `transitionN.{norm,conv}` (BN-ReLU-1×1 halving the
  channels, then 3×3/2 average pooling with padding 1 and count_include_pad=False). The outputs
  of blocks 1-3 (before their transitions) are the skips; there is no `norm5`.
- `spp.spp.spp`: `spp_bn` (BN-ReLU-1×1 → 512), four levels `spp0..3` (adaptive average pooling
  to (g, max(1, round(W/H·g))) for g in 8, 4, 2, 1, BN-ReLU-1×1 → 128, bilinear upsampling with
  align_corners=False), concatenated with the bottleneck, `spp_fuse` (BN-ReLU-1×1 → 512).
- `upsample.upsample_layers.upsample_{0,1,2}` on the skips of strides 16, 8, 4: `bottleneck`
  (BN-ReLU-1×1 skip → input width), bilinear resize of the input to the skip's size
  (align_corners=False), sum, `blend_conv` (BN-ReLU-3×3 → 256, 256, 128). Each module also holds
  `logits_aux` (BN-ReLU-1×1 → 1 channel with bias), unused by the forward.
- `logits` (BN-ReLU-1×1 → K, bias) and `logits_ood` (BN-ReLU-1×1 → 2, bias) on the 128-channel
  upsampling output, each upsampled bilinearly (align_corners=False) to the input size.
- BatchNorm momentum 0.01, ε 1e-5; input raw RGB in [0, 1], no normalisation.
- The hybrid score as the authors' evaluation computes it:
  ln softmax(ood)[1] − logsumexp(logits) at the input size.

Usage (repository root; packages built; system PyTorch):

    PATH=$(getconf PATH) nice -n 10 python3 packages/backbones/scripts/authors_ldn.py make /tmp/ldn
    nice -n 10 node packages/backbones/scripts/authors_ldn.mjs /tmp/ldn

`make` writes, per K in 12, 19: `ldn121_k<K>.pt` (`torch.save(model.state_dict())`, random
weights, BN statistics measured on random images then perturbed) and, per input size (256×512,
243×487), `io_k<K>_<H>x<W>.safetensors` (the uint8 image; logits, OOD logit w₁·t−w₀·t as the
2-way head's difference, and hybrid score at the input size, NHWC, computed in float64, plus the
float32 forward for scale); also `real_misc.pt` (fp32, fp16, bf16, int64, a transposed and a
sliced view) with `real_misc.json` (their values), the same wrapped in a dict in the legacy
format of PyTorch < 1.6 (`real_misc_legacy.pt`), and `evil_*.pt` (pickles whose objects call
os.system / builtins.eval when unpickled by Python). `check-fixture <file.pt> <file.json>` loads
a file written by the test fixture generator (test-support/torch-zip.ts) with torch.load and
compares it with the expected values.
"""
import json
import os
import sys
import time
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_to_safetensors import save  # noqa: E402

MOMENTUM = 0.01


class BnReluConv(nn.Sequential):
    """BN → ReLU → conv (padding k // 2): the unit everything of the ladder is made of."""

    def __init__(self, cin, cout, k, bias=False):
        super().__init__(OrderedDict([
            ("norm", nn.BatchNorm2d(cin, momentum=MOMENTUM)),
            ("relu", nn.ReLU()),
            ("conv", nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias)),
        ]))


class DenseUnit(nn.Module):
    def __init__(self, cin, growth, width):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin, momentum=MOMENTUM)
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(width, momentum=MOMENTUM)
        self.conv2 = nn.Conv2d(width, growth, 3, padding=1, bias=False)

    def forward(self, x):
        y = self.conv1(F.relu(self.norm1(x)))
        return self.conv2(F.relu(self.norm2(y)))


class DenseStage(nn.Module):
    def __init__(self, layers, cin, growth, bn_size):
        super().__init__()
        for j in range(layers):
            self.add_module(f"denselayer{j + 1}", DenseUnit(cin + j * growth, growth, bn_size * growth))

    def forward(self, x):
        feats = [x]
        for unit in self.children():
            feats.append(unit(torch.cat(feats, 1)))
        return torch.cat(feats, 1)


class Transition(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm = nn.BatchNorm2d(cin, momentum=MOMENTUM)
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        y = self.conv(F.relu(self.norm(x)))
        return F.avg_pool2d(y, 3, stride=2, padding=1, count_include_pad=False)


class Encoder(nn.Module):
    """`backbone`: a `features` container named as torchvision's DenseNet, minus norm5."""

    def __init__(self, blocks=(6, 12, 24, 16), growth=32, stem=64, bn_size=4):
        super().__init__()
        self.features = nn.Module()
        self.features.conv0 = nn.Conv2d(3, stem, 7, stride=2, padding=3, bias=False)
        self.features.norm0 = nn.BatchNorm2d(stem, momentum=MOMENTUM)
        c = stem
        self.skip_channels = []
        for i, n in enumerate(blocks):
            setattr(self.features, f"denseblock{i + 1}", DenseStage(n, c, growth, bn_size))
            c += n * growth
            if i < len(blocks) - 1:
                self.skip_channels.append(c)
                setattr(self.features, f"transition{i + 1}", Transition(c, c // 2))
                c //= 2
        self.channels = c
        self.blocks = len(blocks)

    def forward(self, x):
        f = self.features
        x = F.max_pool2d(F.relu(f.norm0(f.conv0(x))), 2, stride=2)
        skips = []
        for i in range(self.blocks):
            x = getattr(f, f"denseblock{i + 1}")(x)
            if i < self.blocks - 1:
                skips.append(x)
                x = getattr(f, f"transition{i + 1}")(x)
        return x, skips


class Pyramid(nn.Module):
    def __init__(self, cin, size=512, grids=(8, 4, 2, 1)):
        super().__init__()
        self.grids = grids
        level = size // len(grids)
        self.spp = nn.Sequential()  # the model's spp.spp.spp.*: the authors' three containers
        seq = self.spp
        seq.add_module("spp_bn", BnReluConv(cin, size, 1))
        for i in range(len(grids)):
            seq.add_module(f"spp{i}", BnReluConv(size, level, 1))
        seq.add_module("spp_fuse", BnReluConv(size + len(grids) * level, size, 1))

    def forward(self, x):
        seq = self.spp
        h, w = x.shape[2:4]
        x = seq.spp_bn(x)
        levels = [x]
        for i, g in enumerate(self.grids):
            pooled = F.adaptive_avg_pool2d(x, (g, max(1, round(w / h * g))))
            y = getattr(seq, f"spp{i}")(pooled)
            levels.append(F.interpolate(y, (h, w), mode="bilinear", align_corners=False))
        return seq.spp_fuse(torch.cat(levels, 1))


class UpModule(nn.Module):
    def __init__(self, cin, cskip, cout):
        super().__init__()
        self.bottleneck = BnReluConv(cskip, cin, 1)
        self.blend_conv = BnReluConv(cin, cout, 3)
        self.logits_aux = BnReluConv(cin, 1, 1, bias=True)  # deep supervision, unused here

    def forward(self, x, skip):
        skip = self.bottleneck(skip)
        x = F.interpolate(x, skip.shape[2:4], mode="bilinear", align_corners=False)
        return self.blend_conv(x + skip)


class Decoder(nn.Module):
    def __init__(self, cin, skips, sizes=(256, 256, 128)):
        super().__init__()
        self.upsample_layers = nn.Sequential()
        for i, cout in enumerate(sizes):
            self.upsample_layers.add_module(f"upsample_{i}", UpModule(cin, skips[-1 - i], cout))
            cin = cout
        self.channels = cin

    def forward(self, x, skips):
        for module, skip in zip(self.upsample_layers, reversed(skips)):
            x = module(x, skip)
        return x


class Ldn121Hybrid(nn.Module):
    """LDN-121 with the DenseHybrid OOD head, the authors' `LadderDenseNetTH` key names."""

    def __init__(self, classes):
        super().__init__()
        self.backbone = Encoder()
        self.spp = nn.Module()
        self.spp.spp = Pyramid(self.backbone.channels)
        self.upsample = Decoder(512, self.backbone.skip_channels)
        self.logits = BnReluConv(self.upsample.channels, classes, 1, bias=True)
        self.logits_ood = BnReluConv(self.upsample.channels, 2, 1, bias=True)

    def forward(self, x):
        size = x.shape[2:4]
        y, skips = self.backbone(x)
        t = self.upsample(self.spp.spp(y), skips)
        up = lambda z: F.interpolate(z, size, mode="bilinear", align_corners=False)
        return up(self.logits(t)), up(self.logits_ood(t))


def randomise(model, seed):
    """Random weights; BN statistics measured on random images (so activations stay in range),
    then perturbed, and random BN affine parameters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.3)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
                m.momentum = None  # cumulative average over the calibration batches
                m.reset_running_stats()
        model.train()
        for _ in range(2):
            model(torch.rand(2, 3, 128, 256, generator=g))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.add_(0.1 * m.running_var.sqrt() * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.mul_(torch.exp(0.2 * torch.randn(m.running_var.shape, generator=g)))
                m.momentum = MOMENTUM
    model.eval()


def hybrid(logits, ood):
    """The authors' evaluation: ln softmax(ood)[:, 1] − logsumexp(logits)."""
    return torch.log_softmax(ood, 1)[:, 1] - torch.logsumexp(logits, 1)


def nhwc(t):
    return t.permute(0, 2, 3, 1).contiguous()


def make(out):
    os.makedirs(out, exist_ok=True)
    info = {"torch": torch.__version__, "runs": []}
    for k, seed in ((12, 1), (19, 2)):
        model = Ldn121Hybrid(k)
        randomise(model, seed)
        path = os.path.join(out, f"ldn121_k{k}.pt")
        torch.save(model.state_dict(), path)
        params = sum(p.numel() for p in model.parameters())
        keys = len(model.state_dict())
        m64 = Ldn121Hybrid(k).double()
        m64.load_state_dict(torch.load(path), strict=True)
        m64.eval()
        for h, w in ((256, 512), (243, 487)):
            g = torch.Generator().manual_seed(100 * k + h)
            image = torch.randint(0, 256, (1, h, w, 3), generator=g, dtype=torch.uint8)
            x = image.permute(0, 3, 1, 2)
            t0 = time.time()
            with torch.no_grad():
                l32, o32 = model(x.float() / 255)
                t32 = time.time() - t0
                l64, o64 = m64(x.double() / 255)
            io = {
                "image": image,
                "logits": nhwc(l64).float(),
                "ood_logit": nhwc(o64[:, 1:2] - o64[:, 0:1]).float(),
                "hybrid": hybrid(l64, o64).float(),
                "logits_f32": nhwc(l32),
                "ood_logit_f32": nhwc(o32[:, 1:2] - o32[:, 0:1]),
                "hybrid_f32": hybrid(l32, o32),
            }
            save(io, os.path.join(out, f"io_k{k}_{h}x{w}.safetensors"))
            info["runs"].append({"k": k, "h": h, "w": w, "torch_f32_seconds": round(t32, 2)})
            print(f"K={k} {h}x{w}: PyTorch float32 forward {t32:.2f} s", flush=True)
        info[f"k{k}"] = {"file": path, "parameters": params, "state_dict_keys": keys}
    # real torch.save output of the reader's cases
    torch.manual_seed(0)
    a = torch.randn(5, 6)
    misc = OrderedDict([
        ("module.fp32", a),
        ("module.transposed", a.t()),
        ("module.sliced", a[1:4, ::2]),
        ("module.fp16", torch.randn(3, 4).half()),
        ("module.bf16", torch.randn(7).bfloat16()),
        ("module.int64", torch.tensor([3, -4, 2 ** 40])),
        ("module.conv", torch.randn(4, 3, 3, 3).permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)),
    ])
    torch.save(misc, os.path.join(out, "real_misc.pt"))
    torch.save({"state_dict": misc, "epoch": 7}, os.path.join(out, "real_misc_legacy.pt"),
               _use_new_zipfile_serialization=False)
    with open(os.path.join(out, "real_misc.json"), "w") as f:
        json.dump({k: {"shape": list(v.shape), "stride": list(v.stride()), "values": v.double().flatten().tolist()}
                   for k, v in misc.items()}, f)

    class Evil:
        def __init__(self, fn, arg):
            self.fn, self.arg = fn, arg

        def __reduce__(self):
            return (self.fn, (self.arg,))

    flag = os.path.join(out, "PWNED")
    torch.save({"w": torch.ones(2), "x": Evil(os.system, f"touch {flag}")}, os.path.join(out, "evil_system.pt"))
    torch.save({"w": torch.ones(2), "x": Evil(eval, f"open('{flag}', 'w')")}, os.path.join(out, "evil_eval.pt"))
    with open(os.path.join(out, "info.json"), "w") as f:
        json.dump(info, f, indent=2)
    print(json.dumps(info, indent=2))


def check_fixture(pt, expected_json):
    """torch.load of a file of the TypeScript fixture generator: values, dtypes, shapes, strides."""
    want = json.load(open(expected_json))
    sd = torch.load(pt)
    sd = sd.get("state_dict", sd) if isinstance(sd, dict) else sd
    bad = 0
    for k, e in want.items():
        t = sd[k]
        ok = (list(t.shape) == e["shape"] and str(t.dtype) == e["dtype"]
              and torch.equal(t.double().flatten(), torch.tensor(e["values"], dtype=torch.float64)))
        if "stride" in e:
            ok = ok and list(t.stride()) == e["stride"]
        print(f"  torch.load {k}: {t.dtype} {list(t.shape)} stride {list(t.stride())} {'OK' if ok else 'MISMATCH'}")
        bad += not ok
    extra = set(sd.keys()) - set(want.keys())
    if extra:
        print(f"  unexpected keys {sorted(extra)}")
        bad += 1
    print("fixture generator vs torch.load:", "OK" if bad == 0 else f"{bad} MISMATCHES")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
        make(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "check-fixture":
        check_fixture(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
