/**
 * float16 helpers. SMIYC stores anomaly scores as IEEE-754 half floats; the histogram mode of
 * {@link AnomalyMetricsAccumulator} and `OpenSetSweep` keep one bin per float16 value.
 *
 * A float16 value is addressed by its *ordered key* in [0, 65535] ({@link float16OrderKey}):
 * keys sort like the values they stand for, `-0` and `+0` share key `0x8000`, `-Infinity` is the
 * smallest key in use (`0x0400`) and `+Infinity` the largest (`0xfc00`).
 */

import { orderedKeyOfBits, valueOfOrderedKey } from './sort.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Number of ordered float16 keys (one histogram bin each). */
export const FLOAT16_BINS = 65536;

/**
 * Rounds float32 bits to float16 magnitude bits (round to nearest, ties to even; values whose
 * magnitude rounds above 65504 become Infinity, NaN too). `value` must be the same number as the
 * bits.
 * @internal
 */
function halfMagnitude(bits: number, value: number): number {
  const a = bits & 0x7fffffff;
  if (a >= 0x38800000) {
    // normal float16: rebias the exponent (127 − 15 = 112), round the 13 dropped mantissa bits
    if (a >= 0x477ff000) return 0x7c00;
    return (a - 0x38000000 + 0xfff + ((a >>> 13) & 1)) >>> 13;
  }
  // subnormal float16: magnitude / 2^-24, rounded half to even
  const v = Math.abs(value) * 16777216;
  let r = Math.floor(v);
  const d = v - r;
  if (d > 0.5 || (d === 0.5 && (r & 1) === 1)) r++;
  return r;
}

/**
 * {@link float16OrderKey} of a float32 given as its bits and its value (the hot-loop form: the
 * histogram and the open-set sweep read scores as `Uint32Array` views).
 * @internal
 */
export function orderKeyOfBits(bits: number, value: number): number {
  const h = halfMagnitude(bits, value);
  return h === 0 ? 0x8000 : bits >>> 31 === 1 ? 0x8000 - h : 0x8000 + h;
}

/**
 * The ordered float16 key of a number (rounded to float32, then to float16, ties to even): the
 * bin a score falls into in the histogram mode of {@link AnomalyMetricsAccumulator} and in
 * `OpenSetSweep`. `key(a) < key(b)` ⇔ `f16(a) < f16(b)`; −0 and +0 share `0x8000`; a negative
 * value of float16 magnitude bits `h` has key `0x8000 − h`, a positive one `0x8000 + h`.
 * Magnitudes that round above 65504 share the key of ±Infinity; NaN (not orderable) gets the key
 * of the Infinity of its sign bit.
 *
 * @param x - any number.
 * @returns an integer in [0x0400, 0xfc00].
 * @example
 * ```ts
 * float16OrderKey(-1); // 17408 = 0x8000 - 0x3c00
 * float16OrderKey(-1) < float16OrderKey(0.5); // true
 * ```
 */
export function float16OrderKey(x: number): number {
  f32[0] = x;
  return orderKeyOfBits(u32[0] as number, f32[0] as number);
}

let keyValues: Float64Array | null = null;

/** The float16 value an ordered key stands for (`+0` for the key of ±0). @internal */
export function valueOfKey(k: number): number {
  if (keyValues === null) {
    keyValues = new Float64Array(FLOAT16_BINS);
    for (let j = 0; j < FLOAT16_BINS; j++) {
      keyValues[j] =
        j === 0x8000
          ? 0
          : j > 0x8000
            ? float16Value(j - 0x8000)
            : float16Value(0x8000 | (0x8000 - j));
    }
  }
  return keyValues[k] as number;
}

/**
 * The smallest float32 whose float16 key is `k`: `score >= lowerEdgeOfKey(k)` selects exactly the
 * float32 scores that fall into bins `>= k`. @internal
 */
export function lowerEdgeOfKey(k: number): number {
  // binary search over all finite float32 in value order
  let lo = orderedKeyOfBits(0xff7fffff); // −max float32
  let hi = orderedKeyOfBits(0x7f7fffff); // +max float32
  if (float16KeyOfOrdered(lo) >= k) return valueOfOrderedKey(lo);
  // invariant: key(lo) < k <= key(hi) (k is a key that was observed, so hi works)
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (float16KeyOfOrdered(mid) >= k) hi = mid;
    else lo = mid;
  }
  const v = valueOfOrderedKey(hi);
  return v === 0 ? 0 : v;
}

