/**
 * Convolution gradients for the wasm backend, written as *forward* convolutions (XNNPACK's
 * fast path, ~10× faster than tfjs' native wasm `Conv2DBackpropInput`).
 *
 * Notation (one spatial axis; the other is the same): forward `y[o] = Σ_k x[o·s + k·d − p] w[k]`
 * with stride `s`, dilation `d`, top padding `p`, `K` taps, input size `H`, output size `O`.
 *
 * - Filter gradient: `∂w[k] = Σ_o x[k·d + o·s − p] ∂y[o]` is a forward convolution of `x` with
 *   `∂y` as the filter, stride `d`, dilation `s` (strides and dilations swapped), padding `p`.
 *   The batch axis becomes the contraction (channel) axis: `x → [C, H, W, N]`,
 *   `∂y → [O_h, O_w, N, C_out]`, giving `[C, K_h, K_w, C_out]`.
 * - Input gradient, `s = 1`: `∂x[h] = Σ_j ∂y[h + p − (K−1)d + j·d] w[K−1−j]`, a forward
 *   convolution of `∂y` with the flipped filter (input/output channels swapped).
 * - Input gradient, `s > 1` (sub-pixel decomposition): output phase `r = h mod s` only meets taps
 *   `k ≡ r + p (mod s)`; each phase is a stride-1 forward convolution with that sub-filter, and the
 *   `s²` phase images are interleaved by two concatenations.
 * @internal
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type * as tf from '@tensorflow/tfjs-core';
import { rowCopier } from './simd/copy.js';
import { filterGradientSimd } from './simd/filter_gradient.js';
import { convSimd } from './simd/conv.js';
import type { Pads, WasmScope } from './wasm_util.js';

/** One output phase of the input gradient along one axis. */
interface AxisPhase {
  /** Filter taps in the order the forward convolution applies them (already flipped). */
  readonly taps: readonly number[];
  readonly padBefore: number;
  readonly padAfter: number;
}

/** The phases of one spatial axis; every phase produces `size` rows. */
interface AxisPlan {
  readonly size: number;
  readonly dilation: number;
  readonly phases: readonly AxisPhase[];
}

/** Plans the input gradient along one axis (see the module comment). @internal */
function planAxis(
  taps: number,
  stride: number,
  dilation: number,
  padBefore: number,
  inSize: number,
  outSize: number,
): AxisPlan {
  if (stride === 1) {
    const flipped = Array.from({ length: taps }, (_, j) => taps - 1 - j);
    const pb = (taps - 1) * dilation - padBefore;
    return {
      size: inSize,
      dilation,
      phases: [{ taps: flipped, padBefore: pb, padAfter: inSize - outSize + padBefore }],
    };
  }
  const size = Math.ceil(inSize / stride);
  const phases: AxisPhase[] = [];
  for (let r = 0; r < stride; r++) {
    const k0 = (((r + padBefore) % stride) + stride) % stride;
    const m = k0 < taps ? Math.ceil((taps - k0) / stride) : 0;
    const c = (r + padBefore - k0) / stride;
    const sub = Array.from({ length: m }, (_, j) => k0 + stride * (m - 1 - j));
    const pb = m - 1 - c;
    phases.push({ taps: sub, padBefore: pb, padAfter: size - outSize - pb + m - 1 });
  }
  return { size, dilation: 1, phases };
}

/**
 * `∂L/∂w` of a (depthwise) convolution as one forward convolution of transposed operands.
 * @returns `[K_h, K_w, C_in, C_out]` (regular) or `[K_h, K_w, C, M]` (depthwise)
 * @internal
 */
