/**
 * Training-mode batch normalisation over the leading axes of `[..., C]` float32 tensors as
 * WebAssembly SIMD passes over the heap (`C` a multiple of 4), instead of the ~11 full-size
 * tfjs ops of the composed version:
 *
 * - statistics: mean (one column-sum pass) and biased variance `Σ(x − μ)²/m` (a second pass;
 *   two passes as `tf.moments`, not the cancellation-prone `E[x²] − μ²`), float64 totals;
 * - forward: `y = (x − μ)·(γ·rstd) + β` (one pass), `rstd = 1/√(σ² + ε)`;
 * - backward: `Σ∂y` and `Σ∂y·(x − μ)` (one pass), then
 *   `∂x = A·∂y + B·(x − μ) + D` with per-channel `A = γ·rstd`, `B = −γ·rstd³·Σ∂y(x − μ)/m`,
 *   `D = −A·Σ∂y/m` (one pass): the closed form `γ·rstd/m·(m·∂y − Σ∂y − x̂·Σ∂y·x̂)`.
 *
 * Per-channel coefficients are computed in float64 and rounded once to float32.
 * @internal
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmScope } from '../wasm_util.js';
import { heapAccess, kernelsFor } from './heap.js';
import { columnSums } from './reduce.js';
import { FunctionBuilder, I32, SimdOp } from './wasm_asm.js';

/**
 * `(a, b, coef, out, rows ≥ 1, vectors ≥ 1)`: per row, for each of `vectors` column vectors:
 * - `affine`: `out = (a − coef[0]) · coef[1] + coef[2]` (`b` unused);
 * - `gradient`: `out = coef[0]·a + coef[1]·(b − coef[3]) + coef[2]` (`a` = ∂y, `b` = x).
 * `coef` holds the coefficient rows one after another, `vectors·16` bytes each.
 */
type RowFn = (
  a: number,
  b: number,
  coef: number,
  out: number,
  rows: number,
  vectors: number,
) => void;

function buildRows(kind: 'affine' | 'gradient'): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32]);
  const [A, B, COEF, OUT, ROWS, VECTORS] = [0, 1, 2, 3, 4, 5] as const;
  const k = f.local(I32);
  const cp = f.local(I32);
  const rowBytes = f.local(I32);
  f.get(VECTORS).i32(16).mul().set(rowBytes);
  f.loop(() => {
    f.get(COEF).set(cp);
    f.get(VECTORS).set(k);
    f.loop(() => {
      f.get(OUT);
      // coefficient row j of the current vector: cp + j·rowBytes
      const coef = (j: number) => {
        f.get(cp);
        if (j > 0) f.get(rowBytes).i32(j).mul().add();
        f.load(0);
      };
      if (kind === 'affine') {
        f.get(A).load(0);
        coef(0);
        f.simd(SimdOp.f32x4Sub);
        coef(1);
        f.f32x4Mul();
        coef(2);
        f.f32x4Add();
      } else {
        coef(0);
        f.get(A).load(0).f32x4Mul();
        f.get(B).load(0);
        coef(3);
        f.simd(SimdOp.f32x4Sub);
        coef(1);
        f.f32x4Mul().f32x4Add();
        coef(2);
        f.f32x4Add();
      }
      f.store(0);
      f.get(A).i32(16).add().set(A);
      if (kind === 'gradient') f.get(B).i32(16).add().set(B);
      f.get(OUT).i32(16).add().set(OUT);
      f.get(cp).i32(16).add().set(cp);
      f.get(k).i32(1).sub().tee(k).brIf(0);
    });
    f.get(ROWS).i32(1).sub().tee(ROWS).brIf(0);
  });
  return f;
}

/** Rows and channels of `x` viewed as `[rows, C]`, or `null` where these kernels do not apply. */
function layout(x: TensorInfo): { rows: number; c: number } | null {
  const c = x.shape[x.shape.length - 1] ?? 0;
  const rows = c > 0 ? x.shape.reduce((a, b) => a * b, 1) / c : 0;
  if (x.dtype !== 'float32' || x.shape.length < 2 || c % 4 !== 0 || c === 0 || rows === 0)
    return null;
  return { rows, c };
}

/**
 * Mean and biased variance per channel `[C]` each, or `null` (caller falls back).
 * @internal
 */
