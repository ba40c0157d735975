/**
 * The DenseHybrid pipeline on tfjs' WebGPU backend (Dawn), end to end through the packages'
 * public APIs: training steps of the tiny ladder DenseNet with the dataset-posterior head and
 * the DenseHybrid loss, the `train` loop, and inference scores — each compared with the wasm
 * backend on the same weights and data. Any synchronous read on these paths would throw here.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ladderDenseNet, type LadderDenseNet } from '@densehybrid/backbones';
import { denseHybridLoss } from '@densehybrid/losses';
import {
  createDenseHybridModel,
  datasetPosteriorHead,
  entropyScore,
  generativeScore,
  hybridScore,
  fitSmlStatistics,
  maxSoftmaxScore,
  odinScore,
  openSetSegmentation,
  standardizedMaxLogit,
  train,
  type DatasetPosteriorHead,
  type TrainingBatch,
} from '@densehybrid/core';
import { expectClose, maxAbs, randomArray, useWebGpu } from './helpers.js';

const K = 3;
const N = 2;
const S = 32;
const STEPS = 4;

/** A batch: random images and labels with all three kinds of pixels (known, outlier K, ignore). */
function batch(seed: number): TrainingBatch {
  const images = randomArray(N * S * S * 3, seed, 0, 1);
  const u = randomArray(N * S * S, seed + 1, 0, 1);
  const labels = Int32Array.from(u, (v, i) => {
    const y = Math.floor(i / S) % S;
    if (v < 0.05) return 255;
    if (y >= 20 && y < 28 && i % S >= 4 && i % S < 12) return K; // a pasted "negative" patch
    return Math.floor(v * K) % K;
  });
  return { images, labels, batchSize: N, height: S, width: S };
}

interface Net {
  backbone: LadderDenseNet;
  head: DatasetPosteriorHead;
}
function createNet(): Net {
  const backbone = ladderDenseNet({ preset: 'tiny', numClasses: K, seed: 1 });
  const head = datasetPosteriorHead({ channels: backbone.preLogitChannels, seed: 2 });
  return { backbone, head };
}

/** STEPS Adam steps of the DenseHybrid loss on one batch; the loss after each step. */
async function trainSteps(backend: 'webgpu' | 'wasm', net: Net): Promise<number[]> {
  await tf.setBackend(backend);
  const b = batch(10);
  const images = tf.tensor4d(b.images, [N, S, S, 3]);
  const labels = tf.tensor3d(b.labels, [N, S, S], 'int32');
  const optimizer = tf.train.adam(1e-3);
  const vars = [...net.backbone.trainableVariables(), ...net.head.trainableVariables()];
  const losses: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    const loss = optimizer.minimize(
      () => {
        const { preLogits, logits } = net.backbone.apply(images, { training: true });
        const posteriorLogits = net.head.apply(preLogits, { training: true });
        return denseHybridLoss({ logits, posteriorLogits, labels }).total;
      },
      true,
      vars,
    );
    losses.push((await (loss as tf.Scalar).data())[0] as number);
    loss?.dispose();
  }
  optimizer.dispose();
  tf.dispose([images, labels]);
  return losses;
}

/** The DenseHybrid loss at the initial weights and its gradient for every trainable variable. */
async function firstGradients(
  backend: 'webgpu' | 'wasm',
): Promise<{ loss: number; grads: Float32Array[]; names: string[] }> {
  await tf.setBackend(backend);
  const net = createNet();
  const b = batch(10);
  const images = tf.tensor4d(b.images, [N, S, S, 3]);
  const labels = tf.tensor3d(b.labels, [N, S, S], 'int32');
  const named = [...net.backbone.variables, ...net.head.variables].filter(([, v]) => v.trainable);
  const { value, grads } = tf.variableGrads(
    () => {
      const { preLogits, logits } = net.backbone.apply(images, { training: true });
      const posteriorLogits = net.head.apply(preLogits, { training: true });
      return denseHybridLoss({ logits, posteriorLogits, labels }).total;
    },
    named.map(([, v]) => v),
  );
  const loss = (await value.data())[0] as number;
  const out: Float32Array[] = [];
  for (const [, v] of named) out.push(Float32Array.from(await (grads[v.name] as tf.Tensor).data()));
  tf.dispose([value, ...Object.values(grads), images, labels]);
  net.backbone.dispose();
  net.head.dispose();
  return { loss, grads: out, names: named.map(([n]) => n) };
}

