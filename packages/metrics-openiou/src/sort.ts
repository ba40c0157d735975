/**
 * Sorting helpers for the exact mode. float32 scores are stored as *ordered uint32 keys*
 * (`orderedKey`): unsigned comparison of keys equals numeric comparison of the floats, with
 * −0 and +0 merged. An LSD radix sort (3 passes of 11 bits) sorts them about 4× faster than
 * `Float32Array.prototype.sort` in V8.
 * @internal
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Ordered uint32 key of float32 bits. */
export function orderedKeyOfBits(b: number): number {
  if (b === 0x80000000) return 0x80000000; // −0 → +0
  return b >>> 31 === 1 ? ~b >>> 0 : (b | 0x80000000) >>> 0;
}

/** The float32 value of an ordered key. */
export function valueOfOrderedKey(k: number): number {
  u32[0] = k >= 0x80000000 ? (k & 0x7fffffff) >>> 0 : ~k >>> 0;
  return f32[0] as number;
}

/** Ordered key of a number that is exactly a float32. */
export function orderedKeyOf(x: number): number {
  f32[0] = x;
  return orderedKeyOfBits(u32[0] as number);
}

/**
 * Sorts `keys` ascending in place. `scratch` (same length or longer) is clobbered; pass one to
 * reuse memory. Small arrays use the native sort.
 */
export function radixSortU32(keys: Uint32Array, scratch?: Uint32Array): void {
  const n = keys.length;
  if (n < 2048) {
    keys.sort();
    return;
  }
  const tmp =
    scratch !== undefined && scratch.length >= n ? scratch.subarray(0, n) : new Uint32Array(n);
  const counts = new Uint32Array(2048 * 3);
  for (let i = 0; i < n; i++) {
    const v = keys[i] as number;
    counts[v & 2047]!++;
    counts[2048 + ((v >>> 11) & 2047)]!++;
    counts[4096 + (v >>> 22)]!++;
  }
  let src = keys;
  let dst = tmp;
  for (let pass = 0; pass < 3; pass++) {
    const base = pass * 2048;
    const shift = pass * 11;
    // skip a pass where every key has the same digit
    let trivial = false;
    let sum = 0;
    for (let b = 0; b < 2048; b++) {
      const c = counts[base + b] as number;
      if (c === n) trivial = true;
      counts[base + b] = sum;
      sum += c;
    }
    if (trivial) continue;
    for (let i = 0; i < n; i++) {
      const v = src[i] as number;
      const d = base + ((v >>> shift) & 2047);
      dst[counts[d] as number] = v;
      counts[d]!++;
    }
    const s = src;
    src = dst;
    dst = s;
  }
  if (src !== keys) keys.set(src);
}
