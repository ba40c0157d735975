import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { leadingAxesSum } from './simd/reduce.js';
import { withScope } from './wasm_util.js';

/**
 * wasm `Sum` and `Mean` over leading axes (per-channel reductions of NHWC tensors) through the
 * SIMD column sum in `simd/reduce.ts`; every other reduction goes to tfjs' own kernel.
 */
function reduceConfig(kernelName: 'Sum' | 'Mean'): KernelConfig {
  return {
    kernelName,
    backendName: 'wasm',
    kernelFunc: (({ inputs, attrs, backend }) => {
      const { x } = inputs as { x: TensorInfo };
      const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
      return withScope(backend, (s) => {
        const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
        const leading = axes.length < x.shape.length && axes.every((a, i) => a === i);
        const y = leading ? leadingAxesSum(s, x, axes.length, kernelName === 'Mean') : null;
        if (!y) return s.runOriginal(kernelName, { x }, attrs as Record<string, unknown>);
        if (!keepDims) return y;
        return s.reshape(
          y,
          x.shape.map((d, i) => (i < axes.length ? 1 : d)),
        );
      });
    }) as KernelFunc,
  };
}

/** @internal */
export const sumConfig = reduceConfig('Sum');
/** @internal */
export const meanConfig = reduceConfig('Mean');
