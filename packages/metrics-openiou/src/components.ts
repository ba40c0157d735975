import { AnomalyMetricsAccumulator } from './accumulator.js';
import { THRESHOLD_RULES, type ThresholdRule } from './conventions.js';
import { DenseHybridError, describeValue } from './errors.js';
import { isIgnored } from './exact.js';
import { ExactSum } from './exact-sum.js';
import { doubleToFloat16 } from './float16.js';
import { PercentileBinsAccumulator } from './percentile-bins.js';
import {
  badLabelError,
  checkArray,
  checkIgnoreLabels,
  checkInteger,
  checkOneOf,
  nonFiniteError,
  parseState,
  type NumericArray,
} from './validate.js';

/** The 11 sIoU thresholds τ = 0.25, 0.30, …, 0.75 of SMIYC (as `np.linspace(0.25, 0.75, 11)`). */
export const SMIYC_IOU_THRESHOLDS: readonly number[] = Object.freeze(
  Array.from({ length: 11 }, (_, i) => (i === 10 ? 0.75 : 0.25 + i * 0.05)),
);

/** Options of {@link componentMetrics} and {@link ComponentMetricsAccumulator}. */
export interface ComponentMetricsOptions {
  /**
   * Pixels that pass it (see `thresholdRule`) are predicted anomalous. {@link componentMetrics}
   * defaults to SMIYC's: the best pooled pixel-F1 threshold; the accumulator requires it.
   */
  readonly threshold?: number;
  /**
   * `'greater'`: predicted where `score > threshold`, as SMIYC's `default_instancer`
   * (`segmentation[anomaly_p > thresh_p] = 1`); `'greater-or-equal'`: where `score >= threshold`.
   * @default 'greater'
   */
  readonly thresholdRule?: ThresholdRule;
  /**
   * Pixel connectivity of components: 8 (SMIYC, `np.ones((3, 3))`) or 4.
   * @default 8
   */
  readonly connectivity?: 4 | 8;
  /**
   * Predicted components smaller than this (pixels) are dropped (SMIYC AnomalyTrack 500,
   * ObstacleTrack 50).
   * @default 500
   */
  readonly minPredictionSize?: number;
  /**
   * GT components smaller than this become ignored pixels (AnomalyTrack 100, ObstacleTrack 10).
   * @default 100
   */
  readonly minInstanceSize?: number;
  /**
   * The τ values for TP/FN/FP counting and mean F1.
   * @default SMIYC_IOU_THRESHOLDS (0.25…0.75 step 0.05)
   */
  readonly iouThresholds?: readonly number[];
  /**
   * Labels outside the region of interest.
   * @default [255]
   */
  readonly ignoreLabels?: readonly number[];
}

/** Defaults of {@link ComponentMetricsOptions} (SMIYC AnomalyTrack; threshold: best F1). */
export const DEFAULT_COMPONENT_METRICS_OPTIONS: Required<
  Omit<ComponentMetricsOptions, 'threshold'>
> = Object.freeze({
  thresholdRule: 'greater',
  connectivity: 8,
  minPredictionSize: 500,
  minInstanceSize: 100,
  iouThresholds: SMIYC_IOU_THRESHOLDS,
  ignoreLabels: Object.freeze([255]) as readonly number[],
});

/** SMIYC ObstacleTrack sizes, to spread into the options. */
export const SMIYC_OBSTACLE_TRACK: Pick<
  ComponentMetricsOptions,
  'minPredictionSize' | 'minInstanceSize'
> = Object.freeze({ minPredictionSize: 50, minInstanceSize: 10 });

/** One frame for {@link componentMetrics}. */
export interface ComponentFrame {
  /** Row-major anomaly scores, `width * height` long. */
  readonly scores: NumericArray;
  /** 0 inlier, 1 anomaly, ignore labels; same length. */
  readonly labels: NumericArray;
  readonly width: number;
  readonly height: number;
}

/** Counts at one τ. */
export interface ComponentThresholdCounts {
  readonly tau: number;
  /** GT components with sIoU ≥ τ. */
  readonly tp: number;
  /** GT components with sIoU < τ. */
  readonly fn: number;
  /** Predicted components with precision < τ. */
  readonly fp: number;
  /** 2·tp / (2·tp + fn + fp). */
  readonly f1: number;
}

