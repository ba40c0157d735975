import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LabelMap, RgbImage, SegmentationDataset } from '@densehybrid/data-mixing';
import {
  AnomalyMetricsAccumulator,
  ComponentMetricsAccumulator,
  DenseHybridError,
  OpenIoU,
  describeValue,
  calibrateThreshold,
} from '@densehybrid/metrics-openiou';
import type {
  AnomalyCurvesResult,
  AnomalyMetricsAccumulatorJSON,
  AnomalyMetricsResult,
  AnomalyProtocol,
  ComponentMetricsOptions,
  ComponentMetricsResult,
  FprRule,
  OpenIoUAverage,
  OpenIoUResult,
} from '@densehybrid/metrics-openiou';
import { writeFileAtomic } from './atomic.js';
import { OpenSetSweep } from './open-set-sweep.js';
import type { OpenSetSweepJSON } from './open-set-sweep.js';
import { yieldToEventLoop } from './io.js';
import { readNpy, writeNpy } from './render/npy.js';

/** What a detector returns for one image: per-pixel scores and the closed-set prediction. */
export interface FrameScores {
  readonly width: number;
  readonly height: number;
  /** Anomaly scores, higher = more anomalous, `width*height`. */
  readonly scores: Float32Array;
  /** argmax over the K known classes, `width*height`. */
  readonly closed: Uint8Array;
}

/** Scores one image (the CLI passes the checkpoint's model). */
export type FrameScorer = (image: RgbImage) => Promise<FrameScores>;

/** Several anomaly scores of one image from one forward pass, and the closed-set prediction. */
export interface MultiFrameScores {
  readonly width: number;
  readonly height: number;
  /** Per score name: `width*height` scores, higher = more anomalous. */
  readonly scores: Readonly<Record<string, Float32Array>>;
  /** argmax over the K known classes, `width*height`. */
  readonly closed: Uint8Array;
}

/** Scores one image with every score of {@link EvaluateFoldsOptions.scoreNames} at once. */
export type MultiFrameScorer = (image: RgbImage) => Promise<MultiFrameScores>;

/** One fold of the evaluated data (StreetHazards test: t5 and t6). */
export interface EvaluationFold {
  readonly name: string;
  readonly dataset: SegmentationDataset;
}

/** Options of {@link evaluateFolds}. */
export interface EvaluateFoldsOptions {
  readonly folds: readonly EvaluationFold[];
  /**
   * The detector: a {@link FrameScorer} (one score, reported under the name `score`), or, with
   * `scoreNames`, a {@link MultiFrameScorer} returning every named score of an image from one
   * forward pass.
   */
  readonly score: FrameScorer | MultiFrameScorer;
  /**
   * Names of the scores a {@link MultiFrameScorer} returns; each gets its own accumulators.
   * @default ['score'] with a single {@link FrameScorer}
   */
  readonly scoreNames?: readonly string[];
  /** K of the model. */
  readonly numClasses: number;
  /** @default 'pooled' */
  readonly protocol?: AnomalyProtocol;
  /** @default 'at-least' */
  readonly fprRule?: FprRule;
  /** @default 0.95 */
  readonly tpr?: number;
  /** `histogram` keeps memory flat in dataset size; `exact` keeps every score. @default 'histogram' */
  readonly mode?: 'histogram' | 'exact';
  /** Open-set threshold when not cross-calibrating (from `--threshold` or the checkpoint); a number applies to every score, a record per score name. */
  readonly threshold?: number | Readonly<Record<string, number>>;
  /** Calibrate on one fold and apply to the other (needs exactly two folds). @default false */
  readonly crossCalibrate?: boolean;
  /**
   * Cross-calibration on score maps and labels resampled by this factor (nearest neighbour,
   * PyTorch's `interpolate(mode='nearest')` convention: output pixel x reads input pixel
   * ⌊x/s⌋); 0.5 is the authors' choice on StreetHazards. Metrics and open-mIoU stay at full
   * resolution. @default 1
   */
  readonly calibrationScale?: number;
  /** open-mIoU average over the K known classes. @default 'nanmean' */
  readonly average?: OpenIoUAverage;
  /** SMIYC component metrics with these options (threshold: best pooled F1). */
  readonly components?: Omit<ComponentMetricsOptions, 'threshold'>;
  /** Folder for resumable state and the score cache of the component pass. */
  readonly scratchDir: string;
  /** Saves the state every this many images. @default 25 */
  readonly stateEvery?: number;
  readonly signal?: AbortSignal;
  /** Called after each image (done counts images of all folds). */
  readonly onFrame?: (done: number, total: number) => void;
  /** Only the first `limit` images of each fold. */
  readonly limit?: number;
}

