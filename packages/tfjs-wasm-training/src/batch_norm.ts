/**
 * Training-mode batch normalisation with a closed-form gradient, and a Tile-free gradient for
 * tfjs' `FusedBatchNorm` (`tf.batchNorm`, `tf.layers.batchNormalization`).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, Tensor } from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { BATCH_NORM_KERNELS } from './kernel_names.js';

/** What {@link batchNormTraining} returns; the caller disposes all three (or runs it in `tf.tidy`). */
export interface BatchNormTrainingResult {
  /** The normalised, scaled and shifted activations, shape of `x`. */
  readonly y: Tensor;
  /** The batch mean per channel `[C]` (for a running average; carries no gradient). */
  readonly mean: Tensor;
  /** The biased batch variance per channel `[C]` (for a running average; carries no gradient). */
  readonly variance: Tensor;
}

/** Whether the active backend registers all of {@link BATCH_NORM_KERNELS}. */
function fusedBatchNormAvailable(x: Tensor): boolean {
  if (x.dtype !== 'float32') return false;
  const backend = tf.getBackend();
  return Object.values(BATCH_NORM_KERNELS).every((k) => tf.getKernel(k, backend) !== undefined);
}

/** Throws unless `x` is `[..., C]`, `gamma` and `beta` are `[C]` and `epsilon` is ≥ 0. */
function checkArguments(x: Tensor, gamma: Tensor, beta: Tensor, epsilon: number): void {
  if (!(epsilon >= 0) || !Number.isFinite(epsilon))
    throw new DenseHybridError(
      'INVALID_OPTION',
      `batchNormTraining: expected epsilon to be a finite number >= 0, got ${describeValue(epsilon)}`,
    );
  if (x.rank < 2)
    throw new DenseHybridError(
      'INVALID_INPUT',
      `batchNormTraining: expected x of rank >= 2 ([..., C]), got shape [${x.shape.join(',')}]`,
    );
  const c = x.shape[x.rank - 1] as number;
  for (const [name, t] of [
    ['gamma', gamma],
    ['beta', beta],
  ] as const) {
    if (t.rank !== 1 || t.shape[0] !== c)
      throw new DenseHybridError(
        'SHAPE_MISMATCH',
        `batchNormTraining: expected ${name} of shape [${c}] (the channels of x), got [${t.shape.join(',')}]`,
      );
  }
}

/**
 * Batch normalisation over every axis but the last (channels), with the batch's own statistics,
 * as in training: `y = γ·(x − μ)/√(σ² + ε) + β`, differentiable in `x`, `γ`, `β` through the
 * closed form
 *
 *   `∂x = γ/(m·√(σ² + ε)) · (m·∂y − Σ∂y − x̂·Σ(∂y·x̂))`, `∂γ = Σ(∂y·x̂)`, `∂β = Σ∂y`
 *
 * (`x̂` the normalised input, `m` values per channel, sums per channel; `μ` and `σ²` are not
 * differentiated separately — the closed form already accounts for them). Where the active
 * backend registers {@link BATCH_NORM_KERNELS} (wasm, after {@link registerWasmTrainingKernels})
 * five SIMD passes over the heap in all, elsewhere three elementwise passes and two reductions —
 * instead of the ~20 full-size ops (and a `Tile`) that differentiating `tf.moments` +
 * `tf.batchNorm` records. Works on every backend.
 *
 * @param x activations `[..., C]` (e.g. `[N, H, W, C]`)
 * @param gamma scale `[C]`
 * @param beta offset `[C]`
 * @param epsilon added to the variance before the square root (PyTorch uses 1e-5, Keras 1e-3)
 * @returns {@link BatchNormTrainingResult}; the caller owns its tensors
 * @throws DenseHybridError `SHAPE_MISMATCH` when `gamma`/`beta` are not `[C]`; `INVALID_INPUT`
 *   when `x` has rank < 2; `INVALID_OPTION` for a negative or non-finite `epsilon`
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { batchNormTraining } from '@densehybrid/tfjs-wasm-training';
 * const gamma = tf.variable(tf.ones([16]));
 * const beta = tf.variable(tf.zeros([16]));
 * const loss = () => tf.tidy(() => tf.mean(tf.relu(batchNormTraining(features, gamma, beta, 1e-5).y)));
 * ```
 */
export function batchNormTraining(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  epsilon: number,
): BatchNormTrainingResult {
  checkArguments(x, gamma, beta, epsilon);
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const m = x.size / (x.shape[x.rank - 1] as number);
  const engine = tf.engine();
  const fused = fusedBatchNormAvailable(x);
  const attrs = { epsilon } as unknown as tf.NamedAttrMap;
  // The statistics inside a customGrad of their own: the tape records none of their ops (no
  // saved full-size intermediates). Not on the path to y (the closed form accounts for them),
  // so its gradient is never asked for.
  const statistics = tf.customGrad((...args: unknown[]) => {
    const input = args[0] as Tensor;
    const [mu, v] = fused
      ? (engine.runKernel(BATCH_NORM_KERNELS.moments, { x: input }) as unknown as Tensor[])
      : ((mv) => [mv.mean, mv.variance])(tf.moments(input, axes));
    return {
      value: tf.stack([mu as Tensor, v as Tensor]),
      gradFunc: () => tf.zerosLike(input),
    };
  });
  const stats = statistics(x);
  const [mean, variance] = tf.unstack(stats) as [Tensor, Tensor];
  stats.dispose();
  const normalise = tf.customGrad((...args: unknown[]) => {
    const [input, g, b, save] = args as [Tensor, Tensor, Tensor, tf.GradSaveFunc];
    if (fused) {
      save([input, g, mean, variance]); // saved: the caller's scope may end before backprop
      return {
        value: engine.runKernel(
          BATCH_NORM_KERNELS.apply,
          { x: input, mean, variance, gamma: g, beta: b },
          attrs,
        ) as Tensor,
        gradFunc: (dy: Tensor, saved: Tensor[]) => {
          const [sx, sg, smean, svariance] = saved as [Tensor, Tensor, Tensor, Tensor];
          return engine.runKernel(
            BATCH_NORM_KERNELS.grad,
            { dy, x: sx, mean: smean, variance: svariance, gamma: sg },
            attrs,
          ) as unknown as Tensor[];
        },
      };
    }
    const rstd = tf.rsqrt(tf.add(variance, epsilon));
    const xhat = tf.mul(tf.sub(input, mean), rstd);
    save([xhat, rstd, g]);
    return {
      value: tf.add(tf.mul(xhat, g), b),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sxhat, srstd, sg] = saved as [Tensor, Tensor, Tensor];
        const dBeta = tf.sum(dy, axes);
        const dGamma = tf.sum(tf.mul(dy, sxhat), axes);
        const centred = tf.sub(tf.sub(dy, tf.div(dBeta, m)), tf.mul(sxhat, tf.div(dGamma, m)));
        return [tf.mul(centred, tf.mul(sg, srstd)), dGamma, dBeta];
      },
    };
  });
  return { y: normalise(x, gamma, beta), mean, variance };
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
