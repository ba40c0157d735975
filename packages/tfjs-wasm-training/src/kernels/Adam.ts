import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import {
  ADAM_CONSTANTS,
  adamScalar,
  buildAdam,
  type AdamConstants,
  type AdamFn,
} from './simd/adam.js';
import { heapAccess, kernelsFor } from './simd/heap.js';
import { withScopeMany } from './wasm_util.js';
import { ADAM_KERNEL } from '../kernel_names.js';

/**
 * wasm `DenseHybridAdam` → `[w', m', v']`: one SIMD pass (`simd/adam.ts`) instead of ~14 tfjs
 * ops per variable, bit-identical to them; a float32-exact JavaScript loop for the last
 * `n mod 4` elements, or for all of them where SIMD is unavailable.
 * @internal
 */
export const adamConfig: KernelConfig = {
  kernelName: ADAM_KERNEL,
  backendName: 'wasm',
  kernelFunc: (({ inputs, attrs, backend }) => {
    const { w, m, v, g } = inputs as Record<string, TensorInfo>;
    const c = attrs as unknown as AdamConstants;
    return withScopeMany(backend, (s) => {
      const shape = [...(w as TensorInfo).shape];
      const outs = [0, 1, 2].map(() => s.float32(shape, () => undefined)) as [
        TensorInfo,
        TensorInfo,
        TensorInfo,
      ];
      // [w, m, v, g, wOut, mOut, vOut]: the kernel's operand order
      const operands = [w, m, v, g, ...outs] as TensorInfo[];
      const n = outs[0].shape.reduce((a, b) => a * b, 1);
      const vectors = Math.floor(n / 4);
      const heap = heapAccess(s.backend);
      let done = 0;
      if (heap && vectors > 0) {
        const fn = kernelsFor<{ adam: AdamFn }>(heap, 'adam', () => ({ adam: buildAdam() })).adam;
        fn(...operands.map((t) => heap.address(t)), vectors, ...ADAM_CONSTANTS.map((k) => c[k]));
        done = vectors * 4;
      }
      if (done < n)
        adamScalar(
          operands.map((t) => s.view(t)),
          c,
          done,
        );
      return outs;
    });
  }) as KernelFunc,
};
