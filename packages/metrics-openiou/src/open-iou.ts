import { DenseHybridError, describeValue } from './errors.js';
import {
  checkArray,
  checkInteger,
  checkOneOf,
  checkSameLength,
  parseState,
  type NumericArray,
} from './validate.js';

/**
 * How open-mIoU averages the K known classes: `'nanmean'` (authors' code: classes absent from
 * both GT and prediction are left out) or `'sum-over-k'` (a later version: Σ IoU / K, absent
 * classes count 0).
 */
export type OpenIoUAverage = 'nanmean' | 'sum-over-k';

/** Options of {@link OpenIoU}. */
export interface OpenIoUOptions {
  /** K, the number of known classes; the anomaly class is K. Required. */
  readonly numClasses: number;
  /**
   * GT label that is not evaluated.
   * @default 255
   */
  readonly ignoreLabel?: number;
}

/** Defaults of {@link OpenIoUOptions} (`numClasses` has none). */
export const DEFAULT_OPEN_IOU_OPTIONS: Required<Omit<OpenIoUOptions, 'numClasses'>> = Object.freeze(
  {
    ignoreLabel: 255,
  },
);

/** Options of {@link OpenIoU.compute}. */
export interface OpenIoUComputeOptions {
  /**
   * See {@link OpenIoUAverage}.
   * @default 'nanmean'
   */
  readonly average?: OpenIoUAverage;
}

/** Result of {@link OpenIoU.compute}. */
export interface OpenIoUResult {
  /** IoU of classes 0..K (K = anomaly); `NaN` where a class is absent from GT and prediction. */
  readonly iou: number[];
  /** Mean IoU over the K known classes under `average` (sec. 4 of the paper). */
  readonly openMIoU: number;
  /** IoU of the anomaly class K (`NaN` if it never occurs). */
  readonly anomalyIoU: number;
  /** Row = GT class, column = open-set prediction, (K+1)×(K+1) pixel counts. */
  readonly confusion: number[][];
  /** Closed-set IoU of classes 0..K−1 (anomaly GT ignored, prediction = argmax over K); `null`
   *  unless every `add` got `closedPred`. */
  readonly closedIoU: number[] | null;
  /** Closed-set mIoU under `average`; `null` unless every `add` got `closedPred`. */
  readonly closedMIoU: number | null;
  /** K×K closed-set confusion matrix, or `null`. */
  readonly closedConfusion: number[][] | null;
  readonly average: OpenIoUAverage;
  /** Pixels counted (GT not ignored). */
  readonly pixels: number;
  readonly frames: number;
}

/** JSON form of {@link OpenIoU}. */
export interface OpenIoUJSON {
  readonly format: 'densehybrid/open-iou';
  readonly version: 1;
  readonly numClasses: number;
  readonly ignoreLabel: number;
  readonly frames: number;
  readonly closedFrames: number;
  readonly confusion: readonly number[];
  readonly closedConfusion: readonly number[];
}

const FORMAT = 'densehybrid/open-iou';

/** IoU_k = TP_k / (TP_k + FP_k + FN_k) from an n×n row-major confusion matrix (NaN when 0/0). */
function iouFrom(c: Float64Array, n: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    let row = 0;
    let col = 0;
    for (let j = 0; j < n; j++) {
      row += c[k * n + j] as number;
      col += c[j * n + k] as number;
    }
    const tp = c[k * n + k] as number;
    const den = row + col - tp;
    out.push(den === 0 ? NaN : tp / den);
  }
  return out;
}

/** Mean of the first `k` entries under the averaging rule. */
function meanIoU(iou: readonly number[], k: number, average: OpenIoUAverage): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < k; i++) {
    const v = iou[i] as number;
    if (!Number.isNaN(v)) {
      s += v;
      n++;
    }
  }
  if (average === 'sum-over-k') return s / k;
  return n === 0 ? NaN : s / n;
}

function toRows(c: Float64Array, n: number): number[][] {
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) rows.push(Array.from(c.subarray(i * n, (i + 1) * n)));
  return rows;
}

/**
 * Open-set IoU accumulator (sec. 4 of the paper): a (K+1)×(K+1) confusion matrix of ground truth
 * (K known classes + anomaly class K) against the open-set prediction, and, from the same frames,
 * the closed-set K×K matrix (anomaly GT ignored, prediction = argmax over the K known classes).
 *
 * `add(gt, openPred, closedPred?)`: the open-set prediction is what the model outputs after
 * thresholding ({@link openSetPrediction}); the closed prediction is needed for closed mIoU
 * because pixels relabelled to K lost their known class. Pass it in every call or in none.
 *
 * @example
 * ```ts
 * const m = new OpenIoU({ numClasses: 12 });
 * m.add(gt, openSetPrediction(closed, scores, threshold, 12), closed);
 * const { openMIoU, anomalyIoU, closedMIoU } = m.compute();
 * ```
 */
