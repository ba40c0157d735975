/**
 * wasm kernels of training-mode batch normalisation ({@link BATCH_NORM_KERNELS}, which
 * `batchNormTraining` uses when the active backend has them): SIMD passes over the heap (`simd/batch_norm.ts`), or plain
 * JavaScript loops over the same heap views where SIMD is unavailable or `C` is not a multiple
 * of 4.
 * @internal
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { BATCH_NORM_KERNELS } from '../kernel_names.js';
import {
  batchMomentsSimd,
  batchNormApplySimd,
  batchNormGradSimd,
  readFloat64,
} from './simd/batch_norm.js';
import { withScope, withScopeMany, type WasmScope } from './wasm_util.js';

type Attrs = { epsilon: number };

function dims(x: TensorInfo): { rows: number; c: number } {
  const c = x.shape[x.shape.length - 1] ?? 1;
  return { rows: c > 0 ? x.shape.reduce((a, b) => a * b, 1) / c : 0, c };
}

/** Mean and biased variance, two passes in float64 (fallback). */
function momentsJs(s: WasmScope, x: TensorInfo): [TensorInfo, TensorInfo] {
  const { rows, c } = dims(x);
  const xs = s.view(x);
  const mean = new Float64Array(c);
  for (let i = 0; i < xs.length; i++) mean[i % c] = (mean[i % c] as number) + (xs[i] as number);
  for (let j = 0; j < c; j++) mean[j] = (mean[j] as number) / rows;
  const sq = new Float64Array(c);
  for (let i = 0; i < xs.length; i++) {
    const t = (xs[i] as number) - (mean[i % c] as number);
    sq[i % c] = (sq[i % c] as number) + t * t;
  }
  return [
    s.float32([c], (o) => o.set(mean)),
    s.float32([c], (o) => {
      for (let j = 0; j < c; j++) o[j] = (sq[j] as number) / rows;
    }),
  ];
}

function applyJs(
  s: WasmScope,
  [x, mean, variance, gamma, beta]: TensorInfo[],
  epsilon: number,
): TensorInfo {
  const [m, v, g, b] = [mean, variance, gamma, beta].map((t) =>
    readFloat64(s, t as TensorInfo),
  ) as Float64Array[];
  const { c } = dims(x as TensorInfo);
  return s.float32([...(x as TensorInfo).shape], (o) => {
    const xs = s.view(x as TensorInfo);
    for (let i = 0; i < xs.length; i++) {
      const j = i % c;
      o[i] =
        ((xs[i] as number) - (m![j] as number)) *
          ((g![j] as number) / Math.sqrt((v![j] as number) + epsilon)) +
        (b![j] as number);
    }
  });
}

function gradJs(
  s: WasmScope,
  [dy, x, mean, variance, gamma]: TensorInfo[],
  epsilon: number,
): TensorInfo[] {
  const { rows, c } = dims(x as TensorInfo);
  const [m, v, g] = [mean, variance, gamma].map((t) =>
    readFloat64(s, t as TensorInfo),
  ) as Float64Array[];
  const dys = s.view(dy as TensorInfo);
  const xs = s.view(x as TensorInfo);
  const sumDy = new Float64Array(c);
  const sumDyXc = new Float64Array(c);
  for (let i = 0; i < xs.length; i++) {
    const j = i % c;
    sumDy[j] = (sumDy[j] as number) + (dys[i] as number);
    sumDyXc[j] =
      (sumDyXc[j] as number) + (dys[i] as number) * ((xs[i] as number) - (m![j] as number));
  }
  const rstd = Array.from(v!, (vj) => 1 / Math.sqrt(vj + epsilon));
  const dx = s.float32([...(x as TensorInfo).shape], (o) => {
    const d = s.view(dy as TensorInfo);
    const xv = s.view(x as TensorInfo);
    for (let i = 0; i < xv.length; i++) {
      const j = i % c;
      const r = rstd[j] as number;
      const xhat = ((xv[i] as number) - (m![j] as number)) * r;
      o[i] =
        (((g![j] as number) * r) / rows) *
        (rows * (d[i] as number) - (sumDy[j] as number) - xhat * r * (sumDyXc[j] as number));
    }
  });
  return [
    dx,
    s.float32([c], (o) => {
      for (let j = 0; j < c; j++) o[j] = (rstd[j] as number) * (sumDyXc[j] as number);
    }),
    s.float32([c], (o) => o.set(sumDy)),
  ];
}

/** @internal */
export const batchMomentsConfig: KernelConfig = {
  kernelName: BATCH_NORM_KERNELS.moments,
  backendName: 'wasm',
  kernelFunc: (({ inputs, backend }) => {
    const { x } = inputs as { x: TensorInfo };
    return withScopeMany(backend, (s) => batchMomentsSimd(s, x) ?? momentsJs(s, x));
  }) as KernelFunc,
};

/** @internal */
export const batchNormApplyConfig: KernelConfig = {
  kernelName: BATCH_NORM_KERNELS.apply,
  backendName: 'wasm',
  kernelFunc: (({ inputs, attrs, backend }) => {
    const { x, mean, variance, gamma, beta } = inputs as Record<string, TensorInfo>;
    const { epsilon } = attrs as unknown as Attrs;
    return withScope(
      backend,
      (s) =>
        batchNormApplySimd(s, x!, mean!, variance!, gamma!, beta!, epsilon) ??
        applyJs(s, [x!, mean!, variance!, gamma!, beta!], epsilon),
    );
  }) as KernelFunc,
};

/** @internal */
export const batchNormGradConfig: KernelConfig = {
  kernelName: BATCH_NORM_KERNELS.grad,
  backendName: 'wasm',
  kernelFunc: (({ inputs, attrs, backend }) => {
    const { dy, x, mean, variance, gamma } = inputs as Record<string, TensorInfo>;
    const { epsilon } = attrs as unknown as Attrs;
    return withScopeMany(
      backend,
      (s) =>
        batchNormGradSimd(s, dy!, x!, mean!, variance!, gamma!, epsilon) ??
        gradJs(s, [dy!, x!, mean!, variance!, gamma!], epsilon),
    );
  }) as KernelFunc,
};
