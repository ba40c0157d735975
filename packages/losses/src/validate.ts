import * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { describeTensor } from './upsample.js';

/** Which pixels are which: options shared by every loss of this package. */
export interface PixelLabelOptions {
  /**
   * Label of pixels that no term sees (void, padding), except the `'authors'` posterior term
   * of {@link denseHybridLoss}, which counts them as inliers (d = 0).
   * @default 255
   */
  readonly ignoreLabel?: number;
  /**
   * Label of pasted negative (outlier) pixels. Must not be a known class `0..K-1`.
   * @default K, the last dimension of `logits` (the project's convention)
   */
  readonly outlierLabel?: number;
  /**
   * Resize logits (and posterior logits) bilinearly (PyTorch `align_corners=False`) to the
   * label resolution before the loss, as the authors do. With `false` the spatial sizes must
   * already agree.
   * @default true
   */
  readonly upsample?: boolean;
}

/** Default options shared by the losses of this package (`outlierLabel` defaults to K). */
export const DEFAULT_PIXEL_LABEL_OPTIONS = {
  ignoreLabel: 255,
  upsample: true,
} as const satisfies PixelLabelOptions;

/** The tensors every loss of this package reads. */
export interface SegmentationLossInputs {
  /** Class logits `s`, `[N, h, w, K]` float32 (any resolution when `upsample` is on). */
  readonly logits: tf.Tensor4D;
  /** Labels `[N, H, W]` int32: `0..K-1` known classes, `outlierLabel`, `ignoreLabel`. */
  readonly labels: tf.Tensor3D;
}

/** Inputs of the DenseHybrid loss: {@link SegmentationLossInputs} plus the posterior logits. */
export interface DenseHybridLossInputs extends SegmentationLossInputs {
  /** Posterior logits `g(t)`, `[N, h, w, 1]` float32: the logit of P(d_out | x). */
  readonly posteriorLogits: tf.Tensor4D;
}

/** Resolved label conventions after the synchronous checks. @internal */
export interface CheckedInputs {
  readonly numClasses: number;
  readonly ignoreLabel: number;
  readonly outlierLabel: number;
  readonly size: [number, number];
  readonly upsample: boolean;
}

function fail(code: 'INVALID_INPUT' | 'SHAPE_MISMATCH' | 'INVALID_OPTION', msg: string): never {
  throw new DenseHybridError(code, msg);
}

/**
 * Shape, dtype and option checks that need no data read (safe inside a gradient function and
 * on webgpu). @internal
 */
export function checkLossInputs(
  fn: string,
  inputs: Partial<DenseHybridLossInputs> | undefined,
  options: PixelLabelOptions,
  needsPosterior: boolean,
): CheckedInputs {
  if (typeof inputs !== 'object' || inputs === null) {
    fail(
      'INVALID_INPUT',
      `${fn}: expected inputs to be an object { logits, labels${needsPosterior ? ', posteriorLogits' : ''} }, got ${describeValue(inputs)}`,
    );
  }
  const { logits, labels, posteriorLogits } = inputs;
  if (!(logits instanceof tf.Tensor) || logits.rank !== 4 || logits.dtype !== 'float32') {
    fail(
      'INVALID_INPUT',
      `${fn}: expected inputs.logits to be a float32 tensor [N,h,w,K], got ${describeTensor(logits)}`,
    );
  }
  const [n, h, w, k] = logits.shape;
  if (k < 1)
    fail('INVALID_INPUT', `${fn}: expected inputs.logits to have K ≥ 1 classes, got K=${k}`);
  if (!(labels instanceof tf.Tensor) || labels.rank !== 3 || labels.dtype !== 'int32') {
    fail(
      'INVALID_INPUT',
      `${fn}: expected inputs.labels to be an int32 tensor [N,H,W], got ${describeTensor(labels)}`,
    );
  }
  const [ln, lh, lw] = labels.shape;
  const upsample = options.upsample ?? DEFAULT_PIXEL_LABEL_OPTIONS.upsample;
  if (typeof upsample !== 'boolean') {
    fail(
      'INVALID_OPTION',
      `${fn}: expected options.upsample to be a boolean, got ${describeValue(upsample)}`,
    );
  }
  if (ln !== n || (!upsample && (lh !== h || lw !== w))) {
    fail(
      'SHAPE_MISMATCH',
      `${fn}: expected inputs.labels to be [${n},${upsample ? 'H,W' : `${h},${w}`}] to match inputs.logits [${logits.shape.join(',')}]${upsample ? '' : ' (options.upsample is false)'}, got [${labels.shape.join(',')}]`,
    );
  }
  if (needsPosterior) {
    if (
      !(posteriorLogits instanceof tf.Tensor) ||
      posteriorLogits.rank !== 4 ||
      posteriorLogits.dtype !== 'float32'
    ) {
      fail(
        'INVALID_INPUT',
        `${fn}: expected inputs.posteriorLogits to be a float32 tensor [N,h,w,1], got ${describeTensor(posteriorLogits)}`,
      );
    }
    const [pn, ph, pw, pc] = posteriorLogits.shape;
    if (pc !== 1 || pn !== n || (!upsample && (ph !== lh || pw !== lw))) {
      fail(
        'SHAPE_MISMATCH',
        `${fn}: expected inputs.posteriorLogits to be [${n},${upsample ? 'h,w' : `${lh},${lw}`},1], got [${posteriorLogits.shape.join(',')}]`,
      );
    }
  }
  const ignoreLabel = options.ignoreLabel ?? DEFAULT_PIXEL_LABEL_OPTIONS.ignoreLabel;
  const outlierLabel = options.outlierLabel ?? k;
  for (const [name, v] of [
    ['ignoreLabel', ignoreLabel],
    ['outlierLabel', outlierLabel],
  ] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || (v >= 0 && v < k)) {
      fail(
        'INVALID_OPTION',
        `${fn}: expected options.${name} to be an integer outside the known classes 0..${k - 1}, got ${describeValue(v)}`,
      );
    }
  }
  if (ignoreLabel === outlierLabel) {
    fail(
      'INVALID_OPTION',
      `${fn}: expected options.ignoreLabel and options.outlierLabel to differ, got both ${ignoreLabel}`,
    );
  }
  return { numClasses: k, ignoreLabel, outlierLabel, size: [lh, lw], upsample };
}

