import { AnomalyMetricsAccumulator } from './accumulator.js';
import {
  anomalyMetrics,
  resolveMetricOptions,
  summarize,
  checkNotEmpty,
  thresholdOf,
  type AnomalyMetricsOptions,
  type FprRule,
} from './anomaly-metrics.js';
import { THRESHOLD_RULES, type ThresholdRule } from './conventions.js';
import { DenseHybridError, describeValue } from './errors.js';
import {
  checkArray,
  checkInteger,
  checkOneOf,
  checkSameLength,
  nonFiniteError,
  type NumericArray,
} from './validate.js';

/** Options of {@link calibrateThreshold} (`ignoreLabels` only applies to `{ scores, labels }`). */
export type CalibrateThresholdOptions = AnomalyMetricsOptions;

/** Defaults of {@link CalibrateThresholdOptions}. */
export const DEFAULT_CALIBRATE_THRESHOLD_OPTIONS: Required<CalibrateThresholdOptions> =
  Object.freeze({
    tpr: 0.95,
    fprRule: 'at-least',
    ignoreLabels: Object.freeze([255]) as readonly number[],
    thresholdRule: 'greater-or-equal',
  });

/** Result of {@link calibrateThreshold}. */
export interface CalibrationResult {
  /**
   * The threshold under the options' `thresholdRule`: with `'greater-or-equal'` (default)
   * pixels with `score >= threshold` are unknown; with `'greater'` it is the score value at the
   * operating point (scikit-learn's `roc_curve` threshold), applied as `score > threshold`.
   */
  readonly threshold: number;
  /** The TPR reached at `threshold` on the calibration data. */
  readonly tprReached: number;
  /** The FPR at `threshold` on the calibration data. */
  readonly fpr: number;
  /** The target TPR and rule used. */
  readonly tpr: number;
  readonly fprRule: FprRule;
  readonly positives: number;
  readonly negatives: number;
}

/** Calibration data given as arrays. */
export interface CalibrationSet {
  readonly scores: NumericArray;
  readonly labels: NumericArray;
}

/**
 * Finds the score threshold at which the detector reaches the target TPR on calibration data.
 * With the default options a pixel is **unknown when `score >= threshold`** and the threshold is
 * the largest one whose TPR is at least `tpr`. The DenseHybrid authors' `evaluate_osr.py`
 * calibrates with `{ fprRule: 'above', thresholdRule: 'greater' }`: the `roc_curve` threshold of
 * the first point with TPR > `tpr`, applied as `score > threshold`.
 * From a histogram-mode accumulator the threshold is the lower edge of a float16 bin, so
 * `score >= threshold` on float32 scores selects exactly the pixels the histogram counted.
 *
 * @param source - an {@link AnomalyMetricsAccumulator} (either mode) or `{ scores, labels }`.
 * @param options - `tpr` (default 0.95), `fprRule` (default `'at-least'`), `ignoreLabels`.
 * @returns see {@link CalibrationResult}.
 * @throws DenseHybridError as {@link anomalyMetrics}; `INVALID_INPUT` for another source.
 * @example
 * ```ts
 * const { threshold } = calibrateThreshold({ scores, labels }, { tpr: 0.95 });
 * const open = openSetPrediction(closedPred, scores, threshold, 19);
 * ```
 */
