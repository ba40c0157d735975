import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerTrainingKernels } from '@densehybrid/tfjs-wasm-training';

// tf.image.resizeBilinear is what the backbones' upsampling path uses; after
// registerTrainingKernels() its gradient must be the exact adjoint of the forward resize
// (tfjs 4.22's own ignores halfPixelCenters and swaps H/W on cpu for non-square inputs).
describe('ResizeBilinear gradient after registerTrainingKernels', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    registerTrainingKernels();
  });

  for (const [alignCorners, halfPixelCenters] of [
    [false, true],
    [false, false],
    [true, false],
  ] as const) {
    it(`equals central differences (alignCorners ${alignCorners}, halfPixelCenters ${halfPixelCenters}, 3×5 → 7×4)`, () => {
      const before = tf.memory().numTensors;
      const xs = Array.from({ length: 3 * 5 * 2 }, (_, i) => Math.sin(i * 1.7));
      const ws = Array.from({ length: 7 * 4 * 2 }, (_, i) => Math.cos(i * 0.9));
      const w = tf.tensor4d(ws, [1, 7, 4, 2]);
      const f = (x: tf.Tensor) =>
        tf.sum(
          tf.mul(
            tf.image.resizeBilinear(x as tf.Tensor4D, [7, 4], alignCorners, halfPixelCenters),
            w,
          ),
        );
      const analytic = tf.tidy(() =>
        tf
          .grad(f)(tf.tensor4d(xs, [1, 3, 5, 2]))
          .dataSync(),
      );
      // The op is linear in x, so a central difference with step 1 is exact up to rounding.
      const value = (v: number[]) => tf.tidy(() => f(tf.tensor4d(v, [1, 3, 5, 2])).dataSync()[0]!);
      for (let i = 0; i < xs.length; i++) {
        const plus = xs.slice();
        const minus = xs.slice();
        plus[i]! += 1;
        minus[i]! -= 1;
        const numeric = (value(plus) - value(minus)) / 2;
        expect(analytic[i]).toBeCloseTo(numeric, 4);
      }
      w.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
