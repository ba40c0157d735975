import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, resizeBilinearGrad } from '@densehybrid/tfjs-wasm-training';
import { on, relErr, values } from './helpers.js';

// On wasm the ResizeBilinear gradient runs the direct DenseHybridResizeBilinearGrad kernel; it
// must equal the float64 adjoint of the forward resize and the cpu backend's (matMul) adjoint.
beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

type Mode = 'half-pixel' | 'align-corners' | 'legacy';
const MODES: readonly Mode[] = ['half-pixel', 'align-corners', 'legacy'];
const attrsOf = (mode: Mode): [boolean, boolean] => [
  mode === 'align-corners',
  mode === 'half-pixel',
];

/** [outSize][inSize] weights of one axis, in float64, straight from the coordinate rule. */
function weights(inSize: number, outSize: number, mode: Mode): number[][] {
  const scale =
    mode === 'align-corners' ? (outSize > 1 ? (inSize - 1) / (outSize - 1) : 0) : inSize / outSize;
  return Array.from({ length: outSize }, (_, y) => {
    const row = new Array<number>(inSize).fill(0);
    const src = mode === 'half-pixel' ? Math.max((y + 0.5) * scale - 0.5, 0) : y * scale;
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    row[i0]! += 1 - (src - i0);
    row[i1]! += src - i0;
    return row;
  });
}

/** dx[n,i,j,c] = Σ_{y,x} Wh[y][i]·Ww[x][j]·dy[n,y,x,c], brute force in float64. */
function bruteAdjoint(
  dy: Float32Array,
  [n, outH, outW, c]: [number, number, number, number],
  inH: number,
  inW: number,
  mode: Mode,
): Float32Array {
  const wh = weights(inH, outH, mode);
  const ww = weights(inW, outW, mode);
  const dx = new Float64Array(n * inH * inW * c);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < outH; y++)
      for (let x = 0; x < outW; x++)
        for (let i = 0; i < inH; i++) {
          const a = wh[y]![i]!;
          if (a === 0) continue;
          for (let j = 0; j < inW; j++) {
            const w = a * ww[x]![j]!;
            if (w === 0) continue;
            for (let k = 0; k < c; k++)
              dx[((b * inH + i) * inW + j) * c + k]! +=
                w * dy[((b * outH + y) * outW + x) * c + k]!;
          }
        }
  return Float32Array.from(dx);
}

type Case = { name: string; inHW: [number, number]; outHW: [number, number] };
const SIZES: Case[] = [
  { name: 'up 2× square', inHW: [6, 6], outHW: [12, 12] },
  { name: 'up non-square', inHW: [5, 7], outHW: [11, 9] },
  { name: 'up ~4× (many taps per input pixel)', inHW: [3, 4], outHW: [12, 15] },
  { name: 'down non-square', inHW: [12, 10], outHW: [5, 4] },
  { name: 'down 4× (input pixels without taps)', inHW: [16, 12], outHW: [4, 3] },
  { name: 'mixed (up H, down W)', inHW: [6, 9], outHW: [13, 4] },
  { name: 'from 1×1 and to 1×1 axes', inHW: [1, 7], outHW: [5, 1] },
];

/** ∂/∂x of Σ r·resize(x), r a fixed random cotangent; also returns r. */
function grad(shape: [number, number, number, number], outHW: [number, number], mode: Mode) {
  const [alignCorners, halfPixelCenters] = attrsOf(mode);
  const x = tf.tensor4d(values(tf.util.sizeFromShape(shape), 1), shape);
  const rShape: [number, number, number, number] = [shape[0], ...outHW, shape[3]];
  const r = tf.tensor4d(values(tf.util.sizeFromShape(rShape), 2), rShape);
  const g = tf.grad((a: tf.Tensor) =>
    tf.sum(
      tf.mul(tf.image.resizeBilinear(a as tf.Tensor4D, outHW, alignCorners, halfPixelCenters), r),
    ),
  )(x);
  return [g, r];
}

describe('wasm ResizeBilinear gradient (DenseHybridResizeBilinearGrad) is the exact adjoint', () => {
  const cases = [];
  for (const mode of MODES)
    for (const size of SIZES)
      for (const c of [1, 3, 17]) cases.push([`${mode}, ${size.name}, C=${c}`, mode, size, c]);

  it.each(cases as [string, Mode, Case, number][])('%s', async (_name, mode, size, c) => {
    const shape: [number, number, number, number] = [2, ...size.inHW, c];
    const before = tf.memory().numTensors;
    const [got, r] = (await on('wasm', () => grad(shape, size.outHW, mode))) as [
      Float32Array,
      Float32Array,
    ];
    expect(tf.memory().numTensors).toBe(before);
    const ref = bruteAdjoint(r, [2, ...size.outHW, c], ...size.inHW, mode);
    expect(relErr(got, ref)).toBeLessThanOrEqual(1e-5);
    const [cpu] = (await on('cpu', () => grad(shape, size.outHW, mode))) as [Float32Array];
    expect(relErr(got, cpu)).toBeLessThanOrEqual(1e-5);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('runs as one kernel (no BatchMatMul / Transpose) on wasm', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const info = await tf.profile(() =>
      tf.tidy(() => grad([2, 16, 16, 9], [32, 32], 'half-pixel')[0] as tf.Tensor),
    );
    const names = info.kernels.map((k) => k.name);
    expect(names).toContain('DenseHybridResizeBilinearGrad');
    expect(names).not.toContain('BatchMatMul');
    expect(names).not.toContain('Transpose');
    tf.dispose(info.result);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("resizeBilinearGrad (the gradient of @densehybrid/losses' upsampleBilinear) runs the kernel on wasm, with the same values as cpu", async () => {
    const f = () => [
      resizeBilinearGrad(
        tf.zeros([2, 9, 7, 5]),
        tf.tensor4d(values(2 * 36 * 28 * 5, 22), [2, 36, 28, 5]),
        { alignCorners: false, halfPixelCenters: true },
      ),
    ];
    const [cpu] = (await on('cpu', f)) as [Float32Array];
    const [got] = (await on('wasm', f)) as [Float32Array];
    expect(relErr(got, cpu)).toBeLessThanOrEqual(1e-5);
    await tf.setBackend('wasm');
    const info = await tf.profile(() => tf.tidy(() => f()[0] as tf.Tensor));
    const names = info.kernels.map((k) => k.name);
    expect(names).toContain('DenseHybridResizeBilinearGrad');
    expect(names).not.toContain('BatchMatMul');
    tf.dispose(info.result);
  });

  it('resizeBilinearGrad of ones spreads each input pixel over its outputs (README example)', async () => {
    const [dx] = (await on('wasm', () => [
      resizeBilinearGrad(tf.zeros([1, 4, 4, 3]), tf.ones([1, 8, 8, 3]), {
        alignCorners: false,
        halfPixelCenters: true,
      }),
    ])) as [Float32Array];
    expect(Array.from(dx)).toEqual(new Array<number>(48).fill(4));
  });
});
