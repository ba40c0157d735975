/**
 * Training-mode batch normalisation with a closed-form gradient, and a Tile-free gradient for
 * tfjs' `FusedBatchNorm` (`tf.batchNorm`, `tf.layers.batchNormalization`).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, Tensor } from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { batchNormTraining } from '@densehybrid/backbones';

/** Options of {@link batchNormTrain}. */
export interface BatchNormTrainOptions {
  /**
   * Added to the variance before the square root (PyTorch uses 1e-5, Keras 1e-3).
   * @default 1e-5
   */
  readonly epsilon?: number;
}

/** Default options of {@link batchNormTrain}. */
export const DEFAULT_BATCH_NORM_TRAIN_OPTIONS = {
  epsilon: 1e-5,
} as const satisfies Required<BatchNormTrainOptions>;

/** What {@link batchNormTrain} returns; the caller disposes all three (or runs it in `tf.tidy`). */
export interface BatchNormTrainResult {
  /** The normalised, scaled and shifted activations, shape of `x`. */
  readonly y: Tensor;
  /** The batch mean per channel `[C]` (for a running average; carries no gradient). */
  readonly mean: Tensor;
  /** The biased batch variance per channel `[C]` (for a running average; carries no gradient). */
  readonly variance: Tensor;
}

/**
 * Batch normalisation over every axis but the last (channels), with the batch's own statistics,
 * as in training: `y = γ·(x − μ)/√(σ² + ε) + β`. Its gradient is the closed form
 *
 *   `∂x = γ/(m·√(σ² + ε)) · (m·∂y − Σ∂y − x̂·Σ(∂y·x̂))`, `∂γ = Σ(∂y·x̂)`, `∂β = Σ∂y`
 *
 * (`x̂` the normalised input, `m` values per channel, sums per channel): on wasm (after
 * {@link registerTrainingKernels}) five SIMD passes over the heap in all, elsewhere three
 * elementwise passes and two reductions — instead of the ~20 full-size ops (and a `Tile`) that
 * differentiating `tf.moments` + `tf.batchNorm` records. Works on every backend; the same
 * function as `@densehybrid/backbones`' `batchNormTraining`, with its arguments checked.
 *
 * @param x activations `[..., C]` (e.g. `[N, H, W, C]`)
 * @param gamma scale `[C]`
 * @param beta offset `[C]`
 * @param options see {@link BatchNormTrainOptions}
 * @returns {@link BatchNormTrainResult}; the caller owns its tensors
 * @throws DenseHybridError `SHAPE_MISMATCH` when `gamma`/`beta` are not `[C]`; `INVALID_INPUT`
 *   when `x` has rank < 2; `INVALID_OPTION` for a non-positive `epsilon`
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { batchNormTrain } from '@densehybrid/core';
 * const gamma = tf.variable(tf.ones([16]));
 * const beta = tf.variable(tf.zeros([16]));
 * const loss = () => tf.tidy(() => tf.mean(tf.relu(batchNormTrain(features, gamma, beta).y)));
 * ```
 */
export function batchNormTrain(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  options: BatchNormTrainOptions = {},
): BatchNormTrainResult {
  const epsilon = options.epsilon ?? DEFAULT_BATCH_NORM_TRAIN_OPTIONS.epsilon;
  if (!(epsilon > 0) || !Number.isFinite(epsilon))
    throw new DenseHybridError(
      'INVALID_OPTION',
      `batchNormTrain: expected options.epsilon to be a finite number > 0, got ${describeValue(epsilon)}`,
    );
  if (x.rank < 2)
    throw new DenseHybridError(
      'INVALID_INPUT',
      `batchNormTrain: expected x of rank >= 2 ([..., C]), got shape [${x.shape.join(',')}]`,
    );
  const c = x.shape[x.rank - 1] as number;
  for (const [name, t] of [
    ['gamma', gamma],
    ['beta', beta],
  ] as const) {
    if (t.rank !== 1 || t.shape[0] !== c)
      throw new DenseHybridError(
        'SHAPE_MISMATCH',
        `batchNormTrain: expected ${name} of shape [${c}] (the channels of x), got [${t.shape.join(',')}]`,
      );
  }
  return batchNormTraining(x, gamma, beta, epsilon);
}

/**
 * `FusedBatchNorm` gradient without `Tile` (tfjs 4.22 tiles `1/√(σ² + ε)` to the full input
 * shape for `∂x`; broadcasting gives the same numbers). Same outputs as tfjs' config.
 * @internal
 */
export const fusedBatchNormGradConfig: GradConfig = {
  kernelName: 'FusedBatchNorm',
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy, saved, attrs) => {
    const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
    const [x, mean, variance, scale] = saved as [Tensor, Tensor, Tensor, Tensor | undefined];
    const d = dy as Tensor;
    const scaleValue = scale ?? tf.scalar(1);
    const axes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
    const reduce = (t: Tensor): Tensor =>
      tf.reshape(axes.length > 0 ? tf.sum(t, axes) : t, mean.shape);
    const rstd = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
    const xMinusMean = tf.sub(x, mean);
    const dyTimesScale = tf.mul(d, scaleValue);
    return {
      x: () => tf.mul(d, tf.mul(rstd, scaleValue)),
      mean: () => reduce(tf.mul(dyTimesScale, tf.neg(rstd))),
      variance: () =>
        reduce(
          tf.mul(
            tf.mul(xMinusMean, dyTimesScale),
            tf.mul(tf.pow(rstd, tf.scalar(3)), tf.scalar(-0.5)),
          ),
        ),
      scale: () => reduce(tf.mul(d, tf.mul(xMinusMean, rstd))),
      offset: () => reduce(d),
    };
  },
};
