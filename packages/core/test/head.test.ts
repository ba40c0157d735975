import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DenseHybridError,
  datasetPosteriorHead,
  type DatasetPosteriorHead,
} from '@densehybrid/core';
import { denseHybridLoss } from '@densehybrid/losses';
import { BACKENDS, useBackend, expectClose, numericGradient, randomArray } from './reference.js';

const C = 3;
const [N, h, w] = [2, 2, 3];
const P = N * h * w;

interface Params {
  gamma: Float64Array;
  beta: Float64Array;
  mean: Float64Array;
  variance: Float64Array;
  kernel: Float64Array;
  bias: Float64Array;
}

/** BN → ReLU → 1×1 conv in float64 (PyTorch semantics: biased batch variance in training). */
function headRef(x: Float64Array, p: Params, training: boolean, eps = 1e-5): Float64Array {
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    if (training) {
      let m = 0;
      for (let i = 0; i < P; i++) m += x[i * C + c] as number;
      m /= P;
      let v = 0;
      for (let i = 0; i < P; i++) v += ((x[i * C + c] as number) - m) ** 2;
      mean[c] = m;
      variance[c] = v / P;
    } else {
      mean[c] = p.mean[c] as number;
      variance[c] = p.variance[c] as number;
    }
  }
  const out = new Float64Array(P);
  for (let i = 0; i < P; i++) {
    let acc = p.bias[0] as number;
    for (let c = 0; c < C; c++) {
      const z =
        (((x[i * C + c] as number) - (mean[c] as number)) /
          Math.sqrt((variance[c] as number) + eps)) *
          (p.gamma[c] as number) +
        (p.beta[c] as number);
      acc += Math.max(z, 0) * (p.kernel[c] as number);
    }
    out[i] = acc;
  }
  return out;
}

function randomParams(seed: number): Params {
  return {
    gamma: randomArray(C, seed, 0.5, 1.5),
    beta: randomArray(C, seed + 1, -0.5, 0.5),
    mean: randomArray(C, seed + 2, -1, 1),
    variance: randomArray(C, seed + 3, 0.5, 2),
    kernel: randomArray(C, seed + 4, -1, 1),
    bias: randomArray(1, seed + 5, -1, 1),
  };
}

function load(head: DatasetPosteriorHead, p: Params): void {
  const set = (name: string, v: Float64Array, shape: number[]): void => {
    const t = tf.tensor(Float32Array.from(v), shape);
    head.variables.get(`posterior_head.${name}`)!.assign(t);
    t.dispose();
  };
  set('bn.weight', p.gamma, [C]);
  set('bn.bias', p.beta, [C]);
  set('bn.running_mean', p.mean, [C]);
  set('bn.running_var', p.variance, [C]);
  set('conv.weight', p.kernel, [1, 1, C, 1]);
  set('conv.bias', p.bias, [1]);
}

