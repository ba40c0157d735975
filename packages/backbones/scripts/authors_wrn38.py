#!/usr/bin/env python3
"""Dev-only cross-check of the `deeplabv3plus-wrn38` preset (not run in CI, not a dependency).

A PyTorch module written for this project from the *structure and state_dict key names* of the
authors' Fishyscapes model (`DeepWV3PlusTH` in matejgrcic/DenseHybrid, built on NVIDIA
semantic-segmentation's DeepWV3Plus / WiderResNetA2 "38" trunk with dilation); no code of theirs
is copied. Same parameter names, shapes and eval forward:

- trunk: `mod1` (3×3 conv 3→64), `pool2` (max 3/2/1), `mod2` (3 pre-activation blocks, 128 ch,
  stride 2 — the `bot_fine` skip), `pool3`, `mod3` (3 blocks, 256), `mod4` (6 blocks, 512; the first
  3×3 conv has stride 2 → stride 8), `mod5` (3 blocks, 1024, dilation 2), `mod6` (1 bottleneck
  512-1024-2048, dilation 4), `mod7` (1 bottleneck 1024-2048-4096, dilation 4). Block:
  `bn1` (BN+ReLU, `bn1.0.*`), `convs.conv1`, `convs.bn2.0`, `convs.conv2` [, `convs.bn3.0`,
  `convs.conv3`], `proj_conv` on the pre-activated input when the shape changes, else identity.
  No `bn_out` (DeepWV3Plus drops it: ASPP reads mod7's raw residual sum). Dropout2d p 0.3/0.5 in
  mod6/mod7 (eval: none).
- ASPP on 4096 ch at output stride 8 (rates 12/24/36): image pooling first, then 1×1 and three
  dilated 3×3 branches (`aspp.img_conv.*`, `aspp.features.i.{0,1}`), `bot_aspp` 1280→256,
  align_corners=True upsampling to mod2's size, concat with `bot_fine` (128→48): `dec0`, 304 ch,
  stride 2. `final` (3×3-BN-ReLU ×2, 1×1 → K, no biases) at stride 2; `logits_ood`
  (BN → ReLU → 1×1 conv, 2 channels with bias) on `dec0`. Both upsampled to the input size with
  align_corners=True. ImageNet mean/std inside the model.

Usage (repository root; the package built):

    # key list fixture for the tests (names + PyTorch shapes, K = 19)
    PATH=$(getconf PATH) python3 packages/backbones/scripts/authors_wrn38.py keys \
        packages/backbones/test/fixtures/wrn38-keys.json
    # random weights with perturbed BN statistics, eval forward at H×W (float64 reference)
    PATH=$(getconf PATH) nice -n 10 python3 packages/backbones/scripts/authors_wrn38.py \
        forward /tmp/wrn38 --height 256 --width 512 --classes 19
    node packages/backbones/scripts/compare_wrn38.mjs /tmp/wrn38
    # an 8-bit input (input.png, the model on png / 255) for the `densehybrid infer --raw` check
    PATH=$(getconf PATH) nice -n 10 python3 packages/backbones/scripts/authors_wrn38.py \
        forward /tmp/wrn38u8 --uint8 1
    nice -n 10 node packages/backbones/scripts/authors_infer_check.mjs wrn38 /tmp/wrn38u8

`forward` writes `model.pt` (torch.save(state_dict), zip format — what the authors ship),
`model.safetensors` (the same tensors, for `loadWeights`), `head.safetensors` (`logits_ood`
converted to the library's 1-logit head: w₁ − w₀, b₁ − b₀, under core's `posterior_head.*`
names) and `io.safetensors` (input and outputs NHWC: dec0, logits at stride 2, logits / OOD logit
/ hybrid score at the input size), plus `info.json` (sizes, timings, parameter count).
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

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
# (channels of the block, number of blocks, stride of the first block, dilation) for mod2..mod7
STAGES = [
    ((128, 128), 3, 1, 1),
    ((256, 256), 3, 1, 1),
    ((512, 512), 6, 2, 1),
    ((512, 1024), 3, 1, 2),
    ((512, 1024, 2048), 1, 1, 4),
    ((1024, 2048, 4096), 1, 1, 4),
]
DROPOUT = {6: 0.3, 7: 0.5}


def bn_relu(c):
    return nn.Sequential(nn.BatchNorm2d(c), nn.ReLU())


class PreActBlock(nn.Module):
    def __init__(self, cin, widths, stride, dilation, dropout):
        super().__init__()
        self.bn1 = bn_relu(cin)
        d = dilation
        if len(widths) == 2:
            parts = [("conv1", nn.Conv2d(cin, widths[0], 3, stride, d, d, bias=False)),
                     ("bn2", bn_relu(widths[0]))]
            if dropout:
                parts.append(("dropout", nn.Dropout2d(dropout)))
            parts.append(("conv2", nn.Conv2d(widths[0], widths[1], 3, 1, d, d, bias=False)))
        else:
            parts = [("conv1", nn.Conv2d(cin, widths[0], 1, stride, 0, bias=False)),
                     ("bn2", bn_relu(widths[0])),
                     ("conv2", nn.Conv2d(widths[0], widths[1], 3, 1, d, d, bias=False)),
                     ("bn3", bn_relu(widths[1]))]
            if dropout:
                parts.append(("dropout", nn.Dropout2d(dropout)))
            parts.append(("conv3", nn.Conv2d(widths[1], widths[2], 1, bias=False)))
        self.convs = nn.Sequential(OrderedDict(parts))
        if stride != 1 or cin != widths[-1]:
            self.proj_conv = nn.Conv2d(cin, widths[-1], 1, stride, 0, bias=False)

    def forward(self, x):
        a = self.bn1(x)
        shortcut = self.proj_conv(a) if hasattr(self, "proj_conv") else x
        return self.convs(a) + shortcut


def conv_bn_relu(cin, cout, k, dilation=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=(k // 2) * dilation, dilation=dilation,
                                   bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class ASPP(nn.Module):
    def __init__(self, cin=4096, width=256, rates=(12, 24, 36)):
        super().__init__()
        self.features = nn.ModuleList([conv_bn_relu(cin, width, 1)] +
                                      [conv_bn_relu(cin, width, 3, r) for r in rates])
        self.img_conv = conv_bn_relu(cin, width, 1)

    def forward(self, x):
        pooled = self.img_conv(F.adaptive_avg_pool2d(x, 1))
        out = [F.interpolate(pooled, size=x.shape[2:], mode="bilinear", align_corners=True)]
        return torch.cat(out + [f(x) for f in self.features], 1)


class OODHead(nn.Sequential):
    def __init__(self, cin):
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(cin, momentum=0.01))
        self.add_module("relu", nn.ReLU())
        self.add_module("conv", nn.Conv2d(cin, 2, 1, bias=True))


class WRN38DeepLab(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.mod1 = nn.Sequential(OrderedDict([("conv1", nn.Conv2d(3, 64, 3, 1, 1, bias=False))]))
        cin = 64
        for i, (widths, n, stride, d) in enumerate(STAGES):
            m = i + 2
            blocks = []
            for b in range(n):
                blocks.append((f"block{b + 1}", PreActBlock(cin, widths, stride if b == 0 else 1, d,
                                                             DROPOUT.get(m))))
                cin = widths[-1]
            if m <= 3:
                self.add_module(f"pool{m}", nn.MaxPool2d(3, 2, 1))
            self.add_module(f"mod{m}", nn.Sequential(OrderedDict(blocks)))
        self.aspp = ASPP(4096, 256)
        self.bot_fine = nn.Conv2d(128, 48, 1, bias=False)
        self.bot_aspp = nn.Conv2d(1280, 256, 1, bias=False)
        self.final = nn.Sequential(
            nn.Conv2d(304, 256, 3, padding=1, bias=False), nn.BatchNorm2d(256), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1, bias=False), nn.BatchNorm2d(256), nn.ReLU(),
            nn.Conv2d(256, num_classes, 1, bias=False))
        self.logits_ood = OODHead(304)
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)

    def features(self, inp):
        """Everything the comparison needs: dec0 (pre-logits), stride-2 logits, 2-way OOD logits."""
        x = (inp - self.mean) / self.std
        x = self.mod1(x)
        m2 = self.mod2(self.pool2(x))
        x = self.mod3(self.pool3(m2))
        x = self.mod7(self.mod6(self.mod5(self.mod4(x))))
        up = self.bot_aspp(self.aspp(x))
        up = F.interpolate(up, size=m2.shape[2:], mode="bilinear", align_corners=True)
        dec0 = torch.cat([self.bot_fine(m2), up], 1)
        return dec0, self.final(dec0), self.logits_ood(dec0)

    def forward(self, inp, target_size=None):
        size = inp.shape[2:4] if target_size is None else target_size
        _, dec1, ood = self.features(inp)
        up = lambda t: F.interpolate(t, size=size, mode="bilinear", align_corners=True)  # noqa: E731
        return up(dec1), up(ood)


def key_list(num_classes=19):
    sd = WRN38DeepLab(num_classes).state_dict()
    return [{"name": k, "shape": list(v.shape)} for k, v in sd.items()]


def randomise(model, x, seed):
    """Weights as PyTorch initialises them (seeded), BN statistics set from a batch and perturbed,
    BN affine parameters perturbed: an eval forward whose activations stay O(1) through 17 blocks."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
            with torch.no_grad():
                m.weight.copy_(torch.randn(m.weight.shape, generator=g, dtype=m.weight.dtype)
                               * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g, dtype=m.bias.dtype) * 0.5)
    # calibrate running statistics on the input itself (train mode, momentum 1), then perturb
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.momentum = 1.0
    model.train()
    for m in model.modules():
        if isinstance(m, nn.Dropout2d):
            m.eval()
    with torch.no_grad():
        # two images: the image-pooling branch's BN sees one value per image and channel
        model.features(torch.cat([x, torch.rand(x.shape, generator=g, dtype=x.dtype)]))
    for m, mom in zip(bns, saved):
        m.momentum = mom
        c = m.num_features
        with torch.no_grad():
            r = lambda lo, hi: lo + (hi - lo) * torch.rand(c, generator=g, dtype=m.weight.dtype)  # noqa: E731
            m.running_mean.add_(0.1 * torch.randn(c, generator=g, dtype=m.weight.dtype)
                                * m.running_var.sqrt())
            m.running_var.mul_(r(0.7, 1.4))
            m.weight.copy_(r(0.5, 1.5))
            m.bias.copy_(0.2 * torch.randn(c, generator=g, dtype=m.weight.dtype))
    model.eval()


