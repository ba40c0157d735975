/**
 * `y = exp(x)` elementwise over float32 data on the wasm backend's heap, as a WebAssembly SIMD
 * kernel (four lanes per step; the last `n mod 4` elements one at a time through lane 0).
 *
 * The method is Cephes' `expf`: `n = ⌊x·log₂e + ½⌋`, `r = x − n·C₁ − n·C₂` with
 * `C₁ + C₂ ≈ ln 2` split so that `n·C₁` is exact, a degree-7 polynomial
 * `p(r) ≈ eʳ` on `|r| ≤ ½ ln 2`, then `p · 2ⁿ` with `2ⁿ` built from exponent bits. The scaling
 * is two factors `2^⌊n/2⌋ · 2^(n − ⌊n/2⌋)`, so `n = 128` (x up to ln FLT_MAX) and the
 * gradual-underflow range (`n` down to −150) need no special cases: each factor is a normal
 * float and the product rounds once.
 *
 * Behaviour (against float64 `Math.exp`; test/kernels/exp-simd.test.ts checks a dense sweep, and
 * a one-off run over every float32 in [−104, 89] measured at most 8.2e-8 relative error and at
 * most 1 ulp from the correctly rounded result): relative error ≤ 2e-7 wherever the result is a
 * normal float; `+Inf` from
 * x ≥ 88.72283935546875 (the first float32 whose exp overflows), `+Inf` → `+Inf`; subnormal
 * results for −103.97 ≲ x < −87.34 come out of the final rounding (no flush to zero:
 * WebAssembly keeps subnormals), with the absolute error of that rounding; 0 below that and
 * for `−Inf`; NaN → NaN. Inputs are clamped to [−110, 89] first (with `pmin`/`pmax`, which
 * pass NaN through), which keeps `n` in range.
 * @internal
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { WasmScope } from '../wasm_util.js';
import { FunctionBuilder, I32, Op, SimdOp, V128 } from './wasm_asm.js';
import { heapAccess, kernelsFor } from './heap.js';

/** `(x, y, n)`: byte addresses of `n` float32 inputs and outputs (may be the same array). */
type ExpFn = (x: number, y: number, n: number) => void;

const LOG2E = Math.LOG2E;
const C1 = 0.693359375;
const C2 = -2.1219444e-4;
const P = [
  1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
  5.0000001201e-1,
] as const;
/** Inputs are clamped to this range: exp(−110) rounds to 0, exp(89) overflows. */
const LO = -110;
const HI = 89;

/** Float32 constants, each splatted once into a v128 local before the loops. */
const CONSTANTS = {
  lo: LO,
  hi: HI,
  log2e: LOG2E,
  half: 0.5,
  c1: C1,
  c2: C2,
  p0: P[0],
  p1: P[1],
  p2: P[2],
  p3: P[3],
  p4: P[4],
  p5: P[5],
  one: 1,
  // 1.5·2²³: for an integer-valued |t| < 2²², bits(t + MAGIC) = bits(MAGIC) + t.
  magic: 12582912,
} as const;
type Constants = Record<keyof typeof CONSTANTS, number>;

/**
 * Emits exp of the v128 in local `v` (four float32 lanes), leaving the result on the stack.
 * `k` holds the v128 locals of {@link CONSTANTS}; `fx`, `r`, `m` are scratch v128 locals.
 */
