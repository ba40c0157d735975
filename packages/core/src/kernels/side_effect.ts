/**
 * Side-effect entry `@densehybrid/core/register-kernels`: registers this project's training
 * kernels and gradients (see `registerTrainingKernels`) for users who set up TensorFlow.js
 * themselves. Import it after the backend packages you use.
 *
 * @example
 * ```ts
 * import '@tensorflow/tfjs-backend-wasm';
 * import '@densehybrid/core/register-kernels';
 * ```
 */
import '@tensorflow/tfjs-backend-wasm';
import { registerTrainingKernels } from './register.js';

registerTrainingKernels();
