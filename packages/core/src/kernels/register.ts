import * as tf from '@tensorflow/tfjs-core';
import type { GradConfig, KernelConfig } from '@tensorflow/tfjs-core';
import { conv2DConfig } from './Conv2D.js';
import { meanConfig, sumConfig } from './Reduce.js';
import { BINARY_KERNELS } from './Binary.js';
import { adamConfig } from './Adam.js';
import { batchMomentsConfig, batchNormApplyConfig, batchNormGradConfig } from './BatchNormFused.js';
import { conv2DBackpropFilterConfig } from './Conv2DBackpropFilter.js';
import { conv2DBackpropInputConfig } from './Conv2DBackpropInput.js';
import { identityConfig } from './Identity.js';
import { expConfig } from './Exp.js';
import { batchMatMulConfig, fusedMatMulConfig } from './BatchMatMul.js';
import { concatConfig, sliceConfig, splitVConfig } from './Slice.js';
import { depthwiseConv2dNativeBackpropFilterConfig } from './DepthwiseConv2dNativeBackpropFilter.js';
import { depthwiseConv2dNativeBackpropInputConfig } from './DepthwiseConv2dNativeBackpropInput.js';
import {
  conv2DGradConfig,
  depthwiseConv2dNativeGradConfig,
  fusedConv2DGradConfig,
  fusedConv2dOpGradConfig,
  setWasmDilatedKernels,
  wrapFusedConv2DKernels,
} from './conv_grads.js';
import { captureOriginal } from './wasm_util.js';
import { fusedBatchNormGradConfig } from './batch_norm.js';
import {
  resizeBilinearGradConfigFast,
  resizeBilinearGradWasmConfig,
} from './ResizeBilinearGrad.js';

/**
 * The wasm kernels this project registers (replacing tfjs' own where it has one). Where
 * WebAssembly SIMD is available, the heavy ones are SIMD kernels assembled at run time over the
 * backend's own heap (`kernels/simd/`; no binaries shipped, nothing downloaded):
 *
 * - `Conv2D` and the input gradients: a direct convolution (4 pixels × 8 channels per register
 *   block; ~1.2–2× XNNPACK as tfjs calls it); `Conv2DBackpropFilter`: a direct outer-product
 *   kernel (~2× the previous forward-conv formulation); `C_out` not a multiple of 8 falls back
 *   to XNNPACK;
 * - `DenseHybridAdam`: the training loop's Adam update of one variable in one SIMD pass
 *   (bit-identical to the composed ops);
 * - training-mode batch norm (`@densehybrid/backbones`' `BATCH_NORM_KERNELS`: statistics,
 *   normalisation, closed-form gradient) in five SIMD passes;
 * - `Sum` / `Mean` over leading axes (per-channel statistics) as one SIMD pass with float64
 *   chunk totals; per-channel and per-row broadcasting `Add` / `Sub` / `Multiply` / `RealDiv`;
 *   `Exp` (Cephes polynomial, ≤ 1 ulp); row copies of `Slice` / `SplitV` / `Concat` with bulk
 *   `memory.copy`;
 * - `Conv2DBackpropInput` (sub-pixel decomposition for stride 2), the depthwise backprops,
 *   an `Identity` that shares data instead of copying, `BatchMatMul` / `_FusedMatMul` that
 *   transpose explicitly, and `DenseHybridResizeBilinearGrad`, the exact adjoint of bilinear
 *   resizing in one pass (the `ResizeBilinear` gradient's kernel on wasm).
 *
 * Each falls back to tfjs' own kernel for inputs it does not handle. `setWasmSimdKernels()`
 * switches the SIMD convolutions off for comparison.
 *
 * @example
 * ```ts
 * import { WASM_TRAINING_KERNELS } from '@densehybrid/core';
 * console.log(WASM_TRAINING_KERNELS.map((k) => k.kernelName).join(', '));
 * ```
 */
export const WASM_TRAINING_KERNELS: readonly KernelConfig[] = [
  conv2DConfig,
  sumConfig,
  meanConfig,
  ...BINARY_KERNELS,
  batchMomentsConfig,
  batchNormApplyConfig,
  batchNormGradConfig,
  adamConfig,
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  identityConfig,
  expConfig,
  sliceConfig,
  splitVConfig,
  concatConfig,
  batchMatMulConfig,
  fusedMatMulConfig,
  resizeBilinearGradWasmConfig,
];

/**
 * The gradient configs this project registers (for every backend): `Conv2D`,
 * `DepthwiseConv2dNative`, `FusedConv2D`, `fusedConv2d__op` (the customGrad node of
 * `tf.fused.conv2d`) and `FusedBatchNorm`.
 *
 * @example
 * ```ts
 * import { TRAINING_GRADIENTS } from '@densehybrid/core';
 * console.log(TRAINING_GRADIENTS.map((g) => g.kernelName)); // ['Conv2D', …]
 * ```
 */
export const TRAINING_GRADIENTS: readonly GradConfig[] = [
  conv2DGradConfig,
  depthwiseConv2dNativeGradConfig,
  fusedConv2DGradConfig,
  fusedConv2dOpGradConfig,
  fusedBatchNormGradConfig,
  // tfjs 4.22's ResizeBilinear gradient ignores halfPixelCenters (and swaps H/W on cpu);
  // this one is the exact adjoint (@densehybrid/losses' resizeBilinearGradConfig, checked against
  // finite differences there; on wasm the direct DenseHybridResizeBilinearGrad kernel).
  resizeBilinearGradConfigFast,
];