/** Throws `INVALID_OPTION` unless `value` is a finite number within [min, max]. @internal */
export function checkNumberOption(
  fn: string,
  name: string,
  value: unknown,
  min = -Infinity,
  max = Infinity,
): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    const range =
      min === -Infinity && max === Infinity
        ? 'a finite number'
        : max === Infinity
          ? `a finite number ≥ ${min}`
          : `a number in [${min}, ${max}]`;
    fail(
      'INVALID_OPTION',
      `${fn}: expected options.${name} to be ${range}, got ${describeValue(value)}`,
    );
  }
  return value;
}

/**
 * Checks the **values** of loss inputs: every label is a known class `0..K-1`, the outlier
 * label or the ignore label, and logits (and posterior logits, when given) are finite.
 *
 * The losses themselves only check shapes, dtypes and options, synchronously, because they run
 * inside gradient functions and because a synchronous data read is impossible on the webgpu
 * backend. Call this function (it reads with `await t.data()`) on a batch when the data source
 * is not trusted, e.g. once per new dataset or in a debug mode.
 *
 * @param inputs `{ logits, labels, posteriorLogits? }`, as for the losses; not disposed
 * @param options the same label options as the loss
 * @returns resolves when valid
 * @throws DenseHybridError `INVALID_INPUT` naming the first bad label value and its pixel,
 *   `NON_FINITE` for NaN/±Infinity logits, plus every error of the synchronous checks
 * @example
 * ```ts
 * import { validateLossInputs, denseHybridLoss } from '@densehybrid/losses';
 * await validateLossInputs({ logits, posteriorLogits, labels });
 * const { total } = denseHybridLoss({ logits, posteriorLogits, labels });
 * ```
 */
export async function validateLossInputs(
  inputs: SegmentationLossInputs & { readonly posteriorLogits?: tf.Tensor4D },
  options: PixelLabelOptions = {},
): Promise<void> {
  const fn = 'validateLossInputs';
  const checked = checkLossInputs(fn, inputs, options, inputs?.posteriorLogits !== undefined);
  const finite = tf.tidy(() => {
    const parts = [tf.all(tf.isFinite(inputs.logits))];
    if (inputs.posteriorLogits) parts.push(tf.all(tf.isFinite(inputs.posteriorLogits)));
    return tf.stack(parts);
  });
  const ok = await finite.data();
  finite.dispose();
  if (!ok[0]) {
    throw new DenseHybridError(
      'NON_FINITE',
      `${fn}: expected inputs.logits to be finite, got NaN or ±Infinity`,
    );
  }
  if (ok.length > 1 && !ok[1]) {
    throw new DenseHybridError(
      'NON_FINITE',
      `${fn}: expected inputs.posteriorLogits to be finite, got NaN or ±Infinity`,
    );
  }
  const labels = await inputs.labels.data();
  const { numClasses: k, outlierLabel, ignoreLabel } = checked;
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i] as number;
    if ((v >= 0 && v < k) || v === outlierLabel || v === ignoreLabel) continue;
    const [, h, w] = inputs.labels.shape;
    const n = Math.floor(i / (h * w));
    const y = Math.floor((i % (h * w)) / w);
    const x = i % w;
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected inputs.labels values in 0..${k - 1}, ${outlierLabel} (outlier) or ${ignoreLabel} (ignore), got ${v} at [${n},${y},${x}]`,
    );
  }
}
