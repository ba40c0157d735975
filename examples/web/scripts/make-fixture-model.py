"""Dev-only: writes a tiny DenseHybrid-shaped ONNX model for the page's tests.

    PATH=$(getconf PATH) python3 examples/web/scripts/make-fixture-model.py OUT.onnx [--nhwc] [--no-metadata]

Without flags also writes OUT.expected.json (the variants have the same weights): the hybrid map and closed-set labels of the fixture image
(fixturePixel in test/page.test.ts) computed here in float64 NumPy, the page test's reference.

image [1,3,h,w] in [0,1] -> conv3x3 + relu (pre-logits t) -> logits = conv1x1(t) (K=3),
posterior logit g = conv1x1(relu(t)); hybrid = ln sigmoid(g) - logsumexp(logits) = -softplus(-g) - LSE.
Outputs: logits [1,K,h,w], posterior_logit [1,1,h,w], hybrid [1,h,w]. Opset 17, dynamic h, w.
Only a stand-in until the page's test uses `exportOnnx` (packages/onnx); never a dependency.
"""

import json
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def conv(k: int, p: int) -> dict:
    # every attribute explicit: ONNX Runtime Web's WebGPU (JSEP) Conv fails without dilations
    return {"kernel_shape": [k, k], "pads": [p, p, p, p], "strides": [1, 1], "dilations": [1, 1], "group": 1}


def main() -> None:
    out = sys.argv[1]
    nhwc = "--nhwc" in sys.argv
    metadata = "--no-metadata" not in sys.argv
    rng = np.random.default_rng(0)
    C, K = 4, 3
    w1 = rng.normal(0, 0.5, (C, 3, 3, 3)).astype(np.float32)
    b1 = rng.normal(0, 0.1, (C,)).astype(np.float32)
    wl = rng.normal(0, 0.8, (K, C, 1, 1)).astype(np.float32)
    bl = rng.normal(0, 0.1, (K,)).astype(np.float32)
    wg = rng.normal(0, 0.8, (1, C, 1, 1)).astype(np.float32)
    bg = np.array([0.2], np.float32)
    inits = [
        numpy_helper.from_array(a, n)
        for a, n in [(w1, "w1"), (b1, "b1"), (wl, "wl"), (bl, "bl"), (wg, "wg"), (bg, "bg")]
    ]
    nodes = []
    x = "image"
    if nhwc:
        nodes.append(helper.make_node("Transpose", ["image"], ["x"], perm=[0, 3, 1, 2]))
        x = "x"
    nodes += [
        helper.make_node("Conv", [x, "w1", "b1"], ["c1"], **conv(3, 1)),
        helper.make_node("Relu", ["c1"], ["t"]),
        helper.make_node("Conv", ["t", "wl", "bl"], ["logits_nchw" if nhwc else "logits"], **conv(1, 0)),
        helper.make_node("Relu", ["t"], ["rt"]),
        helper.make_node("Conv", ["rt", "wg", "bg"], ["posterior_logit_nchw" if nhwc else "posterior_logit"], **conv(1, 0)),
        helper.make_node("ReduceLogSumExp", ["logits_nchw" if nhwc else "logits"], ["lse"], axes=[1], keepdims=0),
        helper.make_node("Neg", ["posterior_logit_nchw" if nhwc else "posterior_logit"], ["ng"]),
        helper.make_node("Softplus", ["ng"], ["sp"]),
        helper.make_node("Neg", ["sp"], ["logsig4"]),
        helper.make_node("Squeeze", ["logsig4", "one"], ["logsig"]),
        helper.make_node("Sub", ["logsig", "lse"], ["hybrid"]),
    ]
    inits.append(numpy_helper.from_array(np.array([1], np.int64), "one"))
    if nhwc:
        nodes += [
            helper.make_node("Transpose", ["logits_nchw"], ["logits"], perm=[0, 2, 3, 1]),
            helper.make_node("Transpose", ["posterior_logit_nchw"], ["posterior_logit"], perm=[0, 2, 3, 1]),
        ]
    in_shape = [1, "height", "width", 3] if nhwc else [1, 3, "height", "width"]
    logits_shape = [1, "height", "width", K] if nhwc else [1, K, "height", "width"]
    g_shape = [1, "height", "width", 1] if nhwc else [1, 1, "height", "width"]
    graph = helper.make_graph(
        nodes,
        "densehybrid-fixture",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, in_shape)],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, logits_shape),
            helper.make_tensor_value_info("posterior_logit", TensorProto.FLOAT, g_shape),
            helper.make_tensor_value_info("hybrid", TensorProto.FLOAT, [1, "height", "width"]),
        ],
        inits,
    )
    model = helper.make_model(
        graph, producer_name="densehybrid-fixture", opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    if metadata:
        helper.set_model_props(
            model,
            {
                "densehybrid.input": json.dumps(
                    {"layout": "NHWC" if nhwc else "NCHW", "range": [0, 1], "mean": [0, 0, 0], "std": [1, 1, 1]}
                ),
                "densehybrid.class_names": json.dumps(["road", "building", "sky"]),
            },
        )
    onnx.checker.check_model(model)
    onnx.save(model, out)

    if nhwc or not metadata:
        return
    # the reference: the fixture image of test/page.test.ts through the same net, float64
    H, W = 24, 40
    y, x = np.mgrid[0:H, 0:W]
    rgb = np.stack([(x * 37 + y * 11) % 256, (x * 5 + y * 23) % 256, (x * y * 7 + 50) % 256])
    img = rgb.astype(np.float64) / 255.0
    pad = np.pad(img, ((0, 0), (1, 1), (1, 1)))
    c1 = np.zeros((C, H, W))
    for dy in range(3):
        for dx in range(3):
            c1 += np.einsum("oi,ihw->ohw", w1[:, :, dy, dx].astype(np.float64), pad[:, dy : dy + H, dx : dx + W])
    t = np.maximum(c1 + b1[:, None, None], 0)
    logits = np.einsum("oi,ihw->ohw", wl[:, :, 0, 0].astype(np.float64), t) + bl[:, None, None]
    g = np.einsum("oi,ihw->ohw", wg[:, :, 0, 0].astype(np.float64), np.maximum(t, 0))[0] + bg[0]
    m = logits.max(0)
    lse = m + np.log(np.exp(logits - m).sum(0))
    hybrid = -np.logaddexp(0, -g) - lse
    with open(out.removesuffix(".onnx") + ".expected.json", "w") as f:
        json.dump({"width": W, "height": H, "hybrid": hybrid.ravel().tolist(), "closed": logits.argmax(0).ravel().tolist()}, f)


if __name__ == "__main__":
    main()