export function filterGradient(
  s: WasmScope,
  x: TensorInfo,
  dy: TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  depthwise: boolean,
): TensorInfo {
  const n = info.batchSize;
  const { inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { dilationHeight: dh, dilationWidth: dw, padInfo } = info;
  if (!depthwise) {
    const direct = filterGradientSimd(s, x, dy, info);
    if (direct) return direct;
  }
  // Output size of the swapped convolution must be exactly K: choose the far pads accordingly.
  const pads = {
    top: padInfo.top,
    left: padInfo.left,
    bottom: (kh - 1) * dh + (oh - 1) * sh + 1 - h - padInfo.top,
    right: (kw - 1) * dw + (ow - 1) * sw + 1 - w - padInfo.left,
  };
  if (
    !depthwise &&
    kh === 1 &&
    kw === 1 &&
    sh === 1 &&
    sw === 1 &&
    pads.top === 0 &&
    pads.left === 0
  ) {
    // 1×1, stride 1: ∂w = xᵀ·∂y over all pixels, one GEMM (5× faster than the swapped conv).
    const p = n * h * w;
    const xt = s.transpose(s.reshape(x, [p, c]), [1, 0]);
    const co = info.outChannels;
    const g = s.run(
      'BatchMatMul',
      { a: s.reshape(xt, [1, c, p]), b: s.reshape(dy, [1, p, co]) },
      { transposeA: false, transposeB: false },
    );
    return s.reshape(g, [1, 1, c, co]);
  }
  if (!depthwise) {
    const xt = s.transpose(x, [3, 1, 2, 0]); // [C, H, W, N]
    const ft = s.transpose(dy, [1, 2, 0, 3]); // [O_h, O_w, N, C_out]
    const g = swappedConv(s, xt, ft, pads, info, false); // [C, K_h, K_w, C_out]
    return s.transpose(g, [1, 2, 0, 3]);
  }
  // Depthwise: every (channel, sample) pair is its own depthwise channel; sum over samples after.
  const m = info.outChannels / c;
  const xt = s.reshape(s.transpose(x, [1, 2, 3, 0]), [1, h, w, c * n]);
  const dy5 = s.reshape(dy, [n, oh, ow, c, m]);
  const ft = s.reshape(s.transpose(dy5, [1, 2, 3, 0, 4]), [oh, ow, c * n, m]);
  const g = swappedConv(s, xt, ft, pads, info, true); // [1, K_h, K_w, C·N·M]
  const g5 = s.reshape(g, [kh, kw, c, n, m]);
  const summed = n > 1 ? s.run('Sum', { x: g5 }, { axis: [3], keepDims: false }) : g5;
  return s.reshape(summed, [kh, kw, c, m]);
}

/**
 * The swapped convolution of {@link filterGradient}: stride = the forward dilation, dilation =
 * the forward stride. (Splitting `∂y` into row chunks to keep the packed filter in cache was
 * measured slower at every chunk size, so it runs as one XNNPACK convolution.)
 */
function swappedConv(
  s: WasmScope,
  xt: TensorInfo,
  ft: TensorInfo,
  pads: { top: number; bottom: number; left: number; right: number },
  info: tf.backend_util.Conv2DInfo,
  depthwise: boolean,
): TensorInfo {
  const strides: [number, number] = [info.dilationHeight, info.dilationWidth];
  const dilations: [number, number] = [info.strideHeight, info.strideWidth];
  return convExplicit(s, xt, ft, pads, strides, dilations, depthwise);
}

/**
 * `∂L/∂x` of a (depthwise) convolution as forward convolutions (sub-pixel for stride > 1).
 * @returns `[N, H, W, C_in]`, or `null` for the geometries it does not handle (stride > 1 with
 *   dilation > 1, or unequal strides > 1), for which the caller falls back.
 * @internal
 */
export function inputGradient(
  s: WasmScope,
  dy: TensorInfo,
  filter: TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  depthwise: boolean,
): TensorInfo | null {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  if ((sh > 1 || sw > 1) && (dh > 1 || dw > 1)) return null;
  if (sh > 1 && sw > 1 && sh !== sw) return null;
  if (sh > 1 !== sw > 1) return null;
  const ph = planAxis(info.filterHeight, sh, dh, info.padInfo.top, h, info.outHeight);
  const pw = planAxis(info.filterWidth, sw, dw, info.padInfo.left, w, info.outWidth);
  const m = depthwise ? info.outChannels / c : 1;
  const parts: TensorInfo[] = [];
  for (const a of ph.phases) {
    for (const b of pw.phases) {
      if (a.taps.length === 0 || b.taps.length === 0) {
        parts.push(s.zeros([n, ph.size, pw.size, c]));
        continue;
      }
      const sub = subFilter(s, filter, a.taps, b.taps, depthwise);
      const pads = { top: a.padBefore, bottom: a.padAfter, left: b.padBefore, right: b.padAfter };
      let y = convExplicit(s, dy, sub, pads, [1, 1], [ph.dilation, pw.dilation], depthwise);
      if (depthwise && m > 1) {
        y = s.run(
          'Sum',
          { x: s.reshape(y, [n, ph.size, pw.size, c, m]) },
          { axis: [4], keepDims: false },
        );
      }
      parts.push(y);
    }
  }
  if (parts.length === 1) return s.slice(parts[0] as TensorInfo, [0, 0, 0, 0], [n, h, w, c]);
  return interleave(s, parts, sh, [n, h, w, c]);
}

/**
 * Writes the `s²` phase images (`parts[rh·s + rw]`, each `[N, ⌈H/s⌉, ⌈W/s⌉, C]`) into
 * `out[n, i·s + rh, j·s + rw, c]`, cropped to `[N, H, W, C]`: one strided `memory.copy` per
 * phase row where the heap is reachable, else a JavaScript pass over the output (tfjs' wasm
 * DepthToSpace took ~20× longer, two concatenations ~2×).
 */
function interleave(
  s: WasmScope,
  parts: TensorInfo[],
  stride: number,
  shape: [number, number, number, number],
): TensorInfo {
  const [n, h, w, c] = shape;
  const [, hs, ws] = (parts[0] as TensorInfo).shape as [number, number, number, number];
  const copier = rowCopier(s.backend);
  if (copier) {
    const out = s.float32(shape, () => undefined);
    for (let rh = 0; rh < stride; rh++)
      for (let rw = 0; rw < stride && rw < w; rw++) {
        const part = parts[rh * stride + rw] as TensorInfo;
        const columns = Math.ceil((w - rw) / stride);
        for (let b = 0; b < n; b++)
          for (let i = 0, y = rh; y < h; i++, y += stride)
            copier.copy(
              out,
              ((b * h + y) * w + rw) * c * 4,
              part,
              (b * hs + i) * ws * c * 4,
              columns,
              c * 4,
              stride * c * 4,
              c * 4,
            );
      }
    return out;
  }
  return s.float32(shape, (out) => {
    const src = parts.map((p) => s.view(p));
    for (let b = 0; b < n; b++) {
      for (let y = 0; y < h; y++) {
        const i = Math.floor(y / stride);
        const rh = y - i * stride;
        for (let x = 0; x < w; x++) {
          const j = Math.floor(x / stride);
          const from = src[rh * stride + (x - j * stride)] as Float32Array;
          const o = ((b * h + y) * w + x) * c;
          const f = ((b * hs + i) * ws + j) * c;
          if (c >= 16) out.set(from.subarray(f, f + c), o);
          else for (let k = 0; k < c; k++) out[o + k] = from[f + k] as number;
        }
      }
    }
  });
}

/**
 * The filter of one phase, laid out for a forward convolution of `∂y`:
 * regular `sub[i, j, co, ci] = w[tapsH[i], tapsW[j], ci, co]`,
 * depthwise `sub[i, j, c·M + m, 0] = w[tapsH[i], tapsW[j], c, m]`.
 * Built in JavaScript straight on the heap: filters are small, and this is one pass instead of
 * two gathers and a transpose.
 */
function subFilter(
  s: WasmScope,
  filter: TensorInfo,
  tapsH: readonly number[],
  tapsW: readonly number[],
  depthwise: boolean,
): TensorInfo {
  const [, kw, ci, co] = filter.shape as [number, number, number, number];
  const mh = tapsH.length;
  const mw = tapsW.length;
  const shape = depthwise ? [mh, mw, ci * co, 1] : [mh, mw, co, ci];
  return s.float32(shape, (out) => {
    const w = s.view(filter);
    const plane = ci * co;
    let o = 0;
    for (const th of tapsH) {
      for (const tw of tapsW) {
        const base = (th * kw + tw) * plane;
        if (depthwise) {
          out.set(w.subarray(base, base + plane), o);
          o += plane;
        } else {
          for (let b = 0; b < co; b++)
            for (let a = 0; a < ci; a++) out[o++] = w[base + a * co + b] as number;
        }
      }
    }
  });
}

/**
 * A stride/dilation convolution with explicit, possibly negative, padding: negative pads crop
 * the input, positive pads are passed to the wasm kernel (XNNPACK pads with zeros).
 * @internal
 */
function convExplicit(
  s: WasmScope,
  x: TensorInfo,
  filter: TensorInfo,
  pads: Pads,
  strides: [number, number],
  dilations: [number, number],
  depthwise: boolean,
): TensorInfo {
  if (!depthwise) {
    const direct = convSimd(s, x, filter, pads, strides, dilations);
    if (direct) return direct;
  }
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const cropT = Math.max(0, -pads.top);
  const cropB = Math.max(0, -pads.bottom);
  const cropL = Math.max(0, -pads.left);
  const cropR = Math.max(0, -pads.right);
  const xc = s.slice(x, [0, cropT, cropL, 0], [n, h - cropT - cropB, w - cropL - cropR, c]);
  const pad = [
    [0, 0],
    [Math.max(0, pads.top), Math.max(0, pads.bottom)],
    [Math.max(0, pads.left), Math.max(0, pads.right)],
    [0, 0],
  ];
  return s.run(
    depthwise ? 'DepthwiseConv2dNative' : 'Conv2D',
    { x: xc, filter },
    {
      strides,
      dilations,
      pad,
      dataFormat: 'NHWC',
      dimRoundingMode: undefined,
    },
  );
}
