import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { resizeBilinearGradConfig } from '@densehybrid/tfjs-wasm-training';
import {
  BACKENDS,
  expectClose,
  numericGradient,
  randomArray,
  resizeRef,
  type Arr4,
} from '../../losses/test/reference.js';

const MODES = [
  ['half-pixel', false, true],
  ['align-corners', true, false],
  ['legacy', false, false],
] as const;

for (const backend of BACKENDS) {
  describe(`resizeBilinearGradConfig on ${backend}`, () => {
    beforeAll(async () => {
      expect(await tf.setBackend(backend)).toBe(true);
    });

    it('tfjs 4.22 stock gradient is wrong for half-pixel resizing (the reason this exists)', async () => {
      const stock = tf.getGradient(tf.ResizeBilinear);
      expect(stock).toBeDefined();
      const x = tf.tensor4d(Float32Array.from(randomArray(16, 1)), [1, 4, 4, 1]);
      const w = tf.tensor4d(Float32Array.from(randomArray(64, 2)), [1, 8, 8, 1]);
      const [dx] = tf.grads((v: tf.Tensor) =>
        tf.sum(tf.mul(tf.image.resizeBilinear(v as tf.Tensor4D, [8, 8], false, true), w)),
      )([x]);
      const a: Arr4 = { data: randomArray(16, 1), shape: [1, 4, 4, 1] };
      const wv = randomArray(64, 2);
      const f = (d: Float64Array): number =>
        resizeRef({ data: d, shape: a.shape }, 8, 8, 'half-pixel').data.reduce(
          (acc, v, i) => acc + v * (wv[i] as number),
          0,
        );
      expect(() => expectClose(dx!.dataSync(), numericGradient(f, a.data), 1e-3, 1e-3)).toThrow();
      tf.dispose([x, w, dx!]);
    });

    it('registered, tf.image.resizeBilinear differentiates exactly in all three modes', async () => {
      const stock = tf.getGradient(tf.ResizeBilinear)!;
      tf.registerGradient(resizeBilinearGradConfig);
      try {
        for (const [mode, alignCorners, halfPixelCenters] of MODES) {
          for (const [shape, size] of [
            [
              [2, 3, 2, 2],
              [7, 5],
            ],
            [
              [1, 4, 4, 1],
              [8, 8],
            ],
            [
              [1, 5, 6, 2],
              [3, 4],
            ],
          ] as const) {
            const a: Arr4 = {
              data: randomArray(
                shape.reduce((p: number, q: number) => p * q, 1),
                3,
              ),
              shape,
            };
            const [H, W] = size;
            const wv = randomArray(shape[0] * H * W * shape[3], 4);
            const x = tf.tensor4d(Float32Array.from(a.data), [...shape]);
            const w = tf.tensor4d(Float32Array.from(wv), [shape[0], H, W, shape[3]]);
            // the forward agrees with the reference (so the reference is the right function)
            const y = tf.image.resizeBilinear(x, [H, W], alignCorners, halfPixelCenters);
            expectClose(await y.data(), resizeRef(a, H, W, mode).data, 1e-5, 1e-5);
            const before = tf.memory().numTensors;
            const [dx] = tf.grads((v: tf.Tensor) =>
              tf.sum(
                tf.mul(
                  tf.image.resizeBilinear(v as tf.Tensor4D, [H, W], alignCorners, halfPixelCenters),
                  w,
                ),
              ),
            )([x]);
            expect(dx!.shape).toEqual([...shape]);
            const f = (d: Float64Array): number =>
              resizeRef({ data: d, shape }, H, W, mode).data.reduce(
                (acc, v, i) => acc + v * (wv[i] as number),
                0,
              );
            expectClose(await dx!.data(), numericGradient(f, a.data), 1e-4, 1e-4);
            dx!.dispose();
            expect(tf.memory().numTensors).toBe(before);
            tf.dispose([x, w, y]);
          }
        }
      } finally {
        tf.registerGradient(stock);
      }
    });
  });
}
