import type { AnomalyMetricsResult } from './anomaly-metrics.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { DenseHybridError, describeValue } from './errors.js';
import { isIgnored } from './exact.js';
import { doubleToFloat16, FLOAT16_BINS, orderKeyOfBits, valueOfKey } from './float16.js';
import { numpySum } from './numpy-sum.js';
import {
  badLabelError,
  checkArray,
  checkFraction,
  checkIgnoreLabels,
  checkInteger,
  checkSameLength,
  nonFiniteError,
  parseState,
  type NumericArray,
} from './validate.js';

/** Options of {@link PercentileBinsAccumulator}. */
export interface PercentileBinsOptions {
  /**
   * Bins per frame: `bins / 2` quantiles of the anomaly scores and as many of the inlier scores
   * (SMIYC's `PixBinaryClass`: 768).
   * @default 768
   */
  readonly bins?: number;
  /**
   * Target TPR of the FPR metric (SMIYC: 0.95, first point with TPR ≥ 0.95).
   * @default 0.95
   */
  readonly tpr?: number;
  /**
   * Labels outside the region of interest (SMIYC: `label_pixel_gt < 255` is the ROI).
   * @default [255]
   */
  readonly ignoreLabels?: readonly number[];
}

/** Defaults of {@link PercentileBinsOptions} (SMIYC's leaderboard). */
export const DEFAULT_PERCENTILE_BINS_OPTIONS: Required<PercentileBinsOptions> = Object.freeze({
  bins: 768,
  tpr: 0.95,
  ignoreLabels: Object.freeze([255]) as readonly number[],
});

/** JSON form of {@link PercentileBinsAccumulator}. */
export interface PercentileBinsJSON {
  readonly format: 'densehybrid/percentile-bins';
  readonly version: 1;
  readonly options: Required<PercentileBinsOptions>;
  readonly frames: number;
  readonly framesWithoutPixels: number;
  readonly positives: number;
  readonly negatives: number;
  readonly ignored: number;
  /** base64 of little-endian float64 lower bin edges (every frame's, concatenated). */
  readonly thresholds: string;
  /** base64 of little-endian uint32 anomaly / inlier pixel counts per bin. */
  readonly anomalies: string;
  readonly inliers: string;
}

const FORMAT = 'densehybrid/percentile-bins';

function outOfRange(fn: string, scores: NumericArray, i: number, bits: number): DenseHybridError {
  const s = scores[i] as number;
  if ((bits & 0x7fffffff) >= 0x7f800000 && s - s !== 0) return nonFiniteError(fn, 'scores', i, s);
  return new DenseHybridError(
    'NON_FINITE',
    `${fn}: expected scores within float16's range ±65504 (SMIYC stores float16), got ${describeValue(s)} at index ${i}`,
  );
}

/**
 * Sorted float16 values of one class, read as order statistics from a key histogram laid out
 * as `counts[2·key + label]` (0 inliers, 1 anomalies).
 */
class OrderStatistics {
  private key = -1;
  private below = 0; // pixels in keys < this.key
  constructor(
    private readonly counts: Float64Array,
    private readonly label: number,
  ) {}

  private n(k: number): number {
    return (this.counts[2 * k + this.label] as number | undefined) ?? 0;
  }

  /**
   * The value of rank `r` (0-based, ascending). Consecutive ranks are cheap in either direction
   * (numpy's virtual indices `(n − 1)·q` can land a hair below an integer, one rank back).
   */
  at(r: number): number {
    if (this.key < 0) {
      this.key = 0;
      while (this.key < FLOAT16_BINS && this.n(this.key) === 0) this.key++;
    }
    while (this.below + this.n(this.key) <= r) {
      this.below += this.n(this.key);
      this.key++;
      while (this.key < FLOAT16_BINS && this.n(this.key) === 0) this.key++;
    }
    while (r < this.below) {
      this.key--;
      while (this.n(this.key) === 0) this.key--;
      this.below -= this.n(this.key);
    }
    return valueOfKey(this.key);
  }
}

