/**
 * The names of the kernels this package adds to TensorFlow.js (tfjs' own names — `Conv2D`,
 * `Conv2DBackpropFilter`, … — are `@tensorflow/tfjs-core`'s constants). Ops that call them
 * (`batchNormTraining`, `resizeBilinearGrad`, `@densehybrid/core`'s Adam) run them where the
 * active backend registers them and fall back to composed tfjs ops elsewhere; this package
 * registers them for wasm ({@link registerWasmTrainingKernels}).
 */

/**
 * The fused Adam update of one float32 variable: inputs `{ w, m, v, g }`, attrs (float32 values)
 * `{ beta1, oneMinusBeta1, beta2, oneMinusBeta2, bias1, bias2, epsilon, lr }` → `[w', m', v']`,
 * bit-identical to the composed ops `m' = β₁m + (1−β₁)g`, `v' = β₂v + (1−β₂)g²`,
 * `w' = w − lr·(m'/bias1)/(√(v'/bias2) + ε)` (`@densehybrid/core`'s training loop runs it).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { ADAM_KERNEL } from '@densehybrid/tfjs-wasm-training';
 * const fused = tf.getKernel(ADAM_KERNEL, tf.getBackend()) !== undefined;
 * ```
 */
export const ADAM_KERNEL = 'DenseHybridAdam';

/**
 * Kernel names a backend may register for fused training-mode batch normalisation; where the
 * active backend has all three (this package registers them for wasm: SIMD passes over the
 * heap), `batchNormTraining` runs them instead of ~11 composed tfjs ops.
 * - `moments`: inputs `{ x }` → `[mean, variance]` (`[C]` each, biased variance);
 * - `apply`: inputs `{ x, mean, variance, gamma, beta }`, attrs `{ epsilon }` → `y`;
 * - `grad`: inputs `{ dy, x, mean, variance, gamma }`, attrs `{ epsilon }` → `[∂x, ∂γ, ∂β]`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { BATCH_NORM_KERNELS } from '@densehybrid/tfjs-wasm-training';
 * console.log(Object.values(BATCH_NORM_KERNELS).every((k) => tf.getKernel(k, 'wasm')));
 * ```
 */
export const BATCH_NORM_KERNELS = {
  moments: 'DenseHybridBatchMoments',
  apply: 'DenseHybridBatchNormApply',
  grad: 'DenseHybridBatchNormGrad',
} as const;

/**
 * A direct kernel for the exact adjoint of bilinear resizing: inputs `{ images, dy }` (`images`
 * for its shape), attrs `{ alignCorners, halfPixelCenters }` → `∂images`. Where the active
 * backend has one (this package registers it for wasm), `resizeBilinearGrad` uses it instead of
 * the matMul adjoint.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { RESIZE_BILINEAR_GRAD_KERNEL } from '@densehybrid/tfjs-wasm-training';
 * console.log(tf.getKernel(RESIZE_BILINEAR_GRAD_KERNEL, 'wasm') !== undefined);
 * ```
 */
export const RESIZE_BILINEAR_GRAD_KERNEL = 'DenseHybridResizeBilinearGrad';
