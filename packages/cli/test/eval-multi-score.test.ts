import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel } from '@densehybrid/core';
import type { ScoreName } from '@densehybrid/core';
import { openDataset, readLabel } from '@densehybrid/data-mixing';
import {
  anomalyMetrics,
  binaryAnomalyLabels,
  calibrateThreshold,
  resampleBilinear,
  resampleNearest,
} from '@densehybrid/metrics-openiou';
import type { FprRule, ThresholdRule } from '@densehybrid/metrics-openiou';
import { readNpy } from '@densehybrid/metrics-openiou/node';
import { cli, evalJson, fixtureEvalArgs, fixtureTrainArgs, tempDir } from './helpers.js';
import { H, W, makeAde, makeFishyscapes, makeSmiyc, makeStreetHazards } from './fixtures.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let sh: string;
let fs: string;
let smiyc: string;
let run: string;

beforeAll(async () => {
  tmp = await tempDir('dh-cli-multi-');
  sh = join(tmp.dir, 'streethazards');
  fs = join(tmp.dir, 'fishyscapes');
  smiyc = join(tmp.dir, 'smiyc');
  const ade = join(tmp.dir, 'ade');
  run = join(tmp.dir, 'run');
  await Promise.all([makeStreetHazards(sh), makeAde(ade), makeFishyscapes(fs), makeSmiyc(smiyc)]);
  const r = await cli([...fixtureTrainArgs(sh, ade, run, 2), '--json']);
  if (r.code !== 0) throw new Error(`training fixture failed: ${r.stderr}`);
}, 120_000);
afterAll(async () => tmp.cleanup());

const evalArgs = (dataset: string, root: string, out: string, scores: string[]): string[] =>
  fixtureEvalArgs(
    run,
    dataset,
    root,
    out,
    scores.flatMap((s) => ['--score', s]),
  );

const SH_SCORES = ['hybrid', 'generative', 'discriminative', 'max-softmax'];

