import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RgbImage, SegmentationDataset } from '@densehybrid/data-mixing';
import {
  DenseHybridError,
  EvaluationSession,
  binaryAnomalyLabels,
} from '@densehybrid/metrics-openiou';
import type {
  BenchmarkName,
  ComponentMetricsOptions,
  EvaluationResult,
  EvaluationSessionJSON,
  EvaluationSessionOptions,
} from '@densehybrid/metrics-openiou';
import { readNpy, sha256, writeFileAtomic, writeNpy } from '@densehybrid/metrics-openiou/node';
import type { ResumeKey, ResumeKeyValue } from '@densehybrid/metrics-openiou/node';
import { yieldToEventLoop } from './io.js';
import { checkResumeKey, readRecord } from './resume.js';

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
  /** argmax over the K known classes, `width*height`; not needed by folds with `binaryLabels`. */
  readonly closed?: Uint8Array;
}

/** Which frame a scorer is asked for (precomputed score maps are found by it). */
export interface FrameContext {
  /** Index of the fold in {@link EvaluateFoldsOptions.folds}. */
  readonly fold: number;
  /** Index of the sample in its dataset. */
  readonly index: number;
  /** The label's size. */
  readonly width: number;
  readonly height: number;
}

/** Scores one image with every score of {@link EvaluateFoldsOptions.scoreNames} at once. */
export type MultiFrameScorer = (image: RgbImage, frame: FrameContext) => Promise<MultiFrameScores>;

/** One fold of the evaluated data (StreetHazards test: t5 and t6). */
export interface EvaluationFold {
  readonly name: string;
  readonly dataset: SegmentationDataset;
  /**
   * Evaluate the labels as binary anomaly labels only (K → anomaly, ignore kept): AP / FPR /
   * AUROC without closed-set predictions (no closed or open mIoU). @default false
   */
  readonly binaryLabels?: boolean;
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
  /**
   * The benchmark whose protocol (`BENCHMARK_PROTOCOLS` of `@densehybrid/metrics-openiou`) sets
   * every convention below that is not given: its official code's threshold rule, FPR rules,
   * calibration resampling, closed-mIoU pooling, percentile bins….
   * @default 'folder'
   */
  readonly benchmark?: BenchmarkName;
  /**
   * Overrides of single conventions (each `@default` the benchmark's; see the README of
   * `@densehybrid/metrics-openiou`, "Conventions per benchmark").
   */
  readonly conventions?: EvaluationConventionOverrides;
  /** `histogram` keeps memory flat in dataset size; `exact` keeps every score. @default 'histogram' */
  readonly mode?: 'histogram' | 'exact';
  /** Open-set threshold when not cross-calibrating (from `--threshold` or the checkpoint); a number applies to every score, a record per score name. */
  readonly threshold?: number | Readonly<Record<string, number>>;
  /**
   * Calibrate on one fold and apply to the other (needs exactly two folds).
   * @default the session's: when the benchmark cross-calibrates, there are two folds and no threshold
   */
  readonly crossCalibrate?: boolean;
  /**
   * SMIYC component metrics with these options (threshold: the best pooled F1), or `null` for
   * none. @default the benchmark's (SMIYC: 500 / 100 px, ObstacleTrack 50 / 10 px; else none)
   */
  readonly components?: Omit<ComponentMetricsOptions, 'threshold'> | null;
  /** Folder for resumable state and the score cache of the component pass. */
  readonly scratchDir: string;
  /**
   * What else determines the result besides these options and the folds' samples (the
   * checkpoint's digest, the dataset's root, …): stored with the state, and an interrupted run's
   * state whose key differs is refused instead of resumed.
   * @default {}
   */
  readonly resumeKey?: ResumeKey;
  /** The output folder, as messages name it. @default scratchDir */
  readonly outDir?: string;
  /** Saves the state every this many images. @default 25 */
  readonly stateEvery?: number;
  readonly signal?: AbortSignal;
  /** Called after each image (done counts images of all folds). */
  readonly onFrame?: (done: number, total: number) => void;
  /** Only the first `limit` images of each fold. */
  readonly limit?: number;
}

/**
 * The conventions {@link EvaluateFoldsOptions.conventions} can override, as the session's options
 * of the same names (each `@default` the benchmark's; `undefined` = the benchmark's).
 */
export type EvaluationConventionOverrides = {
  readonly [K in ConventionName]?: EvaluationSessionOptions[K] | undefined;
};

type ConventionName = keyof Pick<
  EvaluationSessionOptions,
  | 'protocol'
  | 'fprRule'
  | 'tpr'
  | 'thresholdRule'
  | 'calibrationScale'
  | 'calibrationResampling'
  | 'calibrationFprRule'
  | 'closedPooling'
  | 'perImageEmptyFrames'
  | 'ignoredPixels'
  | 'scoreRounding'
  | 'percentileBins'
  | 'average'
