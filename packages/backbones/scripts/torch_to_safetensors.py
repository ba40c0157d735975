#!/usr/bin/env python3
"""Convert a PyTorch checkpoint (.pt/.pth) to .safetensors with plain PyTorch (no `safetensors`
package needed). Usage:

    python3 torch_to_safetensors.py model.pt model.safetensors

Takes `checkpoint['state_dict']` (or `['model']`) when present, else the object itself; writes
every tensor under its state_dict name in its own dtype (little-endian), as the safetensors spec
says: 8-byte header length, JSON header, data.
"""
import json
import struct
import sys

import torch

DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


def state_dict_of(obj):
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            return obj[key]
    return obj


def save(tensors, path):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.dtype not in DTYPES:
            raise SystemExit(f"{name}: unsupported dtype {t.dtype}")
        # bytes via an int8 view of the flat tensor (bfloat16 has no numpy dtype)
        data = t.reshape(-1).view(torch.int8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    obj = torch.load(sys.argv[1], map_location="cpu")
    sd = {k: v for k, v in state_dict_of(obj).items() if torch.is_tensor(v)}
    save(sd, sys.argv[2])
    print(f"wrote {len(sd)} tensors to {sys.argv[2]}")
