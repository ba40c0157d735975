import {
  AnomalyMetricsAccumulator,
  type AccumulatorMode,
  type AnomalyMetricsAccumulatorJSON,
  type AnomalyMetricsAccumulatorOptions,
} from './accumulator.js';
import type {
  AnomalyCurvesResult,
  AnomalyMetricsResult,
  AnomalyProtocol,
  FprRule,
} from './anomaly-metrics.js';
import { calibrateThreshold } from './calibrate.js';
import {
  ComponentMetricsAccumulator,
  type ComponentMetricsJSON,
  type ComponentMetricsOptions,
  type ComponentMetricsResult,
} from './components.js';
import {
  CALIBRATION_RESAMPLINGS,
  CLOSED_POOLINGS,
  EMPTY_FRAME_RULES,
  IGNORED_PIXEL_RULES,
  SCORE_ROUNDINGS,
  THRESHOLD_RULES,
  type CalibrationResampling,
  type ClosedPooling,
  type EmptyFrameRule,
  type IgnoredPixelRule,
  type ScoreRounding,
  type ThresholdRule,
} from './conventions.js';
import { DenseHybridError, describeValue } from './errors.js';
import type { ExactScores } from './exact.js';
import { doubleToFloat16, fromFloat16Bits, toFloat16Bits } from './float16.js';
import { OpenIoU, type OpenIoUAverage, type OpenIoUResult } from './open-iou.js';
import { OpenSetSweep, type OpenSetSweepJSON } from './open-set-sweep.js';
import { PercentileBinsAccumulator, type PercentileBinsJSON } from './percentile-bins.js';
import {
  BENCHMARK_PROTOCOLS,
  type BenchmarkName,
  type BenchmarkProtocol,
  type LabelKind,
} from './protocols.js';
import { resampleBilinear, resampleNearest } from './resample.js';
import { checkArray, checkInteger, checkOneOf, type NumericArray } from './validate.js';

/** One fold of an {@link EvaluationSession} (StreetHazards test: t5 and t6). */
export interface EvaluationFoldSpec {
  readonly name: string;
  /** What its labels hold. @default the protocol's `labelKind` */
  readonly labelKind?: LabelKind;
  /** Ground-truth label that is skipped. @default 255 */
  readonly ignoreLabel?: number;
}

/** Options of {@link EvaluationSession}; everything but `benchmark` overrides the protocol. */
export interface EvaluationSessionOptions {
  /** A name of {@link BENCHMARK_PROTOCOLS} or a protocol of your own. @default 'folder' */
  readonly benchmark?: BenchmarkName | BenchmarkProtocol;
  /** K, the number of known classes; required unless every fold has anomaly labels. */
  readonly numClasses?: number;
  /** Names of the scores each frame carries, each evaluated on its own. @default ['score'] */
  readonly scoreNames?: readonly string[];
  /**
   * The folds, by name or spec.
   * @default the protocol's `crossFolds` when it cross-calibrates, else `['test']`
   */
  readonly folds?: readonly (string | EvaluationFoldSpec)[];
  /** @default the protocol's */
  readonly protocol?: AnomalyProtocol;
  /** @default the protocol's */
  readonly fprRule?: FprRule;
  /** @default the protocol's */
  readonly tpr?: number;
  /**
   * `histogram` keeps memory flat in dataset size (pooled metrics of scores rounded to float16:
   * exact for float16 scores; `finish()` notes how many were not); `exact` keeps every score (4
   * bytes per non-ignored pixel for float32 scores). Per-image metrics are exact in both.
   * @default the protocol's (`'exact'` for Fishyscapes, else `'histogram'`)
   */
  readonly mode?: Exclude<AccumulatorMode, 'distinct'>;
  /** Open-set threshold when not cross-calibrating: one for every score, or one per score name. */
  readonly threshold?: number | Readonly<Record<string, number>>;
  /**
   * Calibrate on one of two open-set folds and apply to the other.
   * @default true when the protocol cross-calibrates, there are two folds and no `threshold`
   */
  readonly crossCalibrate?: boolean;
  /** Resampling factor of cross-calibration, in (0, 1]. @default the protocol's */
  readonly calibrationScale?: number;
  /** Resampling of the calibration scores (labels: nearest). @default the protocol's */
  readonly calibrationResampling?: CalibrationResampling;
  /** FPR rule that picks the cross-calibration threshold. @default the protocol's */
  readonly calibrationFprRule?: FprRule;
  /** `score > threshold` or `score >= threshold` for open-set maps and components. @default the protocol's */
  readonly thresholdRule?: ThresholdRule;
  /** Closed mIoU over the folds: one confusion matrix or image-weighted. @default the protocol's */
  readonly closedPooling?: ClosedPooling;
  /** Per-image protocol: frames without anomaly or inlier pixels. @default the protocol's */
  readonly perImageEmptyFrames?: EmptyFrameRule;
  /** Ignored pixels in AP / AUROC / FPR: excluded or inliers. @default the protocol's */
  readonly ignoredPixels?: IgnoredPixelRule;
  /** Precision the scores are rounded to before every metric. @default the protocol's */
  readonly scoreRounding?: ScoreRounding;
  /** SMIYC percentile bins per frame for the reported pixel metrics, or null. @default the protocol's */
  readonly percentileBins?: number | null;
  /** @default the protocol's */
  readonly average?: OpenIoUAverage;
  /** Component metrics with these options, or `null` for none. @default the protocol's */
  readonly components?: Omit<ComponentMetricsOptions, 'threshold'> | null;
}

/** One frame for {@link EvaluationSession.addFrame}: plain typed arrays, row-major. */
export interface EvaluationFrame {
  /** The fold; may be left out when the session has one fold. */
  readonly fold?: string;
  readonly width: number;
  readonly height: number;
  /** Per score name, `width*height` anomaly scores (higher = more anomalous). */
  readonly scores: Readonly<Record<string, NumericArray>>;
  /** Ground truth of the fold's {@link LabelKind}, `width*height`. */
  readonly labels: NumericArray;
  /** Closed-set prediction (argmax over the K known classes); needed unless the fold's labels are `anomaly`. */
  readonly closed?: NumericArray;
}

/**
 * One frame of the second pass ({@link EvaluationSession.addComponentFrame}): `closed` is needed
 * on open-set folds that the pass counts ({@link EvaluationSession.secondPassThresholds}).
 */
export type ComponentPassFrame = EvaluationFrame;

/**
 * The key of a score's open-set threshold on a fold among the second pass's thresholds
 * ({@link EvaluationSession.secondPassThresholds}); component thresholds are keyed by the score name.
 *
 * @example
 * ```ts
 * openSetPassKey('score', 't5'); // 'open-set/t5/score'
 * ```
 */
export const openSetPassKey = (score: string, fold: string): string => `open-set/${fold}/${score}`;

/** The open-set confusion of one score and fold counted at its threshold in the second pass. */
export interface OpenSetPassJSON {
  readonly threshold: number;
  /** `(K+1)²` counts, row = ground truth, column = open-set prediction. */
  readonly confusion: readonly number[];
}

interface OpenSetPass {
  readonly score: string;
  readonly fold: string;
  readonly threshold: number;
  readonly confusion: Float64Array;
}

