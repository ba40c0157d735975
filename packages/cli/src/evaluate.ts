import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RgbImage, SegmentationDataset } from '@densehybrid/data-mixing';
import {
  DenseHybridError,
  EvaluationSession,
  binaryAnomalyLabels,
  fromFloat16Bits,
  openSetPassKey,
  toFloat16Bits,
} from '@densehybrid/metrics-openiou';
import type {
  BenchmarkName,
  ComponentMetricsOptions,
  EvaluationResult,
  EvaluationSessionJSON,
  EvaluationSessionOptions,
} from '@densehybrid/metrics-openiou';
import {
  SessionStateWriter,
  canonicalJson,
  describeResumeKeyDifferences,
  resumeKeyDifferences,
  readNpy,
  readSessionStateIndex,
  sha256,
  writeNpy,
} from '@densehybrid/metrics-openiou/node';
import type {
  ResumeKey,
  ResumeKeyValue,
  SessionStateIndex,
} from '@densehybrid/metrics-openiou/node';
import { CliUsageError } from './args.js';
import { yieldToEventLoop } from './io.js';
import type { ShardSpec } from './shard.js';
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
  /**
   * `histogram` keeps memory flat in dataset size (pooled metrics of float16-rounded scores;
   * per-image metrics exact); `exact` keeps every score (4 bytes per non-ignored pixel, in the
   * state's files while evaluating).
   * @default the benchmark's (`BENCHMARK_PROTOCOLS[benchmark].mode`: `exact` for Fishyscapes, else `histogram`)
   */
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
  /** Folder for resumable state and the score cache of the second pass. */
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
  /**
   * What the second pass (component metrics; open-mIoU of scores that are no float16 values)
   * reads: the scores cached in `scratchDir` by the first pass (`cache`: component folds float16
   * in histogram mode, float32 in exact mode; open-set folds float16 when every score of the frame
   * is a float16 value, else float32, with the closed prediction), or the scorer called again
   * (`rescore`: for precomputed score maps, which cost a read). Same numbers either way.
   * @default 'cache'
   */
  readonly componentScores?: 'cache' | 'rescore';
  /** Stored in the state as given (the CLI: its report context) and returned with a shard. */
  readonly context?: ResumeKeyValue;
}

/** Options of {@link evaluateShard}: {@link EvaluateFoldsOptions} and the shard. */
export interface EvaluateShardOptions extends EvaluateFoldsOptions {
  readonly shard: ShardSpec;
  /**
   * The second pass: the component thresholds of the merged first pass of every shard and the
   * run's key they belong to (`densehybrid merge` writes both); `source` names them in errors.
   * Without it the shard stops after its first pass.
   */
  readonly componentThresholds?: {
    readonly thresholds: Readonly<Record<string, number>>;
    readonly key: ResumeKey;
    readonly source: string;
  };
}

/** Where a shard stands ({@link evaluateShard}, {@link EvalStateMeta}). */
export interface ShardOutcome {
  /** `scratchDir`, the shard's state folder. */
  readonly dir: string;
  readonly meta: EvalStateMeta;
  /** Images this call evaluated (both passes; 0 when the shard was complete). */
  readonly images: number;
  /**
   * `none`: no component metrics, the state is final; `pending`: the first pass is done, the
   * component pass needs `componentThresholds`; `done`: both passes are done.
   */
  readonly componentPass: 'none' | 'pending' | 'done';
}

/** The frames `[start, end)` (of the `total` frames in fold order) that a shard evaluates. */
export function shardRange(total: number, shard: ShardSpec): { start: number; end: number } {
  return {
    start: Math.floor((shard.index * total) / shard.count),
    end: Math.floor(((shard.index + 1) * total) / shard.count),
  };
}