describe('eval with several scores', () => {
  it('StreetHazards: every score equals a single-score eval with that score (AP/FPR/AUROC per fold, open-mIoU)', async () => {
    // both syntaxes: a comma-separated list and a repeated flag
    const multi = await evalJson(
      evalArgs('streethazards', sh, join(tmp.dir, 'sh-multi'), [
        'hybrid,generative',
        'discriminative,max-softmax',
      ]),
    );
    expect(multi.context.scores).toEqual(SH_SCORES);
    expect(Object.keys(multi.scores)).toEqual(SH_SCORES);
    expect(multi.frames).toBe(4);
    const aps = new Set<number>();
    for (const score of SH_SCORES) {
      const single = await evalJson(
        evalArgs('streethazards', sh, join(tmp.dir, `sh-${score}`), [score]),
      );
      expect(single.context.score).toBe(score);
      const m = multi.scores[score];
      expect(m.anomaly).toEqual(single.anomaly);
      expect(m.perFoldAnomaly).toEqual(single.perFoldAnomaly);
      expect(m.openSet).toEqual(single.openSet);
      expect(m.openSet.thresholdSource).toBe('cross-calibration');
      expect(multi.closed).toEqual(single.closed);
      // the single-score document carries the same section under scores too
      expect(single.scores[score].anomaly).toEqual(single.anomaly);
      aps.add(m.anomaly.ap);
    }
    // the scores really differ (the test would not notice a mix-up otherwise)
    expect(aps.size).toBeGreaterThan(1);
    // top level = the first score (the single-score layout)
    expect(multi.anomaly).toEqual(multi.scores.hybrid.anomaly);
    expect(multi.openSet).toEqual(multi.scores.hybrid.openSet);

    const report = await readFile(join(tmp.dir, 'sh-multi/report.md'), 'utf8');
    expect(report).toMatch(/## Score comparison/);
    expect(report).toMatch(/\| score \| AP \| FPR95 \| AUROC \| open-mIoU \|/);
    for (const score of SH_SCORES) {
      const s = multi.scores[score];
      const row = `| ${score} | ${(100 * s.anomaly.ap).toFixed(2)} | ${(100 * s.anomaly.fpr).toFixed(2)} | ${(100 * s.anomaly.auroc).toFixed(2)} | ${(100 * s.openSet.openMIoU).toFixed(2)} |`;
      expect(report).toContain(row);
    }
    const metricsFile = JSON.parse(await readFile(join(tmp.dir, 'sh-multi/metrics.json'), 'utf8'));
    expect(Object.keys(metricsFile.scores)).toEqual(SH_SCORES);
  });

  it('draws one curve per score in pr.png and roc.png (one legend colour each)', async () => {
    const colours = async (file: string): Promise<Set<string>> => {
      const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
      const seen = new Set<string>();
      for (let i = 0; i < data.length; i += info.channels)
        seen.add(`${data[i]},${data[i + 1]},${data[i + 2]}`);
      return seen;
    };
    // plotCurves' palette: series 0 blue, 1 orange, 2 green, 3 red
    const series = ['31,119,180', '255,127,14', '44,160,44', '214,39,40'];
    for (const f of ['pr.png', 'roc.png']) {
      const multi = await colours(join(tmp.dir, 'sh-multi', f));
      for (const c of series) expect(multi).toContain(c);
      const single = await colours(join(tmp.dir, 'sh-hybrid', f));
      expect(single).toContain(series[0]);
      for (const c of series.slice(1)) expect(single).not.toContain(c);
    }
  });

  it('Fishyscapes (pooled, --mode histogram): a non-default score equals anomalyMetrics on the float16 scores infer writes for it', async () => {
    // histogram mode rounds the network's float32 scores to float16, as infer's maps are
    const multi = await evalJson([
      ...evalArgs('fishyscapes-lostandfound', fs, join(tmp.dir, 'fs-multi'), [
        'max-logit,generative,entropy',
      ]),
      '--mode',
      'histogram',
    ]);
    const maps = join(tmp.dir, 'maps-fs-generative');
    const inf = await cli([
      'infer',
      '--checkpoint',
      run,
      join(fs, 'leftImg8bit'),
      '--out',
      maps,
      '--score',
      'generative',
      '--backend',
      'wasm',
    ]);
    expect(inf.code).toBe(0);
    const scores: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 3; i++) {
      const npy = await readNpy(join(maps, `test/city/f${i}_leftImg8bit.scores.npy`));
      const lab = await readLabel(join(fs, `ood/test/city/f${i}_ood_segmentation.png`));
      scores.push(...npy.data);
      labels.push(...lab.data);
    }
    const ref = anomalyMetrics(scores, labels);
    const g = multi.scores.generative.anomaly;
    expect(g.ap).toBeCloseTo(ref.ap, 9);
    expect(g.auroc).toBeCloseTo(ref.auroc, 9);
    expect(g.fpr).toBeCloseTo(ref.fpr, 9);
    expect(multi.anomaly).toEqual(multi.scores['max-logit'].anomaly);
    expect(multi.scores.entropy.anomaly.ap).not.toBe(g.ap);
  });

  it('SMIYC: component metrics per score equal single-score evals', async () => {
    const extra = ['--min-prediction-size', '0', '--min-instance-size', '0'];
    const multi = await evalJson([
      ...evalArgs('smiyc-anomaly', smiyc, join(tmp.dir, 'smiyc-multi'), [
        'hybrid,max-softmax,entropy',
      ]),
      ...extra,
    ]);
    for (const score of ['hybrid', 'max-softmax', 'entropy']) {
      const single = await evalJson([
        ...evalArgs('smiyc-anomaly', smiyc, join(tmp.dir, `smiyc-${score}`), [score]),
        ...extra,
      ]);
      expect(multi.scores[score].components).not.toBeNull();
      expect(multi.scores[score].components).toEqual(single.components);
      expect(multi.scores[score].anomaly).toEqual(single.anomaly);
    }
    const report = await readFile(join(tmp.dir, 'smiyc-multi/report.md'), 'utf8');
    expect(report).toMatch(/\| score \| AP \| FPR95 \| AUROC \| sIoU \| PPV \| mean F1 \|/);
    expect(report).toMatch(/^\| entropy \| [\d.]+ \|/m);
  });

  it('rejects an unknown score name (exit 2, one line listing the allowed names) and --threshold with several scores', async () => {
    const bad = await cli(
      evalArgs('streethazards', sh, join(tmp.dir, 'bad'), ['hybrid,max-softmx']),
    );
    expect(bad.code).toBe(2);
    const lines = bad.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/--score: .*"max-softmx"/);
    for (const name of [
      'hybrid',
      'generative',
      'discriminative',
      'max-softmax',
      'max-logit',
      'entropy',
    ])
      expect(lines[0]).toContain(name);
    const thr = await cli([
      ...evalArgs('streethazards', sh, join(tmp.dir, 'thr'), ['hybrid,generative']),
      '--threshold',
      '0.5',
    ]);
    expect(thr.code).toBe(2);
    expect(thr.stderr.trim().split('\n')).toHaveLength(1);
    expect(thr.stderr).toMatch(/--threshold: expected a single --score/);
    await expect(stat(join(tmp.dir, 'bad'))).rejects.toThrow();
  });

  it('resumes an interrupted multi-score eval with every score (same numbers as an uninterrupted run)', async () => {
    const out = join(tmp.dir, 'sh-resume');
    const args = evalArgs('streethazards', sh, out, [SH_SCORES.join(',')]);
    const controller = new AbortController();
    const first = await cli(args, {
      io: {
        signal: controller.signal,
        stderr: (t) => {
          if (/eval {2}2\/4/.test(t)) controller.abort();
        },
      },
    });
    expect(first.code).toBe(130);
    const state = JSON.parse(
      await readFile(join(`${out}.partial`, '.eval-state/session-state.json'), 'utf8'),
    );
    expect(state.session.frames).toEqual({ t5: 2, t6: 0 });
    expect(Object.keys(state.session.scores)).toEqual(SH_SCORES);
    for (const s of SH_SCORES) expect(state.session.scores[s].t5.acc).not.toBeNull();
    const before = tf.memory().numTensors;
    const resumed = await evalJson(args);
    expect(tf.memory().numTensors).toBe(before);
    const full = JSON.parse(await readFile(join(tmp.dir, 'sh-multi/metrics.json'), 'utf8'));
    for (const s of SH_SCORES) {
      expect(resumed.scores[s].anomaly).toEqual(full.scores[s].anomaly);
      expect(resumed.scores[s].openSet).toEqual(full.scores[s].openSet);
    }
    await expect(stat(`${out}.partial`)).rejects.toThrow();
  });
});

