/**
 * Float64 plain-JS references for the tests: written from the formulas, sharing no code with
 * the library.
 */
// tfjs-core alone registers no gradients; @tensorflow/tfjs (the union package) imports this.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

export const BACKENDS = ['cpu', 'wasm'] as const;

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [lo, hi) rounded to float32 (so JS and tfjs see the same numbers). */
export function randomArray(n: number, seed: number, lo = -3, hi = 3): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround(lo + (hi - lo) * r());
  return out;
}

/** Random labels drawn from `values`. */
export function randomLabels(n: number, seed: number, values: readonly number[]): Int32Array {
  const r = rng(seed);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = values[Math.floor(r() * values.length)] as number;
  return out;
}

/** A dense NHWC array in float64. */
export interface Arr4 {
  readonly data: Float64Array;
  readonly shape: readonly [number, number, number, number];
}

function at(a: Arr4, n: number, y: number, x: number, c: number): number {
  const [, h, w, k] = a.shape;
  return a.data[((n * h + y) * w + x) * k + c] as number;
}

/** PyTorch F.interpolate(mode='bilinear', align_corners=False), written from its definition. */
export function bilinearRef(a: Arr4, H: number, W: number): Arr4 {
  return resizeRef(a, H, W, 'half-pixel');
}

/**
 * Bilinear resizing with TensorFlow's three coordinate rules: half-pixel centres (= PyTorch
 * align_corners=False), align-corners, legacy (src = y·in/out).
 */
export function resizeRef(
  a: Arr4,
  H: number,
  W: number,
  mode: 'half-pixel' | 'align-corners' | 'legacy',
): Arr4 {
  const [N, h, w, C] = a.shape;
  const out = new Float64Array(N * H * W * C);
  const src = (d: number, inSize: number, outSize: number): [number, number, number] => {
    let s: number;
    if (mode === 'align-corners') s = outSize > 1 ? (d * (inSize - 1)) / (outSize - 1) : 0;
    else if (mode === 'legacy') s = (d * inSize) / outSize;
    else s = ((d + 0.5) * inSize) / outSize - 0.5;
    if (s < 0) s = 0;
    const i0 = Math.min(Math.floor(s), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    return [i0, i1, s - i0];
  };
  for (let n = 0; n < N; n++)
    for (let y = 0; y < H; y++) {
      const [y0, y1, ly] = src(y, h, H);
      for (let x = 0; x < W; x++) {
        const [x0, x1, lx] = src(x, w, W);
        for (let c = 0; c < C; c++) {
          const v =
            (1 - ly) * ((1 - lx) * at(a, n, y0, x0, c) + lx * at(a, n, y0, x1, c)) +
            ly * ((1 - lx) * at(a, n, y1, x0, c) + lx * at(a, n, y1, x1, c));
          out[((n * H + y) * W + x) * C + c] = v;
        }
      }
    }
  return { data: out, shape: [N, H, W, C] };
}

/** Row `c = 0..K-1` of pixel p. */
export function pixel(a: Arr4, p: number): number[] {
  const k = a.shape[3];
  return Array.from(a.data.subarray(p * k, p * k + k));
}

export function lse(v: readonly number[]): number {
  const m = Math.max(...v);
  return m + Math.log(v.reduce((acc, x) => acc + Math.exp(x - m), 0));
}

export function softmax(v: readonly number[]): number[] {
  const l = lse(v);
  return v.map((x) => Math.exp(x - l));
}

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
/** Mean of the values, 0 for none. */
export function mean(v: readonly number[]): number {
  return v.length === 0 ? 0 : v.reduce((a, b) => a + b, 0) / v.length;
}

/** Central finite differences of f at x (float64). */
export function numericGradient(
  f: (x: Float64Array) => number,
  x: Float64Array,
  h = 1e-5,
): Float64Array {
  const g = new Float64Array(x.length);
  const y = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    const xi = x[i] as number;
    y[i] = xi + h;
    const fp = f(y);
    y[i] = xi - h;
    const fm = f(y);
    y[i] = xi;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/** max |a − b| / (atol + rtol·|b|) ≤ 1 for every element. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol = 1e-5,
  rtol = 1e-4,
): void {
  if (actual.length !== expected.length)
    throw new Error(`length ${actual.length} ≠ expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e)))
      throw new Error(`element ${i}: got ${a}, expected ${e} (atol ${atol}, rtol ${rtol})`);
  }
}