export function batchMomentsSimd(s: WasmScope, x: TensorInfo): [TensorInfo, TensorInfo] | null {
  const l = layout(x);
  if (!l) return null;
  const sums = columnSums(s, 'sum', { x }, l.rows, l.c);
  if (!sums) return null;
  const total = sums[0] as Float64Array;
  const mean = s.float32([l.c], (o) => {
    for (let c = 0; c < l.c; c++) o[c] = (total[c] as number) / l.rows;
  });
  const dev = columnSums(s, 'squaredDeviation', { x, center: mean }, l.rows, l.c);
  if (!dev) return null;
  const squares = dev[0] as Float64Array;
  const variance = s.float32([l.c], (o) => {
    for (let c = 0; c < l.c; c++) o[c] = (squares[c] as number) / l.rows;
  });
  return [mean, variance];
}

/** Per-channel coefficient rows as one float32 tensor `[rows.length · C]`. */
function coefficients(s: WasmScope, rows: readonly ArrayLike<number>[], c: number): TensorInfo {
  return s.float32([rows.length * c], (o) => {
    rows.forEach((r, j) => {
      for (let i = 0; i < c; i++) o[j * c + i] = r[i] as number;
    });
  });
}

function runRows(
  s: WasmScope,
  kind: 'affine' | 'gradient',
  a: TensorInfo,
  b: TensorInfo,
  coef: TensorInfo,
  shape: number[],
  rows: number,
  c: number,
): TensorInfo | null {
  const heap = heapAccess(s.backend);
  if (!heap) return null;
  const fn = kernelsFor<Record<string, RowFn>>(heap, `bn:${kind}`, () => ({
    [kind]: buildRows(kind),
  }))[kind] as RowFn;
  const out = s.float32(shape, () => undefined);
  fn(heap.address(a), heap.address(b), heap.address(coef), heap.address(out), rows, c / 4);
  return out;
}

/** Reads a `[C]` float32 tensor into float64. @internal */
export function readFloat64(s: WasmScope, t: TensorInfo): Float64Array {
  return Float64Array.from(s.view(t));
}

/**
 * `y = (x − μ)·γ/√(σ² + ε) + β`, or `null` (caller falls back).
 * @internal
 */
export function batchNormApplySimd(
  s: WasmScope,
  x: TensorInfo,
  mean: TensorInfo,
  variance: TensorInfo,
  gamma: TensorInfo,
  beta: TensorInfo,
  epsilon: number,
): TensorInfo | null {
  const l = layout(x);
  if (!l) return null;
  const [m, v, g, b] = [mean, variance, gamma, beta].map((t) =>
    readFloat64(s, t),
  ) as Float64Array[];
  const scale = new Float64Array(l.c);
  for (let c = 0; c < l.c; c++)
    scale[c] = (g![c] as number) / Math.sqrt((v![c] as number) + epsilon);
  const coef = coefficients(s, [m!, scale, b!], l.c);
  return runRows(s, 'affine', x, x, coef, [...x.shape], l.rows, l.c);
}

/**
 * `[∂x, ∂γ, ∂β]` of {@link batchNormApplySimd} with the batch statistics (see the module
 * comment), or `null` (caller falls back).
 * @internal
 */
export function batchNormGradSimd(
  s: WasmScope,
  dy: TensorInfo,
  x: TensorInfo,
  mean: TensorInfo,
  variance: TensorInfo,
  gamma: TensorInfo,
  epsilon: number,
): [TensorInfo, TensorInfo, TensorInfo] | null {
  const l = layout(x);
  if (!l || dy.dtype !== 'float32') return null;
  const sums = columnSums(s, 'gradient', { x, dy, center: mean }, l.rows, l.c);
  if (!sums) return null;
  const [sumDy, sumDyXc] = sums as [Float64Array, Float64Array];
  const [mu, v, g] = [mean, variance, gamma].map((t) => readFloat64(s, t)) as Float64Array[];
  const n = l.rows;
  const a = new Float64Array(l.c);
  const b = new Float64Array(l.c);
  const d = new Float64Array(l.c);
  const dGamma = new Float64Array(l.c);
  for (let c = 0; c < l.c; c++) {
    const rstd = 1 / Math.sqrt((v![c] as number) + epsilon);
    const gc = g![c] as number;
    a[c] = gc * rstd;
    b[c] = (-gc * rstd * rstd * rstd * (sumDyXc[c] as number)) / n;
    d[c] = (-(a[c] as number) * (sumDy[c] as number)) / n;
    dGamma[c] = rstd * (sumDyXc[c] as number);
  }
  const coef = coefficients(s, [a, b, d, mu!], l.c);
  const dx = runRows(s, 'gradient', dy, x, coef, [...x.shape], l.rows, l.c);
  if (!dx) return null;
  const gOut = s.float32([l.c], (o) => o.set(dGamma));
  const bOut = s.float32([l.c], (o) => o.set(sumDy));
  return [dx, gOut, bOut];
}
