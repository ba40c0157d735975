/**
 * The exact adjoint of bilinear resizing as one wasm kernel (plain JavaScript over the heap
 * views: the op is memory-bound); `resizeBilinearGrad` runs it on wasm.
 *
 * Elsewhere `resizeBilinearGrad` writes the adjoint as two matMuls with interpolation matrices
 * plus four transposes: on wasm ~49 ms for [4,64,64,64] → 128² and
 * ~38 ms for [4,128,128,9] → 256² (a 256² training step's upsamplings); this kernel, one pass
 * over `dy` writing each `dx` value once, ~14 ms and ~9 ms (2 loaded cores).
 * @internal
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmBackendLike } from './wasm_util.js';
import { RESIZE_BILINEAR_GRAD_KERNEL } from '../kernel_names.js';
import { resizeModeOf, type ResizeMode } from '../resize_bilinear_grad.js';

/** The two taps of each output coordinate along one axis: indices and float32 weights. */
interface AxisTaps {
  readonly i0: Int32Array;
  readonly i1: Int32Array;
  readonly w0: Float32Array;
  readonly w1: Float32Array;
}

/**
 * Taps of bilinear resizing from `inSize` to `outSize`, exactly as `interpolationMatrix` in
 * `../resize_bilinear_grad.ts` (half-pixel: src = max((y + 0.5)·in/out − 0.5, 0); align-corners:
 * src = y·(in − 1)/(out − 1), 0 when out = 1; legacy: src = y·in/out; weights 1 − λ on
 * i0 = floor(src) and λ on min(i0 + 1, in − 1)).
 */
function axisTaps(inSize: number, outSize: number, mode: ResizeMode): AxisTaps {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w0 = new Float32Array(outSize);
  const w1 = new Float32Array(outSize);
  const scale =
    mode === 'align-corners' ? (outSize > 1 ? (inSize - 1) / (outSize - 1) : 0) : inSize / outSize;
  for (let y = 0; y < outSize; y++) {
    const src = mode === 'half-pixel' ? Math.max((y + 0.5) * scale - 0.5, 0) : y * scale;
    const a = Math.min(Math.floor(src), inSize - 1);
    const lambda = src - a;
    i0[y] = a;
    i1[y] = Math.min(a + 1, inSize - 1);
    w0[y] = 1 - lambda;
    w1[y] = lambda;
  }
  return { i0, i1, w0, w1 };
}

/**
 * The taps of one axis grouped by input index (compressed rows): input index j receives the
 * output coordinates `out[start[j] .. start[j + 1])` (ascending) with weights `w`. A tap
 * whose two indices coincide (at the border) is one entry with the summed weight.
 */
interface AxisGather {
  readonly start: Int32Array;
  readonly out: Int32Array;
  readonly w: Float64Array;
}

function axisGather(t: AxisTaps, inSize: number): AxisGather {
  const outSize = t.i0.length;
  const count = new Int32Array(inSize + 1);
  const entries: [number, number, number][] = []; // [input index, output index, weight]
  for (let o = 0; o < outSize; o++) {
    const a = t.i0[o] as number;
    const b = t.i1[o] as number;
    const w0 = t.w0[o] as number;
    const w1 = t.w1[o] as number;
    if (a === b) entries.push([a, o, Math.fround(w0 + w1)]);
    else {
      if (w0 !== 0) entries.push([a, o, w0]);
      if (w1 !== 0) entries.push([b, o, w1]);
    }
  }
  entries.sort((p, q) => p[0] - q[0] || p[1] - q[1]);
  const out = new Int32Array(entries.length);
  const w = new Float64Array(entries.length);
  entries.forEach(([j, o, v], e) => {
    count[j + 1] = (count[j + 1] as number) + 1;
    out[e] = o;
    w[e] = v;
  });
  for (let j = 0; j < inSize; j++) count[j + 1] = (count[j + 1] as number) + (count[j] as number);
  return { start: count, out, w };
}

/**
 * dx = adjoint of resizing [N, inH, inW, C] to dy's [N, outH, outW, C], NHWC; `dx` is
 * overwritten. One pass over dy, output row by output row: each dy row is contracted along W
 * by gathering (every dx column sums its few dy columns), and the result is added, with the
 * row's two H weights, to two float64 row accumulators (dx rows i0 and i0 + 1); a dx row is
 * stored once, when the output rows have moved past it (i0 never decreases).
 * @internal
 */