/** Every variable's values, read asynchronously (works on webgpu). */
async function readVariables(net: Net): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [prefix, vars] of [
    ['backbone', net.backbone.variables],
    ['head', net.head.variables],
  ] as const) {
    for (const [name, v] of vars) out.set(`${prefix}.${name}`, Float32Array.from(await v.data()));
  }
  return out;
}

function assignVariables(net: Net, values: Map<string, Float32Array>): void {
  for (const [prefix, vars] of [
    ['backbone', net.backbone.variables],
    ['head', net.head.variables],
  ] as const) {
    for (const [name, v] of vars) {
      const value = values.get(`${prefix}.${name}`);
      expect(value, `${prefix}.${name}`).toBeDefined();
      tf.tidy(() => v.assign(tf.tensor(value as Float32Array, v.shape)));
    }
  }
}

/**
 * Inference scores of the model on a fresh batch, read asynchronously: DenseHybrid's hybrid
 * score and the baselines (SML statistics fitted on the same batch, ODIN through the backbone).
 */
async function scores(net: Net, threshold?: number): Promise<Record<string, Float32Array>> {
  const model = createDenseHybridModel(net);
  const b = batch(20);
  const images = tf.tensor4d(b.images, [N, S, S, 3]);
  const { logits, posteriorLogits } = model.predict(images);
  const sml = await fitSmlStatistics([logits]);
  const outs = tf.tidy(() => {
    const hybrid = hybridScore(logits, posteriorLogits);
    return {
      hybrid,
      generative: generativeScore(logits),
      maxSoftmax: maxSoftmaxScore(logits),
      entropy: entropyScore(logits),
      sml: standardizedMaxLogit(logits, sml),
      odin: odinScore((x) => net.backbone.apply(x).logits, images, {
        size: [S, S],
        temperature: 10,
        epsilon: 0.01,
      }),
      posteriorLogits: tf.clone(posteriorLogits),
      ...(threshold === undefined
        ? {}
        : { openSet: tf.cast(openSetSegmentation(logits, hybrid, threshold), 'float32') }),
    };
  });
  tf.dispose([images, logits, posteriorLogits]);
  const values: Record<string, Float32Array> = {
    smlMean: Float32Array.from(sml.mean),
    smlStd: Float32Array.from(sml.std),
  };
  for (const [k, t] of Object.entries(outs)) values[k] = Float32Array.from(await t.data());
  tf.dispose(Object.values(outs));
  return values;
}

