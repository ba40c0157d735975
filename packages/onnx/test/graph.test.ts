import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@densehybrid/tfjs-wasm-training';
import type { DenseHybridModel } from '@densehybrid/core';
import {
  CONTRACT_KEY,
  ONNX_OPSET,
  exportOnnx,
  loadOnnxDetector,
  readOnnxMetadata,
} from '@densehybrid/onnx';
import { decodeGraph } from '../src/proto.js';
import {
  K,
  calibratedModel,
  closedMismatches,
  relativeError,
  testBackboneConfig,
  testImage,
  tfjsReference,
} from './helpers.js';

const TOLERANCE = 1e-4;
let ldn: DenseHybridModel;
let deeplab: DenseHybridModel;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', threads: 1 });
  ldn = calibratedModel(testBackboneConfig('small'));
  deeplab = calibratedModel(testBackboneConfig('deeplab-resnet18'));
});
afterAll(() => {
  ldn.dispose();
  deeplab.dispose();
});

/** ONNX outputs vs the tfjs path on one image. */
async function expectParity(
  model: DenseHybridModel,
  bytes: Uint8Array,
  sizes: readonly (readonly [number, number])[],
): Promise<void> {
  const detector = await loadOnnxDetector(bytes, { threads: 1 });
  try {
    for (const [w, h] of sizes) {
      const image = testImage(w, h, w + h);
      const ref = await tfjsReference(model, image);
      const got = await detector.detect(image, { scores: ['hybrid', 'max-softmax'] });
      expect([got.width, got.height, got.scores.hybrid.length]).toEqual([w, h, w * h]);
      expect(relativeError(got.scores.hybrid, ref.scores.hybrid), `${w}×${h}`).toBeLessThan(
        TOLERANCE,
      );
      expect(relativeError(got.scores['max-softmax'], ref.scores['max-softmax'])).toBeLessThan(
        TOLERANCE,
      );
      expect(closedMismatches(got.closed, ref.closed, ref.logits, K, 1e-3)).toBe(0);
    }
  } finally {
    detector.dispose();
  }
}

describe('dynamic height and width', () => {
  it('one exported LDN runs at several sizes, odd ones and other aspect ratios included', async () => {
    const bytes = await exportOnnx(ldn, { scores: ['hybrid', 'max-softmax'] });
    // 61×29: the SPP grids of the aspect rule (g × round(g·W/H)) differ from those at 40×40
    await expectParity(ldn, bytes, [
      [61, 29],
      [40, 40],
      [33, 71],
    ]);
  });

  it('one exported DeepLabV3+ (ImageNet normalisation, dilations) runs at two sizes', async () => {
    const bytes = await exportOnnx(deeplab, { scores: ['hybrid', 'max-softmax'] });
    await expectParity(deeplab, bytes, [
      [45, 31],
      [64, 48],
    ]);
  });

  it('a batch of two images gives the maps of each image (dynamic batch)', async () => {
    const detector = await loadOnnxDetector(await exportOnnx(ldn), { threads: 1 });
    const [a, b] = [testImage(45, 33, 1), testImage(45, 33, 2)];
    const feed = new Float32Array(2 * a.data.length);
    [a, b].forEach((im, n) => im.data.forEach((v, i) => (feed[n * a.data.length + i] = v / 255)));
    const out = await detector.session.run({
      images: new ort.Tensor('float32', feed, [2, 33, 45, 3]),
    });
    const batch = out['score_hybrid'];
    expect(batch?.dims).toEqual([2, 33, 45]);
    const both = batch?.data as Float32Array;
    for (const [n, im] of [a, b].entries()) {
      const one = (await detector.detect(im)).scores.hybrid;
      expect(relativeError(both.subarray(n * one.length, (n + 1) * one.length), one)).toBeLessThan(
        1e-6,
      );
    }
    detector.dispose();
  });

  it('resizes and pooling grids are computed from Shape nodes, not baked constants', async () => {
    const g = decodeGraph(await exportOnnx(ldn));
    expect(g.inputs).toEqual([{ name: 'images', dims: ['batch', 'height', 'width', 3] }]);
    const producer = new Map(g.nodes.flatMap((n) => n.output.map((o) => [o, n] as const)));
    const resizes = g.nodes.filter((n) => n.opType === 'Resize');
    // SPP: 4 levels; upsampling: 3 modules; logits + posterior logits to the input size
    expect(resizes.length).toBe(4 + 3 + 2);
    for (const r of resizes) {
      const sizes = producer.get(r.input[3] as string);
      expect(sizes?.opType).toBe('Concat');
      for (const part of sizes?.input ?? []) expect(producer.get(part)?.opType).toBe('Shape');
    }
    // no int64 initializer of the size of a spatial dimension at the trace sizes
    const ints = g.initializers.filter((t) => t.dataType === 7).map((t) => t.name);
    expect(ints.filter((n) => /_(1003|1009|601|1457|32|126|63)(_|$)/.test(n))).toEqual([]);
    // the aspect-dependent SPP grids: max(1, round(g·W/H)) in int64 (Div and Mod), no float64 Round
    expect(g.nodes.filter((n) => n.opType === 'Round')).toEqual([]);
    expect(g.nodes.filter((n) => n.opType === 'Mod').length).toBe(2 * 4); // grids 8, 4, 2, 1
    expect(g.initializers.filter((t) => t.dataType === 11)).toEqual([]);
  });

  it('NCHW layout: the same scores from planar input', async () => {
    const bytes = await exportOnnx(ldn, { layout: 'NCHW', scores: ['hybrid', 'max-softmax'] });
    const graph = decodeGraph(bytes);
    expect(graph.inputs[0]?.dims).toEqual(['batch', 3, 'height', 'width']);
    expect(graph.outputs.find((o) => o.name === 'logits')?.dims).toEqual([
      'batch',
      K,
      'height',
      'width',
    ]);
    await expectParity(ldn, bytes, [[37, 23]]);
  });

  it('a fixed inputSize gives static dims and refuses other sizes', async () => {
    const bytes = await exportOnnx(ldn, {
      inputSize: [32, 48],
      scores: ['hybrid', 'max-softmax'],
      logits: false,
      posteriorLogits: false,
    });
    const graph = decodeGraph(bytes);
    expect(graph.inputs[0]?.dims).toEqual(['batch', 32, 48, 3]);
    expect(graph.outputs.map((o) => o.name)).toEqual([
      'score_hybrid',
      'score_max_softmax',
      'closed',
    ]);
    await expectParity(ldn, bytes, [[48, 32]]);
    const detector = await loadOnnxDetector(bytes);
    await expect(detector.detect(testImage(40, 32))).rejects.toThrow(
      /expected a 48×32 image \(the model was exported at a fixed size\), got 40×32/,
    );
    detector.dispose();
  });
});

