import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { convSimd } from './simd/conv.js';
import { convGeometry, withScope } from './wasm_util.js';

type Shape4 = [number, number, number, number];

/**
 * wasm `Conv2D` through this package's direct SIMD convolution (`simd/conv.ts`), falling back
 * to tfjs' own (XNNPACK) kernel where it does not apply (NCHW, output channels not a multiple
 * of 8, no WebAssembly SIMD).
 * @internal
 */
export const conv2DConfig: KernelConfig = {
  kernelName: 'Conv2D',
  backendName: 'wasm',
  kernelFunc: (({ inputs, attrs, backend }) => {
    const { x, filter } = inputs as { x: TensorInfo; filter: TensorInfo };
    const a = attrs as Record<string, unknown>;
    return withScope(backend, (s) => {
      if (a['dataFormat'] === undefined || a['dataFormat'] === 'NHWC') {
        const info = convGeometry(
          x.shape as Shape4,
          filter.shape as Shape4,
          a['strides'] as [number, number],
          a['dilations'] as [number, number] | undefined,
          a['pad'],
          a['dimRoundingMode'],
          false,
        );
        const { top, bottom, left, right } = info.padInfo;
        const y = convSimd(
          s,
          x,
          filter,
          { top, bottom, left, right },
          [info.strideHeight, info.strideWidth],
          [info.dilationHeight, info.dilationWidth],
        );
        if (y && y.shape[1] === info.outHeight && y.shape[2] === info.outWidth) return y;
      }
      return s.runOriginal('Conv2D', { x, filter }, a);
    });
  }) as KernelFunc,
};
