import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { originalKernel } from './wasm_util.js';

/**
 * wasm `Identity` sharing the input's data (reference-counted) instead of copying it, as the cpu
 * backend does. tfjs clones every tensor a gradient saves with `Identity`, so a training step
 * copied each saved activation once; and with a shared data id, the attributes recorded for a
 * FusedConv2D output stay reachable from its saved clone (see `conv_grads.ts`).
 * @internal
 */
export const identityConfig: KernelConfig = {
  kernelName: 'Identity',
  backendName: 'wasm',
  kernelFunc: ((args) => {
    const x = args.inputs['x'] as TensorInfo;
    if (x.dtype === 'string') return (originalKernel('Identity') as unknown as KernelFunc)(args);
    (args.backend as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }) as KernelFunc,
};
