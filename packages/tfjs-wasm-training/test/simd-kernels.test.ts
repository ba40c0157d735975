// The WebAssembly SIMD convolution kernels (src/kernels/simd/) against the cpu backend and
// against the XNNPACK formulations they replace, over the geometries a network meets, with
// channel counts that take the SIMD paths (C_out a multiple of 8) and those that fall back.
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, setWasmSimdKernels } from '@densehybrid/tfjs-wasm-training';
import { on, relErr, values } from './helpers.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});
afterEach(() => setWasmSimdKernels({ conv: true, filterGradient: true }));

type Case = {
  k: number;
  s: number;
  d: number;
  pad: 'same' | 'valid';
  ci: number;
  co: number;
  shape: [number, number, number];
};
const cases: Case[] = [];
for (const k of [1, 3, 5])
  for (const [s, d] of [
    [1, 1],
    [2, 1],
    [1, 2],
  ] as const)
    for (const pad of ['same', 'valid'] as const)
      for (const [ci, co] of [
        [8, 16],
        [3, 8],
        [13, 24],
      ] as const)
        cases.push({ k, s, d, pad, ci, co, shape: [2, 13, 11] });
// Larger images: several row chunks in the filter gradient, long pixel runs in the convolution.
cases.push({ k: 3, s: 1, d: 1, pad: 'same', ci: 8, co: 24, shape: [1, 41, 37] });
cases.push({ k: 3, s: 2, d: 1, pad: 'same', ci: 16, co: 32, shape: [2, 34, 30] });
cases.push({ k: 3, s: 1, d: 2, pad: 'same', ci: 12, co: 8, shape: [1, 29, 33] });

/** y = conv(x, w) and ∂/∂x, ∂/∂w of Σ y·r, r a fixed random cotangent. */
function convAndGrads(c: Case): tf.Tensor[] {
  const xShape: [number, number, number, number] = [...c.shape, c.ci];
  const fShape: [number, number, number, number] = [c.k, c.k, c.ci, c.co];
  const x = tf.tensor4d(values(tf.util.sizeFromShape(xShape), 1), xShape);
  const w = tf.tensor4d(values(tf.util.sizeFromShape(fShape), 2), fShape);
  const f = (a: tf.Tensor4D, b: tf.Tensor4D) => tf.conv2d(a, b, c.s, c.pad, 'NHWC', c.d);
  const y = f(x, w);
  const r = tf.tensor(values(y.size, 3), y.shape);
  const [gx, gw] = tf.grads((a, b) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D), r)))([
    x,
    w,
  ]);
  return [y, gx as tf.Tensor, gw as tf.Tensor];
}

const name = (c: Case) =>
  `k${c.k} s${c.s} d${c.d} ${c.pad} ${c.ci}→${c.co} on ${c.shape.join('×')}`;

describe('SIMD conv, input gradient and filter gradient match the cpu backend', () => {
  it.each(cases.map((c) => [name(c), c] as const))('%s', async (_n, c) => {
    const before = tf.memory().numTensors;
    const ref = await on('cpu', () => convAndGrads(c));
    const got = await on('wasm', () => convAndGrads(c));
    for (let i = 0; i < 3; i++)
      expect(relErr(got[i] as Float32Array, ref[i] as Float32Array)).toBeLessThanOrEqual(1e-5);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the SIMD kernels agree with the XNNPACK formulations they replace', () => {
  it.each(cases.filter((_, i) => i % 5 === 0).map((c) => [name(c), c] as const))(
    '%s',
    async (_n, c) => {
      setWasmSimdKernels({ conv: false, filterGradient: false });
      const xnnpack = await on('wasm', () => convAndGrads(c));
      setWasmSimdKernels({ conv: true, filterGradient: true });
      const simd = await on('wasm', () => convAndGrads(c));
      for (let i = 0; i < 3; i++)
        expect(relErr(simd[i] as Float32Array, xnnpack[i] as Float32Array)).toBeLessThanOrEqual(
          1e-5,
        );
    },
  );
});

describe('the SIMD kernels reach the wasm heap (fails loudly if a tfjs upgrade moves its internals)', () => {
  it('heapAccess finds the backend memory and tensor addresses', async () => {
    const { heapAccess } = await import('../dist/kernels/simd/heap.js');
    await tf.setBackend('wasm');
    const heap = heapAccess(tf.backend());
    expect(heap).not.toBeNull();
    const t = tf.tensor1d([1, 2, 3, 4]);
    const address = heap!.address({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });
    expect(Array.from(new Float32Array(heap!.memory.buffer, address, 4))).toEqual([1, 2, 3, 4]);
    t.dispose();
  });
});