/**
 * The reference of cross-calibration, computed without the session: the detector's float32
 * scores of the calibration fold (the same forward pass eval runs), resampled by `scale`
 * (`resampleBilinear` / `resampleNearest`), labels resampled nearest, then `calibrateThreshold`
 * with the given options.
 */
async function referenceCalibration(
  score: ScoreName,
  fold: 't5' | 't6',
  scale: number,
  resampling: 'bilinear' | 'nearest',
  options: { fprRule: FprRule; thresholdRule: ThresholdRule },
): Promise<number> {
  const detector = await loadModel(run);
  try {
    const ds = await openDataset('streethazards', sh, fold);
    const scores: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < ds.size; i++) {
      const sample = await ds.load(i);
      const label = sample.label as NonNullable<typeof sample.label>;
      const out = await detector.detect(sample.image, { scores: [score] });
      const s = out.scores[score] as Float32Array;
      const binary = Uint8Array.from(binaryAnomalyLabels(label.data, ds) as ArrayLike<number>);
      const cal =
        resampling === 'bilinear'
          ? resampleBilinear(s, W, H, scale).data
          : resampleNearest(s, W, H, scale).data;
      const lab = resampleNearest(binary, W, H, scale).data;
      expect(cal).toHaveLength(W * scale * (H * scale));
      scores.push(...cal);
      labels.push(...lab);
    }
    return calibrateThreshold({ scores, labels }, { tpr: 0.95, ...options }).threshold;
  } finally {
    detector.dispose();
  }
}

