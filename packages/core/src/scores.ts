import * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { logSumExpLastAxis, upsampleBilinear } from '@densehybrid/losses';

/**
 * Anomaly scores for dense prediction: higher = more anomalous. Every function takes logits
 * `[N, h, w, K]` (and posterior logits `[N, h, w, 1]` where needed), upsamples them bilinearly
 * (PyTorch `align_corners=False`) to `options.size` when given, and returns a `[N, H, W]`
 * float32 score the caller owns, computed inside `tf.tidy`.
 */

/** Options shared by every score. */
export interface ScoreOptions {
  /** Upsample the inputs bilinearly to `[H, W]` before scoring. @default the inputs' own size */
  readonly size?: readonly [number, number];
}

/** Default options of the scores (no resizing). */
export const DEFAULT_SCORE_OPTIONS = {} as const satisfies ScoreOptions;

function tensorText(x: unknown): string {
  return x instanceof tf.Tensor ? `Tensor[${x.shape.join(',')}] ${x.dtype}` : describeValue(x);
}

/** Checks logits `[N,h,w,K]` float32. @internal */
export function checkLogits(fn: string, logits: unknown, name = 'logits'): tf.Tensor4D {
  if (!(logits instanceof tf.Tensor) || logits.rank !== 4 || logits.dtype !== 'float32') {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected ${name} to be a float32 tensor [N,h,w,K], got ${tensorText(logits)}`,
    );
  }
  return logits as tf.Tensor4D;
}

function checkPosterior(fn: string, posteriorLogits: unknown, logits?: tf.Tensor4D): tf.Tensor4D {
  const g = checkLogits(fn, posteriorLogits, 'posteriorLogits');
  if (g.shape[3] !== 1 || (logits && g.shape[0] !== logits.shape[0])) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `${fn}: expected posteriorLogits to be [${logits ? logits.shape[0] : 'N'},h,w,1], got [${g.shape.join(',')}]`,
    );
  }
  return g;
}

/** The requested size, or the size of `x`. @internal */
export function targetSize(fn: string, x: tf.Tensor4D, options: ScoreOptions): [number, number] {
  const size = options.size;
  if (size === undefined) return [x.shape[1], x.shape[2]];
  if (
    !Array.isArray(size) ||
    size.length !== 2 ||
    !size.every((v) => typeof v === 'number' && Number.isInteger(v) && v > 0)
  ) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected options.size to be [H, W] with positive integers, got ${describeValue(size)}`,
    );
  }
  return [size[0], size[1]];
}

/**
 * logsumexp over the last axis for scoring (no gradient needed):
 * logsumexp(s) = max s − ln max softmax(s), exact and stable (max softmax ≥ 1/K), and cheaper
 * than tf.logSumExp on wasm because the Softmax kernel is vectorised while Exp is not.
 */
function scoreLogSumExp(s: tf.Tensor4D): tf.Tensor3D {
  return tf.sub(tf.max(s, -1), tf.log(tf.max(tf.softmax(s), -1))) as tf.Tensor3D;
}

/** A score that reads the logits only. */
function logitScore(
  fn: string,
  logits: tf.Tensor4D,
  options: ScoreOptions,
  body: (s: tf.Tensor4D) => tf.Tensor,
): tf.Tensor3D {
  const s = checkLogits(fn, logits);
  const size = targetSize(fn, s, options);
  return tf.tidy(() => body(upsampleBilinear(s, size)) as tf.Tensor3D);
}

/**
 * DenseHybrid's hybrid anomaly score (paper eq. 6): ln P(d_out|x) − ln p̂(x)
 * = ln σ(g) − logsumexp(s). Unbounded; no temperature or smoothing.
 *
 * Stable: ln σ(g) = −softplus(−g); logsumexp(s) = m + ln Σ exp(s − m), m = max s.
 *
 * @param logits `[N, h, w, K]` float32; not disposed
 * @param posteriorLogits `[N, h', w', 1]` (may differ in resolution; both are resized to `size`,
 *   default the logits' size); not disposed
 * @param options see {@link ScoreOptions}
 * @returns `[N, H, W]` float32 score, caller disposes
 * @throws DenseHybridError `INVALID_INPUT`, `SHAPE_MISMATCH`, `INVALID_OPTION`
 * @example
 * ```ts
 * const score = hybridScore(logits, head.apply(preLogits), { size: [1024, 2048] });
 * ```
 */
