import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { expSimd } from './simd/exp.js';
import { withScope } from './wasm_util.js';

/**
 * wasm `Exp` through this package's WebAssembly SIMD kernel (`simd/exp.ts`, ~2 ulp, four lanes
 * per step) instead of tfjs' scalar one, falling back to tfjs' own kernel for non-float32
 * inputs and where the kernel cannot run (no WebAssembly SIMD, heap not reachable).
 * @internal
 */
export const expConfig: KernelConfig = {
  kernelName: 'Exp',
  backendName: 'wasm',
  kernelFunc: (({ inputs, backend }) => {
    const { x } = inputs as { x: TensorInfo };
    return withScope(backend, (s) => expSimd(s, x) ?? s.runOriginal('Exp', { x }, {}));
  }) as KernelFunc,
};