/** Open-set segmentation results. */
export interface OpenSetEvaluation {
  /** Where the threshold came from. */
  readonly thresholdSource: 'cross-calibration' | 'given';
  /** Resampling factor of the calibration scores (1 = full resolution). */
  readonly calibrationScale: number;
  /** Per fold: the threshold applied and its open-IoU. */
  readonly folds: readonly {
    readonly name: string;
    readonly frames: number;
    readonly threshold: number;
    readonly calibratedOn: string | null;
    readonly result: OpenIoUResult;
  }[];
  /** Image-count weighted mean of the folds' open-mIoU. */
  readonly openMIoU: number;
  /** Image-count weighted mean of the folds' anomaly IoU. */
  readonly anomalyIoU: number;
}

/** The score-dependent results of one anomaly score. */
export interface ScoreEvaluation {
  /** The score's name, e.g. `hybrid`. */
  readonly name: string;
  /** AP/FPR/AUROC over all folds; null when the labels have no anomaly class. */
  readonly anomaly: AnomalyMetricsResult | null;
  readonly perFoldAnomaly: readonly {
    readonly name: string;
    readonly result: AnomalyMetricsResult;
  }[];
  readonly curves: AnomalyCurvesResult | null;
  readonly openSet: OpenSetEvaluation | null;
  readonly components: ComponentMetricsResult | null;
  /** Why a metric of this score was not computed. */
  readonly notes: readonly string[];
}

/**
 * What {@link evaluateFolds} returns. The top-level `anomaly`, `perFoldAnomaly`, `curves`,
 * `openSet` and `components` are those of the first score (`scores[0]`); `scores` has every score.
 */
export interface EvaluationResult {
  readonly frames: number;
  readonly protocol: AnomalyProtocol;
  /** One entry per score, in the order of `scoreNames`. */
  readonly scores: readonly ScoreEvaluation[];
  /** AP/FPR/AUROC over all folds; null when the labels have no anomaly class. */
  readonly anomaly: AnomalyMetricsResult | null;
  readonly perFoldAnomaly: readonly {
    readonly name: string;
    readonly result: AnomalyMetricsResult;
  }[];
  readonly curves: AnomalyCurvesResult | null;
  /** Closed-set mIoU (anomaly pixels ignored); null for binary anomaly datasets. */
  readonly closed: { readonly mIoU: number; readonly iou: readonly number[] } | null;
  readonly openSet: OpenSetEvaluation | null;
  readonly components: ComponentMetricsResult | null;
  /** Why a metric was not computed (per-score notes prefixed `name: ` when several scores). */
  readonly notes: readonly string[];
}

interface EvalState {
  readonly format: 'densehybrid/eval-state';
  readonly version: 2;
  readonly key: string;
  /** Images done per fold (the same for every score). */
  readonly done: Record<string, number>;
  /** Per score, per fold: the accumulators. */
  readonly scores: Record<
    string,
    Record<
      string,
      {
        acc: AnomalyMetricsAccumulatorJSON | null;
        sweep: OpenSetSweepJSON | null;
        /** The calibration accumulator at `calibrationScale` (null at scale 1). */
        cal: AnomalyMetricsAccumulatorJSON | null;
      }
    >
  >;
}

