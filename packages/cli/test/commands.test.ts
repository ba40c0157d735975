import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { loadCheckpoint, disposeCheckpoint, saveCheckpoint } from '@densehybrid/core';
import { readLabel } from '@densehybrid/data-mixing';
import {
  AnomalyMetricsAccumulator,
  PercentileBinsAccumulator,
  anomalyMetrics,
  calibrateThreshold,
  componentMetrics,
} from '@densehybrid/metrics-openiou';
import { colormapLut } from '../src/render/colormap.js';
import { readNpy } from '@densehybrid/metrics-openiou/node';
import { cli, fixtureEvalArgs, fixtureTrainArgs, tempDir } from './helpers.js';
import {
  H,
  W,
  makeAde,
  makeCityscapes,
  makeFishyscapes,
  makeStreetHazards,
  makeSmiyc,
  makeFolder,
} from './fixtures.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let sh: string;
let ade: string;
let fs: string;
let run: string;

const TRAIN = (out: string, steps: number, extra: string[] = []) =>
  fixtureTrainArgs(sh, ade, out, steps, ['--checkpoint-every', '1', ...extra]);

beforeAll(async () => {
  tmp = await tempDir();
  sh = join(tmp.dir, 'streethazards');
  ade = join(tmp.dir, 'ade');
  fs = join(tmp.dir, 'fishyscapes');
  run = join(tmp.dir, 'run');
  await Promise.all([makeStreetHazards(sh), makeAde(ade), makeFishyscapes(fs)]);
  const r = await cli([...TRAIN(run, 2), '--json']);
  if (r.code !== 0) throw new Error(`training fixture failed: ${r.stderr}`);
}, 120_000);
afterAll(async () => tmp.cleanup());