/** The format of an evaluation's state ({@link EvalStateMeta}). */
export const EVAL_STATE_FORMAT = 'densehybrid/eval-state';
/**
 * 8: the second pass also counts open-mIoU exactly (score maps that are no float16 values),
 * so the first pass caches open-set folds' scores and closed predictions too (7: per-image
 * metrics exact in histogram mode too, scores that are no float16 value counted,
 * the mode defaulting to the benchmark's (6: a session state folder — index + append-only exact
 * scores — with shards and a resumable component pass; 5: one JSON file with the key and the
 * whole session). A state of another version is another run's.
 */
export const EVAL_STATE_VERSION = 8;

/**
 * The `meta` of an evaluation's session state folder (`session-state.json`): what the run is,
 * which frames this process evaluates and how far it got.
 */
export interface EvalStateMeta {
  readonly format: typeof EVAL_STATE_FORMAT;
  readonly version: typeof EVAL_STATE_VERSION;
  /** Everything that determines the result; equal for every shard of one run. */
  readonly key: ResumeKey;
  /** The shard and its frames `[start, end)`; null for a single process. */
  readonly shard: {
    readonly index: number;
    readonly count: number;
    readonly start: number;
    readonly end: number;
  } | null;
  /** Frames of the whole run (all shards). */
  readonly total: number;
  /** Whether the first pass (every metric but the components) has seen all its frames. */
  readonly firstPass: boolean;
  /** The component pass: its thresholds and the frames of the range done. */
  readonly componentPass: {
    readonly thresholds: Readonly<Record<string, number>>;
    readonly done: number;
    readonly finished: boolean;
  } | null;
  /** {@link EvaluateFoldsOptions.context}. */
  readonly context: ResumeKeyValue;
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

/** The session of an evaluation's options (everything the folds and options determine). */
function newSession(options: EvaluateFoldsOptions): EvaluationSession {
  const names = options.scoreNames ?? ['score'];
  // only what is given overrides the benchmark's protocol (its official code's conventions)
  const given = Object.fromEntries(
    Object.entries(options.conventions ?? {}).filter(([, v]) => v !== undefined),
  ) as Pick<EvaluationSessionOptions, ConventionName>;
  return new EvaluationSession({
    benchmark: options.benchmark ?? 'folder',
    numClasses: options.numClasses,
    scoreNames: names,
    folds: options.folds.map((f) => ({
      name: f.name,
      labelKind: labelKindOf(f),
      ignoreLabel: f.binaryLabels === true ? 255 : f.dataset.ignoreLabel,
    })),
    ...given,
    ...(options.mode !== undefined ? { mode: options.mode } : {}),
    ...(options.threshold !== undefined ? { threshold: options.threshold } : {}),
    ...(options.crossCalibrate !== undefined ? { crossCalibrate: options.crossCalibrate } : {}),
    ...(options.components !== undefined ? { components: options.components } : {}),
  });
}

/** Whether every score is a float16 value (a float16 cache keeps it losslessly). */
function isFloat16Exact(s: Float32Array): boolean {
  const back = fromFloat16Bits(toFloat16Bits(s));
  for (let i = 0; i < s.length; i++) if (back[i] !== s[i] && !Number.isNaN(s[i])) return false;
  return true;
}

/** Evaluates the frames `[start, end)`: both passes as far as `thresholds` allow. */
async function evaluateRange(
  options: EvaluateFoldsOptions,
  shard: ShardSpec | null,
  given: EvaluateShardOptions['componentThresholds'] | null,
): Promise<{ session: EvaluationSession; outcome: ShardOutcome }> {
  const K = options.numClasses;
  const stateEvery = options.stateEvery ?? 25;
  const multi = options.scoreNames !== undefined;
  const names = options.scoreNames ?? ['score'];
  const rescore = options.componentScores === 'rescore';
  for (const f of options.folds) checkCompatible(f, K);
  let session = newSession(options);
  // the mode (the benchmark's unless given) is one of the conventions, so part of the key
  const { officialCode: _code, ...conventions } = session.conventions();
  const mode = conventions.mode;
  const resolved = session.toJSON().options;
  const sizes = options.folds.map((f) => Math.min(f.dataset.size, options.limit ?? Infinity));
  const total = sizes.reduce((a, b) => a + b, 0);
  const { start, end } = shard ? shardRange(total, shard) : { start: 0, end: total };
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
    ...(shard ? { shards: shard.count } : {}),
  };
  if (given) {
    const differences = resumeKeyDifferences(given.key, key);
    if (differences.length > 0) {
      throw new CliUsageError(
        `--component-thresholds ${given.source} belongs to another run (its key vs this run's: ${describeResumeKeyDifferences(differences)}); merge this run's shards and use that merge's file`,
      );
    }
  }
  const thresholdsGiven = given ? given.thresholds : null;
  const dir = options.scratchDir;
  const scoreCache = join(dir, 'scores');
  const subject = shard
    ? `${dir} holds the state of shard ${shard.index}/${shard.count}`
    : `--out ${options.outDir ?? dir} holds a partial evaluation`;
  const hint = 'rerun with --fresh to start over';
  await mkdir(dir, { recursive: true });
  // a state of the single-file format (version 5 and older) is another run's
  const legacy = await readRecord(join(dir, 'eval-state.json'));
  if (legacy !== undefined) {
    const l = legacy as { format?: unknown; version?: unknown } | null;
    checkResumeKey(
      subject,
      l === null || typeof l !== 'object'
        ? null
        : { format: l.format ?? null, version: l.version ?? null },
      { format: EVAL_STATE_FORMAT, version: EVAL_STATE_VERSION },
      hint,
    );
  }
  const index = await readSessionStateIndex<EvalStateMeta>(dir);
  let meta: EvalStateMeta = {
    format: EVAL_STATE_FORMAT,
    version: EVAL_STATE_VERSION,
    key,
    shard: shard ? { ...shard, start, end } : null,
    total,
    firstPass: false,
    componentPass: null,
    context: options.context ?? null,
  };
  // the run's key, the format and the shard index: what a resumed state must match
  const identity = (m: Partial<EvalStateMeta>): ResumeKey => ({
    format: m.format ?? null,
    version: m.version ?? null,
    ...(typeof m.key === 'object' && m.key !== null ? m.key : {}),
    shard: m.shard?.index ?? null,
  });
  if (index !== undefined) {
    const stored =
      index === null || typeof index.meta !== 'object' || index.meta === null
        ? null
        : identity(index.meta);
    checkResumeKey(subject, stored, identity(meta), hint);
    const m = (index as SessionStateIndex<EvalStateMeta>).meta;
    session = EvaluationSession.fromJSON((index as SessionStateIndex<EvalStateMeta>).session);
    meta = { ...m, context: options.context ?? null };
  }
  const writer = await SessionStateWriter.open(dir, session);
  try {
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
    // the frames of [start, end) per fold: [lo, hi) of its samples
    const offsets = sizes.map((_, fi) => sizes.slice(0, fi).reduce((a, b) => a + b, 0));
    const span = options.folds.map((_, fi) => {
      const off = offsets[fi] as number;
      const n = sizes[fi] as number;
      const clamp = (v: number) => Math.min(n, Math.max(0, v - off));
      return { lo: clamp(start), hi: clamp(end) };
    });
    const rangeSize = end - start;
    const withComponents = (fold: EvaluationFold): boolean =>
      resolved.components !== null && labelKindOf(fold) !== 'semantic';
    // open-set folds: the second pass counts open-mIoU at the final thresholds when their scores
    // are no float16 values (known after the first pass, of every shard)
    const openSet = (fold: EvaluationFold): boolean => labelKindOf(fold) === 'open-set';
    const cached = (fold: EvaluationFold): boolean => withComponents(fold) || openSet(fold);
    const closedPath = (fold: string, i: number): string =>
      join(scoreCache, 'closed', `${fold}-${i}.npy`);
    let images = 0;
    const stopped = async (done: number, saveJson?: EvaluationSessionJSON): Promise<never> => {
      await writer.commit(meta, saveJson);
      throw new DenseHybridError(
        'INTERRUPTED',
        `eval: stopped after ${done}/${rangeSize} images${shard ? ` of shard ${shard.index}/${shard.count}` : ''}; run the same command again to resume`,
      );
    };

    // first pass: every accumulator but the components
    if (!meta.firstPass) {
      let count = session.frames;
      let sinceSave = 0;
      for (const [fi, fold] of options.folds.entries()) {
        const { lo, hi } = span[fi] as { lo: number; hi: number };
        for (let i = lo + session.framesOf(fold.name); i < hi; i++) {
          await yieldToEventLoop();
          if (options.signal?.aborted) await stopped(count);
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
          // exact mode: the frame's scores go to the state's files, not into memory
          await writer.append();
          if (cached(fold) && !rescore) {
            for (const name of names) {
              const s = frame.scores[name] as Float32Array;
              // open-set counts need the scores as given (float16 only when lossless)
              const f2 =
                mode === 'histogram' && (!openSet(fold) || isFloat16Exact(s)) ? '<f2' : '<f4';
              await writeNpy(cachePath(name, fold.name, i), s, [frame.height, frame.width], f2);
            }
            if (openSet(fold) && frame.closed !== undefined)
              await writeNpy(
                closedPath(fold.name, i),
                frame.closed,
                [frame.height, frame.width],
                '|u1',
              );
          }
          count++;
          images++;
          options.onFrame?.(count, rangeSize);
          if (++sinceSave >= stateEvery) {
            sinceSave = 0;
            await writer.commit(meta);
          }
        }
      }
      meta = { ...meta, firstPass: true };
      await writer.commit(meta);
    }
    // the session's JSON with the exact stores in the files (the second pass adds to it)
    const firstPass = { ...session.toJSON(), components: null, openSetPass: null };

    // the second pass (component metrics; open-mIoU of scores that are no float16 values): at
    // the thresholds of the merged first pass (a shard is given them) or this session's own
    // (one process)
    let thresholds: Readonly<Record<string, number>> | null = thresholdsGiven;
    const needsPass = options.folds.some(cached);
    if (shard === null) {
      await writer.restore();
      thresholds = session.secondPassThresholds();
    }
    const scored = thresholds ? Object.keys(thresholds) : [];
    // the folds the second pass reads: component folds with a component threshold, open-set
    // folds with an open-set one
    const inPass = (fold: EvaluationFold): boolean =>
      (withComponents(fold) && names.some((n) => thresholds?.[n] !== undefined)) ||
      (openSet(fold) &&
        names.some((n) => thresholds?.[openSetPassKey(n, fold.name)] !== undefined));
    let componentPass: ShardOutcome['componentPass'] = needsPass ? 'pending' : 'none';
    if (thresholds !== null && needsPass && scored.length === 0) componentPass = 'none';
    if (thresholds !== null && scored.length > 0) {
      const ran = meta.componentPass;
      if (ran !== null && canonicalJson(ran.thresholds) !== canonicalJson(thresholds)) {
        // thresholds of another first pass: that component pass is void
        session = EvaluationSession.fromJSON(firstPass);
        meta = { ...meta, componentPass: null };
      }
      if (meta.componentPass === null) {
        session.startComponentPass(thresholds);
        meta = { ...meta, componentPass: { thresholds, done: 0, finished: false } };
      }
      const pass = meta.componentPass as NonNullable<EvalStateMeta['componentPass']>;
      const json = (): EvaluationSessionJSON => ({
        ...firstPass,
        components: session.componentPassState(),
        openSetPass: session.openSetPassState(),
      });
      let done = pass.done;
      let sinceSave = 0;
      const save = async (finished: boolean): Promise<void> => {
        meta = { ...meta, componentPass: { thresholds, done, finished } };
        await writer.commit(meta, json());
      };
      if (!pass.finished) {
        for (let p = done; p < rangeSize; p++) {
          const g = start + p;
          let fi = 0;
          while (g - (offsets[fi] as number) >= (sizes[fi] as number)) fi++;
          const fold = options.folds[fi] as EvaluationFold;
          const i = g - (offsets[fi] as number);
          await yieldToEventLoop();
          if (options.signal?.aborted) {
            meta = { ...meta, componentPass: { thresholds, done, finished: false } };
            await stopped(done, json());
          }
          if (inPass(fold)) {
            const sample = await fold.dataset.load(i);
            if (sample.label) {
              const labels =
                fold.binaryLabels === true ? binaryOf(fold, sample.label.data) : sample.label.data;
              const scores: Record<string, Float32Array> = {};
              let closed: Uint8Array | undefined;
              if (rescore) {
                const frame = await scoreFrame(sample.image, {
                  fold: fi,
                  index: i,
                  width: sample.label.width,
                  height: sample.label.height,
                });
                for (const name of names) scores[name] = frame.scores[name] as Float32Array;
                closed = frame.closed;
              } else {
                for (const name of names)
                  scores[name] = (await readNpy(cachePath(name, fold.name, i))).data;
                if (openSet(fold))
                  closed = Uint8Array.from((await readNpy(closedPath(fold.name, i))).data);
              }
              session.addComponentFrame({
                fold: fold.name,
                width: sample.label.width,
                height: sample.label.height,
                scores,
                labels,
                ...(closed !== undefined ? { closed } : {}),
              });
              images++;
            }
          }
          done = p + 1;
          if (++sinceSave >= stateEvery) {
            sinceSave = 0;
            await save(false);
          }
        }
        await save(true);
      }
      componentPass = 'done';
      await rm(scoreCache, { recursive: true, force: true });
    }
    await writer.close();
    return { session, outcome: { dir, meta, images, componentPass } };
  } catch (e) {
    await writer.close();
    throw e;
  }
}

