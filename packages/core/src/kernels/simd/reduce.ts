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
import { FunctionBuilder, I32, V128 } from './wasm_asm.js';

/** `(x, out, rows ≥ 1, rowStride)`: writes the column sums of `vectors·4` columns to `out`. */
type SumFn = (x: number, out: number, rows: number, rowStride: number) => void;

/** Rows per partial sum. */
const CHUNK = 256;
/** The widest kernel: vectors of 4 columns per pass. */
const MAX_VECTORS = 8;

function buildSum(vectors: number): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32]);
  const [X, OUT, ROWS, STRIDE] = [0, 1, 2, 3] as const;
  const acc = Array.from({ length: vectors }, () => f.local(V128));
  f.loop(() => {
    for (let k = 0; k < vectors; k++) {
      const a = acc[k] as number;
      f.get(a)
        .get(X)
        .load(16 * k)
        .f32x4Add()
        .set(a);
    }
    f.get(X).get(STRIDE).add().set(X);
    f.get(ROWS).i32(1).sub().tee(ROWS).brIf(0);
  });
  for (let k = 0; k < vectors; k++)
    f.get(OUT)
      .get(acc[k] as number)
      .store(16 * k);
  return f;
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
  if (cols % 4 !== 0 || cols === 0 || rows === 0) return null;
  const heap = heapAccess(s.backend);
  if (!heap) return null;
  const fns = kernelsFor<Record<string, SumFn>>(heap, 'colsum', () =>
    Object.fromEntries(
      Array.from({ length: MAX_VECTORS }, (_, v) => [`sum${v + 1}`, buildSum(v + 1)]),
    ),
  );
  const partial = s.float32([cols], () => undefined);
  const xa = heap.address(x);
  const pa = heap.address(partial);
  const stride = cols * 4;
  const sums = new Float64Array(cols);
  for (let r0 = 0; r0 < rows; r0 += CHUNK) {
    const n = Math.min(CHUNK, rows - r0);
    for (let c0 = 0; c0 < cols; c0 += 4 * MAX_VECTORS) {
      const vectors = Math.min(MAX_VECTORS, (cols - c0) / 4);
      (fns[`sum${vectors}`] as SumFn)(xa + (r0 * cols + c0) * 4, pa + c0 * 4, n, stride);
    }
    const p = s.view(partial);
    for (let c = 0; c < cols; c++) sums[c] = (sums[c] as number) + (p[c] as number);
  }
  const scale = mean ? 1 / rows : 1;
  const out = s.float32(x.shape.slice(axes), (o) => {
    for (let c = 0; c < cols; c++) o[c] = (sums[c] as number) * scale;
  });
  return out;
}
