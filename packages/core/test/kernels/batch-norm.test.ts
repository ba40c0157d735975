import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { DenseHybridError, batchNormTrain, initBackend } from '@densehybrid/core';
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
    batchNormTrain: (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      batchNormTrain(x, g, b, { epsilon: EPS }).y,
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

  it('batchNormTrain returns the batch statistics and normalises', () => {
    const out = tf.tidy(() => {
      const r = batchNormTrain(tf.tensor4d(xv, [...SHAPE]), tf.ones([C]), tf.zeros([C]));
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

  it('rejects a gamma that does not match the channels, naming it', () => {
    tf.tidy(() => {
      try {
        batchNormTrain(tf.zeros([2, 2, 2, 3]), tf.ones([4]), tf.zeros([3]));
        expect.unreachable();
      } catch (e) {
        expect(DenseHybridError.is(e) && e.code).toBe('SHAPE_MISMATCH');
        expect((e as Error).message).toMatch(/gamma of shape \[3\].*got \[4\]/);
      }
    });
  });
});
