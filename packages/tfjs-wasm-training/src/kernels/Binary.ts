import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { BINARY_OPS, broadcastBinary, type BinaryOp } from './simd/binary.js';
import { withScope } from './wasm_util.js';

/**
 * wasm `Add`, `Sub`, `Multiply`, `RealDiv` whose per-channel and per-row broadcasts run through
 * the SIMD kernels of `simd/binary.ts`; every other case goes to tfjs' own kernel.
 */
function binaryConfig(kernelName: BinaryOp): KernelConfig {
  return {
    kernelName,
    backendName: 'wasm',
    kernelFunc: (({ inputs, backend }) => {
      const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
      return withScope(
        backend,
        (s) => broadcastBinary(s, kernelName, a, b) ?? s.runOriginal(kernelName, { a, b }, {}),
      );
    }) as KernelFunc,
  };
}

/** @internal */
export const BINARY_KERNELS: readonly KernelConfig[] = (Object.keys(BINARY_OPS) as BinaryOp[]).map(
  binaryConfig,
);