describe('train', () => {
  it('writes a run folder with a model checkpoint and a training state', async () => {
    const ckpt = await loadCheckpoint(join(run, 'model'));
    try {
      expect(ckpt.meta['step']).toBe(2);
      expect(ckpt.meta['classNames']).toHaveLength(12);
      expect([...ckpt.variables.keys()].some((k) => k.startsWith('head.'))).toBe(true);
    } finally {
      disposeCheckpoint(ckpt);
    }
    expect((await stat(join(run, 'state', 'variables.safetensors'))).size).toBeGreaterThan(1000);
    expect(JSON.parse(await readFile(join(run, 'run.json'), 'utf8'))).toMatchObject({
      dataset: 'streethazards',
      steps: 2,
    });
  });

  it('refuses to overwrite a run without --resume, and resumes with it', async () => {
    const again = await cli(TRAIN(run, 2));
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(
      /^densehybrid train: --out: expected a new run folder.*pass --resume/,
    );
    // interrupted after the first of 3 steps (Ctrl-C), then resumed: same weights as one run
    const resumed = join(tmp.dir, 'run-resume');
    const controller = new AbortController();
    const first = await cli(TRAIN(resumed, 3), {
      io: {
        signal: controller.signal,
        stderr: (t) => {
          if (/train {2}1\/3/.test(t)) controller.abort();
        },
      },
    });
    expect(first.code).toBe(130);
    expect(first.stderr).toMatch(
      /interrupted; stopped at step 1\/3; state saved in .*continue with --resume/,
    );
    await expect(stat(join(resumed, 'model'))).rejects.toThrow();
    const r = await cli([...TRAIN(resumed, 3, ['--resume']), '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ step: 3, startStep: 1 });
    const straight = join(tmp.dir, 'run-straight');
    // the uninterrupted run decodes and mixes on a worker thread: same batches, same weights
    expect((await cli(TRAIN(straight, 3, ['--workers', '1']))).code).toBe(0);
    const a = await loadCheckpoint(join(resumed, 'model'));
    const b = await loadCheckpoint(join(straight, 'model'));
    try {
      for (const [name, t] of a.variables) {
        expect(Array.from(t.dataSync()), name).toEqual(
          Array.from((b.variables.get(name) as tf.Tensor).dataSync()),
        );
      }
    } finally {
      disposeCheckpoint(a);
      disposeCheckpoint(b);
    }
  });

  it('initialises from a checkpoint with --init and names an unusable --init', async () => {
    const r = await cli(TRAIN(join(tmp.dir, 'run-init'), 1, ['--init', run]));
    expect(r.code).toBe(0);
    const m = /init: (\d+) weights from .*model \(0 missing, 0 unused\)/.exec(r.stderr);
    expect(m).not.toBeNull();
    const ckpt = await loadCheckpoint(join(run, 'model'));
    expect(Number(m?.[1])).toBe(ckpt.variables.size);
    disposeCheckpoint(ckpt);
    const bad = await cli(
      TRAIN(join(tmp.dir, 'run-init2'), 1, ['--init', join(tmp.dir, 'nothing-here')]),
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^densehybrid train: .*nothing-here/m);
  });

  it('initialises from a plain backbone checkpoint whose own names start with backbone.', async () => {
    // LDN names its weights `backbone.features.…`; a run stores them as `backbone.backbone.…`.
    const ckpt = await loadCheckpoint(join(run, 'model'));
    const backboneOnly = new Map<string, tf.Tensor>();
    for (const [name, t] of ckpt.variables)
      if (name.startsWith('backbone.')) backboneOnly.set(name.slice('backbone.'.length), t);
    expect(
      [...backboneOnly.keys()].every(
        (k) =>
          k.startsWith('backbone.') ||
          k.startsWith('spp.') ||
          k.startsWith('upsample.') ||
          k.startsWith('logits.'),
      ),
    ).toBe(true);
    const plain = join(tmp.dir, 'plain-backbone');
    await saveCheckpoint(plain, {
      config: { architecture: 'ladder-densenet' },
      variables: backboneOnly,
    });
    const headCount = ckpt.variables.size - backboneOnly.size;
    disposeCheckpoint(ckpt);
    // it lacks the posterior head: refused unless --init-allow-missing names it (issue 16)
    const refused = await cli(TRAIN(join(tmp.dir, 'run-init-plain0'), 1, ['--init', plain]));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/head 0\/\d+ loaded .*--init-allow-missing head/);
    const r = await cli(
      TRAIN(join(tmp.dir, 'run-init-plain'), 1, ['--init', plain, '--init-allow-missing', 'head']),
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      `init: ${backboneOnly.size} weights from ${plain} (${headCount} missing, 0 unused)`,
    );
    expect(headCount).toBeGreaterThan(0);
  });

  it('trains on a folder dataset with --classes, and asks for it', async () => {
    const root = join(tmp.dir, 'folder-train');
    await makeFolder(root); // labels 0/1/255: K = 2 semantic classes here
    const base = [
      'train',
      '--dataset',
      'folder',
      '--root',
      root,
      '--split',
      'train',
      '--negatives-root',
      ade,
      '--backbone',
      'tiny',
      '--steps',
      '1',
      '--batch-size',
      '1',
      '--crop-size',
      '16',
      '--backend',
      'wasm',
      '--out',
      join(tmp.dir, 'run-folder'),
    ];
    const missing = await cli(base);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--classes: expected the number of known classes/);
    const r = await cli([...base, '--classes', '2', '--json']);
    expect(r.stderr).not.toMatch(/densehybrid train:/);
    expect(r.code).toBe(0);
    const ckpt = await loadCheckpoint(join(tmp.dir, 'run-folder/model'));
    expect((ckpt.config['backbone'] as { numClasses: number }).numClasses).toBe(2);
    disposeCheckpoint(ckpt);
  });

  it('names the missing dataset folder (exit 1) and rejects unknown flags (exit 2)', async () => {
    const missing = await cli([
      'train',
      '--dataset',
      'streethazards',
      '--root',
      join(tmp.dir, 'nope'),
      '--negatives',
      'none',
      '--out',
      join(tmp.dir, 'x'),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/nope/);
    const unknown = await cli(['train', '--datset', 'streethazards']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown flag --datset \(did you mean --dataset\?\)/);
    const noNeg = await cli([
      'train',
      '--dataset',
      'streethazards',
      '--root',
      sh,
      '--out',
      join(tmp.dir, 'y'),
    ]);
    expect(noNeg.code).toBe(1);
    expect(noNeg.stderr).toMatch(/--negatives-root: expected the ADE20k folder/);
  });
});

describe('infer', () => {
  it('writes heatmap, overlay, open-set map and float16 scores with the expected sizes and colours', async () => {
    const out = join(tmp.dir, 'maps');
    const r = await cli([
      'infer',
      '--checkpoint',
      run,
      join(sh, 'test/images/test/t5'),
      '--out',
      out,
      '--threshold',
      '0',
      '--backend',
      'wasm',
      '--json',
    ]);
    expect(r.stderr).not.toMatch(/densehybrid infer:/);
    expect(r.code).toBe(0);
    // a folder's images are named by their path below it (no folder level of its own)
    const files = (await readdir(out)).sort();
    expect(files).toEqual([
      '0.heatmap.png',
      '0.openset.png',
      '0.overlay.png',
      '0.scores.npy',
      '1.heatmap.png',
      '1.openset.png',
      '1.overlay.png',
      '1.scores.npy',
      'infer.json',
    ]);
    const npy = await readNpy(join(out, '0.scores.npy'));
    expect(npy.dtype).toBe('<f2');
    expect(npy.shape).toEqual([H, W]);
    const heat = await sharp(join(out, '0.heatmap.png'))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([heat.info.width, heat.info.height]).toEqual([W, H]);
    // min-max normalisation: the lowest score is inferno(0), the highest inferno(1)
    let lo = 0;
    let hi = 0;
    npy.data.forEach((v, i) => {
      if (v < (npy.data[lo] as number)) lo = i;
      if (v > (npy.data[hi] as number)) hi = i;
    });
    const lut = colormapLut('inferno');
    expect([...heat.data.subarray(lo * 3, lo * 3 + 3)]).toEqual([lut[0], lut[1], lut[2]]);
    expect([...heat.data.subarray(hi * 3, hi * 3 + 3)]).toEqual([lut[765], lut[766], lut[767]]);
    // open-set map: threshold 0 → pixels with score >= 0 are unknown (white)
    const open = await sharp(join(out, '0.openset.png'))
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect(open.info.width).toBeGreaterThan(W + 40); // map + legend
    for (let i = 0; i < W * H; i++) {
      const x = i % W;
      const y = Math.floor(i / W);
      const o = (y * open.info.width + x) * 3;
      const px = [...open.data.subarray(o, o + 3)];
      if ((npy.data[i] as number) >= 0.01) expect(px).toEqual([255, 255, 255]);
      if ((npy.data[i] as number) < -0.01) expect(px).not.toEqual([255, 255, 255]);
    }
    expect(JSON.parse(r.stdout)).toMatchObject({ images: ['0', '1'], threshold: 0 });
    // the same file name twice is refused, naming both images (nothing written)
    const twice = await cli([
      'infer',
      '--checkpoint',
      run,
      join(sh, 'test/images/test/t5/0.png'),
      join(sh, 'test/images/test/t6/0.png'),
      '--out',
      join(tmp.dir, 'twice'),
      '--backend',
      'wasm',
      '--json',
    ]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toBe(
      `densehybrid infer: <image|dir>: expected each image to get its own output name, got ${join(sh, 'test/images/test/t5/0.png')} and ${join(sh, 'test/images/test/t6/0.png')}, both written as 0.* in --out; rename one, or infer them into separate --out folders\n`,
    );
    await expect(stat(join(tmp.dir, 'twice.partial'))).rejects.toThrow();
  });

  it('keeps finished images after Ctrl-C and resumes from them', async () => {
    const out = join(tmp.dir, 'maps-resume');
    const controller = new AbortController();
    const args = [
      'infer',
      '--checkpoint',
      run,
      join(sh, 'test/images/test/t6'),
      '--out',
      out,
      '--backend',
      'wasm',
    ];
    const first = await cli(args, {
      io: {
        signal: controller.signal,
        stderr: (t) => {
          if (/infer {2}1\/2/.test(t)) controller.abort();
        },
      },
    });
    expect(first.code).toBe(130);
    expect(first.stderr).toMatch(/stopped after 1\/2 images; finished ones are kept/);
    await expect(stat(out)).rejects.toThrow();
    expect((await readdir(`${out}.partial`)).sort()).toEqual([
      '.infer-progress.jsonl',
      '0.heatmap.png',
      '0.openset.png',
      '0.overlay.png',
      '0.scores.npy',
      'infer.json',
    ]);
    const second = await cli([...args, '--json']);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ skipped: 1, images: ['0', '1'] });
    expect((await readdir(out)).length).toBe(9); // 2 × 4 files and infer.json
  });

  it('names an unreadable image and exits 1', async () => {
    const bad = join(tmp.dir, 'bad.png');
    await writeFile(bad, 'not a png');
    const r = await cli([
      'infer',
      '--checkpoint',
      run,
      bad,
      '--out',
      join(tmp.dir, 'm2'),
      '--backend',
      'wasm',
    ]);
    expect(r.code).toBe(1);
    expect(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('densehybrid')),
    ).toHaveLength(1);
    expect(r.stderr).toMatch(/densehybrid infer: .*bad\.png/);
  });
});

