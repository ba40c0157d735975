#!/usr/bin/env node
// The wasm kernels of @densehybrid/tfjs-wasm-training against what they replace, measured in the same run
// (1 thread, the issue-5 benchmark's shapes at 256², batch 4): each row prints both times and
// the speed-up. Convolutions compare the WebAssembly SIMD kernels with the XNNPACK
// formulations (setWasmSimdKernels({ conv: false, filterGradient: false })); the other rows
// compare with tfjs-backend-wasm's own kernel, swapped back in for the measurement.
//
//   node bench/kernels/index.mjs [--reps 5]
//   node --experimental-wasm-relaxed-simd bench/kernels/index.mjs   (fused multiply-add, Node 20)
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import {
  initBackend,
  setWasmSimdKernels,
  wasmFusedMultiplyAdd,
} from '@densehybrid/tfjs-wasm-training';

const argv = process.argv.slice(2);
const reps = Number(argv[argv.indexOf('--reps') + 1] || 9);
const STOCK = ['Sum', 'Mean', 'Multiply', 'Sub', 'Exp', 'Concat'];
const stock = new Map(STOCK.map((n) => [n, tf.getKernel(n, 'wasm')]));
await initBackend({ backend: 'wasm', log: () => {} });
const ours = new Map(STOCK.map((n) => [n, tf.getKernel(n, 'wasm')]));
const use = (which, name) => {
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel((which === 'stock' ? stock : ours).get(name));
};

/**
 * Median ms of `fn` after two warm-up calls. wasm kernels run synchronously, so the result is
 * not read back (copying megabytes out of the heap would dominate the smaller kernels).
 */
function time(fn) {
  const once = () => tf.dispose(fn());
  once();
  once();
  const ms = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    once();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

const rand = (shape, seed) => tf.randomUniform(shape, -1, 1, 'float32', seed);
const e = tf.engine();
const rows = [];
function conv(label, xShape, fShape, stride, dilation) {
  const x = rand(xShape, 1);
  const w = rand(fShape, 2);
  const y = tf.conv2d(x, w, stride, 'same', 'NHWC', dilation);
  const dy = rand(y.shape, 3);
  const attrs = {
    strides: [stride, stride],
    pad: 'same',
    dataFormat: 'NHWC',
    dilations: [dilation, dilation],
  };
  const cases = {
    [`Conv2D ${label}`]: () => tf.conv2d(x, w, stride, 'same', 'NHWC', dilation),
    [`Conv2DBackpropInput ${label}`]: () =>
      e.runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: xShape }),
    [`Conv2DBackpropFilter ${label}`]: () =>
      e.runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: fShape }),
  };
  for (const [name, fn] of Object.entries(cases)) {
    if (dilation > 1 && name.startsWith('Conv2DBackpropInput')) continue; // the gradient passes dilations itself
    setWasmSimdKernels({ conv: false, filterGradient: false });
    const before = time(fn);
    setWasmSimdKernels({ conv: true, filterGradient: true });
    const after = time(fn);
    rows.push([name, before, after, 'XNNPACK']);
  }
  tf.dispose([x, w, y, dy]);
}
function vsStock(name, kernel, fn) {
  use('stock', kernel);
  const before = time(fn);
  use('ours', kernel);
  const after = time(fn);
  rows.push([name, before, after, 'tfjs']);
}
const act = rand([4, 128, 128, 32], 4);
const logits = rand([262144, 8], 5);
const lse = rand([262144, 1], 6);
const gamma = rand([32], 7);
vsStock('Mean over N,H,W [4,128,128,32]', 'Mean', () => tf.mean(act, [0, 1, 2]));
vsStock('Sum over N,H,W [4,128,128,32]', 'Sum', () => tf.sum(act, [0, 1, 2]));
vsStock('Multiply [4,128,128,32]·[32]', 'Multiply', () => tf.mul(act, gamma));
vsStock('Sub [262144,8] − [262144,1]', 'Sub', () => tf.sub(logits, lse));
vsStock('Exp [262144,8]', 'Exp', () => tf.exp(logits));
const act64 = rand([4, 128, 128, 64], 8);
vsStock('Concat [4,128,128,64]+[…,32] on C', 'Concat', () => tf.concat([act64, act], 3));
tf.dispose([act, act64, logits, lse, gamma]);
conv('96→32 3×3 @128² (conv4)', [4, 128, 128, 96], [3, 3, 96, 32], 1, 1);
conv('64→64 3×3 d2 @64² (conv3)', [4, 64, 64, 64], [3, 3, 64, 64], 1, 2);
conv('32→64 3×3 s2 @128² (conv2)', [4, 128, 128, 32], [3, 3, 32, 64], 2, 1);

console.log(
  `wasm, 1 thread; fused multiply-add ${wasmFusedMultiplyAdd() ? 'on' : 'off'}; median of ${reps}\n`,
);
console.log(
  'kernel                                              | before ms | after ms | speed-up | before =',
);
for (const [name, before, after, ref] of rows)
  console.log(
    `${name.padEnd(51)} | ${before.toFixed(1).padStart(9)} | ${after.toFixed(1).padStart(8)} | ${(before / after).toFixed(2).padStart(7)}× | ${ref}`,
  );