/** Result of {@link componentMetrics} / {@link ComponentMetricsAccumulator.compute}. */
export interface ComponentMetricsResult {
  /** Mean sIoU over all GT components of all frames. NaN when there is none. */
  readonly sIoU: number;
  /** Mean PPV (component precision: intersection / area) over all predicted components. */
  readonly ppv: number;
  /** Mean sIoU of the predicted components (reported by SMIYC as `sIoU_pred`). */
  readonly sIoUPred: number;
  /** Mean of `f1` over the τ values ("mean F1"). */
  readonly meanF1: number;
  readonly perThreshold: readonly ComponentThresholdCounts[];
  readonly threshold: number;
  readonly gtComponents: number;
  readonly predComponents: number;
  readonly frames: number;
}

/** JSON form of {@link ComponentMetricsAccumulator}. */
export interface ComponentMetricsJSON {
  readonly format: 'densehybrid/component-metrics';
  readonly version: 1;
  readonly options: Required<ComponentMetricsOptions>;
  readonly frames: number;
  readonly gtComponents: number;
  readonly predComponents: number;
  readonly sumSIoU: number;
  readonly sumPPV: number;
  readonly sumSIoUPred: number;
  /** The three sums as exact partials (merges stay exact); older states have only the sums. */
  readonly partials?: {
    readonly sIoU: readonly number[];
    readonly ppv: readonly number[];
    readonly sIoUPred: readonly number[];
  };
  readonly tp: readonly number[];
  readonly fn: readonly number[];
  readonly fp: readonly number[];
}

/**
 * Labels connected components of `mask` (non-zero = foreground) in place into `out`
 * (0 background, 1..n). Returns n.
 * @internal
 */
function labelComponents(
  mask: Uint8Array,
  width: number,
  height: number,
  connectivity: 4 | 8,
  out: Int32Array,
): number {
  out.fill(0);
  const stack = new Int32Array(mask.length);
  let n = 0;
  for (let start = 0; start < mask.length; start++) {
    if (mask[start] === 0 || out[start] !== 0) continue;
    n++;
    out[start] = n;
    let sp = 0;
    stack[sp++] = start;
    while (sp > 0) {
      const p = stack[--sp] as number;
      const x = p % width;
      const y = (p - x) / width;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          if (dx === 0 && dy === 0) continue;
          if (connectivity === 4 && dx !== 0 && dy !== 0) continue;
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const q = yy * width + xx;
          if (mask[q] !== 0 && out[q] === 0) {
            out[q] = n;
            stack[sp++] = q;
          }
        }
      }
    }
  }
  return n;
}

interface Resolved {
  threshold: number;
  thresholdRule: ThresholdRule;
  connectivity: 4 | 8;
  minPredictionSize: number;
  minInstanceSize: number;
  iouThresholds: readonly number[];
  ignoreLabels: readonly number[];
}

function resolve(fn: string, o: ComponentMetricsOptions, threshold: number): Resolved {
  const d = DEFAULT_COMPONENT_METRICS_OPTIONS;
  const thresholdRule = o.thresholdRule ?? d.thresholdRule;
  checkOneOf(fn, 'thresholdRule', thresholdRule, THRESHOLD_RULES);
  const connectivity = o.connectivity ?? d.connectivity;
  checkOneOf(fn, 'connectivity', connectivity, [4, 8] as const);
  const minPredictionSize = o.minPredictionSize ?? d.minPredictionSize;
  checkInteger(fn, 'minPredictionSize', minPredictionSize, 0, Number.MAX_SAFE_INTEGER);
  const minInstanceSize = o.minInstanceSize ?? d.minInstanceSize;
  checkInteger(fn, 'minInstanceSize', minInstanceSize, 0, Number.MAX_SAFE_INTEGER);
  const iouThresholds = o.iouThresholds ?? d.iouThresholds;
  if (
    !Array.isArray(iouThresholds) ||
    iouThresholds.length === 0 ||
    iouThresholds.some((t) => typeof t !== 'number' || !(t > 0 && t <= 1))
  ) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected iouThresholds to be a non-empty array of numbers in (0, 1], got ${describeValue(iouThresholds)}`,
    );
  }
  const ignoreLabels = o.ignoreLabels ?? d.ignoreLabels;
  checkIgnoreLabels(fn, ignoreLabels);
  if (typeof threshold !== 'number' || Number.isNaN(threshold)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected threshold to be a number, got ${describeValue(threshold)}`,
    );
  }
  return {
    threshold,
    thresholdRule,
    connectivity,
    minPredictionSize,
    minInstanceSize,
    iouThresholds: [...iouThresholds],
    ignoreLabels: [...ignoreLabels],
  };
}

