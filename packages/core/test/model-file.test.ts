import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ladderDenseNet } from '@densehybrid/backbones';
import {
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  SCORES,
  SCORE_NAMES,
  createDenseHybridModel,
  datasetPosteriorHead,
  discriminativeScore,
  disposeCheckpoint,
  entropyScore,
  generativeScore,
  hybridScore,
  loadCheckpoint,
  loadModel,
  maxLogitScore,
  maxSoftmaxScore,
  modelConfig,
  saveCheckpoint,
  saveModel,
  updateModelMeta,
  type DenseHybridModel,
  type StoredThreshold,
} from '@densehybrid/core';
import { runReadmeExample } from '../../../test-support/readme-example.js';

const K = 3;
let dir: string;

function smallModel(seed = 0): DenseHybridModel {
  const backbone = ladderDenseNet({
    preset: 'tiny',
    numClasses: K,
    seed,
    growthRate: 4,
    blockConfig: [1, 1, 1, 1],
    numInitFeatures: 8,
    sppSize: 8,
    sppGrids: [2, 1],
    upSizes: [8, 8, 8],
  });
  return createDenseHybridModel({
    backbone,
    head: datasetPosteriorHead({ channels: backbone.preLogitChannels, seed: seed + 1 }),
  });
}

/** Random-looking weights, so that a fresh model of the same config would score differently. */
function perturb(model: DenseHybridModel): void {
  let i = 0;
  for (const v of model.variables.values()) {
    if (v.dtype !== 'float32') continue;
    i++;
    v.assign(tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', 100 + i))));
  }
}

const image = (() => {
  const width = 20;
  const height = 12;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + (i >> 4) * 11) % 256;
  return { data, width, height };
})();

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'dh-model-file-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the score registry', () => {
  it('maps every name to its score function', () => {
    expect(SCORE_NAMES).toEqual(Object.keys(SCORES));
    const logits = tf.randomNormal([1, 4, 5, K], 0, 2, 'float32', 1) as tf.Tensor4D;
    const g = tf.randomNormal([1, 4, 5, 1], 0, 2, 'float32', 2) as tf.Tensor4D;
    const direct = {
      hybrid: hybridScore(logits, g),
      generative: generativeScore(logits),
      discriminative: discriminativeScore(g),
      'max-softmax': maxSoftmaxScore(logits),
      'max-logit': maxLogitScore(logits),
      entropy: entropyScore(logits),
    };
    for (const name of SCORE_NAMES) {
      const s = SCORES[name](logits, g, { size: [8, 10] });
      expect(s.shape, name).toEqual([1, 8, 10]);
      s.dispose();
      const t = SCORES[name](logits, g);
      expect(Array.from(t.dataSync()), name).toEqual(Array.from(direct[name].dataSync()));
      t.dispose();
    }
    tf.dispose([logits, g, ...Object.values(direct)]);
  });
});

