// train() on the wasm backend needs @densehybrid/tfjs-wasm-training's kernels (tfjs-backend-wasm
// alone has no Conv2DBackpropFilter): it says so instead of failing inside a backward pass.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { DenseHybridError, train } from '@densehybrid/core';
import {
  registerTrainingGradients,
  registerWasmTrainingKernels,
} from '@densehybrid/tfjs-wasm-training';
import { syntheticBatches, tinyModel } from './train-helpers.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerTrainingGradients();
});

describe('train on wasm', () => {
  it('rejects stock tfjs-backend-wasm with BACKEND, naming the call that fixes it', async () => {
    const model = tinyModel();
    const err = await train({ model, data: syntheticBatches, steps: 1 }).catch((e: unknown) => e);
    expect(DenseHybridError.is(err) && err.code).toBe('BACKEND');
    expect((err as Error).message).toBe(
      'train: expected the wasm training kernels to be registered (registerWasmTrainingKernels() from @densehybrid/tfjs-wasm-training or initBackend()), got stock tfjs-backend-wasm',
    );
    model.dispose();
  });

  it('trains once registerWasmTrainingKernels() has run', async () => {
    expect(registerWasmTrainingKernels().kernels).toContain('Conv2DBackpropFilter');
    const model = tinyModel();
    const result = await train({ model, data: syntheticBatches, steps: 2, learningRate: 5e-3 });
    expect(result.step).toBe(2);
    expect(Number.isFinite(result.history.at(-1)?.loss['total'])).toBe(true);
    model.dispose();
  });
});
