import * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import {
  crossEntropyPerPixel,
  logSumExpPerPixel,
  maskedMean,
  negLogOneMinusSigmoid,
  negLogSigmoid,
  pixelMasks,
  toLabelSize,
} from './pixel-terms.js';
import type { DenseHybridLossInputs, PixelLabelOptions } from './validate.js';
import { checkLossInputs, checkNumberOption } from './validate.js';

/** The two weightings of the DenseHybrid loss; see {@link denseHybridLoss}. */
export type DenseHybridLossVariant = 'authors' | 'paper';

/** All variants, for option parsing. */
export const DENSE_HYBRID_LOSS_VARIANTS: readonly DenseHybridLossVariant[] = ['authors', 'paper'];

/** Options of {@link denseHybridLoss}. */
export interface DenseHybridLossOptions extends PixelLabelOptions {
  /**
   * `'authors'`: the weighting of the authors' code, which produced the paper's numbers.
   * `'paper'`: eq. 15 of the paper. See {@link denseHybridLoss} for both formulas.
   * @default 'authors'
   */
  readonly variant?: DenseHybridLossVariant;
  /**
   * β, the weight of the negative (outlier) data: 0.03 for LDN, 0.01 for DeepLabV3+ in the paper.
   * @default 0.03
   */
  readonly beta?: number;
  /**
   * Weight of the dataset-posterior term in the `'authors'` variant (ignored by `'paper'`).
   * @default 10·beta
   */
  readonly posteriorWeight?: number;
}

/** Default options of {@link denseHybridLoss} (`posteriorWeight` defaults to 10·beta). */
export const DEFAULT_DENSE_HYBRID_LOSS_OPTIONS = {
  variant: 'authors',
  beta: 0.03,
  ignoreLabel: 255,
  upsample: true,
} as const satisfies DenseHybridLossOptions;

/**
 * The loss and its terms, each a scalar tensor the caller owns (dispose all four, or call
 * inside `tf.tidy` / an optimizer's `minimize`).
 */
export interface DenseHybridLossResult {
  /** What to minimise. */
  readonly total: tf.Scalar;
  /** mean over inlier pixels of −ln P(y|x). */
  readonly classification: tf.Scalar;
  /** mean over outlier pixels of ln p̂(x) = logsumexp(s); 0 without outlier pixels. */
  readonly likelihood: tf.Scalar;
  /** The dataset-posterior term, as it enters `total` before its outer weight; see the variants. */
  readonly posterior: tf.Scalar;
}

/**
 * The DenseHybrid training loss (Grcić et al., ECCV 2022, sec. 3.2) on mixed-content images.
 *
 * Pixel sets: **in** = label in 0..K-1; **out** = label `outlierLabel` (pasted negatives);
 * **ignored** = label `ignoreLabel`; **all** = every pixel. s = logits, g = posterior logit
 * (σ(g) = P(d_out|x)), mean_X = mean over pixel set X (0 when X is empty, never NaN).
 *
 * - `'authors'` (default; the authors' code, which produced the paper's numbers):
 *   total = classification + β·likelihood + posteriorWeight·posterior, with
 *   classification = mean_in[−ln P(y|x)], likelihood = mean_out[logsumexp(s)],
 *   posterior = mean_all[BCE(g, d)], d = 1 on out pixels and 0 elsewhere (ignored pixels count
 *   as d_in), posteriorWeight = 10β by default.
 * - `'paper'` (eq. 15): total = mean_in[−ln P(y|x) − ln P(d_in|x)] + β·mean_out[−ln P(d_out|x)
 *   + logsumexp(s)], ignored pixels excluded from every term. Reported as
 *   classification = mean_in[−ln P(y|x)], likelihood = mean_out[logsumexp(s)],
 *   posterior = mean_in[−ln P(d_in|x)] + β·mean_out[−ln P(d_out|x)],
 *   total = classification + β·likelihood + posterior.
 *
 * The likelihood term is unbounded below (no clamp or margin, as in the authors' code).
 * Logits and posterior logits are upsampled bilinearly to the label size first (`upsample`).
 * Only shapes, dtypes and options are checked (synchronously, so this works inside
 * `optimizer.minimize` and on webgpu); check label values and finiteness with
 * {@link validateLossInputs}.
 *
 * @param inputs `{ logits [N,h,w,K], posteriorLogits [N,h,w,1], labels [N,H,W] int32 }`; not disposed
 * @param options see {@link DenseHybridLossOptions}
 * @returns {@link DenseHybridLossResult}: four scalars the caller owns
 * @throws DenseHybridError `INVALID_INPUT` (rank, dtype), `SHAPE_MISMATCH`, `INVALID_OPTION`
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { denseHybridLoss } from '@densehybrid/losses';
 * const optimizer = tf.train.adam(1e-5);
 * optimizer.minimize(() => {
 *   const { preLogits, logits } = model.apply(images, { training: true });
 *   const posteriorLogits = head.apply(preLogits, { training: true });
 *   return denseHybridLoss({ logits, posteriorLogits, labels }).total;
 * });
 * ```
 */
