import { AnomalyMetricsAccumulator, type AccumulatorMode } from './accumulator.js';
import type { FprRule } from './anomaly-metrics.js';
import { calibrateThreshold } from './calibrate.js';
import { openSetPrediction } from './calibrate.js';
import { DenseHybridError, describeValue } from './errors.js';
import { OpenIoU, type OpenIoUAverage, type OpenIoUResult } from './open-iou.js';
import { checkArray, checkInteger, checkSameLength, type NumericArray } from './validate.js';

/** One evaluation frame of an open-set fold. */
export interface OpenSetFrame {
  /** Ground truth: 0..K−1 known, K anomaly, `ignoreLabel` skipped. */
  readonly gt: NumericArray;
  /** Closed-set prediction (argmax over the K known classes). */
  readonly closedPred: NumericArray;
  /** Anomaly scores, higher = more anomalous. */
  readonly scores: NumericArray;
}

/** A fold: the frames that are calibrated on, and evaluated with the other fold's threshold. */
export interface CrossFold {
  readonly frames: readonly OpenSetFrame[];
}

/** Options of {@link crossCalibrated}. */
export interface CrossCalibratedOptions {
  /** K, the number of known classes (StreetHazards: 12). Required. */
  readonly numClasses: number;
  /**
   * Target TPR of the calibration.
   * @default 0.95
   */
  readonly tpr?: number;
  /**
   * FPR rule used to pick the calibration point.
   * @default 'at-least'
   */
  readonly fprRule?: FprRule;
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

/** Defaults of {@link CrossCalibratedOptions} (`numClasses` has none). */
export const DEFAULT_CROSS_CALIBRATED_OPTIONS: Required<
  Omit<CrossCalibratedOptions, 'numClasses'>
> = Object.freeze({
  tpr: 0.95,
  fprRule: 'at-least',
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
  /** Image-count-weighted mean of closed mIoU (threshold-independent). */
  readonly closedMIoU: number;
  /** `a`: fold A evaluated with B's threshold; `b`: fold B evaluated with A's threshold. */
  readonly a: CrossFoldResult;
  readonly b: CrossFoldResult;
}

/**
 * The StreetHazards open-set protocol: calibrate the threshold at the target TPR on fold A (e.g.
 * t6), evaluate open-mIoU on fold B (t5) with it, swap, and weight both by image count.
 * Calibration labels come from the GT: class K = anomaly (1), 0..K−1 = inlier (0).
 * (The authors calibrate on ×0.5-downsampled scores; pass downsampled frames if you want that.)
 *
 * @param foldA - `{ frames: [{ gt, closedPred, scores }, …] }`.
 * @param foldB - the other fold.
 * @param options - see {@link CrossCalibratedOptions}.
 * @returns see {@link CrossCalibratedResult}.
 * @throws DenseHybridError `INVALID_INPUT` (empty fold, bad values), `SHAPE_MISMATCH`,
 *   `NON_FINITE`, `EMPTY_SET` (a fold without anomaly or inlier pixels), `INVALID_OPTION`.
 * @example
 * ```ts
 * const r = crossCalibrated({ frames: t5 }, { frames: t6 }, { numClasses: 12 });
 * console.log(r.openMIoU, r.a.threshold, r.b.threshold);
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
    }
  }
  const calibrate = (fold: CrossFold) => {
    const acc = new AnomalyMetricsAccumulator({
      mode: options.mode ?? d.mode,
      perImage: false,
      ignoreLabels: [2],
      ...(options.tpr === undefined ? {} : { tpr: options.tpr }),
      ...(options.fprRule === undefined ? {} : { fprRule: options.fprRule }),
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
      acc.add(f.scores, bin);
    }
    return calibrateThreshold(acc, {
      ...(options.tpr === undefined ? {} : { tpr: options.tpr }),
      ...(options.fprRule === undefined ? {} : { fprRule: options.fprRule }),
    }).threshold;
  };
  const evaluate = (fold: CrossFold, threshold: number): CrossFoldResult => {
    const m = new OpenIoU({ numClasses: K, ignoreLabel });
    for (const f of fold.frames)
      m.add(f.gt, openSetPrediction(f.closedPred, f.scores, threshold, K), f.closedPred);
    return {
      threshold,
      result: m.compute({ average: options.average ?? d.average }),
      images: fold.frames.length,
    };
  };
  const tA = calibrate(foldA);
  const tB = calibrate(foldB);
  const a = evaluate(foldA, tB);
  const b = evaluate(foldB, tA);
  const w = (x: number, y: number) => (x * a.images + y * b.images) / (a.images + b.images);
  return {
    openMIoU: w(a.result.openMIoU, b.result.openMIoU),
    anomalyIoU: w(a.result.anomalyIoU, b.result.anomalyIoU),
    closedMIoU: w(a.result.closedMIoU as number, b.result.closedMIoU as number),
    a,
    b,
  };
}
