import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DenseHybridError,
  createBackbone,
  ladderDenseNet,
  loadWeights,
  serializeSafetensors,
  writeSafetensors,
  type SafetensorsTensorInput,
  type SegmentationModel,
} from '@densehybrid/backbones';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

const TOY = {
  numClasses: 3,
  growthRate: 4,
  blockConfig: [1, 2, 1, 1],
  numInitFeatures: 8,
  sppSize: 8,
  upSizes: [8, 8, 16],
};

/** A PyTorch-style state dict of a model: conv weights transposed HWIO → OIHW by hand. */
function torchStateDict(
  model: ReturnType<typeof ladderDenseNet>,
  dtype: 'F32' | 'F64' = 'F32',
): Map<string, SafetensorsTensorInput> {
  const out = new Map<string, SafetensorsTensorInput>();
  for (const [name, v] of model.variables) {
    const data = v.dataSync();
    if (v.rank === 4) {
      const [kh, kw, ci, co] = v.shape as [number, number, number, number];
      const oihw = new Float32Array(data.length);
      for (let a = 0; a < kh; a++)
        for (let b = 0; b < kw; b++)
          for (let i = 0; i < ci; i++)
            for (let o = 0; o < co; o++)
              oihw[((o * ci + i) * kh + a) * kw + b] = data[((a * kw + b) * ci + i) * co + o]!;
      out.set(name, { dtype, shape: [co, ci, kh, kw], data: oihw });
    } else out.set(name, { dtype, shape: v.shape, data });
    if (name.endsWith('running_var'))
      out.set(name.replace('running_var', 'num_batches_tracked'), {
        dtype: 'I64',
        shape: [],
        data: [100],
      });
  }
  return out;
}

const logits = (model: SegmentationModel, x: tf.Tensor4D): Float32Array => {
  const o = model.apply(x);
  const d = o.logits.dataSync() as Float32Array;
  tf.dispose([o.preLogits, o.logits]);
  return d;
};

describe('loadWeights', () => {
  it('loads a PyTorch state dict (OIHW, F64, DataParallel prefix, num_batches_tracked, logits_aux) and reproduces the outputs', async () => {
    const a = ladderDenseNet({ ...TOY, seed: 3 });
    const x = tf.randomUniform([1, 33, 41, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const t = a.apply(x, { training: true });
    tf.dispose([t.preLogits, t.logits]);
    const sd = torchStateDict(a, 'F64');
    const withModule = new Map([...sd].map(([k, v]) => [`module.${k}`, v] as const));
    withModule.set('module.upsample.upsample_layers.upsample_0.logits_aux.conv.weight', {
      dtype: 'F32',
      shape: [3, 8, 1, 1],
      data: new Float32Array(24),
    });
    const path = join(await mkdtemp(join(tmpdir(), 'w-')), 'ldn.safetensors');
    await writeSafetensors(path, withModule);
    const b = createBackbone(a.config);
    expect(logits(b, x)).not.toEqual(logits(a, x));
    const before = tf.memory().numTensors;
    const r = await loadWeights(b, path);
    expect(tf.memory().numTensors).toBe(before);
    expect(r).toMatchObject({
      loaded: a.variables.size,
      missing: [],
      unexpected: [],
      strippedPrefix: 'module.',
      addedPrefix: '',
    });
    expect(r.ignored).toBe(
      1 + [...a.variables.keys()].filter((n) => n.endsWith('running_var')).length,
    );
    const want = logits(a, x);
    const got = logits(b, x);
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
    tf.dispose(x);
    a.dispose();
    b.dispose();
  });

  it('torchvision-style encoder weights: auto prefix "backbone.", partial loading, missing/unexpected listed', async () => {
    const a = ladderDenseNet({ ...TOY, seed: 4 });
    const sd = torchStateDict(a);
    const encoderOnly = new Map(
      [...sd]
        .filter(([k]) => k.startsWith('backbone.features.'))
        .map(([k, v]) => [k.slice('backbone.'.length), v] as const),
    );
    encoderOnly.set('classifier.weight', { dtype: 'F16', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] });
    const bytes = serializeSafetensors(encoderOnly);
    const b = ladderDenseNet({ ...TOY, seed: 5 });
    let caught: unknown;
    try {
      await loadWeights(b, bytes);
    } catch (e) {
      caught = e;
    }
    expect(DenseHybridError.is(caught) && caught.code).toBe('MODEL_LOAD');
    expect((caught as Error).message).toMatch(
      /got \d+ missing: "spp\.spp\.spp\.spp_bn\.norm\.weight"/,
    );
    const r = await loadWeights(b, bytes, { allowMissing: true, allowUnexpected: true });
    expect(r.addedPrefix).toBe('backbone.');
    expect(r.unexpected).toEqual(['backbone.classifier.weight']);
    expect(r.missing.every((n) => !n.startsWith('backbone.'))).toBe(true);
    expect(b.variables.get('backbone.features.conv0.weight')!.dataSync()).toEqual(
      a.variables.get('backbone.features.conv0.weight')!.dataSync(),
    );
    expect(b.variables.get('logits.conv.weight')!.dataSync()).not.toEqual(
      a.variables.get('logits.conv.weight')!.dataSync(),
    );
    await expect(loadWeights(b, bytes, { allowMissing: true })).rejects.toThrow(
      /1 unexpected: "backbone\.classifier\.weight"/,
    );
    a.dispose();
    b.dispose();
  });

  it('names the mismatching weight with both layouts, and loads into a plain Map of variables', async () => {
    const a = ladderDenseNet({ ...TOY, numClasses: 3 });
    const b = ladderDenseNet({ ...TOY, numClasses: 5 });
    const bytes = serializeSafetensors(torchStateDict(a));
    await expect(loadWeights(b, bytes)).rejects.toThrow(
      /weight "logits\.conv\.weight" with shape \[1,1,16,5\] \(tfjs layout, HWIO\), got \[3,16,1,1\] in the file \(PyTorch layout, OIHW\)/,
    );
    const head = new Map([
      ['conv.weight', tf.variable(tf.zeros([1, 1, 2, 3]))],
      ['conv.bias', tf.variable(tf.zeros([3]))],
    ]);
    const file = serializeSafetensors(
      new Map([
        ['conv.weight', { dtype: 'BF16', shape: [3, 2, 1, 1], data: [1, 2, 3, 4, 5, 6] }],
        ['conv.bias', { dtype: 'F32', shape: [3], data: [0.5, 0, -0.5] }],
      ]),
    );
    await loadWeights(head, file);
    // OIHW [o][i] = 1 + 2o + i  →  HWIO [0][0][i][o]
    expect(head.get('conv.weight')!.arraySync()).toEqual([
      [
        [
          [1, 3, 5],
          [2, 4, 6],
        ],
      ],
    ]);
    expect([...head.get('conv.bias')!.dataSync()]).toEqual([0.5, 0, -0.5]);
    tf.dispose([...head.values()]);
    a.dispose();
    b.dispose();
  });
});