export function denseHybridLoss(
  inputs: DenseHybridLossInputs,
  options: DenseHybridLossOptions = {},
): DenseHybridLossResult {
  const fn = 'denseHybridLoss';
  const checked = checkLossInputs(fn, inputs, options, true);
  const variant = options.variant ?? DEFAULT_DENSE_HYBRID_LOSS_OPTIONS.variant;
  if (!DENSE_HYBRID_LOSS_VARIANTS.includes(variant)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected options.variant to be one of ${DENSE_HYBRID_LOSS_VARIANTS.join(' | ')}, got ${describeValue(variant)}`,
    );
  }
  const beta = checkNumberOption(
    fn,
    'beta',
    options.beta ?? DEFAULT_DENSE_HYBRID_LOSS_OPTIONS.beta,
    0,
  );
  const posteriorWeight = checkNumberOption(
    fn,
    'posteriorWeight',
    options.posteriorWeight ?? 10 * beta,
    0,
  );
  return tf.tidy(() => {
    const s = toLabelSize(inputs.logits, checked);
    const g = tf.squeeze(toLabelSize(inputs.posteriorLogits, checked), [3]);
    const { inlier, outlier } = pixelMasks(inputs.labels, checked);
    // logsumexp(s) = m + ln Σ exp(s − m), m = max s (stable); −ln P(y|x) = logsumexp(s) − s_y.
    const lse = logSumExpPerPixel(s);
    const classification = maskedMean(crossEntropyPerPixel(s, inputs.labels, lse), inlier);
    const likelihood = maskedMean(lse, outlier);
    // −ln P(d_out|x) = −ln σ(g) = softplus(−g); −ln P(d_in|x) = −ln(1 − σ(g)) = softplus(g).
    const nllOut = negLogSigmoid(g);
    const nllIn = negLogOneMinusSigmoid(g);
    let posterior: tf.Scalar;
    let total: tf.Scalar;
    if (variant === 'authors') {
      // BCE(g, d) = d·softplus(−g) + (1 − d)·softplus(g), averaged over all N·H·W pixels.
      posterior = tf.mean(tf.add(tf.mul(outlier, nllOut), tf.mul(tf.sub(1, outlier), nllIn)));
      total = tf.addN([
        classification,
        tf.mul(beta, likelihood),
        tf.mul(posteriorWeight, posterior),
      ]) as tf.Scalar;
    } else {
      posterior = tf.add(maskedMean(nllIn, inlier), tf.mul(beta, maskedMean(nllOut, outlier)));
      total = tf.addN([classification, tf.mul(beta, likelihood), posterior]) as tf.Scalar;
    }
    return { total, classification, likelihood, posterior };
  });
}
