import { AnomalyMetricsAccumulator, type AccumulatorMode } from './accumulator.js';
import type { FprRule } from './anomaly-metrics.js';
import { calibrateThreshold, openSetPrediction } from './calibrate.js';
import {
  CALIBRATION_RESAMPLINGS,
  CLOSED_POOLINGS,
  THRESHOLD_RULES,
  type CalibrationResampling,
  type ClosedPooling,
  type ThresholdRule,
} from './conventions.js';
import { DenseHybridError, describeValue } from './errors.js';
import { OpenIoU, type OpenIoUAverage, type OpenIoUResult } from './open-iou.js';
import { resampleBilinear, resampleNearest } from './resample.js';
import {
  checkArray,
  checkInteger,
  checkOneOf,
  checkSameLength,
  type NumericArray,
} from './validate.js';

/** One evaluation frame of an open-set fold. */
export interface OpenSetFrame {
  /** Ground truth: 0..K−1 known, K anomaly, `ignoreLabel` skipped. */
  readonly gt: NumericArray;
  /** Closed-set prediction (argmax over the K known classes). */
  readonly closedPred: NumericArray;
  /** Anomaly scores, higher = more anomalous. */
  readonly scores: NumericArray;
  /** Frame size; needed when `calibrationScale` is not 1 (row-major maps). */
  readonly width?: number;
  readonly height?: number;
}

/** A fold: the frames that are calibrated on, and evaluated with the other fold's threshold. */
export interface CrossFold {
  readonly frames: readonly OpenSetFrame[];
}

/** Options of {@link crossCalibrated}; the defaults are the authors' `evaluate_osr.py`. */
export interface CrossCalibratedOptions {
  /** K, the number of known classes (StreetHazards: 12). Required. */
  readonly numClasses: number;
  /**
   * Target TPR of the calibration.
   * @default 0.95
   */
  readonly tpr?: number;
  /**
   * FPR rule that picks the calibration point (the authors' `calculate_stats`: the first point
   * of scikit-learn's `roc_curve` with TPR > `tpr`).
   * @default 'above'
   */
  readonly fprRule?: FprRule;
  /**
   * How the calibrated threshold is applied (the authors' `OpenModel`: `score > threshold`).
   * @default 'greater'
   */
  readonly thresholdRule?: ThresholdRule;
  /**
   * Calibration on score maps and labels resampled by this factor (frames then need `width`
   * and `height`); 1 = full resolution. The authors' `compute_osr_perf` uses 0.5.
   * @default 0.5
   */
  readonly calibrationScale?: number;
  /**
   * Resampling of the calibration scores (labels: always nearest).
   * @default 'bilinear'
   */
  readonly calibrationResampling?: CalibrationResampling;
  /**
   * Closed mIoU over both folds: one confusion matrix (the authors' `evaluate_closed_dataset`)
   * or the folds' mIoU weighted by image count.
   * @default 'pooled'
   */
  readonly closedPooling?: ClosedPooling;
  /**
   * Averaging of open-mIoU.
   * @default 'nanmean'
   */
  readonly average?: OpenIoUAverage;
  /**
   * Accumulator mode of the calibration.
   * @default 'exact'
   */
  readonly mode?: AccumulatorMode;
  /**
   * GT label that is skipped.
   * @default 255
   */
  readonly ignoreLabel?: number;
}

/** Defaults of {@link CrossCalibratedOptions} (`numClasses` has none): the authors' protocol. */
export const DEFAULT_CROSS_CALIBRATED_OPTIONS: Required<
  Omit<CrossCalibratedOptions, 'numClasses'>
> = Object.freeze({
  tpr: 0.95,
  fprRule: 'above',
  thresholdRule: 'greater',
  calibrationScale: 0.5,
  calibrationResampling: 'bilinear',
  closedPooling: 'pooled',
  average: 'nanmean',
  mode: 'exact',
  ignoreLabel: 255,
});

