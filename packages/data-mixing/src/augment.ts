import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { assertLabelMap, assertRgbImage } from './image-io.js';
import { resampleImage, resampleLabel, type ResampleWindow } from './resample.js';
import type { Rng } from './rng.js';
import type { DatasetSample } from './types.js';

/** Dataset mean colours (RGB, 0..255) used for padding, from the authors' code. */
export const MEAN_COLORS = {
  streetHazards: [84, 88, 95],
  cityscapes: [73, 83, 72],
  ade20k: [107, 117, 120],
} as const satisfies Record<string, readonly [number, number, number]>;

/** Options of {@link jitterFlipCrop}. */
export interface JitterFlipCropOptions {
  /** Side of the square crop (768 for LDN, 512 for DeepLabV3+). @default 768 */
  readonly cropSize: number;
  /** The shorter side is rescaled by a factor drawn from U(min, max). @default [0.5, 2] */
  readonly scaleRange: readonly [number, number];
  /** Probability of a horizontal flip. @default 0.5 */
  readonly flipProbability: number;
  /** RGB padding colour where the crop leaves the rescaled image. @default [73, 83, 72] (Cityscapes mean) */
  readonly meanColor: readonly [number, number, number];
  /** Label of padded pixels. @default 255 */
  readonly ignoreLabel: number;
}

/** Paper defaults (LDN-121): U(0.5, 2) jitter, flip p = 0.5, 768² crop. */
export const DEFAULT_JITTER_FLIP_CROP_OPTIONS: JitterFlipCropOptions = {
  cropSize: 768,
  scaleRange: [0.5, 2],
  flipProbability: 0.5,
  meanColor: MEAN_COLORS.cityscapes,
  ignoreLabel: 255,
};

/** The DeepLabV3+ variant of the paper: 512² inlier crops. */
export const DEEPLAB_JITTER_FLIP_CROP_OPTIONS: JitterFlipCropOptions = {
  ...DEFAULT_JITTER_FLIP_CROP_OPTIONS,
  cropSize: 512,
};

/** What {@link jitterFlipCrop} did, with the augmented sample. */
export interface JitterFlipCropResult {
  readonly sample: DatasetSample;
  /** The rescale factor applied to the shorter side. */
  readonly scale: number;
  readonly flipped: boolean;
  /** The crop window in the rescaled (and mirrored) image; may extend past it (padding). */
  readonly window: ResampleWindow;
}

/** Validates a positive integer option. */
export function checkPositiveInt(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected ${name} to be a positive integer, got ${describeValue(v)}`,
    );
  }
  return v;
}

/** Validates a probability option. */
export function checkProbability(fn: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected ${name} to be a probability in [0, 1], got ${describeValue(v)}`,
    );
  }
  return v;
}

/** Validates a `[min, max]` range with 0 < min ≤ max. */
export function checkRange(fn: string, name: string, v: unknown): readonly [number, number] {
  if (
    !Array.isArray(v) ||
    v.length !== 2 ||
    !v.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0) ||
    (v[0] as number) > (v[1] as number)
  ) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected ${name} to be [min, max] with 0 < min ≤ max, got ${describeValue(v)}`,
    );
  }
  return v as unknown as readonly [number, number];
}

function checkColor(fn: string, v: unknown): readonly [number, number, number] {
  if (
    !Array.isArray(v) ||
    v.length !== 3 ||
    !v.every((x) => Number.isInteger(x) && x >= 0 && x <= 255)
  ) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected meanColor to be [r, g, b] integers in 0..255, got ${describeValue(v)}`,
    );
  }
  return v as unknown as readonly [number, number, number];
}

