// wasm Sum / Mean over leading axes (the SIMD column sum) against the cpu backend and float64.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@densehybrid/tfjs-wasm-training';
import { on, relErr, values } from './helpers.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

const cases: [number[], number[], boolean][] = [
  [[4, 13, 11, 32], [0, 1, 2], false], // per-channel (batch-norm statistics)
  [[4, 13, 11, 32], [0, 1, 2], true],
  [[2, 9, 7, 44], [0, 1, 2], false], // 11 vectors: a block of 8 and one of 3
  [[3, 12], [0], false],
  [[5, 6, 8], [1, 0], true], // axes in any order
  [[3, 5, 7], [0, 1], false], // 7 columns: tfjs' own kernel
  [[4, 6, 8], [1, 2], false], // trailing axes: tfjs' own kernel
  [[4, 6, 8], [0, 1, 2], false], // everything: tfjs' own kernel
];

describe('wasm Sum / Mean over leading axes match the cpu backend', () => {
  it.each(cases)('shape %j axes %j keepDims %s', async (shape, axes, keepDims) => {
    const before = tf.memory().numTensors;
    const f = () => {
      const x = tf.tensor(values(tf.util.sizeFromShape(shape), 11), shape);
      return [tf.sum(x, axes, keepDims), tf.mean(x, axes, keepDims)];
    };
    const ref = await on('cpu', f);
    const got = await on('wasm', f);
    for (let i = 0; i < 2; i++)
      expect(relErr(got[i] as Float32Array, ref[i] as Float32Array)).toBeLessThanOrEqual(1e-5);
    await tf.setBackend('wasm');
    const shapes = tf.tidy(() => f().map((t) => t.shape));
    expect(shapes[0]).toEqual(
      keepDims
        ? shape.map((d, i) => (axes.includes(i) ? 1 : d))
        : shape.filter((_, i) => !axes.includes(i)),
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('sums 300 000 rows to float64 accuracy (chunked partial sums, not one running sum)', async () => {
    const rows = 300_000;
    const data = new Float32Array(rows * 4);
    for (let i = 0; i < data.length; i++) data[i] = 1 + ((i * 7919) % 1000) / 1e4;
    const exact = new Float64Array(4);
    for (let i = 0; i < data.length; i++)
      exact[i % 4] = (exact[i % 4] as number) + (data[i] as number);
    await tf.setBackend('wasm');
    const got = tf.tidy(() => tf.sum(tf.tensor2d(data, [rows, 4]), 0).dataSync());
    for (let c = 0; c < 4; c++)
      expect(
        Math.abs((got[c] as number) - (exact[c] as number)) / (exact[c] as number),
      ).toBeLessThan(1e-6);
  });

  it('gradients through tf.mean over leading axes are unchanged', async () => {
    const f = () => {
      const x = tf.tensor(values(2 * 5 * 3 * 8, 12), [2, 5, 3, 8]);
      return [tf.grad((a: tf.Tensor) => tf.sum(tf.square(tf.mean(a, [0, 1, 2]))))(x)];
    };
    const ref = await on('cpu', f);
    const got = await on('wasm', f);
    expect(relErr(got[0] as Float32Array, ref[0] as Float32Array)).toBeLessThanOrEqual(1e-5);
  });
});
