import {
  checkNotEmpty,
  checkScoresLabels,
  curvesResult,
  pooledResult,
  resolveMaxPoints,
  resolveMetricOptions,
  summarize,
  type AnomalyCurvesOptions,
  type AnomalyCurvesResult,
  type AnomalyMetricsOptions,
  type AnomalyMetricsResult,
  type AnomalyProtocol,
  type ResolvedMetricOptions,
  type ThresholdSource,
} from './anomaly-metrics.js';
import { decodeBase64, encodeBase64 } from './base64.js';
import { EMPTY_FRAME_RULES, type EmptyFrameRule } from './conventions.js';
import { DenseHybridError, describeValue } from './errors.js';
import { DistinctScores } from './distinct.js';
import {
  census,
  ExactScores,
  ExactScoresUnion,
  type LabelCounts,
  type OffloadedCounts,
} from './exact.js';
import { FLOAT16_BINS, float16OrderKey } from './float16.js';
import { ScoreHistogram } from './histogram.js';
import { orderedKeyOf, orderedKeyOfBits, valueOfOrderedKey } from './sort.js';
import { checkInteger, checkOneOf, parseState, type NumericArray } from './validate.js';

/** Storage mode of {@link AnomalyMetricsAccumulator}. */
export type AccumulatorMode = 'exact' | 'histogram' | 'distinct';

/** Options of {@link AnomalyMetricsAccumulator}. */
export interface AnomalyMetricsAccumulatorOptions extends AnomalyMetricsOptions {
  /**
   * `'exact'` keeps every non-ignored score (4 bytes per pixel while all scores are float32,
   * 8 otherwise) and reproduces scikit-learn exactly. `'histogram'` keeps one bin per float16
   * value (1 MiB, independent of the pixel count): exact for float16-quantised scores (as SMIYC
   * stores them); other scores are rounded to the nearest float16 first, so scores closer than
   * one float16 step (relative 2^-11 ≈ 4.9·10⁻⁴) become ties in the pooled metrics
   * ({@link AnomalyMetricsAccumulator.nonFloat16Scores} counts them); per-image metrics stay
   * exact (see `perImage`). `'distinct'` keeps one counter
   * pair per distinct float32 score (about 40 bytes each): exact for float32 scores with few
   * distinct values — e.g. ×0.5 bilinear means of float16 maps, which are not float16 values —
   * and, past `maxDistinct` of them, continues as `'histogram'` ({@link
   * AnomalyMetricsAccumulator.roundedToFloat16} says so).
   * @default 'exact'
   */
  readonly mode?: AccumulatorMode;
  /**
   * `'distinct'` mode: the most distinct scores kept before falling back to float16 bins.
   * @default 1048576
   */
  readonly maxDistinct?: number;
  /**
   * Record per-frame AP / AUROC / FPR at `add()` time for the per-image protocol (uses `tpr`,
   * `fprRule` of these options). Always exact, in every mode: from the frame's scores sorted
   * (one extra sort per frame; memory of one frame), or in histogram mode from the frame's
   * float16 histogram when every score of the frame is a float16 value (the same numbers,
   * almost free).
   * @default true
   */
  readonly perImage?: boolean;
}

/** Defaults of {@link AnomalyMetricsAccumulatorOptions}. */
export const DEFAULT_ANOMALY_METRICS_ACCUMULATOR_OPTIONS: Required<AnomalyMetricsAccumulatorOptions> =
  Object.freeze({
    tpr: 0.95,
    fprRule: 'at-least',
    ignoreLabels: Object.freeze([255]) as readonly number[],
    thresholdRule: 'greater-or-equal',
    mode: 'exact',
    maxDistinct: 1 << 20,
    perImage: true,
  });

/** Options of {@link AnomalyMetricsAccumulator.compute}. */
export interface AnomalyMetricsComputeOptions {
  /**
   * `'pooled'`: all pixels of all frames form one set (Fishyscapes, SMIYC). `'per-image'`: the
   * metrics of each frame, averaged over frames that have both anomaly and inlier pixels
   * (StreetHazards); skipped frames are counted in the result, never scored as 0.
   * @default 'pooled'
   */
  readonly protocol?: AnomalyProtocol;
  /**
   * Per-image: what a frame without anomaly or inlier pixels counts for (see
   * {@link EmptyFrameRule}): `'skip'` (StreetHazards' `eval_ood.py`) or `'sklearn-nanmean'`
   * (the DenseHybrid authors: AP 0 and FPR 0 without anomalies, AP 1 without inliers, NaN
   * metrics left out of the mean).
   * @default 'skip'
   */
  readonly emptyFrames?: EmptyFrameRule;
}