/** One direction of {@link crossCalibrated}. */
export interface CrossFoldResult {
  /** Threshold calibrated on the other fold. */
  readonly threshold: number;
  /** Open-IoU of this fold's frames at that threshold. */
  readonly result: OpenIoUResult;
  /** Number of frames of this fold (its weight). */
  readonly images: number;
}

/** Result of {@link crossCalibrated}. */
export interface CrossCalibratedResult {
  /** Image-count-weighted mean of the two folds' open-mIoU. */
  readonly openMIoU: number;
  /** Image-count-weighted mean of the two folds' anomaly IoU. */
  readonly anomalyIoU: number;
  /** Closed mIoU (threshold-independent) of both folds under `closedPooling`. */
  readonly closedMIoU: number;
  /** How {@link closedMIoU} combines the folds. */
  readonly closedPooling: ClosedPooling;
  /** The resampling factor of the calibration. */
  readonly calibrationScale: number;
  /** `a`: fold A evaluated with B's threshold; `b`: fold B evaluated with A's threshold. */
  readonly a: CrossFoldResult;
  readonly b: CrossFoldResult;
}

/**
 * The StreetHazards open-set protocol of the DenseHybrid authors (`evaluate_osr.py`): calibrate
 * the threshold at the target TPR on fold A (e.g. t6) — on scores resampled bilinearly ×0.5 and
 * labels resampled nearest, first `roc_curve` point with TPR > 0.95 — evaluate open-mIoU on fold
 * B (t5) with `score > threshold`, swap, weight both by image count; closed mIoU from one
 * confusion matrix over both folds. Every convention is an option.
 * Calibration labels come from the GT: class K = anomaly (1), 0..K−1 = inlier (0).
 *
 * @param foldA - `{ frames: [{ gt, closedPred, scores, width, height }, …] }`.
 * @param foldB - the other fold.
 * @param options - see {@link CrossCalibratedOptions}.
 * @returns see {@link CrossCalibratedResult}.
 * @throws DenseHybridError `INVALID_INPUT` (empty fold, bad values, no frame size at a scale
 *   other than 1), `SHAPE_MISMATCH`, `NON_FINITE`, `EMPTY_SET` (a fold without anomaly or
 *   inlier pixels), `INVALID_OPTION`.
 * @example
 * ```ts
 * const r = crossCalibrated({ frames: t5 }, { frames: t6 }, { numClasses: 12 });
 * console.log(r.openMIoU, r.closedMIoU, r.a.threshold, r.b.threshold);
 * ```
 */