def nhwc(t):
    return t.permute(0, 2, 3, 1).contiguous()


def forward_cmd(out_dir, h, w, k, seed, threads, uint8=False):
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = WRN38DeepLab(k).double()
    if uint8:
        # an 8-bit image (what `densehybrid infer` reads): written as input.png, the model sees
        # exactly png / 255
        image = torch.randint(0, 256, (1, h, w, 3), generator=torch.Generator().manual_seed(seed + 1),
                              dtype=torch.uint8)
        from PIL import Image  # system python's Pillow; only for --uint8
        Image.fromarray(image[0].numpy(), "RGB").save(os.path.join(out_dir, "input.png"))
        x = image.permute(0, 3, 1, 2).double() / 255
    else:
        x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed + 1),
                       dtype=torch.float64)
    t0 = time.time()
    randomise(model, x, seed)
    t_init = time.time() - t0
    params = sum(p.numel() for p in model.parameters())
    params_no_ood = params - sum(p.numel() for p in model.logits_ood.parameters())
    flops = [0]  # 2 × multiply-accumulates of every conv but the OOD head's, as `model.flops(h, w)`

    def count(mod, _inp, out):
        flops[0] += 2 * out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]

    hooks = [m.register_forward_hook(count) for m in model.modules()
             if isinstance(m, nn.Conv2d) and m is not model.logits_ood.conv]
    t0 = time.time()
    with torch.no_grad():
        dec0, dec1, ood2 = model.features(x)
        for hk in hooks:
            hk.remove()
        logits, ood_up = model(x)
    t_fwd = time.time() - t0
    # the authors' score (THKLOODEvaluation): log softmax(ood)[1] − logsumexp(logits), at full size
    hybrid = torch.log_softmax(ood_up, 1)[:, 1] - torch.logsumexp(logits, 1)
    ood1 = (ood_up[:, 1] - ood_up[:, 0]).unsqueeze(1)  # the 1-logit posterior at full size
    # float32 model file, as the authors' checkpoints are
    sd32 = OrderedDict((n, v.float() if v.is_floating_point() else v)
                       for n, v in model.state_dict().items())
    torch.save(sd32, os.path.join(out_dir, "model.pt"))
    save({n: v for n, v in sd32.items() if not n.startswith("logits_ood.")},
         os.path.join(out_dir, "model.safetensors"))
    wood = sd32["logits_ood.conv.weight"]
    bood = sd32["logits_ood.conv.bias"]
    save({
        "posterior_head.bn.weight": sd32["logits_ood.norm.weight"],
        "posterior_head.bn.bias": sd32["logits_ood.norm.bias"],
        "posterior_head.bn.running_mean": sd32["logits_ood.norm.running_mean"],
        "posterior_head.bn.running_var": sd32["logits_ood.norm.running_var"],
        "posterior_head.conv.weight": (wood[1:2] - wood[0:1]).contiguous(),
        "posterior_head.conv.bias": (bood[1:2] - bood[0:1]).contiguous(),
    }, os.path.join(out_dir, "head.safetensors"))
    f32 = lambda t: nhwc(t).float()  # noqa: E731
    save({
        "input": f32(x),
        "preLogits": f32(dec0),
        "logitsStride2": f32(dec1),
        "oodStride2": f32((ood2[:, 1] - ood2[:, 0]).unsqueeze(1)),
        "logits": f32(logits),
        "posteriorLogits": f32(ood1),
        "hybrid": hybrid.float().contiguous(),
    }, os.path.join(out_dir, "io.safetensors"))
    info = {"height": h, "width": w, "numClasses": k, "seed": seed, "threads": threads,
            "uint8": uint8, "parameters": params, "parametersWithoutOodHead": params_no_ood,
            "stateDictEntries": len(sd32), "convFlops": flops[0], "initSeconds": round(t_init, 2),
            "twoForwardsSecondsFloat64": round(t_fwd, 2),
            "shapes": {"preLogits": list(dec0.shape), "logitsStride2": list(dec1.shape),
                       "logits": list(logits.shape)}}
    with open(os.path.join(out_dir, "info.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info))


def main(argv):
    if len(argv) < 2 or argv[0] not in ("keys", "forward"):
        raise SystemExit(__doc__)
    if argv[0] == "keys":
        keys = key_list(19)
        params = sum(p.numel() for p in WRN38DeepLab(19).parameters())
        doc = {"source": "packages/backbones/scripts/authors_wrn38.py keys (K = 19)",
               "parameters": params, "keys": keys}
        lines = ",\n".join("  " + json.dumps(k) for k in keys)
        head = json.dumps({k: v for k, v in doc.items() if k != "keys"})[:-1]
        with open(argv[1], "w") as f:
            f.write(head + ', "keys": [\n' + lines + "\n]}\n")
        print(f"wrote {len(keys)} keys ({params} parameters) to {argv[1]}")
        return
    opts = {"--height": 256, "--width": 512, "--classes": 19, "--seed": 0, "--threads": 2,
            "--uint8": 0}
    rest = argv[2:]
    for i in range(0, len(rest), 2):
        if rest[i] not in opts or i + 1 >= len(rest):
            raise SystemExit(__doc__)
        opts[rest[i]] = int(rest[i + 1])
    forward_cmd(argv[1], opts["--height"], opts["--width"], opts["--classes"], opts["--seed"],
                opts["--threads"], opts["--uint8"] != 0)


if __name__ == "__main__":
    main(sys.argv[1:])
