import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { withScope, type WasmScope } from './wasm_util.js';

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

/** A fused activation as separate kernels (names as tfjs' `fused` ops). */
function activation(
  s: WasmScope,
  x: TensorInfo,
  attrs: Record<string, unknown>,
  inputs: Record<string, TensorInfo>,
): TensorInfo {
  const act = (attrs['activation'] as string | undefined) ?? 'linear';
  switch (act) {
    case 'linear':
      return x;
    case 'relu':
      return s.run('Relu', { x });
    case 'relu6':
      return s.run('Relu6', { x });
    case 'elu':
      return s.run('Elu', { x });
    case 'sigmoid':
      return s.run('Sigmoid', { x });
    case 'leakyrelu':
      return s.run('LeakyRelu', { x }, { alpha: attrs['leakyreluAlpha'] ?? 0.2 });
    case 'prelu':
      return s.run('Prelu', { x, alpha: inputs['preluActivationWeights'] as TensorInfo });
    default:
      throw new Error(`wasm _FusedMatMul: unknown activation ${act}`);
  }
}

/**
 * tfjs 4.22's wasm matMul with `transposeA`/`transposeB` runs 10–50× slower than without
 * (measured 339 ms vs 6 ms for 16384×64·64×32): these transpose the flagged operands with the
 * `Transpose` kernel and multiply without flags. matMul gradients always set a flag.
 */
function untransposed(name: 'BatchMatMul' | '_FusedMatMul'): KernelConfig {
  return {
    kernelName: name,
    backendName: 'wasm',
    kernelFunc: ((args) => {
      const attrs = args.attrs as Record<string, unknown> & {
        transposeA?: boolean;
        transposeB?: boolean;
      };
      const inputs = args.inputs as Record<string, TensorInfo>;
      return withScope(args.backend, (s) => {
        const a0 = inputs['a'] as TensorInfo;
        const b0 = inputs['b'] as TensorInfo;
        const a = attrs.transposeA ? s.transpose(a0, swapLastTwo(a0.shape.length)) : a0;
        const b = attrs.transposeB ? s.transpose(b0, swapLastTwo(b0.shape.length)) : b0;
        const plain = { ...attrs, transposeA: false, transposeB: false };
        const batched =
          a.shape.slice(0, -2).some((d) => d > 1) || b.shape.slice(0, -2).some((d) => d > 1);
        if (name === '_FusedMatMul' && batched && inputs['bias'] !== undefined) {
          // tfjs 4.22's wasm _FusedMatMul adds the bias to the first batch item only: unfuse.
          const y = s.runOriginal('BatchMatMul', { a, b }, plain);
          return activation(
            s,
            s.run('Add', { a: y, b: inputs['bias'] as TensorInfo }),
            attrs,
            inputs,
          );
        }
        return s.runOriginal(name, { ...inputs, a, b }, plain);
      });
    }) as KernelFunc,
  };
}

/** @internal */
export const batchMatMulConfig = untransposed('BatchMatMul');
/** @internal */
export const fusedMatMulConfig = untransposed('_FusedMatMul');
