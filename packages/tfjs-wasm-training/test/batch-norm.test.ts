import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import { batchNormTraining, initBackend } from '@densehybrid/tfjs-wasm-training';
import { values } from './helpers.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

const SHAPE = [2, 3, 4, 3] as const; // N, H, W, C
const C = 3;
const EPS = 1e-5;

/** Σ r·BN(x) in float64, plain JavaScript: an independent reference. */
function lossF64(x: Float64Array, g: Float64Array, b: Float64Array, r: Float32Array): number {
  const m = x.length / C;
  let loss = 0;
  for (let c = 0; c < C; c++) {
    let mean = 0;
    for (let i = c; i < x.length; i += C) mean += x[i] as number;
    mean /= m;
    let v = 0;
    for (let i = c; i < x.length; i += C) v += ((x[i] as number) - mean) ** 2;
    v /= m;
    for (let i = c; i < x.length; i += C)
      loss +=
        (r[i] as number) *
        ((g[c] as number) * (((x[i] as number) - mean) / Math.sqrt(v + EPS)) + (b[c] as number));
  }
  return loss;
}

/** Central differences (float64) of lossF64 with respect to x, gamma and beta. */
function referenceGrads(x: Float32Array, g: Float32Array, b: Float32Array, r: Float32Array) {
  const args = [Float64Array.from(x), Float64Array.from(g), Float64Array.from(b)] as const;
  return args.map((a) => {
    const out = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++) {
      const keep = a[i] as number;
      a[i] = keep + 1e-6;
      const plus = lossF64(...args, r);
      a[i] = keep - 1e-6;
      const minus = lossF64(...args, r);
      a[i] = keep;
      out[i] = (plus - minus) / 2e-6;
    }
    return out;
  });
}

function maxRelErr(got: Float32Array, ref: Float64Array): number {
  let scale = 0;
  let err = 0;
  ref.forEach((v, i) => {
    scale = Math.max(scale, Math.abs(v));
    err = Math.max(err, Math.abs((got[i] as number) - v));
  });
  return err / scale;
}

describe('batch norm gradients', () => {
  const size = SHAPE.reduce((a, b) => a * b, 1);
  const xv = Float32Array.from(values(size, 21), (v, i) => v * (1 + (i % C)) + (i % C));
  const gv = Float32Array.from([0.5, 1.5, -1]);
  const bv = Float32Array.from([0.1, -0.2, 0.3]);
  const rv = values(size, 22);
  const ref = referenceGrads(xv, gv, bv, rv);

  const variants = {
    batchNormTraining: (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      batchNormTraining(x, g, b, EPS).y,
    'tf.moments + tf.batchNorm (Tile-free FusedBatchNorm gradient)': (
      x: tf.Tensor,
      g: tf.Tensor,
      b: tf.Tensor,
    ) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return tf.batchNorm(x, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, EPS);
    },
  };

  for (const backend of ['wasm', 'cpu'] as const) {
    for (const [name, f] of Object.entries(variants)) {
      it(`${name} on ${backend} matches float64 central differences`, async () => {
        await tf.setBackend(backend);
        const before = tf.memory().numTensors;
        const grads = tf.tidy(() => {
          const r = tf.tensor4d(rv, [...SHAPE]);
          return tf
            .grads((x, g, b) => tf.sum(tf.mul(f(x, g, b), r)))([
              tf.tensor4d(xv, [...SHAPE]),
              tf.tensor1d(gv),
              tf.tensor1d(bv),
            ])
            .map((t) => t.dataSync() as Float32Array);
        });
        grads.forEach((gr, i) => expect(maxRelErr(gr, ref[i] as Float64Array)).toBeLessThan(1e-3));
        expect(tf.memory().numTensors).toBe(before);
      });
    }
  }

  it('batchNormTraining returns the batch statistics and normalises', () => {
    const out = tf.tidy(() => {
      const r = batchNormTraining(tf.tensor4d(xv, [...SHAPE]), tf.ones([C]), tf.zeros([C]), EPS);
      const { mean, variance } = tf.moments(r.y, [0, 1, 2]);
      return [r.mean, r.variance, mean, variance].map((t) => Array.from(t.dataSync()));
    });
    const [mean, variance, yMean, yVar] = out as [number[], number[], number[], number[]];
    for (let c = 0; c < C; c++) {
      let m = 0;
      for (let i = c; i < xv.length; i += C) m += xv[i] as number;
      m /= xv.length / C;
      expect(mean[c]).toBeCloseTo(m, 4);
      expect(variance[c]).toBeGreaterThan(0);
      expect(yMean[c]).toBeCloseTo(0, 4);
      expect(yVar[c]).toBeCloseTo(1, 3);
    }
  });

  it('rejects x of rank < 2 and a negative epsilon, naming them', () => {
    tf.tidy(() => {
      const codeOf = (f: () => unknown) => {
        try {
          f();
        } catch (e) {
          return DenseHybridError.is(e) ? `${e.code}: ${e.message}` : String(e);
        }
        return 'no error';
      };
      expect(codeOf(() => batchNormTraining(tf.zeros([3]), tf.ones([3]), tf.zeros([3]), EPS))).toBe(
        'INVALID_INPUT: batchNormTraining: expected x of rank >= 2 ([..., C]), got shape [3]',
      );
      expect(
        codeOf(() => batchNormTraining(tf.zeros([2, 3]), tf.ones([3]), tf.zeros([3]), -1)),
      ).toBe(
        'INVALID_OPTION: batchNormTraining: expected epsilon to be a finite number >= 0, got -1',
      );
    });
  });

  it('rejects a gamma that does not match the channels, naming it', () => {
    tf.tidy(() => {
      try {
        batchNormTraining(tf.zeros([2, 2, 2, 3]), tf.ones([4]), tf.zeros([3]), EPS);
        expect.unreachable();
      } catch (e) {
        expect(DenseHybridError.is(e) && e.code).toBe('SHAPE_MISMATCH');
        expect((e as Error).message).toMatch(/gamma of shape \[3\].*got \[4\]/);
      }
    });
  });
});

