import * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { upsampleBilinear } from '@densehybrid/losses';
import { checkLogits } from './scores.js';

/**
 * Dense open-set recognition map (paper Fig. 3): the closed-set prediction argmax_k s_k,
 * with label K (unknown) wherever the anomaly score is **≥ threshold**. This is the tensor form
 * of the one open-set rule, `openSetPrediction` of `@densehybrid/metrics-openiou` (whose
 * `calibrateThreshold`, `OpenSetSweep` and `EvaluationSession` follow it too); keep the two in
 * step. Logits at a lower resolution than the score are upsampled bilinearly
 * (`align_corners=False`) first.
 *
 * @param logits `[N, h, w, K]` float32; not disposed
 * @param score `[N, H, W]` float32 anomaly score (higher = more anomalous); not disposed
 * @param threshold a finite number, e.g. from calibration at TPR 95 %
 * @returns int32 `[N, H, W]` with values 0..K (K = unknown), caller disposes
 * @throws DenseHybridError `INVALID_INPUT` (ranks, dtypes), `SHAPE_MISMATCH` (batch sizes),
 *   `INVALID_OPTION` (threshold not finite)
 * @example
 * ```ts
 * const score = hybridScore(logits, posteriorLogits, { size: [512, 1024] });
 * const openSet = openSetSegmentation(logits, score, threshold); // [1, 512, 1024] int32
 * ```
 */
export function openSetSegmentation(
  logits: tf.Tensor4D,
  score: tf.Tensor3D,
  threshold: number,
): tf.Tensor3D {
  const fn = 'openSetSegmentation';
  const s = checkLogits(fn, logits);
  if (!(score instanceof tf.Tensor) || score.rank !== 3 || score.dtype !== 'float32') {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected score to be a float32 tensor [N,H,W], got ${score instanceof tf.Tensor ? `Tensor[${score.shape.join(',')}] ${score.dtype}` : describeValue(score)}`,
    );
  }
  if (score.shape[0] !== s.shape[0]) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `${fn}: expected score to be [${s.shape[0]},H,W] to match logits [${s.shape.join(',')}], got [${score.shape.join(',')}]`,
    );
  }
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected threshold to be a finite number, got ${describeValue(threshold)}`,
    );
  }
  const k = s.shape[3];
  return tf.tidy(() => {
    const closed = tf.argMax(upsampleBilinear(s, [score.shape[1], score.shape[2]]), -1);
    return tf.where(
      tf.greaterEqual(score, threshold),
      tf.fill(score.shape, k, 'int32'),
      closed,
    ) as tf.Tensor3D;
  });
}