describe('eval: StreetHazards cross-calibration conventions', () => {
  it("default: the authors' evaluate_osr.py (×0.5, bilinear scores, nearest labels, FPR rule above, score > threshold)", async () => {
    const m = JSON.parse(await readFile(join(tmp.dir, 'sh-multi/metrics.json'), 'utf8'));
    expect(m.conventions).toMatchObject({
      protocol: 'per-image',
      fprRule: 'nearest',
      thresholdRule: 'greater',
      calibrationScale: 0.5,
      calibrationResampling: 'bilinear',
      calibrationFprRule: 'above',
      closedPooling: 'pooled',
      ignoredPixels: 'inliers',
      perImageEmptyFrames: 'skip',
    });
    for (const score of ['hybrid', 'generative'] as const) {
      const openSet = m.scores[score].openSet;
      expect(openSet).toMatchObject({
        calibrationScale: 0.5,
        calibrationResampling: 'bilinear',
        calibrationFprRule: 'above',
        thresholdRule: 'greater',
      });
      const byFold = Object.fromEntries(
        openSet.folds.map((f: { name: string; threshold: number }) => [f.name, f]),
      );
      const rules = { fprRule: 'above', thresholdRule: 'greater' } as const;
      expect(byFold.t5.calibratedOn).toBe('t6');
      expect(byFold.t5.threshold).toBe(
        await referenceCalibration(score, 't6', 0.5, 'bilinear', rules),
      );
      expect(byFold.t6.threshold).toBe(
        await referenceCalibration(score, 't5', 0.5, 'bilinear', rules),
      );
    }
    const report = await readFile(join(tmp.dir, 'sh-multi/report.md'), 'utf8');
    expect(report).toMatch(/calibrated on t6 at TPR 0.95 on ×0.5 resampled scores/);
    expect(report).toMatch(/## Conventions/);
    expect(report).toMatch(/\| threshold rule \| `score > threshold` \|/);
    expect(report).toMatch(
      /\| cross-calibration \| FPR rule `above`, ×0.5 \(bilinear scores, nearest labels\) \|/,
    );
    expect(report).toMatch(/evaluate_osr\.py/);
  });

  it('flags override single conventions: nearest ×0.5, FPR rule nearest, score >= threshold', async () => {
    const m = await evalJson([
      ...evalArgs('streethazards', sh, join(tmp.dir, 'sh-nearest'), ['hybrid,generative']),
      '--calibration-resampling',
      'nearest',
      '--calibration-fpr-rule',
      'nearest',
      '--threshold-rule',
      'greater-or-equal',
    ]);
    expect(m.conventions).toMatchObject({
      calibrationScale: 0.5,
      calibrationResampling: 'nearest',
      calibrationFprRule: 'nearest',
      thresholdRule: 'greater-or-equal',
    });
    const full = JSON.parse(await readFile(join(tmp.dir, 'sh-multi/metrics.json'), 'utf8'));
    for (const score of ['hybrid', 'generative'] as const) {
      const byFold = Object.fromEntries(
        m.scores[score].openSet.folds.map((f: { name: string; threshold: number }) => [f.name, f]),
      );
      const rules = { fprRule: 'nearest', thresholdRule: 'greater-or-equal' } as const;
      expect(byFold.t5.threshold).toBe(
        await referenceCalibration(score, 't6', 0.5, 'nearest', rules),
      );
      expect(byFold.t6.threshold).toBe(
        await referenceCalibration(score, 't5', 0.5, 'nearest', rules),
      );
      // the conventions matter on these frames (the test would not notice an ignored flag)
      expect(
        m.scores[score].openSet.folds.map((f: { threshold: number }) => f.threshold),
      ).not.toEqual(
        full.scores[score].openSet.folds.map((f: { threshold: number }) => f.threshold),
      );
      // anomaly metrics do not depend on the calibration conventions
      expect(m.scores[score].anomaly).toEqual(full.scores[score].anomaly);
    }
  });

  it('--calibration-scale 1 calibrates at full resolution', async () => {
    const m = await evalJson([
      ...evalArgs('streethazards', sh, join(tmp.dir, 'sh-full'), ['hybrid']),
      '--calibration-scale',
      '1',
    ]);
    expect(m.openSet.calibrationScale).toBe(1);
    expect(m.openSet.calibrationResampling).toBeNull();
    expect(m.conventions.calibrationScale).toBe(1);
    const report = await readFile(join(tmp.dir, 'sh-full/report.md'), 'utf8');
    expect(report).not.toMatch(/resampled scores/);
  });
});
