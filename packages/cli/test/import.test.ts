import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ladderDenseNet } from '@densehybrid/backbones';
import { loadModel } from '@densehybrid/core';
import { readImage } from '@densehybrid/data-mixing';
import { readNpy } from '@densehybrid/metrics-openiou/node';
import { PickleWriter, writeTorchZip } from '../../../test-support/torch-zip.js';
import { authorsStateDict, perturb, twoWayHead } from '../../../test-support/authors-checkpoint.js';
import { cli, fixtureTrainArgs, tempDir } from './helpers.js';
import { makeAde, makeStreetHazards } from './fixtures.js';

const K = 12; // StreetHazards
let tmp: Awaited<ReturnType<typeof tempDir>>;
let sh: string;
let ade: string;
let pt: string;
let closedSet: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  tmp = await tempDir('dh-import-');
  sh = join(tmp.dir, 'streethazards');
  ade = join(tmp.dir, 'ade');
  await Promise.all([makeStreetHazards(sh), makeAde(ade)]);
  // "the authors' checkpoint" of a tiny LDN: their key names, DataParallel prefix, OOD head
  const source = ladderDenseNet({ preset: 'tiny', numClasses: K, seed: 4 });
  perturb(source, 8);
  const head = twoWayHead(source.preLogitChannels, 2);
  pt = join(tmp.dir, 'ldn_tiny.pt');
  await writeFile(pt, writeTorchZip(authorsStateDict(source, head, 'module.')));
  closedSet = join(tmp.dir, 'closed_set.pt');
  await writeFile(closedSet, writeTorchZip(authorsStateDict(source, undefined)));
  source.dispose();
}, 60_000);
afterAll(async () => tmp.cleanup());

describe('densehybrid import', () => {
  it('prints the accounting, writes a model folder that infer reads', async () => {
    const out = join(tmp.dir, 'imported');
    const r = await cli([
      'import',
      pt,
      '--arch',
      'tiny',
      '--classes',
      'streethazards',
      '--out',
      out,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^\d+ source keys \(pytorch-zip\): \d+ mapped, 6 converted \(2-way OOD head logits_ood → posterior head\), \d+ skipped \(num_batches_tracked \d+, logits_aux 2\), 0 unmapped; removed prefix "module\."/m,
    );
    expect(r.stdout).toMatch(
      /model groups loaded: encoder (\d+)\/\1, decoder (\d+)\/\2, classifier (\d+)\/\3, head 6\/6/,
    );
    const json = await cli([
      'import',
      pt,
      '--arch',
      'tiny',
      '--classes',
      '12',
      '--out',
      join(tmp.dir, 'imported2'),
      '--json',
    ]);
    const result = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(result).toMatchObject({ numClasses: K, converted: 6, unmapped: 0, missingGroups: [] });
    expect((result['classNames'] as string[])[6]).toBe('road');
    expect(result['skipped']).toMatchObject({ logits_aux: 2 });

    const maps = join(tmp.dir, 'maps');
    const image = join(sh, 'test/images/test/t5/0.png');
    const inf = await cli(['infer', '--checkpoint', out, image, '--out', maps, '--backend', 'cpu']);
    expect(inf.stderr).not.toMatch(/densehybrid infer:/);
    expect(inf.code).toBe(0);
    // infer's hybrid scores are the model file's (loadModel), at float16 precision
    const scores = await readNpy(join(maps, '0.scores.npy'));
    const detector = await loadModel(out);
    try {
      const img = await readImage(image);
      const { scores: score } = await detector.score(img, 'hybrid');
      expect(scores.shape).toEqual([img.height, img.width]);
      let maxRel = 0;
      for (let i = 0; i < score.length; i++)
        maxRel = Math.max(
          maxRel,
          Math.abs(scores.data[i]! - score[i]!) / Math.max(1, Math.abs(score[i]!)),
        );
      expect(maxRel).toBeLessThan(2e-3);
      expect(detector.classNames[1]).toBe('building');
      expect(detector.meta['dataset']).toBe('streethazards');
    } finally {
      detector.dispose();
    }
  });

  it('refuses a malicious pickle, a corrupted file, unmapped keys and a missing head', async () => {
    const evil = join(tmp.dir, 'evil.pt');
    const p = new PickleWriter()
      .proto(2)
      .global('__builtin__', 'eval')
      .str("__import__('os').system('touch pwned')")
      .raw(0x85)
      .reduce()
      .stop();
    await writeFile(evil, writeTorchZip({ w: { shape: [1], data: [1] } }, { pickle: p.bytes() }));
    const a = await cli([
      'import',
      evil,
      '--arch',
      'tiny',
      '--classes',
      '12',
      '--out',
      join(tmp.dir, 'x'),
    ]);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(
      /^densehybrid import: readTorchCheckpoint: .*evil\.pt: .*got the global __builtin__\.eval; refused/m,
    );

    const bytes = await readFile(pt);
    const cut = join(tmp.dir, 'cut.pt');
    await writeFile(cut, bytes.subarray(0, bytes.length - 100));
    const b = await cli([
      'import',
      cut,
      '--arch',
      'tiny',
      '--classes',
      '12',
      '--out',
      join(tmp.dir, 'x'),
    ]);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/cut\.pt: expected a PyTorch checkpoint \(zip archive\), got/);

    const c = await cli([
      'import',
      closedSet,
      '--arch',
      'tiny',
      '--classes',
      '12',
      '--out',
      join(tmp.dir, 'x'),
    ]);
    expect(c.code).toBe(1);
    expect(c.stderr).toMatch(
      /head 0\/6 loaded .*allowMissing: \['head'\] \(CLI: import --allow-missing head, train --init-allow-missing head\)/,
    );
    const d = await cli([
      'import',
      closedSet,
      '--arch',
      'tiny',
      '--classes',
      '12',
      '--out',
      join(tmp.dir, 'closed'),
      '--allow-missing',
      'head',
    ]);
    expect(d.code).toBe(0);
    expect(d.stdout).toContain('head 0/6 (kept as initialised: head)');

    const e = await cli([
      'import',
      pt,
      '--arch',
      'densenet121',
      '--classes',
      '12',
      '--out',
      join(tmp.dir, 'x'),
    ]);
    expect(e.code).toBe(1);
    expect(e.stderr).toMatch(
      /loadStateDict: expected "module\.backbone\.features\.conv0\.weight" to have shape \[64,3,7,7\] .* got \[16,3,7,7\]/,
    );
    const f = await cli([
      'import',
      pt,
      '--arch',
      'tiny',
      '--classes',
      'a',
      '--out',
      join(tmp.dir, 'x'),
    ]);
    expect(f.code).toBe(2);
    expect(f.stderr).toMatch(/--classes: expected K/);
  });
});

