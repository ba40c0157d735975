import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ladderDenseNet,
  serializeSafetensors,
  type SegmentationModel,
} from '@densehybrid/backbones';
import {
  DEFAULT_SKIP_RULES,
  createDenseHybridModel,
  datasetPosteriorHead,
  formatAccounting,
  importAuthorsCheckpoint,
  loadModel,
  loadStateDict,
  modelGroupOf,
  type DenseHybridModel,
} from '@densehybrid/core';
import { PickleWriter, writeTorchZip } from '../../../test-support/torch-zip.js';
import {
  authorsStateDict,
  perturb,
  twoWayHead,
  type TwoWayHead,
} from '../../../test-support/authors-checkpoint.js';

const K = 3;
let dir: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'dh-import-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

/**
 * The authors' eval forward of the 2-way head by hand, in float64: ln softmax(g₂)[1] per pixel
 * of the pre-logits `t` [1, h, w, C] (their hybrid score's discriminative term).
 */
function authorsLogPosterior(t: Float32Array, head: TwoWayHead): Float64Array {
  const c = head.gamma.length;
  const out = new Float64Array(t.length / c);
  for (let p = 0; p < out.length; p++) {
    let l0 = head.b[0] as number;
    let l1 = head.b[1] as number;
    for (let i = 0; i < c; i++) {
      const x =
        (((t[p * c + i] as number) - (head.mean[i] as number)) /
          Math.sqrt((head.variance[i] as number) + 1e-5)) *
          (head.gamma[i] as number) +
        (head.beta[i] as number);
      const y = Math.max(0, x);
      l0 += y * (head.w[0]?.[i] as number);
      l1 += y * (head.w[1]?.[i] as number);
    }
    const m = Math.max(l0, l1);
    out[p] = l1 - (m + Math.log(Math.exp(l0 - m) + Math.exp(l1 - m)));
  }
  return out;
}

const image = () => tf.randomUniform([1, 40, 56, 3], 0, 1, 'float32', 9) as tf.Tensor4D;