/** One frame's per-image metrics (null where skipped). */
export interface FrameMetrics {
  readonly positives: number;
  readonly negatives: number;
  readonly ignored: number;
  readonly ap: number | null;
  readonly auroc: number | null;
  readonly fpr: number | null;
  readonly bestF1: number | null;
}

/** JSON form of {@link AnomalyMetricsAccumulator} (see {@link AnomalyMetricsAccumulator.toJSON}). */
export interface AnomalyMetricsAccumulatorJSON {
  readonly format: 'densehybrid/anomaly-metrics';
  readonly version: 1;
  readonly options: Required<AnomalyMetricsAccumulatorOptions>;
  readonly positives: number;
  readonly negatives: number;
  readonly ignored: number;
  readonly frames: readonly FrameMetrics[];
  /**
   * Histogram mode: how many of the counted scores were no float16 value (rounded into their
   * bin); absent when none was.
   */
  readonly nonFloat16?: number;
  /** Histogram mode: `[key, inliers, anomalies, …]` of non-empty float16 bins. */
  readonly histogram?: readonly number[];
  /**
   * Exact mode: base64 of the little-endian stored scores (ordered float32 keys or float64);
   * `offloaded`: how many more a state file holds (per kind and side, see
   * `readSessionState` of `@densehybrid/metrics-openiou/node`).
   */
  readonly exact?: {
    readonly kind: 'f32' | 'f64';
    readonly pos: string;
    readonly neg: string;
    readonly offloaded?: OffloadedCounts;
  };
  /** Distinct mode: base64 of the ordered float32 keys and their float64 inlier / anomaly counts. */
  readonly distinct?: { readonly keys: string; readonly neg: string; readonly pos: string };
}

const FORMAT = 'densehybrid/anomaly-metrics';

/**
 * Streaming, mergeable accumulator of pixel-level anomaly metrics over many frames.
 *
 * @example
 * ```ts
 * const acc = new AnomalyMetricsAccumulator({ mode: 'histogram' });
 * for (const f of frames) acc.add(f.scores, f.labels); // Float32Array, Uint8Array
 * const pooled = acc.compute();                          // { ap, auroc, fpr, threshold, … }
 * const perImage = acc.compute({ protocol: 'per-image' });
 * const saved = JSON.stringify(acc);                     // resume later with fromJSON
 * ```
 */
export class AnomalyMetricsAccumulator {
  /** The resolved options. */
  readonly options: Required<AnomalyMetricsAccumulatorOptions>;
  private readonly metric: ResolvedMetricOptions;
  private hist: ScoreHistogram | null = null;
  private exact: ExactScores | null = null;
  private distinct: DistinctScores | null = null;
  private frameHist: ScoreHistogram | null = null;
  private readonly frameStats: FrameMetrics[] = [];
  private counts: LabelCounts = { positives: 0, negatives: 0, ignored: 0 };
  /** Histogram mode: counted scores that were no float16 value. */
  private inexact = 0;
  /** Exact mode, {@link union}: the stores of the accumulators it pools (not copied). */
  private parts: readonly ExactScores[] | null = null;

