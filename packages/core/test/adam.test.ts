// The fused wasm Adam kernel (DenseHybridAdam) used by the training loop's optimiser: byte-for-
// byte the composed tfjs ops it replaces, and Adam itself against a float64 reference.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@densehybrid/tfjs-wasm-training';
import { GroupAdam } from '../src/train/adam.js';
import { values } from '../../tfjs-wasm-training/test/helpers.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

const SHAPES = [[3, 3, 8, 16], [7], [5, 3], [1]];
const STEPS = 3;
const LRS = [1e-3, 5e-4, 2e-4];

/** Runs STEPS updates (two groups, factors 1 and ¼) and returns w, m, v of every variable. */
function train(): Float32Array[] {
  const vars = SHAPES.map((s, i) =>
    tf.tidy(() => tf.variable(tf.tensor(values(tf.util.sizeFromShape(s), 40 + i), s))),
  );
  const adam = new GroupAdam([
    {
      name: 'a',
      variables: new Map([
        ['v0', vars[0]!],
        ['v1', vars[1]!],
      ]),
      learningRateFactor: 1,
    },
    {
      name: 'b',
      variables: new Map([
        ['v2', vars[2]!],
        ['v3', vars[3]!],
      ]),
      learningRateFactor: 0.25,
    },
  ]);
  for (let step = 0; step < STEPS; step++) {
    const grads = Object.fromEntries(
      vars.map((v, i) => [v.name, tf.tensor(values(v.size, 60 + 7 * step + i), v.shape)]),
    );
    adam.step(grads, LRS[step]!);
    tf.dispose(Object.values(grads));
  }
  const state = [...adam.stateVariables().values()];
  const out = [...vars, ...state].map((t) => t.dataSync().slice() as Float32Array);
  adam.dispose();
  tf.dispose(vars);
  return out;
}

describe('fused Adam (DenseHybridAdam on wasm)', () => {
  it('is byte-identical to the composed ops, SIMD body and scalar tail alike; no leaks', () => {
    const before = tf.memory().numTensors;
    const fused = train();
    const kernel = tf.getKernel('DenseHybridAdam', 'wasm');
    expect(kernel).toBeDefined();
    tf.unregisterKernel('DenseHybridAdam', 'wasm');
    let composed: Float32Array[];
    try {
      composed = train();
    } finally {
      tf.registerKernel(kernel!);
    }
    expect(fused).toHaveLength(composed.length);
    fused.forEach((a, i) =>
      expect(Buffer.from(a.buffer).equals(Buffer.from(composed[i]!.buffer))).toBe(true),
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('matches Adam in float64 (PyTorch form) to float32 rounding', () => {
    const got = train();
    SHAPES.forEach((s, i) => {
      const n = tf.util.sizeFromShape(s);
      const w = Float64Array.from(values(n, 40 + i));
      const m = new Float64Array(n);
      const v = new Float64Array(n);
      const factor = i < 2 ? 1 : 0.25;
      for (let step = 0; step < STEPS; step++) {
        const g = values(n, 60 + 7 * step + i);
        const t = step + 1;
        for (let j = 0; j < n; j++) {
          const gj = g[j]!;
          m[j] = 0.9 * m[j]! + 0.1 * gj;
          v[j] = 0.999 * v[j]! + 0.001 * gj * gj;
          const update = m[j]! / (1 - 0.9 ** t) / (Math.sqrt(v[j]! / (1 - 0.999 ** t)) + 1e-7);
          w[j] = w[j]! - LRS[step]! * factor * update;
        }
      }
      const gw = got[i]!;
      for (let j = 0; j < n; j++) expect(Math.abs(gw[j]! - w[j]!)).toBeLessThan(1e-6);
    });
  });
});