/** Open-set segmentation results. */
export interface OpenSetEvaluation {
  /** Where the threshold came from. */
  readonly thresholdSource: 'cross-calibration' | 'given';
  /** How the threshold is applied: `score > threshold` (`'greater'`) or `>=`. */
  readonly thresholdRule: ThresholdRule;
  /** FPR rule of the calibration (null for a given threshold). */
  readonly calibrationFprRule: FprRule | null;
  /** Resampling factor of the calibration scores (1 = full resolution). */
  readonly calibrationScale: number;
  /** Resampling of the calibration scores (null at full resolution or for a given threshold). */
  readonly calibrationResampling: CalibrationResampling | null;
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
  /**
   * AP/FPR/AUROC over all folds as the benchmark reports them (SMIYC: from its percentile
   * bins); null when the labels have no anomaly class.
   */
  readonly anomaly: AnomalyMetricsResult | null;
  /** With percentile bins: the exact (histogram mode: float16-exact) values beside; else null. */
  readonly anomalyExact: AnomalyMetricsResult | null;
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

/** The conventions an evaluation followed, each by name (see the README's conventions table). */
export interface EvaluationConventions {
  readonly protocol: AnomalyProtocol;
  readonly fprRule: FprRule;
  readonly tpr: number;
  readonly thresholdRule: ThresholdRule;
  readonly perImageEmptyFrames: EmptyFrameRule;
  readonly ignoredPixels: IgnoredPixelRule;
  readonly scoreRounding: ScoreRounding;
  readonly percentileBins: number | null;
  readonly calibrationFprRule: FprRule;
  readonly calibrationScale: number;
  readonly calibrationResampling: CalibrationResampling;
  readonly closedPooling: ClosedPooling;
  readonly average: OpenIoUAverage;
  readonly mode: Exclude<AccumulatorMode, 'distinct'>;
  /** The official files and functions whose conventions these are. */
  readonly officialCode: readonly string[];
}

/**
 * What {@link EvaluationSession.finish} returns. The top-level `anomaly`, `perFoldAnomaly`,
 * `curves`, `openSet` and `components` are those of the first score; `scores` has every score.
 */
export interface EvaluationResult {
  readonly frames: number;
  readonly protocol: AnomalyProtocol;
  /** Every convention of the evaluation, named. */
  readonly conventions: EvaluationConventions;
  /** One entry per score, in the order of `scoreNames`. */
  readonly scores: readonly ScoreEvaluation[];
  /** AP/FPR/AUROC over all folds as the benchmark reports them; null without anomaly class. */
  readonly anomaly: AnomalyMetricsResult | null;
  /** With percentile bins: the exact values beside `anomaly`; else null. */
  readonly anomalyExact: AnomalyMetricsResult | null;
  readonly perFoldAnomaly: readonly {
    readonly name: string;
    readonly result: AnomalyMetricsResult;
  }[];
  readonly curves: AnomalyCurvesResult | null;
  /**
   * Closed-set mIoU (anomaly pixels ignored) under the `closedPooling` convention (`iou`: of
   * one confusion matrix over all folds); null for binary anomaly datasets.
   */
  readonly closed: { readonly mIoU: number; readonly iou: readonly number[] } | null;
  readonly openSet: OpenSetEvaluation | null;
  readonly components: ComponentMetricsResult | null;
  /** Why a metric was not computed (per-score notes prefixed `name: ` when several scores). */
  readonly notes: readonly string[];
}

/** A threshold in JSON (±Infinity as strings). */
type JsonThreshold = number | 'Infinity' | '-Infinity';

/** JSON form of {@link EvaluationSession} ({@link EvaluationSession.toJSON}). */
export interface EvaluationSessionJSON {
  readonly format: 'densehybrid/evaluation-session';
  /** 2 since the conventions are options (version 1 states load with the old behaviour). */
  readonly version: 1 | 2;
  readonly options: {
    readonly benchmark: BenchmarkProtocol;
    readonly numClasses: number | null;
    readonly scoreNames: readonly string[];
    readonly folds: readonly Required<EvaluationFoldSpec>[];
    readonly protocol: AnomalyProtocol;
    readonly fprRule: FprRule;
    readonly tpr: number;
    readonly mode: Exclude<AccumulatorMode, 'distinct'>;
    readonly thresholds: Readonly<Record<string, JsonThreshold>>;
    readonly crossCalibrate: boolean;
    readonly calibrationScale: number;
    readonly calibrationResampling: CalibrationResampling;
    readonly calibrationFprRule: FprRule;
    readonly thresholdRule: ThresholdRule;
    readonly closedPooling: ClosedPooling;
    readonly perImageEmptyFrames: EmptyFrameRule;
    readonly ignoredPixels: IgnoredPixelRule;
    readonly scoreRounding: ScoreRounding;
    readonly percentileBins: number | null;
    readonly average: OpenIoUAverage;
    readonly components: Omit<ComponentMetricsOptions, 'threshold'> | null;
  };
  /** Frames added per fold. */
  readonly frames: Readonly<Record<string, number>>;
  /**
   * Per score, per fold: the accumulators (`cal`: the calibration data when it differs from
   * `acc`, i.e. resampled or with ignored pixels left out; `bins`: SMIYC's percentile bins).
   */
  readonly scores: Readonly<
    Record<
      string,
      Readonly<
        Record<
          string,
          {
            readonly acc: AnomalyMetricsAccumulatorJSON | null;
            readonly sweep: OpenSetSweepJSON | null;
            readonly cal: AnomalyMetricsAccumulatorJSON | null;
            readonly bins?: PercentileBinsJSON | null;
          }
        >
      >
    >
  >;
  /** Per score: the component pass's accumulator, once started. */
  readonly components: Readonly<Record<string, ComponentMetricsJSON>> | null;
  /**
   * Per {@link openSetPassKey}: the second pass's exact open-set confusion, once started (absent
   * before, and in states written before it existed).
   */
  readonly openSetPass?: Readonly<Record<string, OpenSetPassJSON>> | null;
}

type Resolved = EvaluationSessionJSON['options'] & {
  readonly thresholdOf: ReadonlyMap<string, number>;
  /** Cross-calibration on resampled scores. */
  readonly scaled: boolean;
  /** Cross-calibration on data of its own (`cal`): resampled, or ignored pixels left out. */
  readonly ownCalibration: boolean;
};

const FORMAT = 'densehybrid/evaluation-session';

/** Curve points kept for plotting. */
const CURVE_POINTS = 512;

/** What {@link binaryAnomalyLabels} needs to know about a fold (a data-mixing dataset has it). */
export interface LabelEncoding {
  readonly labelKind: LabelKind;
  /** K (the anomaly class of `open-set` labels). */
  readonly numClasses: number;
  readonly ignoreLabel: number;
}

/**
 * Binary anomaly labels (0 inlier, 1 anomaly, 255 ignore) of a fold's ground truth: `anomaly`
 * labels as they are (ignore → 255), `open-set` labels with K → 1 and 0..K−1 → 0; `semantic`
 * labels have none (null).
 *
 * @param labels - ground truth
 * @param encoding - `{ labelKind, numClasses, ignoreLabel }`, e.g. a data-mixing dataset
 * @returns the labels itself for `anomaly` labels with ignore 255, else a new `Uint8Array`; null
 *   for `semantic`
 * @example
 * ```ts
 * binaryAnomalyLabels([0, 12, 255], { labelKind: 'open-set', numClasses: 12, ignoreLabel: 255 });
 * // Uint8Array [0, 1, 255]
 * ```
 */
export function binaryAnomalyLabels(
  labels: NumericArray,
  encoding: LabelEncoding,
): NumericArray | null {
  const ignore = encoding.ignoreLabel;
  if (encoding.labelKind === 'anomaly') {
    if (ignore === 255) return labels;
    return Uint8Array.from(labels, (v) => (v === ignore ? 255 : v));
  }
  if (encoding.labelKind === 'open-set') {
    const K = encoding.numClasses;
    return Uint8Array.from(labels, (v) => (v === ignore ? 255 : v === K ? 1 : 0));
  }
  return null;
}

function toJsonThreshold(t: number): JsonThreshold {
  return t === Infinity ? 'Infinity' : t === -Infinity ? '-Infinity' : t;
}

function fromJsonThreshold(t: JsonThreshold): number {
  return t === 'Infinity' ? Infinity : t === '-Infinity' ? -Infinity : t;
}

function resolveOptions(o: EvaluationSessionOptions): Resolved {
  const fn = 'EvaluationSession';
  if (typeof o !== 'object' || o === null) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected an options object, got ${describeValue(o)}`,
    );
  }
  const benchmark =
    typeof o.benchmark === 'object' && o.benchmark !== null
      ? o.benchmark
      : BENCHMARK_PROTOCOLS[o.benchmark ?? 'folder'];
  if (benchmark === undefined) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected benchmark to be one of ${Object.keys(BENCHMARK_PROTOCOLS).join(' | ')} or a protocol, got ${describeValue(o.benchmark)}`,
    );
  }
  const scoreNames = [...(o.scoreNames ?? ['score'])];
  if (
    scoreNames.length === 0 ||
    new Set(scoreNames).size !== scoreNames.length ||
    scoreNames.some((n) => typeof n !== 'string')
  ) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected one or more distinct score names, got ${JSON.stringify(scoreNames)}`,
    );
  }
  const foldInput =
    o.folds ??
    (benchmark.openSetThreshold === 'cross-calibration' && benchmark.crossFolds
      ? benchmark.crossFolds
      : ['test']);
  const folds = foldInput.map((f): Required<EvaluationFoldSpec> => {
    const spec = typeof f === 'string' ? { name: f } : f;
    const labelKind = spec.labelKind ?? benchmark.labelKind;
    checkOneOf(fn, 'labelKind', labelKind, ['anomaly', 'open-set', 'semantic'] as const);
    return { name: spec.name, labelKind, ignoreLabel: spec.ignoreLabel ?? 255 };
  });
  if (folds.length === 0 || new Set(folds.map((f) => f.name)).size !== folds.length) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected one or more folds with distinct names, got ${JSON.stringify(folds.map((f) => f.name))}`,
    );
  }
  // K sizes the open-set sweeps (1..254); anomaly labels do not use it
  const numClasses = o.numClasses ?? null;
  if (folds.some((f) => f.labelKind !== 'anomaly'))
    checkInteger(fn, 'numClasses (needed for open-set and semantic labels)', numClasses, 1, 254);
  else if (numClasses !== null) checkInteger(fn, 'numClasses', numClasses, 1, 65534);
  const protocol = o.protocol ?? benchmark.protocol;
  checkOneOf(fn, 'protocol', protocol, ['pooled', 'per-image'] as const);
  const average = o.average ?? benchmark.average;
  checkOneOf(fn, 'average', average, ['nanmean', 'sum-over-k'] as const);
  const calibrationScale = o.calibrationScale ?? benchmark.calibrationScale;
  if (typeof calibrationScale !== 'number' || !(calibrationScale > 0 && calibrationScale <= 1)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected calibrationScale in (0, 1], got ${describeValue(calibrationScale)}`,
    );
  }
  const thresholdOf = new Map<string, number>();
  for (const name of scoreNames) {
    const t = typeof o.threshold === 'number' ? o.threshold : o.threshold?.[name];
    if (t === undefined) continue;
    if (typeof t !== 'number' || Number.isNaN(t)) {
      throw new DenseHybridError(
        'INVALID_OPTION',
        `${fn}: expected the threshold of "${name}" to be a number, got ${describeValue(t)}`,
      );
    }
    thresholdOf.set(name, t);
  }
  const crossCalibrate =
    o.crossCalibrate ??
    (benchmark.openSetThreshold === 'cross-calibration' &&
      o.threshold === undefined &&
      folds.length === 2);
  if (crossCalibrate && folds.length !== 2) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected two folds for cross-calibration, got ${folds.length}`,
    );
  }
  const components = o.components === undefined ? benchmark.components : o.components;
  // a protocol of the caller's (or of a version-1 state) may lack the newer conventions
  const folder = BENCHMARK_PROTOCOLS.folder;
  const pick = <K extends keyof BenchmarkProtocol>(k: K): BenchmarkProtocol[K] =>
    benchmark[k] ?? folder[k];
  const fprRule = o.fprRule ?? benchmark.fprRule;
  const mode = o.mode ?? pick('mode');
  checkOneOf(fn, 'mode', mode, ['exact', 'histogram'] as const);
  const thresholdRule = o.thresholdRule ?? pick('thresholdRule');
  checkOneOf(fn, 'thresholdRule', thresholdRule, THRESHOLD_RULES);
  const calibrationFprRule = o.calibrationFprRule ?? pick('calibrationFprRule');
  checkOneOf(fn, 'calibrationFprRule', calibrationFprRule, [
    'at-least',
    'above',
    'nearest',
  ] as const);
  const calibrationResampling = o.calibrationResampling ?? pick('calibrationResampling');
  checkOneOf(fn, 'calibrationResampling', calibrationResampling, CALIBRATION_RESAMPLINGS);
  const closedPooling = o.closedPooling ?? pick('closedPooling');
  checkOneOf(fn, 'closedPooling', closedPooling, CLOSED_POOLINGS);
  const perImageEmptyFrames = o.perImageEmptyFrames ?? pick('perImageEmptyFrames');
  checkOneOf(fn, 'perImageEmptyFrames', perImageEmptyFrames, EMPTY_FRAME_RULES);
  const ignoredPixels = o.ignoredPixels ?? pick('ignoredPixels');
  checkOneOf(fn, 'ignoredPixels', ignoredPixels, IGNORED_PIXEL_RULES);
  const scoreRounding = o.scoreRounding ?? pick('scoreRounding');
  checkOneOf(fn, 'scoreRounding', scoreRounding, SCORE_ROUNDINGS);
  const percentileBins = o.percentileBins !== undefined ? o.percentileBins : pick('percentileBins');
  if (percentileBins !== null) checkInteger(fn, 'percentileBins', percentileBins, 2, 1 << 20);
  const scaled = crossCalibrate && calibrationScale !== 1;
  return {
    benchmark,
    numClasses,
    scoreNames,
    folds,
    protocol,
    fprRule,
    tpr: o.tpr ?? benchmark.tpr,
    mode,
    thresholds: Object.fromEntries([...thresholdOf].map(([k, v]) => [k, toJsonThreshold(v)])),
    crossCalibrate,
    calibrationScale,
    calibrationResampling,
    calibrationFprRule,
    thresholdRule,
    closedPooling,
    perImageEmptyFrames,
    ignoredPixels,
    scoreRounding,
    percentileBins,
    average,
    components: components === null ? null : { ...components },
    thresholdOf,
    scaled,
    ownCalibration: crossCalibrate && (scaled || ignoredPixels === 'inliers'),
  };
}

