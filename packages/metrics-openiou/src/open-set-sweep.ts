import type { ThresholdRule } from './conventions.js';
import { DenseHybridError } from './errors.js';
import { FLOAT16_BINS, orderKeyOfBits, valueOfKey } from './float16.js';
import type { OpenIoUJSON } from './open-iou.js';

const BINS = FLOAT16_BINS;

/**
 * The smallest float16 key whose value is unknown at `threshold` under `rule` (keys sort like
 * their values; `-Infinity` is key 0x0400, `+Infinity` 0xfc00); `BINS` when none is (NaN).
 */
function firstUnknownKey(threshold: number, rule: ThresholdRule): number {
  if (Number.isNaN(threshold)) return BINS;
  const unknown = (k: number): boolean =>
    rule === 'greater' ? valueOfKey(k) > threshold : valueOfKey(k) >= threshold;
  let lo = 0x0400;
  let hi = 0xfc00 + 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (unknown(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo > 0xfc00 ? BINS : lo;
}

/**
 * JSON form of {@link OpenSetSweep}. Version 2 stores {@link float16OrderKey} keys; version 1
 * (written by the CLI's `OpenSetSweep` before it moved here) keyed negative scores one lower; it is
 * still read.
 */
export interface OpenSetSweepJSON {
  readonly format: 'densehybrid/open-set-sweep';
  readonly version: 1 | 2;
  readonly numClasses: number;
  readonly ignoreLabel: number;
  readonly frames: number;
  /** `[gt*K + closed, key, count, key, count, …]` per non-empty (gt, closed) pair (keys: {@link float16OrderKey}). */
  readonly pairs: readonly (readonly number[])[];
  /** How many counted scores were no float16 value (rounded into their bin); absent when none. */
  readonly nonFloat16?: number;
}

/**
 * Fixed-memory state from which the open-set confusion matrix at **any** threshold follows:
 * per (ground truth g ∈ 0..K, closed prediction c ∈ 0..K−1) a histogram of the pixel scores over
 * float16 values ({@link float16OrderKey}). At a threshold t it counts what {@link openSetPrediction}
 * (the one open-set rule: unknown K where `score >= t`, else c) would give on the float16-rounded
 * scores, as the histogram mode of {@link AnomalyMetricsAccumulator} rounds them, so a threshold
 * calibrated there splits the pixels exactly. Memory grows with the number of (g, c) pairs seen
 * (512 KiB each), never with the number of pixels.
 *
 * This is what the StreetHazards protocol needs in one pass over the data: calibrate on fold t6,
 * apply to fold t5 (and swap) without scoring any image twice.
 *
 * @example
 * ```ts
 * const t5 = new OpenSetSweep(12);
 * for (const { gt, closed, scores } of frames) t5.add(gt, closed, scores);
 * const { openMIoU } = OpenIoU.fromJSON(t5.openIoUStateAt(thresholdFromT6)).compute();
 * ```
 */
export class OpenSetSweep {
  readonly numClasses: number;
  readonly ignoreLabel: number;
  private readonly pairs = new Map<number, Float64Array>();
  private readonly slots: (Float64Array | undefined)[] = [];
  private frameCount = 0;
  private inexact = 0;

  /**
   * @param numClasses K (1..254)
   * @param ignoreLabel ground-truth label that is skipped
   * @throws DenseHybridError `INVALID_OPTION` for K out of range
   * @example
   * ```ts
   * const sweep = new OpenSetSweep(12);
   * sweep.add(gt, closed, scores); // per image
   * const iou = OpenIoU.fromJSON(sweep.openIoUStateAt(threshold)).compute();
   * ```
   */
  constructor(numClasses: number, ignoreLabel = 255) {
    if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 254) {
      throw new DenseHybridError(
        'INVALID_OPTION',
        `OpenSetSweep: expected numClasses in 1..254, got ${numClasses}`,
      );
    }
    this.numClasses = numClasses;
    this.ignoreLabel = ignoreLabel;
  }

  /** Number of frames added (merged ones included). */
  get frames(): number {
    return this.frameCount;
  }

  /**
   * How many of the counted scores (ignored pixels left out) were no float16 value: the
   * confusion at a threshold counts them rounded to float16, so those within one float16 step
   * of the threshold may fall on the other side than `score > threshold` puts them.
   */
  get nonFloat16Scores(): number {
    return this.inexact;
  }

  /**
   * Adds one frame: ground truth (0..K, ignore), closed prediction (0..K−1) and scores.
   * @throws DenseHybridError `SHAPE_MISMATCH`, `INVALID_INPUT` for labels out of range
   */
  add(gt: ArrayLike<number>, closed: ArrayLike<number>, scores: ArrayLike<number>): this {
    const K = this.numClasses;
    if (gt.length !== closed.length || gt.length !== scores.length) {
      throw new DenseHybridError(
        'SHAPE_MISMATCH',
        `OpenSetSweep.add: expected gt, closed and scores of equal length, got ${gt.length}, ${closed.length}, ${scores.length}`,
      );
    }
    // float32 bits of the scores, read in place when they already are a Float32Array
    const f32 = scores instanceof Float32Array ? scores : Float32Array.from(scores);
    const bits = new Uint32Array(f32.buffer, f32.byteOffset, f32.length);
    const given = f32 === scores;
    const slots = this.slots;
    let inexact = 0;
    for (let i = 0; i < gt.length; i++) {
      const g = gt[i] as number;
      if (g === this.ignoreLabel) continue;
      const c = closed[i] as number;
      if (!(g >= 0 && g <= K) || !(c >= 0 && c < K)) {
        throw new DenseHybridError(
          'INVALID_INPUT',
          `OpenSetSweep.add: expected gt in 0..${K} or ${this.ignoreLabel} and closed in 0..${K - 1}, got gt ${g}, closed ${c} at pixel ${i}`,
        );
      }
      const id = g * K + c;
      let h = slots[id];
      if (h === undefined) {
        h = new Float64Array(BINS);
        slots[id] = h;
        this.pairs.set(id, h);
      }
      const b = bits[i] as number;
      const key = orderKeyOfBits(b, f32[i] as number);
      h[key] = (h[key] as number) + 1;
      const a = b & 0x7fffffff;
      // a normal float16 value has its 13 low float32 mantissa bits zero
      if (given && a >= 0x38800000 && a < 0x477ff000) inexact += ((a & 0x1fff) + 0x1fff) >>> 13;
      else if (valueOfKey(key) !== (scores[i] as number)) inexact++;
    }
    this.inexact += inexact;
    this.frameCount++;
    return this;
  }

  /** Adds another sweep's counts. */
  merge(other: OpenSetSweep): this {
    if (other.numClasses !== this.numClasses) {
      throw new DenseHybridError(
        'SHAPE_MISMATCH',
        `OpenSetSweep.merge: expected numClasses ${this.numClasses}, got ${other.numClasses}`,
      );
    }
    for (const [id, h] of other.pairs) {
      const mine = this.pairs.get(id);
      if (!mine) {
        const copy = Float64Array.from(h);
        this.pairs.set(id, copy);
        this.slots[id] = copy;
      } else for (let k = 0; k < BINS; k++) mine[k] = (mine[k] as number) + (h[k] as number);
    }
    this.frameCount += other.frameCount;
    this.inexact += other.inexact;
    return this;
  }

  /**
   * The state of an `OpenIoU` accumulator that had seen these frames with the open-set
   * prediction at `threshold` under `thresholdRule` (and the closed prediction): feed it to
   * `OpenIoU.fromJSON`. Each float16 bin is compared by its value, so for float16 scores this is
   * exactly {@link openSetPrediction} at any threshold.
   *
   * @param threshold - the open-set threshold (NaN: nothing is unknown).
   * @param thresholdRule - `'greater-or-equal'` (default): unknown where `score >= threshold`;
   *   `'greater'`: where `score > threshold`.
   */
  openIoUStateAt(
    threshold: number,
    thresholdRule: ThresholdRule = 'greater-or-equal',
  ): OpenIoUJSON {
    const K = this.numClasses;
    const n = K + 1;
    const confusion = new Array<number>(n * n).fill(0);
    const closedConfusion = new Array<number>(K * K).fill(0);
    const tKey = firstUnknownKey(threshold, thresholdRule);
    for (const [id, h] of this.pairs) {
      const g = Math.floor(id / K);
      const c = id % K;
      let below = 0;
      let total = 0;
      for (let k = 0; k < BINS; k++) {
        const v = h[k] as number;
        if (v === 0) continue;
        total += v;
        if (k < tKey) below += v;
      }
      confusion[g * n + c] = (confusion[g * n + c] as number) + below;
      confusion[g * n + K] = (confusion[g * n + K] as number) + (total - below);
      if (g < K) closedConfusion[g * K + c] = (closedConfusion[g * K + c] as number) + total;
    }
    return {
      format: 'densehybrid/open-iou',
      version: 1,
      numClasses: K,
      ignoreLabel: this.ignoreLabel,
      frames: this.frameCount,
      closedFrames: this.frameCount,
      confusion,
      closedConfusion,
    };
  }

  /** Serialisable state (sparse: the non-empty bins of each (gt, closed) pair). */
  toJSON(): OpenSetSweepJSON {
    const pairs: number[][] = [];
    for (const [id, h] of this.pairs) {
      const row = [id];
      for (let k = 0; k < BINS; k++) if (h[k]) row.push(k, h[k] as number);
      pairs.push(row);
    }
    return {
      format: 'densehybrid/open-set-sweep',
      version: 2,
      numClasses: this.numClasses,
      ignoreLabel: this.ignoreLabel,
      frames: this.frameCount,
      pairs,
      ...(this.inexact > 0 ? { nonFloat16: this.inexact } : {}),
    };
  }

  /**
   * Restores a sweep from {@link toJSON} output (version 1 or 2).
   * @throws DenseHybridError `INVALID_INPUT` for another format
   */
  static fromJSON(json: OpenSetSweepJSON): OpenSetSweep {
    if (
      json?.format !== 'densehybrid/open-set-sweep' ||
      (json.version !== 1 && json.version !== 2)
    ) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `OpenSetSweep.fromJSON: expected format densehybrid/open-set-sweep v1 or v2, got ${String(json?.format)} v${String(json?.version)}`,
      );
    }
    // v1 keyed a negative value of magnitude bits h as 0x7fff − h; v2 (float16OrderKey) as 0x8000 − h
    const shift = json.version === 1 ? 1 : 0;
    const s = new OpenSetSweep(json.numClasses, json.ignoreLabel);
    for (const row of json.pairs) {
      const h = new Float64Array(BINS);
      for (let i = 1; i + 1 < row.length; i += 2) {
        const k = row[i] as number;
        h[k < 0x8000 ? k + shift : k] = row[i + 1] as number;
      }
      s.pairs.set(row[0] as number, h);
      s.slots[row[0] as number] = h;
    }
    s.frameCount = json.frames;
    const n = json.nonFloat16;
    if (n !== undefined) {
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
        throw new DenseHybridError(
          'INVALID_INPUT',
          `OpenSetSweep.fromJSON: expected nonFloat16 to be a count, got ${String(n)}`,
        );
      }
      s.inexact = n;
    }
    return s;
  }
}