describe('fused batch norm on wasm (BATCH_NORM_KERNELS: SIMD passes, or JS loops when C % 4 ≠ 0)', () => {
  // Channels with large offsets and different spreads: the (x − μ) form must not lose digits.
  const input = (shape: readonly number[], seed: number) => {
    const c = shape[shape.length - 1] as number;
    return Float32Array.from(
      values(
        shape.reduce((a, b) => a * b, 1),
        seed,
      ),
      (v, i) => v * (0.5 + (i % c)) + 10 * ((i % c) - c / 2),
    );
  };
  const run = (shape: number[]) => {
    const c = shape[shape.length - 1] as number;
    const x = tf.tensor(input(shape, 31), shape);
    const g = tf.tensor1d(Float32Array.from({ length: c }, (_, i) => 0.5 + 0.1 * i));
    const b = tf.tensor1d(Float32Array.from({ length: c }, (_, i) => 0.2 * i - 1));
    const r = tf.tensor(values(x.size, 32), shape);
    const { y, mean, variance } = batchNormTraining(x, g, b, EPS);
    const grads = tf.grads((xi: tf.Tensor, gi: tf.Tensor, bi: tf.Tensor) =>
      tf.sum(tf.mul(batchNormTraining(xi, gi, bi, EPS).y, r)),
    )([x, g, b]);
    return [y, mean, variance, ...grads];
  };

  /** y, mean, variance, ∂x, ∂γ, ∂β in float64, closed forms (an independent reference). */
  const reference = (shape: number[]) => {
    const c = shape[shape.length - 1] as number;
    const x = Float64Array.from(input(shape, 31));
    const r = Float64Array.from(values(x.length, 32));
    const g = Float64Array.from({ length: c }, (_, i) => Math.fround(0.5 + 0.1 * i));
    const b = Float64Array.from({ length: c }, (_, i) => Math.fround(0.2 * i - 1));
    const m = x.length / c;
    const mean = new Float64Array(c);
    const variance = new Float64Array(c);
    const add = (a: Float64Array, i: number, v: number) => (a[i] = (a[i] as number) + v);
    x.forEach((v, i) => add(mean, i % c, v / m));
    x.forEach((v, i) => add(variance, i % c, (v - (mean[i % c] as number)) ** 2 / m));
    const rstd = Array.from(variance, (v) => 1 / Math.sqrt(v + EPS));
    const xhat = Float64Array.from(
      x,
      (v, i) => (v - (mean[i % c] as number)) * (rstd[i % c] as number),
    );
    const y = Float64Array.from(xhat, (v, i) => v * (g[i % c] as number) + (b[i % c] as number));
    const dBeta = new Float64Array(c);
    const dGamma = new Float64Array(c);
    r.forEach((v, i) => {
      add(dBeta, i % c, v);
      add(dGamma, i % c, v * (xhat[i] as number));
    });
    const dx = Float64Array.from(r, (v, i) => {
      const k = i % c;
      return (
        (((g[k] as number) * (rstd[k] as number)) / m) *
        (m * v - (dBeta[k] as number) - (xhat[i] as number) * (dGamma[k] as number))
      );
    });
    return [y, mean, variance, dx, dGamma, dBeta];
  };
  const relErr = (got: Float32Array, ref: Float64Array) => {
    let scale = 0;
    let err = 0;
    ref.forEach((v, j) => {
      scale = Math.max(scale, Math.abs(v));
      err = Math.max(err, Math.abs((got[j] as number) - v));
    });
    return err / scale;
  };

  it.each([[[2, 5, 7, 8]], [[3, 4, 4, 12]], [[1, 9, 11, 36]], [[2, 3, 5, 6]], [[40, 16]]])(
    'x %j: y, statistics and gradients match float64 closed forms to float32 rounding; no leaks',
    async (shape) => {
      const ref = reference(shape);
      await tf.setBackend('cpu');
      const cpu = tf.tidy(() => run(shape).map((t) => t.dataSync() as Float32Array));
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      const got = tf.tidy(() => run(shape).map((t) => t.dataSync() as Float32Array));
      expect(tf.memory().numTensors).toBe(before);
      got.forEach((g, i) => {
        const err = relErr(g, ref[i] as Float64Array);
        const cpuErr = relErr(cpu[i] as Float32Array, ref[i] as Float64Array);
        // float32 rounding: ~1e-5 relative (the cpu path's composed ops: ~0.3–1×10⁻⁵)
        expect(err).toBeLessThanOrEqual(Math.max(3e-5, 4 * cpuErr));
      });
    },
  );

  it('runs as the fused kernels on wasm (no Mean / Sub / Square of the composed version)', async () => {
    await tf.setBackend('wasm');
    const info = await tf.profile(() =>
      tf.tidy(() => run([2, 5, 7, 8]).map((t) => tf.keep(t.clone()))),
    );
    const names = new Set(info.kernels.map((k) => k.name));
    for (const k of [
      'DenseHybridBatchMoments',
      'DenseHybridBatchNormApply',
      'DenseHybridBatchNormGrad',
    ])
      expect(names).toContain(k);
    expect(names).not.toContain('Square');
    tf.dispose(info.result as tf.Tensor[]);
  });
});
