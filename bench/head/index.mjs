#!/usr/bin/env node
// Inference overhead of DenseHybrid's dataset-posterior head + hybrid score on top of a
// segmentation backbone at 1024×512 (the paper: 2.8 ms on 60.9 ms for LDN-121, 4.6 %).
// Target: head + score ≤ 5 % of the backbone's forward time, measured in this run.
//
//   node bench/head/index.mjs [--preset densenet121|small|tiny] [--repeats 3] [--backend wasm] [--fallback]
//
// Two measurements, both against references from the same run:
// 1. component: head.apply(preLogits) + hybridScore(logits, g) at full resolution, timed on the
//    backbone's real outputs (many repeats, robust on a busy machine), over the backbone forward;
// 2. end to end: forward + closed-set map (upsample + argmax) with and without head + score,
//    medians of alternating runs.
// Uses ladderDenseNet from @densehybrid/backbones; without it (not built), a conv
// encoder-decoder with 128-channel stride-4 pre-logits built from tfjs ops.
import * as tf from '@tensorflow/tfjs-core';
import { datasetPosteriorHead, hybridScore } from '@densehybrid/core';
import { initBackend } from '@densehybrid/tfjs-wasm-training';

function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const preset = flag('preset', 'densenet121');
const repeats = Number(flag('repeats', '3'));
const backend = flag('backend', 'wasm');
const [H, W, K] = [512, 1024, 19];

const report = await initBackend({ backend });
console.log(
  `bench/head: ${report.name}${report.simd !== undefined ? `, SIMD ${report.simd ? 'on' : 'off'}` : ''}, input ${W}×${H}, K=${K}`,
);

/** A comparable encoder-decoder (strides 2..32, ladder-style skips, stride-4 128-channel pre-logits). */
function fallbackBackbone() {
  const widths = [32, 64, 128, 256, 512];
  const vars = [];
  const v = (shape) => {
    const t = tf.variable(
      tf.randomNormal(shape, 0, Math.sqrt(2 / (shape[0] * shape[1] * shape[2]))),
    );
    vars.push(t);
    return t;
  };
  const enc = widths.map((c, i) => v([3, 3, i === 0 ? 3 : widths[i - 1], c]));
  const lat = [v([1, 1, 512, 256]), v([1, 1, 256, 256]), v([1, 1, 128, 256]), v([1, 1, 64, 256])];
  const blend = [v([3, 3, 256, 256]), v([3, 3, 256, 256]), v([3, 3, 256, 128])];
  const cls = v([1, 1, 128, K]);
  return {
    name: 'conv encoder-decoder (fallback)',
    preLogitChannels: 128,
    apply(x) {
      return tf.tidy(() => {
        const feats = [];
        let h = x;
        for (const k of enc) {
          h = tf.relu(tf.conv2d(h, k, 2, 'same'));
          feats.push(h);
        }
        let up = tf.conv2d(feats[4], lat[0], 1, 'same');
        for (let i = 0; i < 3; i++) {
          const skip = feats[3 - i];
          up = tf.image.resizeBilinear(up, [skip.shape[1], skip.shape[2]]);
          up = tf.relu(
            tf.conv2d(tf.add(up, tf.conv2d(skip, lat[i + 1], 1, 'same')), blend[i], 1, 'same'),
          );
        }
        const preLogits = up;
        return { preLogits, logits: tf.conv2d(tf.relu(preLogits), cls, 1, 'same') };
      });
    },
    dispose: () => vars.forEach((t) => t.dispose()),
  };
}

let model;
try {
  if (process.argv.includes('--fallback')) throw new Error('--fallback given');
  const { ladderDenseNet } = await import('@densehybrid/backbones');
  if (typeof ladderDenseNet !== 'function') throw new Error('ladderDenseNet not exported');
  const net = ladderDenseNet({ preset, numClasses: K });
  model = {
    name: `ladderDenseNet '${preset}' (${(net.flops(H, W) / 1e9).toFixed(1)} GFLOP)`,
    preLogitChannels: net.preLogitChannels,
    apply: (x) => net.apply(x),
    dispose: () => net.dispose(),
  };
} catch (e) {
  console.log(
    `bench/head: ladderDenseNet unavailable (${e.message.split('\n')[0]}); using the fallback`,
  );
  model = fallbackBackbone();
}
const head = datasetPosteriorHead({ channels: model.preLogitChannels, seed: 1 });
console.log(`backbone: ${model.name}`);