describe('saveModel / loadModel', () => {
  it('round-trips a model: detect gives the saved model’s scores as plain arrays', async () => {
    const model = smallModel();
    perturb(model);
    const path = join(dir, 'run');
    const classNames = ['road', 'car', 'person'];
    await saveModel(join(path, 'model'), model, { classNames, dataset: 'fixture', step: 7 });
    const manifest = JSON.parse(await readFile(join(path, 'model', 'checkpoint.json'), 'utf8'));
    expect(manifest.config).toEqual({
      format: MODEL_FORMAT,
      version: MODEL_FORMAT_VERSION,
      backbone: model.backbone.config,
      head: { channels: model.backbone.preLogitChannels },
    });
    expect(manifest.config).toEqual(JSON.parse(JSON.stringify(modelConfig(model))));

    const before = tf.memory().numTensors;
    const detector = await loadModel(path); // a run folder: its model/
    expect(detector.dir).toBe(join(path, 'model'));
    expect(detector.numClasses).toBe(K);
    expect(detector.classNames).toEqual(classNames);
    expect(detector.meta).toMatchObject({ dataset: 'fixture', step: 7 });
    expect(detector.config.version).toBe(1);

    const names = ['hybrid', 'max-logit', 'entropy'] as const;
    const afterLoad = tf.memory().numTensors;
    const got = await detector.detect(image, { scores: names });
    expect(tf.memory().numTensors).toBe(afterLoad); // no tensor survives detect
    expect(Object.keys(got.scores)).toEqual([...names]);
    expect([got.width, got.height]).toEqual([image.width, image.height]);
    const x = tf.tidy(
      () =>
        tf.div(
          tf.tensor4d(image.data, [1, image.height, image.width, 3], 'float32'),
          255,
        ) as tf.Tensor4D,
    );
    const { logits, posteriorLogits } = model.predict(x);
    for (const name of names) {
      const want = SCORES[name](logits, posteriorLogits);
      expect(Array.from(got.scores[name]), name).toEqual(Array.from(want.dataSync()));
      want.dispose();
    }
    const closed = tf.argMax(logits, -1);
    expect(Array.from(got.closed)).toEqual(Array.from(closed.dataSync()));
    expect(got.closed).toBeInstanceOf(Uint8Array);

    // predict: tensors the caller owns, the same as the saved model's
    const p = detector.predict(x);
    expect(p.logits.shape).toEqual([1, image.height, image.width, K]);
    expect(Array.from(p.posteriorLogits.dataSync())).toEqual(
      Array.from(posteriorLogits.dataSync()),
    );
    tf.dispose([p.logits, p.posteriorLogits]);

    const one = await detector.score(image); // hybrid by default
    expect(Array.from(one.scores)).toEqual(Array.from(got.scores.hybrid));
    expect((await detector.detect(image)).scores).toHaveProperty('hybrid');

    tf.dispose([x, logits, posteriorLogits, closed]);
    detector.dispose();
    detector.dispose(); // idempotent
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('reads model files written before the format had a version (old format names)', async () => {
    const model = smallModel(4);
    perturb(model);
    const want = await (async () => {
      const path = join(dir, 'current');
      await saveModel(path, model, { classNames: [] });
      const d = await loadModel(path);
      const r = await d.detect(image, { scores: ['hybrid'] });
      d.dispose();
      return r.scores.hybrid;
    })();
    // `densehybrid/cli-model` (the CLI's train/demo) and unversioned `densehybrid/model`
    // (core's train() default) with the same fields
    for (const format of ['densehybrid/cli-model', 'densehybrid/model']) {
      const path = join(dir, format.replace('/', '-'));
      await saveCheckpoint(path, {
        config: {
          format,
          backbone: model.backbone.config,
          head: { channels: model.backbone.preLogitChannels },
        },
        variables: model.variables,
        meta: { classNames: ['a'] }, // not K names: classes get generic names
      });
      const d = await loadModel(path);
      expect(d.config).toMatchObject({ format: MODEL_FORMAT, version: MODEL_FORMAT_VERSION });
      expect(d.classNames).toEqual(['class 0', 'class 1', 'class 2']);
      expect(Array.from((await d.detect(image)).scores.hybrid), format).toEqual(Array.from(want));
      d.dispose();
    }
    model.dispose();
  });

  it('names what does not fit: another format, a newer version, the architecture, the weights', async () => {
    const model = smallModel();
    const save = (name: string, config: Record<string, unknown>) =>
      saveCheckpoint(join(dir, name), { config, variables: model.variables }).then(() =>
        join(dir, name),
      );
    const base = modelConfig(model);
    const before = tf.memory().numTensors;
    await expect(loadModel(join(dir, 'nothing'))).rejects.toMatchObject({
      code: 'MODEL_LOAD',
      message: expect.stringMatching(/^loadModel: expected a run folder .* got .*nothing$/),
    });
    await expect(
      loadModel(await save('other', { ...base, format: 'someone/else' })),
    ).rejects.toMatchObject({
      code: 'MODEL_LOAD',
      message: expect.stringMatching(
        /loadModel: expected a DenseHybrid model file \(config.format "densehybrid\/model", version 1\) in .*, got "someone\/else" version 1/,
      ),
    });
    await expect(loadModel(await save('newer', { ...base, version: 2 }))).rejects.toMatchObject({
      code: 'MODEL_LOAD',
      message: expect.stringMatching(/got "densehybrid\/model" version 2/),
    });
    await expect(
      loadModel(await save('arch', { ...base, backbone: { architecture: 'unet' } })),
    ).rejects.toMatchObject({
      code: 'MODEL_LOAD',
      message: expect.stringMatching(
        /loadModel: expected config.backbone of .* to build a backbone, got createBackbone: expected config.architecture/,
      ),
    });
    await expect(
      loadModel(await save('weights', { ...base, backbone: { ...base.backbone, growthRate: 6 } })),
    ).rejects.toMatchObject({
      code: 'MODEL_LOAD',
      message: expect.stringMatching(
        /loadModel: expected the weights of .* to match its architecture \(config\), got: restoreVariables: expected weight/,
      ),
    });
    expect(tf.memory().numTensors).toBe(before); // nothing leaks on failure
    const d = await loadModel(await save('ok', base));
    await expect(d.detect({ data: new Uint8Array(5), width: 2, height: 2 })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(
        /^Detector.detect: expected an RGB image .*Uint8Array\(5\) for 2×2/,
      ),
    });
    await expect(d.detect(image, { scores: ['hybrid', 'sml' as 'hybrid'] })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(
        /expected options.scores from hybrid, generative, .*got "sml"/,
      ),
    });
    d.dispose();
    model.dispose();
  });

  it('updateModelMeta rewrites the meta and keeps config, weights and optimizer state', async () => {
    const model = smallModel();
    const path = join(dir, 'calibrated');
    const moment = tf.ones([2]);
    await saveCheckpoint(join(path, 'model'), {
      config: modelConfig(model),
      variables: model.variables,
      optimizer: { name: 'adam', step: 3, tensors: [{ name: 'w/m', tensor: moment }] },
      meta: { classNames: ['a', 'b', 'c'], step: 3 },
    });
    const threshold: StoredThreshold = {
      value: 1.25,
      score: 'hybrid',
      tpr: 0.95,
      tprReached: 0.96,
      fpr: 0.1,
      fprRule: 'at-least',
      calibratedOn: 'fixture (2 images)',
    };
    const written = await updateModelMeta(path, (meta) => ({ ...meta, threshold }));
    expect(written).toBe(join(path, 'model'));
    const ckpt = await loadCheckpoint(written);
    expect(ckpt.meta).toEqual({ classNames: ['a', 'b', 'c'], step: 3, threshold });
    expect(ckpt.config).toEqual(JSON.parse(JSON.stringify(modelConfig(model))));
    expect(ckpt.optimizer?.step).toBe(3);
    expect([...ckpt.variables.keys()]).toEqual([...model.variables.keys()]);
    disposeCheckpoint(ckpt);
    const d = await loadModel(path);
    expect(d.meta.threshold).toEqual(threshold);
    d.dispose();
    moment.dispose();
    model.dispose();
  });
});

