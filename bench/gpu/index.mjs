#!/usr/bin/env node
// Issue 17, GPU part (prepared, to run on a machine with a GPU): WebGPU training steps and
// inference of DenseHybrid — tfjs-webgpu (Dawn from the `webgpu` npm package) and ONNX Runtime's
// WebGPU execution provider (bundled with onnxruntime-node) — against PyTorch CUDA
// (bench/gpu/torch_cuda.py, the same weights and the same work) in one run.
//
//   node bench/gpu/index.mjs [--models small,densenet121] [--size 512x1024] [--crop 512]
//        [--batch 2] [--repeats 5] [--simulate-cpu]
//
// Measures per model:
//   inference at --size (HxW, default the issue's 1024×512): predict + hybrid score + closed map,
//     read back — tfjs-webgpu, ORT WebGPU EP, PyTorch CUDA;
//   one training step at --crop² × --batch (forward, DenseHybrid loss of the authors' weighting,
//     backward, Adam) — tfjs-webgpu, PyTorch CUDA (ONNX Runtime does not train).
// Prints medians and the ratios against PyTorch CUDA. Each runtime that cannot start (no GPU
// adapter, no CUDA) is skipped with its reason; with none of them this prints
// "GPU BENCH NOT RUN" and exits 0 (so `npm run bench` passes on CPU-only machines).
// --simulate-cpu runs the same code on tfjs-wasm, ORT CPU and PyTorch CPU at 64×128, to check the
// script itself where no GPU is available (the numbers then mean nothing).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { ladderDenseNet, serializeSafetensors } from '@densehybrid/backbones';
import { createDenseHybridModel, datasetPosteriorHead, hybridScore } from '@densehybrid/core';
import { denseHybridLoss } from '@densehybrid/losses';
import { exportOnnx, loadOnnxDetector } from '@densehybrid/onnx';
import { initBackend } from '@densehybrid/tfjs-wasm-training';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : dflt;
};
const simulate = argv.includes('--simulate-cpu');
const models = opt('models', simulate ? 'tiny' : 'small,densenet121').split(',');
const [H, W] = opt('size', simulate ? '64x128' : '512x1024')
  .split('x')
  .map(Number);
const crop = Number(opt('crop', simulate ? '64' : '512'));
const batch = Number(opt('batch', '2'));
const repeats = Number(opt('repeats', simulate ? '2' : '5'));
const K = 19;
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const skipped = [];

// tfjs on WebGPU (hardware adapter only; --simulate-cpu: wasm)
let tfjsName = null;
try {
  const r = await initBackend({ backend: simulate ? 'wasm' : 'webgpu' });
  // a forced webgpu backend accepts software adapters (llvmpipe, SwiftShader): not a GPU
  if (r.adapter?.software) throw new Error(`only a software adapter (${r.adapter.name}), no GPU`);
  tfjsName = r.name;
} catch (e) {
  skipped.push(`tfjs-webgpu: ${e.message.split('\n')[0]}`);
  await initBackend({ backend: 'wasm' }); // builds the models and reads their weights
}
const torchEnv = { ...process.env, PATH: spawnSync('getconf', ['PATH']).stdout.toString().trim() };
const gpu = simulate
  ? { tfjs: 'tfjs-wasm', ort: 'ORT CPU', torch: 'PyTorch CPU' }
  : { tfjs: 'tfjs-webgpu', ort: 'ORT WebGPU', torch: 'PyTorch CUDA' };
const torchProbe = spawnSync(
  'python3',
  ['-c', `import torch; print(${simulate ? 'True' : 'torch.cuda.is_available()'})`],
  { env: torchEnv, encoding: 'utf8' },
);
const torchOk = torchProbe.status === 0 && torchProbe.stdout.trim() === 'True';
if (!torchOk)
  skipped.push(
    `PyTorch CUDA: ${torchProbe.status !== 0 ? 'no torch in the system python' : 'torch.cuda.is_available() is False'}`,
  );

/** Whether ORT's WebGPU execution provider starts (on a tiny exported model). */
async function ortWebGpuStarts() {
  const backbone = ladderDenseNet({ preset: 'tiny', numClasses: 3 });
  const model = createDenseHybridModel({
    backbone,
    head: datasetPosteriorHead({ channels: backbone.preLogitChannels }),
  });
  try {
    const d = await loadOnnxDetector(await exportOnnx(model), {
      executionProviders: [simulate ? 'cpu' : 'webgpu'],
    });
    d.dispose();
    return true;
  } catch (e) {
    skipped.push(`ORT WebGPU: ${e.message.split('\n')[0].slice(0, 300)}`);
    return false;
  } finally {
    model.dispose();
  }
}
const ortOk = await ortWebGpuStarts();
if (tfjsName === null && !ortOk && !torchOk) {
  for (const s of skipped) console.log(`skipped ${s}`);
  console.log('GPU BENCH NOT RUN: no runtime found a GPU (see the lines above)');
  process.exit(0);
}

function makeModel(preset) {
  const backbone = ladderDenseNet({ preset, numClasses: K, seed: 1 });
  return createDenseHybridModel({
    backbone,
    head: datasetPosteriorHead({ channels: backbone.preLogitChannels, seed: 3 }),
  });
}