describe('densehybrid train --init', () => {
  const TRAIN = (out: string, extra: string[]) =>
    fixtureTrainArgs(sh, ade, out, 1, ['--checkpoint-every', '1', ...extra]);

  it('fails when a group is missing, trains with --init-allow-missing, and takes .pt files', async () => {
    const bad = await cli(TRAIN(join(tmp.dir, 'run-a'), ['--init', closedSet]));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /^densehybrid train: --init .*closed_set\.pt: loadStateDict: expected the source to cover every group of the model, got head 0\/6 loaded .*--init-allow-missing head/m,
    );
    const ok = await cli(
      TRAIN(join(tmp.dir, 'run-b'), ['--init', closedSet, '--init-allow-missing', 'head']),
    );
    expect(ok.stderr).not.toMatch(/densehybrid train:/);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/init: \d+ weights from .*closed_set\.pt \(6 missing, 0 unused\)/);
    expect(ok.stderr).toMatch(/init: \d+ source keys \(pytorch-zip\): \d+ mapped, 0 converted/);
    expect(ok.stderr).toContain('(kept as initialised: head)');
    const run = JSON.parse(await readFile(join(tmp.dir, 'run-b', 'run.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(run['initAllowMissing']).toEqual(['head']);

    // the authors' file with its OOD head: every group covered, nothing to allow
    const full = await cli(TRAIN(join(tmp.dir, 'run-c'), ['--init', pt]));
    expect(full.code).toBe(0);
    expect(full.stderr).toMatch(/init: \d+ source keys \(pytorch-zip\): \d+ mapped, 6 converted/);
    expect(full.stderr).toMatch(/\(0 missing, 0 unused\)/);

    const unknown = await cli(
      TRAIN(join(tmp.dir, 'run-d'), ['--init', pt, '--init-allow-missing', 'heads']),
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--init-allow-missing: expected comma-separated groups/);
  }, 120_000);
});
