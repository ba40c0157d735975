// The page's pure parts in Node: the ONNX metadata reader (against files written by Python's
// onnx package) and the input contract (against hand-computed tensors).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_INPUT_CONTRACT,
  imageTensor,
  modelContract,
  outputRoles,
} from '../src/contract.js';
import { readOnnxModelInfo } from '../src/onnx-metadata.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');

describe('readOnnxModelInfo', () => {
  it('reads metadata_props, producer and opset of a file written by onnx (Python)', async () => {
    const info = readOnnxModelInfo(new Uint8Array(await readFile(join(FIXTURES, 'tiny.onnx'))));
    expect(info.metadata).toEqual({
      'densehybrid.input':
        '{"layout": "NCHW", "range": [0, 1], "mean": [0, 0, 0], "std": [1, 1, 1]}',
      'densehybrid.class_names': '["road", "building", "sky"]',
    });
    expect(info.producerName).toBe('densehybrid-fixture');
    expect(info.irVersion).toBe(8);
    expect(info.opsets).toEqual({ '': 17 });
    const bare = readOnnxModelInfo(
      new Uint8Array(await readFile(join(FIXTURES, 'tiny-nometa.onnx'))),
    );
    expect(bare.metadata).toEqual({});
  });

  it('reads fields in any order, long varints and unknown fields', () => {
    const enc = new TextEncoder();
    const len = (n: number): number[] => {
      const out: number[] = [];
      do {
        out.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
        n >>>= 7;
      } while (n > 0);
      return out;
    };
    const str = (field: number, s: string): number[] => {
      const b = [...enc.encode(s)];
      return [(field << 3) | 2, ...len(b.length), ...b];
    };
    const entry = (k: string, v: string): number[] => {
      const body = [...str(1, k), ...str(2, v)];
      return [(14 << 3) | 2, ...len(body.length), ...body];
    };
    const long = 'x'.repeat(300); // a two-byte length
    const bytes = new Uint8Array([
      ...entry('a', long),
      ...len((99 << 3) | 5),
      1,
      2,
      3,
      4, // an unknown fixed32 field with a two-byte tag
      ...entry('a', 'last wins'),
      ...entry('b', 'é'),
      1 << 3,
      ...len(136), // ir_version 136 (a two-byte varint)
    ]);
    const info = readOnnxModelInfo(bytes);
    expect(info.metadata).toEqual({ a: 'last wins', b: 'é' });
    expect(info.irVersion).toBe(136);
  });

  it('refuses bytes that are not a protobuf message, with MODEL_LOAD', () => {
    const junk = new TextEncoder().encode('<html>not found</html>');
    expect(() => readOnnxModelInfo(junk)).toThrow(/readOnnxModelInfo: expected an ONNX model/);
    try {
      readOnnxModelInfo(junk);
    } catch (error) {
      expect((error as { code: string }).code).toBe('MODEL_LOAD');
    }
  });
});