export function hybridScore(
  logits: tf.Tensor4D,
  posteriorLogits: tf.Tensor4D,
  options: ScoreOptions = {},
): tf.Tensor3D {
  const fn = 'hybridScore';
  const s = checkLogits(fn, logits);
  const g = checkPosterior(fn, posteriorLogits, s);
  const size = targetSize(fn, s, options);
  return tf.tidy(() => {
    const logPout = tf.neg(tf.softplus(tf.neg(tf.squeeze(upsampleBilinear(g, size), [3]))));
    return tf.sub(logPout, scoreLogSumExp(upsampleBilinear(s, size))) as tf.Tensor3D;
  });
}

/**
 * The generative score (= energy): −logsumexp(s) = −ln p̂(x).
 *
 * @param logits `[N, h, w, K]` float32; not disposed
 * @param options see {@link ScoreOptions}
 * @returns `[N, H, W]` float32, caller disposes
 * @throws DenseHybridError `INVALID_INPUT`, `INVALID_OPTION`
 * @example
 * ```ts
 * const energy = generativeScore(logits, { size: [512, 1024] });
 * ```
 */
export function generativeScore(logits: tf.Tensor4D, options: ScoreOptions = {}): tf.Tensor3D {
  return logitScore('generativeScore', logits, options, (s) => tf.neg(scoreLogSumExp(s)));
}

/** Options of {@link discriminativeScore}. */
export interface DiscriminativeScoreOptions extends ScoreOptions {
  /** Return ln P(d_out|x) = −softplus(−g) instead of P(d_out|x) = σ(g). @default false */
  readonly log?: boolean;
}

/** Default options of {@link discriminativeScore}. */
export const DEFAULT_DISCRIMINATIVE_SCORE_OPTIONS = {
  log: false,
} as const satisfies DiscriminativeScoreOptions;

/**
 * The discriminative score P(d_out|x) = σ(g) of the dataset-posterior head (or its log).
 *
 * @param posteriorLogits `[N, h, w, 1]` float32; not disposed
 * @param options see {@link DiscriminativeScoreOptions}
 * @returns `[N, H, W]` float32, caller disposes
 * @throws DenseHybridError `INVALID_INPUT`, `SHAPE_MISMATCH`, `INVALID_OPTION`
 * @example
 * ```ts
 * const pOut = discriminativeScore(head.apply(preLogits), { size: [512, 1024] });
 * ```
 */
