#!/usr/bin/env node
// Issue 17 benchmark: inference throughput of one DenseHybrid detector — backbone, dataset-
// posterior head, bilinear upsampling to the input size, hybrid score and closed-set map — on
// TensorFlow.js (wasm), on ONNX Runtime for Node (the model exported by @densehybrid/onnx) and
// on PyTorch CPU (bench/infer/torch_infer.py, the same weights), at equal thread counts, in one
// run. Prints images/s and the ratios; targets: ONNX Runtime >= 3x tfjs-wasm and <= 1.2x PyTorch's
// time per image. Also checks that the three give the same hybrid score map.
//
//   node bench/infer/index.mjs [--models small,densenet121] [--size 512x1024] [--threads 1,2]
//        [--repeats 3] [--no-torch] [--no-tfjs] [--quick]
//
// --size is HxW (default 512x1024, the issue's 1024×512); --quick = --size 128x256 --repeats 2.
// PyTorch comes from the system python (`PATH=$(getconf PATH) python3 -c 'import torch'`); without
// it the PyTorch column is skipped with a message. onnxruntime-node must be installed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { ladderDenseNet, serializeSafetensors } from '@densehybrid/backbones';
import { createDenseHybridModel, datasetPosteriorHead, hybridScore } from '@densehybrid/core';
import { exportOnnx, loadOnnxDetector } from '@densehybrid/onnx';
import { initBackend, setWasmThreads, wasmThreadsReady } from '@densehybrid/tfjs-wasm-training';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : dflt;
};
const quick = argv.includes('--quick');
const models = opt('models', 'small,densenet121').split(',');
const [H, W] = opt('size', quick ? '128x256' : '512x1024')
  .split('x')
  .map(Number);
const threadCounts = opt('threads', '1,2').split(',').map(Number);
const repeats = Number(opt('repeats', quick ? '2' : '3'));
const K = 19;
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const report = await initBackend({ backend: 'wasm', threads: Math.max(...threadCounts) });
console.log(
  `bench/infer: ${W}×${H} (W×H), K=${K}, repeats ${repeats} (+1 warm-up), threads ${threadCounts.join(', ')}; tfjs ${report.name} SIMD ${report.simd ?? '?'}`,
);

const torchEnv = { ...process.env, PATH: spawnSync('getconf', ['PATH']).stdout.toString().trim() };
const torchAvailable =
  !argv.includes('--no-torch') &&
  spawnSync('python3', ['-c', 'import torch'], { env: torchEnv }).status === 0;
if (!torchAvailable && !argv.includes('--no-torch'))
  console.log('PyTorch: not available (apt-get install -y python3-torch); its column is skipped');

/** A preset's detector with BN statistics and biases away from the identity (normal-range activations). */
function makeModel(preset) {
  const backbone = ladderDenseNet({ preset, numClasses: K, seed: 1 });
  let i = 0;
  for (const [n, v] of backbone.variables) {
    i++;
    if (n.endsWith('running_var')) v.assign(tf.randomUniform(v.shape, 0.5, 1.5, 'float32', i));
    if (n.endsWith('running_mean')) v.assign(tf.randomNormal(v.shape, 0, 0.1, 'float32', i));
  }
  const head = datasetPosteriorHead({ channels: backbone.preLogitChannels, seed: 3 });
  return createDenseHybridModel({ backbone, head });
}

/** The weights as a PyTorch state_dict (OIHW convolutions), for torch_infer.py. */
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

const image = new Uint8Array(H * W * 3);
let seed = 7;
for (let i = 0; i < image.length; i++) {
  seed = (seed * 1103515245 + 12345) >>> 0;
  image[i] = (seed >>> 16) & 255;
}
const frame = { data: image, width: W, height: H };
const work = mkdtempSync(join(tmpdir(), 'densehybrid-bench-infer-'));
const planar = new Float32Array(H * W * 3);
for (let p = 0; p < H * W; p++)
  for (let c = 0; c < 3; c++) planar[c * H * W + p] = image[3 * p + c] / 255;
writeFileSync(join(work, 'input.f32'), new Uint8Array(planar.buffer));

const maxDiff = (a, b) => {
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / Math.max(s, 1);
};

