/**
 * Shared helpers of the webgpu suite (files `*.webgpu.ts`, run by vitest.webgpu.config.ts).
 * Every read here is asynchronous: tfjs' WebGPU backend cannot read synchronously in Node.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients; @tensorflow/tfjs (the union package) imports this.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { expect } from 'vitest';
import { initBackend, type BackendReport } from '@densehybrid/tfjs-wasm-training';

/** Deterministic PRNG (mulberry32), uniform in [lo, hi). */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

let report: BackendReport | undefined;

/**
 * Loads the webgpu backend once per file (software adapters allowed: the suite forces it) and
 * turns off tfjs' CPU forwarding of small ops, so every kernel under test runs on the adapter.
 */
export async function useWebGpu(): Promise<BackendReport> {
  report ??= await initBackend({ backend: 'webgpu' });
  await tf.setBackend('webgpu');
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  return report;
}

/**
 * Runs `fn` on `backend` inside `tf.tidy`, reads every returned tensor with `await data()`,
 * frees them, and checks no tensor leaked. `fn` must build its tensors from plain arrays (tensors
 * cannot move from webgpu to another backend without a synchronous read).
 */
export async function runOn(
  backend: 'webgpu' | 'cpu' | 'wasm',
  fn: () => tf.Tensor[],
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const outs = tf.tidy(fn);
  const values: Float32Array[] = [];
  for (const t of outs) values.push(Float32Array.from(await t.data()));
  tf.dispose(outs);
  expect(tf.memory().numTensors).toBe(before);
  return values;
}

/** Largest |a − b| / (atol/rtol scale); ≤ 1 means close. Also fails on length or NaN mismatch. */
export function expectClose(
  actual: Float32Array,
  expected: Float32Array,
  what: string,
  { atol = 1e-4, rtol = 1e-4 } = {},
): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i] as number;
    const a = actual[i] as number;
    if (!Number.isFinite(a) || !Number.isFinite(e)) {
      expect(a, `${what}[${i}]`).toBe(e);
      continue;
    }
    const r = Math.abs(a - e) / (atol + rtol * Math.abs(e));
    if (r > worst) {
      worst = r;
      worstAt = i;
    }
  }
  expect(
    worst,
    `${what}: worst at ${worstAt}: ${actual[worstAt]} vs ${expected[worstAt]}`,
  ).toBeLessThanOrEqual(1);
}

/** Max |x| of an array (to check a result is not trivially zero). */
export function maxAbs(x: Float32Array): number {
  let m = 0;
  for (const v of x) m = Math.max(m, Math.abs(v));
  return m;
}