/**
 * Nearest-neighbour resampling of a `width*height` map by `scale` (PyTorch's
 * `interpolate(scale_factor=s, mode='nearest')`: output `⌊w·s⌋×⌊h·s⌋`, at least 1, output pixel
 * x reads input pixel `min(⌊x/s⌋, w−1)`).
 *
 * @example
 * ```ts
 * resampleNearest(Uint8Array.of(1, 2, 3, 4), 4, 1, 0.5); // Uint8Array [1, 3]
 * ```
 */
export function resampleNearest<T extends Uint8Array | Float32Array>(
  data: T,
  width: number,
  height: number,
  scale: number,
): T {
  const w = Math.max(1, Math.floor(width * scale));
  const h = Math.max(1, Math.floor(height * scale));
  const out = (data instanceof Uint8Array ? new Uint8Array(w * h) : new Float32Array(w * h)) as T;
  for (let y = 0; y < h; y++) {
    const sy = Math.min(Math.floor(y / scale), height - 1);
    for (let x = 0; x < w; x++) {
      const sx = Math.min(Math.floor(x / scale), width - 1);
      out[y * w + x] = data[sy * width + sx] as number;
    }
  }
  return out;
}

/**
 * Binary anomaly labels (0 inlier, 1 anomaly, 255 ignore) of a dataset label map.
 *
 * @example
 * ```ts
 * const labels = binaryAnomalyLabels(sample.label, dataset); // null for semantic datasets
 * ```
 */
export function binaryAnomalyLabels(
  label: LabelMap,
  dataset: SegmentationDataset,
): Uint8Array | null {
  const ignore = dataset.ignoreLabel;
  if (dataset.labelKind === 'anomaly') {
    if (ignore === 255) return label.data;
    return label.data.map((v) => (v === ignore ? 255 : v));
  }
  if (dataset.labelKind === 'open-set') {
    const K = dataset.numClasses;
    return label.data.map((v) => (v === ignore ? 255 : v === K ? 1 : 0));
  }
  return null;
}

function checkCompatible(fold: EvaluationFold, numClasses: number): void {
  const ds = fold.dataset;
  if (ds.labelKind !== 'anomaly' && ds.numClasses !== numClasses) {
    throw new DenseHybridError(
      'MODEL_LOAD',
      `eval: expected a checkpoint with ${ds.numClasses} classes for ${ds.name}, got one with ${numClasses}; evaluate a checkpoint trained on this dataset's classes`,
    );
  }
}

/**
 * Evaluates a detector on one or more folds in a single streaming pass (memory flat in dataset
 * size with the histogram mode): anomaly metrics under the benchmark's protocol, closed mIoU,
 * open-mIoU (cross-calibrated between two folds, or at a given threshold) and, optionally, SMIYC
 * component metrics (a second pass over float16 scores cached in `scratchDir`).
 * Interrupting (`signal`) saves the state in `scratchDir`; the same call resumes.
 *
 * @throws DenseHybridError `MODEL_LOAD` when the model's K does not match the dataset,
 *   `INTERRUPTED` when aborted (the state is saved), `IO` / `INVALID_INPUT` naming a bad file
 *
 * @example
 * ```ts
 * const r = await evaluateFolds({
 *   folds: [{ name: 't5', dataset: t5 }, { name: 't6', dataset: t6 }],
 *   score: (img) => detector.score(img),
 *   numClasses: 12,
 *   protocol: 'per-image',
 *   crossCalibrate: true,
 *   scratchDir: 'out.partial/.eval-state',
 * });
 * console.log(r.anomaly?.ap, r.openSet?.openMIoU);
 * ```
 */