const rows = [];
try {
  for (const preset of models) {
    const model = makeModel(preset);
    const flops = model.backbone.flops(H, W) / 1e9;
    const t0 = performance.now();
    const bytes = await exportOnnx(model, { logits: false, posteriorLogits: false });
    console.log(
      `\n${preset}: ${flops.toFixed(1)} GFLOP, ONNX ${(bytes.length / 1e6).toFixed(1)} MB exported in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    writeFileSync(join(work, 'weights.safetensors'), await torchWeights(model));
    const x = tf.tidy(() => tf.div(tf.tensor4d(image, [1, H, W, 3], 'float32'), 255));
    let tfjsScore;
    for (const threads of threadCounts) {
      const row = { preset, threads };
      // tfjs-wasm: predict + hybrid score + closed-set map, read back
      if (!argv.includes('--no-tfjs')) {
        setWasmThreads(threads);
        await wasmThreadsReady();
        const times = [];
        for (let i = 0; i <= repeats; i++) {
          const s = performance.now();
          const { logits, posteriorLogits } = model.predict(x);
          const score = hybridScore(logits, posteriorLogits);
          const closed = tf.argMax(logits, -1);
          const [data] = await Promise.all([score.data(), closed.data()]);
          tfjsScore ??= data;
          tf.dispose([logits, posteriorLogits, score, closed]);
          if (i > 0) times.push(performance.now() - s);
        }
        row.tfjs = median(times);
      }
      // ONNX Runtime, CPU execution provider, `threads` intra-op threads
      const detector = await loadOnnxDetector(bytes, { threads });
      const times = [];
      let ortScore;
      for (let i = 0; i <= repeats; i++) {
        const s = performance.now();
        const r = await detector.detect(frame);
        if (i > 0) times.push(performance.now() - s);
        ortScore = r.scores.hybrid;
      }
      detector.dispose();
      row.ort = median(times);
      if (tfjsScore) row.ortVsTfjs = maxDiff(ortScore, tfjsScore);
      // PyTorch CPU, same weights, same threads
      if (torchAvailable) {
        const bb = model.backbone.config;
        const r = spawnSync(
          'python3',
          [
            join(here, 'torch_infer.py'),
            '--weights',
            join(work, 'weights.safetensors'),
            '--arch',
            JSON.stringify(bb),
            '--classes',
            String(K),
            '--input',
            join(work, 'input.f32'),
            '--height',
            String(H),
            '--width',
            String(W),
            '--threads',
            String(threads),
            '--repeats',
            String(repeats),
            '--scores-out',
            join(work, 'torch-score.f32'),
          ],
          { env: torchEnv, encoding: 'utf8', maxBuffer: 1 << 20 },
        );
        if (r.status !== 0) throw new Error(`torch_infer.py failed: ${r.stderr}`);
        const out = JSON.parse(r.stdout.trim().split('\n').pop());
        row.torch = median(out.ms);
        const torchScore = new Float32Array(
          readFileSync(join(work, 'torch-score.f32')).buffer.slice(0),
        );
        row.ortVsTorch = maxDiff(ortScore, torchScore);
      }
      rows.push(row);
      const ips = (ms) => (ms === undefined ? '—' : (1000 / ms).toFixed(3));
      console.log(
        `  ${threads} thread${threads === 1 ? ' ' : 's'}: tfjs-wasm ${row.tfjs?.toFixed(0) ?? '—'} ms (${ips(row.tfjs)} img/s) | ONNX Runtime ${row.ort.toFixed(0)} ms (${ips(row.ort)} img/s) | PyTorch ${row.torch?.toFixed(0) ?? '—'} ms (${ips(row.torch)} img/s)` +
          `  [hybrid score: ORT vs tfjs ${row.ortVsTfjs?.toExponential(1) ?? '—'}, vs PyTorch ${row.ortVsTorch?.toExponential(1) ?? '—'}]`,
      );
    }
    x.dispose();
    model.dispose();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

console.log('\nratios (per image, same threads):');
let pass = true;
for (const r of rows) {
  const speedup = r.tfjs === undefined ? undefined : r.tfjs / r.ort;
  const vsTorch = r.torch === undefined ? undefined : r.ort / r.torch;
  const ok1 = speedup === undefined || speedup >= 3;
  const ok2 = vsTorch === undefined || vsTorch <= 1.2;
  pass &&= ok1 && ok2;
  console.log(
    `  ${r.preset.padEnd(12)} ${r.threads}T: ORT ${speedup === undefined ? '—' : `${speedup.toFixed(2)}×`} faster than tfjs-wasm (target ≥ 3×) ${speedup === undefined ? '' : ok1 ? 'PASS' : 'FAIL'}; ORT time / PyTorch time ${vsTorch === undefined ? '—' : vsTorch.toFixed(2)} (target ≤ 1.2) ${vsTorch === undefined ? '' : ok2 ? 'PASS' : 'FAIL'}`,
  );
}
console.log(pass ? 'all targets met' : 'some targets missed (see above)');
