// The wasm thread pool of the SIMD convolutions: bit-identical results at any thread count, the
// work really split, initBackend's threads option / DENSEHYBRID_WASM_THREADS, and a process that
// used the pool exits on its own.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import {
  initBackend,
  setWasmThreads,
  wasmThreads,
  wasmThreadsReady,
} from '@densehybrid/tfjs-wasm-training';
// the pool module instance the registered kernels use (internal counter of split jobs)
import { threadedJobCount } from '../dist/kernels/simd/threads.js';
import { values } from './helpers.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});
afterAll(() => {
  setWasmThreads(1);
});

type Case = { x: [number, number, number, number]; k: number; co: number; s: number; d: number };
const cases: Case[] = [
  { x: [2, 40, 40, 32], k: 3, co: 32, s: 1, d: 1 },
  { x: [2, 96, 80, 16], k: 3, co: 64, s: 2, d: 1 },
  { x: [1, 64, 56, 32], k: 3, co: 32, s: 1, d: 2 },
  { x: [2, 60, 50, 64], k: 1, co: 64, s: 1, d: 1 },
];

/** conv(x, w) and ∂/∂x, ∂/∂w of Σ conv·r, read back. */
function convAndGrads(c: Case): Float32Array[] {
  const ts = tf.tidy(() => {
    const x = tf.tensor4d(values(tf.util.sizeFromShape(c.x), 1), c.x);
    const w = tf.tensor4d(values(c.k * c.k * c.x[3] * c.co, 2), [c.k, c.k, c.x[3], c.co]);
    const f = (a: tf.Tensor4D, b: tf.Tensor4D) => tf.conv2d(a, b, c.s, 'same', 'NHWC', c.d);
    const y = f(x, w);
    const r = tf.tensor(values(y.size, 3), y.shape);
    const [gx, gw] = tf.grads((a, b) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D), r)))([
      x,
      w,
    ]);
    return [y, gx as tf.Tensor, gw as tf.Tensor];
  });
  const out = ts.map((t) => t.dataSync() as Float32Array);
  tf.dispose(ts);
  return out;
}

describe('wasm thread pool for the SIMD convolutions', () => {
  it.each(cases.map((c) => [`x ${c.x.join('×')} k${c.k} → ${c.co} s${c.s} d${c.d}`, c] as const))(
    '%s: 2 and 3 threads give bit-identical conv, input and filter gradients',
    async (_name, c) => {
      setWasmThreads(1);
      const one = convAndGrads(c);
      for (const n of [2, 3]) {
        expect(setWasmThreads(n)).toBe(n);
        expect(wasmThreads()).toBe(n);
        expect(await wasmThreadsReady()).toBe(true);
        const before = threadedJobCount();
        const before2 = tf.memory().numTensors;
        const many = convAndGrads(c);
        expect(threadedJobCount()).toBeGreaterThanOrEqual(before + 2); // really split
        expect(tf.memory().numTensors).toBe(before2);
        many.forEach((m, i) =>
          expect(Buffer.from(m.buffer).equals(Buffer.from((one[i] as Float32Array).buffer))).toBe(
            true,
          ),
        );
      }
      expect(setWasmThreads(1)).toBe(1);
    },
  );

  it('initBackend({ threads }) sets the pool; bad values are rejected by name', async () => {
    const report = await initBackend({ backend: 'wasm', threads: 2 });
    expect(report.threads).toBe(2);
    expect(wasmThreads()).toBe(2);
    expect((await initBackend({ backend: 'wasm' })).threads).toBe(1);
    expect(wasmThreads()).toBe(1);
    await expect(initBackend({ backend: 'wasm', threads: 0 })).rejects.toSatisfy(
      (e) =>
        DenseHybridError.is(e) && e.code === 'INVALID_OPTION' && /options\.threads/.test(e.message),
    );
  });

  it('a process that used the pool (DENSEHYBRID_WASM_THREADS=2) exits on its own', () => {
    const script = fileURLToPath(new URL('./fixtures/threads-exit.mjs', import.meta.url));
    const t0 = Date.now();
    const out = execFileSync(process.execPath, [script], {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, DENSEHYBRID_WASM_THREADS: '2' },
      timeout: 60_000,
    });
    const result = JSON.parse(out.trim().split('\n').at(-1) as string) as {
      threads: number;
      sum: number;
    };
    expect(result.threads).toBe(2);
    expect(Number.isFinite(result.sum)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(60_000);
  }, 90_000);
});