  /**
   * @param options - see {@link AnomalyMetricsAccumulatorOptions}.
   * @throws DenseHybridError `INVALID_OPTION` for an unknown mode, rule or out-of-range tpr.
   */
  constructor(options: AnomalyMetricsAccumulatorOptions = {}) {
    const fn = 'AnomalyMetricsAccumulator';
    this.metric = resolveMetricOptions(fn, options);
    const mode = options.mode ?? DEFAULT_ANOMALY_METRICS_ACCUMULATOR_OPTIONS.mode;
    checkOneOf(fn, 'mode', mode, ['exact', 'histogram', 'distinct'] as const);
    const maxDistinct =
      options.maxDistinct ?? DEFAULT_ANOMALY_METRICS_ACCUMULATOR_OPTIONS.maxDistinct;
    checkInteger(fn, 'maxDistinct', maxDistinct, 1, 1 << 30);
    const perImage = options.perImage ?? DEFAULT_ANOMALY_METRICS_ACCUMULATOR_OPTIONS.perImage;
    if (typeof perImage !== 'boolean') {
      throw new DenseHybridError(
        'INVALID_OPTION',
        `${fn}: expected perImage to be true or false, got ${describeValue(perImage)}`,
      );
    }
    this.options = Object.freeze({
      tpr: this.metric.tpr,
      fprRule: this.metric.fprRule,
      ignoreLabels: Object.freeze([...this.metric.ignoreLabels]),
      thresholdRule: this.metric.thresholdRule,
      mode,
      maxDistinct,
      perImage,
    });
    if (mode === 'histogram') this.hist = new ScoreHistogram();
    else if (mode === 'distinct') this.distinct = new DistinctScores();
    else this.exact = new ExactScores();
  }

  /**
   * `'distinct'` mode only: true once more than `maxDistinct` distinct scores came in and the
   * accumulator continued with float16 bins (as `'histogram'`).
   */
  get roundedToFloat16(): boolean {
    return this.options.mode === 'distinct' && this.hist !== null;
  }

  /** Distinct mode past `maxDistinct`: the distinct scores move into float16 bins. */
  private fallBack(): void {
    const d = this.distinct as DistinctScores;
    const h = new ScoreHistogram();
    d.forEach((k, neg, pos) => {
      const b = float16OrderKey(valueOfOrderedKey(k));
      h.counts[2 * b] = (h.counts[2 * b] as number) + neg;
      h.counts[2 * b + 1] = (h.counts[2 * b + 1] as number) + pos;
    });
    this.hist = h;
    this.distinct = null;
  }

  /** Number of frames added (merged ones included). */
  get frames(): number {
    return this.frameStats.length;
  }

  /**
   * Histogram mode: how many of the scores counted so far (ignored pixels left out) were no
   * float16 value, so that the pooled metrics saw them rounded to float16 (0 in the other modes,
   * and for float16 score maps). Per-image metrics are exact regardless.
   */
  get nonFloat16Scores(): number {
    return this.inexact;
  }

  /** Anomaly, inlier and ignored pixel counts so far. */
  get pixelCounts(): { positives: number; negatives: number; ignored: number } {
    return { ...this.counts };
  }

  /** Bytes of score storage held (histogram: 2 MiB, pooled + one frame; exact: grows). */
  get byteLength(): number {
    if (this.hist !== null)
      return this.hist.counts.byteLength + (this.frameHist?.counts.byteLength ?? 0);
    if (this.distinct !== null) return this.distinct.byteLength;
    if (this.parts !== null) return 0;
    return (this.exact as ExactScores).byteLength;
  }

