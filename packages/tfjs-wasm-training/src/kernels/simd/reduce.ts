/**
 * Column sums on the wasm heap: `out[c] = Σ_r x[r, c]` for a row-major `[rows, cols]` float32
 * matrix, the shape of every per-channel reduction over the leading axes of an NHWC tensor
 * (batch-norm statistics, bias gradients). tfjs' wasm `Sum`/`Mean` transpose the reduced axes
 * to the end first; this reads the input once, `f32x4` lanes across channels. Rows are summed
 * in chunks of {@link CHUNK} in float32, and the chunks' partial sums are added in float64,
 * which keeps the rounding error far below that of one running float32 sum over hundreds of
 * thousands of pixels.
 * @internal
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmScope } from '../wasm_util.js';
import { heapAccess, kernelsFor } from './heap.js';
import { FunctionBuilder, I32, SimdOp, V128 } from './wasm_asm.js';

/** Rows per partial sum. */
const CHUNK = 256;

/**
 * What a column-reduction kernel accumulates per column `c` (over rows `r`):
 * - `sum`: `Σ x[r, c]`;
 * - `squaredDeviation`: `Σ (x[r, c] − center[c])²`;
 * - `gradient`: `Σ dy[r, c]` and `Σ dy[r, c]·(x[r, c] − center[c])` (batch-norm backward).
 * @internal
 */
export type ColumnReduction = 'sum' | 'squaredDeviation' | 'gradient';

/** Vectors of 4 columns per kernel pass (register budget: 16 vector registers). */
const VECTORS: Record<ColumnReduction, number> = { sum: 8, squaredDeviation: 6, gradient: 4 };

/**
 * `(x, dy, center, out, rows ≥ 1, rowStride)` (byte addresses; `dy` only read by `gradient`):
 * writes the partial sums of `vectors·4` columns to `out` (`gradient`: the Σdy vectors, then the
 * Σdy·(x − center) vectors).
 */
type ReduceFn = (
  x: number,
  dy: number,
  center: number,
  out: number,
  rows: number,
  stride: number,
) => void;

function buildReduce(kind: ColumnReduction, vectors: number): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32, I32]);
  const [X, DY, CENTER, OUT, ROWS, STRIDE] = [0, 1, 2, 3, 4, 5] as const;
  const sums = kind === 'gradient' ? 2 : 1;
  const acc = Array.from({ length: vectors * sums }, () => f.local(V128));
  const t = f.local(V128);
  const d = f.local(V128);
  f.loop(() => {
    for (let k = 0; k < vectors; k++) {
      const a = acc[k] as number;
      if (kind === 'sum') {
        f.get(a)
          .get(X)
          .load(16 * k)
          .f32x4Add()
          .set(a);
        continue;
      }
      // t = x − center
      f.get(X)
        .load(16 * k)
        .get(CENTER)
        .load(16 * k)
        .simd(SimdOp.f32x4Sub)
        .set(t);
      if (kind === 'squaredDeviation') {
        f.get(a).get(t).get(t).f32x4Mul().f32x4Add().set(a);
      } else {
        const b = acc[vectors + k] as number;
        f.get(DY)
          .load(16 * k)
          .tee(d)
          .get(a)
          .f32x4Add()
          .set(a);
        f.get(b).get(d).get(t).f32x4Mul().f32x4Add().set(b);
      }
    }
    f.get(X).get(STRIDE).add().set(X);
    if (kind === 'gradient') f.get(DY).get(STRIDE).add().set(DY);
    f.get(ROWS).i32(1).sub().tee(ROWS).brIf(0);
  });
  acc.forEach((a, k) =>
    f
      .get(OUT)
      .get(a)
      .store(16 * k),
  );
  return f;
}

/**
 * Column reductions of row-major float32 `[rows, cols]` matrices on the heap (`cols` a multiple
 * of 4): float32 partial sums over {@link CHUNK}-row chunks, added in float64. Returns one
 * `Float64Array(cols)` per sum (`gradient`: two), or `null` where the heap cannot be reached.
 * @internal
 */
export function columnSums(
  s: WasmScope,
  kind: ColumnReduction,
  operands: { x: TensorInfo; dy?: TensorInfo; center?: TensorInfo },
  rows: number,
  cols: number,
): Float64Array[] | null {
  const heap = heapAccess(s.backend);
  if (!heap || cols % 4 !== 0 || cols === 0) return null;
  const max = VECTORS[kind];
  const fns = kernelsFor<Record<string, ReduceFn>>(heap, `colsum:${kind}`, () =>
    Object.fromEntries(
      Array.from({ length: max }, (_, v) => [`v${v + 1}`, buildReduce(kind, v + 1)]),
    ),
  );
  const nSums = kind === 'gradient' ? 2 : 1;
  const partial = s.float32([nSums * cols], () => undefined);
  const xa = heap.address(operands.x);
  const da = operands.dy ? heap.address(operands.dy) : 0;
  const ca = operands.center ? heap.address(operands.center) : 0;
  const pa = heap.address(partial);
  const stride = cols * 4;
  const sums = Array.from({ length: nSums }, () => new Float64Array(cols));
  for (let r0 = 0; r0 < rows; r0 += CHUNK) {
    const n = Math.min(CHUNK, rows - r0);
    for (let c0 = 0; c0 < cols; c0 += 4 * max) {
      const vectors = Math.min(max, (cols - c0) / 4);
      const at = (r0 * cols + c0) * 4;
      (fns[`v${vectors}`] as ReduceFn)(
        xa + at,
        da + at,
        ca + c0 * 4,
        pa + nSums * c0 * 4,
        n,
        stride,
      );
    }
    const p = s.view(partial);
    for (let c0 = 0; c0 < cols; c0 += 4 * max) {
      const width = Math.min(4 * max, cols - c0);
      for (let j = 0; j < nSums; j++) {
        const sum = sums[j] as Float64Array;
        for (let c = 0; c < width; c++)
          sum[c0 + c] = (sum[c0 + c] as number) + (p[nSums * c0 + j * width + c] as number);
      }
    }
  }
  return sums;
}

/**
 * The sums (or means) over the first `axes` axes of float32 `x`, shape `x.shape.slice(axes)`,
 * or `null` when the trailing size is not a multiple of 4 or the heap cannot be reached.
 * @internal
 */
export function leadingAxesSum(
  s: WasmScope,
  x: TensorInfo,
  axes: number,
  mean: boolean,
): TensorInfo | null {
  if (x.dtype !== 'float32') return null;
  const rows = x.shape.slice(0, axes).reduce((a, b) => a * b, 1);
  const cols = x.shape.slice(axes).reduce((a, b) => a * b, 1);
  if (rows === 0) return null;
  const sums = columnSums(s, 'sum', { x }, rows, cols);
  if (!sums) return null;
  const total = sums[0] as Float64Array;
  const scale = mean ? 1 / rows : 1;
  return s.float32(x.shape.slice(axes), (o) => {
    for (let c = 0; c < cols; c++) o[c] = (total[c] as number) * scale;
  });
}