export function discriminativeScore(
  posteriorLogits: tf.Tensor4D,
  options: DiscriminativeScoreOptions = {},
): tf.Tensor3D {
  const fn = 'discriminativeScore';
  const g = checkPosterior(fn, posteriorLogits);
  const size = targetSize(fn, g, options);
  const log = options.log ?? DEFAULT_DISCRIMINATIVE_SCORE_OPTIONS.log;
  if (typeof log !== 'boolean') {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected options.log to be a boolean, got ${describeValue(log)}`,
    );
  }
  return tf.tidy(() => {
    const up = tf.squeeze(upsampleBilinear(g, size), [3]);
    return (log ? tf.neg(tf.softplus(tf.neg(up))) : tf.sigmoid(up)) as tf.Tensor3D;
  });
}

/**
 * Max-softmax baseline (Hendrycks & Gimpel 2017): 1 − max_k softmax(s)_k.
 *
 * @param logits `[N, h, w, K]` float32; not disposed
 * @param options see {@link ScoreOptions}
 * @returns `[N, H, W]` float32 in [0, 1 − 1/K], caller disposes
 * @throws DenseHybridError `INVALID_INPUT`, `INVALID_OPTION`
 * @example
 * ```ts
 * const msp = maxSoftmaxScore(logits);
 * ```
 */
export function maxSoftmaxScore(logits: tf.Tensor4D, options: ScoreOptions = {}): tf.Tensor3D {
  return logitScore('maxSoftmaxScore', logits, options, (s) =>
    tf.sub(1, tf.max(tf.softmax(s), -1)),
  );
}

/**
 * Max-logit baseline (Hendrycks et al. 2022): −max_k s_k.
 *
 * @param logits `[N, h, w, K]` float32; not disposed
 * @param options see {@link ScoreOptions}
 * @returns `[N, H, W]` float32, caller disposes
 * @throws DenseHybridError `INVALID_INPUT`, `INVALID_OPTION`
 * @example
 * ```ts
 * const ml = maxLogitScore(logits, { size: [512, 1024] });
 * ```
 */
export function maxLogitScore(logits: tf.Tensor4D, options: ScoreOptions = {}): tf.Tensor3D {
  return logitScore('maxLogitScore', logits, options, (s) => tf.neg(tf.max(s, -1)));
}

/**
 * Entropy of the softmax: −Σ_k p_k ln p_k, computed stably as logsumexp(s) − Σ_k p_k s_k.
 *
 * @param logits `[N, h, w, K]` float32; not disposed
 * @param options see {@link ScoreOptions}
 * @returns `[N, H, W]` float32 in [0, ln K], caller disposes
 * @throws DenseHybridError `INVALID_INPUT`, `INVALID_OPTION`
 * @example
 * ```ts
 * const h = entropyScore(logits);
 * ```
 */
export function entropyScore(logits: tf.Tensor4D, options: ScoreOptions = {}): tf.Tensor3D {
  return logitScore('entropyScore', logits, options, (s) =>
    tf.sub(tf.logSumExp(s, -1), tf.sum(tf.mul(tf.softmax(s), s), -1)),
  );
}

/**
 * A score of {@link SCORES}: the model's logits `[N, h, w, K]` and posterior logits
 * `[N, h, w, 1]` (neither disposed) → a `[N, H, W]` float32 score the caller disposes, higher =
 * more anomalous.
 */
export type ScoreFunction = (
  logits: tf.Tensor4D,
  posteriorLogits: tf.Tensor4D,
  options?: ScoreOptions,
) => tf.Tensor3D;

/**
 * The names of the {@link SCORES} registry, in its order (all higher = more anomalous).
 *
 * @example
 * ```ts
 * SCORE_NAMES; // ['hybrid', 'generative', 'discriminative', 'max-softmax', 'max-logit', 'entropy']
 * ```
 */
export const SCORE_NAMES = [
  'hybrid',
  'generative',
  'discriminative',
  'max-softmax',
  'max-logit',
  'entropy',
] as const;
/** One of {@link SCORE_NAMES}. */
export type ScoreName = (typeof SCORE_NAMES)[number];

/**
 * The score registry: every anomaly score a model's two outputs give, by name (the names the
 * CLI's `--score` takes and a detector's `detect(image, { scores })` computes). SML and ODIN are
 * not here: they need fitted statistics or the model's gradient.
 *
 * @example
 * ```ts
 * const energy = SCORES.generative(logits, posteriorLogits, { size: [512, 1024] }); // caller disposes
 * ```
 */
export const SCORES: Readonly<Record<ScoreName, ScoreFunction>> = {
  hybrid: (logits, posteriorLogits, options) => hybridScore(logits, posteriorLogits, options),
  generative: (logits, _, options) => generativeScore(logits, options),
  discriminative: (_, posteriorLogits, options) => discriminativeScore(posteriorLogits, options),
  'max-softmax': (logits, _, options) => maxSoftmaxScore(logits, options),
  'max-logit': (logits, _, options) => maxLogitScore(logits, options),
  entropy: (logits, _, options) => entropyScore(logits, options),
};

/** Per-class statistics of the max logit, for {@link standardizedMaxLogit}. */
export interface SmlStatistics {
  /** Mean of max_k s_k over training pixels predicted as class c, length K. */
  readonly mean: readonly number[];
  /** Standard deviation of the same, length K (population, > 0). */
  readonly std: readonly number[];
  /** Pixels seen per predicted class (0 where the global statistics were substituted). */
  readonly count: readonly number[];
}

/**
 * Standardized max logit (Jung et al., ICCV 2021): −(max_k s_k − μ_ĉ)/σ_ĉ with ĉ = argmax_k s_k
 * and μ, σ fitted on training pixels by {@link fitSmlStatistics} or
 * {@link createSmlAccumulator}. This is the standardisation step of SML only; full SML (with its
 * iterative boundary suppression and dilated smoothing) is `smlScore`.
 *
 * @param logits `[N, h, w, K]` float32; not disposed
 * @param statistics per-class `mean` and `std` of length K
 * @param options see {@link ScoreOptions}
 * @returns `[N, H, W]` float32, caller disposes
 * @throws DenseHybridError `INVALID_INPUT` (logits, statistics of the wrong length or with
 *   std ≤ 0 or non-finite values), `INVALID_OPTION`
 * @example
 * ```ts
 * const stats = await fitSmlStatistics(trainingLogitBatches());
 * const sml = standardizedMaxLogit(logits, stats, { size: [512, 1024] });
 * ```
 */
export function standardizedMaxLogit(
  logits: tf.Tensor4D,
  statistics: Pick<SmlStatistics, 'mean' | 'std'>,
  options: ScoreOptions = {},
): tf.Tensor3D {
  const fn = 'standardizedMaxLogit';
  const s = checkLogits(fn, logits);
  const k = s.shape[3];
  const mean = statistics?.mean;
  const std = statistics?.std;
  const ok = (v: unknown, positive: boolean): v is readonly number[] =>
    (Array.isArray(v) || ArrayBuffer.isView(v)) &&
    (v as ArrayLike<number>).length === k &&
    Array.from(v as ArrayLike<number>).every((x) => Number.isFinite(x) && (!positive || x > 0));
  if (!ok(mean, false) || !ok(std, true)) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected statistics.mean (finite) and statistics.std (> 0) of length K=${k}, got mean ${describeValue(mean)} and std ${describeValue(std)}`,
    );
  }
  const size = targetSize(fn, s, options);
  return tf.tidy(() => {
    const up = upsampleBilinear(s, size);
    const predicted = tf.argMax(up, -1);
    const mu = tf.gather(tf.tensor1d(Array.from(mean)), predicted);
    const sigma = tf.gather(tf.tensor1d(Array.from(std)), predicted);
    return tf.neg(tf.div(tf.sub(tf.max(up, -1), mu), sigma)) as tf.Tensor3D;
  });
}