/** Scores as the benchmark's code sees them ({@link ScoreRounding}). */
function rounded(scores: NumericArray, rounding: ScoreRounding): NumericArray {
  if (rounding === 'float16') return fromFloat16Bits(toFloat16Bits(scores));
  if (rounding === 'float32' && !(scores instanceof Float32Array)) return Float32Array.from(scores);
  return scores;
}

/** Accumulation settings that two sessions must share to merge. */
function accumulationKey(r: Resolved): string {
  return JSON.stringify([
    r.numClasses,
    r.scoreNames,
    r.folds,
    r.protocol,
    r.fprRule,
    r.tpr,
    r.mode,
    r.thresholdRule,
    r.ignoredPixels,
    r.scoreRounding,
    r.percentileBins,
    r.scaled ? [r.calibrationScale, r.calibrationResampling] : 1,
    r.ownCalibration,
  ]);
}

interface FoldState {
  /** AP/FPR/AUROC (folds with anomaly labels). */
  acc: AnomalyMetricsAccumulator | null;
  /** Open-set confusion at any threshold (folds with class labels). */
  sweep: OpenSetSweep | null;
  /** Calibration data of its own (open-set folds when cross-calibrating with `ownCalibration`). */
  cal: AnomalyMetricsAccumulator | null;
  /** SMIYC's percentile bins (folds with anomaly labels, when the protocol bins). */
  bins: PercentileBinsAccumulator | null;
}

interface AnomalyPart {
  perFoldAnomaly: { name: string; result: AnomalyMetricsResult }[];
  anomaly: AnomalyMetricsResult | null;
  anomalyExact: AnomalyMetricsResult | null;
  curves: AnomalyCurvesResult | null;
  pooled: AnomalyMetricsAccumulator | null;
  notes: string[];
}

/**
 * A benchmark evaluation over plain typed arrays, in one streaming pass: anomaly metrics (AP,
 * FPR at the protocol's TPR, AUROC) pooled or per image, closed mIoU, open-mIoU (cross-calibrated
 * between two folds or at a given threshold), for several scores at once, and SMIYC component
 * metrics in a second pass ({@link addComponentFrame}, because their threshold is the best pooled
 * F1 over all frames; the same pass counts open-mIoU exactly at the final thresholds when the
 * scores are no float16 values, see {@link secondPassThresholds}). By default every convention is the benchmark's official code's
 * ({@link BENCHMARK_PROTOCOLS}; each can be overridden in the options and is named in
 * {@link conventions}). Memory is flat in the number of frames in histogram mode (SMIYC's
 * percentile bins add ~12 KiB per frame); the state merges ({@link merge}) and serialises
 * ({@link toJSON}, or incrementally into a state folder: `SessionStateWriter` of
 * `@densehybrid/metrics-openiou/node`), so a run can be split, resumed or parallelised: sessions
 * of contiguous blocks of frames merged in order give this session's results bit for bit (SMIYC:
 * the component pass at the merged first pass's {@link bestF1Thresholds}, see
 * {@link startComponentPass}). {@link finish} returns the
 * results; {@link metricsDocument} turns them into the `metrics.json` document the CLI writes.
 *
 * @example
 * ```ts
 * const session = new EvaluationSession({ benchmark: 'fishyscapes-lostandfound' });
 * for (const f of frames) session.addFrame({ width: f.w, height: f.h, scores: { score: f.scores }, labels: f.labels });
 * const { anomaly } = session.finish(); // anomaly.ap, anomaly.fpr, anomaly.auroc
 * ```
 */
export class EvaluationSession {
  private readonly o: Resolved;
  private readonly state = new Map<string, Map<string, FoldState>>();
  private readonly frameCounts = new Map<string, number>();
  private cms: Map<string, ComponentMetricsAccumulator> | null = null;
  /** The second pass's open-set counts (non-null exactly when `cms` is). */
  private osp: Map<string, OpenSetPass> | null = null;

  /**
   * @param options - see {@link EvaluationSessionOptions}
   * @throws DenseHybridError `INVALID_OPTION` for an unknown benchmark, option out of range,
   *   duplicate score or fold names, or cross-calibration without two folds
   */
  constructor(options: EvaluationSessionOptions = {}) {
    this.o = resolveOptions(options);
    const o = this.o;
    const accOptions = this.accumulatorOptions();
    for (const name of o.scoreNames) {
      const per = new Map<string, FoldState>();
      for (const f of o.folds) {
        per.set(f.name, {
          acc: f.labelKind !== 'semantic' ? new AnomalyMetricsAccumulator(accOptions) : null,
          sweep:
            f.labelKind !== 'anomaly'
              ? new OpenSetSweep(o.numClasses as number, f.ignoreLabel)
              : null,
          // resampled calibration maps are not float16 values: in histogram mode they keep one
          // counter per distinct score (exact, few of them for float16 maps) instead
          cal:
            o.ownCalibration && f.labelKind === 'open-set'
              ? new AnomalyMetricsAccumulator({
                  ...accOptions,
                  perImage: false,
                  ...(o.scaled && o.mode === 'histogram' ? { mode: 'distinct' as const } : {}),
                })
              : null,
          bins:
            o.percentileBins !== null && f.labelKind !== 'semantic'
              ? new PercentileBinsAccumulator({ bins: o.percentileBins, tpr: o.tpr })
              : null,
        });
      }
      this.state.set(name, per);
    }
    for (const f of o.folds) this.frameCounts.set(f.name, 0);
  }

  private accumulatorOptions(): AnomalyMetricsAccumulatorOptions {
    const o = this.o;
    return {
      mode: o.mode,
      tpr: o.tpr,
      fprRule: o.fprRule,
      thresholdRule: o.thresholdRule,
      perImage: o.protocol === 'per-image',
    };
  }

