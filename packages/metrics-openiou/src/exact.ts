/**
 * Exact score storage: positives and negatives kept apart (labels need not be stored), as
 * ordered float32 keys while every score is a float32, upgraded to float64 on the first score
 * that is not. Sorting each side and merging them from the top walks the distinct thresholds.
 * @internal
 */
import type { CurveSummary } from './curve.js';
import { radixSortU32, orderedKeyOf, orderedKeyOfBits, valueOfOrderedKey } from './sort.js';
import { badLabelError, nonFiniteError, type NumericArray } from './validate.js';

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
  kind: 'f32' | 'f64' = 'f32';
  pos: Uint32Array | Float64Array = new Uint32Array(0);
  neg: Uint32Array | Float64Array = new Uint32Array(0);
  posLen = 0;
  negLen = 0;

  /** Bytes held. */
  get byteLength(): number {
    return this.pos.byteLength + this.neg.byteLength;
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

  /** Appends another store's content. */
  appendStore(o: ExactScores): void {
    if (o.kind === 'f64') this.upgrade();
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

  /** Sorts both sides in place (ascending). */
  sort(): void {
    if (this.kind === 'f32') {
      const pos = (this.pos as Uint32Array).subarray(0, this.posLen);
      const neg = (this.neg as Uint32Array).subarray(0, this.negLen);
      const scratch = new Uint32Array(Math.max(pos.length, neg.length));
      radixSortU32(pos, scratch);
      radixSortU32(neg, scratch);
    } else {
      (this.pos as Float64Array).subarray(0, this.posLen).sort();
      (this.neg as Float64Array).subarray(0, this.negLen).sort();
    }
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