/** Accumulates {@link SmlStatistics} over batches of training logits. */
export interface SmlAccumulator {
  /** Adds a batch `[N, h, w, K]` (not disposed; read with `await data()`, webgpu-safe). */
  update(logits: tf.Tensor4D, options?: ScoreOptions): Promise<void>;
  /**
   * The statistics so far. Classes predicted on fewer than 2 pixels get the statistics of all
   * pixels (and `count` 0).
   * @throws DenseHybridError `EMPTY_SET` before any pixel was added
   */
  result(): SmlStatistics;
  /** Pixels added so far. */
  readonly pixels: number;
}

/**
 * Creates an accumulator of SML statistics: per predicted class, the mean and standard
 * deviation of the max logit. Each batch is reduced on the device to per-class count, mean and
 * centred sum of squares; batches merge in float64 (Chan et al.'s parallel variance), so
 * millions of pixels lose no precision.
 *
 * @param numClasses K
 * @returns an {@link SmlAccumulator}
 * @throws DenseHybridError `INVALID_OPTION` for K not a positive integer; `update` throws
 *   `INVALID_INPUT` for logits with another K
 * @example
 * ```ts
 * const acc = createSmlAccumulator(19);
 * for (const images of trainingBatches) {
 *   const logits = tf.tidy(() => model.apply(images).logits);
 *   await acc.update(logits);
 *   logits.dispose();
 * }
 * const stats = acc.result();
 * ```
 */
