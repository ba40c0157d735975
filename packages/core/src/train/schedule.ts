import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';

/**
 * The paper's learning-rate schedule: cosine decay from `max` at step 0 to `min` at
 * `totalSteps` (supplement: Adam, 1e-5 decayed to 1e-7 for LDN).
 *
 * lr(t) = min + ½·(max − min)·(1 + cos(π·t / T)), t clamped to [0, T].
 *
 * @param step current step (0-based)
 * @param totalSteps T ≥ 1
 * @param max learning rate at step 0
 * @param min learning rate at step T
 * @returns the learning rate for `step`
 * @throws DenseHybridError `INVALID_OPTION` for T < 1 or negative rates
 * @example
 * ```ts
 * cosineLearningRate(0, 100, 1e-3, 1e-5); // 1e-3
 * cosineLearningRate(50, 100, 1e-3, 1e-5); // ≈ 5.05e-4
 * ```
 */
export function cosineLearningRate(
  step: number,
  totalSteps: number,
  max: number,
  min: number,
): number {
  if (!Number.isInteger(totalSteps) || totalSteps < 1) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `cosineLearningRate: expected totalSteps to be an integer ≥ 1, got ${describeValue(totalSteps)}`,
    );
  }
  if (!(max >= 0) || !(min >= 0)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `cosineLearningRate: expected max and min ≥ 0, got ${describeValue(max)} and ${describeValue(min)}`,
    );
  }
  const t = Math.min(Math.max(step, 0), totalSteps);
  return min + 0.5 * (max - min) * (1 + Math.cos((Math.PI * t) / totalSteps));
}
