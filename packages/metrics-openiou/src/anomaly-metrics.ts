import { THRESHOLD_RULES, type ThresholdRule } from './conventions.js';
import { CurveSummary, type FprRule } from './curve.js';
import { DenseHybridError } from './errors.js';
import { census, ExactScores, type LabelCounts } from './exact.js';
import {
  checkArray,
  checkFraction,
  checkIgnoreLabels,
  checkInteger,
  checkOneOf,
  checkSameLength,
  type NumericArray,
} from './validate.js';

export type { FprRule } from './curve.js';

/** The FPR rules, in the order of the README's conventions table. */
export const FPR_RULES: readonly FprRule[] = ['at-least', 'above', 'nearest'];

/** Options of {@link anomalyMetrics}. */
export interface AnomalyMetricsOptions {
  /**
   * Target true-positive rate of the FPR metric (FPR95 for 0.95).
   * @default 0.95
   */
  readonly tpr?: number;
  /**
   * How the FPR operating point is chosen: `'at-least'` (SMIYC, first threshold with
   * TPR ≥ target), `'above'` (the DenseHybrid authors' code: first point with TPR > target on
   * scikit-learn's pruned `roc_curve`), `'nearest'` (StreetHazards code: TPR nearest the target).
   * @default 'at-least'
   */
  readonly fprRule?: FprRule;
  /**
   * Label values that are dropped (void / out of the region of interest).
   * @default [255]
   */
  readonly ignoreLabels?: readonly number[];
  /**
   * How the reported thresholds are meant to be applied. `'greater-or-equal'`: each threshold
   * `t` is the lowest value with `score >= t` on the operating point's side (in histogram mode
   * the lower edge of a float16 bin). `'greater'`: each threshold is the score value at the
   * operating point, as scikit-learn's `roc_curve` and SMIYC report it (in histogram mode the
   * bin's float16 value), to be applied as `score > t` like the official codes do — which
   * leaves out the pixels equal to it. The metrics themselves do not depend on it.
   * @default 'greater-or-equal'
   */
  readonly thresholdRule?: ThresholdRule;
}

/** Defaults of {@link AnomalyMetricsOptions}. */
export const DEFAULT_ANOMALY_METRICS_OPTIONS: Required<AnomalyMetricsOptions> = Object.freeze({
  tpr: 0.95,
  fprRule: 'at-least',
  ignoreLabels: Object.freeze([255]) as readonly number[],
  thresholdRule: 'greater-or-equal',
});

/** Result of {@link anomalyMetrics} and {@link AnomalyMetricsAccumulator.compute}. */
export interface AnomalyMetricsResult {
  /** Average precision, step-wise (= scikit-learn `average_precision_score`), in [0, 1]. */
  readonly ap: number;
  /** Area under the ROC curve, trapezoid with ties grouped (= `roc_auc_score`), in [0, 1]. */
  readonly auroc: number;
  /** False-positive rate at the target TPR under `fprRule`, in [0, 1]. */
  readonly fpr: number;
  /**
   * The score threshold of the FPR operating point, under the options' `thresholdRule`
   * (default: pixels with `score >= threshold` are anomalous). `null` for the per-image protocol
   * (one threshold per image).
   */
  readonly threshold: number | null;
  /** The TPR actually reached at `threshold` (per-image: `null`). */
  readonly tprReached: number | null;
  /** Best pixel F1 over all thresholds (per-image: mean of the frames' best F1). */
  readonly bestF1: number;
  /** Threshold of the best F1 (`score >= bestF1Threshold`; per-image: `null`). */
  readonly bestF1Threshold: number | null;
  /** The target TPR and the rule used. */
  readonly tpr: number;
  readonly fprRule: FprRule;
  /** Pixels with label 1, label 0, and ignored (all frames, also skipped ones). */
  readonly positives: number;
  readonly negatives: number;
  readonly ignored: number;
  /** `'pooled'` or `'per-image'`. */
  readonly protocol: AnomalyProtocol;
  /** Frames added (1 for {@link anomalyMetrics}). */
  readonly frames: number;
  /** Frames averaged (per-image) or pooled (frames with any non-ignored pixel). */
  readonly framesUsed: number;
  /** Per-image: frames skipped because they have no anomaly pixel (0 for pooled). */
  readonly framesWithoutAnomaly: number;
  /** Per-image: frames skipped because they have anomaly pixels but no inlier pixel. */
  readonly framesWithoutInlier: number;
}

/** Pooled over all pixels of a dataset (Fishyscapes, SMIYC) or averaged per image (StreetHazards). */
export type AnomalyProtocol = 'pooled' | 'per-image';

/** Downsampled precision–recall and ROC curves for plotting. */
export interface AnomalyCurvesResult {
  /** Points in order of decreasing threshold (increasing recall). */
  readonly pr: {
    readonly precision: number[];
    readonly recall: number[];
    readonly thresholds: number[];
  };
  /** Starts at (0, 0) (threshold `Infinity`), then decreasing thresholds, ends at (1, 1). */
  readonly roc: { readonly fpr: number[]; readonly tpr: number[]; readonly thresholds: number[] };
}