export function createSmlAccumulator(numClasses: number): SmlAccumulator {
  const fn = 'createSmlAccumulator';
  if (typeof numClasses !== 'number' || !Number.isInteger(numClasses) || numClasses < 1) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected numClasses to be a positive integer, got ${describeValue(numClasses)}`,
    );
  }
  const k = numClasses;
  const count = new Float64Array(k);
  const mean = new Float64Array(k);
  const m2 = new Float64Array(k);
  let all = { n: 0, mean: 0, m2: 0 };
  const merge = (
    a: { n: number; mean: number; m2: number },
    b: { n: number; mean: number; m2: number },
  ): { n: number; mean: number; m2: number } => {
    const n = a.n + b.n;
    if (n === 0) return a;
    const delta = b.mean - a.mean;
    return {
      n,
      mean: a.mean + (delta * b.n) / n,
      m2: a.m2 + b.m2 + (delta * delta * a.n * b.n) / n,
    };
  };
  return {
    get pixels() {
      return all.n;
    },
    async update(logits, options = {}) {
      const ufn = 'SmlAccumulator.update';
      const s = checkLogits(ufn, logits);
      if (s.shape[3] !== k) {
        throw new DenseHybridError(
          'INVALID_INPUT',
          `${ufn}: expected logits with K=${k} classes, got [${s.shape.join(',')}]`,
        );
      }
      const size = targetSize(ufn, s, options);
      // per class: n_c, mean_c, Σ (x − mean_c)² over pixels predicted as c (two passes on device)
      const stats = tf.tidy(() => {
        const up = upsampleBilinear(s, size);
        const maxLogit = tf.reshape(tf.max(up, -1), [-1, 1]);
        const onehot = tf.cast(tf.oneHot(tf.reshape(tf.argMax(up, -1), [-1]), k), 'float32');
        const n = tf.sum(onehot, 0);
        const m = tf.div(tf.sum(tf.mul(onehot, maxLogit), 0), tf.maximum(n, 1));
        const centred = tf.mul(onehot, tf.square(tf.sub(maxLogit, m)));
        return tf.stack([n, m, tf.sum(centred, 0)]);
      });
      const values = await stats.data();
      stats.dispose();
      for (let c = 0; c < k; c++) {
        const b = {
          n: values[c] as number,
          mean: values[k + c] as number,
          m2: values[2 * k + c] as number,
        };
        const merged = merge(
          { n: count[c] as number, mean: mean[c] as number, m2: m2[c] as number },
          b,
        );
        count[c] = merged.n;
        mean[c] = merged.mean;
        m2[c] = merged.m2;
        all = merge(all, b);
      }
    },
    result() {
      if (all.n === 0) {
        throw new DenseHybridError(
          'EMPTY_SET',
          `SmlAccumulator.result: expected at least one pixel, got none (call update first)`,
        );
      }
      const globalStd = Math.sqrt(all.m2 / all.n) || 1;
      const out = { mean: [] as number[], std: [] as number[], count: [] as number[] };
      for (let c = 0; c < k; c++) {
        const n = count[c] as number;
        const sd = n >= 2 ? Math.sqrt((m2[c] as number) / n) : 0;
        if (n >= 2 && sd > 0) {
          out.mean.push(mean[c] as number);
          out.std.push(sd);
          out.count.push(n);
        } else {
          out.mean.push(all.mean);
          out.std.push(globalStd);
          out.count.push(0);
        }
      }
      return out;
    },
  };
}

/**
 * Fits {@link SmlStatistics} from batches of training logits (see {@link createSmlAccumulator}).
 * The batches are not disposed.
 *
 * @param batches logits `[N, h, w, K]`, sync or async iterable
 * @param options see {@link ScoreOptions} (resize each batch first)
 * @returns the per-class statistics
 * @throws DenseHybridError `EMPTY_SET` for no batches, `INVALID_INPUT` for mismatching K
 * @example
 * ```ts
 * const stats = await fitSmlStatistics([logitsA, logitsB]);
 * ```
 */
export async function fitSmlStatistics(
  batches: Iterable<tf.Tensor4D> | AsyncIterable<tf.Tensor4D>,
  options: ScoreOptions = {},
): Promise<SmlStatistics> {
  let acc: SmlAccumulator | undefined;
  for await (const logits of batches) {
    const s = checkLogits('fitSmlStatistics', logits);
    acc ??= createSmlAccumulator(s.shape[3]);
    await acc.update(s, options);
  }
  if (!acc) {
    throw new DenseHybridError(
      'EMPTY_SET',
      'fitSmlStatistics: expected at least one batch of logits, got none',
    );
  }
  return acc.result();
}

/** Options of {@link odinScore}. */
export interface OdinScoreOptions extends ScoreOptions {
  /** Temperature T (Liang et al. 2018). @default 1000 */
  readonly temperature?: number;
  /** Input perturbation magnitude ε, in the units of the model's input. @default 0.0014 */
  readonly epsilon?: number;
}

/** Default options of {@link odinScore}. */
export const DEFAULT_ODIN_SCORE_OPTIONS = {
  temperature: 1000,
  epsilon: 0.0014,
} as const satisfies OdinScoreOptions;

/**
 * ODIN (Liang, Li, Srikant, ICLR 2018), dense: perturb the input against the gradient of the
 * temperature-scaled max-softmax loss summed over pixels,
 * x̃ = x − ε·sign(∇ₓ Σ_pixels −ln max_k softmax(s(x)/T)_k), then score
 * 1 − max_k softmax(s(x̃)/T)_k. Needs gradients through the model (two forward passes and one
 * backward). The original divides the gradient by the dataset's per-channel std; this library
 * feeds unnormalised [0, 1] images, so ε applies in that scale.
 *
 * @param model maps images to logits `[N, h, w, K]` (e.g. `(x) => net.apply(x).logits`);
 *   called twice, must be differentiable
 * @param images `[N, H, W, C]` float32; not disposed
 * @param options see {@link OdinScoreOptions}; `size` defaults to the logits' size
 * @returns `[N, H', W']` float32, caller disposes
 * @throws DenseHybridError `INVALID_INPUT` (images, non-function model, model output),
 *   `INVALID_OPTION`
 * @example
 * ```ts
 * const odin = odinScore((x) => net.apply(x).logits, images, { size: [512, 1024] });
 * ```
 */
export function odinScore(
  model: (images: tf.Tensor4D) => tf.Tensor4D,
  images: tf.Tensor4D,
  options: OdinScoreOptions = {},
): tf.Tensor3D {
  const fn = 'odinScore';
  if (typeof model !== 'function') {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected model to be a function images → logits, got ${describeValue(model)}`,
    );
  }
  if (!(images instanceof tf.Tensor) || images.rank !== 4 || images.dtype !== 'float32') {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected images to be a float32 tensor [N,H,W,C], got ${tensorText(images)}`,
    );
  }
  const temperature = options.temperature ?? DEFAULT_ODIN_SCORE_OPTIONS.temperature;
  const epsilon = options.epsilon ?? DEFAULT_ODIN_SCORE_OPTIONS.epsilon;
  if (typeof temperature !== 'number' || !(temperature > 0) || !Number.isFinite(temperature)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected options.temperature to be a finite number > 0, got ${describeValue(temperature)}`,
    );
  }
  if (typeof epsilon !== 'number' || !(epsilon >= 0) || !Number.isFinite(epsilon)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected options.epsilon to be a finite number ≥ 0, got ${describeValue(epsilon)}`,
    );
  }
  // −ln max softmax(s/T) = logsumexp(s/T) − max(s/T); the max is read through a one-hot of the
  // argmax (gradient: a mask) rather than tf.max, whose tfjs gradient is very slow on wasm
  const nllOfMax = (s: tf.Tensor): tf.Tensor => {
    const scaled = tf.div(s, temperature);
    const top = tf.oneHot(tf.argMax(scaled, -1), scaled.shape[scaled.rank - 1] as number);
    return tf.sub(logSumExpLastAxis(scaled), tf.sum(tf.mul(scaled, tf.cast(top, 'float32')), -1));
  };
  const run = (x: tf.Tensor4D): tf.Tensor4D =>
    checkLogits(`${fn} (model output)`, model(x), 'logits');
  return tf.tidy(() => {
    const gradient = tf.grad((x: tf.Tensor) => tf.sum(nllOfMax(run(x as tf.Tensor4D))))(images);
    const perturbed = tf.sub(images, tf.mul(epsilon, tf.sign(gradient))) as tf.Tensor4D;
    const logits = run(perturbed);
    const size = targetSize(fn, logits, options);
    return tf.sub(1, tf.exp(tf.neg(nllOfMax(upsampleBilinear(logits, size))))) as tf.Tensor3D;
  });
}