export async function evaluateFolds(options: EvaluateFoldsOptions): Promise<EvaluationResult> {
  const K = options.numClasses;
  const protocol = options.protocol ?? 'pooled';
  const tpr = options.tpr ?? 0.95;
  const fprRule = options.fprRule ?? 'at-least';
  const mode = options.mode ?? 'histogram';
  const stateEvery = options.stateEvery ?? 25;
  const calibrationScale = options.calibrationScale ?? 1;
  if (!(calibrationScale > 0 && calibrationScale <= 1)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `eval: expected calibrationScale in (0, 1], got ${describeValue(calibrationScale)}`,
    );
  }
  const scaledCalibration = options.crossCalibrate === true && calibrationScale !== 1;
  const multi = options.scoreNames !== undefined;
  const names = options.scoreNames ?? ['score'];
  if (names.length === 0 || new Set(names).size !== names.length) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `eval: expected one or more distinct score names, got ${JSON.stringify(names)}`,
    );
  }
  for (const f of options.folds) checkCompatible(f, K);
  if (options.crossCalibrate && options.folds.length !== 2) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `eval: expected two folds for cross-calibration, got ${options.folds.length}`,
    );
  }
  const sizes = options.folds.map((f) => Math.min(f.dataset.size, options.limit ?? Infinity));
  const total = sizes.reduce((a, b) => a + b, 0);
  const key = JSON.stringify({
    folds: options.folds.map((f) => [f.name, f.dataset.name, f.dataset.size]),
    K,
    scores: names,
    protocol,
    tpr,
    fprRule,
    mode,
    limit: options.limit ?? null,
    components: options.components ? true : false,
    calibrationScale: scaledCalibration ? calibrationScale : 1,
  });
  const statePath = join(options.scratchDir, 'eval-state.json');
  const scoreCache = join(options.scratchDir, 'scores');
  await mkdir(options.scratchDir, { recursive: true });
  let state: EvalState | undefined;
  try {
    const parsed = JSON.parse(await readFile(statePath, 'utf8')) as EvalState;
    if (parsed.format === 'densehybrid/eval-state' && parsed.version === 2 && parsed.key === key)
      state = parsed;
  } catch {
    state = undefined;
  }
  const accOptions = { mode, tpr, fprRule, perImage: protocol === 'per-image' } as const;
  // per score: per fold accumulators
  const accs = new Map<string, Map<string, AnomalyMetricsAccumulator>>();
  const sweeps = new Map<string, Map<string, OpenSetSweep>>();
  const calAccs = new Map<string, Map<string, AnomalyMetricsAccumulator>>();
  const done = new Map<string, number>();
  for (const f of options.folds) done.set(f.name, state?.done[f.name] ?? 0);
  for (const name of names) {
    const a = new Map<string, AnomalyMetricsAccumulator>();
    const w = new Map<string, OpenSetSweep>();
    for (const f of options.folds) {
      const s = state?.scores[name]?.[f.name];
      if (f.dataset.labelKind !== 'semantic')
        a.set(
          f.name,
          s?.acc
            ? AnomalyMetricsAccumulator.fromJSON(s.acc)
            : new AnomalyMetricsAccumulator(accOptions),
        );
      if (f.dataset.labelKind !== 'anomaly')
        w.set(
          f.name,
          s?.sweep ? OpenSetSweep.fromJSON(s.sweep) : new OpenSetSweep(K, f.dataset.ignoreLabel),
        );
    }
    accs.set(name, a);
    if (scaledCalibration) {
      const c = new Map<string, AnomalyMetricsAccumulator>();
      for (const f of options.folds) {
        if (f.dataset.labelKind !== 'open-set') continue;
        const s = state?.scores[name]?.[f.name]?.cal;
        c.set(
          f.name,
          s ? AnomalyMetricsAccumulator.fromJSON(s) : new AnomalyMetricsAccumulator(accOptions),
        );
      }
      calAccs.set(name, c);
    }
    sweeps.set(name, w);
  }
  const saveState = async (): Promise<void> => {
    const scores: EvalState['scores'] = {};
    for (const name of names) {
      const per: EvalState['scores'][string] = {};
      for (const f of options.folds) {
        per[f.name] = {
          acc: accs.get(name)?.get(f.name)?.toJSON() ?? null,
          sweep: sweeps.get(name)?.get(f.name)?.toJSON() ?? null,
          cal: calAccs.get(name)?.get(f.name)?.toJSON() ?? null,
        };
      }
      scores[name] = per;
    }
    await writeFileAtomic(
      statePath,
      JSON.stringify({
        format: 'densehybrid/eval-state',
        version: 2,
        key,
        done: Object.fromEntries(done),
        scores,
      } satisfies EvalState),
    );
  };
  const scoreFrame = async (image: RgbImage): Promise<MultiFrameScores> => {
    if (multi) {
      const frame = await (options.score as MultiFrameScorer)(image);
      for (const name of names) {
        if (!(frame.scores[name] instanceof Float32Array)) {
          throw new DenseHybridError(
            'INVALID_INPUT',
            `eval: expected the scorer to return score "${name}", got ${JSON.stringify(Object.keys(frame.scores))}`,
          );
        }
      }
      return frame;
    }
    const frame = await (options.score as FrameScorer)(image);
    return {
      width: frame.width,
      height: frame.height,
      closed: frame.closed,
      scores: { [names[0] as string]: frame.scores },
    };
  };
  const cachePath = (name: string, fold: string, i: number): string =>
    join(scoreCache, `${encodeURIComponent(name)}`, `${fold}-${i}.npy`);

  let count = [...done.values()].reduce((a, b) => a + b, 0);
  let sinceSave = 0;
  for (const [fi, fold] of options.folds.entries()) {
    const n = sizes[fi] as number;
    for (let i = done.get(fold.name) ?? 0; i < n; i++) {
      await yieldToEventLoop();
      if (options.signal?.aborted) {
        await saveState();
        throw new DenseHybridError(
          'INTERRUPTED',
          `eval: stopped after ${count}/${total} images; run the same command again to resume`,
        );
      }
      const sample = await fold.dataset.load(i);
      if (!sample.label) {
        throw new DenseHybridError(
          'DATASET_LAYOUT',
          `eval: expected a label for ${sample.id} in ${fold.dataset.name}, got none`,
        );
      }
      const frame = await scoreFrame(sample.image);
      if (frame.width !== sample.label.width || frame.height !== sample.label.height) {
        throw new DenseHybridError(
          'SHAPE_MISMATCH',
          `eval: expected scores of ${sample.label.width}x${sample.label.height} (label size of ${sample.id}), got ${frame.width}x${frame.height}`,
        );
      }
      const binary = binaryAnomalyLabels(sample.label, fold.dataset);
      const calBinary =
        scaledCalibration && binary && calAccs.get(names[0] as string)?.has(fold.name)
          ? resampleNearest(binary, frame.width, frame.height, calibrationScale)
          : null;
      for (const name of names) {
        const scores = frame.scores[name] as Float32Array;
        const acc = accs.get(name)?.get(fold.name);
        if (acc && binary) acc.add(scores, binary);
        if (calBinary)
          calAccs
            .get(name)
            ?.get(fold.name)
            ?.add(resampleNearest(scores, frame.width, frame.height, calibrationScale), calBinary);
        sweeps.get(name)?.get(fold.name)?.add(sample.label.data, frame.closed, scores);
        if (options.components && binary) {
          await writeNpy(
            cachePath(name, fold.name, i),
            scores,
            [frame.height, frame.width],
            mode === 'histogram' ? '<f2' : '<f4',
          );
        }
      }
      done.set(fold.name, i + 1);
      count++;
      options.onFrame?.(count, total);
      if (++sinceSave >= stateEvery) {
        sinceSave = 0;
        await saveState();
      }
    }
  }
  await saveState();

  const notes: string[] = [];
  const frames = count;
  if (calibrationScale !== 1 && !scaledCalibration)
    notes.push(
      `calibration scale ${calibrationScale}: ignored, it only applies to cross-calibration (StreetHazards test t5/t6)`,
    );
  if (options.folds.every((f) => f.dataset.labelKind === 'semantic'))
    notes.push('anomaly metrics: the labels have no anomaly class (semantic dataset)');

  // Closed mIoU from the first score's sweeps (threshold +Infinity: nothing unknown); the closed
  // prediction does not depend on the score.
  let closed: EvaluationResult['closed'] = null;
  const firstSweeps = sweeps.get(names[0] as string) as Map<string, OpenSetSweep>;
  if (firstSweeps.size > 0) {
    const all = new OpenSetSweep(K, options.folds[0]?.dataset.ignoreLabel ?? 255);
    for (const s of firstSweeps.values()) all.merge(s);
    const r = OpenIoU.fromJSON(all.openIoUStateAt(Infinity)).compute(
      options.average ? { average: options.average } : {},
    );
    if (r.closedMIoU !== null && r.closedIoU !== null)
      closed = { mIoU: r.closedMIoU, iou: r.closedIoU };
  }

  const partial = names.map((name) => {
    const threshold =
      typeof options.threshold === 'number' ? options.threshold : options.threshold?.[name];
    return finishScore({
      name,
      options,
      accs: accs.get(name) as Map<string, AnomalyMetricsAccumulator>,
      calAccs: calAccs.get(name) ?? (accs.get(name) as Map<string, AnomalyMetricsAccumulator>),
      calibrationScale: scaledCalibration ? calibrationScale : 1,
      sweeps: sweeps.get(name) as Map<string, OpenSetSweep>,
      accOptions,
      protocol,
      tpr,
      fprRule,
      ...(threshold !== undefined ? { threshold } : {}),
    });
  });

  // SMIYC component metrics: one second pass over the labels and the cached float16 scores, one
  // accumulator per score at its best-F1 threshold.
  const cms = new Map<string, ComponentMetricsAccumulator>();
  if (options.components) {
    for (const p of partial)
      if (p.componentThreshold !== null)
        cms.set(
          p.name,
          new ComponentMetricsAccumulator({
            ...options.components,
            threshold: p.componentThreshold,
          }),
        );
  }
  if (cms.size > 0) {
    for (const [fi, fold] of options.folds.entries()) {
      for (let i = 0; i < (sizes[fi] as number); i++) {
        const sample = await fold.dataset.load(i);
        const binary = sample.label ? binaryAnomalyLabels(sample.label, fold.dataset) : null;
        if (!binary || !sample.label) continue;
        for (const [name, cm] of cms) {
          const cached = await readNpy(cachePath(name, fold.name, i));
          cm.add(cached.data, binary, sample.label.width, sample.label.height);
        }
      }
    }
  }
  const scores: ScoreEvaluation[] = partial.map(({ componentThreshold: _, ...p }) => {
    const cm = cms.get(p.name);
    let components: ComponentMetricsResult | null = null;
    if (cm) {
      try {
        components = cm.compute();
      } catch (e) {
        p.notes.push(`component metrics: ${(e as Error).message}`);
      }
    }
    return { ...p, components };
  });
  await rm(scoreCache, { recursive: true, force: true });
  for (const s of scores) for (const n of s.notes) notes.push(multi ? `${s.name}: ${n}` : n);
  const first = scores[0] as ScoreEvaluation;
  return {
    frames,
    protocol,
    scores,
    anomaly: first.anomaly,
    perFoldAnomaly: first.perFoldAnomaly,
    curves: first.curves,
    closed,
    openSet: first.openSet,
    components: first.components,
    notes,
  };
}

