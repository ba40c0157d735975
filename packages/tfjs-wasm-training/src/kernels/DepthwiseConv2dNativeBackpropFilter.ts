import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { filterGradient } from './conv_backprop.js';
import { convGeometry, withScope } from './wasm_util.js';

type Shape4 = [number, number, number, number];

/**
 * wasm `DepthwiseConv2dNativeBackpropFilter` (missing from tfjs-backend-wasm 4.22): one forward
 * depthwise convolution whose channels are (channel, sample) pairs, summed over samples.
 * Supports dilations.
 * @internal
 */
export const depthwiseConv2dNativeBackpropFilterConfig: KernelConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropFilter',
  backendName: 'wasm',
  kernelFunc: (({ inputs, attrs, backend }) => {
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const a = attrs as Record<string, unknown>;
    const info = convGeometry(
      x.shape as Shape4,
      a['filterShape'] as Shape4,
      a['strides'] as [number, number],
      a['dilations'] as [number, number] | undefined,
      a['pad'],
      a['dimRoundingMode'],
      true,
    );
    return withScope(backend, (s) => filterGradient(s, x, dy, info, true));
  }) as KernelFunc,
};