  /**
   * Adds one frame.
   *
   * @param scores - anomaly scores (`Float32Array` is the fast path; any numeric array works).
   * @param labels - 0 inlier, 1 anomaly, ignore labels dropped; same length as `scores`.
   * @returns this, for chaining.
   * @throws DenseHybridError `SHAPE_MISMATCH`, `NON_FINITE`, `INVALID_INPUT`. A frame that
   *   throws leaves the accumulator unchanged.
   */
  add(scores: NumericArray, labels: NumericArray): this {
    const fn = 'AnomalyMetricsAccumulator.add';
    checkScoresLabels(fn, scores, labels);
    const c: LabelCounts = { positives: 0, negatives: 0, ignored: 0 };
    const o = this.metric;
    let frame: FrameMetrics;
    if (this.hist !== null) {
      // one pass into a frame histogram, folded into the pooled one afterwards, so a frame
      // that throws halfway leaves the pooled state untouched
      const fh = (this.frameHist ??= new ScoreHistogram());
      fh.counts.fill(0);
      let inexact: number;
      try {
        inexact = fh.add(fn, scores, labels, o.ignoreLabels, c);
      } catch (e) {
        fh.counts.fill(0);
        throw e;
      }
      if (!this.options.perImage) frame = { ...c, ap: null, auroc: null, fpr: null, bestF1: null };
      else if (inexact > 0 && c.positives > 0 && c.negatives > 0) {
        // scores that are no float16 value: the frame's metrics from its own scores, exactly
        const fs = new ExactScores();
        fs.append(scores, labels, c, census(fn, scores, labels, o.ignoreLabels, { ...c }));
        fs.sort();
        frame = frameMetrics(fs, c, o);
      } else frame = frameMetrics(fh, c, o);
      this.hist.addHistogram(fh);
      this.inexact += inexact;
    } else {
      const allF32 = census(fn, scores, labels, o.ignoreLabels, c);
      if (this.options.perImage && c.positives > 0 && c.negatives > 0) {
        const fs = new ExactScores();
        fs.append(scores, labels, c, allF32);
        fs.sort();
        frame = frameMetrics(fs, c, o);
      } else frame = { ...c, ap: null, auroc: null, fpr: null, bestF1: null };
      if (this.distinct !== null) {
        const d = this.distinct;
        const bits =
          scores instanceof Float32Array
            ? new Uint32Array(scores.buffer, scores.byteOffset, scores.length)
            : null;
        for (let i = 0; i < scores.length; i++) {
          const l = labels[i] as number;
          if (l !== 0 && l !== 1) continue;
          const k =
            bits !== null
              ? orderedKeyOfBits(bits[i] as number)
              : orderedKeyOf(Math.fround(scores[i] as number));
          d.addKey(k, l, 1);
        }
        if (d.size > this.options.maxDistinct) this.fallBack();
      } else this.heldExact(fn).append(scores, labels, c, allF32);
    }
    this.frameStats.push(frame);
    this.counts.positives += c.positives;
    this.counts.negatives += c.negatives;
    this.counts.ignored += c.ignored;
    return this;
  }

