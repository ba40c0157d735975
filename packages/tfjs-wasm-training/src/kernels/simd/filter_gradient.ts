/**
 * `∂L/∂w` of a regular 2-D convolution as the tfjs kernels call it: plans it (the kernel and
 * its driver are in `filter_blocks.ts`), pads channels where needed and runs it on the calling
 * thread or the wasm thread pool.
 * @internal
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmScope } from '../wasm_util.js';
import { fusedMultiplyAdd, heapAccess } from './heap.js';
import { runJob } from './threads.js';
import { rowCopier, type RowCopier } from './copy.js';
import type { FilterPlan } from './filter_blocks.js';

let disabled = false;

/**
 * Turns the SIMD filter gradient off (`true`) or back on, so that tests and benchmarks can
 * compare it with the XNNPACK formulation. @internal
 */
export function disableSimdFilterGradient(off: boolean): void {
  disabled = off;
}

/**
 * `∂w` `[K_h, K_w, C_in, C_out]` of a regular convolution, or `null` when this kernel cannot
 * run here (no WebAssembly SIMD, or a wasm backend whose heap it cannot reach). Large ones are
 * split by input-channel blocks across the wasm thread pool when one is set up.
 * @internal
 */
export function filterGradientSimd(
  s: WasmScope,
  x: TensorInfo,
  dy: TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): TensorInfo | null {
  if (disabled) return null;
  const heap = heapAccess(s.backend);
  if (!heap) return null;
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci } = info;
  const { outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw } = info;
  const cx = Math.ceil(ci / 4) * 4;
  const cy = Math.ceil(co / 8) * 8;
  const xs = cx === ci ? x : padChannels(s, x, [n, h, w, ci], cx);
  const dys = cy === co ? dy : padChannels(s, dy, [n, oh, ow, co], cy);
  const padded = cx !== ci || cy !== co;
  const acc = s.float32([kh, kw, cx, cy], (o) => o.fill(0));
  const plan: FilterPlan = {
    n,
    h,
    w,
    cx,
    cy,
    oh,
    ow,
    kh,
    kw,
    sh: info.strideHeight,
    sw: info.strideWidth,
    dh: info.dilationHeight,
    dw: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
    fused: fusedMultiplyAdd(),
  };
  const macs = n * oh * ow * kh * kw * cx * cy;
  runJob(macs, cx / 4, {
    kind: 'filter',
    plan,
    inputs: [xs, dys],
    output: acc,
    zeroOutput: true,
    heap,
  });
  if (!padded) return acc;
  return s.float32([kh, kw, ci, co], (out) => {
    const src = s.view(acc);
    for (let t = 0; t < kh * kw; t++)
      for (let a = 0; a < ci; a++) {
        const from = (t * cx + a) * cy;
        out.set(src.subarray(from, from + co), (t * ci + a) * co);
      }
  });
}

/** A copy of NHWC `t` with its channels zero-padded to `c` (one strided `memory.copy` pass). */
function padChannels(
  s: WasmScope,
  t: TensorInfo,
  shape: [number, number, number, number],
  c: number,
): TensorInfo {
  const [n, h, w, c0] = shape;
  const out = s.float32([n, h, w, c], (o) => o.fill(0));
  const copier = rowCopier(s.backend) as RowCopier; // the heap is reachable: the caller checked
  copier.copy(out, 0, t, 0, n * h * w, c0 * 4, c * 4, c0 * 4);
  return out;
}
