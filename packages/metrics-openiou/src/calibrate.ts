import { AnomalyMetricsAccumulator } from './accumulator.js';
import {
  anomalyMetrics,
  resolveMetricOptions,
  summarize,
  checkNotEmpty,
  type AnomalyMetricsOptions,
  type FprRule,
} from './anomaly-metrics.js';
import { DenseHybridError, describeValue } from './errors.js';
import {
  checkArray,
  checkInteger,
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
  });

/** Result of {@link calibrateThreshold}. */
export interface CalibrationResult {
  /** Pixels with `score >= threshold` are unknown / anomalous. */
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
 * Convention used everywhere in densehybrid: a pixel is **unknown when `score >= threshold`**.
 * With the default rule the threshold is the largest one whose TPR is at least `tpr`.
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
      threshold: src.valueOf(r.thresholdKey),
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

/**
 * Open-set segmentation map: the closed-set prediction (argmax over the K known classes) with
 * pixels whose anomaly score is `>= threshold` relabelled to the unknown class `K`.
 * (The authors' code uses `>`; the two differ only on pixels whose score equals the threshold.)
 *
 * @param closedPred - per-pixel class in `0..K-1`.
 * @param scores - per-pixel anomaly score, higher = more anomalous, same length.
 * @param threshold - e.g. from {@link calibrateThreshold}.
 * @param numClasses - K, the number of known classes (1..65534).
 * @returns a new map with values `0..K` (`Uint8Array` when K ≤ 254, else `Uint16Array`).
 * @throws DenseHybridError `SHAPE_MISMATCH`, `NON_FINITE` (NaN/±Infinity score, NaN threshold),
 *   `INVALID_INPUT` (class outside `0..K-1`), `INVALID_OPTION` (bad K).
 * @example
 * ```ts
 * openSetPrediction(new Uint8Array([0, 1, 2]), new Float32Array([0.1, 0.9, 0.5]), 0.5, 3);
 * // Uint8Array [0, 3, 3]
 * ```
 */
export function openSetPrediction(
  closedPred: NumericArray,
  scores: NumericArray,
  threshold: number,
  numClasses: number,
): Uint8Array | Uint16Array {
  const fn = 'openSetPrediction';
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
    out[i] = s >= threshold ? K : c;
  }
  return out;
}
