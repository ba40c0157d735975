/**
 * The conventions on which benchmarks' official evaluation codes differ, each named, with the
 * values this package supports. `BENCHMARK_PROTOCOLS` picks one value of each per benchmark;
 * the README's "Conventions per benchmark" table lists them with the official file and function
 * each follows.
 */

/**
 * How a threshold turns scores into predictions: `'greater'` marks a pixel when
 * `score > threshold` (SMIYC's `default_instancer`, the DenseHybrid authors' `OpenModel`);
 * `'greater-or-equal'` when `score >= threshold` (the rule under which every threshold this
 * package reports reaches its TPR). With float16 scores thousands of pixels per frame can sit
 * exactly on a threshold, so the two differ in practice.
 */
export type ThresholdRule = 'greater' | 'greater-or-equal';

/** The {@link ThresholdRule} values. */
export const THRESHOLD_RULES: readonly ThresholdRule[] = Object.freeze([
  'greater',
  'greater-or-equal',
]);

/**
 * How cross-calibration resamples the score maps (labels are always resampled nearest, as
 * PyTorch's `interpolate(mode='nearest')`): `'bilinear'` as the DenseHybrid authors'
 * `evaluate_osr.py` (`interpolate(scale_factor=s, mode='bilinear')`, `align_corners=False`),
 * `'nearest'` as the labels.
 */
export type CalibrationResampling = 'bilinear' | 'nearest';

/** The {@link CalibrationResampling} values. */
export const CALIBRATION_RESAMPLINGS: readonly CalibrationResampling[] = Object.freeze([
  'bilinear',
  'nearest',
]);

/**
 * Closed mIoU over several folds: `'pooled'` builds one confusion matrix over all folds (the
 * authors' `evaluate_closed_dataset` on t5 and t6 together); `'image-weighted'` averages the
 * folds' mIoU weighted by their image counts (as open-mIoU is averaged).
 */
export type ClosedPooling = 'pooled' | 'image-weighted';

/** The {@link ClosedPooling} values. */
export const CLOSED_POOLINGS: readonly ClosedPooling[] = Object.freeze([
  'pooled',
  'image-weighted',
]);

/**
 * What the per-image protocol does with a frame that lacks anomaly or inlier pixels:
 * `'skip'` leaves it out of every mean (StreetHazards' `anomaly-seg` `eval_ood.py`);
 * `'sklearn-nanmean'` keeps what scikit-learn returns and averages with `np.nanmean`, as the
 * DenseHybrid authors' `calculate_ood_scores_per_image`: a frame without anomaly pixels counts
 * AP 0 and FPR 0 (AUROC is NaN, left out), a frame without inlier pixels counts AP 1 (FPR and
 * AUROC are NaN, left out). Frames without any non-ignored pixel are always left out.
 */
export type EmptyFrameRule = 'skip' | 'sklearn-nanmean';

/** The {@link EmptyFrameRule} values. */
export const EMPTY_FRAME_RULES: readonly EmptyFrameRule[] = Object.freeze([
  'skip',
  'sklearn-nanmean',
]);

/**
 * What AP / AUROC / FPR do with pixels whose ground truth is the ignore label: `'excluded'`
 * (SMIYC, Fishyscapes, the DenseHybrid authors) or `'inliers'` (StreetHazards' `eval_ood.py`
 * has no ignore label: every pixel that is not an anomaly, the "other" class included, is an
 * inlier). Calibration and open-IoU always leave ignored pixels out.
 */
export type IgnoredPixelRule = 'excluded' | 'inliers';

/** The {@link IgnoredPixelRule} values. */
export const IGNORED_PIXEL_RULES: readonly IgnoredPixelRule[] = Object.freeze([
  'excluded',
  'inliers',
]);

/**
 * The precision a benchmark's code sees the scores in: `'float16'` (SMIYC stores submissions
 * as float16 HDF5, `astype(np.float16)`), `'float32'` (Fishyscapes' `bdlb` casts to
 * `np.float32`), `'as-given'`. Scores are rounded to it before every metric.
 */
export type ScoreRounding = 'float16' | 'float32' | 'as-given';

/** The {@link ScoreRounding} values. */
export const SCORE_ROUNDINGS: readonly ScoreRounding[] = Object.freeze([
  'float16',
  'float32',
  'as-given',
]);
