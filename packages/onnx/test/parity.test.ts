import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@densehybrid/tfjs-wasm-training';
import { SCORE_NAMES, type DenseHybridModel } from '@densehybrid/core';
import { exportOnnx, loadOnnxDetector, type OnnxDetector } from '@densehybrid/onnx';
import {
  BACKBONE_NAMES,
  K,
  calibratedModel,
  closedMismatches,
  relativeError,
  testBackboneConfig,
  testImage,
  tfjsReference,
} from './helpers.js';

/** The tolerance: logits and scores within 1e-4 of the tfjs path, relative to their range. */
const TOLERANCE = 1e-4;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1 });
});

describe.each(BACKBONE_NAMES.map((name) => [name]))('ONNX Runtime = tfjs (wasm) for %s', (name) => {
  let model: DenseHybridModel;
  let detector: OnnxDetector;
  let bytes: Uint8Array;
  beforeAll(async () => {
    model = calibratedModel(testBackboneConfig(name));
    bytes = await exportOnnx(model, { scores: [...SCORE_NAMES] });
    detector = await loadOnnxDetector(bytes, { threads: 1 });
  });
  afterAll(() => {
    detector.dispose();
    model.dispose();
  });

  it('gives the logits, posterior logits, every score and the closed-set map (odd size)', async () => {
    const image = testImage(53, 37, 1);
    const before = tf.memory().numTensors;
    const ref = await tfjsReference(model, image);
    expect(tf.memory().numTensors).toBe(before);
    const feed = new Float32Array(image.data.length);
    image.data.forEach((v, i) => (feed[i] = v / 255));
    const out = await detector.session.run({
      images: new ort.Tensor('float32', feed, [1, image.height, image.width, 3]),
    });
    const data = (n: string) => out[n]?.data as Float32Array;
    expect(relativeError(data('logits'), ref.logits)).toBeLessThan(TOLERANCE);
    expect(relativeError(data('posterior_logits'), ref.posteriorLogits)).toBeLessThan(TOLERANCE);
    // the detector API: every score from one run, and the closed-set map
    const got = await detector.detect(image, { scores: [...SCORE_NAMES] });
    expect([got.width, got.height]).toEqual([53, 37]);
    for (const s of SCORE_NAMES) {
      const err = relativeError(got.scores[s], ref.scores[s]);
      expect(err, s).toBeLessThan(TOLERANCE);
    }
    expect(closedMismatches(got.closed, ref.closed, ref.logits, K, 1e-3)).toBe(0);
    // the scores really vary over the image (a constant map would pass trivially)
    const h = ref.scores.hybrid;
    expect(Math.max(...h) - Math.min(...h)).toBeGreaterThan(0.05);
  });
});