describe('importAuthorsCheckpoint', () => {
  let source: SegmentationModel;
  let head: TwoWayHead;
  let pt: string;

  beforeAll(async () => {
    source = ladderDenseNet({ preset: 'tiny', numClasses: K, seed: 5 });
    perturb(source, 11);
    head = twoWayHead(source.preLogitChannels, 3);
    pt = join(dir, 'authors.pt');
    await writeFile(pt, writeTorchZip(authorsStateDict(source, head, 'module.')));
  });
  afterAll(() => source.dispose());

  it('maps, converts and skips every key, and the model file reproduces the authors’ outputs', async () => {
    const before = tf.memory().numTensors;
    const out = join(dir, 'imported');
    const r = await importAuthorsCheckpoint({ source: pt, arch: 'tiny', classes: K, out });
    expect(tf.memory().numTensors).toBe(before);
    const bns = [...source.variables.keys()].filter((n) => n.endsWith('running_var')).length;
    expect(r.mapped).toBe(source.variables.size);
    expect(r.converted).toBe(6);
    expect(r.skipped).toEqual({ num_batches_tracked: bns + 1, logits_aux: 2 });
    expect(r.sourceKeys).toBe(source.variables.size + bns + 1 + 2 + 6);
    expect(r.strippedPrefix).toBe('module.');
    expect(r.addedPrefix).toBe('backbone.');
    expect(r.missingGroups).toEqual([]);
    expect(r.groups.head).toEqual({ loaded: 6, total: 6 });
    expect(r.groups.classifier.loaded).toBe(r.groups.classifier.total);
    expect(r.groups.classifier.total).toBeGreaterThan(0);
    expect(r.dir).toBe(out);
    const lines = formatAccounting(r);
    expect(lines[0]).toContain(`${r.mapped} mapped, 6 converted`);
    expect(lines[1]).toContain('head 6/6');

    const detector = await loadModel(out);
    try {
      expect(detector.numClasses).toBe(K);
      expect(detector.meta['importedFrom']).toMatchObject({ file: 'authors.pt', arch: 'tiny' });
      const x = image();
      const ours = detector.model.forward(x);
      const ref = source.apply(x);
      // logits: the same weights, the same forward
      const a = ours.logits.dataSync();
      const b = ref.logits.dataSync();
      let maxDiff = 0;
      for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
      expect(maxDiff).toBeLessThan(1e-5);
      // posterior: ln σ(g₁) = ln softmax(g₂)[1] of the authors' 2-way head, by hand in float64
      const want = authorsLogPosterior(ref.preLogits.dataSync() as Float32Array, head);
      const g = ours.posteriorLogits.dataSync();
      expect(g.length).toBe(want.length);
      let maxRel = 0;
      for (let p = 0; p < g.length; p++) {
        const lnSigma = Math.min(g[p]!, 0) - Math.log1p(Math.exp(-Math.abs(g[p]!))); // ln σ(g), stable
        maxRel = Math.max(maxRel, Math.abs(lnSigma - want[p]!) / Math.max(1, Math.abs(want[p]!)));
      }
      expect(maxRel).toBeLessThan(1e-5);
      tf.dispose([x, ours.logits, ours.posteriorLogits, ref.logits, ref.preLogits]);
    } finally {
      detector.dispose();
    }
  });

  it('fails on unmapped keys, names a missing head, and accepts allowMissing', async () => {
    const dict = authorsStateDict(source, head);
    const extra = join(dir, 'extra.pt');
    await writeFile(
      extra,
      writeTorchZip({ ...dict, 'something.else.weight': { shape: [1], data: [1] } }),
    );
    await expect(
      importAuthorsCheckpoint({ source: extra, arch: 'tiny', classes: K }),
    ).rejects.toMatchObject({
      code: 'MODEL_LOAD',
      message: expect.stringMatching(/1 unmapped: "something\.else\.weight"/),
    });
    const noHead = join(dir, 'closed-set.pt');
    await writeFile(noHead, writeTorchZip(authorsStateDict(source, undefined)));
    await expect(
      importAuthorsCheckpoint({ source: noHead, arch: 'tiny', classes: K }),
    ).rejects.toMatchObject({
      code: 'MODEL_LOAD',
      message: expect.stringContaining('head 0/6 loaded (missing: "head.posterior_head.bn.weight"'),
    });
    const r = await importAuthorsCheckpoint({
      source: noHead,
      arch: 'tiny',
      classes: ['a', 'b', 'c'],
      allowMissing: ['head'],
    });
    try {
      expect(r.missingGroups).toEqual(['head']);
      expect(r.missing).toHaveLength(6);
      expect(r.converted).toBe(0);
      expect(r.classNames).toEqual(['a', 'b', 'c']);
      expect(r.model).toBeDefined();
    } finally {
      r.model?.dispose();
    }
  });

  it('names a classifier of another K, a malicious pickle, and a bad arch or classes', async () => {
    await expect(
      importAuthorsCheckpoint({ source: pt, arch: 'tiny', classes: 5 }),
    ).rejects.toMatchObject({
      code: 'MODEL_LOAD',
      message: expect.stringContaining('this model has K = 5'),
    });
    // fine-tuning for another K: the classifier's conv is skipped by name, its group reported
    const other = await importAuthorsCheckpoint({
      source: pt,
      arch: 'tiny',
      classes: 5,
      allowMissing: ['classifier'],
    });
    try {
      expect(other.skipped['other-shape-in-allowed-group']).toBe(2);
      expect(other.groups.classifier).toEqual({ loaded: 4, total: 6 });
      expect(other.missingGroups).toEqual(['classifier']);
      expect(other.missing).toEqual(['backbone.logits.conv.weight', 'backbone.logits.conv.bias']);
    } finally {
      other.model?.dispose();
    }
    const evil = join(dir, 'evil.pt');
    const p = new PickleWriter()
      .proto(2)
      .global('os', 'system')
      .str('id')
      .raw(0x85)
      .reduce()
      .stop();
    await writeFile(evil, writeTorchZip({ w: { shape: [1], data: [1] } }, { pickle: p.bytes() }));
    await expect(
      importAuthorsCheckpoint({ source: evil, arch: 'tiny', classes: K }),
    ).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('os.system'),
    });
    await expect(
      importAuthorsCheckpoint({ source: pt, arch: 'ldn999' as 'ldn121', classes: K }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining('ldn121') });
    await expect(
      importAuthorsCheckpoint({ source: pt, arch: 'tiny', classes: 0 }),
    ).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });

  it('imports a .safetensors of the same state_dict the same way', async () => {
    const dict = authorsStateDict(source, head);
    const st = join(dir, 'authors.safetensors');
    await writeFile(
      st,
      serializeSafetensors(
        new Map(
          Object.entries(dict).map(([k, t]) => [
            k,
            { dtype: t.dtype ?? 'F32', shape: t.shape, data: t.data ?? [] },
          ]),
        ),
      ),
    );
    const r = await importAuthorsCheckpoint({ source: st, arch: 'tiny', classes: K });
    try {
      expect(r.sourceFormat).toBe('safetensors');
      expect([r.mapped, r.converted, r.strippedPrefix]).toEqual([source.variables.size, 6, '']);
      const g = r.model!.variables.get('head.posterior_head.conv.bias')!.dataSync()[0]!;
      expect(g).toBeCloseTo(head.b[1]! - head.b[0]!, 6);
    } finally {
      r.model?.dispose();
    }
  });
});

