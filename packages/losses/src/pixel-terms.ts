import * as tf from '@tensorflow/tfjs-core';
import { logSumExpLastAxis } from './log-sum-exp.js';
import { upsampleBilinear } from './upsample.js';
import type { CheckedInputs } from './validate.js';

/**
 * Per-pixel building blocks shared by every loss and score. Call inside `tf.tidy`.
 * @internal
 */

/** Logits (and posterior logits) at label resolution. */
export function toLabelSize(x: tf.Tensor4D, checked: CheckedInputs): tf.Tensor4D {
  return checked.upsample ? upsampleBilinear(x, checked.size) : x;
}

/** Float32 masks `[N,H,W]` of inlier pixels (a known class) and of outlier pixels. */
export function pixelMasks(
  labels: tf.Tensor3D,
  checked: CheckedInputs,
): { inlier: tf.Tensor3D; outlier: tf.Tensor3D } {
  const outlier = tf.equal(labels, checked.outlierLabel);
  // inlier = neither outlier nor ignored; label values were checked by validateLossInputs.
  const inlier = tf.logicalAnd(tf.logicalNot(outlier), tf.notEqual(labels, checked.ignoreLabel));
  return {
    inlier: tf.cast(inlier, 'float32') as tf.Tensor3D,
    outlier: tf.cast(outlier, 'float32') as tf.Tensor3D,
  };
}

/**
 * Mean of `values` over the pixels where `mask` is 1; 0 (not NaN) for an empty set:
 * sum(v·m) / max(sum(m), 1).
 */
export function maskedMean(values: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.div(tf.sum(tf.mul(values, mask)), tf.maximum(tf.sum(mask), 1));
}

/**
 * ln Σ_k exp s_k per pixel, `[N,H,W]`.
 * Stable: m + ln Σ_k exp(s_k − m) with m = max_k s_k; gradient softmax(s) (see log-sum-exp.ts).
 */
export function logSumExpPerPixel(logits: tf.Tensor4D): tf.Tensor3D {
  return logSumExpLastAxis<tf.Tensor3D>(logits);
}

/**
 * −ln P(y|x) = logsumexp(s) − s_y per pixel, `[N,H,W]`. Labels outside 0..K-1 give
 * logsumexp(s) (their one-hot row is zero); mask them out.
 */
export function crossEntropyPerPixel(
  logits: tf.Tensor4D,
  labels: tf.Tensor3D,
  lse: tf.Tensor3D,
): tf.Tensor3D {
  const k = logits.shape[3];
  const picked = tf.sum(tf.mul(logits, tf.oneHot(labels, k)), -1);
  return tf.sub(lse, picked);
}

/**
 * Cross-entropy to the uniform distribution per pixel, `[N,H,W]`:
 * −(1/K) Σ_k ln softmax(s)_k = logsumexp(s) − mean_k s_k.
 */
export function uniformCrossEntropyPerPixel(logits: tf.Tensor4D, lse: tf.Tensor3D): tf.Tensor3D {
  return tf.sub(lse, tf.mean(logits, -1));
}

/** −ln σ(g) = softplus(−g) (stable log-sigmoid). */
export function negLogSigmoid(g: tf.Tensor): tf.Tensor {
  return tf.softplus(tf.neg(g));
}

/** −ln(1 − σ(g)) = softplus(g). */
export function negLogOneMinusSigmoid(g: tf.Tensor): tf.Tensor {
  return tf.softplus(g);
}
