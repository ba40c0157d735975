#!/usr/bin/env node
// Issue 5 benchmark: one training step (forward, backward, Adam) of the encoder-decoder in
// net.mjs, batch 4, at 64², 128², 256², on a TensorFlow.js backend (wasm by default) and on
// PyTorch CPU in the same run (when `PATH=$(getconf PATH) python3 -c 'import torch'` works), both
// with 1 thread. Prints both per-step medians and the ratio; target: ≤ 2.5× PyTorch at 128², 256².
//
//   node bench/train-step/index.mjs [--backend wasm|webgpu|cpu] [--sizes 64,128,256]
//        [--steps 5] [--profile] [--no-torch] [--tf-batchnorm] [--baseline] [--xnnpack]
//        [--threads N]
//
// --xnnpack: this project's kernels, but the convolutions through XNNPACK (no SIMD conv kernels).
// Fused multiply-add in the SIMD kernels needs relaxed SIMD: Node ≥ 22, or Node 20 with
//   node --experimental-wasm-relaxed-simd bench/train-step/index.mjs
//
// --profile prints the slowest kernels of one step (tf.profile).
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers'; // tfjs' stock gradients (captured for --baseline)
import {
  batchNormTraining,
  initBackend,
  setWasmSimdKernels,
  setWasmThreads,
  wasmFusedMultiplyAdd,
  wasmThreadsReady,
} from '@densehybrid/tfjs-wasm-training';
import { createBatch, createParams, loss } from './net.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : dflt;
};
const backend = opt('backend', 'wasm');
const sizes = opt('sizes', '64,128,256').split(',').map(Number);
const steps = Number(opt('steps', '5'));
const profile = argv.includes('--profile');
// --threads N: the wasm SIMD convolutions on N threads (setWasmThreads) and PyTorch on N threads.
const threads = Number(opt('threads', '1'));
// --baseline: what the issue's prototype had — only the missing backprop kernels added; tfjs'
// native wasm Conv2D, Conv2DBackpropInput, Identity, Slice, SplitV, Concat, Sum, Mean, broadcast
// arithmetic, Exp, FusedBatchNorm gradient, the matMul ResizeBilinear adjoint, and tf.moments +
// tf.batchNorm. Implies --tf-batchnorm.
const baseline = argv.includes('--baseline');
const NATIVE = [
  'Conv2DBackpropInput',
  'Identity',
  'Slice',
  'SplitV',
  'Concat',
  'Conv2D',
  'Sum',
  'Mean',
  'Add',
  'Sub',
  'Multiply',
  'RealDiv',
  'Exp',
];
const stock = {
  kernels: NATIVE.map((n) => tf.getKernel(n, 'wasm')).filter(Boolean),
  bnGrad: tf.getGradient('FusedBatchNorm'),
};
// --tf-batchnorm: tf.moments + tf.batchNorm (autodiff) instead of batchNormTraining (closed form).
const batchNorm =
  argv.includes('--tf-batchnorm') || baseline
    ? undefined
    : (x, gamma, beta, epsilon) => batchNormTraining(x, gamma, beta, epsilon).y;
const TARGET = 2.5;

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const report = await initBackend({ backend });
const wasmThreadCount = backend === 'wasm' ? setWasmThreads(threads) : 1;
await wasmThreadsReady();
if (baseline || argv.includes('--xnnpack'))
  setWasmSimdKernels({ conv: false, filterGradient: false });
if (baseline) {
  tf.unregisterKernel('DenseHybridResizeBilinearGrad', 'wasm');
  for (const k of stock.kernels) {
    tf.unregisterKernel(k.kernelName, 'wasm');
    tf.registerKernel(k);
  }
  if (stock.bnGrad) tf.registerGradient(stock.bnGrad);
}
console.log(
  `tfjs: backend ${report.name}, ${wasmThreadCount} thread(s) for the SIMD convolutions, SIMD ${report.simd ?? '?'}` +
    (report.name === 'wasm'
      ? `, fused multiply-add ${wasmFusedMultiplyAdd() ? 'on (relaxed SIMD)' : 'off (needs Node ≥ 22 or --experimental-wasm-relaxed-simd)'}`
      : '') +
    (baseline ? ' — BASELINE (prototype kernels)' : ''),
);

async function tfjsStep(params, optimizer, batch) {
  const vars = Object.values(params).flatMap((p) => Object.values(p));
  const cost = optimizer.minimize(
    () => loss(params, batch.images, batch.labels, batch.outlier, batchNorm),
    true,
    vars,
  );
  const v = (await cost.data())[0];
  cost.dispose();
  return v;
}

