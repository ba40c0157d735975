import { disableSimdConv } from './conv.js';
import { disableSimdFilterGradient } from './filter_gradient.js';
import { allowFusedMultiplyAdd, fusedMultiplyAdd } from './heap.js';

/** Which of this package's WebAssembly SIMD kernels the wasm backend uses. */
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
  /**
   * Fused multiply-add (`f32x4.relaxed_madd`) in the convolution kernels, where the engine has
   * relaxed SIMD: Node ≥ 22, or Node 20 started with `--experimental-wasm-relaxed-simd`.
   * Faster, and rounds once per multiply-add instead of twice. Ignored where unsupported.
   * @default true
   */
  readonly fusedMultiplyAdd?: boolean;
}

/**
 * Whether the SIMD convolution kernels use fused multiply-add in this process (relaxed SIMD
 * available and not switched off with {@link setWasmSimdKernels}).
 *
 * @example
 * ```ts
 * import { wasmFusedMultiplyAdd } from '@densehybrid/tfjs-wasm-training';
 * console.log(wasmFusedMultiplyAdd()); // false on Node 20 without --experimental-wasm-relaxed-simd
 * ```
 */
export function wasmFusedMultiplyAdd(): boolean {
  return fusedMultiplyAdd();
}

/**
 * Switches this package's WebAssembly SIMD convolution kernels on or off on the wasm backend
 * (both are on by default, and used wherever WebAssembly SIMD is available; where it is not,
 * the XNNPACK formulations run). Meant for benchmarks and for ruling the kernels out when
 * investigating a numerical difference; omitted fields keep their current setting.
 *
 * @example
 * ```ts
 * import { setWasmSimdKernels } from '@densehybrid/tfjs-wasm-training';
 * setWasmSimdKernels({ conv: false }); // XNNPACK convolutions, SIMD filter gradient
 * setWasmSimdKernels({ conv: true, filterGradient: true }); // the default
 * ```
 */
export function setWasmSimdKernels(kernels: WasmSimdKernels): void {
  if (kernels.conv !== undefined) disableSimdConv(!kernels.conv);
  if (kernels.filterGradient !== undefined) disableSimdFilterGradient(!kernels.filterGradient);
  if (kernels.fusedMultiplyAdd !== undefined) allowFusedMultiplyAdd(kernels.fusedMultiplyAdd);
}

export { setWasmThreads, wasmThreads, wasmThreadsReady } from './threads.js';
