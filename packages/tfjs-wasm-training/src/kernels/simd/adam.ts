/**
 * One Adam update of a variable as a single WebAssembly SIMD pass over the heap, with the exact
 * float32 operation order of the composed tfjs ops in `train/adam.ts` (so results are
 * bit-identical to them):
 *
 *   m' = m·β1 + g·(1−β1);  v' = v·β2 + (g·g)·(1−β2);
 *   w' = w − ((m' / (1−β1ᵗ)) / (√(v' / (1−β2ᵗ)) + ε))·lr
 *
 * Constants arrive already rounded to float32 (as tfjs' scalar tensors hold them).
 * @internal
 */
import { F32, FunctionBuilder, I32, SimdOp, V128 } from './wasm_asm.js';

/** The float32 constants of one update, in kernel parameter order. */
export const ADAM_CONSTANTS = [
  'beta1',
  'oneMinusBeta1',
  'beta2',
  'oneMinusBeta2',
  'bias1',
  'bias2',
  'epsilon',
  'lr',
] as const;
export type AdamConstants = Record<(typeof ADAM_CONSTANTS)[number], number>;

/** `(w, m, v, g, wOut, mOut, vOut, vectors ≥ 1, ...constants)`: byte addresses. */
export type AdamFn = (...args: number[]) => void;

export function buildAdam(): FunctionBuilder {
  const f = new FunctionBuilder([
    ...Array<number>(8).fill(I32),
    ...Array<number>(ADAM_CONSTANTS.length).fill(F32),
  ]);
  const [W, M, V, G, WO, MO, VO, N] = [0, 1, 2, 3, 4, 5, 6, 7] as const;
  const k = ADAM_CONSTANTS.map(() => f.local(V128));
  k.forEach((local, i) =>
    f
      .get(8 + i)
      .simd(SimdOp.f32x4Splat)
      .set(local),
  );
  const [b1, c1, b2, c2, bc1, bc2, eps, lr] = k as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const g = f.local(V128);
  const m1 = f.local(V128);
  const v1 = f.local(V128);
  f.loop(() => {
    f.get(G).load(0).set(g);
    // m' = m·β1 + g·(1−β1)
    f.get(M).load(0).get(b1).f32x4Mul().get(g).get(c1).f32x4Mul().f32x4Add().set(m1);
    // v' = v·β2 + (g·g)·(1−β2)
    f.get(V)
      .load(0)
      .get(b2)
      .f32x4Mul()
      .get(g)
      .get(g)
      .f32x4Mul()
      .get(c2)
      .f32x4Mul()
      .f32x4Add()
      .set(v1);
    f.get(MO).get(m1).store(0);
    f.get(VO).get(v1).store(0);
    // w' = w − ((m'/bc1) / (√(v'/bc2) + ε))·lr
    f.get(WO).get(W).load(0);
    f.get(m1).get(bc1).simd(SimdOp.f32x4Div);
    f.get(v1).get(bc2).simd(SimdOp.f32x4Div).simd(SimdOp.f32x4Sqrt).get(eps).f32x4Add();
    f.simd(SimdOp.f32x4Div).get(lr).f32x4Mul().simd(SimdOp.f32x4Sub).store(0);
    for (const p of [W, M, V, G, WO, MO, VO]) f.get(p).i32(16).add().set(p);
    f.get(N).i32(1).sub().tee(N).brIf(0);
  });
  return f;
}

/**
 * The same update in JavaScript from element `start` on (float32-exact via fround), over
 * `[w, m, v, g, wOut, mOut, vOut]`.
 */
export function adamScalar(arrays: readonly Float32Array[], c: AdamConstants, start: number): void {
  const [w, m, v, g, wOut, mOut, vOut] = arrays as [
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
  ];
  const f = Math.fround;
  for (let i = start; i < w.length; i++) {
    const gi = g[i] as number;
    const mi = f(f((m[i] as number) * c.beta1) + f(gi * c.oneMinusBeta1));
    const vi = f(f((v[i] as number) * c.beta2) + f(f(gi * gi) * c.oneMinusBeta2));
    mOut[i] = mi;
    vOut[i] = vi;
    const update = f(f(mi / c.bias1) / f(f(Math.sqrt(f(vi / c.bias2))) + c.epsilon));
    wOut[i] = f((w[i] as number) - f(update * c.lr));
  }
}
