import * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { upsampleBilinear } from '@densehybrid/losses';
import {
  checkLogits,
  standardizedMaxLogit,
  targetSize,
  type ScoreOptions,
  type SmlStatistics,
} from './scores.js';

/**
 * Full SML (Jung, Lee, Gwak, Shim, Choo: "Standardized Max Logits", ICCV 2021): the
 * standardised max logit ({@link standardizedMaxLogit}) followed by the paper's two
 * post-processing steps, with the defaults of the authors' evaluation (`eval.py` of
 * shjung13/Standardized-max-logits): iterative boundary suppression (boundary width 4,
 * 4 iterations) and dilated smoothing (7×7 Gaussian, σ = 1, dilation 6). Both steps are linear
 * in the score, so they commute with the sign flip that turns the inlier-positive SML of the
 * paper into this library's anomaly score (higher = more anomalous).
 */

/** Options of {@link suppressBoundaries} (SML's iterative boundary suppression). */
export interface BoundarySuppressionOptions {
  /**
   * Initial width of the suppressed band: the boundary of the predicted class map (pixels where
   * the dilation with a 3×3 cross differs from the erosion with a 3×3 square) is expanded by
   * an L1 ball of radius `boundaryWidth − i·(boundaryWidth / iterations) − 1` in iteration i
   * (0 in the last one).
   * @default 4 (the authors' `--boundary_width`)
   */
  readonly boundaryWidth?: number;
  /**
   * Iterations; each replaces the scores of the band's pixels by the mean of their non-band
   * 3×3 neighbours (replicate padding), so values propagate inwards from outside the band.
   * Must divide `boundaryWidth` (0 switches the step off).
   * @default 4 (the authors' `--boundary_iteration`)
   */
  readonly iterations?: number;
}

/** Default options of {@link suppressBoundaries}: the authors' evaluation defaults. */
export const DEFAULT_BOUNDARY_SUPPRESSION_OPTIONS = {
  boundaryWidth: 4,
  iterations: 4,
} as const satisfies Required<BoundarySuppressionOptions>;

/** Options of {@link dilatedSmoothing} (SML's dilated Gaussian smoothing). */
export interface DilatedSmoothingOptions {
  /** Side of the Gaussian kernel (odd). @default 7 (the authors' `--smoothing_kernel_size`) */
  readonly kernelSize?: number;
  /** Standard deviation of the Gaussian, in kernel taps. @default 1 (fixed in the authors' code) */
  readonly sigma?: number;
  /** Dilation of the kernel. @default 6 (the authors' `--smoothing_kernel_dilation`) */
  readonly dilation?: number;
}

/** Default options of {@link dilatedSmoothing}: the authors' evaluation defaults. */
export const DEFAULT_DILATED_SMOOTHING_OPTIONS = {
  kernelSize: 7,
  sigma: 1,
  dilation: 6,
} as const satisfies Required<DilatedSmoothingOptions>;

/** Options of {@link smlScore}. */
export interface SmlScoreOptions extends ScoreOptions {
  /**
   * Iterative boundary suppression, or `false` to skip it.
   * @default {@link DEFAULT_BOUNDARY_SUPPRESSION_OPTIONS} (width 4, 4 iterations)
   */
  readonly boundarySuppression?: BoundarySuppressionOptions | false;
  /**
   * Dilated smoothing, or `false` to skip it.
   * @default {@link DEFAULT_DILATED_SMOOTHING_OPTIONS} (7×7 Gaussian, σ 1, dilation 6)
   */
  readonly dilatedSmoothing?: DilatedSmoothingOptions | false;
}

/** Default options of {@link smlScore}: full SML with the authors' evaluation defaults. */
export const DEFAULT_SML_SCORE_OPTIONS = {
  boundarySuppression: DEFAULT_BOUNDARY_SUPPRESSION_OPTIONS,
  dilatedSmoothing: DEFAULT_DILATED_SMOOTHING_OPTIONS,
} as const satisfies SmlScoreOptions;

function badOption(fn: string, name: string, want: string, got: unknown): never {
  throw new DenseHybridError(
    'INVALID_OPTION',
    `${fn}: expected options.${name} to be ${want}, got ${describeValue(got)}`,
  );
}

function isInt(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min;
}