describe('modelContract', () => {
  it('reads one JSON object or separate keys, any prefix and separator style', () => {
    const a = modelContract({
      'densehybrid.input': '{"layout":"NHWC","range":[0,255],"mean":[1,2,3],"std":[4,5,6]}',
    });
    const b = modelContract({
      'densehybrid:input_layout': 'nhwc',
      'densehybrid:input_range': '0..255',
      'densehybrid:input_mean': '1, 2, 3',
      'densehybrid:input_std': '[4,5,6]',
    });
    for (const c of [a, b]) {
      expect(c.input).toEqual({
        layout: 'NHWC',
        channels: 'RGB',
        range: [0, 255],
        mean: [1, 2, 3],
        std: [4, 5, 6],
        sizeMultiple: 1,
      });
      expect(c.notes).toEqual([]);
    }
    expect(
      modelContract({ 'input.normalization': '{"mean": 0.5, "std": 0.25}' }).input,
    ).toMatchObject({
      mean: [0.5, 0.5, 0.5],
      std: [0.25, 0.25, 0.25],
    });
  });

  it('falls back to NCHW [0,1] with a clear note, or to the layout the input shape shows', () => {
    const none = modelContract({}, [1, 3, 'h', 'w']);
    expect(none.input).toEqual(DEFAULT_INPUT_CONTRACT);
    expect(none.notes.join('\n')).toMatch(
      /no input contract in this model's metadata: assuming NCHW, RGB values in \[0, 1\], no mean\/std/,
    );
    const nhwc = modelContract({}, [1, 'h', 'w', 3]);
    expect(nhwc.input.layout).toBe('NHWC');
    expect(nhwc.notes[0]).toMatch(/layout NHWC: not in the metadata, read from the input shape/);
    const partial = modelContract({ 'densehybrid.input.layout': 'NCHW' });
    expect(partial.notes).toEqual([
      'not in the metadata, assumed: range [0,1], mean [0,0,0], std [1,1,1]',
    ]);
  });

  it('reads class names, a calibrated threshold and output names', () => {
    const c = modelContract({
      'densehybrid.class_names': '["road","car"]',
      'densehybrid.threshold': '{"value": 1.5, "thresholdRule": "greater", "score": "hybrid"}',
      'densehybrid.outputs': '{"score": "hybrid", "logits": "logits"}',
    });
    expect(c.classNames).toEqual(['road', 'car']);
    expect(c.threshold).toEqual({ value: 1.5, thresholdRule: 'greater', score: 'hybrid' });
    expect(c.scoreOutput).toBe('hybrid');
    expect(c.logitsOutput).toBe('logits');
    expect(modelContract({ threshold: '-2' }).threshold).toEqual({
      value: -2,
      thresholdRule: 'greater-or-equal',
      score: undefined,
    });
  });

  it('refuses values the page cannot use, naming them', () => {
    expect(() => modelContract({ 'densehybrid.input.layout': 'CHW' })).toThrow(
      'modelContract: expected layout NCHW or NHWC, got "CHW" in the model\'s metadata',
    );
    expect(() => modelContract({ 'densehybrid.input.range': '[1, 0]' })).toThrow(
      /value range \[lo, hi\] with lo < hi/,
    );
    expect(() => modelContract({ 'densehybrid.input.std': '[1, 0, 1]' })).toThrow(/std > 0/);
    expect(() => modelContract({ 'densehybrid.input.mean': '[1, 2]' })).toThrow(
      /mean as 1 or 3 numbers/,
    );
    expect(() => modelContract({ threshold: '{"value": "x"}' })).toThrow(
      /threshold as a finite number/,
    );
  });
});

describe('outputRoles', () => {
  const c = modelContract({});
  const named = (list: readonly string[]) => list.map((n) => ({ name: n, output: n }));
  it('shows hybrid first, keeps the logits apart, follows the metadata', () => {
    expect(outputRoles(['logits', 'posterior_logit', 'hybrid'], c)).toEqual({
      scores: named(['hybrid', 'posterior_logit']),
      logits: 'logits',
      closed: undefined,
    });
    const meta = modelContract({
      'densehybrid.outputs': '{"score":"posterior_logit","logits":"s"}',
    });
    expect(outputRoles(['s', 'hybrid', 'posterior_logit'], meta)).toEqual({
      scores: named(['posterior_logit', 'hybrid']),
      logits: 's',
      closed: undefined,
    });
    expect(() => outputRoles(['hybrid'], meta)).toThrow(
      /expected outputs.score = "posterior_logit" to be one of the model's outputs hybrid/,
    );
  });
});

