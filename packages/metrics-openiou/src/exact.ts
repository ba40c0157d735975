/**
 * Exact score storage: positives and negatives kept apart (labels need not be stored), as
 * ordered float32 keys while every score is a float32, upgraded to float64 on the first score
 * that is not: 4 bytes per non-ignored pixel (8 after an upgrade), sorted in place. Sorting
 * each side and merging them from the top walks the distinct thresholds.
 *
 * A store can hand its scores to a caller that persists them ({@link ExactScores.drain}, the
 * CLI's state files) and keep only their counts ("offloaded"); it accumulates and merges as
 * before and is {@link ExactScores.restore}d into exactly sized arrays before computing.
 * @internal
 */
import type { CurveSummary } from './curve.js';
import { DenseHybridError } from './errors.js';
import { radixSortU32, orderedKeyOf, orderedKeyOfBits, valueOfOrderedKey } from './sort.js';
import { badLabelError, nonFiniteError, type NumericArray } from './validate.js';

/** Element kinds of a store: ordered float32 keys, or float64 scores. */
export type ExactKind = 'f32' | 'f64';

/** The two sides of a store: anomaly (label 1) and inlier (label 0) scores. */
export type ExactSide = 'pos' | 'neg';

/** Per kind, per side: how many scores a store keeps outside memory. */
export type OffloadedCounts = Record<ExactKind, Record<ExactSide, number>>;

const noneOffloaded = (): OffloadedCounts => ({ f32: { pos: 0, neg: 0 }, f64: { pos: 0, neg: 0 } });

/**
 * Sorts ordered uint32 keys ascending in place with at most `n/16` keys of scratch (0.25 bytes
 * per key): an in-place MSD radix pass (American flag sort) on the top 11 bits, again on the
 * next 11 bits for buckets that are still large, and an LSD radix sort of the remaining low bits
 * of each bucket that fits the scratch (buckets of < 2048 keys: the native sort). Same result as
 * any sort (keys are numbers); about 1.5–3× the time of {@link radixSortU32}, which needs a
 * full-size scratch. Allocates nothing per bucket.
 */
export function sortKeysInPlace(keys: Uint32Array): void {
  const n = keys.length;
  if (n <= 1 << 16) {
    radixSortU32(keys);
    return;
  }
  const limit = Math.max(1 << 16, n >>> 4);
  let scratch: Uint32Array | null = null;
  const counts = new Uint32Array(2048);
  /** LSD radix of keys[a, e) on bits [0, bits) (the higher bits are equal in the bucket). */
  const lsd = (a: number, e: number, bits: number): void => {
    const buf = (scratch ??= new Uint32Array(limit));
    let src = keys;
    let srcAt = a;
    let dst = buf;
    let dstAt = 0;
    const m = e - a;
    for (let shift = 0; shift < bits; shift += 11) {
      const mask = (1 << Math.min(11, bits - shift)) - 1;
      counts.fill(0);
      for (let i = 0; i < m; i++) counts[((src[srcAt + i] as number) >>> shift) & mask]!++;
      let sum = 0;
      for (let b = 0; b <= mask; b++) {
        const c = counts[b] as number;
        counts[b] = sum;
        sum += c;
      }
      for (let i = 0; i < m; i++) {
        const v = src[srcAt + i] as number;
        dst[dstAt + counts[(v >>> shift) & mask]!++] = v;
      }
      const [s2, s2At] = [src, srcAt];
      src = dst;
      srcAt = dstAt;
      dst = s2;
      dstAt = s2At;
    }
    if (src !== keys) keys.set(src.subarray(srcAt, srcAt + m), a);
  };
  const level = (lo: number, hi: number, shift: number): void => {
    const bits = shift === 0 ? 10 : 11;
    const mask = (1 << bits) - 1;
    const buckets = 1 << bits;
    const start = new Uint32Array(buckets + 1);
    for (let i = lo; i < hi; i++) start[(((keys[i] as number) >>> shift) & mask) + 1]!++;
    for (let b = 0; b < buckets; b++) start[b + 1]! += start[b] as number;
    const next = start.slice(0, buckets);
    // cycle leader: each key is moved once into its bucket's next free slot
    for (let b = 0; b < buckets; b++) {
      const end = lo + (start[b + 1] as number);
      let i = lo + (next[b] as number);
      while (i < end) {
        let v = keys[i] as number;
        let d = (v >>> shift) & mask;
        while (d !== b) {
          const j = lo + next[d]!++;
          const t = keys[j] as number;
          keys[j] = v;
          v = t;
          d = (v >>> shift) & mask;
        }
        keys[i++] = v;
        next[b]!++;
      }
    }
    if (shift === 0) return; // every bit sorted
    for (let b = 0; b < buckets; b++) {
      const a = lo + (start[b] as number);
      const e = lo + (start[b + 1] as number);
      const size = e - a;
      if (size < 2) continue;
      if (size < 2048) keys.subarray(a, e).sort();
      else if (size <= limit) lsd(a, e, shift);
      else level(a, e, shift === 21 ? 10 : 0);
    }
  };
  level(0, n, 21);
}

