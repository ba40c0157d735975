import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { inputGradient } from './conv_backprop.js';
import { convGeometry, withScope } from './wasm_util.js';

type Shape4 = [number, number, number, number];

/**
 * A faster wasm `Conv2DBackpropInput`: forward convolutions with the flipped filter, sub-pixel
 * decomposition for stride 2 (see `conv_backprop.ts`); falls back to tfjs' native kernel for
 * geometries it does not cover. Accepts an extra `dilations` attribute (stride 1).
 * @internal
 */
export const conv2DBackpropInputConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: (({ inputs, attrs, backend }) => {
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = attrs as Record<string, unknown>;
    if (a['dataFormat'] !== undefined && a['dataFormat'] !== 'NHWC')
      throw new Error(
        `wasm Conv2DBackpropInput supports dataFormat NHWC only, got ${String(a['dataFormat'])}`,
      );
    const info = convGeometry(
      a['inputShape'] as Shape4,
      filter.shape as Shape4,
      a['strides'] as [number, number],
      a['dilations'] as [number, number] | undefined,
      a['pad'],
      a['dimRoundingMode'],
      false,
    );
    return withScope(backend, (s) => {
      const out = inputGradient(s, dy, filter, info, false);
      if (out) return out;
      if (info.dilationHeight > 1 || info.dilationWidth > 1)
        throw new Error('wasm Conv2DBackpropInput: dilations > 1 need strides 1');
      return s.runOriginal('Conv2DBackpropInput', inputs as Record<string, TensorInfo>, a);
    });
  }) as KernelFunc,
};