describe("the exporter's contract (densehybrid.contract)", () => {
  /** What packages/onnx writes (OnnxContract, version 1), trimmed to the fields the page reads. */
  const contract = (over: Record<string, unknown> = {}) => ({
    format: 'densehybrid/onnx',
    version: 1,
    input: {
      name: 'images',
      layout: 'NHWC',
      dtype: 'float32',
      channels: 'RGB',
      range: [0, 1],
      normalization: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
      dynamic: true,
      size: null,
      minSize: 17,
      sizeMultiple: 1,
    },
    outputs: {
      layout: 'NHWC',
      logits: 'logits',
      posteriorLogits: 'posterior_logits',
      closed: 'closed',
      scores: { hybrid: 'score_hybrid', 'max-softmax': 'score_max_softmax' },
    },
    numClasses: 2,
    classNames: ['road', 'car'],
    outputStride: 4,
    config: null,
    meta: { classNames: ['road', 'car'], threshold: { value: -3.5, score: 'hybrid', tpr: 0.95 } },
    ...over,
  });
  const props = (c: unknown) => ({
    'densehybrid.format': 'densehybrid/onnx',
    'densehybrid.contract': JSON.stringify(c),
    // the human-readable copies beside it must not confuse the reader
    'densehybrid.input.layout': 'NHWC',
    'densehybrid.input.range': 'float32 RGB in [0, 1] (8-bit values / 255)',
  });

  it('is read exactly: in-graph normalisation means [0,1] in, scores by name, the graph’s argmax', () => {
    const c = modelContract(props(contract()), [1, 'height', 'width', 3]);
    expect(c.input).toEqual({
      layout: 'NHWC',
      channels: 'RGB',
      range: [0, 1],
      mean: [0, 0, 0],
      std: [1, 1, 1],
      sizeMultiple: 1,
    });
    expect(c.classNames).toEqual(['road', 'car']);
    // a threshold file without thresholdRule means greater-or-equal (core's StoredThreshold)
    expect(c.threshold).toEqual({
      value: -3.5,
      thresholdRule: 'greater-or-equal',
      score: 'hybrid',
    });
    expect(c.exported).toEqual({
      scores: { hybrid: 'score_hybrid', 'max-softmax': 'score_max_softmax' },
      closed: 'closed',
      outputLayout: 'NHWC',
      numClasses: 2,
      size: undefined,
      minSize: 17,
    });
    expect(c.notes.join('\n')).toMatch(/the graph normalises its input itself/);
    expect(
      outputRoles(['score_hybrid', 'score_max_softmax', 'closed', 'logits', 'posterior_logits'], c),
    ).toEqual({
      scores: [
        { name: 'hybrid', output: 'score_hybrid' },
        { name: 'max-softmax', output: 'score_max_softmax' },
      ],
      logits: 'logits',
      closed: 'closed',
    });
    expect(() => outputRoles(['score_hybrid', 'logits'], c)).toThrow(/outputs.scores.max-softmax/);
  });

  it('refuses an unknown contract version or format, naming it', () => {
    expect(() => modelContract(props(contract({ version: 2 })))).toThrow(
      /expected densehybrid.contract of format "densehybrid\/onnx" version 1 .*got \{"format":"densehybrid\/onnx","version":2\}/,
    );
    expect(() => modelContract({ 'densehybrid.contract': '{oops' })).toThrow(
      /densehybrid.contract to be JSON/,
    );
  });
});

describe('imageTensor', () => {
  // 2×1 image: pixel 0 = (0, 51, 255), pixel 1 = (255, 102, 0)
  const rgba = [0, 51, 255, 255, 255, 102, 0, 255];
  it('lays out NCHW and NHWC, maps the range, applies mean/std and channel order', () => {
    const nchw = imageTensor(rgba, 2, 1, DEFAULT_INPUT_CONTRACT);
    expect(nchw.dims).toEqual([1, 3, 1, 2]);
    expect(Array.from(nchw.data)).toEqual([0, 1, 0.2, 0.4, 1, 0].map(Math.fround));
    const nhwc = imageTensor(rgba, 2, 1, {
      ...DEFAULT_INPUT_CONTRACT,
      layout: 'NHWC',
      range: [0, 255],
    });
    expect(nhwc.dims).toEqual([1, 1, 2, 3]);
    expect(Array.from(nhwc.data)).toEqual([0, 51, 255, 255, 102, 0]);
    const norm = imageTensor(rgba, 2, 1, {
      ...DEFAULT_INPUT_CONTRACT,
      channels: 'BGR',
      range: [-1, 1],
      mean: [0.5, 0, 0],
      std: [2, 1, 1],
    });
    // BGR: channel 0 is blue; x = ((-1 + 2v/255) - mean) / std
    const f = (v: number, m: number, s: number): number =>
      Math.fround((-1 + (2 * v) / 255 - m) / s);
    const want = [
      f(255, 0.5, 2),
      f(0, 0.5, 2),
      f(51, 0, 1),
      f(102, 0, 1),
      f(0, 0, 1),
      f(255, 0, 1),
    ];
    Array.from(norm.data).forEach((x, i) => expect(x).toBeCloseTo(want[i] as number, 6));
  });

  it('refuses a wrong pixel count', () => {
    expect(() => imageTensor([0, 0, 0], 1, 1, DEFAULT_INPUT_CONTRACT)).toThrow(
      'imageTensor: expected width*height*4 = 4 RGBA bytes, got 3',
    );
  });
});