/** The metrics of one score from its per-fold accumulators (components: see the caller). */
function finishScore(args: {
  name: string;
  options: EvaluateFoldsOptions;
  accs: Map<string, AnomalyMetricsAccumulator>;
  /** The accumulators cross-calibration reads (`accs` at full resolution). */
  calAccs: Map<string, AnomalyMetricsAccumulator>;
  calibrationScale: number;
  sweeps: Map<string, OpenSetSweep>;
  accOptions: ConstructorParameters<typeof AnomalyMetricsAccumulator>[0];
  protocol: AnomalyProtocol;
  tpr: number;
  fprRule: FprRule;
  threshold?: number;
}): ScoreEvaluation & { componentThreshold: number | null; notes: string[] } {
  const { options, accs, sweeps, protocol, tpr, fprRule } = args;
  const notes: string[] = [];
  // Anomaly metrics over all folds.
  const perFoldAnomaly: { name: string; result: AnomalyMetricsResult }[] = [];
  let anomaly: AnomalyMetricsResult | null = null;
  let curves: AnomalyCurvesResult | null = null;
  let pooled: AnomalyMetricsAccumulator | null = null;
  if (accs.size > 0) {
    pooled = new AnomalyMetricsAccumulator(args.accOptions);
    for (const [name, acc] of accs) {
      pooled.merge(acc);
      try {
        perFoldAnomaly.push({ name, result: acc.compute({ protocol }) });
      } catch (e) {
        notes.push(`anomaly metrics of fold ${name}: ${(e as Error).message}`);
      }
    }
    try {
      anomaly = pooled.compute({ protocol });
      curves = pooled.curves({ maxPoints: 512 });
    } catch (e) {
      notes.push(`anomaly metrics: ${(e as Error).message}`);
    }
  }

  // Open-set: cross-calibration or a given threshold.
  let openSet: OpenSetEvaluation | null = null;
  const openFolds = options.folds.filter((f) => f.dataset.labelKind === 'open-set');
  if (openFolds.length > 0) {
    const rows: {
      name: string;
      frames: number;
      threshold: number;
      calibratedOn: string | null;
      result: OpenIoUResult;
    }[] = [];
    let source: OpenSetEvaluation['thresholdSource'] | null = null;
    if (options.crossCalibrate && openFolds.length === 2) {
      source = 'cross-calibration';
      for (const [a, b] of [
        [0, 1],
        [1, 0],
      ] as const) {
        const fa = openFolds[a] as EvaluationFold;
        const fb = openFolds[b] as EvaluationFold;
        const thr = calibrateThreshold(args.calAccs.get(fb.name) as AnomalyMetricsAccumulator, {
          tpr,
          fprRule,
        }).threshold;
        const sweep = sweeps.get(fa.name) as OpenSetSweep;
        rows.push({
          name: fa.name,
          frames: sweep.frames,
          threshold: thr,
          calibratedOn: fb.name,
          result: OpenIoU.fromJSON(sweep.openIoUStateAt(thr)).compute(
            options.average ? { average: options.average } : {},
          ),
        });
      }
    } else if (args.threshold !== undefined) {
      source = 'given';
      for (const f of openFolds) {
        const sweep = sweeps.get(f.name) as OpenSetSweep;
        rows.push({
          name: f.name,
          frames: sweep.frames,
          threshold: args.threshold,
          calibratedOn: null,
          result: OpenIoU.fromJSON(sweep.openIoUStateAt(args.threshold)).compute(
            options.average ? { average: options.average } : {},
          ),
        });
      }
    } else {
      notes.push(
        'open-mIoU: no threshold; run `densehybrid calibrate` on the checkpoint or pass --threshold',
      );
    }
    if (source) {
      const w = rows.reduce((s, r) => s + r.frames, 0);
      const mean = (pick: (r: OpenIoUResult) => number): number =>
        rows.reduce((s, r) => s + r.frames * pick(r.result), 0) / w;
      openSet = {
        thresholdSource: source,
        calibrationScale: source === 'cross-calibration' ? args.calibrationScale : 1,
        folds: rows,
        openMIoU: mean((r) => r.openMIoU),
        anomalyIoU: mean((r) => r.anomalyIoU),
      };
    }
  }

  // SMIYC component metrics: the caller's second pass at the best pooled-F1 threshold.
  let componentThreshold: number | null = null;
  if (options.components && pooled && anomaly) {
    componentThreshold =
      protocol === 'pooled'
        ? anomaly.bestF1Threshold
        : pooled.compute({ protocol: 'pooled' }).bestF1Threshold;
    if (componentThreshold === null) notes.push('component metrics: no best-F1 threshold');
  }
  return {
    name: args.name,
    anomaly,
    perFoldAnomaly,
    curves,
    openSet,
    components: null,
    notes,
    componentThreshold,
  };
}
