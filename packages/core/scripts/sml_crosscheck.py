"""Dev-only cross-check of full SML (not part of the package, not run in CI).

Driven by `sml-crosscheck.mjs` beside this file:

    python3 sml_crosscheck.py <dir>

<dir> holds `logits.npy` (float32 [N, h, w, K]), `case.json` (per-class mean / std, the output
size and the option variants) and, per variant, `tfjs-<name>.npy` (the library's float32 score).
This file computes each variant in float64 with PyTorch from the formulas of the authors' SML
code (Jung et al., ICCV 2021; shjung13/Standardized-max-logits, `network/deepv3.py`:
standardised max logit per predicted class, `find_boundaries` = kornia dilation with the 3×3
cross != kornia erosion with the 3×3 square (geodesic borders), `expand_boundaries` = dilation
with the L1 ball of radius r, the iterative suppression with ReplicationPad2d(1) and a 3×3
all-ones convolution, and the dilated smoothing: ReplicationPad2d(dilation·(k−1)/2) and a
normalised Gaussian (np.fromfunction, σ = 1) with that dilation). It is a reimplementation
written for this check, not the authors' code, which needs CUDA and kornia. Writes
`result.json`: the max absolute difference per variant.
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

DIR = sys.argv[1]
CASE = json.load(open(os.path.join(DIR, 'case.json')))
torch.set_default_dtype(torch.float64)


def geodesic_morph(x, kernel, op):
    """kornia.morphology dilation/erosion with a flat structuring element, geodesic border:
    max (or min) over the in-image pixels under the kernel's ones. x: [N,1,H,W]."""
    k = kernel.shape[0]
    c = k // 2
    fill = -math.inf if op == 'max' else math.inf
    padded = F.pad(x, (c, c, c, c), value=fill)
    H, W = x.shape[2], x.shape[3]
    out = None
    for a in range(k):
        for b in range(k):
            if kernel[a, b] == 0:
                continue
            v = padded[:, :, a:a + H, b:b + W]
            out = v if out is None else (torch.maximum(out, v) if op == 'max' else torch.minimum(out, v))
    return out


CROSS = torch.tensor([[0, 1, 0], [1, 1, 1], [0, 1, 0]])
SQUARE = torch.ones(3, 3)


def l1_ball(r):
    """The authors' d_k{r}: a delta dilated r times with the cross."""
    k = torch.zeros(1, 1, 2 * r + 1, 2 * r + 1)
    k[:, :, r, r] = 1
    for _ in range(r):
        k = geodesic_morph(k, CROSS, 'max')
    return k[0, 0]


def boundary_suppression(out, prediction, width, iterations):
    boundaries = (geodesic_morph(prediction, CROSS, 'max') != geodesic_morph(prediction, SQUARE, 'min')).double()
    ones = torch.ones(1, 1, 3, 3)
    diff = width // iterations if iterations else 0
    for i in range(iterations):
        prev = out
        r = 0 if (width == 0 or i == iterations - 1) else width - diff * i - 1
        expanded = boundaries if r == 0 else geodesic_morph(boundaries, l1_ball(r), 'max')
        keep = (expanded == 0).double()
        y = F.conv2d(F.pad(out * keep, (1, 1, 1, 1), mode='replicate'), ones)
        count = F.conv2d(F.pad(keep, (1, 1, 1, 1), mode='replicate'), ones).long()
        avg = torch.where(count == 0, prev, y / count)
        out = torch.where(keep == 0, avg, prev)
    return out


def dilated_smoothing(out, size, sigma, dilation):
    g = np.fromfunction(
        lambda x, y: (1 / (2 * math.pi * sigma ** 2))
        * math.e ** ((-1 * ((x - (size - 1) / 2) ** 2 + (y - (size - 1) / 2) ** 2)) / (2 * sigma ** 2)),
        (size, size),
    )
    g /= np.sum(g)
    kernel = torch.tensor(g).unsqueeze(0).unsqueeze(0)
    p = dilation * (size - 1) // 2
    return F.conv2d(F.pad(out, (p, p, p, p), mode='replicate'), kernel, dilation=dilation)


logits = torch.from_numpy(np.load(os.path.join(DIR, 'logits.npy')).astype(np.float64)).permute(0, 3, 1, 2)
up = F.interpolate(logits, size=tuple(CASE['size']), mode='bilinear', align_corners=False)
max_logit, prediction = up.max(1)
mean = torch.tensor(CASE['mean'])
std = torch.tensor(CASE['std'])
sml = ((max_logit - mean[prediction]) / std[prediction]).unsqueeze(1)  # inlier-positive, as theirs
pred = prediction.unsqueeze(1).double()

result = {}
for v in CASE['variants']:
    out = sml
    bs, ds = v['boundarySuppression'], v['dilatedSmoothing']
    if bs:
        out = boundary_suppression(out, pred, bs['boundaryWidth'], bs['iterations'])
    if ds:
        out = dilated_smoothing(out, ds['kernelSize'], ds['sigma'], ds['dilation'])
    reference = (-out[:, 0]).numpy()  # anomaly score = −SML
    ours = np.load(os.path.join(DIR, f"tfjs-{v['name']}.npy")).astype(np.float64)
    d = np.abs(ours - reference)
    result[v['name']] = {
        'maxAbsDiff': float(d.max()),
        'maxRelDiff': float((d / np.maximum(1, np.abs(reference))).max()),
        'scoreRange': [float(reference.min()), float(reference.max())],
        'pixels': int(d.size),
        'pixelsAbove1e-3': int((d > 1e-3).sum()),
    }
json.dump(result, open(os.path.join(DIR, 'result.json'), 'w'), indent=1)