/** Per-frame label census used by both modes. */
export interface LabelCounts {
  positives: number;
  negatives: number;
  ignored: number;
}

/** True when `v` is in `ignore`. */
export function isIgnored(v: number, ignore: readonly number[]): boolean {
  for (let k = 0; k < ignore.length; k++) if (ignore[k] === v) return true;
  return false;
}

/**
 * Validates scores and labels together and counts the classes. Throws `NON_FINITE` for a
 * NaN/±Infinity score, on ignored pixels too (a broken score map is a bug either way), and
 * `INVALID_INPUT` for a label outside {0, 1} ∪ ignore.
 * Returns whether every score is exactly a float32.
 */
export function census(
  fn: string,
  scores: NumericArray,
  labels: NumericArray,
  ignore: readonly number[],
  out: LabelCounts,
): boolean {
  let pos = 0;
  let neg = 0;
  let ign = 0;
  let allF32 = scores instanceof Float32Array;
  const checkF32 = !allF32;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    if (s - s !== 0) throw nonFiniteError(fn, 'scores', i, s);
    if (checkF32 && allF32 && Math.fround(s) !== s) allF32 = false;
    const l = labels[i] as number;
    if (l === 1) pos++;
    else if (l === 0) neg++;
    else if (isIgnored(l, ignore)) ign++;
    else throw badLabelError(fn, 'labels', i, l, ignore);
  }
  out.positives = pos;
  out.negatives = neg;
  out.ignored = ign;
  return allF32;
}

/** Growable exact store of positive and negative scores. */
export class ExactScores {
  kind: ExactKind = 'f32';
  pos: Uint32Array | Float64Array = new Uint32Array(0);
  neg: Uint32Array | Float64Array = new Uint32Array(0);
  posLen = 0;
  negLen = 0;
  /** Both sides sorted ascending (appending clears it). */
  sorted = true;
  /** Scores handed out by {@link drain}, by the kind they were drained as. */
  offloaded: OffloadedCounts = noneOffloaded();

  /** Bytes held. */
  get byteLength(): number {
    return this.pos.byteLength + this.neg.byteLength;
  }

  /** Scores kept outside memory (0 when everything is held). */
  get offloadedCount(): number {
    const o = this.offloaded;
    return o.f32.pos + o.f32.neg + o.f64.pos + o.f64.neg;
  }

  /** Positives and negatives, held or offloaded. */
  get total(): { pos: number; neg: number } {
    const o = this.offloaded;
    return {
      pos: this.posLen + o.f32.pos + o.f64.pos,
      neg: this.negLen + o.f32.neg + o.f64.neg,
    };
  }

  private upgrade(): void {
    if (this.kind === 'f64') return;
    const conv = (a: Uint32Array | Float64Array, n: number): Float64Array => {
      const out = new Float64Array(Math.max(a.length, 16));
      for (let i = 0; i < n; i++) out[i] = valueOfOrderedKey(a[i] as number);
      return out;
    };
    this.pos = conv(this.pos, this.posLen);
    this.neg = conv(this.neg, this.negLen);
    this.kind = 'f64';
  }

  /**
   * The held scores (views of `kind`, valid until the next append), counted as offloaded from
   * now on: the caller persists them before it adds anything else. The arrays' capacity stays.
   */
  drain(): { kind: ExactKind; pos: Uint32Array | Float64Array; neg: Uint32Array | Float64Array } {
    const out = {
      kind: this.kind,
      pos: this.pos.subarray(0, this.posLen),
      neg: this.neg.subarray(0, this.negLen),
    };
    this.offloaded[this.kind].pos += this.posLen;
    this.offloaded[this.kind].neg += this.negLen;
    this.posLen = 0;
    this.negLen = 0;
    return out;
  }

