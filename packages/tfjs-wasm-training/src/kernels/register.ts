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
import { fusedBatchNormGradConfig } from '../batch_norm.js';
import { resizeBilinearGradWasmConfig } from './ResizeBilinearGrad.js';
import { resizeBilinearGradConfig } from '../resize_bilinear_grad.js';
import { installedWasmVersion, SUPPORTED_WASM_VERSIONS, supportedWasmVersion } from '../version.js';

/**
 * The wasm kernels this package registers (replacing tfjs' own where it has one). Where
 * WebAssembly SIMD is available, the heavy ones are SIMD kernels assembled at run time over the
 * backend's own heap (`kernels/simd/`; no binaries shipped, nothing downloaded):
 *
 * - `Conv2D` and the input gradients: a direct convolution (4 pixels × 8 channels per register
 *   block; ~1.2–2× XNNPACK as tfjs calls it); `Conv2DBackpropFilter`: a direct outer-product
 *   kernel (~2× the previous forward-conv formulation); `C_out` not a multiple of 8 falls back
 *   to XNNPACK;
 * - `DenseHybridAdam`: the training loop's Adam update of one variable in one SIMD pass
 *   (bit-identical to the composed ops);
 * - training-mode batch norm (`BATCH_NORM_KERNELS`: statistics,
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
 * import { WASM_TRAINING_KERNELS } from '@densehybrid/tfjs-wasm-training';
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
 * The gradient configs this package registers (for every backend): `Conv2D`,
 * `DepthwiseConv2dNative`, `FusedConv2D`, `fusedConv2d__op` (the customGrad node of
 * `tf.fused.conv2d`), `FusedBatchNorm` and `ResizeBilinear`.
 *
 * @example
 * ```ts
 * import { TRAINING_GRADIENTS } from '@densehybrid/tfjs-wasm-training';
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
  // this one is the exact adjoint (on wasm the direct DenseHybridResizeBilinearGrad kernel).
  resizeBilinearGradConfig,
];

/** What {@link registerTrainingGradients} did. */
export interface RegisterTrainingGradientsResult {
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

/** Options of {@link registerWasmTrainingKernels} and {@link registerTrainingKernels}. */
export interface RegisterWasmTrainingKernelsOptions {
  /**
   * The running `@tensorflow/tfjs-backend-wasm` version (its `version_wasm` export). The kernels
   * read that package's internals, so they are registered only for {@link SUPPORTED_WASM_VERSIONS}.
   * @default the version of the `@tensorflow/tfjs-backend-wasm` this package resolves (Node),
   *   else unknown
   */
  readonly wasmVersion?: string;
  /**
   * Receives the one warning given when the version is not supported (once per process).
   * @default console.warn
   */
  readonly warn?: (line: string) => void;
}

/** What {@link registerWasmTrainingKernels} did. */
export interface RegisterWasmTrainingKernelsResult {
  /** wasm kernels registered by this call (empty when they already were, or were not registered). */
  readonly kernels: readonly string[];
  /** The `@tensorflow/tfjs-backend-wasm` version checked; `undefined` when it could not be read. */
  readonly wasmVersion: string | undefined;
  /**
   * Why no kernel was registered: `no-wasm-backend` (`@tensorflow/tfjs-backend-wasm` has not
   * registered its kernels yet: import it first), `unsupported-version` (tfjs' stock wasm
   * kernels stay; a warning said so). Absent when the kernels are registered.
   */
  readonly skipped?: 'no-wasm-backend' | 'unsupported-version';
}

/** What {@link registerTrainingKernels} did. */
export interface RegisterTrainingKernelsResult {
  /** wasm kernels registered by this call (empty when they already were, or were not registered). */
  readonly kernels: readonly string[];
  /** gradient configs registered by this call (empty when they already were). */
  readonly gradients: readonly string[];
  /** See {@link RegisterTrainingGradientsResult.stockGradients}. */
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

/** Registers {@link TRAINING_GRADIENTS} where missing and wraps the FusedConv2D kernels. */
function registerGradientConfigs(): string[] {
  const gradients: string[] = [];
  for (const config of TRAINING_GRADIENTS) {
    if (tf.getGradient(config.kernelName) === config) continue;
    tf.registerGradient(config);
    gradients.push(config.kernelName);
  }
  wrapFusedConv2DKernels();
  return gradients;
}

let warned = false;

/**
 * Registers the gradient configs this package adds to TensorFlow.js, for every backend, and
 * tfjs' stock gradients where they are missing:
 *
 * - gradients of `Conv2D`, `FusedConv2D` (also `tf.fused.conv2d`, used by `tf.layers`) and
 *   `DepthwiseConv2dNative` that accept dilations > 1, a `FusedBatchNorm` gradient without
 *   `Tile`, and the exact `ResizeBilinear` gradient (tfjs' ignores `halfPixelCenters`) —
 *   {@link TRAINING_GRADIENTS};
 * - tfjs' stock gradients, which the Node build of `@tensorflow/tfjs-core` does not register:
 *   when missing, `@tensorflow/tfjs-layers` is loaded (Node) to register them. Import
 *   `@tensorflow/tfjs-layers` or `@tensorflow/tfjs` *before* calling this, never after: their
 *   registration would replace the dilation-aware conv gradients.
 *
 * Registers no kernel (see {@link registerWasmTrainingKernels}). Idempotent: later calls only
 * register what is missing (for example the FusedConv2D wrapper of a backend registered since).
 *
 * @returns which gradients this call registered, and whether tfjs' stock gradients are there
 * @example
 * ```ts
 * import '@tensorflow/tfjs-backend-cpu';
 * import * as tf from '@tensorflow/tfjs-core';
 * import { registerTrainingGradients } from '@densehybrid/tfjs-wasm-training';
 * await tf.setBackend('cpu');
 * console.log(registerTrainingGradients().stockGradients); // 'loaded' (from tfjs-layers)
 * ```
 */
export function registerTrainingGradients(): RegisterTrainingGradientsResult {
  // First: loading the stock gradients would replace this package's Conv2D gradients.
  const stockGradients = loadStockGradients();
  return { gradients: registerGradientConfigs(), stockGradients };
}

/**
 * Registers {@link WASM_TRAINING_KERNELS} on the wasm backend, replacing tfjs' own where it has
 * one (its kernels are kept, and called, for the inputs ours do not handle). They read the wasm
 * backend's internals, so the running `@tensorflow/tfjs-backend-wasm` must be one of
 * {@link SUPPORTED_WASM_VERSIONS}: for any other (or when its version cannot be read) this
 * registers **no** kernel — tfjs' stock wasm kernels stay, without a `Conv2DBackpropFilter` —
 * and warns once per process.
 *
 * Call it after `@tensorflow/tfjs-backend-wasm` has loaded (its kernels are what ours wrap);
 * before, it registers nothing (`skipped: 'no-wasm-backend'`). Idempotent.
 *
 * @param options see {@link RegisterWasmTrainingKernelsOptions}
 * @returns which kernels this call registered, the version checked, and why none were
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { version_wasm } from '@tensorflow/tfjs-backend-wasm';
 * import { registerWasmTrainingKernels } from '@densehybrid/tfjs-wasm-training';
 * await tf.setBackend('wasm');
 * const { kernels } = registerWasmTrainingKernels({ wasmVersion: version_wasm });
 * console.log(tf.getKernel('Conv2DBackpropFilter', 'wasm') !== undefined); // true
 * ```
 */
export function registerWasmTrainingKernels(
  options: RegisterWasmTrainingKernelsOptions = {},
): RegisterWasmTrainingKernelsResult {
  const wasmVersion = options.wasmVersion ?? installedWasmVersion();
  // Only once @tensorflow/tfjs-backend-wasm has registered its kernels: registering ours first
  // would have no originals to wrap and would be overwritten (with warnings) when it loads.
  const wasmLoaded = tf.getKernel('Conv2D', 'wasm') !== undefined;
  if (!wasmLoaded) {
    setWasmDilatedKernels(false);
    return { kernels: [], wasmVersion, skipped: 'no-wasm-backend' };
  }
  if (!supportedWasmVersion(wasmVersion)) {
    setWasmDilatedKernels(false);
    if (!warned) {
      warned = true;
      const found =
        wasmVersion === undefined
          ? 'a @tensorflow/tfjs-backend-wasm whose version could not be read (pass { wasmVersion: version_wasm })'
          : `@tensorflow/tfjs-backend-wasm ${wasmVersion}`;
      (options.warn ?? console.warn)(
        `registerWasmTrainingKernels: expected @tensorflow/tfjs-backend-wasm ${SUPPORTED_WASM_VERSIONS.join(' or ')} (the kernels read its internals), got ${found}; registered none of the wasm training kernels: tfjs' stock wasm kernels stay, and training a conv net on wasm fails (no Conv2DBackpropFilter)`,
      );
    }
    return { kernels: [], wasmVersion, skipped: 'unsupported-version' };
  }
  const kernels: string[] = [];
  for (const config of WASM_TRAINING_KERNELS) {
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
  setWasmDilatedKernels(true);
  return { kernels, wasmVersion };
}

/**
 * Sets TensorFlow.js up for training: {@link registerWasmTrainingKernels} (fast wasm kernels,
 * incl. the `Conv2DBackpropFilter` and depthwise backprops tfjs' wasm backend lacks — tfjs issue
 * #8474) and {@link registerTrainingGradients} (dilation-aware conv gradients on every backend,
 * the exact `ResizeBilinear` gradient, tfjs' stock gradients). `initBackend()` calls it; so
 * does importing `@densehybrid/tfjs-wasm-training/register`.
 *
 * Import `@tensorflow/tfjs-layers` or `@tensorflow/tfjs` *before* calling this, never after.
 * Idempotent: later calls only register what is missing.
 *
 * @param options see {@link RegisterWasmTrainingKernelsOptions}
 * @returns which kernels and gradients this call registered
 * @example
 * ```ts
 * import '@tensorflow/tfjs-backend-wasm';
 * import * as tf from '@tensorflow/tfjs-core';
 * import { registerTrainingKernels } from '@densehybrid/tfjs-wasm-training';
 * await tf.setBackend('wasm');
 * registerTrainingKernels();
 * const w = tf.variable(tf.randomNormal([3, 3, 4, 8]));
 * const g = tf.grad((x: tf.Tensor4D) => tf.sum(tf.conv2d(x, w as tf.Tensor4D, 1, 'same', 'NHWC', 2)));
 * ```
 */
export function registerTrainingKernels(
  options: RegisterWasmTrainingKernelsOptions = {},
): RegisterTrainingKernelsResult {
  // First: loading the stock gradients would replace this package's Conv2D gradients.
  const stockGradients = loadStockGradients();
  const { kernels } = registerWasmTrainingKernels(options);
  return { kernels, gradients: registerGradientConfigs(), stockGradients };
}