/** Validates a label value option (0..255). */
export function checkLabelValue(fn: string, name: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 255) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected ${name} to be an integer label in 0..255, got ${describeValue(v)}`,
    );
  }
  return v as number;
}

/**
 * Draws a random square crop window over an image rescaled by U(scaleRange) (shorter side), as
 * in the authors' inlier augmentation. When the rescaled image is smaller than the crop along an
 * axis, the image lands at a uniformly random offset inside the crop (the rest is padding).
 */
function drawCropWindow(
  width: number,
  height: number,
  cropSize: number,
  scaleRange: readonly [number, number],
  flipProbability: number,
  rng: Rng,
): { window: ResampleWindow; scale: number } {
  const scale = rng.uniform(scaleRange[0], scaleRange[1]);
  const shorter = Math.min(width, height);
  const target = Math.max(1, Math.round(shorter * scale));
  const s = target / shorter;
  const scaledWidth = Math.max(1, Math.round(width * s));
  const scaledHeight = Math.max(1, Math.round(height * s));
  const offset = (scaled: number): number => {
    const slack = scaled - cropSize;
    // slack ≥ 0: crop inside the image; slack < 0: image inside the crop (offset ≤ 0)
    return slack >= 0 ? rng.int(slack + 1) : -rng.int(-slack + 1);
  };
  const x = offset(scaledWidth);
  const y = offset(scaledHeight);
  const flip = rng.bernoulli(flipProbability);
  return {
    scale,
    window: { scaledWidth, scaledHeight, x, y, width: cropSize, height: cropSize, flip },
  };
}

/**
 * Inlier augmentation of the paper (sec. 7.4): rescale the shorter side by U(0.5, 2) (bilinear
 * image, nearest label), flip horizontally with p = 0.5, take a random square crop; where the
 * crop leaves the image, pad with the dataset mean colour and label = ignore. Rescale, flip and
 * crop are fused: only the crop's pixels are computed.
 *
 * @param sample - an image with (optionally) its label map of the same size.
 * @param options - see {@link JitterFlipCropOptions}; missing fields take
 *   {@link DEFAULT_JITTER_FLIP_CROP_OPTIONS}.
 * @param rng - the random source (draw order: scale, x, y, flip).
 * @returns the augmented sample and the parameters drawn.
 * @throws DenseHybridError `INVALID_OPTION` for bad options, `INVALID_INPUT` for malformed
 *   arrays, `SHAPE_MISMATCH` when label and image sizes differ.
 * @example
 * ```ts
 * const rng = createRng(7);
 * const { sample: crop } = jitterFlipCrop(sample, { cropSize: 512, meanColor: MEAN_COLORS.streetHazards }, rng);
 * ```
 */
export function jitterFlipCrop(
  sample: DatasetSample,
  options: Partial<JitterFlipCropOptions>,
  rng: Rng,
): JitterFlipCropResult {
  const fn = 'jitterFlipCrop';
  const o = { ...DEFAULT_JITTER_FLIP_CROP_OPTIONS, ...options };
  checkPositiveInt(fn, 'cropSize', o.cropSize);
  checkRange(fn, 'scaleRange', o.scaleRange);
  checkProbability(fn, 'flipProbability', o.flipProbability);
  const fill = checkColor(fn, o.meanColor);
  checkLabelValue(fn, 'ignoreLabel', o.ignoreLabel);
  assertRgbImage(fn, 'sample.image', sample.image);
  const { image, label } = sample;
  if (label !== undefined) {
    assertLabelMap(fn, 'sample.label', label);
    if (label.width !== image.width || label.height !== image.height) {
      throw new DenseHybridError(
        'SHAPE_MISMATCH',
        `${fn}: expected sample.label (${label.width}×${label.height}) to match sample.image (${image.width}×${image.height}) for ${sample.id}`,
      );
    }
  }
  const { window, scale } = drawCropWindow(
    image.width,
    image.height,
    o.cropSize,
    o.scaleRange,
    o.flipProbability,
    rng,
  );
  const out: DatasetSample = {
    id: sample.id,
    image: resampleImage(image, window, fill),
    ...(label === undefined ? {} : { label: resampleLabel(label, window, o.ignoreLabel) }),
  };
  return { sample: out, scale, flipped: window.flip === true, window };
}