  /**
   * Takes the offloaded scores back into exactly sized arrays (no spare capacity): `read(kind,
   * side, bytes)` fills `bytes` with the side's offloaded scores of that kind, little-endian
   * (`offloaded[kind][side]` of them); the held ones follow. float32 keys of a store that has
   * float64 scores too are converted.
   */
  async restore(
    read: (kind: ExactKind, side: ExactSide, bytes: Uint8Array) => Promise<void>,
  ): Promise<void> {
    const o = this.offloaded;
    if (this.offloadedCount === 0) return;
    const kind: ExactKind = this.kind === 'f64' || o.f64.pos + o.f64.neg > 0 ? 'f64' : 'f32';
    const bytesOf = (a: Uint32Array | Float64Array): Uint8Array =>
      new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const side = async (s: ExactSide): Promise<Uint32Array | Float64Array> => {
      const held =
        s === 'pos' ? this.pos.subarray(0, this.posLen) : this.neg.subarray(0, this.negLen);
      const n32 = o.f32[s];
      const n64 = o.f64[s];
      if (kind === 'f32') {
        const out = new Uint32Array(n32 + held.length);
        if (n32 > 0) await read('f32', s, bytesOf(out.subarray(0, n32)));
        out.set(held as Uint32Array, n32);
        return out;
      }
      const out = new Float64Array(n64 + n32 + held.length);
      if (n64 > 0) await read('f64', s, bytesOf(out.subarray(0, n64)));
      if (n32 > 0) {
        const keys = new Uint32Array(n32);
        await read('f32', s, bytesOf(keys));
        for (let i = 0; i < n32; i++) out[n64 + i] = valueOfOrderedKey(keys[i] as number);
      }
      if (held instanceof Float64Array) out.set(held, n64 + n32);
      else
        for (let i = 0; i < held.length; i++)
          out[n64 + n32 + i] = valueOfOrderedKey(held[i] as number);
      return out;
    };
    const pos = await side('pos');
    const neg = await side('neg');
    this.kind = kind;
    this.pos = pos;
    this.neg = neg;
    this.posLen = pos.length;
    this.negLen = neg.length;
    this.offloaded = noneOffloaded();
    this.sorted = false;
  }