  /** The score names, in order. */
  get scoreNames(): readonly string[] {
    return this.o.scoreNames;
  }

  /** Frames added so far, all folds. */
  get frames(): number {
    let n = 0;
    for (const v of this.frameCounts.values()) n += v;
    return n;
  }

  /** Frames added so far to `fold`. */
  framesOf(fold: string): number {
    return this.frameCounts.get(fold) ?? 0;
  }

  private fold(fn: string, name: string | undefined): Required<EvaluationFoldSpec> {
    const folds = this.o.folds;
    const f =
      name === undefined && folds.length === 1 ? folds[0] : folds.find((x) => x.name === name);
    if (f === undefined) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected fold to be one of ${folds.map((x) => JSON.stringify(x.name)).join(' | ')}, got ${describeValue(name)}`,
      );
    }
    return f;
  }

  private checkFrame(fn: string, frame: ComponentPassFrame): number {
    if (typeof frame !== 'object' || frame === null) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected a frame object, got ${describeValue(frame)}`,
      );
    }
    checkInteger(fn, 'width', frame.width, 1, 1 << 30);
    checkInteger(fn, 'height', frame.height, 1, 1 << 30);
    const n = frame.width * frame.height;
    checkArray(fn, 'labels', frame.labels);
    if (frame.labels.length !== n) {
      throw new DenseHybridError(
        'SHAPE_MISMATCH',
        `${fn}: expected labels of length width*height = ${n}, got ${frame.labels.length}`,
      );
    }
    const scores = frame.scores ?? {};
    for (const name of this.o.scoreNames) {
      const s = scores[name];
      if (s === undefined) {
        throw new DenseHybridError(
          'INVALID_INPUT',
          `${fn}: expected scores "${name}", got ${JSON.stringify(Object.keys(scores))}`,
        );
      }
      checkArray(fn, `scores "${name}"`, s);
      if (s.length !== n) {
        throw new DenseHybridError(
          'SHAPE_MISMATCH',
          `${fn}: expected scores "${name}" of length width*height = ${n}, got ${s.length}`,
        );
      }
    }
    return n;
  }

  /**
   * Adds one frame's scores, labels and closed-set prediction to every score's accumulators.
   *
   * @param frame - see {@link EvaluationFrame}
   * @returns this
   * @throws DenseHybridError `INVALID_INPUT` (unknown fold, missing score or closed prediction,
   *   bad labels), `SHAPE_MISMATCH`, `NON_FINITE` (from the accumulators)
   */
  addFrame(frame: EvaluationFrame): this {
    const fn = 'EvaluationSession.addFrame';
    if (this.cms !== null) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected frames before the component pass, got one after addComponentFrame`,
      );
    }
    this.checkFrame(fn, frame);
    const fold = this.fold(fn, frame.fold);
    const o = this.o;
    const { width, height } = frame;
    if (fold.labelKind !== 'anomaly') {
      checkArray(fn, 'closed', frame.closed);
      if (frame.closed.length !== frame.labels.length) {
        throw new DenseHybridError(
          'SHAPE_MISMATCH',
          `${fn}: expected closed of length width*height = ${frame.labels.length}, got ${frame.closed.length}`,
        );
      }
    }
    const binary = binaryAnomalyLabels(frame.labels, {
      labelKind: fold.labelKind,
      numClasses: o.numClasses ?? 0,
      ignoreLabel: fold.ignoreLabel,
    });
    // anomaly-seg's eval_ood.py has no ignore label: every non-anomaly pixel is an inlier
    const metricLabels =
      binary && o.ignoredPixels === 'inliers'
        ? Uint8Array.from(binary, (v) => (v === 1 ? 1 : 0))
        : binary;
    // the calibration data: labels resampled nearest (the authors' F.interpolate(lbl, 'nearest'))
    const calLabels =
      o.ownCalibration && binary && fold.labelKind === 'open-set'
        ? o.scaled
          ? resampleNearest(Uint8Array.from(binary), width, height, o.calibrationScale).data
          : binary
        : null;
    // histogram mode rounds every pooled score to float16 anyway (via float32), so only exact
    // mode, the per-image metrics (exact in every mode) and the resampled calibration maps need
    // the benchmark's rounding applied first
    const round =
      o.scoreRounding !== 'as-given' &&
      (o.mode === 'exact' || calLabels !== null || o.protocol === 'per-image');
    for (const name of o.scoreNames) {
      const raw = frame.scores[name] as NumericArray;
      const scores = round ? rounded(raw, o.scoreRounding) : raw;
      const st = this.state.get(name)?.get(fold.name) as FoldState;
      if (st.bins && metricLabels) {
        st.bins.add(scores, metricLabels);
        // histogram mode with float16 rounding (SMIYC): the bins' frame histogram is the
        // accumulator's (one read per pixel); otherwise the accumulator counts the scores that
        // are no float16 value and keeps per-image metrics exact
        if (st.acc && o.mode === 'histogram' && o.scoreRounding === 'float16') {
          const { counts, ...pixels } = st.bins.lastFrame();
          st.acc.addFrameHistogram(counts, pixels);
        } else st.acc?.add(scores, metricLabels);
      } else if (st.acc && metricLabels) st.acc.add(scores, metricLabels);
      if (calLabels && st.cal) {
        const cal = !o.scaled
          ? scores
          : o.calibrationResampling === 'bilinear'
            ? resampleBilinear(scores, width, height, o.calibrationScale).data
            : resampleNearest(Float32Array.from(scores), width, height, o.calibrationScale).data;
        st.cal.add(cal, calLabels);
      }
      st.sweep?.add(frame.labels, frame.closed as NumericArray, scores);
    }
    this.frameCounts.set(fold.name, (this.frameCounts.get(fold.name) ?? 0) + 1);
    return this;
  }

  /**
   * Adds another session's frames (their accumulators); this session's finishing options
   * (threshold, average, component sizes) stay. Equivalent to having added its frames here.
   *
   * @returns this
   * @throws DenseHybridError `INVALID_INPUT` when the sessions accumulate differently (scores,
   *   folds, K, protocol, TPR, rule, mode, calibration scale) or one has started the component
   *   pass and the other has not
   */
  merge(other: EvaluationSession): this {
    const fn = 'EvaluationSession.merge';
    if (!(other instanceof EvaluationSession)) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected an EvaluationSession, got ${describeValue(other)}`,
      );
    }
    const a = accumulationKey(this.o);
    const b = accumulationKey(other.o);
    if (a !== b) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected a session with settings ${a}, got ${b}`,
      );
    }
    if ((this.cms === null) !== (other.cms === null)) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected both sessions before or both in the component pass, got one in it`,
      );
    }
    for (const name of this.o.scoreNames) {
      for (const f of this.o.folds) {
        const mine = this.state.get(name)?.get(f.name) as FoldState;
        const theirs = other.state.get(name)?.get(f.name) as FoldState;
        if (mine.acc && theirs.acc) mine.acc.merge(theirs.acc);
        if (mine.sweep && theirs.sweep) mine.sweep.merge(theirs.sweep);
        if (mine.cal && theirs.cal) mine.cal.merge(theirs.cal);
        if (mine.bins && theirs.bins) mine.bins.merge(theirs.bins);
      }
    }
    for (const [k, v] of other.frameCounts)
      this.frameCounts.set(k, (this.frameCounts.get(k) ?? 0) + v);
    if (this.cms !== null && other.cms !== null) {
      for (const [name, cm] of this.cms) {
        const theirs = other.cms.get(name);
        if (theirs) cm.merge(theirs);
      }
    }
    if (this.osp !== null && other.osp !== null) {
      for (const [key, p] of this.osp) {
        const theirs = other.osp.get(key);
        if (theirs === undefined || theirs.threshold !== p.threshold) {
          throw new DenseHybridError(
            'INVALID_INPUT',
            `${fn}: expected the same open-set pass threshold for ${key} (${p.threshold}), got ${theirs === undefined ? 'none' : theirs.threshold}`,
          );
        }
        for (let i = 0; i < p.confusion.length; i++)
          p.confusion[i] = (p.confusion[i] as number) + (theirs.confusion[i] as number);
      }
    }
    return this;
  }

  /** The anomaly metrics of one score from its per-fold accumulators. */
  private anomalyPart(name: string): AnomalyPart {
    const o = this.o;
    const notes: string[] = [];
    const perFoldAnomaly: { name: string; result: AnomalyMetricsResult }[] = [];
    let anomaly: AnomalyMetricsResult | null = null;
    let anomalyExact: AnomalyMetricsResult | null = null;
    let curves: AnomalyCurvesResult | null = null;
    let pooled: AnomalyMetricsAccumulator | null = null;
    const per = this.state.get(name) as Map<string, FoldState>;
    const accs = [...per].filter(([, s]) => s.acc !== null);
    const compute = { protocol: o.protocol, emptyFrames: o.perImageEmptyFrames } as const;
    if (accs.length > 0) {
      // exact mode: the folds' stores are read in place (pooling copies no score)
      pooled = AnomalyMetricsAccumulator.union(
        accs.map(([, s]) => s.acc as AnomalyMetricsAccumulator),
      );
      const bins =
        o.percentileBins !== null
          ? new PercentileBinsAccumulator({ bins: o.percentileBins, tpr: o.tpr })
          : null;
      for (const [fold, s] of accs) {
        const acc = s.acc as AnomalyMetricsAccumulator;
        if (bins && s.bins) bins.merge(s.bins);
        try {
          // SMIYC reports its binned values; the exact ones are beside them
          const result = s.bins ? s.bins.compute() : acc.compute(compute);
          perFoldAnomaly.push({ name: fold, result });
        } catch (e) {
          notes.push(`anomaly metrics of fold ${fold}: ${(e as Error).message}`);
        }
      }
      const inexact = accs.reduce(
        (a, [, s]) => a + (s.acc as AnomalyMetricsAccumulator).nonFloat16Scores,
        0,
      );
      // float16 rounding is the convention itself (SMIYC), no note then
      if (inexact > 0 && o.scoreRounding !== 'float16') {
        const { positives, negatives } = pooled.pixelCounts;
        const of = `${inexact} of ${positives + negatives} scores are no float16 value`;
        notes.push(
          o.protocol === 'per-image'
            ? `histogram mode: ${of}; the per-image AP / FPR / AUROC are exact (from each frame's own scores), the pooled curves and pooled values are of the scores rounded to float16 (mode 'exact' keeps every score)`
            : `histogram mode: ${of} and were rounded to float16 (one bin per float16 value) for AP / FPR / AUROC and the curves; the official code uses them unrounded, expect differences of about 1e-4 (mode 'exact' keeps every score)`,
        );
      }
      try {
        const exact = pooled.compute(compute);
        anomaly = bins ? bins.compute() : exact;
        anomalyExact = bins ? exact : null;
        curves = pooled.curves({ maxPoints: CURVE_POINTS });
      } catch (e) {
        notes.push(`anomaly metrics: ${(e as Error).message}`);
      }
    }
    return { perFoldAnomaly, anomaly, anomalyExact, curves, pooled, notes };
  }

  /**
   * Threshold of the component pass with its note, or null: the best pooled pixel-F1 threshold
   * (SMIYC: of its percentile curve), rounded to float16 when the scores are float16 and the
   * rule is `>` (numpy compares a float16 map with a float64 scalar in float16).
   */
  private componentThreshold(part: AnomalyPart): { threshold: number | null; note: string | null } {
    const o = this.o;
    if (!o.components || !part.pooled || !part.anomaly) return { threshold: null, note: null };
    let threshold =
      o.protocol === 'pooled' || o.percentileBins !== null
        ? part.anomaly.bestF1Threshold
        : part.pooled.compute({ protocol: 'pooled' }).bestF1Threshold;
    if (threshold !== null && o.scoreRounding === 'float16' && o.thresholdRule === 'greater')
      threshold = doubleToFloat16(threshold);
    return {
      threshold,
      note: threshold === null ? 'component metrics: no best-F1 threshold' : null,
    };
  }

  /**
   * The thresholds of the component pass: per score, its best pooled pixel-F1 threshold over the
   * frames added so far (SMIYC's choice). Empty when the protocol has no component metrics.
   *
   * @example
   * ```ts
   * session.componentThresholds(); // { hybrid: 1.25, generative: -3.5 }
   * ```
   */
  componentThresholds(): Record<string, number> {
    if (!this.o.components) return {};
    if (this.cms !== null) {
      const out: Record<string, number> = {};
      for (const [name, cm] of this.cms) out[name] = cm.options.threshold;
      return out;
    }
    return this.bestF1Thresholds();
  }

  /**
   * Every threshold of the second pass ({@link startComponentPass}, {@link addComponentFrame}):
   * the component thresholds ({@link bestF1Thresholds}, keyed by score name) and, keyed by
   * {@link openSetPassKey}, the open-set threshold of each open-set fold whose scores were not all
   * float16 values — the first pass's open-set sweep counts float16 bins, the second pass counts
   * the confusion at the final (cross-calibrated or given) threshold exactly. Empty when no
   * second pass is needed (no component metrics, float16 score maps): then {@link finish} is
   * final after the first pass. Always of the first pass's state (also once the pass started), so
   * a sharded evaluation computes it on the merged first pass and hands it to every shard's
   * {@link startComponentPass}.
   *
   * @example
   * ```ts
   * const t = merged.secondPassThresholds(); // { 'open-set/t5/score': 2.38, 'open-set/t6/score': 2.35 }
   * if (Object.keys(t).length > 0) {
   *   shard.startComponentPass(t);
   *   for (const f of myFrames) shard.addComponentFrame(f); // with `closed` on open-set folds
   * }
   * ```
   */
  secondPassThresholds(): Record<string, number> {
    this.checkHeld('EvaluationSession.secondPassThresholds');
    return { ...this.bestF1Thresholds(), ...this.openSetPassThresholds() };
  }

  /** Per {@link openSetPassKey} of this session, its score and open-set fold. */
  private openSetPassKeys(): Map<string, { score: string; fold: string }> {
    const keys = new Map<string, { score: string; fold: string }>();
    for (const f of this.o.folds) {
      if (f.labelKind !== 'open-set') continue;
      for (const score of this.o.scoreNames)
        keys.set(openSetPassKey(score, f.name), { score, fold: f.name });
    }
    return keys;
  }

  /**
   * Per score, the best pooled pixel-F1 threshold of the first pass's frames (rounded as the
   * component pass applies it): what {@link componentThresholds} starts the component pass
   * with. Empty when the protocol has no component metrics. A sharded evaluation computes it
   * on the merged first-pass state and hands it to every shard's {@link startComponentPass}.
   *
   * @example
   * ```ts
   * merged.bestF1Thresholds(); // { score: 0.8125 }
   * ```
   */
  bestF1Thresholds(): Record<string, number> {
    const out: Record<string, number> = {};
    if (!this.o.components) return out;
    this.checkHeld('EvaluationSession.bestF1Thresholds');
    for (const name of this.o.scoreNames) {
      const t = this.componentThreshold(this.anomalyPart(name)).threshold;
      if (t !== null) out[name] = t;
    }
    return out;
  }

  /**
   * Starts the component pass at given thresholds instead of this session's own best-F1 ones:
   * the second pass of a sharded evaluation, where each shard has only its frames and the
   * thresholds come from the merged first pass ({@link bestF1Thresholds}). After it,
   * {@link addFrame} is refused and {@link addComponentFrame} feeds the pass. Scores without a
   * threshold get no component metrics.
   *
   * @param thresholds - per score name its threshold (a subset of the score names)
   * @returns this
   * @throws DenseHybridError `INVALID_INPUT` when the pass has started already, a name is not a
   *   score of the session, or a threshold is not a finite number; `INVALID_OPTION` when the
   *   session has no component metrics
   * @example
   * ```ts
   * shard.startComponentPass(merged.bestF1Thresholds());
   * for (const f of myFrames) shard.addComponentFrame(f);
   * ```
   */
  startComponentPass(thresholds: Readonly<Record<string, number>>): this {
    const fn = 'EvaluationSession.startComponentPass';
    const openKeys = this.openSetPassKeys();
    if (!this.o.components && openKeys.size === 0) {
      throw new DenseHybridError(
        'INVALID_OPTION',
        `${fn}: expected a session with component metrics (components option or an SMIYC protocol), got components: null`,
      );
    }
    if (this.cms !== null) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected a session before its component pass, got one that started it`,
      );
    }
    if (typeof thresholds !== 'object' || thresholds === null) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected thresholds per score name, got ${describeValue(thresholds)}`,
      );
    }
    const known = [...(this.o.components ? this.o.scoreNames : []), ...openKeys.keys()];
    for (const [name, t] of Object.entries(thresholds)) {
      if (!known.includes(name)) {
        throw new DenseHybridError(
          'INVALID_INPUT',
          `${fn}: expected thresholds of ${known.map((n) => JSON.stringify(n)).join(' | ')}, got one of ${JSON.stringify(name)}`,
        );
      }
      if (typeof t !== 'number' || !Number.isFinite(t)) {
        throw new DenseHybridError(
          'INVALID_INPUT',
          `${fn}: expected a finite threshold of "${name}", got ${describeValue(t)}`,
        );
      }
    }
    this.startPass(thresholds);
    return this;
  }

  /** Starts the second pass: component accumulators and open-set counts at `thresholds`. */
  private startPass(thresholds: Readonly<Record<string, number>>): void {
    this.cms = this.newComponentPass(thresholds);
    const K = this.o.numClasses ?? 0;
    this.osp = new Map();
    for (const [key, { score, fold }] of this.openSetPassKeys()) {
      const threshold = thresholds[key];
      if (threshold === undefined) continue;
      this.osp.set(key, {
        score,
        fold,
        threshold,
        confusion: new Float64Array((K + 1) * (K + 1)),
      });
    }
  }

  /** The second pass's open-set counts (null before it starts), as {@link toJSON} stores them. */
  openSetPassState(): Record<string, OpenSetPassJSON> | null {
    return this.osp === null
      ? null
      : Object.fromEntries(
          [...this.osp].map(([key, p]) => [
            key,
            { threshold: p.threshold, confusion: Array.from(p.confusion) },
          ]),
        );
  }

  /** The component pass's state (null before it starts), as {@link toJSON} stores it. */
  componentPassState(): EvaluationSessionJSON['components'] {
    return this.cms === null
      ? null
      : Object.fromEntries([...this.cms].map(([name, cm]) => [name, cm.toJSON()]));
  }

  /**
   * Every exact score store of the session (exact mode: each score's and fold's accumulator and
   * calibration data) with a stable id `<score index>-<fold index>-acc|cal`, for state files
   * that persist them incrementally. Empty in histogram mode.
   * @internal
   */
  exactStores(): { readonly id: string; readonly store: ExactScores }[] {
    const out: { id: string; store: ExactScores }[] = [];
    this.o.scoreNames.forEach((name, si) => {
      this.o.folds.forEach((f, fi) => {
        const st = this.state.get(name)?.get(f.name) as FoldState;
        for (const [tag, acc] of [
          ['acc', st.acc],
          ['cal', st.cal],
        ] as const) {
          const store = acc?.exactStore() ?? null;
          if (store !== null) out.push({ id: `${si}-${fi}-${tag}`, store });
        }
      });
    });
    return out;
  }

  /** Throws when exact scores are offloaded to a state file (they must be restored to compute). */
  private checkHeld(fn: string): void {
    const off = this.exactStores().reduce((a, s) => a + s.store.offloadedCount, 0);
    if (off > 0) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected every exact score in memory, got ${off} offloaded to a state file (restore them first: SessionStateWriter.restore or readSessionState of @densehybrid/metrics-openiou/node)`,
      );
    }
  }

  /** One component accumulator per score with a threshold (none without component metrics). */
  private newComponentPass(
    thresholds: Readonly<Record<string, number>> = this.componentThresholds(),
  ): Map<string, ComponentMetricsAccumulator> {
    const cms = new Map<string, ComponentMetricsAccumulator>();
    const components = this.o.components;
    if (components) {
      // in score order, whatever the order of `thresholds`
      for (const name of this.o.scoreNames) {
        const threshold = thresholds[name];
        if (threshold === undefined) continue;
        cms.set(
          name,
          new ComponentMetricsAccumulator({
            ...components,
            thresholdRule: this.o.thresholdRule,
            threshold,
          }),
        );
      }
    }
    return cms;
  }

  /**
   * The second pass: adds a frame's scores and labels (the same frames as in the first pass,
   * again) to each score's component accumulator at its {@link componentThresholds} threshold,
   * predicting under the `thresholdRule` (the scores rounded as the first pass saw them: float16
   * in histogram mode, else `scoreRounding`), and on an open-set fold with a pass threshold
   * ({@link secondPassThresholds}) its open-set prediction at that threshold (unrounded scores,
   * `closed` needed) to the exact open-set confusion that {@link finish} then reports. Starts the
   * pass at {@link secondPassThresholds} unless {@link startComponentPass} did; after the first
   * call {@link addFrame} is refused. With nothing to count (no component metrics, float16 open-set
   * scores) this does nothing.
   *
   * @example
   * ```ts
   * for (const f of frames) session.addFrame(f);
   * for (const f of frames) session.addComponentFrame(f); // same frames, `closed` included
   * session.finish().openSet?.openMIoU; // exact for float32 scores too
   * ```
   *
   * @returns this
   * @throws DenseHybridError `INVALID_INPUT`, `SHAPE_MISMATCH`, `NON_FINITE`
   */
  addComponentFrame(frame: ComponentPassFrame): this {
    const fn = 'EvaluationSession.addComponentFrame';
    this.checkFrame(fn, frame);
    const fold = this.fold(fn, frame.fold);
    if (this.cms === null) this.startPass(this.secondPassThresholds());
    const cms = this.cms as Map<string, ComponentMetricsAccumulator>;
    for (const p of this.osp?.values() ?? [])
      if (p.fold === fold.name) this.countOpenSet(fn, p, frame, fold.ignoreLabel);
    const binary = binaryAnomalyLabels(frame.labels, {
      labelKind: fold.labelKind,
      numClasses: this.o.numClasses ?? 0,
      ignoreLabel: fold.ignoreLabel,
    });
    if (!binary) return this;
    for (const [name, cm] of cms) {
      const s = frame.scores[name] as NumericArray;
      cm.add(
        this.o.mode === 'histogram'
          ? fromFloat16Bits(toFloat16Bits(s))
          : rounded(s, this.o.scoreRounding),
        binary,
        frame.width,
        frame.height,
      );
    }
    return this;
  }

  /**
   * The open-set folds' thresholds of one score (cross-calibrated, or the given one), with the
   * threshold's source; null when there is none (or no open-set fold).
   */
  private openSetThresholds(
    name: string,
    notes: string[],
  ): {
    source: OpenSetEvaluation['thresholdSource'];
    rows: { fold: string; threshold: number; calibratedOn: string | null }[];
  } | null {
    const o = this.o;
    const per = this.state.get(name) as Map<string, FoldState>;
    const openFolds = o.folds.filter((f) => f.labelKind === 'open-set');
    if (openFolds.length === 0) return null;
    const given = o.thresholdOf.get(name);
    if (o.crossCalibrate && openFolds.length === 2) {
      const rows: { fold: string; threshold: number; calibratedOn: string | null }[] = [];
      for (const [a, b] of [
        [0, 1],
        [1, 0],
      ] as const) {
        const fa = openFolds[a] as Required<EvaluationFoldSpec>;
        const fb = openFolds[b] as Required<EvaluationFoldSpec>;
        const sb = per.get(fb.name) as FoldState;
        if (sb.cal?.roundedToFloat16) {
          notes.push(
            `calibration on ${fb.name}: more than ${sb.cal.options.maxDistinct} distinct resampled scores, calibrated on float16 bins (mode 'exact' keeps every score)`,
          );
        }
        const thr = calibrateThreshold((sb.cal ?? sb.acc) as AnomalyMetricsAccumulator, {
          tpr: o.tpr,
          fprRule: o.calibrationFprRule,
          thresholdRule: o.thresholdRule,
        }).threshold;
        rows.push({ fold: fa.name, threshold: thr, calibratedOn: fb.name });
      }
      return { source: 'cross-calibration', rows };
    }
    if (given !== undefined) {
      return {
        source: 'given',
        rows: openFolds.map((f) => ({ fold: f.name, threshold: given, calibratedOn: null })),
      };
    }
    notes.push(
      'open-mIoU: no threshold; run `densehybrid calibrate` on the checkpoint or pass --threshold',
    );
    return null;
  }

  /**
   * Per {@link openSetPassKey}, the open-set thresholds that the second pass counts at: those of
   * the open-set folds whose scores were not all float16 values (the first pass's open-set sweep
   * counts float16 bins; exact for float16 scores, so those folds need no pass). Empty for
   * float16 score maps, and with `scoreRounding: 'float16'` (the rounding is the convention).
   */
  private openSetPassThresholds(): Record<string, number> {
    const out: Record<string, number> = {};
    const o = this.o;
    if (o.scoreRounding === 'float16') return out;
    for (const name of o.scoreNames) {
      const per = this.state.get(name) as Map<string, FoldState>;
      const needed = o.folds.some(
        (f) => f.labelKind === 'open-set' && (per.get(f.name)?.sweep?.nonFloat16Scores ?? 0) > 0,
      );
      if (!needed) continue;
      for (const r of this.openSetThresholds(name, [])?.rows ?? []) {
        const sweep = (per.get(r.fold) as FoldState).sweep as OpenSetSweep;
        if (sweep.nonFloat16Scores > 0 && Number.isFinite(r.threshold))
          out[openSetPassKey(name, r.fold)] = r.threshold;
      }
    }
    return out;
  }

  /** Adds a frame's open-set prediction at the pass's threshold to its exact confusion. */
  private countOpenSet(
    fn: string,
    p: OpenSetPass,
    frame: ComponentPassFrame,
    ignoreLabel: number,
  ): void {
    const closed = frame.closed;
    checkArray(fn, 'closed', closed);
    if (closed.length !== frame.labels.length) {
      throw new DenseHybridError(
        'SHAPE_MISMATCH',
        `${fn}: expected closed of length width*height = ${frame.labels.length}, got ${closed.length}`,
      );
    }
    const K = this.o.numClasses as number;
    const n = K + 1;
    const gt = frame.labels;
    const s = rounded(frame.scores[p.score] as NumericArray, this.o.scoreRounding);
    const t = p.threshold;
    const greater = this.o.thresholdRule === 'greater';
    const conf = p.confusion;
    for (let i = 0; i < gt.length; i++) {
      const g = gt[i] as number;
      if (g === ignoreLabel) continue;
      const c = closed[i] as number;
      if (!(g >= 0 && g <= K) || !(c >= 0 && c < K)) {
        throw new DenseHybridError(
          'INVALID_INPUT',
          `${fn}: expected gt in 0..${K} or ${ignoreLabel} and closed in 0..${K - 1}, got gt ${g}, closed ${c} at pixel ${i}`,
        );
      }
      const v = s[i] as number;
      const unknown = greater ? v > t : v >= t;
      const at = g * n + (unknown ? K : c);
      conf[at] = (conf[at] as number) + 1;
    }
  }

  /** Open-set results of one score: cross-calibrated, at its given threshold, or none. */
  private openSetPart(name: string, notes: string[]): OpenSetEvaluation | null {
    const o = this.o;
    const per = this.state.get(name) as Map<string, FoldState>;
    const openFolds = o.folds.filter((f) => f.labelKind === 'open-set');
    if (openFolds.length === 0) return null;
    // the second pass's exact counts at the fold's threshold, when it counted one
    const passAt = (fold: string, threshold: number): OpenSetPass | null => {
      const p = this.osp?.get(openSetPassKey(name, fold));
      return p !== undefined && p.threshold === threshold ? p : null;
    };
    const compute = (fold: string, sweep: OpenSetSweep, threshold: number): OpenIoUResult => {
      const state = sweep.openIoUStateAt(threshold, o.thresholdRule);
      const p = passAt(fold, threshold);
      return OpenIoU.fromJSON(p ? { ...state, confusion: Array.from(p.confusion) } : state).compute(
        {
          average: o.average,
        },
      );
    };
    const calibrationNotes: string[] = [];
    const found = this.openSetThresholds(name, calibrationNotes);
    const inexact = openFolds.reduce(
      (a, f) =>
        a +
        (found?.rows.some((r) => r.fold === f.name && passAt(f.name, r.threshold) !== null)
          ? 0
          : ((per.get(f.name) as FoldState).sweep?.nonFloat16Scores ?? 0)),
      0,
    );
    if (inexact > 0 && o.scoreRounding !== 'float16')
      notes.push(
        `open-mIoU: ${inexact} scores are no float16 value; the open-set confusion counts them rounded to float16, so pixels within one float16 step of the threshold can land on the other side than score ${o.thresholdRule === 'greater' ? '>' : '>='} threshold puts them (float16 score maps are exact; the second pass at secondPassThresholds() counts them exactly)`,
      );
    notes.push(...calibrationNotes);
    const rows: OpenSetEvaluation['folds'][number][] = [];
    const source = found?.source ?? null;
    for (const r of found?.rows ?? []) {
      const sweep = (per.get(r.fold) as FoldState).sweep as OpenSetSweep;
      rows.push({
        name: r.fold,
        frames: sweep.frames,
        threshold: r.threshold,
        calibratedOn: r.calibratedOn,
        result: compute(r.fold, sweep, r.threshold),
      });
    }
    if (source === null) return null;
    const w = rows.reduce((s, r) => s + r.frames, 0);
    const mean = (pick: (r: OpenIoUResult) => number): number =>
      rows.reduce((s, r) => s + r.frames * pick(r.result), 0) / w;
    const calibrated = source === 'cross-calibration';
    return {
      thresholdSource: source,
      thresholdRule: o.thresholdRule,
      calibrationFprRule: calibrated ? o.calibrationFprRule : null,
      calibrationScale: calibrated && o.scaled ? o.calibrationScale : 1,
      calibrationResampling: calibrated && o.scaled ? o.calibrationResampling : null,
      folds: rows,
      openMIoU: mean((r) => r.openMIoU),
      anomalyIoU: mean((r) => r.anomalyIoU),
    };
  }

  /**
   * Every convention this session follows, by name (as `finish()` and `metrics.json` report them).
   *
   * @example
   * ```ts
   * new EvaluationSession({ benchmark: 'smiyc-anomaly' }).conventions().percentileBins; // 768
   * ```
   */
  conventions(): EvaluationConventions {
    const o = this.o;
    return {
      protocol: o.protocol,
      fprRule: o.fprRule,
      tpr: o.tpr,
      thresholdRule: o.thresholdRule,
      perImageEmptyFrames: o.perImageEmptyFrames,
      ignoredPixels: o.ignoredPixels,
      scoreRounding: o.scoreRounding,
      percentileBins: o.percentileBins,
      calibrationFprRule: o.calibrationFprRule,
      calibrationScale: o.calibrationScale,
      calibrationResampling: o.calibrationResampling,
      closedPooling: o.closedPooling,
      average: o.average,
      mode: o.mode,
      officialCode: [...(o.benchmark.officialCode ?? [])],
    };
  }

  /**
   * The results: per score its anomaly metrics (over all folds and per fold), curves, open-set
   * results and component metrics; closed mIoU; notes on what could not be computed (and why).
   * Does not change the session.
   *
   * @returns see {@link EvaluationResult}; {@link metricsDocument} makes the `metrics.json` of it
   * @throws DenseHybridError `EMPTY_SET` when cross-calibration finds a fold without anomaly or
   *   inlier pixels
   * @example
   * ```ts
   * const result = session.finish();
   * console.log(result.anomaly?.ap, result.openSet?.openMIoU, result.closed?.mIoU);
   * ```
   */
  finish(): EvaluationResult {
    this.checkHeld('EvaluationSession.finish');
    const o = this.o;
    const notes: string[] = [];
    const multi = o.scoreNames.length > 1;
    if (
      o.calibrationScale !== 1 &&
      !o.scaled &&
      o.calibrationScale !== o.benchmark.calibrationScale
    )
      notes.push(
        `calibration scale ${o.calibrationScale}: ignored, it only applies to cross-calibration (StreetHazards test t5/t6)`,
      );
    if (o.folds.every((f) => f.labelKind === 'semantic'))
      notes.push('anomaly metrics: the labels have no anomaly class (semantic dataset)');

    // Closed mIoU from the first score's sweeps (threshold +Infinity: nothing unknown); the closed
    // prediction does not depend on the score.
    let closed: EvaluationResult['closed'] = null;
    const firstSweeps = [
      ...(this.state.get(o.scoreNames[0] as string) as Map<string, FoldState>).values(),
    ]
      .map((s) => s.sweep)
      .filter((s): s is OpenSetSweep => s !== null);
    if (firstSweeps.length > 0) {
      // 'pooled': one confusion matrix over every fold (the authors' evaluate_closed_dataset)
      const closedOf = (sweeps: readonly OpenSetSweep[]) => {
        const all = new OpenSetSweep(o.numClasses as number, o.folds[0]?.ignoreLabel ?? 255);
        for (const s of sweeps) all.merge(s);
        return OpenIoU.fromJSON(all.openIoUStateAt(NaN)).compute({ average: o.average });
      };
      const r = closedOf(firstSweeps);
      if (r.closedMIoU !== null && r.closedIoU !== null) {
        let mIoU = r.closedMIoU;
        if (o.closedPooling === 'image-weighted') {
          const used = firstSweeps.filter((s) => s.frames > 0);
          const w = used.reduce((a, s) => a + s.frames, 0);
          mIoU = used.reduce((a, s) => a + s.frames * (closedOf([s]).closedMIoU as number), 0) / w;
        }
        closed = { mIoU, iou: r.closedIoU };
      }
    }

    const parts = o.scoreNames.map((name) => {
      const part = this.anomalyPart(name);
      const scoreNotes = [...part.notes];
      const openSet = this.openSetPart(name, scoreNotes);
      const comp = this.componentThreshold(part);
      if (comp.note !== null) scoreNotes.push(comp.note);
      return { name, part, openSet, threshold: comp.threshold, notes: scoreNotes };
    });
    // without a component pass: accumulators that saw no frame (their compute names the problem)
    const cms = o.components ? (this.cms ?? this.newComponentPass()) : null;
    const scores: ScoreEvaluation[] = parts.map((p) => {
      const cm = p.threshold !== null ? cms?.get(p.name) : undefined;
      let components: ComponentMetricsResult | null = null;
      if (cm) {
        try {
          components = cm.compute();
        } catch (e) {
          p.notes.push(`component metrics: ${(e as Error).message}`);
        }
        // startComponentPass with thresholds of other frames than the first pass's
        if (cm.options.threshold !== p.threshold)
          p.notes.push(
            `component metrics: at threshold ${cm.options.threshold}, but the best pixel F1 of these frames is at ${p.threshold}`,
          );
      }
      return {
        name: p.name,
        anomaly: p.part.anomaly,
        anomalyExact: p.part.anomalyExact,
        perFoldAnomaly: p.part.perFoldAnomaly,
        curves: p.part.curves,
        openSet: p.openSet,
        components,
        notes: p.notes,
      };
    });
    for (const s of scores) for (const n of s.notes) notes.push(multi ? `${s.name}: ${n}` : n);
    const first = scores[0] as ScoreEvaluation;
    return {
      frames: this.frames,
      protocol: o.protocol,
      conventions: this.conventions(),
      scores,
      anomaly: first.anomaly,
      anomalyExact: first.anomalyExact,
      perFoldAnomaly: first.perFoldAnomaly,
      curves: first.curves,
      closed,
      openSet: first.openSet,
      components: first.components,
      notes,
    };
  }

  /**
   * Serialisable state: the resolved options and every accumulator (histogram mode: small;
   * exact mode: every score held in memory, base64 — scores offloaded to a state folder's files
   * by `SessionStateWriter` of `@densehybrid/metrics-openiou/node` appear as their counts only).
   * `JSON.stringify(session)` calls it.
   *
   * @example
   * ```ts
   * await writeFile('state.json', JSON.stringify(session));
   * const again = EvaluationSession.fromJSON(await readFile('state.json', 'utf8'));
   * ```
   */
  toJSON(): EvaluationSessionJSON {
    const { thresholdOf: _t, scaled: _s, ownCalibration: _c, ...options } = this.o;
    const scores: Record<
      string,
      Record<string, EvaluationSessionJSON['scores'][string][string]>
    > = {};
    for (const [name, per] of this.state) {
      const out: Record<string, EvaluationSessionJSON['scores'][string][string]> = {};
      for (const [fold, s] of per)
        out[fold] = {
          acc: s.acc?.toJSON() ?? null,
          sweep: s.sweep?.toJSON() ?? null,
          cal: s.cal?.toJSON() ?? null,
          bins: s.bins?.toJSON() ?? null,
        };
      scores[name] = out;
    }
    return {
      format: FORMAT,
      version: 2,
      options,
      frames: Object.fromEntries(this.frameCounts),
      scores,
      components: this.componentPassState(),
      ...(this.osp !== null ? { openSetPass: this.openSetPassState() } : {}),
    };
  }

  /**
   * Restores a session from {@link toJSON} output or its string. A version-1 state (written
   * before the conventions were options) resumes with the conventions it was started with:
   * `>=`, nearest calibration resampling, the metric FPR rule for calibration, no bins.
   *
   * @throws DenseHybridError `INVALID_INPUT` when the state is malformed
   * @example
   * ```ts
   * const session = EvaluationSession.fromJSON(saved);
   * ```
   */
  static fromJSON(json: EvaluationSessionJSON | string): EvaluationSession {
    const fn = 'EvaluationSession.fromJSON';
    let j: EvaluationSessionJSON;
    try {
      j = typeof json === 'string' ? (JSON.parse(json) as EvaluationSessionJSON) : json;
    } catch (e) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected a JSON string, got invalid JSON`,
        {
          cause: e,
        },
      );
    }
    if (
      typeof j !== 'object' ||
      j === null ||
      j.format !== FORMAT ||
      (j.version !== 1 && j.version !== 2)
    ) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected an object with format "${FORMAT}" and version 1 or 2, got ${describeValue(
          typeof j === 'object' && j !== null ? j.format : j,
        )}`,
      );
    }
    const { thresholds, numClasses, components, ...rest } = j.options;
    const legacy: Partial<EvaluationSessionOptions> =
      j.version === 1
        ? {
            thresholdRule: 'greater-or-equal',
            calibrationFprRule: j.options.fprRule,
            calibrationResampling: 'nearest',
            closedPooling: 'pooled',
            perImageEmptyFrames: 'skip',
            ignoredPixels: 'excluded',
            scoreRounding: 'as-given',
            percentileBins: null,
          }
        : {};
    const session = new EvaluationSession({
      ...legacy,
      ...rest,
      ...(numClasses !== null ? { numClasses } : {}),
      components,
      threshold: Object.fromEntries(
        Object.entries(thresholds).map(([k, v]) => [k, fromJsonThreshold(v)]),
      ),
    });
    const bad = (what: string): DenseHybridError =>
      new DenseHybridError('INVALID_INPUT', `${fn}: expected ${what}, got a malformed state`);
    for (const [name, per] of session.state) {
      for (const [fold, s] of per) {
        const saved = j.scores?.[name]?.[fold];
        if (saved === undefined) throw bad(`the state of score "${name}" on fold "${fold}"`);
        if (
          (s.acc === null) !== (saved.acc === null) ||
          (s.sweep === null) !== (saved.sweep === null) ||
          (s.cal === null) !== (saved.cal === null) ||
          (s.bins === null) !== ((saved.bins ?? null) === null)
        )
          throw bad(`accumulators matching the options for "${name}" on "${fold}"`);
        per.set(fold, {
          acc: saved.acc ? AnomalyMetricsAccumulator.fromJSON(saved.acc) : null,
          sweep: saved.sweep ? OpenSetSweep.fromJSON(saved.sweep) : null,
          cal: saved.cal ? AnomalyMetricsAccumulator.fromJSON(saved.cal) : null,
          bins: saved.bins ? PercentileBinsAccumulator.fromJSON(saved.bins) : null,
        });
      }
    }
    for (const f of session.o.folds) {
      const n = j.frames?.[f.name];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
        throw bad(`a frame count for fold "${f.name}"`);
      session.frameCounts.set(f.name, n);
    }
    if (j.components !== null && j.components !== undefined) {
      session.cms = new Map(
        Object.entries(j.components).map(([name, cm]) => [
          name,
          ComponentMetricsAccumulator.fromJSON(cm),
        ]),
      );
      const K = session.o.numClasses ?? 0;
      const keys = session.openSetPassKeys();
      session.osp = new Map();
      for (const [key, p] of Object.entries(j.openSetPass ?? {})) {
        const at = keys.get(key);
        if (
          at === undefined ||
          typeof p?.threshold !== 'number' ||
          !Array.isArray(p.confusion) ||
          p.confusion.length !== (K + 1) * (K + 1)
        )
          throw bad(`an open-set pass state of this session's scores and folds at ${key}`);
        session.osp.set(key, {
          ...at,
          threshold: p.threshold,
          confusion: Float64Array.from(p.confusion),
        });
      }
    }
    return session;
  }
}

