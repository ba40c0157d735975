/**
 * The SIMD convolution as the tfjs kernels call it: plans a convolution (`conv_rows.ts` holds
 * the kernels and the row driver) and runs it on the calling thread or the wasm thread pool.
 * @internal
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { Pads, WasmScope } from '../wasm_util.js';
import { fusedMultiplyAdd, heapAccess } from './heap.js';
import { runJob } from './threads.js';
import { tapPlan, type ConvPlan } from './conv_rows.js';

let disabled = false;

/** Turns the SIMD convolution off (`true`) or back on (tests, benchmarks). @internal */
export function disableSimdConv(off: boolean): void {
  disabled = off;
}

/**
 * A regular convolution of `x` `[N, H, W, C_in]` with `filter` `[K_h, K_w, C_in, C_out]`, or
 * `null` when these kernels do not apply (C_out not a multiple of 8, no SIMD, heap not
 * reachable); the caller then falls back to XNNPACK. Large convolutions are split by output
 * rows across the wasm thread pool when one is set up ({@link setWasmThreads}).
 * @internal
 */
export function convSimd(
  s: WasmScope,
  x: TensorInfo,
  filter: TensorInfo,
  pads: Pads,
  strides: readonly [number, number],
  dilations: readonly [number, number],
): TensorInfo | null {
  if (disabled || x.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  const [kh, kw, fci, co] = filter.shape as [number, number, number, number];
  if (co % 8 !== 0 || fci !== ci) return null;
  const [sh, sw] = strides;
  const [dh, dw] = dilations;
  const oh = Math.floor((h + pads.top + pads.bottom - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((w + pads.left + pads.right - dw * (kw - 1) - 1) / sw) + 1;
  if (oh <= 0 || ow <= 0 || n === 0 || ci === 0) return null;
  const heap = heapAccess(s.backend);
  if (!heap) return null;
  const plan: ConvPlan = {
    n,
    h,
    w,
    ci,
    co,
    kh,
    kw,
    sh,
    sw,
    dh,
    dw,
    padTop: pads.top,
    padLeft: pads.left,
    oh,
    ow,
    fused: fusedMultiplyAdd(),
  };
  const { gaps } = tapPlan(plan);
  const y = s.float32([n, oh, ow, co], (out) => {
    if (gaps) out.fill(0);
  });
  const macs = n * oh * ow * co * kh * kw * ci;
  runJob(macs, n * oh, {
    kind: 'conv',
    plan,
    inputs: [x, filter],
    output: y,
    zeroOutput: gaps,
    heap,
  });
  return y;
}
