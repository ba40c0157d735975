import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, registerTrainingKernels } from '@densehybrid/tfjs-wasm-training';
import { on, relErr, values } from './helpers.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

type Case = {
  k: number;
  s: number;
  d: number;
  pad: 'same' | 'valid';
  m: number;
  depthwise: boolean;
};
const cases: Case[] = [];
for (const depthwise of [false, true])
  for (const k of [1, 3, 5])
    for (const [s, d] of [
      [1, 1],
      [2, 1],
      [1, 2],
    ] as const)
      for (const pad of ['same', 'valid'] as const)
        for (const m of depthwise ? [1, 2] : [1]) cases.push({ k, s, d, pad, m, depthwise });

const X_SHAPE: [number, number, number, number] = [2, 11, 10, 3]; // batch > 1, non-square, odd/even

/** ∂/∂x and ∂/∂w of Σ conv(x, w)·r, r a fixed random cotangent. */
function grads(c: Case): tf.Tensor[] {
  const fShape: [number, number, number, number] = [c.k, c.k, 3, c.depthwise ? c.m : 4];
  const x = tf.tensor4d(values(tf.util.sizeFromShape(X_SHAPE), 1), X_SHAPE);
  const w = tf.tensor4d(values(tf.util.sizeFromShape(fShape), 2), fShape);
  const f = (a: tf.Tensor4D, b: tf.Tensor4D) =>
    c.depthwise
      ? tf.depthwiseConv2d(a, b, c.s, c.pad, 'NHWC', c.d)
      : tf.conv2d(a, b, c.s, c.pad, 'NHWC', c.d);
  const yShape = f(x, w).shape;
  const r = tf.tensor(values(tf.util.sizeFromShape(yShape), 3), yShape);
  return tf.grads((a, b) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D), r)))([x, w]);
}