  /**
   * Histogram mode: adds one frame given as its float16-key histogram `counts[2·key + label]`
   * (validated by whoever built it) and its pixel counts.
   * @internal
   */
  addFrameHistogram(
    counts: Float64Array,
    c: { positives: number; negatives: number; ignored: number },
  ): this {
    const hist = this.options.mode === 'histogram' ? this.hist : null;
    if (hist === null) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `AnomalyMetricsAccumulator.addFrameHistogram: expected an accumulator in histogram mode, got mode ${this.options.mode}`,
      );
    }
    const fh = (this.frameHist ??= new ScoreHistogram());
    fh.counts.set(counts);
    // the counts alone (a caller's object may carry more, e.g. the frame's histogram)
    const own = { positives: c.positives, negatives: c.negatives, ignored: c.ignored };
    const frame = this.options.perImage
      ? frameMetrics(fh, own, this.metric)
      : { ...own, ap: null, auroc: null, fpr: null, bestF1: null };
    hist.addHistogram(fh);
    this.frameStats.push(frame);
    this.counts.positives += c.positives;
    this.counts.negatives += c.negatives;
    this.counts.ignored += c.ignored;
    return this;
  }

  /**
   * Adds another accumulator's state (frames, counts, scores). Equivalent to having added its
   * frames to this one.
   *
   * @param other - an accumulator with the same options.
   * @returns this.
   * @throws DenseHybridError `INVALID_INPUT` when the options differ.
   */
  merge(other: AnomalyMetricsAccumulator): this {
    const fn = 'AnomalyMetricsAccumulator.merge';
    if (!(other instanceof AnomalyMetricsAccumulator)) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected an AnomalyMetricsAccumulator, got ${describeValue(other)}`,
      );
    }
    const a = JSON.stringify(this.options);
    const b = JSON.stringify(other.options);
    if (a !== b) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected an accumulator with options ${a}, got ${b}`,
      );
    }
    if (this.options.mode === 'distinct') {
      if (this.hist === null && other.hist === null) {
        (this.distinct as DistinctScores).addTable(other.distinct as DistinctScores);
        if ((this.distinct as DistinctScores).size > this.options.maxDistinct) this.fallBack();
      } else {
        if (this.hist === null) this.fallBack();
        if (other.hist !== null) (this.hist as ScoreHistogram).addHistogram(other.hist);
        else {
          const h = this.hist as ScoreHistogram;
          (other.distinct as DistinctScores).forEach((k, neg, pos) => {
            const b = float16OrderKey(valueOfOrderedKey(k));
            h.counts[2 * b] = (h.counts[2 * b] as number) + neg;
            h.counts[2 * b + 1] = (h.counts[2 * b + 1] as number) + pos;
          });
        }
      }
    } else if (this.hist !== null) {
      this.hist.addHistogram(other.hist as ScoreHistogram);
      this.inexact += other.inexact;
    } else {
      const fn2 = 'AnomalyMetricsAccumulator.merge';
      for (const ex of other.parts ?? [other.exact as ExactScores])
        this.heldExact(fn2).appendStore(ex);
    }
    this.frameStats.push(...other.frameStats);
    this.counts.positives += other.counts.positives;
    this.counts.negatives += other.counts.negatives;
    this.counts.ignored += other.counts.ignored;
    return this;
  }

  private source(): ThresholdSource {
    if (this.hist !== null) return this.hist;
    if (this.distinct !== null) return this.distinct;
    if (this.parts !== null) {
      const union = new ExactScoresUnion(this.parts);
      union.sort();
      return union;
    }
    const ex = this.exact as ExactScores;
    ex.sort();
    return ex;
  }

  /** The exact store (exact mode, not a union). */
  private heldExact(fn: string): ExactScores {
    if (this.parts !== null) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected an accumulator of its own, got a pooled view (AnomalyMetricsAccumulator.union)`,
      );
    }
    return this.exact as ExactScores;
  }

  /**
   * Exact mode: the score store, for state files that persist it incrementally (null in other
   * modes).
   * @internal
   */
  exactStore(): ExactScores | null {
    return this.parts === null ? this.exact : null;
  }

  /**
   * An accumulator of every frame of `accs` (same options), in order: as `merge`d into a new
   * one, but in exact mode it reads their stores in place (sorting them) instead of copying
   * every score, so pooling folds costs no memory. Only for computing: adding to it, or merging
   * it into another accumulator, works (the latter copies), adding frames to it throws.
   * @internal
   */
  static union(accs: readonly AnomalyMetricsAccumulator[]): AnomalyMetricsAccumulator {
    const first = accs[0];
    if (first === undefined) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        'AnomalyMetricsAccumulator.union: expected at least one accumulator, got none',
      );
    }
    const out = new AnomalyMetricsAccumulator(first.options);
    const stores = accs.map((a) => a.exact);
    const exact =
      stores.every((e): e is ExactScores => e !== null) && accs.every((a) => a.parts === null);
    if (!exact || new Set(stores.map((e) => e.kind)).size > 1) {
      for (const a of accs) out.merge(a);
      return out;
    }
    const key = JSON.stringify(first.options);
    for (const a of accs) {
      if (JSON.stringify(a.options) !== key) out.merge(a); // throws, naming the options
      out.frameStats.push(...a.frameStats);
      out.counts.positives += a.counts.positives;
      out.counts.negatives += a.counts.negatives;
      out.counts.ignored += a.counts.ignored;
    }
    out.parts = stores;
    out.exact = null;
    return out;
  }

  /**
   * Computes the metrics.
   *
   * @param options - `protocol`: `'pooled'` (default) or `'per-image'`; `emptyFrames`.
   * @returns see {@link AnomalyMetricsResult}; per-image, `framesUsed` counts the frames in the
   *   AP mean.
   * @throws DenseHybridError `EMPTY_SET` (pooled: no anomaly or no inlier pixel; per-image: no
   *   frame to average), `INVALID_OPTION` (per-image without `perImage`).
   */
  compute(options: AnomalyMetricsComputeOptions = {}): AnomalyMetricsResult {
    const fn = 'AnomalyMetricsAccumulator.compute';
    const protocol = options.protocol ?? 'pooled';
    checkOneOf(fn, 'protocol', protocol, ['pooled', 'per-image'] as const);
    const emptyFrames = options.emptyFrames ?? 'skip';
    checkOneOf(fn, 'emptyFrames', emptyFrames, EMPTY_FRAME_RULES);
    const o = this.metric;
    if (protocol === 'pooled') {
      checkNotEmpty(fn, this.counts.positives, this.counts.negatives);
      const used = this.frameStats.filter((f) => f.positives + f.negatives > 0).length;
      return pooledResult(this.source(), this.counts, o, this.frames, used);
    }
    if (!this.options.perImage) {
      throw new DenseHybridError(
        'INVALID_OPTION',
        `${fn}: expected an accumulator created with perImage: true for protocol 'per-image', got perImage: false`,
      );
    }
    // sums and counts per metric: 'sklearn-nanmean' adds what scikit-learn returns for a frame
    // without anomalies (AP 0, FPR 0) or without inliers (AP 1); NaN metrics stay out
    const sklearn = emptyFrames === 'sklearn-nanmean';
    let ap = 0;
    let nAp = 0;
    let auroc = 0;
    let nAuroc = 0;
    let fpr = 0;
    let nFpr = 0;
    let f1 = 0;
    let both = 0;
    let noAnomaly = 0;
    let noInlier = 0;
    for (const f of this.frameStats) {
      if (f.positives === 0) {
        noAnomaly++;
        if (sklearn && f.negatives > 0) {
          nAp++;
          nFpr++;
        }
      } else if (f.negatives === 0) {
        noInlier++;
        if (sklearn) {
          ap += 1;
          nAp++;
        }
      } else {
        ap += f.ap as number;
        nAp++;
        auroc += f.auroc as number;
        nAuroc++;
        fpr += f.fpr as number;
        nFpr++;
        f1 += f.bestF1 as number;
        both++;
      }
    }
    const used = nAp;
    if (both === 0) {
      throw new DenseHybridError(
        'EMPTY_SET',
        `${fn}: expected at least one frame with both anomaly and inlier pixels for protocol 'per-image', got ${this.frames} frames (${noAnomaly} without anomaly, ${noInlier} without inlier pixels)`,
      );
    }
    return {
      ap: ap / nAp,
      auroc: auroc / nAuroc,
      fpr: fpr / nFpr,
      threshold: null,
      tprReached: null,
      bestF1: f1 / both,
      bestF1Threshold: null,
      tpr: o.tpr,
      fprRule: o.fprRule,
      ...this.counts,
      protocol,
      frames: this.frames,
      framesUsed: used,
      framesWithoutAnomaly: noAnomaly,
      framesWithoutInlier: noInlier,
    };
  }

  /**
   * Pooled precision–recall and ROC curve points for plotting (at most `maxPoints` each).
   *
   * @param options - `maxPoints` (default 512); `ignoreLabels` is taken from the accumulator.
   * @returns see {@link AnomalyCurvesResult}.
   * @throws DenseHybridError `EMPTY_SET`, `INVALID_OPTION`.
   */
  curves(options: Pick<AnomalyCurvesOptions, 'maxPoints'> = {}): AnomalyCurvesResult {
    const fn = 'AnomalyMetricsAccumulator.curves';
    const maxPoints = resolveMaxPoints(fn, options.maxPoints);
    checkNotEmpty(fn, this.counts.positives, this.counts.negatives);
    return curvesResult(this.source(), this.counts.positives, this.counts.negatives, maxPoints);
  }

  /** The per-frame metrics recorded so far (null where a frame lacks anomaly or inlier pixels). */
  frameMetrics(): readonly FrameMetrics[] {
    return this.frameStats.slice();
  }

  /** @internal threshold source for calibration. */
  thresholdSource(): { src: ThresholdSource; positives: number; negatives: number } {
    return { src: this.source(), ...this.counts };
  }

  /**
   * Serialisable state (`JSON.stringify(acc)` calls this). Histogram mode: sparse non-empty bins,
   * small. Exact mode: base64 of every stored score, so only for modest pixel counts.
   */
  toJSON(): AnomalyMetricsAccumulatorJSON {
    const base = {
      format: FORMAT,
      version: 1,
      options: { ...this.options, ignoreLabels: [...this.options.ignoreLabels] },
      ...this.counts,
      frames: this.frameStats.slice(),
    } as const;
    if (this.hist !== null)
      return {
        ...base,
        ...(this.inexact > 0 ? { nonFloat16: this.inexact } : {}),
        histogram: this.hist.toSparse(),
      };
    if (this.distinct !== null) {
      // in key order, so equal states serialise equally
      const d = this.distinct;
      const keys = d.sortedKeys();
      const neg = new Float64Array(keys.length);
      const pos = new Float64Array(keys.length);
      for (let i = 0; i < keys.length; i++) {
        const j = d.slotOf(keys[i] as number);
        neg[i] = d.counts[2 * j] as number;
        pos[i] = d.counts[2 * j + 1] as number;
      }
      return {
        ...base,
        distinct: { keys: encodeBase64(keys), neg: encodeBase64(neg), pos: encodeBase64(pos) },
      };
    }
    if (this.parts !== null) {
      // a pooled view serialises as the accumulator it stands for
      const copy = new AnomalyMetricsAccumulator(this.options);
      copy.merge(this);
      return copy.toJSON();
    }
    const ex = this.exact as ExactScores;
    return {
      ...base,
      exact: {
        kind: ex.kind,
        pos: encodeBase64(ex.pos.subarray(0, ex.posLen)),
        neg: encodeBase64(ex.neg.subarray(0, ex.negLen)),
        ...(ex.offloadedCount > 0 ? { offloaded: structuredClone(ex.offloaded) } : {}),
      },
    };
  }

  /**
   * Restores an accumulator from {@link toJSON} output (or its `JSON.parse`d string).
   *
   * @param json - the object or its JSON string.
   * @returns a new accumulator equal to the saved one.
   * @throws DenseHybridError `INVALID_INPUT` when the state is malformed.
   * @example
   * ```ts
   * const acc = AnomalyMetricsAccumulator.fromJSON(await readFile('state.json', 'utf8'));
   * ```
   */
  static fromJSON(json: AnomalyMetricsAccumulatorJSON | string): AnomalyMetricsAccumulator {
    const fn = 'AnomalyMetricsAccumulator.fromJSON';
    const bad = (what: string, got: unknown) =>
      new DenseHybridError('INVALID_INPUT', `${fn}: expected ${what}, got ${describeValue(got)}`);
    const j = parseState(fn, json, FORMAT);
    const acc = new AnomalyMetricsAccumulator(j.options);
    const count = (v: unknown, what: string) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad(what, v);
      return v;
    };
    acc.counts = {
      positives: count(j.positives, 'positives: a count'),
      negatives: count(j.negatives, 'negatives: a count'),
      ignored: count(j.ignored, 'ignored: a count'),
    };
    if (!Array.isArray(j.frames)) throw bad('frames: an array', j.frames);
    for (const f of j.frames) {
      if (typeof f !== 'object' || f === null) throw bad('frames: objects', f);
      const num = (v: unknown) => (v === null || typeof v === 'number' ? v : NaN);
      const fm: FrameMetrics = {
        positives: count(f.positives, 'frame positives: a count'),
        negatives: count(f.negatives, 'frame negatives: a count'),
        ignored: count(f.ignored, 'frame ignored: a count'),
        ap: num(f.ap),
        auroc: num(f.auroc),
        fpr: num(f.fpr),
        bestF1: num(f.bestF1),
      };
      if ([fm.ap, fm.auroc, fm.fpr, fm.bestF1].some((v) => Number.isNaN(v))) {
        throw bad('frame metrics: numbers or null', f);
      }
      acc.frameStats.push(fm);
    }
    // a distinct-mode accumulator that fell back to float16 bins saved its histogram
    if (acc.distinct !== null && j.histogram !== undefined) {
      acc.distinct = null;
      acc.hist = new ScoreHistogram();
    }
    if (acc.distinct !== null) {
      const d = j.distinct;
      const decode = (v: unknown, width: number, what: string) => {
        const bytes = typeof v === 'string' ? decodeBase64(v) : null;
        if (bytes === null || bytes.length % width !== 0)
          throw bad(`${what}: base64 of ${width}-byte values`, v);
        return bytes;
      };
      if (typeof d !== 'object' || d === null) throw bad('distinct: { keys, neg, pos }', d);
      const kb = decode(d.keys, 4, 'distinct.keys');
      const keys = new Uint32Array(kb.buffer, kb.byteOffset, kb.length / 4);
      const nb = decode(d.neg, 8, 'distinct.neg');
      const pb = decode(d.pos, 8, 'distinct.pos');
      const neg = new Float64Array(nb.buffer, nb.byteOffset, nb.length / 8);
      const pos = new Float64Array(pb.buffer, pb.byteOffset, pb.length / 8);
      if (neg.length !== keys.length || pos.length !== keys.length)
        throw bad('one inlier and one anomaly count per key', [keys.length, neg.length]);
      let p = 0;
      let q = 0;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as number;
        if (k === 0) throw bad('non-zero keys', k);
        q += count(neg[i], 'distinct counts');
        p += count(pos[i], 'distinct counts');
        if (neg[i]) acc.distinct.addKey(k, 0, neg[i] as number);
        if (pos[i]) acc.distinct.addKey(k, 1, pos[i] as number);
      }
      if (p !== acc.counts.positives || q !== acc.counts.negatives)
        throw bad('distinct totals equal to positives/negatives', [p, q]);
    } else if (acc.hist !== null) {
      const h = j.histogram;
      if (!Array.isArray(h) || h.length % 3 !== 0)
        throw bad('histogram: [key, inliers, anomalies, …]', h);
      const c = acc.hist.counts;
      for (let i = 0; i < h.length; i += 3) {
        const k = h[i];
        if (typeof k !== 'number' || !Number.isInteger(k) || k < 0 || k >= FLOAT16_BINS) {
          throw bad('histogram keys in [0, 65535]', k);
        }
        c[2 * k] = count(h[i + 1], 'histogram counts');
        c[2 * k + 1] = count(h[i + 2], 'histogram counts');
      }
      const t = acc.hist.totals();
      if (t.positives !== acc.counts.positives || t.negatives !== acc.counts.negatives) {
        throw bad(`histogram totals equal to positives/negatives`, [t.positives, t.negatives]);
      }
      if (j.nonFloat16 !== undefined) {
        acc.inexact = count(j.nonFloat16, 'nonFloat16: a count');
        if (acc.inexact > t.positives + t.negatives)
          throw bad('nonFloat16 at most the counted scores', j.nonFloat16);
      }
    } else {
      const e = j.exact;
      if (typeof e !== 'object' || e === null || (e.kind !== 'f32' && e.kind !== 'f64')) {
        throw bad('exact: { kind: "f32" | "f64", pos, neg }', e);
      }
      const decode = (s: unknown, what: string) => {
        const bytes = typeof s === 'string' ? decodeBase64(s) : null;
        const width = e.kind === 'f32' ? 4 : 8;
        if (bytes === null || bytes.length % width !== 0)
          throw bad(`${what}: base64 of ${width}-byte values`, s);
        return e.kind === 'f32'
          ? new Uint32Array(bytes.buffer, 0, bytes.length / 4)
          : new Float64Array(bytes.buffer, 0, bytes.length / 8);
      };
      const ex = acc.exact as ExactScores;
      ex.kind = e.kind;
      ex.pos = decode(e.pos, 'exact.pos');
      ex.neg = decode(e.neg, 'exact.neg');
      ex.posLen = ex.pos.length;
      ex.negLen = ex.neg.length;
      ex.sorted = ex.posLen + ex.negLen === 0;
      if (e.offloaded !== undefined) {
        const o = e.offloaded as unknown as Record<string, Record<string, unknown>> | null;
        for (const k of ['f32', 'f64'] as const)
          for (const side of ['pos', 'neg'] as const)
            ex.offloaded[k][side] = count(o?.[k]?.[side], `exact.offloaded.${k}.${side}: a count`);
      }
      const t = ex.total;
      if (t.pos !== acc.counts.positives || t.neg !== acc.counts.negatives) {
        throw bad('exact score counts equal to positives/negatives', [t.pos, t.neg]);
      }
    }
    return acc;
  }
}

function frameMetrics(
  src: ThresholdSource,
  c: LabelCounts,
  o: ResolvedMetricOptions,
): FrameMetrics {
  if (c.positives === 0 || c.negatives === 0)
    return { ...c, ap: null, auroc: null, fpr: null, bestF1: null };
  const r = summarize(src, c.positives, c.negatives, o, 0);
  return { ...c, ap: r.ap, auroc: r.auroc, fpr: r.fpr, bestF1: r.bestF1 };
}
