import * as tf from '@tensorflow/tfjs-core';
import {
  crossEntropyPerPixel,
  logSumExpPerPixel,
  maskedMean,
  pixelMasks,
  toLabelSize,
  uniformCrossEntropyPerPixel,
} from './pixel-terms.js';
import type { CheckedInputs, PixelLabelOptions, SegmentationLossInputs } from './validate.js';
import { checkLossInputs, checkNumberOption } from './validate.js';

/** Shared body of the baseline losses: logits at label size, masks, logsumexp. */
function prepare(
  inputs: SegmentationLossInputs,
  checked: CheckedInputs,
): { s: tf.Tensor4D; inlier: tf.Tensor3D; outlier: tf.Tensor3D; lse: tf.Tensor3D; ce: tf.Scalar } {
  const s = toLabelSize(inputs.logits, checked);
  const { inlier, outlier } = pixelMasks(inputs.labels, checked);
  // logsumexp(s) = m + ln Σ exp(s − m), m = max s (stable); −ln P(y|x) = logsumexp(s) − s_y.
  const lse = logSumExpPerPixel(s);
  const ce = maskedMean(crossEntropyPerPixel(s, inputs.labels, lse), inlier);
  return { s, inlier, outlier, lse, ce };
}

// ---------------------------------------------------------------- outlier exposure

/** Options of {@link outlierExposureLoss}. */
export interface OutlierExposureLossOptions extends PixelLabelOptions {
  /** λ, the weight of the outlier term (Hendrycks et al. 2019, their code's default). @default 0.5 */
  readonly lambda?: number;
}

/** Default options of {@link outlierExposureLoss}. */
export const DEFAULT_OUTLIER_EXPOSURE_LOSS_OPTIONS = {
  lambda: 0.5,
  ignoreLabel: 255,
  upsample: true,
} as const satisfies OutlierExposureLossOptions;

/** Terms of {@link outlierExposureLoss}; scalars the caller owns. */
export interface OutlierExposureLossResult {
  /** classification + λ·outlier */
  readonly total: tf.Scalar;
  /** mean_in[−ln P(y|x)] */
  readonly classification: tf.Scalar;
  /** mean_out[cross-entropy of softmax(s) to the uniform distribution] = mean_out[logsumexp(s) − mean_k s_k] */
  readonly outlier: tf.Scalar;
}

/**
 * Outlier exposure (Hendrycks, Mazeika, Dietterich, ICLR 2019), dense: cross-entropy on inlier
 * pixels plus λ times the cross-entropy from softmax(s) to the uniform distribution on outlier
 * (pasted negative) pixels. A baseline of the paper's Table 4.
 *
 * Pixel sets as in {@link denseHybridLoss}: in = 0..K-1, out = `outlierLabel`, ignored pixels
 * excluded; empty sets give 0.
 *
 * @param inputs `{ logits [N,h,w,K], labels [N,H,W] int32 }`; not disposed
 * @param options see {@link OutlierExposureLossOptions}
 * @returns {@link OutlierExposureLossResult}: scalars the caller owns
 * @throws DenseHybridError `INVALID_INPUT`, `SHAPE_MISMATCH`, `INVALID_OPTION`
 * @example
 * ```ts
 * const { total } = outlierExposureLoss({ logits, labels }, { lambda: 0.5 });
 * ```
 */
export function outlierExposureLoss(
  inputs: SegmentationLossInputs,
  options: OutlierExposureLossOptions = {},
): OutlierExposureLossResult {
  const lambda = options.lambda ?? DEFAULT_OUTLIER_EXPOSURE_LOSS_OPTIONS.lambda;
  return uniformOutlierLoss('outlierExposureLoss', inputs, options, lambda, Infinity, 1);
}

/**
 * Shared body of outlier exposure and entropy maximisation:
 * wIn·mean_in[−ln P(y|x)] + λ·mean_out[logsumexp(s) − mean_k s_k], λ ∈ [0, maxLambda].
 */
function uniformOutlierLoss(
  fn: string,
  inputs: SegmentationLossInputs,
  options: PixelLabelOptions,
  lambdaOption: number,
  maxLambda: number,
  classificationWeight: number | ((lambda: number) => number),
): { total: tf.Scalar; classification: tf.Scalar; outlier: tf.Scalar } {
  const checked = checkLossInputs(fn, inputs, options, false);
  const lambda = checkNumberOption(fn, 'lambda', lambdaOption, 0, maxLambda);
  const wIn =
    typeof classificationWeight === 'number' ? classificationWeight : classificationWeight(lambda);
  return tf.tidy(() => {
    const { s, outlier, lse, ce } = prepare(inputs, checked);
    const out = maskedMean(uniformCrossEntropyPerPixel(s, lse), outlier);
    const total = tf.add<tf.Scalar>(tf.mul(wIn, ce), tf.mul(lambda, out));
    return { total, classification: ce, outlier: out };
  });
}

// ---------------------------------------------------------------- energy margins

/** Options of {@link energyMarginLoss}. */
export interface EnergyMarginLossOptions extends PixelLabelOptions {
  /** λ, the weight of the two hinge terms (Liu et al. 2020). @default 0.1 */
  readonly lambda?: number;
  /** m_in: inlier energies above it are penalised (their CIFAR-10 setting). @default -23 */
  readonly marginIn?: number;
  /** m_out: outlier energies below it are penalised (their CIFAR-10 setting). @default -5 */
  readonly marginOut?: number;
}

/** Default options of {@link energyMarginLoss}. */
export const DEFAULT_ENERGY_MARGIN_LOSS_OPTIONS = {
  lambda: 0.1,
  marginIn: -23,
  marginOut: -5,
  ignoreLabel: 255,
  upsample: true,
} as const satisfies EnergyMarginLossOptions;

