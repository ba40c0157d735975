import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { filterGradient } from './conv_backprop.js';
import { convGeometry, withScope } from './wasm_util.js';

type Shape4 = [number, number, number, number];

/**
 * wasm `Conv2DBackpropFilter` (missing from tfjs-backend-wasm 4.22): a forward convolution of
 * transposed operands (see `conv_backprop.ts`). Accepts an extra `dilations` attribute, which
 * this package's Conv2D gradient passes for dilated convolutions.
 * @internal
 */
export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: (({ inputs, attrs, backend }) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const a = attrs as Record<string, unknown>;
    if (a['dataFormat'] !== undefined && a['dataFormat'] !== 'NHWC')
      throw new Error(
        `wasm Conv2DBackpropFilter supports dataFormat NHWC only, got ${String(a['dataFormat'])}`,
      );
    const info = convGeometry(
      x.shape as Shape4,
      a['filterShape'] as Shape4,
      a['strides'] as [number, number],
      a['dilations'] as [number, number] | undefined,
      a['pad'],
      a['dimRoundingMode'],
      false,
    );
    return withScope(backend, (s) => filterGradient(s, x, dy, info, false));
  }) as KernelFunc,
};
