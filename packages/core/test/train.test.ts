import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DenseHybridError,
  cosineLearningRate,
  disposeCheckpoint,
  loadCheckpoint,
  modelConfig,
  train,
} from '@densehybrid/core';
import { registerTrainingGradients } from '@densehybrid/tfjs-wasm-training';
import { snapshot, syntheticBatch, syntheticBatches, tinyModel } from './train-helpers.js';

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTrainingGradients(); // loads the stock gradients once (it may allocate tensors)
  dir = await mkdtemp(join(tmpdir(), 'dh-train-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('cosineLearningRate', () => {
  it('follows min + ½(max−min)(1+cos(πt/T)) and clamps past T', () => {
    expect(cosineLearningRate(0, 10, 1, 0.01)).toBeCloseTo(1, 12);
    expect(cosineLearningRate(10, 10, 1, 0.01)).toBeCloseTo(0.01, 12);
    expect(cosineLearningRate(5, 10, 1, 0.01)).toBeCloseTo(0.505, 12);
    expect(cosineLearningRate(2, 10, 1e-5, 1e-7)).toBeCloseTo(
      1e-7 + 0.5 * (1e-5 - 1e-7) * (1 + Math.cos(0.2 * Math.PI)),
      15,
    );
    expect(cosineLearningRate(20, 10, 1, 0)).toBe(0);
    expect(() => cosineLearningRate(1, 0, 1, 0)).toThrow(/totalSteps/);
  });
});