/**
 * `np.quantile(sorted, np.linspace(0, 1, m))` (method `linear`) of `n` float16 values, as numpy
 * computes it: virtual index `(n − 1)·q`, `diff = b − a` rounded to float16 (numpy subtracts the
 * two float16 neighbours in float16), then `a + diff·γ`, or `b − diff·(1 − γ)` for `γ ≥ 0.5`,
 * in float64.
 */
function quantiles(counts: Float64Array, label: number, n: number, m: number, out: number[]): void {
  const stats = new OrderStatistics(counts, label);
  // np.linspace(0, 1, m): i·step with step = 1/(m−1), the last one exactly 1
  const step = m > 1 ? 1 / (m - 1) : NaN;
  for (let i = 0; i < m; i++) {
    const q = m === 1 ? 0 : i === m - 1 ? 1 : i * step;
    const virtual = (n - 1) * q;
    if (virtual >= n - 1) {
      // numpy takes the last value at both neighbours
      out.push(stats.at(n - 1));
      continue;
    }
    const p = Math.floor(virtual);
    const gamma = virtual - p;
    const a = stats.at(p);
    const b = stats.at(p + 1);
    const diff = doubleToFloat16(Math.fround(b - a));
    out.push(gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma);
  }
}

/**
 * SMIYC's leaderboard pixel metrics (`MetricPixelClassification`, config `PixBinaryClass`):
 * each frame's float16 scores in its region of interest are reduced to a histogram whose bin
 * edges are `bins / 2` percentiles of the frame's anomaly scores and as many of its inlier
 * scores, plus `min − ε` and `max + ε` (ε = max(1 % of the range, 0.01)), exactly as
 * `binary_confusion_matrix(…, bin_strategy='percentiles')` computes them with numpy; the frames'
 * bins are then sorted by their lower edge and cumulated (`aggregate_dynamic_bins`), and AP,
 * AUROC, FPR at TPR ≥ 0.95 and the best F1 follow as in `curves_from_cmats`. The best-F1
 * threshold is what SMIYC's component metrics binarise with (`score > threshold`).
 *
 * Scores are rounded to float16 first (SMIYC stores submissions as float16). Bins that share a
 * lower edge are cumulated together; SMIYC's code does so everywhere but at its very first
 * curve point, which, when the highest edge occurs in several frames, takes one of them alone
 * in the order of numpy's unstable `argsort` of frames that its parallel runner collects in no
 * fixed order. Frames without any pixel in the region of interest are counted and left out
 * (SMIYC's `np.min` fails on them).
 *
 * Memory: per frame about `bins` × 16 bytes; merge concatenates; `toJSON()` is base64.
 *
 * @example
 * ```ts
 * const bins = new PercentileBinsAccumulator(); // 768 bins, as the SMIYC leaderboard
 * for (const f of frames) bins.add(f.scores, f.labels); // 0 inlier, 1 anomaly, 255 ignored
 * const { ap, fpr, bestF1, bestF1Threshold } = bins.compute();
 * ```
 */
export class PercentileBinsAccumulator {
  /** The resolved options. */
  readonly options: Required<PercentileBinsOptions>;
  private thr = new Float64Array(0);
  private pos = new Uint32Array(0);
  private neg = new Uint32Array(0);
  private len = 0;
  private frameCount = 0;
  private emptyFrames = 0;
  private positives = 0;
  private negatives = 0;
  private ignored = 0;
  private hist: Float64Array | null = null;
  private last = { positives: 0, negatives: 0, ignored: 0 };