export function calibrateThreshold(
  source: AnomalyMetricsAccumulator | CalibrationSet,
  options: CalibrateThresholdOptions = {},
): CalibrationResult {
  const fn = 'calibrateThreshold';
  if (source instanceof AnomalyMetricsAccumulator) {
    const o = resolveMetricOptions(fn, options);
    const { src, positives, negatives } = source.thresholdSource();
    checkNotEmpty(fn, positives, negatives);
    const r = summarize(src, positives, negatives, o, 0);
    return {
      threshold: thresholdOf(src, r.thresholdKey, o.thresholdRule),
      tprReached: r.tprReached,
      fpr: r.fpr,
      tpr: o.tpr,
      fprRule: o.fprRule,
      positives,
      negatives,
    };
  }
  if (
    typeof source !== 'object' ||
    source === null ||
    !('scores' in source) ||
    !('labels' in source)
  ) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected source to be an AnomalyMetricsAccumulator or { scores, labels }, got ${describeValue(source)}`,
    );
  }
  let r;
  try {
    r = anomalyMetrics(source.scores, source.labels, options);
  } catch (e) {
    if (DenseHybridError.is(e)) {
      throw new DenseHybridError(e.code, e.message.replace(/^anomalyMetrics/, fn), { cause: e });
    }
    throw e;
  }
  return {
    threshold: r.threshold as number,
    tprReached: r.tprReached as number,
    fpr: r.fpr,
    tpr: r.tpr,
    fprRule: r.fprRule,
    positives: r.positives,
    negatives: r.negatives,
  };
}

/** Options of {@link openSetPrediction}. */
export interface OpenSetPredictionOptions {
  /**
   * `'greater-or-equal'`: unknown where `score >= threshold`; `'greater'`: where
   * `score > threshold`, as the DenseHybrid authors' `OpenModel.forward`
   * (`classes[conf_probs > threshold] = K`).
   * @default 'greater-or-equal'
   */
  readonly thresholdRule?: ThresholdRule;
}

/**
 * Open-set segmentation map: the closed-set prediction (argmax over the K known classes) with
 * pixels whose anomaly score passes the threshold relabelled to the unknown class `K`:
 * `score >= threshold` by default, `score > threshold` with `thresholdRule: 'greater'` (the
 * authors' rule; with float16 scores thousands of pixels can sit exactly on a threshold).
 *
 * @param closedPred - per-pixel class in `0..K-1`.
 * @param scores - per-pixel anomaly score, higher = more anomalous, same length.
 * @param threshold - e.g. from {@link calibrateThreshold}.
 * @param numClasses - K, the number of known classes (1..65534).
 * @param options - `thresholdRule` (default `'greater-or-equal'`).
 * @returns a new map with values `0..K` (`Uint8Array` when K ≤ 254, else `Uint16Array`).
 * @throws DenseHybridError `SHAPE_MISMATCH`, `NON_FINITE` (NaN/±Infinity score, NaN threshold),
 *   `INVALID_INPUT` (class outside `0..K-1`), `INVALID_OPTION` (bad K or rule).
 * @example
 * ```ts
 * openSetPrediction(new Uint8Array([0, 1, 2]), new Float32Array([0.1, 0.9, 0.5]), 0.5, 3);
 * // Uint8Array [0, 3, 3]
 * openSetPrediction(new Uint8Array([0, 1, 2]), new Float32Array([0.1, 0.9, 0.5]), 0.5, 3, {
 *   thresholdRule: 'greater',
 * }); // Uint8Array [0, 3, 2]
 * ```
 */
export function openSetPrediction(
  closedPred: NumericArray,
  scores: NumericArray,
  threshold: number,
  numClasses: number,
  options: OpenSetPredictionOptions = {},
): Uint8Array | Uint16Array {
  const fn = 'openSetPrediction';
  const rule = options.thresholdRule ?? 'greater-or-equal';
  checkOneOf(fn, 'thresholdRule', rule, THRESHOLD_RULES);
  const strict = rule === 'greater';
  checkArray(fn, 'closedPred', closedPred);
  checkArray(fn, 'scores', scores);
  checkSameLength(fn, 'closedPred', closedPred, 'scores', scores);
  checkInteger(fn, 'numClasses', numClasses, 1, 65534);
  if (typeof threshold !== 'number' || Number.isNaN(threshold)) {
    throw new DenseHybridError(
      'NON_FINITE',
      `${fn}: expected threshold to be a number, got ${describeValue(threshold)}`,
    );
  }
  const K = numClasses;
  const out = K <= 254 ? new Uint8Array(scores.length) : new Uint16Array(scores.length);
  for (let i = 0; i < scores.length; i++) {
    const c = closedPred[i] as number;
    if (!(c >= 0 && c < K && Number.isInteger(c))) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected closedPred values in 0..${K - 1}, got ${describeValue(c)} at index ${i}`,
      );
    }
    const s = scores[i] as number;
    if (s - s !== 0) throw nonFiniteError(fn, 'scores', i, s);
    out[i] = (strict ? s > threshold : s >= threshold) ? K : c;
  }
  return out;
}
