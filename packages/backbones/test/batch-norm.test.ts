import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchNorm2d } from '@densehybrid/backbones';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

/** Plain float64 training-mode batch norm, for finite differences. */
function plainBn(
  x: Float64Array,
  shape: number[],
  gamma: Float64Array,
  beta: Float64Array,
  eps: number,
): Float64Array {
  const c = shape[3]!;
  const n = x.length / c;
  const y = new Float64Array(x.length);
  for (let k = 0; k < c; k++) {
    let s = 0;
    for (let p = 0; p < n; p++) s += x[p * c + k]!;
    const mean = s / n;
    let v = 0;
    for (let p = 0; p < n; p++) v += (x[p * c + k]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / n + eps);
    for (let p = 0; p < n; p++) y[p * c + k] = (x[p * c + k]! - mean) * inv * gamma[k]! + beta[k]!;
  }
  return y;
}

describe('batchNorm2d', () => {
  it('training-mode gradients (x, weight, bias) match central finite differences of a float64 reference', () => {
    const shape: [number, number, number, number] = [2, 3, 2, 3];
    const eps = 1e-5;
    const x = tf.randomNormal(shape, 0.5, 2, 'float32', 1) as tf.Tensor4D;
    const weight = tf.tensor1d([1.5, -0.7, 0.9]);
    const bias = tf.tensor1d([0.1, 0.2, -0.3]);
    const dy = tf.randomNormal(shape, 0, 1, 'float32', 2) as tf.Tensor4D;
    const runningMean = tf.variable(tf.zeros([3]));
    const runningVar = tf.variable(tf.ones([3]));
    const params = { runningMean, runningVar, momentum: 0.1, epsilon: eps };
    const grads = tf.grads((a: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
      batchNorm2d(
        a as tf.Tensor4D,
        { ...params, weight: w as tf.Tensor1D, bias: b as tf.Tensor1D },
        { training: true },
      ),
    )([x, weight, bias], dy);
    const [gx, gw, gb] = grads.map((g) => g.dataSync());
    // f(x, w, b) = <BN(x; w, b), dy>; its gradient is the vector-Jacobian product above.
    const X = Float64Array.from(x.dataSync());
    const W = Float64Array.from(weight.dataSync());
    const B = Float64Array.from(bias.dataSync());
    const DY = dy.dataSync();
    const f = (xs: Float64Array, ws: Float64Array, bs: Float64Array): number =>
      plainBn(xs, shape, ws, bs, eps).reduce((s, v, i) => s + v * DY[i]!, 0);
    const h = 1e-5;
    const fd = (arr: Float64Array, i: number, call: () => number): number => {
      const keep = arr[i]!;
      arr[i] = keep + h;
      const up = call();
      arr[i] = keep - h;
      const down = call();
      arr[i] = keep;
      return (up - down) / (2 * h);
    };
    const call = (): number => f(X, W, B);
    for (let i = 0; i < X.length; i++) expect(gx![i]).toBeCloseTo(fd(X, i, call), 3);
    for (let i = 0; i < 3; i++) expect(gw![i]).toBeCloseTo(fd(W, i, call), 3);
    for (let i = 0; i < 3; i++) expect(gb![i]).toBeCloseTo(fd(B, i, call), 3);
    // The running statistics moved towards the batch statistics.
    expect(runningMean.dataSync()[0]).not.toBe(0);
    tf.dispose([x, weight, bias, dy, runningMean, runningVar, ...grads]);
  });

  it('inference mode uses the running statistics; no tensors are left behind', () => {
    const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const params = {
      weight: tf.tensor1d([2]),
      bias: tf.tensor1d([1]),
      runningMean: tf.variable(tf.tensor1d([2])),
      runningVar: tf.variable(tf.tensor1d([4])),
      momentum: 0.1,
      epsilon: 0,
    };
    const before = tf.memory().numTensors;
    const y = batchNorm2d(x, params);
    expect([...y.dataSync()]).toEqual([0, 1, 2, 3]); // (x − 2)/2·2 + 1
    y.dispose();
    const t = batchNorm2d(x, params, { training: true });
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // mean 2.5, unbiased variance 5/3: 0.9·2 + 0.1·2.5, 0.9·4 + 0.1·5/3
    expect(params.runningMean.dataSync()[0]).toBeCloseTo(2.05, 5);
    expect(params.runningVar.dataSync()[0]).toBeCloseTo(3.6 + 0.5 / 3, 5);
    tf.dispose([x, params.weight, params.bias, params.runningMean, params.runningVar]);
  });
});