export class OpenIoU {
  readonly numClasses: number;
  readonly ignoreLabel: number;
  private readonly confusion: Float64Array;
  private readonly closed: Float64Array;
  private frames = 0;
  private closedFrames = 0;

  /**
   * @param options - `numClasses` (K, required), `ignoreLabel` (default 255).
   * @throws DenseHybridError `INVALID_OPTION` for K outside 1..65534 or an ignore label in 0..K.
   */
  constructor(options: OpenIoUOptions) {
    const fn = 'OpenIoU';
    if (typeof options !== 'object' || options === null) {
      throw new DenseHybridError(
        'INVALID_OPTION',
        `${fn}: expected options { numClasses }, got ${describeValue(options)}`,
      );
    }
    checkInteger(fn, 'numClasses', options.numClasses, 1, 65534);
    const ignoreLabel = options.ignoreLabel ?? DEFAULT_OPEN_IOU_OPTIONS.ignoreLabel;
    if (
      typeof ignoreLabel !== 'number' ||
      (ignoreLabel >= 0 && ignoreLabel <= options.numClasses)
    ) {
      throw new DenseHybridError(
        'INVALID_OPTION',
        `${fn}: expected ignoreLabel outside 0..${options.numClasses}, got ${describeValue(ignoreLabel)}`,
      );
    }
    this.numClasses = options.numClasses;
    this.ignoreLabel = ignoreLabel;
    const n = this.numClasses + 1;
    this.confusion = new Float64Array(n * n);
    this.closed = new Float64Array(this.numClasses * this.numClasses);
  }