function resolveBoundary(
  fn: string,
  o: BoundarySuppressionOptions | undefined,
  name: string,
): Required<BoundarySuppressionOptions> {
  if (o === null || typeof o !== 'object') badOption(fn, name, 'an object or false', o);
  const width = o.boundaryWidth ?? DEFAULT_BOUNDARY_SUPPRESSION_OPTIONS.boundaryWidth;
  const iterations = o.iterations ?? DEFAULT_BOUNDARY_SUPPRESSION_OPTIONS.iterations;
  if (!isInt(width, 0)) badOption(fn, `${name}.boundaryWidth`, 'an integer ≥ 0', width);
  if (!isInt(iterations, 0)) badOption(fn, `${name}.iterations`, 'an integer ≥ 0', iterations);
  if (iterations > 0 && width % iterations !== 0) {
    badOption(fn, `${name}.iterations`, `a divisor of boundaryWidth (${width})`, iterations);
  }
  return { boundaryWidth: width, iterations };
}

function resolveSmoothing(
  fn: string,
  o: DilatedSmoothingOptions | undefined,
  name: string,
): Required<DilatedSmoothingOptions> {
  if (o === null || typeof o !== 'object') badOption(fn, name, 'an object or false', o);
  const kernelSize = o.kernelSize ?? DEFAULT_DILATED_SMOOTHING_OPTIONS.kernelSize;
  const sigma = o.sigma ?? DEFAULT_DILATED_SMOOTHING_OPTIONS.sigma;
  const dilation = o.dilation ?? DEFAULT_DILATED_SMOOTHING_OPTIONS.dilation;
  if (!isInt(kernelSize, 1) || kernelSize % 2 !== 1)
    badOption(fn, `${name}.kernelSize`, 'an odd integer ≥ 1', kernelSize);
  if (typeof sigma !== 'number' || !(sigma > 0) || !Number.isFinite(sigma))
    badOption(fn, `${name}.sigma`, 'a finite number > 0', sigma);
  if (!isInt(dilation, 1)) badOption(fn, `${name}.dilation`, 'an integer ≥ 1', dilation);
  return { kernelSize, sigma, dilation };
}

function checkMap(fn: string, name: string, x: unknown, dtype?: string): tf.Tensor3D {
  if (!(x instanceof tf.Tensor) || x.rank !== 3 || (dtype !== undefined && x.dtype !== dtype)) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected ${name} to be a ${dtype ?? ''}${dtype ? ' ' : ''}tensor [N,H,W], got ${x instanceof tf.Tensor ? `Tensor[${x.shape.join(',')}] ${x.dtype}` : describeValue(x)}`,
    );
  }
  return x as tf.Tensor3D;
}

/** Pads H and W of `[N,H,W,1]` by `p` with copies of the border rows and columns (PyTorch `ReplicationPad2d`). */
function replicationPad(x: tf.Tensor4D, p: number): tf.Tensor4D {
  if (p === 0) return x;
  const [, h, w] = x.shape;
  const rows = tf.concat(
    [
      tf.tile(tf.slice(x, [0, 0, 0, 0], [-1, 1, -1, -1]), [1, p, 1, 1]),
      x,
      tf.tile(tf.slice(x, [0, h - 1, 0, 0], [-1, 1, -1, -1]), [1, p, 1, 1]),
    ],
    1,
  );
  return tf.concat(
    [
      tf.tile(tf.slice(rows, [0, 0, 0, 0], [-1, -1, 1, -1]), [1, 1, p, 1]),
      rows,
      tf.tile(tf.slice(rows, [0, 0, w - 1, 0], [-1, -1, 1, -1]), [1, 1, p, 1]),
    ],
    2,
  ) as tf.Tensor4D;
}

/**
 * Grey-level dilation with the 3×3 cross (centre + 4-neighbours), only in-image pixels counted
 * (kornia's geodesic border): the max of a vertical and a horizontal 3-tap max-pool, whose
 * `same` padding never wins a max.
 */
function dilateCross(x: tf.Tensor4D): tf.Tensor4D {
  return tf.maximum(tf.maxPool(x, [3, 1], 1, 'same'), tf.maxPool(x, [1, 3], 1, 'same'));
}

/**
 * The band SML suppresses: 1 where the dilation of the predicted class map with the 3×3 cross
 * differs from its erosion with the 3×3 square (the authors' `find_boundaries`), expanded by an
 * L1 ball of radius `r` (r cross dilations; the authors' `expand_boundaries`). `[N,H,W,1]` 0/1.
 */
function boundaryBand(prediction: tf.Tensor4D, r: number): tf.Tensor4D {
  const dilated = dilateCross(prediction);
  // erosion with the 3×3 square = −max-pool(−x); `same` padding is ignored by the max
  const eroded = tf.neg(tf.maxPool(tf.neg(prediction), 3, 1, 'same'));
  let band = tf.cast(tf.notEqual(dilated, eroded), 'float32') as tf.Tensor4D;
  for (let i = 0; i < r; i++) band = dilateCross(band);
  return band;
}

/**
 * SML's iterative boundary suppression (Jung et al., ICCV 2021, sec. 3.3): scores on the
 * boundaries of the predicted class map — where max logits dip between classes — are replaced,
 * from the outside in, by the mean of their 3×3 neighbours outside the band. Iteration
 * i = 0…n−1 (n = `iterations`, Δ = boundaryWidth / n): band B_i = boundary ⊕ L1-ball of radius
 * `boundaryWidth − iΔ − 1` (0 for the last); for p ∈ B_i with at least one 3×3 neighbour q ∉ B_i
 * (replicate padding), x(p) ← mean_{q ∉ B_i} x(q); other pixels keep x.
 *
 * @param score `[N, H, W]` float32; not disposed
 * @param prediction `[N, H, W]` predicted class (int32, e.g. `argMax(logits, -1)`); not disposed
 * @param options see {@link BoundarySuppressionOptions}
 * @returns `[N, H, W]` float32, caller disposes
 * @throws DenseHybridError `INVALID_INPUT`, `SHAPE_MISMATCH`, `INVALID_OPTION`
 * @example
 * ```ts
 * const suppressed = suppressBoundaries(score, tf.argMax(logits, -1) as tf.Tensor3D);
 * ```
 */
export function suppressBoundaries(
  score: tf.Tensor3D,
  prediction: tf.Tensor3D,
  options: BoundarySuppressionOptions = {},
): tf.Tensor3D {
  const fn = 'suppressBoundaries';
  const x = checkMap(fn, 'score', score, 'float32');
  const pred = checkMap(fn, 'prediction', prediction);
  if (x.shape.join() !== pred.shape.join()) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `${fn}: expected prediction of the score's shape [${x.shape.join(',')}], got [${pred.shape.join(',')}]`,
    );
  }
  const o = resolveBoundary(fn, options, 'boundarySuppression');
  return tf.tidy(() => applyBoundarySuppression(x, pred, o));
}