describe('DenseHybrid on webgpu matches wasm', () => {
  let tensorsBefore = 0;
  beforeAll(async () => {
    await useWebGpu();
    tensorsBefore = tf.memory().numTensors;
  });
  afterAll(() => {
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });

  it('the DenseHybrid loss and its gradient for every weight of the tiny LDN + head equal wasm', async () => {
    const wasm = await firstGradients('wasm');
    const gpu = await firstGradients('webgpu');
    expect(gpu.names).toEqual(wasm.names);
    expect(gpu.names.length).toBeGreaterThan(20);
    expect(Math.abs(gpu.loss - wasm.loss)).toBeLessThan(1e-4 * Math.abs(wasm.loss));
    // Some gradients are exactly 0 in exact arithmetic (a batch norm's scale feeding another
    // batch norm through ReLU and pooling is scale-invariant), i.e. rounding noise on both
    // backends: compare every gradient also on the scale of the largest one.
    const largest = Math.max(...wasm.grads.map(maxAbs));
    expect(largest).toBeGreaterThan(1e-3);
    for (const [i, name] of wasm.names.entries()) {
      const ref = wasm.grads[i] as Float32Array;
      // float32 rounding differs between the backends' kernels and grows through ~20 layers
      // of backprop; a wrong kernel would be off by O(max |gradient|)
      expectClose(gpu.grads[i] as Float32Array, ref, `∂loss/∂${name}`, {
        atol: 1e-3 * maxAbs(ref) + 1e-5 * largest,
        rtol: 1e-2,
      });
    }
  });

  let gpuNet: Net | undefined;
  it('training steps of the tiny LDN + posterior head + DenseHybrid loss: the loss decreases and equals wasm', async () => {
    await tf.setBackend('wasm');
    const wasmNet = createNet();
    const wasm = await trainSteps('wasm', wasmNet);
    wasmNet.backbone.dispose();
    wasmNet.head.dispose();

    await tf.setBackend('webgpu');
    gpuNet = createNet();
    const gpu = await trainSteps('webgpu', gpuNet);

    expect(gpu.every(Number.isFinite)).toBe(true);
    expect(gpu[STEPS - 1]).toBeLessThan((gpu[0] as number) - 0.05);
    // Step 0 is at the initial weights. Later steps drift a little: Adam's first updates are
    // ±lr whatever the gradient's size, so float32 rounding of near-zero gradients shows up.
    for (let i = 0; i < STEPS; i++) {
      expect(
        Math.abs((gpu[i] as number) - (wasm[i] as number)),
        `step ${i}: ${gpu[i]} vs ${wasm[i]}`,
      ).toBeLessThan((i === 0 ? 1e-4 : 1e-2) * Math.abs(wasm[i] as number));
    }
  });

  it('inference scores (hybrid, energy, max-softmax, entropy, SML, ODIN, open-set map) equal wasm on the trained weights', async () => {
    expect(gpuNet).toBeDefined();
    const net = gpuNet as Net;
    await tf.setBackend('webgpu');
    const weights = await readVariables(net);
    const gpuFirst = await scores(net);

    await tf.setBackend('wasm');
    const wasmNet = createNet();
    assignVariables(wasmNet, weights);
    const wasmFirst = await scores(wasmNet);
    // threshold: the median wasm hybrid score, so about half the pixels are "unknown"
    const sorted = Float32Array.from(wasmFirst['hybrid'] as Float32Array).sort();
    const threshold = sorted[sorted.length >> 1] as number;
    const wasm = await scores(wasmNet, threshold);
    wasmNet.backbone.dispose();
    wasmNet.head.dispose();

    await tf.setBackend('webgpu');
    const gpu = await scores(net, threshold);
    net.backbone.dispose();
    net.head.dispose();
    gpuNet = undefined;

    const keys = ['hybrid', 'generative', 'maxSoftmax', 'entropy', 'sml', 'smlMean', 'smlStd'];
    for (const key of [...keys, 'odin', 'posteriorLogits']) {
      expectClose(gpu[key] as Float32Array, wasm[key] as Float32Array, key, {
        atol: 1e-3,
        rtol: 1e-3,
      });
      expectClose(gpuFirst[key] as Float32Array, gpu[key] as Float32Array, `${key} (repeatable)`, {
        atol: 0,
        rtol: 0,
      });
    }
    // The open-set maps agree except where the score is within tolerance of the threshold.
    const hybrid = wasm['hybrid'] as Float32Array;
    let unknown = 0;
    for (let i = 0; i < hybrid.length; i++) {
      if ((wasm['openSet'] as Float32Array)[i] === K) unknown++;
      if (Math.abs((hybrid[i] as number) - threshold) < 1e-3) continue;
      expect((gpu['openSet'] as Float32Array)[i], `open-set pixel ${i}`).toBe(
        (wasm['openSet'] as Float32Array)[i],
      );
    }
    expect(unknown).toBeGreaterThan(hybrid.length / 4);
    expect(unknown).toBeLessThan((3 * hybrid.length) / 4);
  });

  it('the train loop (Adam groups, cosine schedule, async reads) runs on webgpu and matches wasm', async () => {
    const run = async (backend: 'webgpu' | 'wasm'): Promise<number[]> => {
      await tf.setBackend(backend);
      const net = createNet();
      const model = createDenseHybridModel(net);
      const result = await train({
        model,
        data: (start) => Array.from({ length: 3 - start }, (_, i) => batch(30 + start + i)),
        steps: 3,
        learningRate: 1e-3,
      });
      model.dispose();
      expect(result.step).toBe(3);
      return result.history.map((h) => h.loss['total'] as number);
    };
    const wasm = await run('wasm');
    const gpu = await run('webgpu');
    expect(gpu).toHaveLength(3);
    for (let i = 0; i < 3; i++) {
      expect(Number.isFinite(gpu[i])).toBe(true);
      expect(
        Math.abs((gpu[i] as number) - (wasm[i] as number)),
        `step ${i}: ${gpu[i]} vs ${wasm[i]}`,
      ).toBeLessThan((i === 0 ? 1e-4 : 1e-2) * Math.abs(wasm[i] as number));
    }
  });
});
