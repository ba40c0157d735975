/**
 * Float64 plain-JS references for the core tests (head, scores, open-set): the formulas live in
 * packages/losses/test/reference.ts (one copy, sharing no code with the library); this adds the
 * backend setup core's tests need.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerTrainingKernels } from '@densehybrid/tfjs-wasm-training';

export * from '../../losses/test/reference.js';

/**
 * Activates a backend, then registers tfjs' stock gradients and this project's kernels, in the
 * order initBackend() uses (tfjs-core's Node build registers no gradients).
 */
export async function useBackend(name: string): Promise<boolean> {
  // wasm must be initialised before the project's wasm kernels wrap its originals
  if (!initialised) {
    await tf.setBackend('wasm');
    registerTrainingKernels();
    initialised = true;
  }
  return tf.setBackend(name);
}
let initialised = false;