const images = tf.randomUniform([1, H, W, 3], 0, 1, 'float32', 7);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Closed-set segmentation at full resolution: what any deployment computes anyway. */
function closedSet(out) {
  const full = tf.image.resizeBilinear(out.logits, [H, W], false, true);
  return { full, prediction: tf.argMax(full, -1) };
}

async function runPlain() {
  const t0 = performance.now();
  const out = model.apply(images);
  const { full, prediction } = closedSet(out);
  await prediction.data();
  const ms = performance.now() - t0;
  tf.dispose([out.preLogits, out.logits, full, prediction]);
  return ms;
}

async function runHybrid() {
  const t0 = performance.now();
  const out = model.apply(images);
  const { full, prediction } = closedSet(out);
  const score = tf.tidy(() => hybridScore(full, head.apply(out.preLogits)));
  await Promise.all([prediction.data(), score.data()]);
  const ms = performance.now() - t0;
  tf.dispose([out.preLogits, out.logits, full, prediction, score]);
  return ms;
}

// warm-up (kernel compilation, allocations)
await runPlain();
await runHybrid();

const plain = [];
const hybrid = [];
for (let i = 0; i < repeats; i++) {
  plain.push(await runPlain());
  hybrid.push(await runHybrid());
}

// component timing on real backbone outputs
const out = model.apply(images);
const full = tf.image.resizeBilinear(out.logits, [H, W], false, true);
const backboneOnly = [];
for (let i = 0; i < repeats; i++) {
  const t0 = performance.now();
  const o = model.apply(images);
  await o.logits.data();
  backboneOnly.push(performance.now() - t0);
  tf.dispose([o.preLogits, o.logits]);
}
const component = [];
const headOnly = [];
for (let i = 0; i < Math.max(10, repeats * 3); i++) {
  let t0 = performance.now();
  const g = head.apply(out.preLogits);
  await g.data();
  headOnly.push(performance.now() - t0);
  g.dispose();
  t0 = performance.now();
  const score = tf.tidy(() => hybridScore(full, head.apply(out.preLogits)));
  await score.data();
  component.push(performance.now() - t0);
  score.dispose();
}
tf.dispose([out.preLogits, out.logits, full]);

const mBackbone = median(backboneOnly);
const mComponent = median(component);
const mPlain = median(plain);
const mHybrid = median(hybrid);
const f = (x) => `${x.toFixed(1)} ms`;
console.log(
  `backbone forward (pre-logits + logits):      ${f(mBackbone)}   (median of ${backboneOnly.length})`,
);
console.log(
  `head only (BN-ReLU-Conv1x1 on ${out.preLogits.shape.slice(1, 3).join('×')}×${model.preLogitChannels}):  ${f(median(headOnly))}`,
);
console.log(
  `head + hybrid score at ${W}×${H}:             ${f(mComponent)}   (median of ${component.length})`,
);
console.log(`end to end, closed-set only:                 ${f(mPlain)}   (median of ${repeats})`);
console.log(`end to end, closed-set + head + score:       ${f(mHybrid)}   (median of ${repeats})`);
const ratio = mComponent / mBackbone;
console.log(
  `overhead ratio (head + score) / backbone: ${(100 * ratio).toFixed(2)} %  (target ≤ 5 %; paper 4.6 % on a GPU) ${ratio <= 0.05 ? 'PASS' : 'FAIL'}`,
);
console.log(
  `end-to-end ratio hybrid / closed-set: ${(mHybrid / mPlain).toFixed(3)} (noisy on a shared machine; informational)`,
);
head.dispose();
model.dispose();
images.dispose();
