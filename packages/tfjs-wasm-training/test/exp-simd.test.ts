// wasm Exp through the WebAssembly SIMD kernel (src/kernels/simd/exp.ts) against float64 Math.exp:
// a dense sweep of the whole float32 range where exp is neither 0 nor +Inf, special values,
// sizes that exercise the n mod 4 tail, the fallback for int32, the gradient, and no leaks.
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, WASM_TRAINING_KERNELS } from '@densehybrid/tfjs-wasm-training';
import { values } from './helpers.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

const FLT_MIN = 2 ** -126;
const SUBNORMAL_ULP = 2 ** -149;
const FLT_MAX = 3.4028234663852886e38;
/** The largest float32 whose exp is finite, and the next one (whose exp overflows). */
const LAST_FINITE = 88.72283172607422;
const FIRST_OVERFLOW = 88.72283935546875;

const SPECIAL = [
  0,
  -0,
  Infinity,
  -Infinity,
  NaN,
  1e-45,
  -1e-45,
  1e-38,
  -1e-38,
  1e-7,
  -1e-7,
  0.5 * Math.LN2,
  -0.5 * Math.LN2,
  1,
  -1,
  LAST_FINITE,
  FIRST_OVERFLOW,
  88.7228,
  89,
  100,
  1e30,
  FLT_MAX,
  -87.33654, // ≈ ln FLT_MIN: the normal/subnormal boundary
  -87.3365478515625,
  -100,
  -103.972, // ≈ the smallest subnormal
  -103.98,
  -104,
  -200,
  -1e30,
  -FLT_MAX,
];

/** tf.exp of `xs` on wasm, read back. */
function wasmExp(xs: Float32Array): Float32Array {
  return tf.tidy(() => tf.exp(tf.tensor1d(xs)).dataSync() as Float32Array);
}

/**
 * Checks `got[i]` against float64 exp of the float32 `xs[i]`: relative error ≤ 2e-7 where the
 * float32 result is normal, exactly +Inf where it overflows, NaN for NaN, and within one
 * subnormal step (2⁻¹⁴⁹) of the exact value below the normal range (subnormal results are
 * produced, not flushed to zero; exp(x) < 2⁻¹⁵⁰ gives 0). Returns the largest relative error
 * over normal results.
 */
function check(xs: Float32Array, got: Float32Array): number {
  expect(got.length).toBe(xs.length);
  let worst = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i] as number;
    const y = got[i] as number;
    const e = Math.exp(x);
    const where = `exp(${x}) = ${y}, expected ${e}`;
    if (Number.isNaN(x)) {
      if (!Number.isNaN(y)) expect.fail(where);
    } else if (Math.fround(e) === Infinity) {
      if (y !== Infinity) expect.fail(where);
    } else if (e < FLT_MIN) {
      if (!(Math.abs(y - e) <= SUBNORMAL_ULP)) expect.fail(where);
    } else {
      const rel = Math.abs(y - e) / e;
      if (!(rel <= 2e-7)) expect.fail(`${where}: relative error ${rel}`);
      worst = Math.max(worst, rel);
    }
  }
  return worst;
}