>;

const STATE_FORMAT = 'densehybrid/eval-state';
/**
 * 5: the key holds the benchmark and every resolved convention (4: the key is a
 * {@link ResumeKey} of checkpoint, data selection and options, checked on resume).
 */
const STATE_VERSION = 5;

/** The resumable state in `scratchDir`: the session after `done` images. */
interface EvalState {
  readonly format: typeof STATE_FORMAT;
  readonly version: typeof STATE_VERSION;
  readonly key: ResumeKey;
  readonly session: EvaluationSessionJSON;
}

/** A fold's labels as binary anomaly labels (0 inlier, 1 anomaly, 255 ignore). */
function binaryOf(fold: EvaluationFold, labels: Uint8Array): Uint8Array {
  const b = binaryAnomalyLabels(labels, fold.dataset);
  return b instanceof Uint8Array ? b : Uint8Array.from(b ?? []);
}

/** What the session sees of a fold's labels. */
const labelKindOf = (f: EvaluationFold): SegmentationDataset['labelKind'] =>
  f.binaryLabels === true ? 'anomaly' : f.dataset.labelKind;

function checkCompatible(fold: EvaluationFold, numClasses: number): void {
  const ds = fold.dataset;
  if (fold.binaryLabels === true && ds.labelKind === 'semantic') {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `eval: expected closed-set predictions for ${ds.name} (semantic labels, no anomaly class), got none`,
    );
  }
  if (labelKindOf(fold) !== 'anomaly' && ds.numClasses !== numClasses) {
    throw new DenseHybridError(
      'MODEL_LOAD',
      `eval: expected a checkpoint with ${ds.numClasses} classes for ${ds.name}, got one with ${numClasses}; evaluate a checkpoint trained on this dataset's classes`,
    );
  }
}

/**
 * Evaluates a detector on one or more folds of data-mixing datasets: reads every image, scores
 * it and feeds an {@link EvaluationSession} (`@densehybrid/metrics-openiou`), which computes
 * anomaly metrics under the benchmark's protocol, closed mIoU, open-mIoU (cross-calibrated
 * between two folds, or at a given threshold) and, optionally, SMIYC component metrics (a second
 * pass over float16 scores cached in `scratchDir`). Interrupting (`signal`) saves the session in
 * `scratchDir` with a key of everything that determines the result (these options, the folds'
 * sample ids, {@link EvaluateFoldsOptions.resumeKey}); the same call resumes.
 *
 * @throws CliUsageError (exit 2) when `scratchDir` holds the state of a run with another key,
 *   naming the differing fields; DenseHybridError `MODEL_LOAD` when the model's K does not match the dataset,
 *   `INTERRUPTED` when aborted (the state is saved), `IO` / `INVALID_INPUT` naming a bad file
 *
 * @example
 * ```ts
 * const r = await evaluateFolds({
 *   folds: [{ name: 't5', dataset: t5 }, { name: 't6', dataset: t6 }],
 *   score: (img) => detector.score(img),
 *   numClasses: 12,
 *   benchmark: 'streethazards', // per-image AP, t5 <-> t6 cross-calibration at ×0.5, bilinear
 *   scratchDir: 'out.partial/.eval-state',
 * });
 * console.log(r.anomaly?.ap, r.openSet?.openMIoU);
 * ```
 */
