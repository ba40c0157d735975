import { disableSimdConv } from './conv.js';
import { disableSimdFilterGradient } from './filter_gradient.js';

/** Which of this project's WebAssembly SIMD kernels the wasm backend uses. */
export interface WasmSimdKernels {
  /**
   * The direct SIMD convolution for `Conv2D` and the input gradients (else XNNPACK).
   * @default true
   */
  readonly conv?: boolean;
  /**
   * The direct SIMD `Conv2DBackpropFilter` (else a forward XNNPACK convolution of transposed
   * operands).
   * @default true
   */
  readonly filterGradient?: boolean;
}

/**
 * Switches this project's WebAssembly SIMD convolution kernels on or off on the wasm backend
 * (both are on by default, and used wherever WebAssembly SIMD is available; where it is not,
 * the XNNPACK formulations run). Meant for benchmarks and for ruling the kernels out when
 * investigating a numerical difference; omitted fields keep their current setting.
 *
 * @example
 * ```ts
 * import { setWasmSimdKernels } from '@densehybrid/core';
 * setWasmSimdKernels({ conv: false }); // XNNPACK convolutions, SIMD filter gradient
 * setWasmSimdKernels({ conv: true, filterGradient: true }); // the default
 * ```
 */
export function setWasmSimdKernels(kernels: WasmSimdKernels): void {
  if (kernels.conv !== undefined) disableSimdConv(!kernels.conv);
  if (kernels.filterGradient !== undefined) disableSimdFilterGradient(!kernels.filterGradient);
}