describe('eval', () => {
  it('pooled protocol on Fishyscapes (--mode histogram) equals anomalyMetrics on the float16 scores infer writes', async () => {
    const out = join(tmp.dir, 'eval-fs');
    // histogram mode rounds the network's float32 scores to float16, as infer's maps are (the
    // default, exact, is checked against the float32 scores in eval-scores.test.ts)
    const r = await cli(
      fixtureEvalArgs(run, 'fishyscapes-lostandfound', fs, out, ['--mode', 'histogram', '--json']),
    );
    expect(r.stderr).not.toMatch(/densehybrid eval:/);
    expect(r.code).toBe(0);
    const metrics = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8'));
    expect(metrics.protocol).toBe('pooled');
    const maps = join(tmp.dir, 'maps-fs');
    expect(
      (
        await cli([
          'infer',
          '--checkpoint',
          run,
          join(fs, 'leftImg8bit'),
          '--out',
          maps,
          '--backend',
          'wasm',
        ])
      ).code,
    ).toBe(0);
    const scores: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 3; i++) {
      const npy = await readNpy(join(maps, `test/city/f${i}_leftImg8bit.scores.npy`));
      const lab = await readLabel(join(fs, `ood/test/city/f${i}_ood_segmentation.png`));
      scores.push(...npy.data);
      labels.push(...lab.data);
    }
    const ref = anomalyMetrics(scores, labels);
    expect(metrics.anomaly.ap).toBeCloseTo(ref.ap, 9);
    expect(metrics.anomaly.auroc).toBeCloseTo(ref.auroc, 9);
    expect(metrics.anomaly.fpr).toBeCloseTo(ref.fpr, 9);
    expect(metrics.anomaly.positives).toBe(ref.positives);
    for (const f of ['pr.png', 'roc.png']) {
      const meta = await sharp(join(out, f)).metadata();
      expect([meta.width, meta.height]).toEqual([480, 480]);
    }
    expect(await readFile(join(out, 'report.md'), 'utf8')).toMatch(/\| \*\*all\*\* \| [\d.]+ \|/);
  });

  it('StreetHazards test: per-image protocol, closed mIoU and cross-calibrated open-mIoU over t5/t6', async () => {
    const out = join(tmp.dir, 'eval-sh');
    const r = await cli(fixtureEvalArgs(run, 'streethazards', sh, out, ['--json']));
    expect(r.stderr).not.toMatch(/densehybrid eval:/);
    expect(r.code).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m.protocol).toBe('per-image');
    expect(m.context.fprRule).toBe('nearest');
    expect(m.context.dataset).toBe('streethazards');
    expect(m.conventions.officialCode.join('\n')).toMatch(/anomaly-seg eval_ood\.py/);
    expect(m.openSet.calibrationScale).toBe(0.5);
    expect(m.frames).toBe(4);
    expect(m.anomaly.framesUsed).toBe(4);
    expect(m.openSet.thresholdSource).toBe('cross-calibration');
    expect(
      m.openSet.folds.map((f: { name: string; calibratedOn: string }) => [f.name, f.calibratedOn]),
    ).toEqual([
      ['t5', 't6'],
      ['t6', 't5'],
    ]);
    // every fold's confusion counts all non-ignored GT pixels of its 2 images
    for (const f of m.openSet.folds) {
      const total = (f.confusion as number[][]).flat().reduce((a: number, b: number) => a + b, 0);
      expect(total).toBe(2 * W * H);
    }
    const w =
      m.openSet.folds.reduce(
        (s: number, f: { frames: number; openMIoU: number }) => s + f.frames * f.openMIoU,
        0,
      ) / 4;
    expect(m.openSet.openMIoU).toBeCloseTo(w, 12);
    expect(m.closed.mIoU).toBeGreaterThanOrEqual(0);
    expect(m.closed.mIoU).toBeLessThanOrEqual(1);
    const report = await readFile(join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/open-mIoU \(cross-calibration\)/);
    expect(report).toMatch(/calibrated on t6/);
  });

  it('SMIYC: component metrics at the best-F1 threshold equal componentMetrics on the same scores', async () => {
    const root = join(tmp.dir, 'smiyc');
    await makeSmiyc(root);
    const out = join(tmp.dir, 'eval-smiyc');
    const r = await cli(
      fixtureEvalArgs(run, 'smiyc-anomaly', root, out, [
        '--min-prediction-size',
        '0',
        '--min-instance-size',
        '0',
        '--json',
      ]),
    );
    expect(r.stderr).not.toMatch(/densehybrid eval:/);
    expect(r.code).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m.components).not.toBeNull();
    expect(m.components.threshold).toBe(m.anomaly.bestF1Threshold);
    const maps = join(tmp.dir, 'maps-smiyc');
    expect(
      (
        await cli([
          'infer',
          '--checkpoint',
          run,
          join(root, 'dataset_AnomalyTrack/images'),
          '--out',
          maps,
          '--backend',
          'wasm',
        ])
      ).code,
    ).toBe(0);
    const frames = [];
    for (let i = 0; i < 2; i++) {
      const npy = await readNpy(join(maps, `validation_${i}.scores.npy`));
      const lab = await readLabel(
        join(root, `dataset_AnomalyTrack/labels_masks/validation_${i}_labels_semantic.png`),
      );
      frames.push({ scores: npy.data, labels: lab.data, width: W, height: H });
    }
    // SMIYC's official conventions, spelled out: threshold = best F1 of the 768-bin percentile
    // curve (rounded to float16), predictions score > threshold
    expect(m.conventions).toMatchObject({
      percentileBins: 768,
      scoreRounding: 'float16',
      thresholdRule: 'greater',
    });
    const ref = componentMetrics(frames, {
      minPredictionSize: 0,
      minInstanceSize: 0,
      percentileBins: 768,
      thresholdRule: 'greater',
    });
    expect(m.components.threshold).toBe(ref.threshold);
    expect(m.components.sIoU).toBeCloseTo(ref.sIoU, 12);
    expect(m.components.ppv).toBeCloseTo(ref.ppv, 12);
    expect(m.components.meanF1).toBeCloseTo(ref.meanF1, 12);
    expect(m.components.gtComponents).toBe(2);
    expect(m.components.predComponents).toBe(ref.predComponents);
    // the reported pixel metrics are the leaderboard's binned ones, the exact ones beside
    const bins = new PercentileBinsAccumulator({ bins: 768, tpr: 0.95 });
    const all = { scores: [] as number[], labels: [] as number[] };
    for (const f of frames) {
      bins.add(f.scores, f.labels);
      all.scores.push(...f.scores);
      all.labels.push(...f.labels);
    }
    const binned = bins.compute();
    const exact = anomalyMetrics(all.scores, all.labels, { tpr: 0.95, fprRule: 'at-least' });
    for (const k of ['ap', 'auroc', 'fpr', 'bestF1'] as const) {
      expect(m.anomaly[k]).toBeCloseTo(binned[k], 12);
      expect(m.anomalyExact[k]).toBeCloseTo(exact[k], 12);
    }
    const report = await readFile(join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/Component metrics \(SMIYC\)/);
    expect(report).toMatch(/\| \*\*all\*\* \(768 percentile bins per frame\) \|/);
    expect(report).toMatch(/\| all \(exact\) \|/);
  });

  it('reads flags from --config (relative paths) on the folder adapter, with --limit', async () => {
    const root = join(tmp.dir, 'cfg');
    const positives = await makeFolder(join(root, 'mine'));
    await writeFile(
      join(root, 'eval.json'),
      JSON.stringify({
        checkpoint: '../run',
        dataset: 'folder',
        root: 'mine',
        'label-kind': 'anomaly',
        limit: 2,
        out: 'report',
        backend: 'wasm',
      }),
    );
    const r = await cli(['eval', '--config', join(root, 'eval.json'), '--json']);
    expect(r.stderr).not.toMatch(/densehybrid eval:/);
    expect(r.code).toBe(0);
    const m = JSON.parse(r.stdout);
    expect(m.out).toBe(join(root, 'report'));
    expect(m.frames).toBe(2);
    expect(m.anomaly.positives).toBe((positives[0] as number) + (positives[1] as number));
    expect(m.anomaly.ignored).toBe(2 * H);
    const flagWins = await cli([
      'eval',
      '--config',
      join(root, 'eval.json'),
      '--limit',
      '3',
      '--json',
    ]);
    expect(JSON.parse(flagWins.stdout).frames).toBe(3);
  });

  it('is resumable after Ctrl-C (exit 130, then the same command finishes)', async () => {
    const out = join(tmp.dir, 'eval-resume');
    const controller = new AbortController();
    const args = fixtureEvalArgs(run, 'streethazards', sh, out);
    let err = '';
    const first = await cli(args, {
      io: {
        signal: controller.signal,
        stderr: (t) => {
          err += t;
          if (/eval {2}1\/4/.test(t)) controller.abort();
        },
      },
    });
    expect(first.code).toBe(130);
    expect(err).toMatch(/interrupted; stopped after 1\/4 images/);
    await expect(stat(out)).rejects.toThrow();
    const state = JSON.parse(
      await readFile(join(`${out}.partial`, '.eval-state/session-state.json'), 'utf8'),
    );
    expect(state.session.frames.t5).toBe(1);
    const second = await cli([...args, '--json']);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/resuming/);
    const full = JSON.parse(await readFile(join(tmp.dir, 'eval-sh/metrics.json'), 'utf8'));
    const resumed = JSON.parse(second.stdout);
    expect(resumed.anomaly.ap).toBe(full.anomaly.ap);
    expect(resumed.openSet.openMIoU).toBe(full.openSet.openMIoU);
    await expect(stat(`${out}.partial`)).rejects.toThrow();
  });

  it('names an incompatible or missing checkpoint', async () => {
    const notRun = await cli(fixtureEvalArgs(tmp.dir, 'streethazards', sh));
    expect(notRun.code).toBe(1);
    expect(notRun.stderr).toMatch(/loadModel: expected a run folder .* got /);
    const cs = join(tmp.dir, 'cityscapes');
    await makeCityscapes(cs);
    const wrongK = await cli(fixtureEvalArgs(run, 'cityscapes', cs));
    expect(wrongK.code).toBe(1);
    expect(wrongK.stderr).toMatch(
      /expected a checkpoint with 19 classes for cityscapes\/val, got one with 12/,
    );
    // a checkpoint whose weights do not fit its config
    const broken = join(tmp.dir, 'broken');
    const { cp } = await import('node:fs/promises');
    await cp(join(run, 'model'), join(broken, 'model'), { recursive: true });
    const cfgPath = join(broken, 'model/checkpoint.json');
    const cfg = JSON.parse(await readFile(cfgPath, 'utf8'));
    cfg.config.backbone.growthRate = 8;
    await writeFile(cfgPath, JSON.stringify(cfg));
    const mismatch = await cli(fixtureEvalArgs(broken, 'streethazards', sh));
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toMatch(
      /loadModel: expected the weights of .* to match its architecture/,
    );
  });
});

