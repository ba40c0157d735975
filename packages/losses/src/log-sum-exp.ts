import * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import { describeTensor } from './upsample.js';

/**
 * ln Σ_k exp x_k over the last axis, with a hand-written gradient.
 *
 * Forward (stable): m + ln Σ_k exp(x_k − m), m = max_k x_k.
 * Backward: ∂/∂x_k = softmax(x)_k = exp(x_k − logsumexp(x)); the max is a constant shift.
 * tf.logSumExp differentiates through tf.max, whose gradient in tfjs 4.22 costs ~40× the
 * forward pass on wasm (10 s for 2×768×768×19 logits); this one costs two elementwise ops.
 */
const logSumExpOp = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const m = tf.max(x, -1, true);
  const value = tf.add(tf.squeeze(m, [-1]), tf.log(tf.sum(tf.exp(tf.sub(x, m)), -1)));
  save([x, value]);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [input, out] = saved as [tf.Tensor, tf.Tensor];
      return tf.mul(tf.expandDims(dy, -1), tf.exp(tf.sub(input, tf.expandDims(out, -1))));
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

/**
 * Log-sum-exp over the last axis, numerically stable, with the gradient softmax(x) computed
 * directly (much faster than differentiating `tf.logSumExp` on wasm). Used by every loss here;
 * exported for scores and custom losses.
 *
 * The caller owns the returned tensor.
 *
 * @param x float32 tensor of rank ≥ 1, e.g. logits `[N, H, W, K]`
 * @returns `x.shape` without its last dimension
 * @throws DenseHybridError `INVALID_INPUT` for a non-float32 or rank-0 tensor
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { logSumExpLastAxis } from '@densehybrid/losses';
 * const lse = logSumExpLastAxis(tf.tensor2d([[1000, 1000]])); // [1000.6931]
 * ```
 */
export function logSumExpLastAxis<T extends tf.Tensor>(x: tf.Tensor): T {
  if (!(x instanceof tf.Tensor) || x.rank < 1 || x.dtype !== 'float32') {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `logSumExpLastAxis: expected x to be a float32 tensor of rank ≥ 1, got ${describeTensor(x)}`,
    );
  }
  return logSumExpOp(x) as T;
}
