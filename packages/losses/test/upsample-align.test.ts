import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { upsampleBilinear } from '@densehybrid/losses';
import { BACKENDS, expectClose, randomArray } from './reference.js';

/**
 * Brute force of PyTorch `F.interpolate(mode='bilinear', align_corners=True)` as a sum over every
 * input pixel with the tent kernel: out[i, j] = Σ_{a,b} x[a, b]·max(0, 1 − |sᵢ − a|)·max(0, 1 − |tⱼ − b|),
 * sᵢ = i·(h − 1)/(H − 1) (0 when H = 1). Also returns the interpolation matrix for the adjoint.
 */
function alignCornersBrute(
  x: Float64Array,
  [n, h, w, c]: readonly [number, number, number, number],
  H: number,
  W: number,
): { y: Float64Array; weight: (i: number, j: number, a: number, b: number) => number } {
  const src = (d: number, inSize: number, outSize: number): number =>
    outSize > 1 ? (d * (inSize - 1)) / (outSize - 1) : 0;
  const tent = (s: number, k: number): number => Math.max(0, 1 - Math.abs(s - k));
  const weight = (i: number, j: number, a: number, b: number): number =>
    tent(src(i, h, H), a) * tent(src(j, w, W), b);
  const y = new Float64Array(n * H * W * c);
  for (let q = 0; q < n; q++)
    for (let i = 0; i < H; i++)
      for (let j = 0; j < W; j++)
        for (let a = 0; a < h; a++)
          for (let b = 0; b < w; b++) {
            const wt = weight(i, j, a, b);
            if (wt === 0) continue;
            for (let k = 0; k < c; k++)
              y[((q * H + i) * W + j) * c + k]! += wt * x[((q * h + a) * w + b) * c + k]!;
          }
  return { y, weight };
}

for (const backend of BACKENDS) {
  describe(`upsampleBilinear({ alignCorners: true }) on ${backend}`, () => {
    it('matches a brute-force align_corners=True resize (up, down, 1-pixel sides) and its exact adjoint', async () => {
      expect(await tf.setBackend(backend)).toBe(true);
      const cases: [readonly [number, number, number, number], number, number][] = [
        [[1, 16, 24, 3], 32, 48], // ×2, the stride-2 logits of the WRN-38 preset
        [[2, 5, 7, 2], 13, 10], // odd sizes, one side shrinking
        [[1, 9, 6, 1], 4, 3], // downsampling
        [[1, 1, 1, 4], 5, 3], // a 1×1 map (ASPP image pooling) → constant
        [[1, 4, 5, 2], 1, 7], // a 1-pixel output side: row 0
      ];
      for (const [shape, H, W] of cases) {
        const size = shape.reduce((p, q) => p * q, 1);
        const data = randomArray(size, 100 + H * W);
        const { y: want, weight } = alignCornersBrute(data, shape, H, W);
        const x = tf.tensor4d(Float32Array.from(data), [...shape]);
        const dy = randomArray(shape[0] * H * W * shape[3], 7 + H);
        const dyT = tf.tensor4d(Float32Array.from(dy), [shape[0], H, W, shape[3]]);
        const y = upsampleBilinear(x, [H, W], { alignCorners: true });
        expect(y.shape).toEqual([shape[0], H, W, shape[3]]);
        expectClose(await y.data(), want, 1e-5, 1e-5);
        // ∂/∂x Σ up(x)·dy = Mᵀ dy, from the same weights
        const [n, h, w, c] = shape;
        const adjoint = new Float64Array(size);
        for (let q = 0; q < n; q++)
          for (let i = 0; i < H; i++)
            for (let j = 0; j < W; j++)
              for (let a = 0; a < h; a++)
                for (let b = 0; b < w; b++) {
                  const wt = weight(i, j, a, b);
                  if (wt === 0) continue;
                  for (let k = 0; k < c; k++)
                    adjoint[((q * h + a) * w + b) * c + k]! +=
                      wt * dy[((q * H + i) * W + j) * c + k]!;
                }
        const [dx] = tf.grads((v: tf.Tensor) =>
          tf.sum(tf.mul(upsampleBilinear(v as tf.Tensor4D, [H, W], { alignCorners: true }), dyT)),
        )([x]);
        expectClose(await dx!.data(), adjoint, 1e-4, 1e-4);
        tf.dispose([x, y, dyT, dx!]);
      }
      // differs from the default half-pixel geometry, and equal sizes return the input
      const x = tf.tensor4d([0, 1], [1, 1, 2, 1]);
      const a = upsampleBilinear(x, [1, 4], { alignCorners: true });
      const b = upsampleBilinear(x, [1, 4]);
      // corners aligned: src = j/3 → 0, 1/3, 2/3, 1; half-pixel: src = (j + ½)/2 − ½ → 0, ¼, ¾, 1
      expectClose(await a.data(), [0, 1 / 3, 2 / 3, 1], 1e-6, 1e-6);
      expectClose(await b.data(), [0, 0.25, 0.75, 1], 1e-6, 1e-6);
      expect(upsampleBilinear(x, [1, 2], { alignCorners: true })).toBe(x);
      tf.dispose([x, a, b]);
    });
  });
}