describe('train', () => {
  it('decreases the DenseHybrid loss, reports progress, and leaves no tensors behind', async () => {
    const model = tinyModel();
    const before = tf.memory().numTensors;
    const perStep: number[] = [];
    const events: number[] = [];
    const result = await train({
      model,
      data: (s) => {
        const gen = syntheticBatches(s);
        return {
          [Symbol.iterator]: () => ({
            next: () => {
              perStep.push(tf.memory().numTensors);
              return gen.next();
            },
          }),
        };
      },
      steps: 30,
      learningRate: 1e-2,
      onProgress: (p) => {
        events.push(p.step);
        expect(p.totalSteps).toBe(30);
        expect(p.imagesPerSecond).toBeGreaterThan(0);
        expect(p.etaSeconds).toBeGreaterThanOrEqual(0);
        expect(Object.keys(p.loss).sort()).toEqual([
          'classification',
          'likelihood',
          'posterior',
          'total',
        ]);
      },
    });
    expect(result.step).toBe(30);
    expect(result.aborted).toBe(false);
    expect(events).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const totals = result.history.map((h) => h.loss['total'] as number);
    const first = totals.slice(0, 5).reduce((a, b) => a + b) / 5;
    const last = totals.slice(-5).reduce((a, b) => a + b) / 5;
    expect(last).toBeLessThan(0.75 * first);
    // no tensor growth: the count before each batch is the same at every step
    expect(new Set(perStep.slice(1)).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('resumes bit-for-bit: an interrupted run + resume gives the same weights as one run', async () => {
    const steps = 8;
    const a = tinyModel();
    await train({ model: a, data: syntheticBatches, steps, learningRate: 5e-3 });
    const reference = await snapshot(a);
    a.dispose();

    const path = join(dir, 'state');
    const controller = new AbortController();
    const b = tinyModel();
    const first = await train({
      model: b,
      data: syntheticBatches,
      steps,
      learningRate: 5e-3,
      checkpointPath: path,
      checkpointEvery: 2,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.step === 5) controller.abort();
      },
    });
    expect(first.aborted).toBe(true);
    expect(first.step).toBe(5);
    b.dispose();

    // a fresh process would rebuild the model from scratch (different init), then resume
    const c = tinyModel(3, 42);
    const second = await train({
      model: c,
      data: syntheticBatches,
      steps,
      learningRate: 5e-3,
      checkpointPath: path,
      checkpointEvery: 2,
      resume: true,
    });
    expect(second.startStep).toBe(5);
    expect(second.step).toBe(steps);
    expect(second.history.map((h) => h.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const resumed = await snapshot(c);
    expect([...resumed.keys()]).toEqual([...reference.keys()]);
    for (const [name, values] of reference) {
      expect(
        Buffer.from((resumed.get(name) as Float32Array).buffer).equals(Buffer.from(values.buffer)),
        name,
      ).toBe(true);
    }
    c.dispose();
  });

  it('writes checkpoints atomically (no temp files left) and refuses a mismatched resume', async () => {
    const path = join(dir, 'atomic');
    const model = tinyModel();
    await train({
      model,
      data: syntheticBatches,
      steps: 2,
      learningRate: 1e-3,
      checkpointPath: path,
      checkpointEvery: 1,
    });
    // the project's checkpoint format: weights under the model's names, Adam's moments as
    // optimizer state, step and loss history in meta, the model's config
    const manifest = JSON.parse(await readFile(join(path, 'checkpoint.json'), 'utf8'));
    expect(manifest.format).toBe('densehybrid-checkpoint');
    const ckpt = await loadCheckpoint(path);
    try {
      expect([...ckpt.variables.keys()]).toEqual([...model.variables.keys()]);
      for (const [name, v] of model.variables) {
        expect(Array.from(ckpt.variables.get(name)!.dataSync()), name).toEqual(
          Array.from(v.dataSync()),
        );
      }
      expect(ckpt.optimizer?.name).toBe('adam');
      expect(ckpt.optimizer?.step).toBe(2);
      expect(ckpt.optimizer?.scalars).toEqual({ beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
      const trainable = [...model.trainableGroups().backbone.keys()].map((k) => `backbone.${k}`);
      trainable.push(...[...model.trainableGroups().head.keys()].map((k) => `head.${k}`));
      expect(ckpt.optimizer?.tensors.map((t) => t.name)).toEqual(
        trainable.flatMap((k) => [`${k}/m`, `${k}/v`]),
      );
      expect(ckpt.meta['step']).toBe(2);
      expect(ckpt.meta['totalSteps']).toBe(2);
      expect((ckpt.meta['history'] as unknown[]).length).toBe(2);
      expect(ckpt.config).toEqual(modelConfig(model));
      expect(ckpt.config).toMatchObject({ format: 'densehybrid/model', version: 1 });
      expect(ckpt.config['backbone']).toEqual(model.backbone.config);
    } finally {
      disposeCheckpoint(ckpt);
    }
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(dir)).filter((f) => f.includes('.tmp-') || f.includes('.old-'))).toEqual(
      [],
    );
    const err = await train({
      model,
      data: syntheticBatches,
      steps: 3,
      checkpointPath: path,
      resume: true,
    }).catch((e: unknown) => e);
    expect(DenseHybridError.is(err) && err.code).toBe('INVALID_OPTION');
    // every differing setting is named: steps and the (default) learning rate
    expect((err as Error).message).toMatch(
      /^train: expected the options of the run whose state is in .*atomic.* \(stored vs now: steps differ: 2 vs 3; learningRate differs: 0\.001 vs 0\.00001; minLearningRate differs: 0\.00001 vs 1(\.0+1)?e-7\)/,
    );
    // and TrainOptions.resumeKey: fields the caller adds (seed, batch size, …)
    const keyed = await train({
      model,
      data: syntheticBatches,
      steps: 2,
      learningRate: 1e-3,
      checkpointPath: path,
      resume: true,
      resumeKey: { seed: 9 },
    }).catch((e: unknown) => e);
    expect(DenseHybridError.is(keyed) && keyed.code).toBe('INVALID_OPTION');
    expect((keyed as Error).message).toMatch(/\(stored vs now: seed differs: none vs 9\)/);
    // another architecture (4 classes): MODEL_LOAD naming the first mismatching weight, nothing
    // assigned, no tensor leaked
    const other = tinyModel(4);
    const before = new Map([...other.variables].map(([k, v]) => [k, Array.from(v.dataSync())]));
    const numTensors = tf.memory().numTensors;
    const mismatch = await train({
      model: other,
      data: syntheticBatches,
      steps: 2,
      learningRate: 1e-3,
      checkpointPath: path,
      resume: true,
    }).catch((e: unknown) => e);
    expect(DenseHybridError.is(mismatch) && mismatch.code).toBe('MODEL_LOAD');
    expect((mismatch as Error).message).toMatch(/expected weight "backbone\.[^"]+" with shape/);
    expect(tf.memory().numTensors).toBe(numTensors);
    for (const [k, v] of other.variables)
      expect(Array.from(v.dataSync()), k).toEqual(before.get(k));
    other.dispose();
    model.dispose();
  });

  it('rejects bad options and malformed batches with typed errors', async () => {
    const model = tinyModel();
    const bad = async (o: object): Promise<DenseHybridError> => {
      try {
        await train({ model, data: syntheticBatches, steps: 1, ...o });
      } catch (e) {
        return e as DenseHybridError;
      }
      throw new Error('train resolved');
    };
    expect((await bad({ steps: 0 })).message).toMatch(
      /^train: expected options\.steps to be an integer ≥ 1, got 0/,
    );
    expect((await bad({ learningRate: -1 })).code).toBe('INVALID_OPTION');
    expect((await bad({ resume: true })).message).toMatch(/checkpointPath/);
    const wrong = await bad({
      data: () => [
        {
          images: new Float32Array(5),
          labels: new Int32Array(2),
          batchSize: 1,
          height: 1,
          width: 2,
        },
      ],
    });
    expect(wrong.code).toBe('SHAPE_MISMATCH');
    expect((await bad({ data: () => [] })).message).toMatch(/yield 1 batches, got 0/);
    model.dispose();
  });

  it('createDenseHybridModel: predict at image size (caller owns), detect to plain arrays', async () => {
    const model = tinyModel();
    const images = tf.tensor4d(syntheticBatch(0).images, [2, 16, 16, 3]);
    const before = tf.memory().numTensors;
    const { logits, posteriorLogits } = model.predict(images);
    expect(logits.shape).toEqual([2, 16, 16, 3]);
    expect(posteriorLogits.shape).toEqual([2, 16, 16, 1]);
    // hybrid = ln σ(g) − logsumexp(s), pixel by pixel, against a float64 recomputation
    const s = (await logits.data()) as Float32Array;
    const g = (await posteriorLogits.data()) as Float32Array;
    tf.dispose([logits, posteriorLogits]);
    expect(tf.memory().numTensors).toBe(before);
    const r = await model.detect(images, { threshold: 0 });
    expect(tf.memory().numTensors).toBe(before);
    expect([r.batchSize, r.height, r.width]).toEqual([2, 16, 16]);
    for (const i of [0, 100, 511]) {
      const sv = [s[i * 3]!, s[i * 3 + 1]!, s[i * 3 + 2]!];
      const m = Math.max(...sv);
      const lse = m + Math.log(sv.reduce((a, v) => a + Math.exp(v - m), 0));
      const logPout = -Math.log1p(Math.exp(-g[i]!));
      expect(r.score[i]).toBeCloseTo(logPout - lse, 4);
      expect(r.closed[i]).toBe(sv.indexOf(m));
      expect(r.openSet?.[i]).toBe(r.score[i]! >= 0 ? 3 : r.closed[i]);
    }
    expect((await model.detect(images)).openSet).toBeUndefined();
    await expect(model.detect(images, { threshold: NaN })).rejects.toThrow(/options\.threshold/);
    images.dispose();
    model.dispose();
  });
});