export function crossCalibrated(
  foldA: CrossFold,
  foldB: CrossFold,
  options: CrossCalibratedOptions,
): CrossCalibratedResult {
  const fn = 'crossCalibrated';
  if (typeof options !== 'object' || options === null) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected options { numClasses }, got ${describeValue(options)}`,
    );
  }
  const d = DEFAULT_CROSS_CALIBRATED_OPTIONS;
  checkInteger(fn, 'numClasses', options.numClasses, 1, 65534);
  const K = options.numClasses;
  const ignoreLabel = options.ignoreLabel ?? d.ignoreLabel;
  const tpr = options.tpr ?? d.tpr;
  const fprRule = options.fprRule ?? d.fprRule;
  const thresholdRule = options.thresholdRule ?? d.thresholdRule;
  checkOneOf(fn, 'thresholdRule', thresholdRule, THRESHOLD_RULES);
  const scale = options.calibrationScale ?? d.calibrationScale;
  if (typeof scale !== 'number' || !(scale > 0 && scale <= 1)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected calibrationScale in (0, 1], got ${describeValue(scale)}`,
    );
  }
  const resampling = options.calibrationResampling ?? d.calibrationResampling;
  checkOneOf(fn, 'calibrationResampling', resampling, CALIBRATION_RESAMPLINGS);
  const closedPooling = options.closedPooling ?? d.closedPooling;
  checkOneOf(fn, 'closedPooling', closedPooling, CLOSED_POOLINGS);
  const average = options.average ?? d.average;
  for (const [name, fold] of [
    ['foldA', foldA],
    ['foldB', foldB],
  ] as const) {
    if (
      typeof fold !== 'object' ||
      fold === null ||
      !Array.isArray(fold.frames) ||
      fold.frames.length === 0
    ) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected ${name} to be { frames: [...] } with at least one frame, got ${describeValue(fold?.frames ?? fold)}`,
      );
    }
    for (const f of fold.frames) {
      checkArray(fn, `${name} gt`, f.gt);
      checkArray(fn, `${name} closedPred`, f.closedPred);
      checkArray(fn, `${name} scores`, f.scores);
      checkSameLength(fn, `${name} gt`, f.gt, `${name} closedPred`, f.closedPred);
      checkSameLength(fn, `${name} gt`, f.gt, `${name} scores`, f.scores);
      if (
        scale !== 1 &&
        (typeof f.width !== 'number' ||
          typeof f.height !== 'number' ||
          f.width * f.height !== f.gt.length)
      ) {
        throw new DenseHybridError(
          'INVALID_INPUT',
          `${fn}: expected width and height with width*height = ${f.gt.length} on every ${name} frame for calibrationScale ${scale} (or pass calibrationScale: 1), got ${describeValue([f.width, f.height])}`,
        );
      }
    }
  }
  const calibrate = (fold: CrossFold) => {
    const acc = new AnomalyMetricsAccumulator({
      mode: options.mode ?? d.mode,
      perImage: false,
      ignoreLabels: [2],
      tpr,
      fprRule,
      thresholdRule,
    });
    for (const f of fold.frames) {
      const bin = new Uint8Array(f.gt.length);
      for (let i = 0; i < bin.length; i++) {
        const g = f.gt[i] as number;
        if (g === ignoreLabel) bin[i] = 2;
        else if (g === K) bin[i] = 1;
        else if (g >= 0 && g < K && Number.isInteger(g)) bin[i] = 0;
        else {
          throw new DenseHybridError(
            'INVALID_INPUT',
            `${fn}: expected gt values in 0..${K} or ${ignoreLabel}, got ${describeValue(g)} at index ${i}`,
          );
        }
      }
      if (scale === 1) acc.add(f.scores, bin);
      else {
        const w = f.width as number;
        const h = f.height as number;
        const s =
          resampling === 'bilinear'
            ? resampleBilinear(f.scores, w, h, scale)
            : resampleNearest(Float32Array.from(f.scores), w, h, scale);
        acc.add(s.data, resampleNearest(bin, w, h, scale).data);
      }
    }
    return calibrateThreshold(acc, { tpr, fprRule, thresholdRule }).threshold;
  };
  const closedAll = new OpenIoU({ numClasses: K, ignoreLabel });
  const evaluate = (fold: CrossFold, threshold: number): CrossFoldResult => {
    const m = new OpenIoU({ numClasses: K, ignoreLabel });
    for (const f of fold.frames) {
      m.add(
        f.gt,
        openSetPrediction(f.closedPred, f.scores, threshold, K, { thresholdRule }),
        f.closedPred,
      );
      closedAll.add(f.gt, f.closedPred, f.closedPred);
    }
    return { threshold, result: m.compute({ average }), images: fold.frames.length };
  };
  const tA = calibrate(foldA);
  const tB = calibrate(foldB);
  const a = evaluate(foldA, tB);
  const b = evaluate(foldB, tA);
  const w = (x: number, y: number) => (x * a.images + y * b.images) / (a.images + b.images);
  return {
    openMIoU: w(a.result.openMIoU, b.result.openMIoU),
    anomalyIoU: w(a.result.anomalyIoU, b.result.anomalyIoU),
    closedMIoU:
      closedPooling === 'pooled'
        ? (closedAll.compute({ average }).closedMIoU as number)
        : w(a.result.closedMIoU as number, b.result.closedMIoU as number),
    closedPooling,
    calibrationScale: scale,
    a,
    b,
  };
}
