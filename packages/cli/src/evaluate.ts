import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LabelMap, RgbImage, SegmentationDataset } from '@densehybrid/data-mixing';
import {
  AnomalyMetricsAccumulator,
  ComponentMetricsAccumulator,
  DenseHybridError,
  OpenIoU,
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

/** One fold of the evaluated data (StreetHazards test: t5 and t6). */
export interface EvaluationFold {
  readonly name: string;
  readonly dataset: SegmentationDataset;
}

/** Options of {@link evaluateFolds}. */
export interface EvaluateFoldsOptions {
  readonly folds: readonly EvaluationFold[];
  readonly score: FrameScorer;
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
  /** Open-set threshold when not cross-calibrating (from `--threshold` or the checkpoint). */
  readonly threshold?: number;
  /** Calibrate on one fold and apply to the other (needs exactly two folds). @default false */
  readonly crossCalibrate?: boolean;
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

/** What {@link evaluateFolds} returns. */
export interface EvaluationResult {
  readonly frames: number;
  readonly protocol: AnomalyProtocol;
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
  /** Why a metric was not computed. */
  readonly notes: readonly string[];
}

interface EvalState {
  readonly format: 'densehybrid/eval-state';
  readonly version: 1;
  readonly key: string;
  readonly folds: Record<
    string,
    { done: number; acc: AnomalyMetricsAccumulatorJSON | null; sweep: OpenSetSweepJSON | null }
  >;
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
    protocol,
    tpr,
    fprRule,
    mode,
    limit: options.limit ?? null,
    components: options.components ? true : false,
  });
  const statePath = join(options.scratchDir, 'eval-state.json');
  const scoreCache = join(options.scratchDir, 'scores');
  await mkdir(options.scratchDir, { recursive: true });
  let state: EvalState | undefined;
  try {
    const parsed = JSON.parse(await readFile(statePath, 'utf8')) as EvalState;
    if (parsed.format === 'densehybrid/eval-state' && parsed.key === key) state = parsed;
  } catch {
    state = undefined;
  }
  const accOptions = { mode, tpr, fprRule, perImage: protocol === 'per-image' } as const;
  const accs = new Map<string, AnomalyMetricsAccumulator>();
  const sweeps = new Map<string, OpenSetSweep>();
  const done = new Map<string, number>();
  for (const f of options.folds) {
    const s = state?.folds[f.name];
    done.set(f.name, s?.done ?? 0);
    const hasAnomaly = f.dataset.labelKind !== 'semantic';
    if (hasAnomaly)
      accs.set(
        f.name,
        s?.acc
          ? AnomalyMetricsAccumulator.fromJSON(s.acc)
          : new AnomalyMetricsAccumulator(accOptions),
      );
    if (f.dataset.labelKind !== 'anomaly')
      sweeps.set(
        f.name,
        s?.sweep ? OpenSetSweep.fromJSON(s.sweep) : new OpenSetSweep(K, f.dataset.ignoreLabel),
      );
  }
  const saveState = async (): Promise<void> => {
    const folds: EvalState['folds'] = {};
    for (const f of options.folds) {
      folds[f.name] = {
        done: done.get(f.name) ?? 0,
        acc: accs.get(f.name)?.toJSON() ?? null,
        sweep: sweeps.get(f.name)?.toJSON() ?? null,
      };
    }
    await writeFileAtomic(
      statePath,
      JSON.stringify({
        format: 'densehybrid/eval-state',
        version: 1,
        key,
        folds,
      } satisfies EvalState),
    );
  };

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
      const frame = await options.score(sample.image);
      if (frame.width !== sample.label.width || frame.height !== sample.label.height) {
        throw new DenseHybridError(
          'SHAPE_MISMATCH',
          `eval: expected scores of ${sample.label.width}x${sample.label.height} (label size of ${sample.id}), got ${frame.width}x${frame.height}`,
        );
      }
      const binary = binaryAnomalyLabels(sample.label, fold.dataset);
      const acc = accs.get(fold.name);
      if (acc && binary) acc.add(frame.scores, binary);
      sweeps.get(fold.name)?.add(sample.label.data, frame.closed, frame.scores);
      if (options.components && binary) {
        await writeNpy(
          join(scoreCache, `${fold.name}-${i}.npy`),
          frame.scores,
          [frame.height, frame.width],
          mode === 'histogram' ? '<f2' : '<f4',
        );
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
  // Anomaly metrics over all folds.
  const perFoldAnomaly: { name: string; result: AnomalyMetricsResult }[] = [];
  let anomaly: AnomalyMetricsResult | null = null;
  let curves: AnomalyCurvesResult | null = null;
  let pooled: AnomalyMetricsAccumulator | null = null;
  if (accs.size > 0) {
    pooled = new AnomalyMetricsAccumulator(accOptions);
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
  } else {
    notes.push('anomaly metrics: the labels have no anomaly class (semantic dataset)');
  }

  // Closed mIoU from the sweeps (threshold +Infinity: nothing unknown).
  let closed: EvaluationResult['closed'] = null;
  if (sweeps.size > 0) {
    const all = new OpenSetSweep(K, options.folds[0]?.dataset.ignoreLabel ?? 255);
    for (const s of sweeps.values()) all.merge(s);
    const r = OpenIoU.fromJSON(all.openIoUStateAt(Infinity)).compute(
      options.average ? { average: options.average } : {},
    );
    if (r.closedMIoU !== null && r.closedIoU !== null)
      closed = { mIoU: r.closedMIoU, iou: r.closedIoU };
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
        const thr = calibrateThreshold(accs.get(fb.name) as AnomalyMetricsAccumulator, {
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
    } else if (options.threshold !== undefined) {
      source = 'given';
      for (const f of openFolds) {
        const sweep = sweeps.get(f.name) as OpenSetSweep;
        rows.push({
          name: f.name,
          frames: sweep.frames,
          threshold: options.threshold,
          calibratedOn: null,
          result: OpenIoU.fromJSON(sweep.openIoUStateAt(options.threshold)).compute(
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
        folds: rows,
        openMIoU: mean((r) => r.openMIoU),
        anomalyIoU: mean((r) => r.anomalyIoU),
      };
    }
  }

  // SMIYC component metrics: second pass over the cached scores at the best-F1 threshold.
  let components: ComponentMetricsResult | null = null;
  if (options.components && pooled && anomaly) {
    const threshold =
      protocol === 'pooled'
        ? anomaly.bestF1Threshold
        : pooled.compute({ protocol: 'pooled' }).bestF1Threshold;
    if (threshold === null) {
      notes.push('component metrics: no best-F1 threshold');
    } else {
      const cm = new ComponentMetricsAccumulator({ ...options.components, threshold });
      for (const [fi, fold] of options.folds.entries()) {
        for (let i = 0; i < (sizes[fi] as number); i++) {
          const sample = await fold.dataset.load(i);
          const binary = sample.label ? binaryAnomalyLabels(sample.label, fold.dataset) : null;
          if (!binary || !sample.label) continue;
          const cached = await readNpy(join(scoreCache, `${fold.name}-${i}.npy`));
          cm.add(cached.data, binary, sample.label.width, sample.label.height);
        }
      }
      try {
        components = cm.compute();
      } catch (e) {
        notes.push(`component metrics: ${(e as Error).message}`);
      }
    }
  }
  await rm(scoreCache, { recursive: true, force: true });
  return { frames, protocol, anomaly, perFoldAnomaly, curves, closed, openSet, components, notes };
}