/** Terms of {@link energyMarginLoss}; scalars the caller owns. */
export interface EnergyMarginLossResult {
  /** classification + λ·(inlierMargin + outlierMargin) */
  readonly total: tf.Scalar;
  /** mean_in[−ln P(y|x)] */
  readonly classification: tf.Scalar;
  /** mean_in[max(0, E − m_in)²] with E = −logsumexp(s) */
  readonly inlierMargin: tf.Scalar;
  /** mean_out[max(0, m_out − E)²] */
  readonly outlierMargin: tf.Scalar;
}

/**
 * Energy-bounded learning (Liu, Wang, Owens, Li, NeurIPS 2020), dense: cross-entropy on inlier
 * pixels plus λ times squared hinges on the free energy E(x) = −logsumexp(s) of inlier
 * (`E > m_in` penalised) and outlier pixels (`E < m_out` penalised). Defaults are the authors'
 * CIFAR-10 settings (`run.sh`: m_in = −23, m_out = −5; λ = 0.1 in `train.py`). A baseline of the
 * paper's Table 4. Empty pixel sets give 0.
 *
 * @param inputs `{ logits [N,h,w,K], labels [N,H,W] int32 }`; not disposed
 * @param options see {@link EnergyMarginLossOptions}
 * @returns {@link EnergyMarginLossResult}: scalars the caller owns
 * @throws DenseHybridError `INVALID_INPUT`, `SHAPE_MISMATCH`, `INVALID_OPTION`
 * @example
 * ```ts
 * const { total, inlierMargin } = energyMarginLoss({ logits, labels }, { marginIn: -10 });
 * ```
 */
export function energyMarginLoss(
  inputs: SegmentationLossInputs,
  options: EnergyMarginLossOptions = {},
): EnergyMarginLossResult {
  const fn = 'energyMarginLoss';
  const checked = checkLossInputs(fn, inputs, options, false);
  const d = DEFAULT_ENERGY_MARGIN_LOSS_OPTIONS;
  const lambda = checkNumberOption(fn, 'lambda', options.lambda ?? d.lambda, 0);
  const marginIn = checkNumberOption(fn, 'marginIn', options.marginIn ?? d.marginIn);
  const marginOut = checkNumberOption(fn, 'marginOut', options.marginOut ?? d.marginOut);
  return tf.tidy(() => {
    const { inlier, outlier, lse, ce } = prepare(inputs, checked);
    const energy = tf.neg(lse);
    const inlierMargin = maskedMean(tf.square(tf.relu(tf.sub(energy, marginIn))), inlier);
    const outlierMargin = maskedMean(tf.square(tf.relu(tf.sub(marginOut, energy))), outlier);
    return {
      total: tf.add<tf.Scalar>(ce, tf.mul(lambda, tf.add(inlierMargin, outlierMargin))),
      classification: ce,
      inlierMargin,
      outlierMargin,
    };
  });
}

// ---------------------------------------------------------------- entropy maximisation

/** Options of {@link entropyMaximizationLoss}. */
export interface EntropyMaximizationLossOptions extends PixelLabelOptions {
  /** λ in (1 − λ)·L_in + λ·L_out (Chan et al. 2021, `pareto_alpha` in their code). @default 0.9 */
  readonly lambda?: number;
}

/** Default options of {@link entropyMaximizationLoss}. */
export const DEFAULT_ENTROPY_MAXIMIZATION_LOSS_OPTIONS = {
  lambda: 0.9,
  ignoreLabel: 255,
  upsample: true,
} as const satisfies EntropyMaximizationLossOptions;

/** Terms of {@link entropyMaximizationLoss}; scalars the caller owns. */
export interface EntropyMaximizationLossResult {
  /** (1 − λ)·classification + λ·outlier */
  readonly total: tf.Scalar;
  /** mean_in[−ln P(y|x)] */
  readonly classification: tf.Scalar;
  /** mean_out[−(1/K) Σ_k ln softmax(s)_k] = mean_out[logsumexp(s) − mean_k s_k] */
  readonly outlier: tf.Scalar;
}

/**
 * Entropy maximisation on negatives (Chan, Rottmann, Gottschalk, ICCV 2021, "Meta-OoD"):
 * (1 − λ)·mean_in[−ln P(y|x)] + λ·mean_out[−(1/K) Σ_k ln softmax(s)_k]; the outlier term is
 * minimal exactly when softmax(s) is uniform (maximal entropy). A baseline of the paper's
 * Table 4. Their code averages the per-pixel sum over all pixels and classes at once; this
 * function averages each term over its own pixel set, as their eq. (3) is written.
 *
 * @param inputs `{ logits [N,h,w,K], labels [N,H,W] int32 }`; not disposed
 * @param options see {@link EntropyMaximizationLossOptions}
 * @returns {@link EntropyMaximizationLossResult}: scalars the caller owns
 * @throws DenseHybridError `INVALID_INPUT`, `SHAPE_MISMATCH`, `INVALID_OPTION`
 * @example
 * ```ts
 * const { total } = entropyMaximizationLoss({ logits, labels }, { lambda: 0.9 });
 * ```
 */
export function entropyMaximizationLoss(
  inputs: SegmentationLossInputs,
  options: EntropyMaximizationLossOptions = {},
): EntropyMaximizationLossResult {
  const lambda = options.lambda ?? DEFAULT_ENTROPY_MAXIMIZATION_LOSS_OPTIONS.lambda;
  return uniformOutlierLoss('entropyMaximizationLoss', inputs, options, lambda, 1, (l) => 1 - l);
}