function float16KeyOfOrdered(o: number): number {
  return float16OrderKey(valueOfOrderedKey(o));
}

/**
 * Rounds a number to the nearest float16 value (ties to even, via float32), as SMIYC's
 * `astype(np.float16)` does for float32 input.
 *
 * @param x - any number; NaN stays NaN, magnitudes above 65504 become ±Infinity.
 * @returns the float16 value as a JS number.
 * @example
 * ```ts
 * roundToFloat16(0.1); // 0.0999755859375
 * ```
 */
export function roundToFloat16(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const v = valueOfKey(float16OrderKey(x));
  return v === 0 && (Object.is(x, -0) || x < 0) ? -0 : v;
}

/**
 * Rounds a double straight to the nearest float16 (ties to even; magnitudes from 65520 up
 * become ±Infinity), as numpy's `npy_double_to_half` does when it casts a float64 scalar to
 * float16 — e.g. when `float16_array > np.float64(t)` compares in float16 under numpy < 2's
 * value-based casting. (Unlike {@link roundToFloat16} it does not round to float32 first.)
 * @internal
 */
export function doubleToFloat16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= 65520) return x > 0 ? Infinity : -Infinity;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  // a half has 10 fraction bits; below 2^-14 the spacing stays 2^-24 (subnormals)
  const ulp = 2 ** (Math.max(e, -14) - 10);
  const q = a / ulp; // exact: ulp is a power of two
  let r = Math.floor(q);
  const d = q - r;
  if (d > 0.5 || (d === 0.5 && r % 2 === 1)) r++;
  const v = r * ulp;
  return x < 0 ? -v : v;
}

/**
 * Encodes numbers as IEEE-754 half-float bits (the on-disk format of SMIYC score maps).
 *
 * @param values - scores (any numeric array).
 * @returns a new `Uint16Array` of float16 bit patterns (NaN becomes `0x7e00`).
 * @example
 * ```ts
 * toFloat16Bits([1, -2]); // Uint16Array [0x3c00, 0xc000]
 * ```
 */
export function toFloat16Bits(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = values[i] as number;
    out[i] = Number.isNaN(x) ? 0x7e00 : float16Bits(x);
  }
  return out;
}

let decodeTable: Float32Array | null = null;

/**
 * Every binary16 bit pattern's value, indexed by the bits (256 KiB, built on first use):
 * decoding a half is one lookup. Shared by {@link fromFloat16Bits} and `decodeNpy`; do not
 * write to it.
 * @internal
 */
export function float16Table(): Float32Array {
  if (decodeTable === null) {
    decodeTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) decodeTable[h] = float16Value(h);
  }
  return decodeTable;
}

/**
 * Decodes IEEE-754 half-float bits into a `Float32Array` (every float16 value is exact there).
 *
 * @param bits - float16 bit patterns, e.g. read from a SMIYC `.hdf5`/`.npy` score map.
 * @returns a new `Float32Array` with the same length.
 * @example
 * ```ts
 * fromFloat16Bits(new Uint16Array([0x3c00])); // Float32Array [1]
 * ```
 */
export function fromFloat16Bits(bits: ArrayLike<number>): Float32Array {
  const table = float16Table();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[(bits[i] as number) & 0xffff] as number;
  return out;
}

/**
 * IEEE 754 binary16 bits of a number, rounded to nearest even via float32 (overflow → ±Infinity,
 * NaN → `sign | 0x7e00`). Equal to {@link toFloat16Bits} on every non-NaN input.
 *
 * @example
 * ```ts
 * import { float16Bits } from '@densehybrid/metrics-openiou';
 * float16Bits(1); // 0x3c00
 * ```
 */
export function float16Bits(value: number): number {
  f32[0] = value;
  const b = u32[0] as number;
  const sign = (b >>> 16) & 0x8000;
  if ((b & 0x7fffffff) > 0x7f800000) return sign | 0x7e00; // NaN keeps its sign
  return sign | halfMagnitude(b, f32[0] as number);
}

/**
 * The number a binary16 bit pattern stands for.
 *
 * @example
 * ```ts
 * import { float16Value } from '@densehybrid/metrics-openiou';
 * float16Value(0x3c00); // 1
 * ```
 */
export function float16Value(bits: number): number {
  const s = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