/** What {@link registerTrainingKernels} did. */
export interface RegisterTrainingKernelsResult {
  /** wasm kernels registered by this call (empty when they already were). */
  readonly kernels: readonly string[];
  /** gradient configs registered by this call (empty when they already were). */
  readonly gradients: readonly string[];
  /**
   * tfjs' stock gradients (`Sum`, `Relu`, …; `@tensorflow/tfjs-core`'s Node build registers
   * none): `present` (already registered, e.g. by `@tensorflow/tfjs-layers` or
   * `@tensorflow/tfjs`), `loaded` (this call loaded `@tensorflow/tfjs-layers` to register them),
   * `missing` (neither: install `@tensorflow/tfjs-layers` or import `@tensorflow/tfjs`).
   */
  readonly stockGradients: 'present' | 'loaded' | 'missing';
}

/** Loads `@tensorflow/tfjs-layers` synchronously in Node (it registers every stock gradient). */
function loadStockGradients(): 'present' | 'loaded' | 'missing' {
  if (tf.getGradient('Sum')) return 'present';
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } })
      .process;
    const mod = proc?.getBuiltinModule?.('module') as
      { createRequire(url: string): (id: string) => unknown } | undefined;
    if (!mod) return 'missing';
    mod.createRequire(import.meta.url)('@tensorflow/tfjs-layers');
  } catch {
    return 'missing';
  }
  return tf.getGradient('Sum') ? 'loaded' : 'missing';
}

/**
 * Registers the kernels and gradient configs this project adds to TensorFlow.js, so that the
 * wasm backend trains conv nets fast and every backend differentiates dilated convolutions:
 *
 * - the wasm kernels of {@link WASM_TRAINING_KERNELS}: `Conv2D`, `Conv2DBackpropFilter` and
 *   `Conv2DBackpropInput` as WebAssembly SIMD kernels (else XNNPACK formulations), the depthwise
 *   backprops, SIMD `Sum`/`Mean`/broadcast arithmetic/`Exp`, and `DenseHybridResizeBilinearGrad`
 *   (the `ResizeBilinear` gradient in one pass over the heap);
 * - gradients of `Conv2D`, `FusedConv2D` (also `tf.fused.conv2d`, used by `tf.layers`) and
 *   `DepthwiseConv2dNative` that accept dilations > 1 on every backend, a `FusedBatchNorm`
 *   gradient without `Tile`, and an exact `ResizeBilinear` gradient (tfjs' ignores
 *   `halfPixelCenters`);
 * - tfjs' stock gradients, which the Node build of `@tensorflow/tfjs-core` does not register:
 *   when missing, `@tensorflow/tfjs-layers` is loaded (Node) to register them. Import
 *   `@tensorflow/tfjs-layers` or `@tensorflow/tfjs` *before* calling this, never after: their
 *   registration would replace the dilation-aware conv gradients.
 *
 * Idempotent: later calls only register what is missing (for example the FusedConv2D wrapper of
 * a backend registered since). `initBackend()` calls it; users who set up tfjs themselves import
 * `@densehybrid/core/register-kernels` once, after their backend package.
 *
 * @returns which kernels and gradients this call registered
 * @example
 * ```ts
 * import '@tensorflow/tfjs-backend-wasm';
 * import * as tf from '@tensorflow/tfjs-core';
 * import { registerTrainingKernels } from '@densehybrid/core';
 * await tf.setBackend('wasm');
 * registerTrainingKernels();
 * const w = tf.variable(tf.randomNormal([3, 3, 4, 8]));
 * const g = tf.grad((x: tf.Tensor4D) => tf.sum(tf.conv2d(x, w as tf.Tensor4D, 1, 'same', 'NHWC', 2)));
 * ```
 */
export function registerTrainingKernels(): RegisterTrainingKernelsResult {
  // First: loading the stock gradients would replace this project's Conv2D gradients.
  const stockGradients = loadStockGradients();
  const kernels: string[] = [];
  // Only once @tensorflow/tfjs-backend-wasm has registered its kernels: registering ours first
  // would have no originals to wrap and would be overwritten (with warnings) when it loads.
  const wasmLoaded = tf.getKernel('Conv2D', 'wasm') !== undefined;
  for (const config of wasmLoaded ? WASM_TRAINING_KERNELS : []) {
    const current = tf.getKernel(config.kernelName, config.backendName);
    if (current && current.kernelFunc === config.kernelFunc) continue;
    if (current) {
      captureOriginal(config.kernelName);
      tf.unregisterKernel(config.kernelName, config.backendName);
    }
    // Keep the original's setup/dispose: ours call it, and a backend initialised after this
    // registration runs the setup functions of the kernels registered then.
    tf.registerKernel({
      ...config,
      ...(current?.setupFunc ? { setupFunc: current.setupFunc } : {}),
      ...(current?.disposeFunc ? { disposeFunc: current.disposeFunc } : {}),
    });
    kernels.push(config.kernelName);
  }
  setWasmDilatedKernels(wasmLoaded);
  const gradients: string[] = [];
  for (const config of TRAINING_GRADIENTS) {
    if (tf.getGradient(config.kernelName) === config) continue;
    tf.registerGradient(config);
    gradients.push(config.kernelName);
  }
  wrapFusedConv2DKernels();
  return { kernels, gradients, stockGradients };
}
