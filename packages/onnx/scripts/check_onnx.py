#!/usr/bin/env python3
"""Dev-only (never a dependency): validates exported models with ONNX's own checker and strict
shape inference (python3-onnx), and prints each file's opset, inputs, outputs and op types.

    PATH=$(getconf PATH) python3 packages/onnx/scripts/check_onnx.py a.onnx [b.onnx ...]

Exit status 1 when any file fails.
"""
import collections
import sys

import onnx
from onnx import shape_inference


def dims(v):
    return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]


def main(paths):
    failed = 0
    for path in paths:
        try:
            model = onnx.load(path)
            onnx.checker.check_model(model, full_check=True)
            inferred = shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
            ops = collections.Counter(n.op_type for n in model.graph.node)
            opset = {o.domain or "ai.onnx": o.version for o in model.opset_import}
            meta = {p.key for p in model.metadata_props}
            assert "densehybrid.contract" in meta, "no densehybrid.contract metadata"
            outs = {o.name: dims(o) for o in inferred.graph.output}
            print(f"ok {path}: IR {model.ir_version}, opset {opset}, {len(model.graph.node)} nodes, "
                  f"{len(model.graph.initializer)} initializers")
            print(f"   inputs {[(i.name, dims(i)) for i in model.graph.input]}")
            print(f"   outputs {outs}")
            print(f"   ops {dict(sorted(ops.items()))}")
        except Exception as e:  # noqa: BLE001 - report every file
            failed += 1
            print(f"FAIL {path}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