/** The open-set section of {@link EvaluationDocument} (per fold: its IoU and confusion matrix). */
export interface OpenSetDocument {
  readonly thresholdSource: OpenSetEvaluation['thresholdSource'];
  readonly thresholdRule: ThresholdRule;
  readonly calibrationFprRule: FprRule | null;
  readonly calibrationScale: number;
  readonly calibrationResampling: CalibrationResampling | null;
  readonly openMIoU: number;
  readonly anomalyIoU: number;
  readonly folds: readonly {
    readonly name: string;
    readonly frames: number;
    readonly threshold: number;
    readonly calibratedOn: string | null;
    readonly openMIoU: number;
    readonly anomalyIoU: number;
    readonly iou: readonly number[];
    readonly confusion: readonly (readonly number[])[];
  }[];
}

/** The `metrics.json` document ({@link metricsDocument}). */
export interface EvaluationDocument<C = Readonly<Record<string, unknown>>> {
  readonly format: 'densehybrid/eval';
  readonly version: 1;
  /** Who evaluated what (the CLI: checkpoint, dataset, split, scores, backend, seconds…). */
  readonly context: C;
  readonly frames: number;
  readonly protocol: AnomalyProtocol;
  /** Every convention followed, by name, with the official code it follows. */
  readonly conventions: EvaluationConventions;
  /** The benchmark's reported values (SMIYC: binned). */
  readonly anomaly: AnomalyMetricsResult | null;
  /** With percentile bins: the exact values beside; else null. */
  readonly anomalyExact: AnomalyMetricsResult | null;
  readonly perFoldAnomaly: EvaluationResult['perFoldAnomaly'];
  readonly closed: EvaluationResult['closed'];
  readonly openSet: OpenSetDocument | null;
  readonly components: ComponentMetricsResult | null;
  readonly scores: Readonly<
    Record<
      string,
      {
        readonly anomaly: AnomalyMetricsResult | null;
        readonly anomalyExact: AnomalyMetricsResult | null;
        readonly perFoldAnomaly: ScoreEvaluation['perFoldAnomaly'];
        readonly openSet: OpenSetDocument | null;
        readonly components: ComponentMetricsResult | null;
        readonly notes: readonly string[];
      }
    >
  >;
  readonly notes: readonly string[];
}