/** Validated metric options. @internal */
export interface ResolvedMetricOptions {
  tpr: number;
  fprRule: FprRule;
  ignoreLabels: readonly number[];
  thresholdRule: ThresholdRule;
}

/** @internal */
export function resolveMetricOptions(fn: string, o: AnomalyMetricsOptions): ResolvedMetricOptions {
  if (typeof o !== 'object' || o === null) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected an options object, got ${String(o)}`,
    );
  }
  const d = DEFAULT_ANOMALY_METRICS_OPTIONS;
  const fprRule = o.fprRule ?? d.fprRule;
  checkOneOf(fn, 'fprRule', fprRule, FPR_RULES);
  const tpr = o.tpr ?? d.tpr;
  checkFraction(fn, 'tpr', tpr, fprRule !== 'above');
  const ignoreLabels = o.ignoreLabels ?? d.ignoreLabels;
  checkIgnoreLabels(fn, ignoreLabels);
  const thresholdRule = o.thresholdRule ?? d.thresholdRule;
  checkOneOf(fn, 'thresholdRule', thresholdRule, THRESHOLD_RULES);
  return { tpr, fprRule, ignoreLabels, thresholdRule };
}

/** Anything that can walk its distinct thresholds into a {@link CurveSummary}. @internal */
export interface ThresholdSource {
  walk(summary: CurveSummary): void;
  /** The lowest value `t` with `score >= t` selecting the keys `>= key`. */
  valueOf(key: number): number;
  /** The score value a key stands for (exact: the score; histogram: the bin's float16 value). */
  scoreOf(key: number): number;
}

/** A key's threshold under a rule (see {@link AnomalyMetricsOptions.thresholdRule}). @internal */
export function thresholdOf(src: ThresholdSource, key: number, rule: ThresholdRule): number {
  return rule === 'greater' ? src.scoreOf(key) : src.valueOf(key);
}

/** Throws `EMPTY_SET` unless there are positives and negatives. @internal */
export function checkNotEmpty(fn: string, positives: number, negatives: number): void {
  if (positives === 0 || negatives === 0) {
    throw new DenseHybridError(
      'EMPTY_SET',
      `${fn}: expected at least one anomaly (label 1) and one inlier (label 0) pixel, got ${positives} anomaly and ${negatives} inlier pixels`,
    );
  }
}

/** Runs the one-pass summary over a source. @internal */
export function summarize(
  src: ThresholdSource,
  P: number,
  N: number,
  o: ResolvedMetricOptions,
  curvePoints: number,
) {
  const s = new CurveSummary(P, N, o.tpr, o.fprRule, curvePoints);
  src.walk(s);
  return s.finish();
}

/** Pooled metrics result from a source. @internal */
export function pooledResult(
  src: ThresholdSource,
  counts: LabelCounts,
  o: ResolvedMetricOptions,
  frames: number,
  framesUsed: number,
): AnomalyMetricsResult {
  const r = summarize(src, counts.positives, counts.negatives, o, 0);
  return {
    ap: r.ap,
    auroc: r.auroc,
    fpr: r.fpr,
    threshold: thresholdOf(src, r.thresholdKey, o.thresholdRule),
    tprReached: r.tprReached,
    bestF1: r.bestF1,
    bestF1Threshold: thresholdOf(src, r.bestF1Key, o.thresholdRule),
    tpr: o.tpr,
    fprRule: o.fprRule,
    positives: counts.positives,
    negatives: counts.negatives,
    ignored: counts.ignored,
    protocol: 'pooled',
    frames,
    framesUsed,
    framesWithoutAnomaly: 0,
    framesWithoutInlier: 0,
  };
}

/** Curves from a source. @internal */
export function curvesResult(
  src: ThresholdSource,
  P: number,
  N: number,
  maxPoints: number,
): AnomalyCurvesResult {
  const r = summarize(
    src,
    P,
    N,
    { tpr: 0.5, fprRule: 'at-least', ignoreLabels: [], thresholdRule: 'greater-or-equal' },
    maxPoints,
  );
  const c = r.curve;
  const precision: number[] = [];
  const recall: number[] = [];
  const prThr: number[] = [];
  const fpr: number[] = [0];
  const tpr: number[] = [0];
  const rocThr: number[] = [Infinity];
  if (c !== null) {
    for (let i = 0; i < c.keys.length; i++) {
      const tp = c.tp[i] as number;
      const fp = c.fp[i] as number;
      const thr = src.valueOf(c.keys[i] as number);
      precision.push(tp / (tp + fp));
      recall.push(tp / P);
      prThr.push(thr);
      fpr.push(fp / N);
      tpr.push(tp / P);
      rocThr.push(thr);
    }
  }
  return { pr: { precision, recall, thresholds: prThr }, roc: { fpr, tpr, thresholds: rocThr } };
}

/** Validates the array arguments of the one-shot functions. @internal */
export function checkScoresLabels(fn: string, scores: unknown, labels: unknown): void {
  checkArray(fn, 'scores', scores);
  checkArray(fn, 'labels', labels);
  checkSameLength(fn, 'scores', scores, 'labels', labels);
}

function exactFrom(
  fn: string,
  scores: NumericArray,
  labels: NumericArray,
  ignore: readonly number[],
) {
  const counts: LabelCounts = { positives: 0, negatives: 0, ignored: 0 };
  const allF32 = census(fn, scores, labels, ignore, counts);
  checkNotEmpty(fn, counts.positives, counts.negatives);
  const store = new ExactScores();
  store.append(scores, labels, counts, allF32);
  store.sort();
  return { store, counts };
}

/**
 * Pixel-level anomaly-detection metrics of one pooled set, computed exactly.
 *
 * @param scores - anomaly scores, higher = more anomalous (any numeric array; float32 input is
 *   sorted with a radix sort, other input keeps float64 precision).
 * @param labels - 0 inlier, 1 anomaly, values in `options.ignoreLabels` dropped.
 * @param options - see {@link AnomalyMetricsOptions}.
 * @returns AP, AUROC, FPR at `options.tpr`, the threshold (`score >= threshold` ⇒ anomaly), best
 *   F1 and the pixel counts.
 * @throws DenseHybridError `SHAPE_MISMATCH` (lengths differ), `NON_FINITE` (NaN/±Infinity score),
 *   `INVALID_INPUT` (label not 0/1/ignored), `EMPTY_SET` (no anomaly or no inlier pixel),
 *   `INVALID_OPTION`.
 * @example
 * ```ts
 * const r = anomalyMetrics(new Float32Array([0.9, 0.8, 0.3, 0.1]), new Uint8Array([1, 0, 1, 0]));
 * r.ap; // 0.8333…   r.auroc; // 0.75
 * ```
 */
export function anomalyMetrics(
  scores: NumericArray,
  labels: NumericArray,
  options: AnomalyMetricsOptions = {},
): AnomalyMetricsResult {
  const fn = 'anomalyMetrics';
  checkScoresLabels(fn, scores, labels);
  const o = resolveMetricOptions(fn, options);
  const { store, counts } = exactFrom(fn, scores, labels, o.ignoreLabels);
  return pooledResult(store, counts, o, 1, 1);
}

/** Options of {@link anomalyCurves} and {@link AnomalyMetricsAccumulator.curves}. */
export interface AnomalyCurvesOptions {
  /**
   * Most points per curve (points are spread evenly over the number of predicted positives;
   * the first and last threshold are always kept).
   * @default 512
   */
  readonly maxPoints?: number;
  /**
   * Label values that are dropped.
   * @default [255]
   */
  readonly ignoreLabels?: readonly number[];
}

/** Defaults of {@link AnomalyCurvesOptions}. */
export const DEFAULT_ANOMALY_CURVES_OPTIONS: Required<AnomalyCurvesOptions> = Object.freeze({
  maxPoints: 512,
  ignoreLabels: Object.freeze([255]) as readonly number[],
});

/** @internal */
export function resolveMaxPoints(fn: string, v: unknown): number {
  const m = v ?? DEFAULT_ANOMALY_CURVES_OPTIONS.maxPoints;
  checkInteger(fn, 'maxPoints', m, 4, 1e7);
  return m;
}

/**
 * Precision–recall and ROC curve points (at most `maxPoints` each) for plotting.
 *
 * @param scores - anomaly scores, higher = more anomalous.
 * @param labels - 0 inlier, 1 anomaly, ignore labels dropped.
 * @param options - see {@link AnomalyCurvesOptions}.
 * @returns `{ pr: { precision, recall, thresholds }, roc: { fpr, tpr, thresholds } }`.
 * @throws DenseHybridError as {@link anomalyMetrics}.
 * @example
 * ```ts
 * const { pr, roc } = anomalyCurves(scores, labels, { maxPoints: 256 });
 * plot(roc.fpr, roc.tpr);
 * ```
 */
export function anomalyCurves(
  scores: NumericArray,
  labels: NumericArray,
  options: AnomalyCurvesOptions = {},
): AnomalyCurvesResult {
  const fn = 'anomalyCurves';
  checkScoresLabels(fn, scores, labels);
  const maxPoints = resolveMaxPoints(fn, options.maxPoints);
  const ignore = options.ignoreLabels ?? DEFAULT_ANOMALY_CURVES_OPTIONS.ignoreLabels;
  checkIgnoreLabels(fn, ignore);
  const { store, counts } = exactFrom(fn, scores, labels, ignore);
  return curvesResult(store, counts.positives, counts.negatives, maxPoints);
}
