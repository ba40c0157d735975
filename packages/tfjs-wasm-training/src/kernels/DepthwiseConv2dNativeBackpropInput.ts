import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { inputGradient } from './conv_backprop.js';
import { convGeometry, withScope } from './wasm_util.js';

type Shape4 = [number, number, number, number];

/**
 * wasm `DepthwiseConv2dNativeBackpropInput` (missing from tfjs-backend-wasm 4.22): forward
 * depthwise convolutions with the flipped filter, sub-pixel decomposition for stride 2.
 * Supports dilations with stride 1.
 * @internal
 */
export const depthwiseConv2dNativeBackpropInputConfig: KernelConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropInput',
  backendName: 'wasm',
  kernelFunc: (({ inputs, attrs, backend }) => {
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = attrs as Record<string, unknown>;
    const info = convGeometry(
      a['inputShape'] as Shape4,
      filter.shape as Shape4,
      a['strides'] as [number, number],
      a['dilations'] as [number, number] | undefined,
      a['pad'],
      a['dimRoundingMode'],
      true,
    );
    return withScope(backend, (s) => {
      const out = inputGradient(s, dy, filter, info, true);
      if (!out)
        throw new Error(
          `wasm DepthwiseConv2dNativeBackpropInput: unsupported strides ${String(a['strides'])} with dilations ${String(a['dilations'])}`,
        );
      return out;
    });
  }) as KernelFunc,
};