  /**
   * Adds one frame.
   *
   * @param gt - ground truth: 0..K−1 known, K anomaly, `ignoreLabel` skipped.
   * @param openPred - open-set prediction, values 0..K.
   * @param closedPred - optional closed-set prediction, values 0..K−1 (for closed mIoU).
   * @returns this.
   * @throws DenseHybridError `SHAPE_MISMATCH`, `INVALID_INPUT` (a value out of range, or
   *   `closedPred` given in some calls but not others). A frame that throws changes nothing.
   */
  add(gt: NumericArray, openPred: NumericArray, closedPred?: NumericArray): this {
    const fn = 'OpenIoU.add';
    checkArray(fn, 'gt', gt);
    checkArray(fn, 'openPred', openPred);
    checkSameLength(fn, 'gt', gt, 'openPred', openPred);
    const withClosed = closedPred !== undefined;
    if (withClosed) {
      checkArray(fn, 'closedPred', closedPred);
      checkSameLength(fn, 'gt', gt, 'closedPred', closedPred);
    }
    if (this.frames > 0 && withClosed !== (this.closedFrames === this.frames)) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected closedPred in every call or in none, got it ${withClosed ? 'now but not before' : 'before but not now'}`,
      );
    }
    const K = this.numClasses;
    const n = K + 1;
    const ign = this.ignoreLabel;
    // validate first so a bad frame leaves the state unchanged
    for (let i = 0; i < gt.length; i++) {
      const g = gt[i] as number;
      if (g === ign) continue;
      if (!(g >= 0 && g <= K && Number.isInteger(g)))
        throw rangeError(fn, 'gt', `0..${K} or ${ign}`, g, i);
      const p = openPred[i] as number;
      if (!(p >= 0 && p <= K && Number.isInteger(p)))
        throw rangeError(fn, 'openPred', `0..${K}`, p, i);
      if (withClosed) {
        const q = closedPred[i] as number;
        if (!(q >= 0 && q < K && Number.isInteger(q)))
          throw rangeError(fn, 'closedPred', `0..${K - 1}`, q, i);
      }
    }
    const c = this.confusion;
    for (let i = 0; i < gt.length; i++) {
      const g = gt[i] as number;
      if (g === ign) continue;
      c[g * n + (openPred[i] as number)]!++;
    }
    if (withClosed) {
      const cc = this.closed;
      for (let i = 0; i < gt.length; i++) {
        const g = gt[i] as number;
        if (g === ign || g === K) continue;
        cc[g * K + (closedPred[i] as number)]!++;
      }
      this.closedFrames++;
    }
    this.frames++;
    return this;
  }

  /**
   * Adds another accumulator's counts.
   * @param other - an OpenIoU with the same K and ignore label.
   * @returns this.
   * @throws DenseHybridError `INVALID_INPUT` when K, the ignore label or closed-prediction use differ.
   */
  merge(other: OpenIoU): this {
    const fn = 'OpenIoU.merge';
    if (
      !(other instanceof OpenIoU) ||
      other.numClasses !== this.numClasses ||
      other.ignoreLabel !== this.ignoreLabel
    ) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected an OpenIoU with numClasses ${this.numClasses} and ignoreLabel ${this.ignoreLabel}, got ${other instanceof OpenIoU ? `numClasses ${other.numClasses}, ignoreLabel ${other.ignoreLabel}` : describeValue(other)}`,
      );
    }
    const mine = this.frames === 0 ? null : this.closedFrames === this.frames;
    const theirs = other.frames === 0 ? null : other.closedFrames === other.frames;
    if (mine !== null && theirs !== null && mine !== theirs) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected both accumulators to have closedPred in every frame or in none, got ${mine ? 'this with, other without' : 'this without, other with'}`,
      );
    }
    for (let i = 0; i < this.confusion.length; i++)
      this.confusion[i] = (this.confusion[i] as number) + (other.confusion[i] as number);
    for (let i = 0; i < this.closed.length; i++)
      this.closed[i] = (this.closed[i] as number) + (other.closed[i] as number);
    this.frames += other.frames;
    this.closedFrames += other.closedFrames;
    return this;
  }

  /**
   * Computes per-class IoU, open-mIoU, anomaly IoU and (if available) closed mIoU.
   *
   * @param options - `average`: `'nanmean'` (default) or `'sum-over-k'`.
   * @returns see {@link OpenIoUResult}.
   * @throws DenseHybridError `EMPTY_SET` when no pixel was counted; `INVALID_OPTION`.
   */
  compute(options: OpenIoUComputeOptions = {}): OpenIoUResult {
    const fn = 'OpenIoU.compute';
    const average = options.average ?? 'nanmean';
    checkOneOf(fn, 'average', average, ['nanmean', 'sum-over-k'] as const);
    const K = this.numClasses;
    const n = K + 1;
    let pixels = 0;
    for (let i = 0; i < this.confusion.length; i++) pixels += this.confusion[i] as number;
    if (pixels === 0) {
      throw new DenseHybridError(
        'EMPTY_SET',
        `${fn}: expected at least one non-ignored GT pixel, got 0 over ${this.frames} frames`,
      );
    }
    const iou = iouFrom(this.confusion, n);
    const hasClosed = this.frames > 0 && this.closedFrames === this.frames;
    const closedIoU = hasClosed ? iouFrom(this.closed, K) : null;
    return {
      iou,
      openMIoU: meanIoU(iou, K, average),
      anomalyIoU: iou[K] as number,
      confusion: toRows(this.confusion, n),
      closedIoU,
      closedMIoU: closedIoU === null ? null : meanIoU(closedIoU, K, average),
      closedConfusion: hasClosed ? toRows(this.closed, K) : null,
      average,
      pixels,
      frames: this.frames,
    };
  }

  /** Serialisable state (small: two dense matrices). */
  toJSON(): OpenIoUJSON {
    return {
      format: FORMAT,
      version: 1,
      numClasses: this.numClasses,
      ignoreLabel: this.ignoreLabel,
      frames: this.frames,
      closedFrames: this.closedFrames,
      confusion: Array.from(this.confusion),
      closedConfusion: Array.from(this.closed),
    };
  }

  /**
   * Restores from {@link toJSON} output or its string.
   * @throws DenseHybridError `INVALID_INPUT` when malformed.
   * @example
   * ```ts
   * const m = OpenIoU.fromJSON(JSON.stringify(other));
   * ```
   */
  static fromJSON(json: OpenIoUJSON | string): OpenIoU {
    const fn = 'OpenIoU.fromJSON';
    const j = parseState(fn, json, FORMAT);
    const m = new OpenIoU({ numClasses: j.numClasses, ignoreLabel: j.ignoreLabel });
    const fill = (dst: Float64Array, src: unknown, what: string) => {
      if (
        !Array.isArray(src) ||
        src.length !== dst.length ||
        src.some((v) => typeof v !== 'number' || !(v >= 0))
      ) {
        throw new DenseHybridError(
          'INVALID_INPUT',
          `${fn}: expected ${what} of ${dst.length} counts, got ${describeValue(src)}`,
        );
      }
      dst.set(src as number[]);
    };
    fill(m.confusion, j.confusion, 'confusion');
    fill(m.closed, j.closedConfusion, 'closedConfusion');
    const okCount = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
    if (!okCount(j.frames) || !okCount(j.closedFrames) || j.closedFrames > j.frames) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected frame counts, got ${describeValue([j.frames, j.closedFrames])}`,
      );
    }
    m.frames = j.frames;
    m.closedFrames = j.closedFrames;
    return m;
  }
}

function rangeError(
  fn: string,
  name: string,
  allowed: string,
  v: number,
  i: number,
): DenseHybridError {
  return new DenseHybridError(
    'INVALID_INPUT',
    `${fn}: expected ${name} values in ${allowed}, got ${describeValue(v)} at index ${i}`,
  );
}
