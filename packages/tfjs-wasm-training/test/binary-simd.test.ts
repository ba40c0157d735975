// wasm Add / Sub / Multiply / RealDiv with per-channel and per-row broadcasts (SIMD kernels)
// against the cpu backend, both operand orders, with their gradients.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@densehybrid/tfjs-wasm-training';
import { on, relErr, values } from './helpers.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

const OPS = {
  add: tf.add,
  sub: tf.sub,
  mul: tf.mul,
  div: tf.div,
} as const;

const shapes: [number[], number[]][] = [
  [[2, 5, 3, 8], [8]], // per channel
  [
    [2, 5, 3, 8],
    [1, 1, 1, 8],
  ],
  [[7, 12], [12]],
  [
    [2, 5, 3, 8],
    [2, 5, 3, 1],
  ], // per row (e.g. x − logsumexp)
  [
    [40, 4],
    [40, 1],
  ],
  [[2, 5, 3, 6], [6]], // 6 channels: tfjs' own kernel
  [
    [2, 5, 3, 8],
    [5, 3, 8],
  ], // other broadcasts: tfjs' own kernel
  [[1, 8], [8]], // one row: tfjs' own kernel
];

describe('wasm broadcasting binary ops match the cpu backend', () => {
  for (const [opName, op] of Object.entries(OPS))
    it.each(shapes)(`${opName} %j with %j, both orders, and gradients`, async (big, small) => {
      const before = tf.memory().numTensors;
      const f = () => {
        // both away from zero, so that division is well conditioned
        const x = tf.add(tf.tensor(values(tf.util.sizeFromShape(big), 31), big), 1);
        const v = tf.add(tf.tensor(values(tf.util.sizeFromShape(small), 32), small), 2);
        const [gx, gv] = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
          tf.sum(tf.mul(op(p, q), tf.add(op(q, p), 1))),
        )([x, v]);
        return [op(x, v), op(v, x), gx as tf.Tensor, gv as tf.Tensor];
      };
      const ref = await on('cpu', f);
      const got = await on('wasm', f);
      for (let i = 0; i < ref.length; i++)
        expect(relErr(got[i] as Float32Array, ref[i] as Float32Array)).toBeLessThanOrEqual(1e-6);
      expect(tf.memory().numTensors).toBe(before);
    });

  it('int32 operands keep their dtype and exact values', async () => {
    const f = () => [
      tf.cast(
        tf.mul(
          tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [2, 4], 'int32'),
          tf.tensor1d([2, 3, 4, 5], 'int32'),
        ),
        'float32',
      ),
    ];
    const [got] = await on('wasm', f);
    expect(Array.from(got as Float32Array)).toEqual([2, 6, 12, 20, 10, 18, 28, 40]);
  });
});
