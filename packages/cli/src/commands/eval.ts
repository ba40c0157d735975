import { isAbsolute, join, relative } from 'node:path';
import { rm } from 'node:fs/promises';
import { openDataset, splitFolds } from '@densehybrid/data-mixing';
import type { RgbImage } from '@densehybrid/data-mixing';
import {
  BENCHMARK_PROTOCOLS,
  CALIBRATION_RESAMPLINGS,
  CLOSED_POOLINGS,
  EMPTY_FRAME_RULES,
  FPR_RULES,
  IGNORED_PIXEL_RULES,
  SCORE_ROUNDINGS,
  THRESHOLD_RULES,
  metricsDocument,
} from '@densehybrid/metrics-openiou';
import { openStagedDir } from '@densehybrid/metrics-openiou/node';
import { CliUsageError } from '../args.js';
import { defineCommand } from '../command.js';
import { DEFAULT_SPLITS, protocolDefaults } from '../datasets.js';
import { evaluateFolds } from '../evaluate.js';
import type { EvaluationFold } from '../evaluate.js';
import { CLOSED_MAPS, matchScoreMaps, readFrameMaps } from '../score-maps.js';
import { formatNumber } from '../io.js';
import { SCORE_NAMES, checkpointDigest, loadModel } from '@densehybrid/core';
import type { Detector, ScoreName } from '@densehybrid/core';
import { writeEvaluationReport } from '../report.js';
import {
  BACKEND_FLAG,
  THREADS_FLAG,
  DATASET_FLAG,
  FPR_RULE_FLAG,
  setupBackend,
  CHECKPOINT_FLAG,
  ROOT_FLAG,
} from './common.js';

const pct = (v: number | null | undefined): string =>
  v === null || v === undefined || Number.isNaN(v) ? '—' : (100 * v).toFixed(2);

/**
 * `--score` values: comma-separated lists and repeated flags, in order, duplicates dropped.
 *
 * @throws CliUsageError (exit 2) naming an unknown score and listing the allowed ones
 * @example
 * ```ts
 * parseScoreList(['hybrid,generative', 'max-softmax']); // ['hybrid', 'generative', 'max-softmax']
 * ```
 */
function parseScoreList(values: readonly string[]): ScoreName[] {
  const out: ScoreName[] = [];
  for (const v of values) {
    for (const raw of v.split(',')) {
      const name = raw.trim();
      if (!(SCORE_NAMES as readonly string[]).includes(name)) {
        throw new CliUsageError(
          `--score: expected a comma-separated list of ${SCORE_NAMES.join(' | ')}, got ${JSON.stringify(name)}`,
        );
      }
      if (!out.includes(name as ScoreName)) out.push(name as ScoreName);
    }
  }
  if (out.length === 0) out.push('hybrid');
  return out;
}

/**
 * `--score` values with `--scores`: the names of the score maps (any name of letters, digits,
 * `_`, `-`, `.`), comma-separated or repeated, in order, duplicates dropped.
 *
 * @throws CliUsageError (exit 2) naming a bad name
 * @example
 * ```ts
 * parseMapNames([]); // ['scores']
 * parseMapNames(['hybrid,energy']); // ['hybrid', 'energy']
 * ```
 */
function parseMapNames(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    for (const raw of v.split(',')) {
      const n = raw.trim();
      if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(n) || n === CLOSED_MAPS) {
        throw new CliUsageError(
          `--score: expected score-map names of letters, digits, _ - . (not "${CLOSED_MAPS}", the closed-set predictions), got ${JSON.stringify(n)}`,
        );
      }
      if (!out.includes(n)) out.push(n);
    }
  }
  return out.length > 0 ? out : ['scores'];
}