function checkFrame(
  fn: string,
  scores: unknown,
  labels: unknown,
  width: unknown,
  height: unknown,
): void {
  checkArray(fn, 'scores', scores);
  checkArray(fn, 'labels', labels);
  checkInteger(fn, 'width', width, 1, 1 << 30);
  checkInteger(fn, 'height', height, 1, 1 << 30);
  const n = (width as number) * (height as number);
  for (const [name, a] of [
    ['scores', scores],
    ['labels', labels],
  ] as const) {
    if ((a as NumericArray).length !== n) {
      throw new DenseHybridError(
        'SHAPE_MISMATCH',
        `${fn}: expected ${name} of length width*height = ${n}, got length ${(a as NumericArray).length}`,
      );
    }
  }
}

/**
 * Streaming SMIYC component-level metrics at a fixed threshold: sIoU (per GT component,
 * intersection over an adjusted union that does not punish a predicted component for covering
 * other GT components), PPV (per predicted component, the fraction of it on GT anomalies) and
 * the F1 over components averaged over τ. Per frame:
 * 1. prediction = `score > threshold` (`>=` with `thresholdRule: 'greater-or-equal'`) outside
 *    ignored pixels; GT = label 1;
 * 2. 8-connected components of both (4 with `connectivity: 4`);
 * 3. predicted components smaller than `minPredictionSize` are dropped; GT components smaller
 *    than `minInstanceSize` become ignored; then only non-ignored pixels count;
 * 4. GT component g: sIoU = |g ∩ P(g)| / |g ∪ P(g) \ other GT| where P(g) are the predicted
 *    components touching g; TP at τ if sIoU ≥ τ, else FN;
 * 5. predicted component p: PPV = |p ∩ GT| / |p|; FP at τ if PPV < τ.
 * State is a few counts and exactly rounded sums, so it merges (in any grouping: shards give
 * the numbers of one pass bit for bit) and serialises trivially.
 *
 * @example
 * ```ts
 * const acc = new ComponentMetricsAccumulator({ threshold: 0.5 });
 * acc.add(scores, labels, width, height);
 * const { sIoU, ppv, meanF1 } = acc.compute();
 * ```
 */
export class ComponentMetricsAccumulator {
  readonly options: Required<ComponentMetricsOptions>;
  private readonly r: Resolved;
  private frames = 0;
  private gt = 0;
  private pred = 0;
  // exactly rounded sums: merged shards give a single pass's values bit for bit
  private sumSIoU = new ExactSum();
  private sumPPV = new ExactSum();
  private sumSIoUPred = new ExactSum();
  private readonly tp: number[];
  private readonly fn: number[];
  private readonly fp: number[];

  /**
   * @param options - see {@link ComponentMetricsOptions}; `threshold` is required here.
   * @throws DenseHybridError `INVALID_OPTION`.
   */
  constructor(options: ComponentMetricsOptions & { readonly threshold: number }) {
    const fn = 'ComponentMetricsAccumulator';
    if (typeof options !== 'object' || options === null) {
      throw new DenseHybridError(
        'INVALID_OPTION',
        `${fn}: expected options { threshold }, got ${describeValue(options)}`,
      );
    }
    this.r = resolve(fn, options, options.threshold);
    this.options = Object.freeze({ ...this.r });
    const k = this.r.iouThresholds.length;
    this.tp = new Array<number>(k).fill(0);
    this.fn = new Array<number>(k).fill(0);
    this.fp = new Array<number>(k).fill(0);
  }