  /**
   * @param options - see {@link PercentileBinsOptions}.
   * @throws DenseHybridError `INVALID_OPTION` for an odd or out-of-range bin count, a bad TPR or
   *   ignore labels.
   */
  constructor(options: PercentileBinsOptions = {}) {
    const fn = 'PercentileBinsAccumulator';
    if (typeof options !== 'object' || options === null) {
      throw new DenseHybridError(
        'INVALID_OPTION',
        `${fn}: expected an options object, got ${describeValue(options)}`,
      );
    }
    const d = DEFAULT_PERCENTILE_BINS_OPTIONS;
    const bins = options.bins ?? d.bins;
    checkInteger(fn, 'bins', bins, 2, 1 << 20);
    const tpr = options.tpr ?? d.tpr;
    checkFraction(fn, 'tpr', tpr, true);
    const ignoreLabels = options.ignoreLabels ?? d.ignoreLabels;
    checkIgnoreLabels(fn, ignoreLabels);
    this.options = Object.freeze({ bins, tpr, ignoreLabels: Object.freeze([...ignoreLabels]) });
  }

  /** Frames added (merged ones included, frames without pixels too). */
  get frames(): number {
    return this.frameCount;
  }

  /** Bins stored so far (all frames). */
  get binCount(): number {
    return this.len;
  }