/** `densehybrid eval`: the benchmark's protocol on a checkpoint, with a report. */
export const evalCommand = defineCommand({
  name: 'eval',
  summary:
    'evaluate a checkpoint on a benchmark: AP, FPR95, AUROC, closed/open mIoU, report with PR/ROC curves',
  description: `Streams the dataset once (memory flat in dataset size with the default histogram
accumulator) and writes metrics.json, report.md, pr.png and roc.png into --out.
--score takes several scores (comma-separated or repeated): one forward pass per image feeds
every score's metrics; the report compares them (one row and one curve per score).
StreetHazards --split test evaluates t5 and t6 with cross-calibration (threshold at TPR 95% on
one fold, open-mIoU on the other, weighted by image count). SMIYC adds component metrics.
Every convention defaults to what the benchmark's official code does (SMIYC's 768 percentile
bins and score > threshold, StreetHazards' per-image AP and the authors' x0.5 bilinear
calibration, ...); each flag below overrides one, and metrics.json / report.md name them all.
Ctrl-C (or a crash) leaves the state in <out>.partial; the same command resumes it. A state of
another run (another checkpoint, --score, data or option) is refused (exit 2) naming what
differs; --fresh starts over.

example:
  densehybrid eval --checkpoint runs/sh --dataset streethazards --root /data/streethazards
  densehybrid eval --checkpoint runs/sh --dataset streethazards --root /data/streethazards \\
    --score hybrid,generative,discriminative,max-softmax`,
  flags: {
    checkpoint: {
      ...CHECKPOINT_FLAG,
      required: false,
      description: `${CHECKPOINT_FLAG.description}; or --scores`,
    },
    dataset: DATASET_FLAG,
    root: ROOT_FLAG,
    split: {
      type: 'string',
      placeholder: 'split',
      description: 'split to evaluate (default: the benchmark test split)',
    },
    out: {
      type: 'path',
      placeholder: 'dir',
      description: 'report folder (default: <checkpoint>/eval-<dataset>-<split>)',
    },
    scores: {
      type: 'path',
      placeholder: 'dir',
      description:
        'evaluate precomputed score maps instead of a checkpoint: .npy (float16/float32) per frame as <dir>/<score>/<frame>.npy or <dir>/<frame>.<score>.npy, optional closed-set predictions as closed (.npy uint8 or .png)',
    },
    score: {
      type: 'string[]',
      placeholder: 'names',
      description: `anomaly scores, comma-separated or repeated: ${SCORE_NAMES.join(', ')} (higher = more anomalous; default hybrid); with --scores the names of the score maps (default scores, as infer writes <frame>.scores.npy)`,
    },
    protocol: {
      type: 'string',
      choices: ['pooled', 'per-image'],
      description: `pooled pixels or per-image average (${protocolDefaults('protocol')})`,
    },
    fprRule: {
      ...FPR_RULE_FLAG,
      description: `how FPR95 picks the operating point (${protocolDefaults('fprRule')})`,
    },
    tpr: {
      type: 'number',
      min: 0,
      max: 1,
      description: `target TPR of FPR95 and of calibration (${protocolDefaults('tpr')})`,
    },
    threshold: {
      type: 'number',
      description:
        'open-set threshold of the (single) --score (default: the calibrated one in the checkpoint, for its score)',
    },
    thresholdRule: {
      type: 'string',
      choices: THRESHOLD_RULES,
      placeholder: 'rule',
      description: `greater: unknown/anomalous where score > threshold, greater-or-equal: >= (open-set maps, SMIYC components; ${protocolDefaults('thresholdRule')})`,
    },
    calibrationScale: {
      type: 'number',
      min: 0.01,
      max: 1,
      placeholder: 's',
      description: `cross-calibration (StreetHazards t5/t6) on score maps and labels resampled by s; 1 = full resolution (${protocolDefaults('calibrationScale')}, as the authors' evaluate_osr.py)`,
    },
    calibrationResampling: {
      type: 'string',
      choices: CALIBRATION_RESAMPLINGS,
      placeholder: 'mode',
      description: `how --calibration-scale resamples the scores; labels always nearest (${protocolDefaults('calibrationResampling')}, the authors' F.interpolate(mode='bilinear'))`,
    },
    calibrationFprRule: {
      type: 'string',
      choices: FPR_RULES,
      placeholder: 'rule',
      description: `FPR rule that picks the cross-calibration threshold (${protocolDefaults('calibrationFprRule')}, the authors' first roc_curve point with TPR > --tpr)`,
    },
    closedPooling: {
      type: 'string',
      choices: CLOSED_POOLINGS,
      placeholder: 'rule',
      description: `closed mIoU over several folds: one confusion matrix (pooled) or the folds' mIoU weighted by images (${protocolDefaults('closedPooling')})`,
    },
    perImageEmptyFrames: {
      type: 'string',
      choices: EMPTY_FRAME_RULES,
      placeholder: 'rule',
      description: `per-image protocol: frames without anomaly or inlier pixels are skipped, or count as scikit-learn + np.nanmean would (${protocolDefaults('perImageEmptyFrames')})`,
    },
    ignoredPixels: {
      type: 'string',
      choices: IGNORED_PIXEL_RULES,
      placeholder: 'rule',
      description: `ignored pixels in AP/AUROC/FPR95: excluded, or inliers as StreetHazards' eval_ood.py (${protocolDefaults('ignoredPixels')})`,
    },
    scoreRounding: {
      type: 'string',
      choices: SCORE_ROUNDINGS,
      placeholder: 'precision',
      description: `precision the scores are rounded to before every metric (${protocolDefaults('scoreRounding')})`,
    },
    percentileBins: {
      type: 'integer',
      min: 0,
      placeholder: 'n',
      description: `SMIYC's per-frame percentile bins for the reported pixel metrics, exact values beside; 0 = exact values only (${protocolDefaults('percentileBins', (v) => (v === null ? '0' : String(v)))})`,
    },
    average: {
      type: 'string',
      choices: ['nanmean', 'sum-over-k'],
      description: `open-mIoU mean over the K known classes (${protocolDefaults('average')})`,
    },
    exact: {
      type: 'boolean',
      description:
        'keep every score (exact, memory grows with the dataset) instead of float16 histograms',
    },
    limit: { type: 'integer', min: 1, description: 'only the first N images of each fold' },
    fresh: {
      type: 'boolean',
      description: 'ignore the state of an interrupted run and start over',
    },
    minPredictionSize: {
      type: 'integer',
      min: 0,
      description:
        'SMIYC: drop predicted components smaller than this (default: 500 anomaly track, 50 obstacle track)',
    },
    minInstanceSize: {
      type: 'integer',
      min: 0,
      description: 'SMIYC: ignore ground-truth components smaller than this (default: 100 / 10)',
    },
    labelKind: {
      type: 'string',
      choices: ['anomaly', 'open-set', 'semantic'],
      default: 'anomaly',
      description: 'folder adapter: what labels mean',
    },
    classes: {
      type: 'integer',
      min: 1,
      max: 254,
      placeholder: 'K',
      description:
        'folder adapter with --scores and open-set or semantic labels: K known classes (a checkpoint has its own)',
    },
    backend: BACKEND_FLAG,
    threads: THREADS_FLAG,
  },
  async run(flags, ctx) {
    const name = flags.dataset;
    const mapsDir = flags.scores;
    if ((flags.checkpoint === undefined) === (mapsDir === undefined)) {
      throw new CliUsageError(
        `--checkpoint / --scores: expected one of them (a checkpoint to run, or a folder of score maps), got ${mapsDir === undefined ? 'neither' : 'both'}`,
      );
    }
    const scoreNames: string[] =
      mapsDir !== undefined ? parseMapNames(flags.score) : parseScoreList(flags.score);
    if (flags.threshold !== undefined && scoreNames.length > 1) {
      throw new CliUsageError(
        `--threshold: expected a single --score (a threshold belongs to one score), got ${scoreNames.length} scores (${scoreNames.join(',')})`,
      );
    }
    const bench = BENCHMARK_PROTOCOLS[name];
    const split = flags.split ?? DEFAULT_SPLITS[name].eval;
    const out =
      flags.out ??
      (mapsDir !== undefined
        ? `${mapsDir}-eval-${name}-${split}`
        : join(flags.checkpoint as string, `eval-${name}-${split}`));
    if (mapsDir !== undefined) {
      const inside = relative(mapsDir, out);
      if (inside === '' || (!inside.startsWith('..') && !isAbsolute(inside))) {
        throw new CliUsageError(
          `--out: expected a folder outside --scores ${mapsDir} (its files would be read as score maps), got ${out}`,
        );
      }
    }
    if (
      mapsDir !== undefined &&
      name === 'folder' &&
      flags.labelKind !== 'anomaly' &&
      flags.classes === undefined
    ) {
      throw new CliUsageError(
        `--classes: expected the number of known classes K for ${flags.labelKind} labels of the folder adapter with --scores, got nothing`,
      );
    }
    const t0 = performance.now();
    const backend =
      mapsDir === undefined ? await setupBackend(ctx, flags.backend, flags.threads) : null;
    const detector = mapsDir === undefined ? await loadModel(flags.checkpoint as string) : null;
    try {
      let folds: EvaluationFold[] = [];
      for (const fold of splitFolds(name, split)) {
        folds.push({
          name: fold,
          dataset: await openDataset(name, flags.root, fold, {
            labelKind: flags.labelKind,
            ...(detector
              ? { numClasses: detector.numClasses, classNames: detector.classNames }
              : flags.classes !== undefined
                ? { numClasses: flags.classes }
                : {}),
          }),
        });
      }
      const maps =
        mapsDir !== undefined
          ? await matchScoreMaps(mapsDir, flags.root, folds, scoreNames, flags.limit)
          : null;
      // without closed-set predictions: anomaly metrics only (no closed or open mIoU)
      if (maps && !maps.hasClosed) {
        folds = folds.map((f) =>
          f.dataset.labelKind === 'anomaly' ? f : { ...f, binaryLabels: true },
        );
        if (folds.some((f) => f.binaryLabels))
          ctx.log(
            `note: no closed-set predictions in ${mapsDir} (${CLOSED_MAPS}/<frame>.png|npy or <frame>.${CLOSED_MAPS}.png|npy): anomaly metrics only, no closed or open mIoU`,
          );
      }
      const first = folds[0]?.dataset;
      const numClasses = detector?.numClasses ?? Math.max(1, first?.numClasses ?? 1);
      const classNames = detector?.classNames ?? first?.classNames ?? [];
      const staged = await openStagedDir(out, { resume: !flags.fresh });
      if (staged.resumed) ctx.log(`resuming the interrupted evaluation in ${staged.dir}`);
      const scratch = join(staged.dir, '.eval-state');
      const total = folds.reduce(
        (s, f) => s + Math.min(f.dataset.size, flags.limit ?? Infinity),
        0,
      );
      ctx.log(
        `eval ${folds.map((f) => `${f.dataset.name} (${f.dataset.size})`).join(' + ')} with ${detector ? detector.dir : `the score maps in ${mapsDir}`}`,
      );
      const progress = ctx.progress({ label: 'eval', total });
      let last = 0;
      // the StreetHazards test folds cross-calibrate unless --threshold is given (a threshold
      // stored in the checkpoint does not replace the benchmark's calibration)
      const crossCalibrate =
        folds.length === 2 &&
        bench.openSetThreshold === 'cross-calibration' &&
        flags.threshold === undefined &&
        folds.every((f) => f.binaryLabels !== true);
      const stored = detector?.meta.threshold;
      const threshold: Record<string, number> = {};
      if (flags.threshold !== undefined) threshold[scoreNames[0] as string] = flags.threshold;
      else if (stored && scoreNames.includes(stored.score)) {
        threshold[stored.score] = stored.value;
        // `calibrate` records the rule it calibrated for (older checkpoints: >=)
        const storedRule = stored.thresholdRule ?? 'greater-or-equal';
        const rule = flags.thresholdRule ?? bench.thresholdRule;
        if (storedRule !== rule && !crossCalibrate)
          ctx.log(
            `note: the checkpoint's threshold was calibrated for the rule ${storedRule}; applying it with ${rule} (--threshold-rule ${storedRule} to match)`,
          );
      }
      const result = await evaluateFolds({
        folds,
        score: maps
          ? async (_image, at) => {
              const read = await readFrameMaps(maps.frame(at.fold, at.index), at.width, at.height);
              return {
                width: at.width,
                height: at.height,
                scores: read.scores,
                ...(read.closed ? { closed: read.closed } : {}),
              };
            }
          : (image: RgbImage) =>
              (detector as Detector).detect(image, { scores: scoreNames as ScoreName[] }),
        scoreNames,
        numClasses,
        benchmark: name,
        // each given flag overrides one convention of the benchmark's protocol
        conventions: {
          protocol: flags.protocol,
          fprRule: flags.fprRule,
          tpr: flags.tpr,
          thresholdRule: flags.thresholdRule,
          calibrationScale: flags.calibrationScale,
          calibrationResampling: flags.calibrationResampling,
          calibrationFprRule: flags.calibrationFprRule,
          closedPooling: flags.closedPooling,
          perImageEmptyFrames: flags.perImageEmptyFrames,
          ignoredPixels: flags.ignoredPixels,
          scoreRounding: flags.scoreRounding,
          percentileBins:
            flags.percentileBins === undefined
              ? undefined
              : flags.percentileBins === 0
                ? null
                : flags.percentileBins,
          average: flags.average,
        },
        mode: flags.exact ? 'exact' : 'histogram',
        threshold,
        crossCalibrate,
        ...(bench.components
          ? {
              components: {
                ...bench.components,
                ...(flags.minPredictionSize !== undefined
                  ? { minPredictionSize: flags.minPredictionSize }
                  : {}),
                ...(flags.minInstanceSize !== undefined
                  ? { minInstanceSize: flags.minInstanceSize }
                  : {}),
              },
            }
          : {}),
        scratchDir: scratch,
        outDir: out,
        resumeKey: {
          ...(detector
            ? { checkpoint: await checkpointDigest(detector.dir) }
            : { scoreMaps: mapsDir ?? null, scoreMapsDigest: maps?.identity ?? null }),
          dataset: name,
          root: flags.root,
          split,
        },
        signal: ctx.signal,
        onFrame: (done) => {
          progress.tick(done - last);
          last = done;
        },
        ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
      });
      progress.done();
      const { fprRule, tpr, protocol } = result.conventions;
      const reportCtx = {
        checkpoint: detector?.dir ?? null,
        scoreMaps: mapsDir ?? null,
        dataset: name,
        split,
        score: scoreNames[0] as string,
        scores: scoreNames,
        fprRule,
        tpr,
        mode: flags.exact ? 'exact' : 'histogram (float16 bins)',
        classNames,
        backend: backend?.name ?? 'none (precomputed score maps)',
        seconds: (performance.now() - t0) / 1000,
      };
      await writeEvaluationReport(staged.dir, result, reportCtx);
      await rm(scratch, { recursive: true, force: true });
      await staged.commit();
      const human = [
        `wrote ${out}/{metrics.json,report.md${result.anomaly ? ',pr.png,roc.png' : ''}}`,
      ];
      const width = Math.max(...scoreNames.map((n) => n.length));
      for (const s of result.scores) {
        const tag = scoreNames.length > 1 ? `${s.name.padEnd(width)}  ` : '';
        const a = s.anomaly;
        if (a)
          human.push(
            `${tag}AP ${pct(a.ap)}  FPR95 ${pct(a.fpr)}  AUROC ${pct(a.auroc)}  (${protocol}, ${fprRule}, ${result.frames} images)`,
          );
        if (s.openSet)
          human.push(
            `${tag}open-mIoU ${pct(s.openSet.openMIoU)} (${s.openSet.thresholdSource})  anomaly IoU ${pct(s.openSet.anomalyIoU)}`,
          );
        if (s.components)
          human.push(
            `${tag}sIoU ${pct(s.components.sIoU)}  PPV ${pct(s.components.ppv)}  mean F1 ${pct(s.components.meanF1)}`,
          );
      }
      if (result.closed) human.push(`closed mIoU ${pct(result.closed.mIoU)}`);
      for (const n of result.notes) human.push(`note: ${n}`);
      ctx.debug(`throughput ${formatNumber(result.frames / reportCtx.seconds)} images/s`);
      ctx.result({ out, ...metricsDocument(result, reportCtx) }, human);
    } finally {
      detector?.dispose();
    }
  },
});
