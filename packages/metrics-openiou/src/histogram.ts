/**
 * Fixed-memory score histogram: one bin per float16 value (65 536 ordered keys, see
 * `float16OrderKey`), two float64 counters per bin (inliers, anomalies) interleaved as
 * `counts[2·key + label]`: 1 MiB whatever the pixel count, exact up to 2^53 pixels per bin,
 * merged by addition.
 * @internal
 */
import type { CurveSummary } from './curve.js';
import { FLOAT16_BINS, lowerEdgeOfKey, orderKeyOfBits, valueOfKey } from './float16.js';
import { isIgnored, type LabelCounts } from './exact.js';
import { badLabelError, checkFinite, nonFiniteError, type NumericArray } from './validate.js';

export class ScoreHistogram {
  readonly counts = new Float64Array(2 * FLOAT16_BINS);

  /**
   * Adds validated-length data; validates values on the way; writes the frame's counts to `out`.
   * Returns how many of the counted (non-ignored) scores are no float16 value, i.e. were rounded
   * into their bin.
   */
  add(
    fn: string,
    scores: NumericArray,
    labels: NumericArray,
    ignore: readonly number[],
    out: LabelCounts,
  ): number {
    let f: Float32Array;
    let allowInf = false;
    if (scores instanceof Float32Array) f = scores;
    else {
      checkFinite(fn, 'scores', scores);
      f = Float32Array.from(scores);
      allowInf = true; // finite float64 beyond float32 range: the ±Infinity bins
    }
    const bits = new Uint32Array(f.buffer, f.byteOffset, f.length);
    const counts = this.counts;
    const n = f.length;
    const single = ignore.length === 1 ? (ignore[0] as number) : NaN;
    let pos = 0;
    let ign = 0;
    let inexact = 0;
    for (let i = 0; i < n; i++) {
      const l = labels[i] as number;
      const b = bits[i] as number;
      const a = b & 0x7fffffff;
      if (l === 0 || l === 1) {
        // orderKeyOfBits(b, f[i]) with its normal-float16 branch inlined: this loop is the
        // throughput of the histogram mode (~25 % faster than the call; bench/metrics), and the
        // tests check both give the same key for every float32 bit pattern class.
        let key: number;
        if (a >= 0x38800000 && a < 0x477ff000) {
          const h = (a - 0x38000000 + 0xfff + ((a >>> 13) & 1)) >>> 13;
          key = b >>> 31 === 1 ? 0x8000 - h : 0x8000 + h;
          // a normal float16 value has its 13 low float32 mantissa bits zero: 1 when not
          inexact += ((a & 0x1fff) + 0x1fff) >>> 13;
        } else {
          if (a >= 0x7f800000 && (a > 0x7f800000 || !allowInf))
            throw nonFiniteError(fn, 'scores', i, f[i] as number);
          key = orderKeyOfBits(b, f[i] as number);
          if (valueOfKey(key) !== f[i]) inexact++;
        }
        counts[(key << 1) | l]!++;
        pos += l;
      } else if (l === single || isIgnored(l, ignore)) {
        if (a >= 0x7f800000 && (a > 0x7f800000 || !allowInf))
          throw nonFiniteError(fn, 'scores', i, f[i] as number);
        ign++;
      } else throw badLabelError(fn, 'labels', i, l, ignore);
    }
    out.positives = pos;
    out.negatives = n - pos - ign;
    out.ignored = ign;
    if (allowInf) {
      // not float32 scores: compare with the given values (the float32 copy was rounded already)
      inexact = 0;
      for (let i = 0; i < n; i++) {
        const l = labels[i] as number;
        if (
          (l === 0 || l === 1) &&
          valueOfKey(orderKeyOfBits(bits[i] as number, f[i] as number)) !== scores[i]
        )
          inexact++;
      }
    }
    return inexact;
  }

  /** Adds another histogram's counts. */
  addHistogram(o: ScoreHistogram): void {
    const a = this.counts;
    const b = o.counts;
    for (let k = 0; k < a.length; k++) a[k] = (a[k] as number) + (b[k] as number);
  }

  /** Pushes non-empty bins from the top into `summary`. */
  walk(summary: CurveSummary): void {
    const c = this.counts;
    let tp = 0;
    let fp = 0;
    for (let k = FLOAT16_BINS - 1; k >= 0; k--) {
      const neg = c[2 * k] as number;
      const pos = c[2 * k + 1] as number;
      if (neg === 0 && pos === 0) continue;
      tp += pos;
      fp += neg;
      summary.push(k, tp, fp);
    }
  }

  /** Threshold of a bin key: its lower edge, so `score >= value` selects the bins `>= key`. */
  valueOf(key: number): number {
    return lowerEdgeOfKey(key);
  }

  /** The float16 value of a bin (the score of every float16 score in it). */
  scoreOf(key: number): number {
    return valueOfKey(key);
  }

  /** Total counts. */
  totals(): { positives: number; negatives: number } {
    let p = 0;
    let q = 0;
    const c = this.counts;
    for (let k = 0; k < FLOAT16_BINS; k++) {
      q += c[2 * k] as number;
      p += c[2 * k + 1] as number;
    }
    return { positives: p, negatives: q };
  }

  /** Sparse `[key, inliers, anomalies, …]` of the non-empty bins. */
  toSparse(): number[] {
    const out: number[] = [];
    const c = this.counts;
    for (let k = 0; k < FLOAT16_BINS; k++) {
      const neg = c[2 * k] as number;
      const pos = c[2 * k + 1] as number;
      if (neg !== 0 || pos !== 0) out.push(k, neg, pos);
    }
    return out;
  }
}