describe('metadata', () => {
  it('stores the input contract, outputs, classes and meta; opset 17', async () => {
    const meta = {
      classNames: ['road', 'car', 'person', 'sky', 'tree'],
      dataset: 'fixture',
      threshold: {
        value: -3.5,
        score: 'hybrid' as const,
        tpr: 0.95,
        tprReached: 0.95,
        fpr: 0.2,
        fprRule: 'at-least' as const,
        calibratedOn: 'fixture',
      },
    };
    const bytes = await exportOnnx(deeplab, { meta, scores: ['hybrid', 'generative'] });
    const { contract, props, opset, irVersion } = readOnnxMetadata(bytes);
    expect([opset, irVersion]).toEqual([ONNX_OPSET, 8]);
    expect(JSON.parse(props[CONTRACT_KEY] as string)).toEqual(contract);
    expect(contract.input).toEqual({
      name: 'images',
      layout: 'NHWC',
      dtype: 'float32',
      channels: 'RGB',
      range: [0, 1],
      normalization: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
      dynamic: true,
      size: null,
      minSize: expect.any(Number),
      sizeMultiple: 1,
    });
    expect(contract.outputs).toEqual({
      layout: 'NHWC',
      logits: 'logits',
      posteriorLogits: 'posterior_logits',
      closed: 'closed',
      scores: { hybrid: 'score_hybrid', generative: 'score_generative' },
    });
    expect(contract.classNames).toEqual(meta.classNames);
    expect(contract.meta).toEqual(meta);
    expect(contract.config?.backbone).toEqual(deeplab.backbone.config);
    expect(props['densehybrid.input.normalization']).toMatch(
      /inside the graph: \(x - mean\) \/ std/,
    );
    // the LDN takes raw [0, 1] RGB; its smallest input is 3 pixels (stem conv + 2×2 pool)
    const ldnContract = readOnnxMetadata(await exportOnnx(ldn)).contract;
    expect(ldnContract.input.normalization).toBeNull();
    expect(ldnContract.input.minSize).toBe(3);
    expect(ldnContract.classNames).toEqual(Array.from({ length: K }, (_, k) => `class ${k}`));
  });

  it('the smallest size of the contract runs, one pixel less is refused', async () => {
    const detector = await loadOnnxDetector(await exportOnnx(ldn), { threads: 1 });
    const { minSize } = detector.contract.input;
    const ok = await detector.detect(testImage(minSize, minSize));
    expect(ok.scores.hybrid.every(Number.isFinite)).toBe(true);
    await expect(detector.detect(testImage(minSize - 1, 8))).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/at least 3×3 pixels, got 2×8/),
    });
    detector.dispose();
    expect(tf.memory().numTensors).toBeGreaterThan(0); // the models' variables, nothing leaked by export
  });
});
