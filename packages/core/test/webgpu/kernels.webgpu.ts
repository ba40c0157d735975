/**
 * Kernel and gradient agreement of tfjs' WebGPU backend (on Dawn) with the cpu backend, on the
 * ops a DenseHybrid training step uses, at small shapes. Each case computes y = f(inputs) and the
 * gradients of Σ y·r (r fixed random weights) with respect to every input, on both backends.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { upsampleBilinear } from '@densehybrid/losses';
import { expectClose, maxAbs, randomArray, runOn, useWebGpu } from './helpers.js';

interface Case {
  readonly name: string;
  readonly inputs: readonly (readonly number[])[];
  readonly f: (...xs: tf.Tensor[]) => tf.Tensor;
  /** Inputs with positive values only (e.g. a variance). */
  readonly positive?: readonly number[];
  /**
   * `'adjoint'`: f is linear in its one input; the reference gradient is Σ f(e_i)·r for each unit
   * input e_i, from forward passes on the cpu backend (tfjs 4.22's cpu ResizeBilinearGrad swaps
   * H and W, and no backend's honours halfPixelCenters, so the cpu gradient is no reference).
   */
  readonly gradReference?: 'adjoint';
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

const CASES: readonly Case[] = [
  {
    name: 'conv2d 3×3 stride 1 same',
    inputs: [
      [2, 7, 7, 3],
      [3, 3, 3, 4],
    ],
    f: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'),
  },
  {
    name: 'conv2d 3×3 stride 2 valid',
    inputs: [
      [2, 9, 8, 3],
      [3, 3, 3, 5],
    ],
    f: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'valid'),
  },
  {
    name: 'conv2d 1×1 (dense-layer bottleneck)',
    inputs: [
      [2, 5, 5, 6],
      [1, 1, 6, 8],
    ],
    f: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid'),
  },
  {
    name: 'conv2d 3×3 dilation 2 same',
    inputs: [
      [1, 8, 8, 2],
      [3, 3, 2, 3],
    ],
    f: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same', 'NHWC', 2),
  },
  {
    name: 'conv2d 7×7 stride 2 explicit pad 3 (stem)',
    inputs: [
      [1, 12, 12, 3],
      [7, 7, 3, 4],
    ],
    f: (x, w) =>
      tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, [
        [0, 0],
        [3, 3],
        [3, 3],
        [0, 0],
      ]),
  },
  {
    name: 'fused conv2d + bias + relu',
    inputs: [[2, 6, 6, 3], [3, 3, 3, 4], [4]],
    f: (x, w, b) =>
      tf.fused.conv2d({
        x: x as tf.Tensor4D,
        filter: w as tf.Tensor4D,
        bias: b as tf.Tensor1D,
        strides: 1,
        pad: 'same',
        activation: 'relu',
      }),
  },
  {
    name: 'depthwiseConv2d 3×3 stride 1 same, multiplier 2',
    inputs: [
      [2, 6, 6, 3],
      [3, 3, 3, 2],
    ],
    f: (x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'),
  },
  {
    name: 'depthwiseConv2d 3×3 stride 2 same',
    inputs: [
      [1, 7, 7, 4],
      [3, 3, 4, 1],
    ],
    f: (x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'),
  },
  {
    name: 'maxPool 3×3 stride 2 same',
    inputs: [[2, 7, 7, 3]],
    f: (x) => tf.maxPool(x as tf.Tensor4D, 3, 2, 'same'),
  },
  {
    name: 'maxPool 3×3 stride 2 pad 1 (stem)',
    inputs: [[1, 8, 8, 2]],
    f: (x) => tf.maxPool(x as tf.Tensor4D, 3, 2, 1),
  },
  {
    name: 'avgPool 2×2 stride 2 (transition)',
    inputs: [[2, 6, 6, 3]],
    f: (x) => tf.avgPool(x as tf.Tensor4D, 2, 2, 'valid'),
  },
  {
    name: 'resizeBilinear ×2 (native gradient kernel)',
    inputs: [[2, 3, 4, 2]],
    f: (x) => tf.image.resizeBilinear(x as tf.Tensor4D, [6, 8]),
    gradReference: 'adjoint',
  },
  {
    name: 'resizeBilinear to an odd size, align corners (native gradient kernel)',
    inputs: [[1, 5, 7, 2]],
    f: (x) => tf.image.resizeBilinear(x as tf.Tensor4D, [9, 13], true),
    gradReference: 'adjoint',
  },
  {
    name: 'upsampleBilinear ×4 half-pixel centres (@densehybrid/losses, exact adjoint)',
    inputs: [[1, 3, 4, 3]],
    f: (x) => upsampleBilinear(x as tf.Tensor4D, [12, 16]),
    gradReference: 'adjoint',
  },
  {
    name: 'logSoftmax over classes',
    inputs: [[2, 4, 4, 5]],
    f: (x) => tf.logSoftmax(tf.mul(x, 4)),
  },
  {
    name: 'logSumExp over classes, sigmoid and softplus (DenseHybrid terms)',
    inputs: [[2, 4, 4, 5]],
    f: (x) =>
      tf.add(
        tf.logSumExp(tf.mul(x, 3), -1),
        tf.add(tf.sigmoid(tf.sum(x, -1)), tf.softplus(tf.neg(tf.max(x, -1)))),
      ),
  },
  {
    name: 'batch norm from batch moments (training mode)',
    inputs: [[4, 3, 3, 5], [5], [5]],
    f: (x, gamma, beta) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return tf.batchNorm4d(
        x as tf.Tensor4D,
        mean as tf.Tensor1D,
        variance as tf.Tensor1D,
        beta as tf.Tensor1D,
        gamma as tf.Tensor1D,
        1e-5,
      );
    },
  },
  {
    name: 'batch norm from running statistics (inference mode)',
    inputs: [[2, 3, 3, 4], [4], [4], [4], [4]],
    positive: [2],
    f: (x, mean, variance, gamma, beta) =>
      tf.batchNorm4d(
        x as tf.Tensor4D,
        mean as tf.Tensor1D,
        variance as tf.Tensor1D,
        beta as tf.Tensor1D,
        gamma as tf.Tensor1D,
        1e-5,
      ),
  },
  {
    name: 'matMul, relu, concat (SPP pooling matrix, dense connectivity)',
    inputs: [
      [6, 4],
      [4, 3],
      [6, 2],
    ],
    f: (a, b, c) => tf.concat([tf.relu(tf.matMul(a, b)), c], 1),
  },
];