function emitExp(
  f: FunctionBuilder,
  k: Constants,
  v: number,
  fx: number,
  r: number,
  m: number,
): void {
  const mul = () => f.f32x4Mul();
  const add = () => f.f32x4Add();
  const sub = () => f.simd(SimdOp.f32x4Sub);
  // v = pmin(pmax(v, LO), HI): NaN in v passes through. pmin/pmax are single x86 instructions
  // (wasm's min/max, with their NaN and ±0 rules, cost ~8 and made the kernel 1.7× slower).
  f.get(v).get(k.lo).simd(SimdOp.f32x4Pmax).get(k.hi).simd(SimdOp.f32x4Pmin).set(v);
  // fx = floor(v·log2e + 0.5)
  f.get(v).get(k.log2e);
  mul();
  f.get(k.half);
  add();
  f.simd(SimdOp.f32x4Floor).set(fx);
  // r = (v − fx·C1) − fx·C2
  f.get(v).get(fx).get(k.c1);
  mul();
  sub();
  f.get(fx).get(k.c2);
  mul();
  sub();
  f.set(r);
  // p = ((((P0·r + P1)·r + P2)·r + P3)·r + P4)·r + P5
  f.get(r).get(k.p0);
  mul();
  f.get(k.p1);
  add();
  for (const c of [k.p2, k.p3, k.p4, k.p5]) {
    f.get(r);
    mul();
    f.get(c);
    add();
  }
  // (p·r² + r) + 1
  f.get(r).get(r);
  mul();
  mul();
  f.get(r);
  add();
  f.get(k.one);
  add();
  // × 2^h × 2^(n − h), h = n >> 1: with m = bits(fx + MAGIC) = bits(MAGIC) + n, the exponent
  // bits (e + 127) << 23 of 2^e are (m >> 1) << 23 + bits(1) and (m − (m >> 1)) << 23 + bits(1)
  // (bits(MAGIC) and bits(MAGIC) >> 1 have 9 low zero bits: the shift by 23 drops them).
  f.get(fx).get(k.magic);
  add();
  f.tee(m).i32(1).simd(SimdOp.i32x4ShrS).tee(fx); // fx now holds m >> 1 (as i32)
  f.i32(23).simd(SimdOp.i32x4Shl).get(k.one).simd(SimdOp.i32x4Add);
  mul();
  f.get(m).get(fx).simd(SimdOp.i32x4Sub);
  f.i32(23).simd(SimdOp.i32x4Shl).get(k.one).simd(SimdOp.i32x4Add);
  mul();
}

/** The kernel: see the module comment and {@link ExpFn}. */
function buildKernel(): FunctionBuilder {
  const f = new FunctionBuilder([I32, I32, I32]);
  const [X, Y, N] = [0, 1, 2] as const;
  const end = f.local(I32); // X + 16·⌊n/4⌋, then X + 4n
  const k = {} as Constants;
  for (const [name, value] of Object.entries(CONSTANTS)) {
    const l = f.local(V128);
    f.f32x4Const(value).set(l);
    k[name as keyof Constants] = l;
  }
  const v = f.local(V128);
  const fx = f.local(V128);
  const r = f.local(V128);
  const m = f.local(V128);
  f.get(X).get(N).i32(-4).op(Op.i32And).i32(4).mul().add().set(end);
  f.block(() => {
    f.get(X).get(end).op(Op.i32GeU).brIf(0); // no whole vector
    f.loop(() => {
      f.get(X).load().set(v);
      f.get(Y);
      emitExp(f, k, v, fx, r, m);
      f.store();
      f.get(Y).i32(16).add().set(Y);
      f.get(X).i32(16).add().tee(X).get(end).ltU().brIf(0);
    });
  });
  f.get(end).get(N).i32(3).op(Op.i32And).i32(4).mul().add().set(end);
  f.block(() => {
    f.get(X).get(end).op(Op.i32GeU).brIf(0); // no tail
    f.loop(() => {
      f.get(X).loadSplat().set(v);
      f.get(Y);
      emitExp(f, k, v, fx, r, m);
      f.extractLane(0).f32Store();
      f.get(Y).i32(4).add().set(Y);
      f.get(X).i32(4).add().tee(X).get(end).ltU().brIf(0);
    });
  });
  return f;
}

/**
 * `exp(x)` of a float32 tensor on the wasm heap, or `null` where this kernel cannot run (not
 * float32, no WebAssembly SIMD, heap not reachable); the caller then runs tfjs' own kernel.
 * @internal
 */
export function expSimd(s: WasmScope, x: TensorInfo): TensorInfo | null {
  if (x.dtype !== 'float32') return null;
  const heap = heapAccess(s.backend);
  if (!heap) return null;
  const kernel = kernelsFor<{ exp: ExpFn }>(heap, 'exp', () => ({ exp: buildKernel() })).exp;
  const y = s.float32([...x.shape], () => {});
  const size = x.shape.reduce((a, b) => a * b, 1);
  if (size > 0) kernel(heap.address(x), heap.address(y), size);
  return y;
}