const openSetDocument = (o: OpenSetEvaluation | null): OpenSetDocument | null =>
  o
    ? {
        thresholdSource: o.thresholdSource,
        thresholdRule: o.thresholdRule,
        calibrationFprRule: o.calibrationFprRule,
        calibrationScale: o.calibrationScale,
        calibrationResampling: o.calibrationResampling,
        openMIoU: o.openMIoU,
        anomalyIoU: o.anomalyIoU,
        folds: o.folds.map((f) => ({
          name: f.name,
          frames: f.frames,
          threshold: f.threshold,
          calibratedOn: f.calibratedOn,
          openMIoU: f.result.openMIoU,
          anomalyIoU: f.result.anomalyIoU,
          iou: f.result.iou,
          confusion: f.result.confusion,
        })),
      }
    : null;

/**
 * The `metrics.json` document of an evaluation. The top-level `anomaly`, `perFoldAnomaly`,
 * `openSet` and `components` are those of the first score (the single-score layout); `scores`
 * holds the same sections for every evaluated score, keyed by name.
 *
 * @param result - {@link EvaluationSession.finish}'s result
 * @param context - who evaluated what, stored as given
 * @example
 * ```ts
 * await writeFile('metrics.json', JSON.stringify(metricsDocument(session.finish(), { dataset: 'smiyc' }), null, 2));
 * ```
 */
export function metricsDocument<C = Readonly<Record<string, unknown>>>(
  result: EvaluationResult,
  context: C = {} as C,
): EvaluationDocument<C> {
  return {
    format: 'densehybrid/eval',
    version: 1,
    context,
    frames: result.frames,
    protocol: result.protocol,
    conventions: result.conventions,
    anomaly: result.anomaly,
    anomalyExact: result.anomalyExact,
    perFoldAnomaly: result.perFoldAnomaly,
    closed: result.closed,
    openSet: openSetDocument(result.openSet),
    components: result.components,
    scores: Object.fromEntries(
      result.scores.map((sc) => [
        sc.name,
        {
          anomaly: sc.anomaly,
          anomalyExact: sc.anomalyExact,
          perFoldAnomaly: sc.perFoldAnomaly,
          openSet: openSetDocument(sc.openSet),
          components: sc.components,
          notes: sc.notes,
        },
      ]),
    ),
    notes: result.notes,
  };
}