  /**
   * Adds one frame.
   * @param scores - row-major anomaly scores (`width * height`).
   * @param labels - 0 inlier, 1 anomaly, ignore labels.
   * @param width - frame width.
   * @param height - frame height.
   * @returns this.
   * @throws DenseHybridError `SHAPE_MISMATCH`, `NON_FINITE`, `INVALID_INPUT`.
   */
  add(scores: NumericArray, labels: NumericArray, width: number, height: number): this {
    const fname = 'ComponentMetricsAccumulator.add';
    checkFrame(fname, scores, labels, width, height);
    const { threshold, ignoreLabels, connectivity } = this.r;
    const strict = this.r.thresholdRule === 'greater';
    const n = width * height;
    const gtMask = new Uint8Array(n);
    const predMask = new Uint8Array(n);
    const roi = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const s = scores[i] as number;
      if (s - s !== 0) throw nonFiniteError(fname, 'scores', i, s);
      const l = labels[i] as number;
      if (l === 0 || l === 1) {
        roi[i] = 1;
        gtMask[i] = l;
        predMask[i] = (strict ? s > threshold : s >= threshold) ? 1 : 0;
      } else if (!isIgnored(l, ignoreLabels))
        throw badLabelError(fname, 'labels', i, l, ignoreLabels);
    }
    const gtLab = new Int32Array(n);
    const predLab = new Int32Array(n);
    const nGt = labelComponents(gtMask, width, height, connectivity, gtLab);
    const nPred = labelComponents(predMask, width, height, connectivity, predLab);
    // drop small predicted components (size over the whole frame, ignore pixels already off)
    const predSize = new Float64Array(nPred + 1);
    for (let i = 0; i < n; i++) predSize[predLab[i] as number]!++;
    const gtSize = new Float64Array(nGt + 1);
    for (let i = 0; i < n; i++) gtSize[gtLab[i] as number]!++;
    for (let i = 0; i < n; i++) {
      const p = predLab[i] as number;
      if (p !== 0 && (predSize[p] as number) < this.r.minPredictionSize) predLab[i] = 0;
      const g = gtLab[i] as number;
      if (g !== 0 && (gtSize[g] as number) < this.r.minInstanceSize) roi[i] = 0;
    }
    // areas inside the region of interest and the GT × prediction overlap
    const gtArea = new Float64Array(nGt + 1);
    const predArea = new Float64Array(nPred + 1);
    const overlap = new Map<number, number>();
    const stride = nPred + 1;
    for (let i = 0; i < n; i++) {
      if (roi[i] === 0) continue;
      const g = gtLab[i] as number;
      const p = predLab[i] as number;
      gtArea[g]!++;
      predArea[p]!++;
      if (g !== 0 && p !== 0) {
        const key = g * stride + p;
        overlap.set(key, (overlap.get(key) ?? 0) + 1);
      }
    }
    // covered[g] = |g ∩ any prediction|, onGt[p] = |p ∩ any GT|, and who touches whom
    const covered = new Float64Array(nGt + 1);
    const onGt = new Float64Array(nPred + 1);
    const touchG: number[][] = Array.from({ length: nGt + 1 }, () => []);
    const touchP: number[][] = Array.from({ length: nPred + 1 }, () => []);
    for (const [key, c] of overlap) {
      const g = Math.floor(key / stride);
      const p = key - g * stride;
      covered[g] = (covered[g] as number) + c;
      onGt[p] = (onGt[p] as number) + c;
      (touchG[g] as number[]).push(p);
      (touchP[p] as number[]).push(g);
    }
    const taus = this.r.iouThresholds;
    for (let g = 1; g <= nGt; g++) {
      if (gtArea[g] === 0) continue;
      // |g ∪ P(g)| minus pixels of P(g) on other GT components
      //   = |g| + Σ_{p∈P(g)} (|p| − |p ∩ GT|)
      let union = gtArea[g] as number;
      for (const p of touchG[g] as number[]) union += (predArea[p] as number) - (onGt[p] as number);
      const s = (covered[g] as number) / union;
      this.sumSIoU.add(s);
      this.gt++;
      for (let t = 0; t < taus.length; t++) {
        if (s >= (taus[t] as number)) this.tp[t] = (this.tp[t] as number) + 1;
        else this.fn[t] = (this.fn[t] as number) + 1;
      }
    }
    for (let p = 1; p <= nPred; p++) {
      if (predArea[p] === 0) continue;
      let union = predArea[p] as number;
      for (const g of touchP[p] as number[])
        union += (gtArea[g] as number) - (covered[g] as number);
      const inter = onGt[p] as number;
      const ppv = inter / (predArea[p] as number);
      this.sumSIoUPred.add(inter / union);
      this.sumPPV.add(ppv);
      this.pred++;
      for (let t = 0; t < taus.length; t++) {
        if (ppv < (taus[t] as number)) this.fp[t] = (this.fp[t] as number) + 1;
      }
    }
    this.frames++;
    return this;
  }

  /**
   * Adds another accumulator's sums.
   * @throws DenseHybridError `INVALID_INPUT` when the options differ.
   */
  merge(other: ComponentMetricsAccumulator): this {
    const a = JSON.stringify(this.options);
    const b =
      other instanceof ComponentMetricsAccumulator
        ? JSON.stringify(other.options)
        : describeValue(other);
    if (a !== b) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `ComponentMetricsAccumulator.merge: expected options ${a}, got ${b}`,
      );
    }
    this.frames += other.frames;
    this.gt += other.gt;
    this.pred += other.pred;
    this.sumSIoU.merge(other.sumSIoU);
    this.sumPPV.merge(other.sumPPV);
    this.sumSIoUPred.merge(other.sumSIoUPred);
    for (let t = 0; t < this.tp.length; t++) {
      this.tp[t] = (this.tp[t] as number) + (other.tp[t] as number);
      this.fn[t] = (this.fn[t] as number) + (other.fn[t] as number);
      this.fp[t] = (this.fp[t] as number) + (other.fp[t] as number);
    }
    return this;
  }

  /**
   * Mean sIoU, PPV and F1.
   * @throws DenseHybridError `EMPTY_SET` when there is neither a GT nor a predicted component.
   */
  compute(): ComponentMetricsResult {
    if (this.gt + this.pred === 0) {
      throw new DenseHybridError(
        'EMPTY_SET',
        `ComponentMetricsAccumulator.compute: expected at least one GT or predicted component, got none over ${this.frames} frames`,
      );
    }
    const perThreshold = this.r.iouThresholds.map((tau, t) => {
      const tp = this.tp[t] as number;
      const fn = this.fn[t] as number;
      const fp = this.fp[t] as number;
      return { tau, tp, fn, fp, f1: (2 * tp) / (2 * tp + fn + fp) };
    });
    return {
      sIoU: this.gt === 0 ? NaN : this.sumSIoU.value() / this.gt,
      ppv: this.pred === 0 ? NaN : this.sumPPV.value() / this.pred,
      sIoUPred: this.pred === 0 ? NaN : this.sumSIoUPred.value() / this.pred,
      meanF1: perThreshold.reduce((s, x) => s + x.f1, 0) / perThreshold.length,
      perThreshold,
      threshold: this.r.threshold,
      gtComponents: this.gt,
      predComponents: this.pred,
      frames: this.frames,
    };
  }

  /** Serialisable state. */
  toJSON(): ComponentMetricsJSON {
    return {
      format: 'densehybrid/component-metrics',
      version: 1,
      options: {
        ...this.options,
        iouThresholds: [...this.r.iouThresholds],
        ignoreLabels: [...this.r.ignoreLabels],
      },
      frames: this.frames,
      gtComponents: this.gt,
      predComponents: this.pred,
      sumSIoU: this.sumSIoU.value(),
      sumPPV: this.sumPPV.value(),
      sumSIoUPred: this.sumSIoUPred.value(),
      partials: {
        sIoU: this.sumSIoU.toJSON(),
        ppv: this.sumPPV.toJSON(),
        sIoUPred: this.sumSIoUPred.toJSON(),
      },
      tp: [...this.tp],
      fn: [...this.fn],
      fp: [...this.fp],
    };
  }

  /**
   * Restores from {@link toJSON} output or its string.
   * @throws DenseHybridError `INVALID_INPUT` when malformed.
   */
  static fromJSON(json: ComponentMetricsJSON | string): ComponentMetricsAccumulator {
    const fn = 'ComponentMetricsAccumulator.fromJSON';
    const j = parseState(fn, json, 'densehybrid/component-metrics');
    const acc = new ComponentMetricsAccumulator(j.options);
    const k = acc.tp.length;
    const nums = [j.frames, j.gtComponents, j.predComponents, j.sumSIoU, j.sumPPV, j.sumSIoUPred];
    const arrays = [j.tp, j.fn, j.fp];
    if (
      nums.some((v) => typeof v !== 'number' || !(v >= 0)) ||
      arrays.some(
        (a) =>
          !Array.isArray(a) || a.length !== k || a.some((v) => typeof v !== 'number' || !(v >= 0)),
      )
    ) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected non-negative counts and sums, got a malformed state`,
      );
    }
    acc.frames = j.frames;
    acc.gt = j.gtComponents;
    acc.pred = j.predComponents;
    const sum = (parts: unknown, total: number): ExactSum => {
      const s = parts === undefined ? ExactSum.of(total) : ExactSum.fromJSON(parts);
      if (s === null) {
        throw new DenseHybridError(
          'INVALID_INPUT',
          `${fn}: expected partials as arrays of finite numbers, got ${describeValue(parts)}`,
        );
      }
      return s;
    };
    acc.sumSIoU = sum(j.partials?.sIoU, j.sumSIoU);
    acc.sumPPV = sum(j.partials?.ppv, j.sumPPV);
    acc.sumSIoUPred = sum(j.partials?.sIoUPred, j.sumSIoUPred);
    acc.tp.splice(0, k, ...j.tp);
    acc.fn.splice(0, k, ...j.fn);
    acc.fp.splice(0, k, ...j.fp);
    return acc;
  }
}

/** Options of {@link componentMetrics}: the accumulator's, and how the threshold is found. */
export interface ComponentMetricsSearchOptions extends ComponentMetricsOptions {
  /**
   * Without `threshold`: find the best pooled pixel-F1 threshold on SMIYC's per-frame percentile
   * bins (this many per frame, {@link PercentileBinsAccumulator}; SMIYC: 768) or, with `null`,
   * over every distinct score.
   * @default 768
   */
  readonly percentileBins?: number | null;
}

/**
 * SMIYC component-level metrics over frames: sIoU, PPV and mean F1 over τ = 0.25…0.75. Without
 * `options.threshold` the threshold is SMIYC's: the best pooled pixel-F1 threshold of its
 * 768-bin percentile curve ({@link PercentileBinsAccumulator}, scores rounded to float16 as SMIYC
 * stores them), rounded to float16 as numpy does when it compares a float16 score map with it;
 * with `percentileBins: null` the exact best-F1 threshold (a score value). Predictions are
 * `score > threshold` by default. On float16 score maps this is SMIYC's evaluation exactly.
 *
 * @param frames - `{ scores, labels, width, height }` per frame.
 * @param options - see {@link ComponentMetricsSearchOptions}.
 * @returns see {@link ComponentMetricsResult}.
 * @throws DenseHybridError `SHAPE_MISMATCH`, `NON_FINITE`, `INVALID_INPUT`, `INVALID_OPTION`,
 *   `EMPTY_SET` (threshold search without anomaly or inlier pixels; no components at all).
 * @example
 * ```ts
 * const r = componentMetrics([{ scores, labels, width: 640, height: 480 }]);
 * console.log(r.sIoU, r.ppv, r.meanF1);
 * ```
 */
export function componentMetrics(
  frames: readonly ComponentFrame[],
  options: ComponentMetricsSearchOptions = {},
): ComponentMetricsResult {
  const fn = 'componentMetrics';
  if (!Array.isArray(frames) || frames.length === 0) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected a non-empty array of frames, got ${describeValue(frames)}`,
    );
  }
  const { percentileBins = 768, ...rest } = options;
  let threshold = options.threshold;
  if (threshold === undefined) {
    const ignore = options.ignoreLabels === undefined ? {} : { ignoreLabels: options.ignoreLabels };
    if (percentileBins === null) {
      const acc = new AnomalyMetricsAccumulator({ mode: 'exact', perImage: false, ...ignore });
      for (const f of frames) {
        checkFrame(fn, f.scores, f.labels, f.width, f.height);
        acc.add(f.scores, f.labels);
      }
      threshold = acc.compute().bestF1Threshold as number;
    } else {
      const bins = new PercentileBinsAccumulator({ bins: percentileBins, ...ignore });
      for (const f of frames) {
        checkFrame(fn, f.scores, f.labels, f.width, f.height);
        bins.add(f.scores, f.labels);
      }
      threshold = doubleToFloat16(bins.compute().bestF1Threshold as number);
    }
  }
  const acc = new ComponentMetricsAccumulator({ ...rest, threshold });
  for (const f of frames) acc.add(f.scores, f.labels, f.width, f.height);
  return acc.compute();
}
