import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@densehybrid/tfjs-wasm-training';
import { anomalyMetrics } from '@densehybrid/metrics-openiou';
import { SCORE_NAMES, loadModel, saveModel, type Detector } from '@densehybrid/core';
import {
  DEFAULT_EXPORT_ONNX_OPTIONS,
  exportOnnx,
  loadOnnxDetector,
  type OnnxDetector,
} from '@densehybrid/onnx';
import { calibratedModel, relativeError, testBackboneConfig, testImage } from './helpers.js';

let dir: string;
let tfjs: Detector;
let onnx: OnnxDetector;
const meta = {
  classNames: ['a', 'b', 'c', 'd', 'e'],
  dataset: 'fixture',
  threshold: {
    value: -2,
    score: 'hybrid' as const,
    tpr: 0.95,
    tprReached: 0.95,
    fpr: 0.1,
    fprRule: 'at-least' as const,
    calibratedOn: 'fixture',
  },
};

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1 });
  dir = await mkdtemp(join(tmpdir(), 'densehybrid-onnx-'));
  const model = calibratedModel(testBackboneConfig('tiny'));
  await saveModel(join(dir, 'run', 'model'), model, meta);
  model.dispose();
  // a run folder, as `densehybrid train` writes it, exported to a file
  await writeFile(
    join(dir, 'model.onnx'),
    await exportOnnx(join(dir, 'run'), { scores: [...SCORE_NAMES] }),
  );
  tfjs = await loadModel(join(dir, 'run'));
  onnx = await loadOnnxDetector(join(dir, 'model.onnx'), { threads: 1 });
});
afterAll(async () => {
  tfjs?.dispose();
  onnx?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('loadOnnxDetector', () => {
  it("has core's detector shape: class names, meta, detect() and score()", async () => {
    expect(onnx.numClasses).toBe(tfjs.numClasses);
    expect(onnx.classNames).toEqual(tfjs.classNames);
    expect(onnx.meta).toEqual(tfjs.meta);
    expect(onnx.config).toEqual(tfjs.config);
    expect(onnx.executionProvider).toBe('cpu');
    expect(onnx.scoreNames).toEqual(SCORE_NAMES);
    const image = testImage(47, 35, 3);
    const a = await onnx.detect(image, { scores: ['hybrid', 'entropy'] });
    const b = await tfjs.detect(image, { scores: ['hybrid', 'entropy'] });
    expect(Object.keys(a.scores)).toEqual(Object.keys(b.scores));
    expect([a.width, a.height, a.closed.length]).toEqual([b.width, b.height, b.closed.length]);
    expect(a.closed).toBeInstanceOf(Uint8Array);
    expect(relativeError(a.scores.hybrid, b.scores.hybrid)).toBeLessThan(1e-4);
    expect(relativeError(a.scores.entropy, b.scores.entropy)).toBeLessThan(1e-4);
    const one = await onnx.score(image, 'entropy');
    expect(one.scores).toEqual(a.scores.entropy);
    const byDefault = await onnx.detect(image);
    expect(Object.keys(byDefault.scores)).toEqual([...DEFAULT_EXPORT_ONNX_OPTIONS.scores]);
  });

  it('gives the same AP, AUROC and FPR95 as the tfjs path on a small fixture evaluation (within 0.01 points)', async () => {
    // 6 images, a square "anomaly" region each; metrics over the pooled pixels of both runtimes
    const scoresA: number[] = [];
    const scoresB: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 6; i++) {
      const [w, h] = [40 + 3 * i, 30 + 2 * i];
      const image = testImage(w, h, 10 + i);
      for (let y = 8; y < 20; y++)
        for (let x = 10; x < 24; x++)
          for (let c = 0; c < 3; c++)
            image.data[(y * w + x) * 3 + c] = (x * 37 + y * 11 + c * 70) % 256;
      const a = await onnx.score(image);
      const b = await tfjs.score(image);
      for (let p = 0; p < w * h; p++) {
        const [x, y] = [p % w, Math.floor(p / w)];
        labels.push(y >= 8 && y < 20 && x >= 10 && x < 24 ? 1 : 0);
        scoresA.push(a.scores[p] as number);
        scoresB.push(b.scores[p] as number);
      }
    }
    const ma = anomalyMetrics(Float64Array.from(scoresA), Uint8Array.from(labels));
    const mb = anomalyMetrics(Float64Array.from(scoresB), Uint8Array.from(labels));
    // a real separation to measure (not 0 or 1)
    expect(mb.ap).toBeGreaterThan(0.01);
    expect(mb.ap).toBeLessThan(0.99);
    expect(Math.abs(ma.ap - mb.ap)).toBeLessThan(1e-4);
    expect(Math.abs(ma.auroc - mb.auroc)).toBeLessThan(1e-4);
    expect(Math.abs(ma.fpr - mb.fpr)).toBeLessThan(1e-4);
  });
});

describe('errors', () => {
  it('exportOnnx: bad options and sources', async () => {
    const run = join(dir, 'run');
    await expect(exportOnnx(run, { scores: ['sml' as never] })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(
        /^exportOnnx: expected options.scores to be distinct names of hybrid, generative/,
      ),
    });
    await expect(exportOnnx(run, { layout: 'HWC' as never })).rejects.toThrow(
      /exportOnnx: expected options.layout to be one of 'NHWC', 'NCHW', got "HWC"/,
    );
    await expect(exportOnnx(run, { inputSize: [0, 4] })).rejects.toThrow(/options.inputSize/);
    await expect(exportOnnx(run, { inputSize: [1, 1] })).rejects.toThrow(
      /large enough for the network, got 1×1/,
    );
    await expect(exportOnnx(join(dir, 'nowhere'))).rejects.toMatchObject({ code: 'MODEL_LOAD' });
    await expect(exportOnnx(42 as never)).rejects.toThrow(
      /expected a checkpoint folder, a detector/,
    );
  });

  it('loadOnnxDetector: folders, non-ONNX files, missing files', async () => {
    await expect(loadOnnxDetector(join(dir, 'run'))).rejects.toMatchObject({
      code: 'MODEL_LOAD',
      message: expect.stringMatching(
        /got the folder .*run \(a checkpoint: export it with exportOnnx or `densehybrid export/,
      ),
    });
    await writeFile(join(dir, 'junk.onnx'), 'not a model');
    await expect(loadOnnxDetector(join(dir, 'junk.onnx'))).rejects.toMatchObject({
      code: 'MODEL_LOAD',
    });
    await expect(loadOnnxDetector(join(dir, 'missing.onnx'))).rejects.toMatchObject({
      code: 'IO',
      message: expect.stringMatching(/missing.onnx \(ENOENT\)/),
    });
    await expect(
      loadOnnxDetector(join(dir, 'model.onnx'), { executionProviders: [] }),
    ).rejects.toThrow(/expected options.executionProviders to be a non-empty list/);
    await expect(loadOnnxDetector(join(dir, 'model.onnx'), { threads: 0 })).rejects.toThrow(
      /threads to be an integer >= 1, got 0/,
    );
    await expect(
      loadOnnxDetector(join(dir, 'model.onnx'), { executionProviders: ['no-such-provider'] }),
    ).rejects.toMatchObject({
      code: 'BACKEND',
      message: expect.stringMatching(/no-such-provider: /),
    });
  });

  it('a provider that does not start falls back to the next one, and says why', async () => {
    const d = await loadOnnxDetector(join(dir, 'model.onnx'), {
      executionProviders: ['no-such-provider', 'cpu'],
    });
    expect(d.executionProvider).toBe('cpu');
    expect(d.fallbacks.map((f) => f.executionProvider)).toEqual(['no-such-provider']);
    d.dispose();
    d.dispose(); // idempotent
    await expect(d.detect(testImage(8, 8))).rejects.toThrow(
      /a live detector, got one that was disposed/,
    );
  });

  it('detect: malformed images and scores that were not exported', async () => {
    await expect(
      onnx.detect({ data: new Uint8Array(5), width: 2, height: 2 }),
    ).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/^OnnxDetector.detect: expected an RGB image/),
    });
    const only = await loadOnnxDetector(await exportOnnx(join(dir, 'run')));
    await expect(only.detect(testImage(8, 8), { scores: ['entropy'] })).rejects.toMatchObject({
      code: 'INVALID_OPTION',
      message: expect.stringMatching(
        /from the scores exported into the given bytes \(hybrid; export others/,
      ),
    });
    only.dispose();
  });
});