async function torchWeights(model) {
  const tensors = new Map();
  const add = async (name, v) => {
    const d = await v.data();
    if (v.rank !== 4) return tensors.set(name, { dtype: 'F32', shape: v.shape, data: d });
    const [kh, kw, ci, co] = v.shape;
    const out = new Float32Array(d.length);
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let c = 0; c < ci; c++)
          for (let o = 0; o < co; o++)
            out[((o * ci + c) * kh + y) * kw + x] = d[((y * kw + x) * ci + c) * co + o];
    tensors.set(name, { dtype: 'F32', shape: [co, ci, kh, kw], data: out });
  };
  for (const [n, v] of model.backbone.variables) await add(n, v);
  for (const [n, v] of model.head.variables) await add(n.replace(/^[^.]+\./, 'head.'), v);
  return serializeSafetensors(tensors);
}

async function timeIt(n, f) {
  const times = [];
  for (let i = 0; i <= n; i++) {
    const t0 = performance.now();
    await f();
    if (i > 0) times.push(performance.now() - t0);
  }
  return median(times);
}

const work = mkdtempSync(join(tmpdir(), 'densehybrid-bench-gpu-'));
const rows = [];
try {
  for (const preset of models) {
    const model = makeModel(preset);
    const row = { preset };
    const bytes = await exportOnnx(model, { logits: false, posteriorLogits: false });
    writeFileSync(join(work, 'weights.safetensors'), await torchWeights(model));
    if (tfjsName !== null) {
      const x = tf.randomUniform([1, H, W, 3], 0, 1, 'float32', 1);
      row.tfjsInfer = await timeIt(repeats, async () => {
        const { logits, posteriorLogits } = model.predict(x);
        const score = hybridScore(logits, posteriorLogits);
        const closed = tf.argMax(logits, -1);
        await Promise.all([score.data(), closed.data()]);
        tf.dispose([logits, posteriorLogits, score, closed]);
      });
      x.dispose();
      const images = tf.randomUniform([batch, crop, crop, 3], 0, 1, 'float32', 2);
      const labels = tf.randomUniform([batch, crop, crop], 0, K + 1, 'int32', 3);
      const optimizer = tf.train.adam(1e-5, 0.9, 0.999, 1e-7);
      const vars = [
        ...model.backbone.trainableVariables(),
        ...[...model.head.variables.values()].filter((v) => v.trainable),
      ];
      row.tfjsTrain = await timeIt(repeats, async () => {
        const cost = optimizer.minimize(
          () => {
            const { logits, posteriorLogits } = model.forward(images, { training: true });
            return denseHybridLoss({ logits, posteriorLogits, labels }).total;
          },
          true,
          vars,
        );
        await cost.data();
        cost.dispose();
      });
      optimizer.dispose();
      tf.dispose([images, labels]);
    }
    if (ortOk) {
      const frame = { data: new Uint8Array(H * W * 3).fill(100), width: W, height: H };
      const detector = await loadOnnxDetector(bytes, {
        executionProviders: [simulate ? 'cpu' : 'webgpu'],
      });
      row.ortInfer = await timeIt(repeats, () => detector.detect(frame));
      detector.dispose();
    }
    if (torchOk) {
      const r = spawnSync(
        'python3',
        [
          join(here, 'torch_cuda.py'),
          '--weights',
          join(work, 'weights.safetensors'),
          '--arch',
          JSON.stringify(model.backbone.config),
          '--classes',
          String(K),
          '--height',
          String(H),
          '--width',
          String(W),
          '--crop',
          String(crop),
          '--batch',
          String(batch),
          '--repeats',
          String(repeats),
          ...(simulate ? ['--device', 'cpu'] : []),
        ],
        { env: torchEnv, encoding: 'utf8' },
      );
      if (r.status === 0) {
        const out = JSON.parse(r.stdout.trim().split('\n').pop());
        row.torchInfer = median(out.inferMs);
        row.torchTrain = median(out.trainMs);
        row.device = out.device;
      } else skipped.push(`PyTorch CUDA: ${r.stderr.trim().split('\n').pop()}`);
    }
    model.dispose();
    rows.push(row);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

for (const s of [...new Set(skipped)]) console.log(`skipped ${s}`);
const f = (v) => (v === undefined ? '—' : `${v.toFixed(1)} ms`);
const ratio = (a, b) => (a === undefined || b === undefined ? '—' : `${(a / b).toFixed(2)}×`);
console.log(
  `bench/gpu${simulate ? ' (SIMULATED ON CPU: the numbers mean nothing)' : ''}: inference ${W}×${H}, training ${batch}×${crop}², K=${K}`,
);
for (const r of rows) {
  console.log(`${r.preset}${r.device ? ` (PyTorch on ${r.device})` : ''}:`);
  console.log(
    `  inference: ${gpu.tfjs} ${f(r.tfjsInfer)} (${ratio(r.tfjsInfer, r.torchInfer)} ${gpu.torch}), ${gpu.ort} ${f(r.ortInfer)} (${ratio(r.ortInfer, r.torchInfer)}), ${gpu.torch} ${f(r.torchInfer)}`,
  );
  console.log(
    `  training step: ${gpu.tfjs} ${f(r.tfjsTrain)} (${ratio(r.tfjsTrain, r.torchTrain)} ${gpu.torch}), ${gpu.torch} ${f(r.torchTrain)}`,
  );
}