/**
 * Evaluates a detector on one or more folds of data-mixing datasets: reads every image, scores
 * it and feeds an {@link EvaluationSession} (`@densehybrid/metrics-openiou`), which computes
 * anomaly metrics under the benchmark's protocol, closed mIoU, open-mIoU (cross-calibrated
 * between two folds, or at a given threshold) and, optionally, SMIYC component metrics (a second
 * pass over float16 scores cached in `scratchDir`, or scored again). The state lives in
 * `scratchDir` as a session state folder (`@densehybrid/metrics-openiou/node`): committed every
 * `stateEvery` images and on an interrupt (`signal`), exact scores appended to its files after
 * every image; its key holds everything that determines the result (these options, the folds'
 * sample ids, {@link EvaluateFoldsOptions.resumeKey}), and the same call resumes it.
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
  const { session } = await evaluateRange(options, null, null);
  return session.finish();
}

/**
 * One shard of an evaluation split over processes (`eval --shard i/n`): the frames
 * {@link shardRange} gives it (a contiguous block of the frames in fold order, so merging the
 * shards in order concatenates every per-frame record as one process has it). Its state stays
 * in `scratchDir` for `densehybrid merge` (`readSessionState` of
 * `@densehybrid/metrics-openiou/node`). With component metrics it stops after the first pass
 * (`componentPass: 'pending'`) until it is run again with the merged first pass's
 * `componentThresholds`. Resumes like {@link evaluateFolds}; a rerun of a complete shard does
 * nothing.
 *
 * @throws as {@link evaluateFolds}; CliUsageError also for the state of another shard index
 * @example
 * ```ts
 * const s = await evaluateShard({ ...options, shard: { index: 1, count: 4 }, scratchDir: 'states/shard-1-of-4' });
 * s.componentPass; // 'none' | 'pending' | 'done'
 * ```
 */
export async function evaluateShard(options: EvaluateShardOptions): Promise<ShardOutcome> {
  const { shard } = options;
  if (
    !Number.isInteger(shard.count) ||
    shard.count < 1 ||
    !Number.isInteger(shard.index) ||
    shard.index < 0 ||
    shard.index >= shard.count
  ) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `evaluateShard: expected shard index in 0..count-1 and count >= 1, got ${shard.index}/${shard.count}`,
    );
  }
  const { outcome } = await evaluateRange(options, shard, options.componentThresholds ?? null);
  return outcome;
}
