import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';

/**
 * The complete state of an {@link Rng}: four 32-bit words of xoshiro128**. Plain data, so it can
 * be written to a checkpoint with `JSON.stringify` and restored with {@link createRng}.
 */
export interface RngState {
  readonly algorithm: 'xoshiro128**';
  readonly state: readonly [number, number, number, number];
}

/** A seeded pseudo-random generator (xoshiro128**, period 2^128 − 1). */
export interface Rng {
  /** A uniform float in [0, 1) with 32 bits of resolution. */
  next(): number;
  /** A uniform unsigned 32-bit integer. */
  uint32(): number;
  /** A uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** A uniform integer in [0, n) (n ≥ 1), without modulo bias. */
  int(n: number): number;
  /** True with probability p. */
  bernoulli(p: number): boolean;
  /** A copy of the current state, to checkpoint and later restore with `createRng(state)`. */
  getState(): RngState;
}

/** Folds one 32-bit word into a 32-bit hash (murmur3 fmix32 after a golden-ratio add). */
function mix32(h: number, k: number): number {
  let x = (h ^ Math.imul((k >>> 0) + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

function checkSeed(fn: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected ${name} to be a safe integer, got ${describeValue(value)}`,
    );
  }
  return value;
}

/** Splits a safe integer into its low and high 32-bit words (sign folded into the high word). */
function words(value: number): [number, number] {
  const lo = value >>> 0;
  const hi = Math.floor(value / 4294967296) >>> 0;
  return [lo, hi];
}

/**
 * Derives an independent 32-bit seed from a base seed and any number of integer keys, e.g.
 * `(seed, epoch, sampleIndex)`. The loader gives each sample its own generator this way, so a
 * sample's content never depends on worker timing.
 *
 * @param seed - base seed (safe integer).
 * @param keys - further safe integers (epoch, index, …).
 * @returns an unsigned 32-bit seed.
 * @throws DenseHybridError `INVALID_OPTION` when a value is not a safe integer.
 * @example
 * ```ts
 * const rng = createRng(deriveSeed(42, epoch, index));
 * ```
 */
export function deriveSeed(seed: number, ...keys: number[]): number {
  let h = 0x2545f491;
  for (const [i, v] of [seed, ...keys].entries()) {
    const [lo, hi] = words(checkSeed('deriveSeed', i === 0 ? 'seed' : `keys[${i - 1}]`, v));
    h = mix32(mix32(h, lo), hi ^ i);
  }
  return h;
}

/**
 * Creates a seeded generator, or restores one from a saved {@link RngState}.
 *
 * @param seed - a safe integer, or a state from `rng.getState()`.
 * @returns an {@link Rng}; the same seed always gives the same sequence.
 * @throws DenseHybridError `INVALID_OPTION` for a non-integer seed or a malformed state.
 * @example
 * ```ts
 * const rng = createRng(42);
 * const scale = rng.uniform(0.5, 2);
 * const saved = JSON.stringify(rng.getState());
 * const again = createRng(JSON.parse(saved)); // continues where rng stopped
 * ```
 */
export function createRng(seed: number | RngState): Rng {
  let s0: number, s1: number, s2: number, s3: number;
  if (typeof seed === 'object' && seed !== null) {
    const st = (seed as { state?: unknown }).state;
    if (
      seed.algorithm !== 'xoshiro128**' ||
      !Array.isArray(st) ||
      st.length !== 4 ||
      !st.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff) ||
      st.every((w) => w === 0)
    ) {
      throw new DenseHybridError(
        'INVALID_OPTION',
        `createRng: expected seed to be a safe integer or an RngState {algorithm:'xoshiro128**', state:[4 uint32, not all 0]}, got ${describeValue(seed)}`,
      );
    }
    [s0, s1, s2, s3] = st as [number, number, number, number];
  } else {
    const [lo, hi] = words(checkSeed('createRng', 'seed', seed));
    // splitmix-style expansion of the 64-bit seed into four non-zero words
    s0 = mix32(lo, 1) | 0;
    s1 = mix32(hi, s0) | 0;
    s2 = mix32(s1, lo ^ 0x6a09e667) | 0;
    s3 = mix32(s2, hi ^ 0xbb67ae85) | 0;
    if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  }
  s0 |= 0;
  s1 |= 0;
  s2 |= 0;
  s3 |= 0;
  const uint32 = (): number => {
    // xoshiro128**: result = rotl(s1 * 5, 7) * 9
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return r;
  };
  const next = (): number => uint32() / 4294967296;
  return {
    next,
    uint32,
    uniform: (lo, hi) => lo + (hi - lo) * next(),
    int: (n) => {
      if (!Number.isInteger(n) || n < 1 || n > 4294967296) {
        throw new DenseHybridError(
          'INVALID_INPUT',
          `Rng.int: expected n to be an integer in [1, 2^32], got ${describeValue(n)}`,
        );
      }
      // rejection sampling removes the modulo bias
      const limit = 4294967296 - (4294967296 % n);
      for (;;) {
        const r = uint32();
        if (r < limit) return r % n;
      }
    },
    bernoulli: (p) => next() < p,
    getState: () => ({
      algorithm: 'xoshiro128**',
      state: [s0 >>> 0, s1 >>> 0, s2 >>> 0, s3 >>> 0],
    }),
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
