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
import type { ResumeKeyValue } from '@densehybrid/metrics-openiou/node';
import { CliUsageError } from '../args.js';
import { defineCommand } from '../command.js';
import { DEFAULT_SPLITS, protocolDefaults } from '../datasets.js';
import { evaluateFolds, evaluateShard, shardRange } from '../evaluate.js';
import type { EvaluateFoldsOptions, EvaluationFold } from '../evaluate.js';
import { CLOSED_MAPS, matchScoreMaps, readFrameMaps } from '../score-maps.js';
import { formatNumber } from '../io.js';
import { SCORE_NAMES } from '@densehybrid/core';
import { RUNTIME_FLAG, openDetector, outputRoot } from '../runtime.js';
import type { Detector, ScoreName } from '@densehybrid/core';
import {
  measuredTimings,
  reportContext,
  summaryLines,
  writeEvaluationReport,
  writeTimings,
} from '../report.js';
import type { ReportBase } from '../report.js';
import { readRecord } from '../resume.js';
import {
  SHARD_INDEX_VARIABLES,
  readComponentThresholds,
  resolveShard,
  shardDirName,
} from '../shard.js';
import {
  BACKEND_FLAG,
  THREADS_FLAG,
  DATASET_FLAG,
  FPR_RULE_FLAG,
  CHECKPOINT_FLAG,
  ROOT_FLAG,
} from './common.js';

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
  description: `Streams the dataset once and writes metrics.json, report.md, pr.png, roc.png and
timings.json into --out. --mode: histogram (one bin per float16 value, memory flat in dataset
size) or exact (every score, 4 bytes per pixel, kept in the state's files while evaluating); the
default is the benchmark's: exact for Fishyscapes (bdlb sorts every float32 score), histogram
elsewhere (SMIYC reads float16; StreetHazards' per-image metrics are exact from each frame's
scores). In histogram mode, scores that are no float16 value are rounded to float16 for the
pooled metrics; metrics.json and report.md name the mode and note such a rounding.
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
On a cluster: --shard i/n (or --shard /n with i from JOB_COMPLETION_INDEX,
SLURM_ARRAY_TASK_ID or AWS_BATCH_JOB_ARRAY_INDEX) evaluates a contiguous block of the frames
into <out>/shard-i-of-n; densehybrid merge <out> --out <dir> then writes the metrics.json of
one process, byte for byte. SMIYC components, and open-mIoU of score maps that are no float16
values (float32 maps, checkpoints): that merge writes <dir>/component-thresholds.json; run every
shard again with --component-thresholds <it> (the second pass), then merge again. Timings go to
timings.json, never into metrics.json.

example:
  densehybrid eval --checkpoint runs/sh --dataset streethazards --root /data/streethazards
  densehybrid eval --checkpoint runs/sh --dataset streethazards --root /data/streethazards \\
    --score hybrid,generative,discriminative,max-softmax
  densehybrid eval --scores maps --dataset smiyc-anomaly --root /data/smiyc --shard /4 --out states`,
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
        'evaluate precomputed score maps instead of a checkpoint: per frame .npy/.npz (float16/32/64), SMIYC .hdf5, or 16-bit .png with --png-scale, as <dir>/<score>/<frame>.<ext>, <dir>/<frame>.<score>.<ext> or (one score) <dir>/<frame>.<ext>; optional closed-set predictions as closed (integer arrays or 8-bit .png)',
    },
    pngScale: {
      type: 'number',
      exclusiveMin: 0,
      placeholder: 's',
      description:
        'with --scores: read 16-bit greyscale .png score maps as value × s (+ --png-offset), e.g. 1.52590219e-5 = 1/65535 for scores in [0, 1]; without it .png files are not score maps',
    },
    pngOffset: {
      type: 'number',
      default: 0,
      placeholder: 'o',
      description: 'with --scores and --png-scale: added to each PNG score after scaling',
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
    mode: {
      type: 'string',
      choices: ['exact', 'histogram'],
      description: `exact: keep every score (4 bytes per pixel; sklearn/bdlb on float32 scores); histogram: one bin per float16 value, memory flat, float32 scores rounded to float16 for pooled metrics (${protocolDefaults('mode')})`,
    },
    exact: {
      type: 'boolean',
      description: 'alias of --mode exact',
    },
    limit: { type: 'integer', min: 1, description: 'only the first N images of each fold' },
    fresh: {
      type: 'boolean',
      description:
        "ignore the state of an interrupted run and start over (with --shard: this shard's)",
    },
    shard: {
      type: 'string',
      placeholder: 'i/n',
      description: `evaluate shard i of n (0-based; a contiguous block of the frames) into <out>/shard-i-of-n for densehybrid merge; /n takes i from ${SHARD_INDEX_VARIABLES.join(', ')} (a given i wins)`,
    },
    shards: {
      type: 'integer',
      min: 1,
      placeholder: 'n',
      description: 'the shard count, as --shard /n (i from the environment)',
    },
    componentThresholds: {
      type: 'path',
      placeholder: 'file',
      description:
        'with --shard: the second pass (SMIYC sIoU/PPV/mean F1; open-mIoU of scores that are no float16 values) at the thresholds densehybrid merge wrote (<merge-out>/component-thresholds.json, or that folder)',
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
    runtime: RUNTIME_FLAG,
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
    if (flags.exact && flags.mode !== undefined && flags.mode !== 'exact') {
      throw new CliUsageError(
        `--exact: expected no --mode or --mode exact with it (--exact is an alias of --mode exact), got --mode ${flags.mode}`,
      );
    }
    // the benchmark's mode unless given (each reproduces the official code, see --help)
    const mode: 'exact' | 'histogram' =
      (flags.mode as 'exact' | 'histogram' | undefined) ?? (flags.exact ? 'exact' : bench.mode);
    const split = flags.split ?? DEFAULT_SPLITS[name].eval;
    const out =
      flags.out ??
      (mapsDir !== undefined
        ? `${mapsDir}-eval-${name}-${split}`
        : join(outputRoot(flags.checkpoint as string), `eval-${name}-${split}`));
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
    const shard = resolveShard(flags.shard, flags.shards, ctx.io.env);
    if (shard?.note) ctx.log(`note: ${shard.note}`);
    if (flags.componentThresholds !== undefined && shard === null) {
      throw new CliUsageError(
        '--component-thresholds: expected --shard (the component pass of a sharded evaluation), got no --shard',
      );
    }
    const thresholds =
      flags.componentThresholds !== undefined
        ? await readComponentThresholds(flags.componentThresholds)
        : null;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const opened =
      mapsDir === undefined
        ? await openDetector(ctx, {
            ...flags,
            checkpoint: flags.checkpoint as string,
            scores: scoreNames as ScoreName[],
          })
        : null;
    const backend = opened ? { name: opened.backend } : null;
    const detector = opened?.detector ?? null;
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
          ? await matchScoreMaps(mapsDir, flags.root, folds, scoreNames, flags.limit, {
              pngScale: flags.pngScale ?? null,
              pngOffset: flags.pngOffset,
            })
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
      const total = folds.reduce(
        (s, f) => s + Math.min(f.dataset.size, flags.limit ?? Infinity),
        0,
      );
      const range = shard ? shardRange(total, shard) : { start: 0, end: total };
      ctx.log(
        `eval ${folds.map((f) => `${f.dataset.name} (${f.dataset.size})`).join(' + ')} with ${detector ? detector.dir : `the score maps in ${mapsDir}`}${shard ? `: shard ${shard.index}/${shard.count} (index from ${shard.indexFrom}), images ${range.start}–${range.end - 1} of ${total}` : ''}`,
      );
      const progress = ctx.progress({ label: 'eval', total: range.end - range.start });
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
      const base: ReportBase = {
        checkpoint: detector?.dir ?? null,
        scoreMaps: mapsDir ?? null,
        dataset: name,
        split,
        scores: scoreNames,
        mode: mode === 'exact' ? 'exact (every score)' : 'histogram (float16 bins)',
        classNames,
        backend: backend?.name ?? 'none (precomputed score maps)',
      };
      const evalOptions: Omit<EvaluateFoldsOptions, 'scratchDir'> = {
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
        mode,
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
        // score maps are read again for the component pass instead of cached
        componentScores: maps ? 'rescore' : 'cache',
        context: base as unknown as ResumeKeyValue,
        resumeKey: {
          ...(opened
            ? { checkpoint: await opened.digest(), ...opened.key }
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
      };
      if (shard) {
        const dir = join(out, shardDirName(shard));
        if (flags.fresh) await rm(dir, { recursive: true, force: true });
        const r = await evaluateShard({
          ...evalOptions,
          scratchDir: dir,
          outDir: dir,
          shard,
          ...(thresholds
            ? {
                componentThresholds: {
                  thresholds: thresholds.thresholds,
                  key: thresholds.key,
                  source: flags.componentThresholds as string,
                },
              }
            : {}),
        });
        progress.done();
        // timings.json: one entry per command that worked on the shard
        const previous = (await readRecord(join(dir, 'timings.json'))) as {
          runs?: unknown;
        } | null;
        const runs = Array.isArray(previous?.runs)
          ? (previous.runs as Record<string, unknown>[])
          : [];
        const t = measuredTimings(t0, cpu0, r.images);
        const { format: _f, version: _v, ...entry } = t;
        const all = [...runs, { ...entry, componentPass: r.componentPass }];
        await writeTimings(dir, {
          ...t,
          seconds: all.reduce((a, x) => a + Number(x['seconds'] ?? 0), 0),
          cpuSeconds: all.reduce((a, x) => a + Number(x['cpuSeconds'] ?? 0), 0),
          images: all.reduce((a, x) => a + Number(x['images'] ?? 0), 0),
          runs: all,
        });
        const merged = `densehybrid merge ${out} --out <dir>`;
        const human = [
          `shard ${shard.index}/${shard.count}: images ${range.start}–${range.end - 1} of ${total} ${r.componentPass === 'pending' ? 'done (first pass)' : 'done'}; state in ${dir}`,
          r.componentPass === 'pending'
            ? `next: when every shard is done, ${merged}; when it writes <dir>/component-thresholds.json (a second pass is needed), run each shard again with --component-thresholds <dir>/component-thresholds.json and merge again`
            : `next: when every shard is done, ${merged}`,
        ];
        ctx.result(
          {
            out: dir,
            shard: { index: shard.index, count: shard.count, start: range.start, end: range.end },
            total,
            componentPass: r.componentPass,
            images: r.images,
          },
          human,
        );
        return;
      }
      const staged = await openStagedDir(out, { resume: !flags.fresh });
      if (staged.resumed) ctx.log(`resuming the interrupted evaluation in ${staged.dir}`);
      const scratch = join(staged.dir, '.eval-state');
      const result = await evaluateFolds({ ...evalOptions, scratchDir: scratch, outDir: out });
      progress.done();
      const reportCtx = reportContext(base, result);
      await writeEvaluationReport(staged.dir, result, reportCtx);
      const timings = measuredTimings(t0, cpu0, result.frames);
      await writeTimings(staged.dir, timings);
      await rm(scratch, { recursive: true, force: true });
      await staged.commit();
      ctx.debug(`throughput ${formatNumber(timings.imagesPerSecond)} images/s`);
      ctx.result({ out, ...metricsDocument(result, reportCtx) }, summaryLines(out, result));
    } finally {
      detector?.dispose();
    }
  },
});