describe('calibrate', () => {
  /** The threshold calibrateThreshold finds on infer's float16 t6 scores with explicit options. */
  async function referenceThreshold(
    checkpoint: string,
    options: Parameters<typeof calibrateThreshold>[1],
  ): Promise<ReturnType<typeof calibrateThreshold>> {
    const maps = join(tmp.dir, 'maps-t6');
    const inf = await cli([
      'infer',
      '--checkpoint',
      checkpoint,
      join(sh, 'test/images/test/t6'),
      '--out',
      maps,
      '--backend',
      'wasm',
      '--fresh',
    ]);
    expect(inf.code).toBe(0);
    const acc = new AnomalyMetricsAccumulator({ mode: 'histogram', perImage: false, ...options });
    for (let i = 0; i < 2; i++) {
      const npy = await readNpy(join(maps, `${i}.scores.npy`));
      const lab = await readLabel(join(sh, `test/annotations/test/t6/${i}.png`));
      // StreetHazards raw label 14 is the anomaly class
      acc.add(
        npy.data,
        Uint8Array.from(lab.data, (v) => (v === 14 ? 1 : 0)),
      );
    }
    return calibrateThreshold(acc, options);
  }

  it("stores the threshold of the authors' calibration by default (FPR rule above, score > threshold), which eval and infer then use", async () => {
    const copy = join(tmp.dir, 'run-cal');
    const { cp } = await import('node:fs/promises');
    await cp(join(run, 'model'), join(copy, 'model'), { recursive: true });
    const calibrate = (extra: string[]) =>
      cli([
        'calibrate',
        '--checkpoint',
        copy,
        '--dataset',
        'streethazards',
        '--root',
        sh,
        '--split',
        't6',
        '--backend',
        'wasm',
        '--json',
        ...extra,
      ]);
    const r = await calibrate([]);
    expect(r.stderr).not.toMatch(/densehybrid calibrate:/);
    expect(r.code).toBe(0);
    const { threshold } = JSON.parse(r.stdout);
    expect(threshold).toMatchObject({ tpr: 0.95, fprRule: 'above', thresholdRule: 'greater' });
    const ckpt = await loadCheckpoint(join(copy, 'model'));
    expect(ckpt.meta['threshold']).toEqual(threshold);
    disposeCheckpoint(ckpt);
    const ref = await referenceThreshold(copy, {
      tpr: 0.95,
      fprRule: 'above',
      thresholdRule: 'greater',
    });
    expect(threshold.value).toBe(ref.threshold);
    expect(threshold.tprReached).toBe(ref.tprReached);
    expect(threshold.fpr).toBe(ref.fpr);

    // the flags override: TPR 0.5, FPR rule at-least, score >= threshold
    const ge = await calibrate([
      '--tpr',
      '0.5',
      '--fpr-rule',
      'at-least',
      '--threshold-rule',
      'greater-or-equal',
    ]);
    expect(ge.code).toBe(0);
    const stored = JSON.parse(ge.stdout).threshold;
    expect(stored).toMatchObject({
      tpr: 0.5,
      fprRule: 'at-least',
      thresholdRule: 'greater-or-equal',
    });
    const refGe = await referenceThreshold(copy, {
      tpr: 0.5,
      fprRule: 'at-least',
      thresholdRule: 'greater-or-equal',
    });
    expect(stored.value).toBe(refGe.threshold);
    expect(stored.tprReached).toBeGreaterThanOrEqual(0.5);
    // independent check: the fraction of t6 anomaly pixels with float16 score >= threshold
    let pos = 0;
    let hit = 0;
    for (let i = 0; i < 2; i++) {
      const npy = await readNpy(join(tmp.dir, 'maps-t6', `${i}.scores.npy`));
      const lab = await readLabel(join(sh, `test/annotations/test/t6/${i}.png`));
      lab.data.forEach((v, p) => {
        if (v === 14) {
          pos++;
          if ((npy.data[p] as number) >= stored.value) hit++;
        }
      });
    }
    expect(hit / pos).toBeCloseTo(stored.tprReached, 9);
    // a threshold calibrated for >= applied by a folder eval (rule >) is noted
    const folder = join(tmp.dir, 'cal-folder');
    await makeFolder(folder);
    const ev = await cli(
      fixtureEvalArgs(copy, 'folder', folder, join(tmp.dir, 'cal-eval'), [
        '--label-kind',
        'anomaly',
      ]),
    );
    expect(ev.code).toBe(0);
    expect(ev.stderr).toMatch(/calibrated for the rule greater-or-equal; applying it with greater/);
    // semantic-only split → clear error
    const sem = await cli([
      'calibrate',
      '--checkpoint',
      copy,
      '--dataset',
      'streethazards',
      '--root',
      sh,
      '--split',
      'train',
      '--backend',
      'wasm',
    ]);
    expect(sem.code).toBe(1);
    expect(sem.stderr).toMatch(/expected a split with anomaly labels/);
  });
});

describe('tensors', () => {
  it('leaves no tensors behind after a command', async () => {
    const before = tf.memory().numTensors;
    const r = await cli([
      'infer',
      '--checkpoint',
      run,
      join(sh, 'test/images/test/t5/0.png'),
      '--out',
      join(tmp.dir, 'm3'),
      '--backend',
      'wasm',
    ]);
    expect(r.code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
  });
});