function resizeBilinearAdjointInto(
  dy: Float32Array,
  dyShape: readonly [number, number, number, number],
  dx: Float32Array,
  inH: number,
  inW: number,
  mode: ResizeMode,
): void {
  const [n, outH, outW, c] = dyShape;
  const inRow = inW * c;
  if (n * inH * inRow === 0) return;
  const ty = axisTaps(inH, outH, mode);
  const gx = axisGather(axisTaps(inW, outW, mode), inW);
  const start = gx.start;
  const wt = gx.w;
  const off = new Int32Array(gx.out.length); // channel offset of each entry's dy column
  for (let e = 0; e < off.length; e++) off[e] = (gx.out[e] as number) * c;
  const outRow = outW * c;
  let accA = new Float64Array(inRow); // dx row `cur`
  let accB = new Float64Array(inRow); // dx row `cur + 1`
  const sum = new Float64Array(c);
  for (let b = 0; b < n; b++) {
    const dxBase = b * inH * inRow;
    let cur = 0;
    accA.fill(0);
    accB.fill(0);
    for (let y = 0; y <= outH; y++) {
      // Store the dx rows no later output row touches (all remaining ones after the last).
      const next = y < outH ? (ty.i0[y] as number) : inH;
      while (cur < next) {
        const r = dxBase + cur * inRow;
        for (let j = 0; j < inRow; j++) dx[r + j] = accA[j] as number;
        const t = accA;
        accA = accB;
        accB = t;
        accB.fill(0);
        cur++;
      }
      if (y === outH) break;
      let v0 = ty.w0[y] as number;
      let v1 = ty.w1[y] as number;
      if (ty.i1[y] === cur) {
        v0 = Math.fround(v0 + v1);
        v1 = 0;
      }
      const s = (b * outH + y) * outRow;
      for (let j = 0; j < inW; j++) {
        const e0 = start[j] as number;
        const cnt = (start[j + 1] as number) - e0;
        const base = j * c;
        if (cnt === 4) {
          const o0 = s + (off[e0] as number);
          const o1 = s + (off[e0 + 1] as number);
          const o2 = s + (off[e0 + 2] as number);
          const o3 = s + (off[e0 + 3] as number);
          const u0 = wt[e0] as number;
          const u1 = wt[e0 + 1] as number;
          const u2 = wt[e0 + 2] as number;
          const u3 = wt[e0 + 3] as number;
          for (let k = 0; k < c; k++) {
            const v =
              u0 * (dy[o0 + k] as number) +
              u1 * (dy[o1 + k] as number) +
              u2 * (dy[o2 + k] as number) +
              u3 * (dy[o3 + k] as number);
            accA[base + k] = (accA[base + k] as number) + v0 * v;
            accB[base + k] = (accB[base + k] as number) + v1 * v;
          }
        } else if (cnt === 2) {
          const o0 = s + (off[e0] as number);
          const o1 = s + (off[e0 + 1] as number);
          const u0 = wt[e0] as number;
          const u1 = wt[e0 + 1] as number;
          for (let k = 0; k < c; k++) {
            const v = u0 * (dy[o0 + k] as number) + u1 * (dy[o1 + k] as number);
            accA[base + k] = (accA[base + k] as number) + v0 * v;
            accB[base + k] = (accB[base + k] as number) + v1 * v;
          }
        } else if (cnt === 1) {
          const o0 = s + (off[e0] as number);
          const u0 = wt[e0] as number;
          const a0 = v0 * u0;
          const a1 = v1 * u0;
          for (let k = 0; k < c; k++) {
            const v = dy[o0 + k] as number;
            accA[base + k] = (accA[base + k] as number) + a0 * v;
            accB[base + k] = (accB[base + k] as number) + a1 * v;
          }
        } else if (cnt > 0) {
          // 3, or more than 4 (upsampling by more than 2): sum four columns at a time.
          sum.fill(0);
          const e1 = e0 + cnt;
          let e = e0;
          for (; e + 4 <= e1; e += 4) {
            const o0 = s + (off[e] as number);
            const o1 = s + (off[e + 1] as number);
            const o2 = s + (off[e + 2] as number);
            const o3 = s + (off[e + 3] as number);
            const u0 = wt[e] as number;
            const u1 = wt[e + 1] as number;
            const u2 = wt[e + 2] as number;
            const u3 = wt[e + 3] as number;
            for (let k = 0; k < c; k++)
              sum[k] =
                (sum[k] as number) +
                u0 * (dy[o0 + k] as number) +
                u1 * (dy[o1 + k] as number) +
                u2 * (dy[o2 + k] as number) +
                u3 * (dy[o3 + k] as number);
          }
          for (; e < e1; e++) {
            const o = s + (off[e] as number);
            const u = wt[e] as number;
            for (let k = 0; k < c; k++) sum[k] = (sum[k] as number) + u * (dy[o + k] as number);
          }
          for (let k = 0; k < c; k++) {
            const v = sum[k] as number;
            accA[base + k] = (accA[base + k] as number) + v0 * v;
            accB[base + k] = (accB[base + k] as number) + v1 * v;
          }
        }
      }
    }
  }
}

/**
 * wasm kernel `DenseHybridResizeBilinearGrad`: inputs `{ images, dy }` (images for its shape
 * only, as tfjs' `ResizeBilinearGrad`), attrs `{ alignCorners, halfPixelCenters }`; returns
 * float32 dx of the images' shape.
 * @internal
 */
export const resizeBilinearGradWasmConfig: KernelConfig = {
  kernelName: RESIZE_BILINEAR_GRAD_KERNEL,
  backendName: 'wasm',
  kernelFunc: ((args) => {
    const backend = args.backend as WasmBackendLike;
    const images = args.inputs['images'] as TensorInfo;
    const dy = args.inputs['dy'] as TensorInfo;
    const [n, inH, inW, c] = images.shape as [number, number, number, number];
    const dyShape = dy.shape as [number, number, number, number];
    if (images.shape.length !== 4 || dyShape.length !== 4 || dy.dtype !== 'float32')
      throw new Error(
        `${RESIZE_BILINEAR_GRAD_KERNEL}: expected rank-4 images and float32 rank-4 dy, got [${images.shape.join(',')}] and [${dyShape.join(',')}] ${dy.dtype}`,
      );
    if (dyShape[0] !== n || dyShape[3] !== c)
      throw new Error(
        `${RESIZE_BILINEAR_GRAD_KERNEL}: dy [${dyShape.join(',')}] does not match images [${images.shape.join(',')}] in batch or channels`,
      );
    const out = backend.makeOutput([n, inH, inW, c], 'float32');
    // views after the allocation: growing the heap detaches older views
    resizeBilinearAdjointInto(
      backend.typedArrayFromHeap(dy) as Float32Array,
      dyShape,
      backend.typedArrayFromHeap(out) as Float32Array,
      inH,
      inW,
      resizeModeOf(args.attrs as { alignCorners?: boolean; halfPixelCenters?: boolean }),
    );
    return out;
  }) as KernelFunc,
};
