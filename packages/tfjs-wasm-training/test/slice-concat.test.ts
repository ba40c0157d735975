import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@densehybrid/tfjs-wasm-training';
import { on, values } from './helpers.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

const X_SHAPE = [3, 5, 4, 7];
const x = () => tf.tensor(values(3 * 5 * 4 * 7, 41), X_SHAPE);

describe('wasm Slice / SplitV / Concat (in-place heap copies) match the cpu backend exactly', () => {
  const slices: [number[], number[]][] = [
    [
      [0, 0, 0, 0],
      [3, 5, 4, 7],
    ], // whole
    [
      [1, 0, 0, 0],
      [2, 5, 4, 7],
    ], // contiguous
    [
      [0, 1, 2, 3],
      [2, 3, 2, 4],
    ], // short inner runs
    [
      [2, 4, 3, 6],
      [1, 1, 1, 1],
    ], // one element
    [
      [0, 0, 0, 5],
      [3, 5, 4, 2],
    ], // last axis only (the K+1 logits split)
  ];
  it.each(slices)('slice begin %j size %j', async (begin, size) => {
    const f = () => [tf.slice(x(), begin, size)];
    const [ref] = await on('cpu', f);
    const [got] = await on('wasm', f);
    expect(Array.from(got as Float32Array)).toEqual(Array.from(ref as Float32Array));
  });

  it.each([0, 1, 3])('split and concat along axis %i (also int32 and rank 1)', async (axis) => {
    const f = () => {
      const parts = tf.split(x(), axis === 3 ? [5, 2] : axis === 1 ? [1, 3, 1] : [2, 1], axis);
      const back = tf.concat(parts.reverse(), axis);
      const ints = tf.concat([tf.tensor1d([1, 2], 'int32'), tf.tensor1d([3], 'int32')]);
      return [...parts, back, tf.cast(ints, 'float32')];
    };
    const ref = await on('cpu', f);
    const got = await on('wasm', f);
    expect(got.length).toBe(ref.length);
    got.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(ref[i] as Float32Array)));
  });

  it('bool and int32 tensors split, slice and concatenate byte-exactly (1- and 4-byte rows)', async () => {
    const f = () => {
      const b = tf.greater(x(), 0); // bool, 1 byte per element on the heap
      const i = tf.cast(tf.mul(x(), 100), 'int32');
      const [b0, b1] = tf.split(b, [3, 4], 3);
      const [i0, i1] = tf.split(i, [2, 2], 2);
      return [
        tf.cast(tf.concat([b1 as tf.Tensor, b0 as tf.Tensor], 3), 'float32'),
        tf.cast(tf.concat([i1 as tf.Tensor, i0 as tf.Tensor], 1), 'float32'),
        tf.cast(tf.slice(b, [0, 0, 0, 6], [3, 5, 4, 1]), 'float32'),
      ];
    };
    const ref = await on('cpu', f);
    const got = await on('wasm', f);
    got.forEach((g, k) => expect(Array.from(g)).toEqual(Array.from(ref[k] as Float32Array)));
  });
});

describe('wasm matMul with transpose flags (explicit transposes)', () => {
  it.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])(
    'transposeA=%s transposeB=%s, forward and gradients (batched, fused bias+relu) match cpu',
    async (ta, tb) => {
      const f = () => {
        const a = tf.tensor3d(values(2 * 5 * 6, 51), ta ? [2, 6, 5] : [2, 5, 6]);
        const b = tf.tensor3d(values(2 * 6 * 4, 52), tb ? [2, 4, 6] : [2, 6, 4]);
        const bias = tf.tensor1d(values(4, 53));
        const fused = tf.fused.matMul({
          a,
          b,
          transposeA: ta,
          transposeB: tb,
          bias,
          activation: 'relu',
        });
        const [ga, gb] = tf.grads((p, q) => tf.sum(tf.square(tf.matMul(p, q, ta, tb))))([a, b]);
        return [tf.matMul(a, b, ta, tb), fused, ga as tf.Tensor, gb as tf.Tensor];
      };
      const ref = await on('cpu', f);
      const got = await on('wasm', f);
      got.forEach((g, i) => {
        const r = ref[i] as Float32Array;
        const scale = Math.max(...Array.from(r, Math.abs));
        expect(
          Math.max(...Array.from(g, (v, j) => Math.abs(v - (r[j] as number)))),
        ).toBeLessThanOrEqual(1e-5 * scale);
      });
    },
  );
});