describe('wasm Exp (WebAssembly SIMD)', () => {
  it('is registered as the wasm Exp kernel', () => {
    const config = WASM_TRAINING_KERNELS.find((k) => k.kernelName === 'Exp');
    expect(config?.backendName).toBe('wasm');
    expect(tf.getKernel('Exp', 'wasm')?.kernelFunc).toBe(config?.kernelFunc);
  });

  it('matches float64 Math.exp to 2e-7 over a dense sweep of [-104, 89]', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const n = 1 << 20;
    const xs = new Float32Array(n + 3); // n mod 4 = 3: a tail too
    for (let i = 0; i < xs.length; i++) xs[i] = -104 + (193 * i) / n;
    const worst = check(xs, wasmExp(xs));
    expect(worst).toBeGreaterThan(0); // a float32 result is rarely exact
    expect(tf.memory().numTensors).toBe(before);
  });

  it('matches near 0 (where exp(x) − 1 ≈ x) and around the ends of the range', async () => {
    await tf.setBackend('wasm');
    const xs: number[] = [];
    for (let k = -45; k <= 1; k++) xs.push(10 ** k, -(10 ** k));
    // Every float32 at the overflow edge, the normal/subnormal edge and the underflow edge.
    const bits = new Int32Array(1);
    const f = new Float32Array(bits.buffer);
    // (−103.279 ≈ ln 2⁻¹⁴⁹, −103.972 ≈ ln 2⁻¹⁵⁰: where results become 2⁻¹⁴⁹, then 0.)
    for (const centre of [LAST_FINITE, -87.33654, -103.279, -103.972]) {
      f[0] = centre;
      const c = bits[0] as number;
      for (let d = -2000; d <= 2000; d++) {
        bits[0] = c + d;
        xs.push(f[0] as number);
      }
    }
    check(Float32Array.from(xs), wasmExp(Float32Array.from(xs)));
  });

  it('handles special values: ±0, ±Inf, NaN, tiny, the float32 bounds', async () => {
    await tf.setBackend('wasm');
    const xs = Float32Array.from(SPECIAL);
    const got = wasmExp(xs);
    check(xs, got);
    const at = (x: number) => got[SPECIAL.findIndex((s) => Object.is(s, x))];
    expect(at(0)).toBe(1);
    expect(at(-0)).toBe(1);
    expect(at(Infinity)).toBe(Infinity);
    expect(at(-Infinity)).toBe(0);
    expect(at(NaN)).toBeNaN();
    expect(at(LAST_FINITE)).toBeLessThan(Infinity);
    expect(at(FIRST_OVERFLOW)).toBe(Infinity);
    expect(at(-103.972)).toBe(2 ** -149); // subnormal, not flushed
  });

  it.each([1, 2, 3, 4, 5, 7, 8, 1000, 1001])(
    'size %i (vector loop and n mod 4 tail)',
    async (n) => {
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      const xs = values(n, n).map((v) => v * 40);
      // Special values in the last lanes, which go through the tail.
      for (let i = 0; i < Math.min(n, 3); i++)
        xs[n - 1 - i] = [NaN, Infinity, -Infinity][i] as number;
      check(xs, wasmExp(xs));
      expect(tf.memory().numTensors).toBe(before);
    },
  );

  it('keeps shapes (also empty) and falls back to tfjs for int32', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const shapes = tf.tidy(() => [
      tf.exp(tf.zeros([3, 0, 2])).shape,
      tf.exp(tf.ones([2, 3, 5])).shape,
    ]);
    expect(shapes).toEqual([
      [3, 0, 2],
      [2, 3, 5],
    ]);
    const ints = tf.tidy(() => {
      const y = tf.exp(tf.tensor1d([0, 1, 2, -1, 3], 'int32'));
      return { dtype: y.dtype, data: Array.from(y.dataSync()) };
    });
    expect(ints.dtype).toBe('float32');
    ints.data.forEach((y, i) => expect(y).toBeCloseTo(Math.exp([0, 1, 2, -1, 3][i] as number), 5));
    const grid = tf.tidy(() =>
      tf
        .exp(
          tf.tensor2d([
            [0, 1],
            [2, 3],
          ]),
        )
        .arraySync(),
    );
    expect(grid[1]?.[1]).toBeCloseTo(Math.exp(3), 4);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gradient: d/dx Σ exp(x) = exp(x), no leaks', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const xs = values(4 * 13 * 7, 21).map((v) => v * 30);
    const [y, g] = tf.tidy(() => {
      const x = tf.tensor3d(xs, [4, 13, 7]);
      const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.exp(a)))(x);
      expect(dx.shape).toEqual([4, 13, 7]);
      return [tf.sum(tf.exp(x)).dataSync()[0] as number, dx.dataSync() as Float32Array];
    });
    check(xs, g as Float32Array);
    let sum = 0;
    for (const x of xs) sum += Math.exp(x);
    expect(Math.abs((y as number) - sum) / sum).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(before);
  });
});