  private reserve(add: number): void {
    if (this.len + add <= this.thr.length) return;
    const cap = Math.max(this.len + add, Math.ceil(this.thr.length * 1.5), 1024);
    const grow = <T extends Float64Array | Uint32Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a.subarray(0, this.len));
      return b;
    };
    this.thr = grow(this.thr, (n) => new Float64Array(n));
    this.pos = grow(this.pos, (n) => new Uint32Array(n));
    this.neg = grow(this.neg, (n) => new Uint32Array(n));
  }

  /**
   * Adds one frame.
   *
   * @param scores - anomaly scores (rounded to float16 here, as SMIYC stores them).
   * @param labels - 0 inlier, 1 anomaly, ignore labels outside the region of interest.
   * @returns this.
   * @throws DenseHybridError `SHAPE_MISMATCH`, `NON_FINITE` (a NaN/±Infinity score, or one beyond
   *   float16's ±65504), `INVALID_INPUT` (a label outside {0, 1} ∪ ignore). A frame that throws
   *   leaves the accumulator unchanged.
   */
  add(scores: NumericArray, labels: NumericArray): this {
    const fn = 'PercentileBinsAccumulator.add';
    checkArray(fn, 'scores', scores);
    checkArray(fn, 'labels', labels);
    checkSameLength(fn, 'scores', scores, 'labels', labels);
    const ignore = this.options.ignoreLabels;
    // the frame's float16-key histogram, counts[2·key + label]
    const h = (this.hist ??= new Float64Array(2 * FLOAT16_BINS));
    h.fill(0);
    const f = scores instanceof Float32Array ? scores : Float32Array.from(scores);
    const bits = new Uint32Array(f.buffer, f.byteOffset, f.length);
    const n = f.length;
    const single = ignore.length === 1 ? (ignore[0] as number) : NaN;
    let n1 = 0;
    let ign = 0;
    for (let i = 0; i < n; i++) {
      const l = labels[i] as number;
      const b = bits[i] as number;
      if (l === 0 || l === 1) {
        const key = orderKeyOfBits(b, f[i] as number);
        // ±Infinity keys: a non-finite score, or one beyond float16's range
        if (key <= 0x0400 || key >= 0xfc00) throw outOfRange(fn, scores, i, b);
        h[(key << 1) | l]!++;
        n1 += l;
      } else if (l === single || isIgnored(l, ignore)) {
        if ((b & 0x7fffffff) >= 0x7f800000) throw nonFiniteError(fn, 'scores', i, f[i] as number);
        ign++;
      } else throw badLabelError(fn, 'labels', i, l, ignore);
    }
    this.addFrameHistogram(h, n1, n - n1 - ign, ign);
    this.last = { positives: n1, negatives: n - n1 - ign, ignored: ign };
    return this;
  }

  /**
   * The float16-key histogram `counts[2·key + label]` and pixel counts of the frame that
   * {@link add} took last (a session feeds them to its histogram accumulator instead of reading
   * the pixels again). Valid until the next `add`.
   * @internal
   */
  lastFrame(): { counts: Float64Array; positives: number; negatives: number; ignored: number } {
    return { counts: this.hist ?? new Float64Array(2 * FLOAT16_BINS), ...this.last };
  }

  /**
   * Adds one frame given as its float16-key histogram `counts[2·key + label]` (as the histogram
   * mode of `AnomalyMetricsAccumulator` builds it), so a session reads each pixel once.
   * @throws DenseHybridError `NON_FINITE` for counts at the ±Infinity keys (nothing changes).
   * @internal
   */
  addFrameHistogram(h: Float64Array, n1: number, n0: number, ign: number): void {
    if (h[2 * 0x0400]! + h[2 * 0x0400 + 1]! + h[2 * 0xfc00]! + h[2 * 0xfc00 + 1]! > 0) {
      throw new DenseHybridError(
        'NON_FINITE',
        "PercentileBinsAccumulator.add: expected scores within float16's range ±65504 (SMIYC stores float16), got ±Infinity",
      );
    }
    this.frameCount++;
    this.positives += n1;
    this.negatives += n0;
    this.ignored += ign;
    if (n1 + n0 === 0) {
      this.emptyFrames++;
      return;
    }
    // vmin, vmax over the region of interest; ε from the float16 range, as numpy computes it
    let kMin = 0;
    while (h[2 * kMin] === 0 && h[2 * kMin + 1] === 0) kMin++;
    let kMax = FLOAT16_BINS - 1;
    while (h[2 * kMax] === 0 && h[2 * kMax + 1] === 0) kMax--;
    const vmin = valueOfKey(kMin);
    const vmax = valueOfKey(kMax);
    const vrange = doubleToFloat16(Math.fround(vmax - vmin)); // float16 − float16 → float16
    const eps = Math.max(vrange * 1e-2, 1e-2); // float64
    const edges: number[] = [vmin - eps, vmax + eps];
    const half = Math.floor(this.options.bins / 2);
    if (n1 > 0) quantiles(h, 1, n1, Math.min(half, n1), edges);
    if (n0 > 0) quantiles(h, 0, n0, Math.min(half, n0), edges);
    // np.unique: sorted, duplicates removed
    edges.sort((a, b) => a - b);
    let u = 0;
    for (let i = 0; i < edges.length; i++) {
      if (i === 0 || (edges[i] as number) !== (edges[u - 1] as number)) edges[u++] = edges[i]!;
    }
    edges.length = u;
    // np.histogram: bin j holds e_j <= v < e_{j+1} (every value is below the top edge)
    const nb = u - 1;
    this.reserve(nb);
    const at = this.len;
    for (let j = 0; j < nb; j++) {
      this.thr[at + j] = edges[j] as number;
      this.pos[at + j] = 0;
      this.neg[at + j] = 0;
    }
    let j = 0;
    for (let k = kMin; k <= kMax; k++) {
      const c0 = h[2 * k] as number;
      const c1 = h[2 * k + 1] as number;
      if (c0 === 0 && c1 === 0) continue;
      const v = valueOfKey(k);
      while (j + 1 < nb && (edges[j + 1] as number) <= v) j++;
      this.pos[at + j] = (this.pos[at + j] as number) + c1;
      this.neg[at + j] = (this.neg[at + j] as number) + c0;
    }
    this.len += nb;
  }

  /**
   * Adds another accumulator's bins (SMIYC concatenates the frames' bins).
   * @returns this.
   * @throws DenseHybridError `INVALID_INPUT` when the options differ.
   */
  merge(other: PercentileBinsAccumulator): this {
    const fn = 'PercentileBinsAccumulator.merge';
    const a = JSON.stringify(this.options);
    const b =
      other instanceof PercentileBinsAccumulator
        ? JSON.stringify(other.options)
        : describeValue(other);
    if (a !== b) {
      throw new DenseHybridError('INVALID_INPUT', `${fn}: expected options ${a}, got ${b}`);
    }
    this.reserve(other.len);
    this.thr.set(other.thr.subarray(0, other.len), this.len);
    this.pos.set(other.pos.subarray(0, other.len), this.len);
    this.neg.set(other.neg.subarray(0, other.len), this.len);
    this.len += other.len;
    this.frameCount += other.frameCount;
    this.emptyFrames += other.emptyFrames;
    this.positives += other.positives;
    this.negatives += other.negatives;
    this.ignored += other.ignored;
    return this;
  }

  /**
   * The pooled pixel metrics of SMIYC's leaderboard from the binned curve.
   *
   * @returns an {@link AnomalyMetricsResult}: `threshold` is SMIYC's `tpr95_threshold`,
   *   `bestF1Threshold` its `best_f1_threshold` (both lower bin edges).
   * @throws DenseHybridError `EMPTY_SET` without anomaly or inlier pixels.
   */
  compute(): AnomalyMetricsResult {
    const fn = 'PercentileBinsAccumulator.compute';
    const P = this.positives;
    const N = this.negatives;
    if (P === 0 || N === 0) {
      throw new DenseHybridError(
        'EMPTY_SET',
        `${fn}: expected at least one anomaly (label 1) and one inlier (label 0) pixel, got ${P} anomaly and ${N} inlier pixels`,
      );
    }
    const n = this.len;
    const thr = this.thr;
    // bins by decreasing lower edge (ties: adjacent, cumulated together below)
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => {
      const x = thr[a] as number;
      const y = thr[b] as number;
      return x > y ? -1 : x < y ? 1 : a - b;
    });
    const target = this.options.tpr;
    let prevTp = 0;
    let prevFp = 0;
    let started = false;
    // the curve's AP and AUROC terms, summed as np.sum does (numpySum) once the curve is done
    const apTerms = new Float64Array(n + 1);
    const aucTerms = new Float64Array(n + 1);
    let terms = 0;
    let bestF1 = -1;
    let bestF1Threshold = NaN;
    let fpr95 = NaN;
    let thr95 = NaN;
    let tpr95 = NaN;
    // one curve point (curves_from_cmats), in order of decreasing threshold
    const point = (t: number, tp: number, fp: number): void => {
      const tpr = tp / P;
      const fpr = fp / N;
      if (started) {
        // AP = Σ (Rᵢ − Rᵢ₋₁)·Pᵢ, precision 1 where nothing is predicted yet; AUROC = np.trapz
        const precision = tp + fp > 0 ? tp / (tp + fp) : 1;
        apTerms[terms] = (tpr - prevTp / P) * precision;
        aucTerms[terms] = ((fpr - prevFp / N) * (tpr + prevTp / P)) / 2;
        terms++;
      }
      // F1 = 2TP / (2TP + FP + FN); np.nanargmax keeps the first (highest threshold) maximum
      const f1 = (2 * tp) / (2 * tp + fp + (P - tp));
      if (f1 > bestF1) {
        bestF1 = f1;
        bestF1Threshold = t;
      }
      // np.searchsorted(tpr, 0.95): the first point with TPR ≥ 0.95
      if (Number.isNaN(fpr95) && tpr >= target) {
        fpr95 = fpr;
        thr95 = t;
        tpr95 = tpr;
      }
      prevTp = tp;
      prevFp = fp;
      started = true;
    };
    let tp = 0;
    let fp = 0;
    if (n > 0) {
      // curves_from_cmats keeps the first confusion matrix as a point of its own
      // (`thr_unique_indices` starts with [0]): the first bin alone — a repeated point when its
      // edge is unique, else one of the bins sharing the highest edge (ours: the first added).
      // Its AP / AUROC terms are 0 or (ties at the top) depend on that choice; the point is kept
      // so that np.sum groups the terms as the official curve has them. The curve starts at
      // (0, 0), threshold max + 1, unless that first point already is there.
      const t0 = thr[order[0] as number] as number;
      const tp0 = this.pos[order[0] as number] as number;
      const fp0 = this.neg[order[0] as number] as number;
      if (tp0 !== 0 || fp0 !== 0) point(t0 + 1, 0, 0);
      point(t0, tp0, fp0);
    }
    for (let i = 0; i < n;) {
      const t = thr[order[i] as number] as number;
      let j = i;
      while (j < n && thr[order[j] as number] === t) {
        tp += this.pos[order[j] as number] as number;
        fp += this.neg[order[j] as number] as number;
        j++;
      }
      point(t, tp, fp);
      i = j;
    }
    if (Number.isNaN(fpr95)) {
      fpr95 = 1;
      thr95 = 0;
    }
    return {
      ap: numpySum(apTerms, terms),
      auroc: numpySum(aucTerms, terms),
      fpr: fpr95,
      threshold: thr95,
      tprReached: Number.isNaN(tpr95) ? null : tpr95,
      bestF1,
      bestF1Threshold,
      tpr: target,
      fprRule: 'at-least',
      positives: P,
      negatives: N,
      ignored: this.ignored,
      protocol: 'pooled',
      frames: this.frameCount,
      framesUsed: this.frameCount - this.emptyFrames,
      framesWithoutAnomaly: 0,
      framesWithoutInlier: 0,
    };
  }

  /** Serialisable state (`JSON.stringify(acc)` calls it): the bins in base64. */
  toJSON(): PercentileBinsJSON {
    return {
      format: FORMAT,
      version: 1,
      options: { ...this.options, ignoreLabels: [...this.options.ignoreLabels] },
      frames: this.frameCount,
      framesWithoutPixels: this.emptyFrames,
      positives: this.positives,
      negatives: this.negatives,
      ignored: this.ignored,
      thresholds: encodeBase64(this.thr.subarray(0, this.len)),
      anomalies: encodeBase64(this.pos.subarray(0, this.len)),
      inliers: encodeBase64(this.neg.subarray(0, this.len)),
    };
  }

  /**
   * Restores an accumulator from {@link toJSON} output or its string.
   * @throws DenseHybridError `INVALID_INPUT` when malformed.
   * @example
   * ```ts
   * const bins = PercentileBinsAccumulator.fromJSON(await readFile('bins.json', 'utf8'));
   * ```
   */
  static fromJSON(json: PercentileBinsJSON | string): PercentileBinsAccumulator {
    const fn = 'PercentileBinsAccumulator.fromJSON';
    const j = parseState(fn, json, FORMAT);
    const acc = new PercentileBinsAccumulator(j.options);
    const bad = (what: string, got: unknown) =>
      new DenseHybridError('INVALID_INPUT', `${fn}: expected ${what}, got ${describeValue(got)}`);
    const count = (v: unknown, what: string): number => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad(what, v);
      return v;
    };
    const bytes = (s: unknown, width: number, what: string): Uint8Array => {
      const b = typeof s === 'string' ? decodeBase64(s) : null;
      if (b === null || b.length % width !== 0)
        throw bad(`${what}: base64 of ${width}-byte values`, s);
      return b;
    };
    const t = bytes(j.thresholds, 8, 'thresholds');
    const p = bytes(j.anomalies, 4, 'anomalies');
    const q = bytes(j.inliers, 4, 'inliers');
    const n = t.length / 8;
    if (p.length / 4 !== n || q.length / 4 !== n) throw bad('one count per bin', [n, p.length / 4]);
    acc.thr = new Float64Array(t.buffer, t.byteOffset, n).slice();
    acc.pos = new Uint32Array(p.buffer, p.byteOffset, n).slice();
    acc.neg = new Uint32Array(q.buffer, q.byteOffset, n).slice();
    acc.len = n;
    acc.frameCount = count(j.frames, 'frames: a count');
    acc.emptyFrames = count(j.framesWithoutPixels, 'framesWithoutPixels: a count');
    acc.positives = count(j.positives, 'positives: a count');
    acc.negatives = count(j.negatives, 'negatives: a count');
    acc.ignored = count(j.ignored, 'ignored: a count');
    return acc;
  }
}