/** One PyTorch process serving steps on demand (see torch_step.py --serve), or null. */
async function startTorch() {
  if (argv.includes('--no-torch')) return null;
  const env = { ...process.env, PATH: spawnSync('getconf', ['PATH']).stdout.toString().trim() };
  if (spawnSync('python3', ['-c', 'import torch'], { env }).status !== 0) {
    console.log(
      'PyTorch: not available (apt-get install -y python3-torch); printing tfjs times only',
    );
    return null;
  }
  const child = spawn(
    'python3',
    [join(here, 'torch_step.py'), '--serve', '--threads', String(threads)],
    {
      env,
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const r = await lines.next();
    if (r.done) throw new Error('PyTorch process ended');
    return JSON.parse(r.value);
  };
  const ready = await next();
  return {
    threads: ready.threads,
    async step(size) {
      child.stdin.write(`${size}\n`);
      return (await next()).ms;
    },
    close() {
      child.stdin.end();
    },
  };
}

/**
 * tfjs and PyTorch steps alternate, one each, so that both sample the same load on a shared
 * machine; the first step of each is a warm-up.
 */
async function measure(s, torch) {
  const params = createParams();
  const optimizer = tf.train.adam(1e-3);
  const batch = createBatch(4, s);
  const n = s >= 256 ? Math.max(2, Math.ceil(steps / 2)) : steps;
  const times = [];
  const torchTimes = [];
  const losses = [];
  for (let i = 0; i < n + 1; i++) {
    const t0 = performance.now();
    losses.push(await tfjsStep(params, optimizer, batch));
    const t = performance.now() - t0;
    const p = torch ? await torch.step(s) : NaN;
    if (i >= 1) {
      times.push(t);
      torchTimes.push(p);
    }
  }
  if (profile) {
    const info = await tf.profile(() => tfjsStep(params, optimizer, batch));
    const byName = new Map();
    for (const k of info.kernels) {
      const t = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      const e = byName.get(k.name) ?? { ms: 0, n: 0 };
      byName.set(k.name, { ms: e.ms + t, n: e.n + 1 });
    }
    const top = [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15);
    console.log(
      `  profile ${s}²: ${top.map(([k, v]) => `${k} ${v.ms.toFixed(1)}ms×${v.n}`).join(', ')}`,
    );
  }
  optimizer.dispose();
  for (const p of Object.values(params)) for (const v of Object.values(p)) v.dispose();
  for (const t of Object.values(batch)) t.dispose();
  return { times, torchTimes: torch ? torchTimes : null, losses };
}

const torch = await startTorch();
const rows = [];
for (const s of sizes) {
  const before = tf.memory().numTensors;
  const r = await measure(s, torch);
  const leak = tf.memory().numTensors - before;
  rows.push({ s, ...r, leak });
  console.log(
    `  ${s}²: tfjs median ${median(r.times).toFixed(0)} ms (min ${Math.min(...r.times).toFixed(0)}), loss ${r.losses[0].toFixed(3)} → ${r.losses.at(-1).toFixed(3)}, tensors leaked ${leak}` +
      (r.torchTimes
        ? `; pytorch median ${median(r.torchTimes).toFixed(0)} ms (min ${Math.min(...r.torchTimes).toFixed(0)})`
        : ''),
  );
}
torch?.close();
console.log(`\nsize  | tfjs-${backend} ms | pytorch ms | ratio (medians) | ratio (mins) | target`);
for (const r of rows) {
  const t = median(r.times);
  const p = r.torchTimes;
  const ratio = p ? t / median(p) : NaN;
  const ratioMin = p ? Math.min(...r.times) / Math.min(...p) : NaN;
  const target = r.s >= 128 ? `≤ ${TARGET}× ${p ? (ratio <= TARGET ? 'met' : 'MISSED') : ''}` : '-';
  const fmt = (v) => (Number.isNaN(v) ? '-' : `${v.toFixed(2)}×`);
  console.log(
    `${String(r.s).padStart(3)}²  | ${t.toFixed(0).padStart(12)} | ${p ? median(p).toFixed(0).padStart(10) : '         -'} | ${fmt(ratio).padStart(15)} | ${fmt(ratioMin).padStart(12)} | ${target}`,
  );
}
console.log(
  `(${wasmThreadCount} thread(s) for tfjs' SIMD convolutions${torch ? `, PyTorch ${torch.threads}` : ''}; steps alternate between the two; medians and minimums per step; on a shared machine absolute times vary run to run, the ratio less so)`,
);