describe('webgpu kernels agree with the cpu backend', () => {
  beforeAll(async () => {
    await useWebGpu();
  });

  for (const [index, c] of CASES.entries()) {
    it(c.name, async () => {
      const data = c.inputs.map((shape, k) =>
        randomArray(
          size(shape),
          100 * index + k,
          c.positive?.includes(k) ? 0.5 : -1,
          c.positive?.includes(k) ? 2 : 1,
        ),
      );
      const outShape: number[] = [];
      const compute = (withGradients: boolean): tf.Tensor[] => {
        const xs = c.inputs.map((shape, k) => tf.tensor(data[k] as Float32Array, [...shape]));
        const y = c.f(...xs);
        outShape.splice(0, outShape.length, ...y.shape);
        if (!withGradients) return [y];
        const r = tf.tensor(randomArray(y.size, 7 + index), y.shape);
        const grads = tf.grads((...ins: tf.Tensor[]) => tf.sum(tf.mul(c.f(...ins), r)))(xs);
        return [y, ...grads];
      };
      const cpu = await runOn('cpu', () => compute(c.gradReference === undefined));
      if (c.gradReference === 'adjoint') {
        const shape = [...(c.inputs[0] as readonly number[])];
        const r = randomArray(size(outShape), 7 + index);
        const n = size(shape);
        const adjoint = await runOn('cpu', () => {
          const rows: tf.Tensor[] = [];
          for (let i = 0; i < n; i++) {
            const unit = new Float32Array(n);
            unit[i] = 1;
            rows.push(tf.sum(tf.mul(c.f(tf.tensor(unit, shape)), tf.tensor(r, outShape))));
          }
          return [tf.stack(rows)];
        });
        cpu.push(adjoint[0] as Float32Array);
      }
      const gpu = await runOn('webgpu', () => compute(true));
      expect(gpu.length).toBe(cpu.length);
      expectClose(gpu[0] as Float32Array, cpu[0] as Float32Array, `${c.name}: forward`);
      for (let k = 1; k < cpu.length; k++) {
        const expected = cpu[k] as Float32Array;
        expect(maxAbs(expected), `${c.name}: gradient ${k} is not trivially zero`).toBeGreaterThan(
          1e-3,
        );
        expectClose(gpu[k] as Float32Array, expected, `${c.name}: gradient of input ${k - 1}`);
      }
    });
  }

  it('the webgpu conv2d input and filter gradients match central finite differences', async () => {
    await tf.setBackend('webgpu');
    const shapes = { x: [1, 5, 5, 2], w: [3, 3, 2, 2] } as const;
    const data = { x: randomArray(50, 11), w: randomArray(36, 12) };
    const rData = randomArray(50, 13);
    const before = tf.memory().numTensors;
    // loss(x, w) = Σ sigmoid(conv(x, w))·r: nonlinear in both arguments.
    const loss = (x: tf.Tensor4D, w: tf.Tensor4D): tf.Scalar =>
      tf.sum(tf.mul(tf.sigmoid(tf.conv2d(x, w, 1, 'same')), tf.tensor4d(rData, [1, 5, 5, 2])));
    const tensors = (d: { x: Float32Array; w: Float32Array }) =>
      [tf.tensor4d(d.x, [...shapes.x]), tf.tensor4d(d.w, [...shapes.w])] as const;
    const grads = tf.tidy(() =>
      tf.grads((x, w) => loss(x as tf.Tensor4D, w as tf.Tensor4D))([...tensors(data)]),
    );
    const analytic = { x: await grads[0]!.data(), w: await grads[1]!.data() };
    const eps = 1e-2;
    for (const which of ['x', 'w'] as const) {
      for (const i of [0, 7, 19, 35]) {
        const plus = { ...data, [which]: Float32Array.from(data[which]) };
        const minus = { ...data, [which]: Float32Array.from(data[which]) };
        plus[which][i] = (plus[which][i] as number) + eps;
        minus[which][i] = (minus[which][i] as number) - eps;
        const diff = tf.tidy(() => tf.sub(loss(...tensors(plus)), loss(...tensors(minus))));
        const numeric = ((await diff.data())[0] as number) / (2 * eps);
        diff.dispose();
        expect(Math.abs(numeric)).toBeGreaterThan(1e-3);
        expect(analytic[which][i]).toBeCloseTo(numeric, 2);
      }
    }
    tf.dispose(grads);
    expect(tf.memory().numTensors).toBe(before);
  });
});