export async function evaluateFolds(options: EvaluateFoldsOptions): Promise<EvaluationResult> {
  const K = options.numClasses;
  const mode = options.mode ?? 'histogram';
  const stateEvery = options.stateEvery ?? 25;
  const multi = options.scoreNames !== undefined;
  const names = options.scoreNames ?? ['score'];
  for (const f of options.folds) checkCompatible(f, K);
  // only what is given overrides the benchmark's protocol (its official code's conventions)
  const given = Object.fromEntries(
    Object.entries(options.conventions ?? {}).filter(([, v]) => v !== undefined),
  ) as Pick<EvaluationSessionOptions, ConventionName>;
  const session = new EvaluationSession({
    benchmark: options.benchmark ?? 'folder',
    numClasses: K,
    scoreNames: names,
    folds: options.folds.map((f) => ({
      name: f.name,
      labelKind: labelKindOf(f),
      ignoreLabel: f.binaryLabels === true ? 255 : f.dataset.ignoreLabel,
    })),
    ...given,
    mode,
    ...(options.threshold !== undefined ? { threshold: options.threshold } : {}),
    ...(options.crossCalibrate !== undefined ? { crossCalibrate: options.crossCalibrate } : {}),
    ...(options.components !== undefined ? { components: options.components } : {}),
  });
  const { officialCode: _code, ...conventions } = session.conventions();
  const resolved = session.toJSON().options;
  const sizes = options.folds.map((f) => Math.min(f.dataset.size, options.limit ?? Infinity));
  const total = sizes.reduce((a, b) => a + b, 0);
  // everything that determines the result: a state of another run is refused, never merged
  const samples = options.folds.flatMap((f, fi) =>
    Array.from({ length: sizes[fi] as number }, (_, i) => `${f.name}\0${f.dataset.sampleId(i)}\n`),
  );
  const key: ResumeKey = {
    ...options.resumeKey,
    benchmark: options.benchmark ?? 'folder',
    folds: options.folds.map((f) => f.name),
    datasets: options.folds.map((f) => f.dataset.name),
    labelKinds: options.folds.map(labelKindOf),
    images: sizes,
    samples: sha256(samples.join('')),
    numClasses: K,
    scores: names,
    ...conventions,
    // the calibration scale only matters when cross-calibrating
    calibrationScale: resolved.crossCalibrate ? conventions.calibrationScale : 1,
    limit: options.limit ?? null,
    threshold: (options.threshold ?? null) as ResumeKeyValue,
    crossCalibrate: resolved.crossCalibrate,
    components: resolved.components as ResumeKeyValue,
  };
  const statePath = join(options.scratchDir, 'eval-state.json');
  const scoreCache = join(options.scratchDir, 'scores');
  await mkdir(options.scratchDir, { recursive: true });
  const stored = await readRecord(statePath);
  if (stored !== undefined) {
    const state = stored as Partial<EvalState> | null;
    checkResumeKey(
      `--out ${options.outDir ?? options.scratchDir} holds a partial evaluation`,
      state === null || typeof state !== 'object'
        ? null
        : {
            format: state.format ?? null,
            version: state.version ?? null,
            ...(typeof state.key === 'object' ? state.key : {}),
          },
      { format: STATE_FORMAT, version: STATE_VERSION, ...key },
      'rerun with --fresh to start over',
    );
    session.merge(EvaluationSession.fromJSON((state as EvalState).session));
  }
  const saveState = (): Promise<void> =>
    writeFileAtomic(
      'eval',
      statePath,
      JSON.stringify({
        format: STATE_FORMAT,
        version: STATE_VERSION,
        key,
        session: session.toJSON(),
      } satisfies EvalState),
    );
  const scoreFrame = async (image: RgbImage, at: FrameContext): Promise<MultiFrameScores> => {
    if (multi) {
      const frame = await (options.score as MultiFrameScorer)(image, at);
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

  let count = session.frames;
  let sinceSave = 0;
  for (const [fi, fold] of options.folds.entries()) {
    const n = sizes[fi] as number;
    for (let i = session.framesOf(fold.name); i < n; i++) {
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
      const frame = await scoreFrame(sample.image, {
        fold: fi,
        index: i,
        width: sample.label.width,
        height: sample.label.height,
      });
      if (frame.width !== sample.label.width || frame.height !== sample.label.height) {
        throw new DenseHybridError(
          'SHAPE_MISMATCH',
          `eval: expected scores of ${sample.label.width}x${sample.label.height} (label size of ${sample.id}), got ${frame.width}x${frame.height}`,
        );
      }
      const labels =
        fold.binaryLabels === true ? binaryOf(fold, sample.label.data) : sample.label.data;
      session.addFrame({
        fold: fold.name,
        width: frame.width,
        height: frame.height,
        scores: frame.scores,
        labels,
        ...(frame.closed !== undefined ? { closed: frame.closed } : {}),
      });
      if (resolved.components !== null && labelKindOf(fold) !== 'semantic') {
        for (const name of names)
          await writeNpy(
            cachePath(name, fold.name, i),
            frame.scores[name] as Float32Array,
            [frame.height, frame.width],
            mode === 'histogram' ? '<f2' : '<f4',
          );
      }
      count++;
      options.onFrame?.(count, total);
      if (++sinceSave >= stateEvery) {
        sinceSave = 0;
        await saveState();
      }
    }
  }
  await saveState();

  // SMIYC component metrics: a second pass over the labels and the cached float16 scores, at each
  // score's best pooled-F1 threshold.
  const scored = Object.keys(session.componentThresholds());
  if (scored.length > 0) {
    for (const [fi, fold] of options.folds.entries()) {
      if (labelKindOf(fold) === 'semantic') continue;
      for (let i = 0; i < (sizes[fi] as number); i++) {
        const sample = await fold.dataset.load(i);
        if (!sample.label) continue;
        const labels =
          fold.binaryLabels === true ? binaryOf(fold, sample.label.data) : sample.label.data;
        const scores: Record<string, Float32Array> = {};
        for (const name of scored)
          scores[name] = (await readNpy(cachePath(name, fold.name, i))).data;
        session.addComponentFrame({
          fold: fold.name,
          width: sample.label.width,
          height: sample.label.height,
          scores,
          labels,
        });
      }
    }
  }
  const result = session.finish();
  await rm(scoreCache, { recursive: true, force: true });
  return result;
}
