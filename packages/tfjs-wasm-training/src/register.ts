/**
 * Side-effect entry `@densehybrid/tfjs-wasm-training/register`: loads
 * `@tensorflow/tfjs-backend-wasm` and registers this package's wasm kernels and gradients
 * (`registerTrainingKernels`, checking that backend's version) for users who set up TensorFlow.js
 * themselves. Import it after `@tensorflow/tfjs-layers` / `@tensorflow/tfjs` (which would
 * otherwise replace the dilation-aware conv gradients) and after the other backend packages
 * you use. The package's main entry has no side effects.
 *
 * @example
 * ```ts
 * import '@tensorflow/tfjs-layers';
 * import '@densehybrid/tfjs-wasm-training/register';
 * ```
 */
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';
import { registerTrainingKernels } from './kernels/register.js';

registerTrainingKernels({ wasmVersion: version_wasm });