function applyBoundarySuppression(
  x: tf.Tensor3D,
  prediction: tf.Tensor3D,
  o: Required<BoundarySuppressionOptions>,
): tf.Tensor3D {
  if (o.iterations === 0) return tf.clone(x);
  const pred = tf.expandDims(tf.cast(prediction, 'float32'), 3) as tf.Tensor4D;
  const boundary = boundaryBand(pred, 0);
  const diff = o.boundaryWidth / o.iterations;
  const ones = tf.ones([3, 3, 1, 1]) as tf.Tensor4D;
  const sum3 = (t: tf.Tensor4D): tf.Tensor4D => tf.conv2d(replicationPad(t, 1), ones, 1, 'valid');
  let out = tf.expandDims(x, 3) as tf.Tensor4D;
  for (let i = 0; i < o.iterations; i++) {
    const r = o.boundaryWidth === 0 || i === o.iterations - 1 ? 0 : o.boundaryWidth - diff * i - 1;
    let band = boundary;
    for (let k = 0; k < r; k++) band = dilateCross(band);
    const keep = tf.cast(tf.equal(band, 0), 'float32') as tf.Tensor4D; // non-boundary mask
    const total = sum3(tf.mul(out, keep));
    const count = sum3(keep);
    // mean of the non-band neighbours; the old value where none exists or outside the band
    const mean = tf.where(tf.equal(count, 0), out, tf.div(total, tf.maximum(count, 1)));
    out = tf.where(tf.equal(keep, 0), mean, out) as tf.Tensor4D;
  }
  return tf.squeeze(out, [3]) as tf.Tensor3D;
}

/** The normalised Gaussian kernel `k×k` (σ in taps) of SML's dilated smoothing, float64 in JS. */
export function smlGaussianKernel(kernelSize: number, sigma: number): number[] {
  const c = (kernelSize - 1) / 2;
  const v: number[] = [];
  for (let y = 0; y < kernelSize; y++)
    for (let x = 0; x < kernelSize; x++)
      v.push(Math.exp(-((x - c) ** 2 + (y - c) ** 2) / (2 * sigma * sigma)));
  const total = v.reduce((a, b) => a + b, 0);
  return v.map((e) => e / total);
}