for (const backend of BACKENDS) {
  describe(`datasetPosteriorHead on ${backend}`, () => {
    beforeAll(async () => {
      expect(await useBackend(backend)).toBe(true);
    });

    it('exposes named variables with PyTorch-style names and HWIO conv weight; dispose frees them', () => {
      const before = tf.memory().numTensors;
      const head = datasetPosteriorHead({ channels: C, seed: 1 });
      expect([...head.variables.keys()]).toEqual([
        'posterior_head.bn.weight',
        'posterior_head.bn.bias',
        'posterior_head.bn.running_mean',
        'posterior_head.bn.running_var',
        'posterior_head.conv.weight',
        'posterior_head.conv.bias',
      ]);
      expect(head.variables.get('posterior_head.conv.weight')!.shape).toEqual([1, 1, C, 1]);
      expect(head.variables.get('posterior_head.bn.running_var')!.trainable).toBe(false);
      expect(head.trainableVariables()).toHaveLength(4);
      expect(head.trainableVariables().every((v) => v.trainable)).toBe(true);
      const other = datasetPosteriorHead({ channels: C, name: 'g' }); // two heads coexist
      expect([...other.variables.keys()][0]).toBe('g.bn.weight');
      expect(tf.memory().numTensors).toBe(before + 12);
      head.dispose();
      other.dispose();
      expect(tf.memory().numTensors).toBe(before);
      expect(() => head.apply(tf.zeros([1, 1, 1, C]) as tf.Tensor4D)).toThrow(/disposed/);
    });

    it('inference mode: BN with running statistics → ReLU → 1×1 conv matches float64', async () => {
      const head = datasetPosteriorHead({ channels: C });
      const p = randomParams(40);
      load(head, p);
      const xv = randomArray(P * C, 41);
      const x = tf.tensor4d(Float32Array.from(xv), [N, h, w, C]);
      const before = tf.memory().numTensors;
      const y = head.apply(x);
      expect(tf.memory().numTensors).toBe(before + 1);
      expect(y.shape).toEqual([N, h, w, 1]);
      expectClose(await y.data(), headRef(xv, p, false), 1e-5, 1e-5);
      // inference does not touch the running statistics
      expectClose(
        await head.variables.get('posterior_head.bn.running_mean')!.data(),
        p.mean,
        1e-7,
        0,
      );
      tf.dispose([x, y]);
      head.dispose();
    });

    it('training mode: batch statistics, and running stats updated with momentum 0.1 and unbiased variance', async () => {
      const head = datasetPosteriorHead({ channels: C });
      const p = randomParams(50);
      load(head, p);
      const xv = randomArray(P * C, 51);
      const x = tf.tensor4d(Float32Array.from(xv), [N, h, w, C]);
      const y = head.apply(x, { training: true });
      expectClose(await y.data(), headRef(xv, p, true), 1e-5, 1e-4);
      const rm = await head.variables.get('posterior_head.bn.running_mean')!.data();
      const rv = await head.variables.get('posterior_head.bn.running_var')!.data();
      for (let c = 0; c < C; c++) {
        const col = Array.from({ length: P }, (_, i) => xv[i * C + c] as number);
        const m = col.reduce((a, b) => a + b, 0) / P;
        const unbiased = col.reduce((a, b) => a + (b - m) ** 2, 0) / (P - 1);
        expect(rm[c]).toBeCloseTo(0.9 * (p.mean[c] as number) + 0.1 * m, 5);
        expect(rv[c]).toBeCloseTo(0.9 * (p.variance[c] as number) + 0.1 * unbiased, 5);
      }
      tf.dispose([x, y]);
      head.dispose();
    });

    it('gradients wrt pre-logits and every trainable variable match central differences (training mode)', async () => {
      const head = datasetPosteriorHead({ channels: C });
      const p = randomParams(60);
      load(head, p);
      const xv = randomArray(P * C, 61);
      const weights = randomArray(P, 62);
      const x = tf.tensor4d(Float32Array.from(xv), [N, h, w, C]);
      const wt = tf.tensor4d(Float32Array.from(weights), [N, h, w, 1]);
      const loss = (input: tf.Tensor4D): tf.Scalar =>
        tf.sum(tf.mul(head.apply(input, { training: true }), wt));
      const refLoss = (xx: Float64Array, pp: Params): number =>
        headRef(xx, pp, true).reduce((a, v, i) => a + v * (weights[i] as number), 0);
      const before = tf.memory().numTensors;
      const [dx] = tf.grads((a: tf.Tensor) => loss(a as tf.Tensor4D))([x]);
      expectClose(
        await dx!.data(),
        numericGradient((xx) => refLoss(xx, p), xv),
        1e-4,
        2e-3,
      );
      const { value, grads } = tf.variableGrads(() => loss(x), head.trainableVariables());
      const names: [keyof Params, string][] = [
        ['gamma', 'bn.weight'],
        ['beta', 'bn.bias'],
        ['kernel', 'conv.weight'],
        ['bias', 'conv.bias'],
      ];
      for (const [key, name] of names) {
        const v = head.variables.get(`posterior_head.${name}`)!;
        const numeric = numericGradient((val) => refLoss(xv, { ...p, [key]: val }), p[key]);
        expectClose(await grads[v.name]!.data(), numeric, 1e-4, 2e-3);
      }
      tf.dispose([dx!, value, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, wt]);
      head.dispose();
    });

    it('trains with denseHybridLoss: a few Adam steps separate outlier from inlier pixels', async () => {
      const head = datasetPosteriorHead({ channels: C, seed: 3 });
      // pre-logits: outlier pixels have a shifted first channel
      const labels = tf.tensor3d(
        Int32Array.from({ length: P }, (_, i) => (i % 3 === 0 ? 4 : i % 4)),
        [N, h, w],
        'int32',
      );
      const xv = randomArray(P * C, 70, -0.5, 0.5);
      for (let i = 0; i < P; i += 3) xv[i * C] = (xv[i * C] as number) + 3;
      const x = tf.tensor4d(Float32Array.from(xv), [N, h, w, C]);
      const logits = tf.zeros([N, h, w, 4]) as tf.Tensor4D;
      const opt = tf.train.adam(0.05);
      const step = (): number => {
        const cost = opt.minimize(
          () =>
            denseHybridLoss(
              { logits, posteriorLogits: head.apply(x, { training: true }), labels },
              { beta: 1 },
            ).posterior,
          true,
          head.trainableVariables(),
        )!;
        const v = cost.dataSync()[0] as number;
        cost.dispose();
        return v;
      };
      const before = tf.memory().numTensors;
      const first = step();
      let last = first;
      for (let i = 0; i < 20; i++) last = step();
      expect(last).toBeLessThan(first * 0.5);
      expect(tf.memory().numTensors).toBe(before + 8); // Adam's two slots × 4 variables
      tf.dispose([labels, x, logits]);
      opt.dispose();
      head.dispose();
    });

    it('rejects bad options and inputs', () => {
      expect(() => datasetPosteriorHead({ channels: 0 })).toThrow(
        'datasetPosteriorHead: expected options.channels to be a positive integer, got 0',
      );
      expect(() => datasetPosteriorHead({ channels: 2, momentum: 2 })).toThrow(
        /momentum to be a number in \[0, 1\], got 2/,
      );
      const head = datasetPosteriorHead({ channels: C });
      const wrong = tf.zeros([1, 2, 2, C + 1]) as tf.Tensor4D;
      let err: unknown;
      try {
        head.apply(wrong);
      } catch (e) {
        err = e;
      }
      expect(DenseHybridError.is(err)).toBe(true);
      expect((err as DenseHybridError).code).toBe('SHAPE_MISMATCH');
      expect((err as Error).message).toBe(
        'datasetPosteriorHead.apply: expected preLogits to have 3 channels, got [1,2,2,4]',
      );
      expect(() => head.apply(tf.zeros([2, 3]) as never)).toThrow(
        /float32 tensor \[N,h,w,3\], got Tensor\[2,3\] float32/,
      );
      tf.dispose(wrong);
      head.dispose();
    });
  });
}
