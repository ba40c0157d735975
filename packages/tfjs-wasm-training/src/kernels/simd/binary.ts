/**
 * Broadcasting float32 `Add`/`Sub`/`Multiply`/`RealDiv` on the wasm heap for the two shapes a
 * training step broadcasts all the time, which tfjs' wasm kernels run through a slow
 * per-element index computation:
 *
 * - per channel: `x[..., C] ⊕ v[C]` (batch norm, biases): `C` a multiple of 4;
 * - per row: `x[..., C] ⊕ v[..., 1]` (a per-pixel log-sum-exp or softmax normaliser), `C` a
 *   multiple of 4.
 *
 * Either operand may be the broadcast one (`v ⊕ x` keeps the operand order for `Sub`/`RealDiv`).
 * @internal
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmScope } from '../wasm_util.js';
import { heapAccess, kernelsFor } from './heap.js';
import { FunctionBuilder, I32, SimdOp, V128 } from './wasm_asm.js';

/** The binary operations, by tfjs kernel name. */
export const BINARY_OPS = {
  Add: SimdOp.f32x4Add,
  Sub: SimdOp.f32x4Sub,
  Multiply: SimdOp.f32x4Mul,
  RealDiv: SimdOp.f32x4Div,
} as const;
export type BinaryOp = keyof typeof BINARY_OPS;

/** `(x, v, out, rows ≥ 1, vectorsPerRow ≥ 1)`. */
type BroadcastFn = (x: number, v: number, out: number, rows: number, vectors: number) => void;

/**
 * `perRow`: `v` has one value per row (splat), else one vector per column block (reset each
 * row). `swapped`: compute `v ⊕ x` instead of `x ⊕ v`.
 */
function buildBroadcast(op: number, perRow: boolean, swapped: boolean): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32, I32, I32]);
  const [X, VEC, OUT, ROWS, VECTORS] = [0, 1, 2, 3, 4] as const;
  const k = f.local(I32);
  const vp = f.local(I32);
  const sv = f.local(V128);
  f.loop(() => {
    if (perRow) f.get(VEC).loadSplat(0).set(sv);
    f.get(VEC).set(vp);
    f.get(VECTORS).set(k);
    f.loop(() => {
      f.get(OUT);
      const pushV = () => (perRow ? f.get(sv) : f.get(vp).load(0));
      if (swapped) {
        pushV();
        f.get(X).load(0);
      } else {
        f.get(X).load(0);
        pushV();
      }
      f.simd(op).store(0);
      f.get(X).i32(16).add().set(X);
      f.get(OUT).i32(16).add().set(OUT);
      if (!perRow) f.get(vp).i32(16).add().set(vp);
      f.get(k).i32(1).sub().tee(k).brIf(0);
    });
    if (perRow) f.get(VEC).i32(4).add().set(VEC);
    f.get(ROWS).i32(1).sub().tee(ROWS).brIf(0);
  });
  return f;
}

/** How `small` broadcasts against `big`, or `null` for any other pair of shapes. */
function pattern(big: readonly number[], small: readonly number[]): 'channel' | 'row' | null {
  const c = big[big.length - 1] as number;
  const size = small.reduce((a, b) => a * b, 1);
  if (big.length < 1 || c % 4 !== 0 || small.length > big.length) return null;
  const rows = big.reduce((a, b) => a * b, 1) / c;
  if (rows === 0) return null;
  if (size === c && small[small.length - 1] === c) return rows > 1 ? 'channel' : null;
  if (
    small.length === big.length &&
    small[small.length - 1] === 1 &&
    small.slice(0, -1).every((d, i) => d === big[i]) &&
    c > 1
  )
    return 'row';
  return null;
}

/**
 * `a ⊕ b` for one of the broadcast patterns in the module comment, or `null` (the caller falls
 * back to tfjs' kernel) for any other shapes, dtypes, or where the heap cannot be reached.
 * @internal
 */
export function broadcastBinary(
  s: WasmScope,
  op: BinaryOp,
  a: TensorInfo,
  b: TensorInfo,
): TensorInfo | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const aSize = a.shape.reduce((x, y) => x * y, 1);
  const bSize = b.shape.reduce((x, y) => x * y, 1);
  const swapped = bSize > aSize;
  const [big, small] = swapped ? [b, a] : [a, b];
  const kind = pattern(big.shape, small.shape);
  if (!kind) return null;
  const heap = heapAccess(s.backend);
  if (!heap) return null;
  const name = `${op}_${kind}_${swapped ? 'vx' : 'xv'}`;
  const fn = kernelsFor<Record<string, BroadcastFn>>(heap, `broadcast:${name}`, () => ({
    [name]: buildBroadcast(BINARY_OPS[op], kind === 'row', swapped),
  }))[name] as BroadcastFn;
  const c = big.shape[big.shape.length - 1] as number;
  const rows = Math.max(aSize, bSize) / c;
  const out = s.float32([...big.shape], () => undefined);
  fn(heap.address(big), heap.address(small), heap.address(out), rows, c / 4);
  return out;
}