/**
 * SML's dilated smoothing (Jung et al., ICCV 2021, sec. 3.3): a normalised `k×k` Gaussian
 * (σ in taps) with dilation d, over the score padded by d·(k−1)/2 with replicated borders, so
 * the output keeps the input's size: y(p) = Σ_{a,b} G(a,b)·x(clamp(p + d·(a − c, b − c))).
 *
 * @param score `[N, H, W]` float32; not disposed
 * @param options see {@link DilatedSmoothingOptions}
 * @returns `[N, H, W]` float32, caller disposes
 * @throws DenseHybridError `INVALID_INPUT`, `INVALID_OPTION`
 * @example
 * ```ts
 * const smooth = dilatedSmoothing(score, { dilation: 2 });
 * ```
 */
export function dilatedSmoothing(
  score: tf.Tensor3D,
  options: DilatedSmoothingOptions = {},
): tf.Tensor3D {
  const fn = 'dilatedSmoothing';
  const x = checkMap(fn, 'score', score, 'float32');
  const o = resolveSmoothing(fn, options, 'dilatedSmoothing');
  return tf.tidy(() => applyDilatedSmoothing(x, o));
}

function applyDilatedSmoothing(x: tf.Tensor3D, o: Required<DilatedSmoothingOptions>): tf.Tensor3D {
  const k = o.kernelSize;
  const kernel = tf.tensor4d(smlGaussianKernel(k, o.sigma), [k, k, 1, 1]);
  const padded = replicationPad(tf.expandDims(x, 3) as tf.Tensor4D, (o.dilation * (k - 1)) / 2);
  const y = tf.conv2d(padded, kernel, 1, 'valid', 'NHWC', o.dilation);
  return tf.squeeze(y, [3]) as tf.Tensor3D;
}

/**
 * Full SML (Jung et al., ICCV 2021) as an anomaly score: the standardised max logit
 * −(max_k s_k − μ_ĉ)/σ_ĉ ({@link standardizedMaxLogit}, at `options.size`), then iterative
 * boundary suppression along the boundaries of ĉ = argmax_k s_k ({@link suppressBoundaries})
 * and dilated smoothing ({@link dilatedSmoothing}), each with the authors' evaluation defaults
 * unless switched off (`false`) or changed. The defaults were chosen for 2048×1024 Cityscapes
 * frames: on small images the 37-px footprint of the smoothing blurs whole objects.
 *
 * @param logits `[N, h, w, K]` float32; not disposed
 * @param statistics per-class `mean` and `std` of the max logit (see `fitSmlStatistics`)
 * @param options see {@link SmlScoreOptions}
 * @returns `[N, H, W]` float32 (higher = more anomalous), caller disposes
 * @throws DenseHybridError `INVALID_INPUT` (logits, statistics), `INVALID_OPTION`
 * @example
 * ```ts
 * const stats = await fitSmlStatistics(trainingLogitBatches());
 * const sml = smlScore(logits, stats, { size: [1024, 2048] }); // full SML
 * const standardisedOnly = smlScore(logits, stats, { boundarySuppression: false, dilatedSmoothing: false });
 * ```
 */
export function smlScore(
  logits: tf.Tensor4D,
  statistics: Pick<SmlStatistics, 'mean' | 'std'>,
  options: SmlScoreOptions = {},
): tf.Tensor3D {
  const fn = 'smlScore';
  const s = checkLogits(fn, logits);
  const bs = options.boundarySuppression ?? DEFAULT_SML_SCORE_OPTIONS.boundarySuppression;
  const ds = options.dilatedSmoothing ?? DEFAULT_SML_SCORE_OPTIONS.dilatedSmoothing;
  const boundary = bs === false ? undefined : resolveBoundary(fn, bs, 'boundarySuppression');
  const smoothing = ds === false ? undefined : resolveSmoothing(fn, ds, 'dilatedSmoothing');
  const size = targetSize(fn, s, options);
  return tf.tidy(() => {
    // one upsampled map gives both the standardised max logit and the class map ĉ
    const up = upsampleBilinear(s, size);
    let score = standardizedMaxLogit(up, statistics);
    if (boundary !== undefined)
      score = applyBoundarySuppression(score, tf.argMax(up, -1) as tf.Tensor3D, boundary);
    if (smoothing !== undefined) score = applyDilatedSmoothing(score, smoothing);
    return score;
  });
}