describe('wasm conv / depthwise backprop kernels match the cpu backend', () => {
  it.each(
    cases.map((c) => [
      `${c.depthwise ? `depthwise m${c.m}` : 'conv'} k${c.k} s${c.s} d${c.d} ${c.pad}`,
      c,
    ]),
  )('%s', async (_name, c) => {
    const before = tf.memory().numTensors;
    const ref = await on('cpu', () => grads(c as Case));
    const got = await on('wasm', () => grads(c as Case));
    expect(relErr(got[0] as Float32Array, ref[0] as Float32Array)).toBeLessThanOrEqual(1e-4);
    expect(relErr(got[1] as Float32Array, ref[1] as Float32Array)).toBeLessThanOrEqual(1e-4);
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each([[[3, 9, 13, 5]], [[2, 7, 6, 17]]])(
    'Conv2DBackpropInput and Conv2DBackpropFilter kernels agree with cpu when called directly (stride 2, x %j)',
    async (shape) => {
      const xs = shape as [number, number, number, number];
      const fs: [number, number, number, number] = [3, 3, xs[3], 6];
      const run = () => {
        const x = tf.tensor4d(values(tf.util.sizeFromShape(xs), 4), xs);
        const w = tf.tensor4d(values(tf.util.sizeFromShape(fs), 5), fs);
        const y = tf.conv2d(x, w, 2, 'same');
        const dy = tf.tensor4d(values(y.size, 6), y.shape as [number, number, number, number]);
        const attrs = {
          strides: [2, 2],
          pad: 'same',
          dataFormat: 'NHWC',
        };
        const e = tf.engine();
        return [
          e.runKernel('Conv2DBackpropInput', { dy, filter: w }, {
            ...attrs,
            inputShape: xs,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
          e.runKernel('Conv2DBackpropFilter', { x, dy }, {
            ...attrs,
            filterShape: fs,
          } as unknown as tf.NamedAttrMap) as tf.Tensor,
        ];
      };
      const ref = await on('cpu', run);
      const got = await on('wasm', run);
      expect(relErr(got[0] as Float32Array, ref[0] as Float32Array)).toBeLessThanOrEqual(1e-4);
      expect(relErr(got[1] as Float32Array, ref[1] as Float32Array)).toBeLessThanOrEqual(1e-4);
    },
  );
});

describe('dilated conv gradients (every backend)', () => {
  // conv is linear in x and in w, so a central difference is exact up to rounding: an
  // independent check of the space-to-batch gradient used on cpu (and other backends).
  it.each([false, true])('match central differences on cpu (depthwise=%s)', async (depthwise) => {
    await tf.setBackend('cpu');
    const xs: [number, number, number, number] = [2, 8, 7, 2];
    const fs: [number, number, number, number] = [3, 3, 2, depthwise ? 2 : 3];
    const xv = values(tf.util.sizeFromShape(xs), 7);
    const wv = values(tf.util.sizeFromShape(fs), 8);
    const f = (a: tf.Tensor4D, b: tf.Tensor4D) =>
      depthwise
        ? tf.depthwiseConv2d(a, b, 1, 'same', 'NHWC', 2)
        : tf.conv2d(a, b, 1, 'same', 'NHWC', [2, 2]);
    const r = tf.tidy(() => {
      const y = f(tf.tensor4d(xv, xs), tf.tensor4d(wv, fs));
      return tf.tensor(values(y.size, 9), y.shape);
    });
    const lossAt = (xa: Float32Array, wa: Float32Array): number =>
      tf.tidy(
        () =>
          tf.sum(tf.mul(f(tf.tensor4d(xa, xs), tf.tensor4d(wa, fs)), r)).dataSync()[0] as number,
      );
    const [gx, gw] = tf.tidy(() =>
      tf
        .grads((a, b) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D), r)))([
          tf.tensor4d(xv, xs),
          tf.tensor4d(wv, fs),
        ])
        .map((t) => t.dataSync() as Float32Array),
    ) as unknown as [Float32Array, Float32Array];
    const eps = 0.25;
    for (const [arr, g, other, isX] of [
      [xv, gx, wv, true],
      [wv, gw, xv, false],
    ] as const) {
      for (const i of [0, 5, Math.floor(arr.length / 2), arr.length - 1]) {
        const plus = Float32Array.from(arr);
        const minus = Float32Array.from(arr);
        plus[i] = (plus[i] as number) + eps;
        minus[i] = (minus[i] as number) - eps;
        const fd = isX
          ? (lossAt(plus, other) - lossAt(minus, other)) / (2 * eps)
          : (lossAt(other, plus) - lossAt(other, minus)) / (2 * eps);
        expect(Math.abs((g[i] as number) - fd)).toBeLessThan(1e-4 + 1e-3 * Math.abs(fd));
      }
    }
    r.dispose();
  });

  it('tf.fused.conv2d (linear, with bias; what tf.layers uses) differentiates with dilation 2 on wasm and cpu', async () => {
    const xs: [number, number, number, number] = [2, 9, 8, 3];
    const fs: [number, number, number, number] = [3, 3, 3, 4];
    const run = (fused: boolean) => () => {
      const x = tf.tensor4d(values(tf.util.sizeFromShape(xs), 10), xs);
      const w = tf.tensor4d(values(tf.util.sizeFromShape(fs), 11), fs);
      const b = tf.tensor1d(values(4, 12));
      const r = tf.tensor4d(values(2 * 9 * 8 * 4, 13), [2, 9, 8, 4]);
      const f = (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
        fused
          ? tf.fused.conv2d({
              x: a as tf.Tensor4D,
              filter: c as tf.Tensor4D,
              strides: 1,
              pad: 'same',
              dilations: 2,
              bias: d,
            })
          : tf.add(tf.conv2d(a as tf.Tensor4D, c as tf.Tensor4D, 1, 'same', 'NHWC', 2), d);
      return tf.grads((a, c, d) => tf.sum(tf.mul(f(a, c, d), r)))([x, w, b]);
    };
    const ref = await on('cpu', run(false));
    for (const backend of ['cpu', 'wasm'] as const) {
      const got = await on(backend, run(true));
      for (let i = 0; i < 3; i++)
        expect(relErr(got[i] as Float32Array, ref[i] as Float32Array)).toBeLessThanOrEqual(1e-4);
    }
  });

  it('tf.fused.conv2d gradients also work where Identity copies (attributes found by shapes)', async () => {
    await tf.setBackend('cpu');
    const native = tf.getKernel('Identity', 'cpu');
    tf.unregisterKernel('Identity', 'cpu');
    tf.registerKernel({
      kernelName: 'Identity',
      backendName: 'cpu',
      kernelFunc: ({ inputs, backend }) => {
        const x = inputs['x'] as tf.TensorInfo;
        const b = backend as {
          readSync(id: object): Float32Array;
          makeTensorInfo(s: number[], d: string, v: Float32Array): tf.TensorInfo;
        };
        return b.makeTensorInfo(x.shape, x.dtype, b.readSync(x.dataId).slice());
      },
    });
    try {
      const x = tf.tensor4d(values(2 * 8 * 8 * 2, 60), [2, 8, 8, 2]);
      const w = tf.tensor4d(values(3 * 3 * 2 * 3, 61), [3, 3, 2, 3]);
      const fused = (d: number) => (a: tf.Tensor) =>
        tf.sum(
          tf.fused.conv2d({
            x: a as tf.Tensor4D,
            filter: w,
            strides: 1,
            pad: 'same',
            dilations: d,
          }),
        );
      const plain = (d: number) => (a: tf.Tensor) =>
        tf.sum(tf.conv2d(a as tf.Tensor4D, w, 1, 'same', 'NHWC', d));
      const got = tf.grad(fused(2))(x).dataSync() as Float32Array;
      const ref = tf.grad(plain(2))(x).dataSync() as Float32Array;
      expect(relErr(got, ref)).toBeLessThanOrEqual(1e-5);
      // two convolutions with equal shapes but different dilations: the shapes cannot tell
      tf.dispose(tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', dilations: 1 }));
      expect(() => tf.grad(fused(2))(x)).toThrow(
        /attributes of this convolution were not recorded/,
      );
      tf.dispose([x, w]);
    } finally {
      tf.unregisterKernel('Identity', 'cpu');
      tf.registerKernel(native);
    }
  });

  it('a FusedConv2D kernel run directly under a tape (relu, dilation 2) differentiates on wasm and cpu', async () => {
    const xs: [number, number, number, number] = [2, 7, 9, 3];
    const fs: [number, number, number, number] = [3, 3, 3, 4];
    const run = (fused: boolean) => () => {
      const x = tf.tensor4d(values(tf.util.sizeFromShape(xs), 14), xs);
      const w = tf.tensor4d(values(tf.util.sizeFromShape(fs), 15), fs);
      const b = tf.tensor1d(values(4, 16));
      const r = tf.tensor4d(values(2 * 7 * 9 * 4, 17), [2, 7, 9, 4]);
      const f = (a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
        fused
          ? (tf.engine().runKernel('FusedConv2D', { x: a, filter: c, bias: d }, {
              strides: [1, 1],
              pad: 'same',
              dataFormat: 'NHWC',
              dilations: [2, 2],
              activation: 'relu',
            } as unknown as tf.NamedAttrMap) as tf.Tensor)
          : tf.relu(tf.add(tf.conv2d(a as tf.Tensor4D, c as tf.Tensor4D, 1, 'same', 'NHWC', 2), d));
      return tf.grads((a, c, d) => tf.sum(tf.mul(f(a, c, d), r)))([x, w, b]);
    };
    const ref = await on('cpu', run(false));
    for (const backend of ['cpu', 'wasm'] as const) {
      const got = await on(backend, run(true));
      for (let i = 0; i < 3; i++)
        expect(relErr(got[i] as Float32Array, ref[i] as Float32Array)).toBeLessThanOrEqual(1e-4);
    }
  });

  it('still rejects strides and dilations both > 1, with a message saying so', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([1, 8, 8, 2]) as tf.Tensor4D;
    const w = tf.zeros([3, 3, 2, 2]) as tf.Tensor4D;
    expect(() =>
      tf.grad((a) => tf.sum(tf.conv2d(a as tf.Tensor4D, w, 2, 'same', 'NHWC', 2)))(x),
    ).toThrow(/strides or dilations must be 1/i);
    tf.dispose([x, w]);
  });
});

describe('registerTrainingKernels', () => {
  it('is idempotent and replaces the native wasm Conv2DBackpropInput', () => {
    const again = registerTrainingKernels();
    expect(again.kernels).toEqual([]);
    expect(again.gradients).toEqual([]);
    expect(again.stockGradients).toBe('present');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    expect(tf.getKernel('DepthwiseConv2dNativeBackpropFilter', 'wasm')).toBeDefined();
  });

  it('is available as the side-effect import @densehybrid/tfjs-wasm-training/register', async () => {
    await import('@densehybrid/tfjs-wasm-training/register');
    expect(registerTrainingKernels().kernels).toEqual([]);
  });
});