describe('README example (Model files)', () => {
  it('loads a saved model without the CLI and scores an image with its stored threshold', async () => {
    // the example loads `runs/sh`: save a small model there first (as `densehybrid train` would)
    const cwd = await mkdtemp(join(tmpdir(), 'dh-core-readme-'));
    try {
      const model = smallModel(2);
      perturb(model);
      const width = 40;
      const height = 24;
      const img = {
        width,
        height,
        data: new Uint8Array(width * height * 3).map((_, i) => i % 251),
      };
      const scored = await loadModelScores(model, img);
      const sorted = Float32Array.from(scored).sort();
      const value = (sorted[400]! + sorted[560]!) / 2; // between the 42nd and 58th percentiles
      const threshold: StoredThreshold = {
        value,
        score: 'hybrid',
        tpr: 0.95,
        tprReached: 0.95,
        fpr: 0.5,
        fprRule: 'at-least',
        calibratedOn: 'fixture',
      };
      await saveModel(join(cwd, 'runs', 'sh', 'model'), model, {
        classNames: ['road', 'car', 'person'],
        threshold,
      });
      model.dispose();
      const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
      const run = runReadmeExample(pkg, { heading: 'Model files', cwd });
      expect(run.lines).toBeLessThanOrEqual(15);
      expect(run.stderr).toBe('');
      const [names, closed, maxLogit, unknown] = run.stdout.trim().split(' ');
      expect([names, closed, maxLogit]).toEqual(['road,car,person', '960', '960']);
      expect(Number(unknown)).toBeGreaterThan(400);
      expect(Number(unknown)).toBeLessThan(560);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });
});

/** The hybrid scores of `model` on `image`, through a model file (as the example reads them). */
async function loadModelScores(
  model: DenseHybridModel,
  image: { data: Uint8Array; width: number; height: number },
): Promise<Float32Array> {
  const path = join(dir, 'readme-scores');
  await saveModel(path, model, { classNames: [] });
  const d = await loadModel(path);
  try {
    return (await d.detect(image)).scores.hybrid;
  } finally {
    d.dispose();
  }
}