  private checkHeld(fn: string): void {
    if (this.offloadedCount > 0) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected every exact score in memory, got ${this.offloadedCount} offloaded to a state file (restore them first: SessionStateWriter.restore or readSessionState of @densehybrid/metrics-openiou/node)`,
      );
    }
  }

  private reserve(addPos: number, addNeg: number): void {
    const grow = (a: Uint32Array | Float64Array, used: number, add: number) => {
      if (used + add <= a.length) return a;
      const cap = Math.max(used + add, Math.ceil(a.length * 1.5), 1024);
      const b = a instanceof Uint32Array ? new Uint32Array(cap) : new Float64Array(cap);
      b.set(a.subarray(0, used));
      return b;
    };
    this.pos = grow(this.pos, this.posLen, addPos);
    this.neg = grow(this.neg, this.negLen, addNeg);
  }

  /** Appends already validated data (see {@link census}). */
  append(scores: NumericArray, labels: NumericArray, counts: LabelCounts, allF32: boolean): void {
    if (!allF32) this.upgrade();
    if (counts.positives + counts.negatives > 0) this.sorted = false;
    this.reserve(counts.positives, counts.negatives);
    let p = this.posLen;
    let q = this.negLen;
    const n = scores.length;
    if (this.kind === 'f32') {
      const pos = this.pos as Uint32Array;
      const neg = this.neg as Uint32Array;
      if (scores instanceof Float32Array) {
        const bits = new Uint32Array(scores.buffer, scores.byteOffset, n);
        for (let i = 0; i < n; i++) {
          const l = labels[i];
          if (l === 1) pos[p++] = orderedKeyOfBits(bits[i] as number);
          else if (l === 0) neg[q++] = orderedKeyOfBits(bits[i] as number);
        }
      } else {
        for (let i = 0; i < n; i++) {
          const l = labels[i];
          if (l === 1) pos[p++] = orderedKeyOf(scores[i] as number);
          else if (l === 0) neg[q++] = orderedKeyOf(scores[i] as number);
        }
      }
    } else {
      const pos = this.pos as Float64Array;
      const neg = this.neg as Float64Array;
      for (let i = 0; i < n; i++) {
        const l = labels[i];
        if (l === 1) pos[p++] = scores[i] as number;
        else if (l === 0) neg[q++] = scores[i] as number;
      }
    }
    this.posLen = p;
    this.negLen = q;
  }

  /** Appends another store's content (its offloaded scores stay offloaded, counted here). */
  appendStore(o: ExactScores): void {
    if (o.kind === 'f64') this.upgrade();
    for (const k of ['f32', 'f64'] as const)
      for (const s of ['pos', 'neg'] as const) this.offloaded[k][s] += o.offloaded[k][s];
    if (o.posLen + o.negLen > 0) this.sorted = false;
    this.reserve(o.posLen, o.negLen);
    const copy = (
      dst: Uint32Array | Float64Array,
      at: number,
      src: Uint32Array | Float64Array,
      n: number,
    ) => {
      if (dst instanceof Float64Array && src instanceof Uint32Array) {
        for (let i = 0; i < n; i++) dst[at + i] = valueOfOrderedKey(src[i] as number);
      } else dst.set(src.subarray(0, n), at);
    };
    copy(this.pos, this.posLen, o.pos, o.posLen);
    copy(this.neg, this.negLen, o.neg, o.negLen);
    this.posLen += o.posLen;
    this.negLen += o.negLen;
  }

  /**
   * Sorts both sides in place (ascending), unless they are. Small stores (one frame's) use a
   * full-size scratch, large ones {@link sortKeysInPlace}.
   * @throws DenseHybridError `INVALID_INPUT` while scores are offloaded
   */
  sort(): void {
    this.checkHeld('ExactScores.sort');
    if (this.sorted) return;
    if (this.kind === 'f32') {
      const pos = (this.pos as Uint32Array).subarray(0, this.posLen);
      const neg = (this.neg as Uint32Array).subarray(0, this.negLen);
      if (pos.length + neg.length <= 1 << 22) {
        const scratch = new Uint32Array(Math.max(pos.length, neg.length));
        radixSortU32(pos, scratch);
        radixSortU32(neg, scratch);
      } else {
        sortKeysInPlace(pos);
        sortKeysInPlace(neg);
      }
    } else {
      (this.pos as Float64Array).subarray(0, this.posLen).sort();
      (this.neg as Float64Array).subarray(0, this.negLen).sort();
    }
    this.sorted = true;
  }

  /** Threshold value of a key pushed by {@link walk}. */
  valueOf(key: number): number {
    return this.kind === 'f32' ? valueOfOrderedKey(key) : key === 0 ? 0 : key;
  }

  /** The score a key stands for (the threshold value itself: keys are scores). */
  scoreOf(key: number): number {
    return this.valueOf(key);
  }

  /** Pushes distinct thresholds descending into `summary`. Call {@link sort} first. */
  walk(summary: CurveSummary): void {
    // −Infinity / 0 work as "nothing left" sentinels: real keys are > 0 (f32) / finite (f64)
    const pos = this.pos;
    const neg = this.neg;
    const low = this.kind === 'f32' ? -1 : -Infinity;
    let i = this.posLen - 1;
    let j = this.negLen - 1;
    let tp = 0;
    let fp = 0;
    while (i >= 0 || j >= 0) {
      const a = i >= 0 ? (pos[i] as number) : low;
      const b = j >= 0 ? (neg[j] as number) : low;
      const t = a > b ? a : b;
      while (i >= 0 && pos[i] === t) {
        i--;
        tp++;
      }
      while (j >= 0 && neg[j] === t) {
        j--;
        fp++;
      }
      summary.push(t, tp, fp);
    }
  }
}

/**
 * Several stores of one kind walked as one (a session's folds pooled) without copying them:
 * each is sorted in place, then the distinct thresholds of all come out descending.
 */
export class ExactScoresUnion {
  constructor(private readonly stores: readonly ExactScores[]) {}

  /** Sorts every store (see {@link ExactScores.sort}). */
  sort(): void {
    for (const s of this.stores) s.sort();
  }

  valueOf(key: number): number {
    return (this.stores[0] as ExactScores).valueOf(key);
  }

  scoreOf(key: number): number {
    return this.valueOf(key);
  }

  /** Pushes distinct thresholds descending into `summary`. Call {@link sort} first. */
  walk(summary: CurveSummary): void {
    const pos = this.stores.map((s) => s.pos);
    const neg = this.stores.map((s) => s.neg);
    const pi = this.stores.map((s) => s.posLen - 1);
    const ni = this.stores.map((s) => s.negLen - 1);
    const k = this.stores.length;
    let tp = 0;
    let fp = 0;
    for (;;) {
      let t = -Infinity;
      let any = false;
      for (let s = 0; s < k; s++) {
        const i = pi[s] as number;
        const j = ni[s] as number;
        if (i >= 0) {
          const a = (pos[s] as Uint32Array | Float64Array)[i] as number;
          if (!any || a > t) t = a;
          any = true;
        }
        if (j >= 0) {
          const b = (neg[s] as Uint32Array | Float64Array)[j] as number;
          if (!any || b > t) t = b;
          any = true;
        }
      }
      if (!any) return;
      for (let s = 0; s < k; s++) {
        const p = pos[s] as Uint32Array | Float64Array;
        let i = pi[s] as number;
        while (i >= 0 && p[i] === t) {
          i--;
          tp++;
        }
        pi[s] = i;
        const q = neg[s] as Uint32Array | Float64Array;
        let j = ni[s] as number;
        while (j >= 0 && q[j] === t) {
          j--;
          fp++;
        }
        ni[s] = j;
      }
      summary.push(t, tp, fp);
    }
  }
}