describe('loadStateDict', () => {
  function model(seed: number): DenseHybridModel {
    const backbone = ladderDenseNet({ preset: 'tiny', numClasses: K, seed });
    return createDenseHybridModel({
      backbone,
      head: datasetPosteriorHead({ channels: backbone.preLogitChannels, seed }),
    });
  }

  it('reads a model file (checkpoint folder) with the same accounting, and groups names', async () => {
    const a = model(1);
    const b = model(2);
    try {
      const { saveModel } = await import('@densehybrid/core');
      const saved = join(dir, 'saved');
      await saveModel(saved, a, { classNames: ['x', 'y', 'z'] });
      const r = await loadStateDict(b, saved);
      expect([r.mapped, r.converted, r.addedPrefix, r.sourceFormat]).toEqual([
        a.variables.size,
        0,
        '',
        'checkpoint',
      ]);
      for (const [n, v] of a.variables)
        expect(Array.from(b.variables.get(n)!.dataSync())).toEqual(Array.from(v.dataSync()));
      expect(Object.keys(r.skipped)).toEqual(DEFAULT_SKIP_RULES.map((s) => s.name));
    } finally {
      a.dispose();
      b.dispose();
    }
    expect(modelGroupOf('backbone.spp.spp.spp_bn.norm.weight')).toBe('decoder');
    expect(modelGroupOf('backbone.final.6.weight')).toBe('classifier');
    expect(modelGroupOf('backbone.final.0.weight')).toBe('decoder');
    expect(modelGroupOf('backbone.layer1.0.conv1.weight')).toBe('encoder');
    expect(modelGroupOf('backbone.mod3.block1.convs.conv1.weight')).toBe('encoder');
  });

  it('checks everything before assigning anything', async () => {
    const m = model(3);
    try {
      const before = new Map([...m.variables].map(([n, v]) => [n, v.dataSync().slice()]));
      const bad = authorsStateDict(m.backbone, twoWayHead(m.backbone.preLogitChannels, 1));
      bad['logits.conv.bias'] = { shape: [K + 1], data: new Array(K + 1).fill(0) };
      await expect(loadStateDict(m, writeTorchZip(bad))).rejects.toMatchObject({
        code: 'MODEL_LOAD',
        message: expect.stringContaining('"logits.conv.bias" to have shape [3]'),
      });
      for (const [n, v] of m.variables) expect(v.dataSync()).toEqual(before.get(n));
    } finally {
      m.dispose();
    }
  });
});
