import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { checkLabelValue, checkPositiveInt, checkProbability, checkRange } from './augment.js';
import { assertLabelMap, assertRgbImage } from './image-io.js';
import { resampleImage, resampleLabel, type ResampleWindow } from './resample.js';
import type { Rng } from './rng.js';
import type { DatasetSample, LabelMap, RgbImage } from './types.js';

/**
 * A negative image to cut content from: the image, optionally its class map (ADE20k:
 * `0` = unlabeled, classes `1..150`) and/or an instance-id map (`0` = none).
 */
export interface NegativeSource {
  readonly image: RgbImage;
  readonly label?: LabelMap;
  readonly instances?: LabelMap;
  /** Used in error messages. */
  readonly id?: string;
}

/** How the pasted region of a negative patch is chosen. */
export type NegativeMaskSource = 'auto' | 'classes' | 'instances' | 'rectangle';

/** Options of {@link pasteNegatives} (everything but `outlierLabel` has a default). */
export interface PasteNegativesOptions {
  /** Label written under pasted pixels: K, the number of known classes (required). */
  readonly outlierLabel: number;
  /** The negative's shorter side is rescaled to this before cropping; `null` keeps its size. @default 384 */
  readonly negativeShorterSide: number | null;
  /** Extra rescale factor U(min, max) on top of `negativeShorterSide`. @default [1, 1] (DeepLabV3+: [0.5, 2]) */
  readonly negativeScaleRange: readonly [number, number];
  /** Side of the random square crop of the rescaled negative (smaller negatives are not padded); `null` = no crop. @default 384 (DeepLabV3+: 192) */
  readonly negativeCropSize: number | null;
  /** Probability of a random rectangle mask instead of a union of classes/instances. @default 0.5 */
  readonly rectangleProbability: number;
  /** Smallest rectangle side; sides are `min, min+step, …` strictly below the patch side. @default 16 */
  readonly rectangleMinSide: number;
  /** Step between rectangle sides. @default 8 */
  readonly rectangleStep: number;
  /** Number of classes (or instances) drawn with replacement for the union mask. @default 2 */
  readonly numInstances: number;
  /**
   * `auto`: instance masks when the negative has them, else classes; `classes` / `instances`:
   * always that map (rectangle when it is missing or empty); `rectangle`: always a rectangle.
   * @default 'auto'
   */
  readonly maskSource: NegativeMaskSource;
  /** Value meaning "no class / no instance" in the negative's maps. @default 0 */
  readonly unlabeledValue: number;
}

/** Paper defaults for LDN-121 (shorter side → 384, crop 384, rectangle p = 0.5, 2 classes). */
export const DEFAULT_PASTE_NEGATIVES_OPTIONS: Omit<PasteNegativesOptions, 'outlierLabel'> = {
  negativeShorterSide: 384,
  negativeScaleRange: [1, 1],
  negativeCropSize: 384,
  rectangleProbability: 0.5,
  rectangleMinSide: 16,
  rectangleStep: 8,
  numInstances: 2,
  maskSource: 'auto',
  unlabeledValue: 0,
};

/** The DeepLabV3+ variant: negatives jittered ×U(0.5, 2) and cropped to 192. */
export const DEEPLAB_PASTE_NEGATIVES_OPTIONS: Omit<PasteNegativesOptions, 'outlierLabel'> = {
  ...DEFAULT_PASTE_NEGATIVES_OPTIONS,
  negativeScaleRange: [0.5, 2],
  negativeCropSize: 192,
};

/** Where and how one negative was pasted. */
export interface PastedNegative {
  /** Top-left of the pasted mask's bounding box in the target (may be negative when clipped). */
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly mask: 'rectangle' | 'classes' | 'instances';
  /** Class or instance ids whose union forms the mask (empty for rectangles). */
  readonly ids: readonly number[];
  /** Number of target pixels overwritten. */
  readonly pixels: number;
}

/** Result of {@link pasteNegatives}. */
export interface PasteNegativesResult {
  /** The mixed-content sample (new arrays; the inputs are not modified). */
  readonly sample: DatasetSample & { readonly label: LabelMap };
  /** 1 where negative content was pasted, 0 elsewhere (`width·height`). */
  readonly pasteMask: Uint8Array;
  readonly pastes: readonly PastedNegative[];
}

type Patch = { image: RgbImage; label?: LabelMap; instances?: LabelMap };

function preparePatch(neg: NegativeSource, o: PasteNegativesOptions, rng: Rng): Patch {
  const { width, height } = neg.image;
  const jitter = rng.uniform(o.negativeScaleRange[0], o.negativeScaleRange[1]);
  const base = o.negativeShorterSide === null ? 1 : o.negativeShorterSide / Math.min(width, height);
  const s = base * jitter;
  const sw = Math.max(1, Math.round(width * s));
  const sh = Math.max(1, Math.round(height * s));
  const cw = o.negativeCropSize === null ? sw : Math.min(o.negativeCropSize, sw);
  const ch = o.negativeCropSize === null ? sh : Math.min(o.negativeCropSize, sh);
  const win: ResampleWindow = {
    scaledWidth: sw,
    scaledHeight: sh,
    x: rng.int(sw - cw + 1),
    y: rng.int(sh - ch + 1),
    width: cw,
    height: ch,
  };
  return {
    image: resampleImage(neg.image, win),
    ...(neg.label === undefined ? {} : { label: resampleLabel(neg.label, win, o.unlabeledValue) }),
    ...(neg.instances === undefined
      ? {}
      : { instances: resampleLabel(neg.instances, win, o.unlabeledValue) }),
  };
}

function rectangleSide(side: number, min: number, step: number, rng: Rng): number {
  if (side <= min) return side;
  const count = Math.floor((side - 1 - min) / step) + 1; // sides min + k·step < side
  return min + step * rng.int(count);
}

function drawMask(
  patch: Patch,
  o: PasteNegativesOptions,
  rng: Rng,
): { mask: Uint8Array; kind: PastedNegative['mask']; ids: number[] } {
  const { width: w, height: h } = patch.image;
  const mask = new Uint8Array(w * h);
  const rectangle = rng.bernoulli(o.rectangleProbability);
  let map: LabelMap | undefined;
  let kind: PastedNegative['mask'] = 'rectangle';
  if (!rectangle && o.maskSource !== 'rectangle') {
    if (
      (o.maskSource === 'auto' || o.maskSource === 'instances') &&
      patch.instances !== undefined
    ) {
      map = patch.instances;
      kind = 'instances';
    } else if (o.maskSource !== 'instances' && patch.label !== undefined) {
      map = patch.label;
      kind = 'classes';
    }
  }
  if (map !== undefined) {
    const present = new Uint8Array(256);
    for (let i = 0; i < map.data.length; i++) present[map.data[i]!] = 1;
    present[o.unlabeledValue] = 0;
    const values: number[] = [];
    for (let v = 0; v < 256; v++) if (present[v] === 1) values.push(v);
    if (values.length > 0) {
      const chosen = new Uint8Array(256);
      const ids: number[] = [];
      for (let k = 0; k < o.numInstances; k++) {
        const v = values[rng.int(values.length)]!;
        ids.push(v);
        chosen[v] = 1;
      }
      for (let i = 0; i < map.data.length; i++) mask[i] = chosen[map.data[i]!]!;
      return { mask, kind, ids };
    }
  }
  const rw = rectangleSide(w, o.rectangleMinSide, o.rectangleStep, rng);
  const rh = rectangleSide(h, o.rectangleMinSide, o.rectangleStep, rng);
  const rx = rng.int(w - rw + 1);
  const ry = rng.int(h - rh + 1);
  for (let y = ry; y < ry + rh; y++) mask.fill(1, y * w + rx, y * w + rx + rw);
  return { mask, kind: 'rectangle', ids: [] };
}

function checkOptions(o: PasteNegativesOptions): void {
  const fn = 'pasteNegatives';
  checkLabelValue(fn, 'outlierLabel', o.outlierLabel);
  if (o.negativeShorterSide !== null)
    checkPositiveInt(fn, 'negativeShorterSide', o.negativeShorterSide);
  if (o.negativeCropSize !== null) checkPositiveInt(fn, 'negativeCropSize', o.negativeCropSize);
  checkRange(fn, 'negativeScaleRange', o.negativeScaleRange);
  checkProbability(fn, 'rectangleProbability', o.rectangleProbability);
  checkPositiveInt(fn, 'rectangleMinSide', o.rectangleMinSide);
  checkPositiveInt(fn, 'rectangleStep', o.rectangleStep);
  checkPositiveInt(fn, 'numInstances', o.numInstances);
  checkLabelValue(fn, 'unlabeledValue', o.unlabeledValue);
  if (!['auto', 'classes', 'instances', 'rectangle'].includes(o.maskSource)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected maskSource to be one of 'auto' | 'classes' | 'instances' | 'rectangle', got ${describeValue(o.maskSource)}`,
    );
  }
}

/**
 * Builds a mixed-content image (paper sec. 3.2 / 7.4): for each negative, rescale and randomly
 * crop it (defaults: shorter side → 384, crop 384), choose a mask — with p = 0.5 a random
 * rectangle (sides 16, 24, … below the patch side), else the union of 2 classes (or instances,
 * when given) drawn with replacement from those present in the crop — and paste the masked
 * content with a hard mask at a uniformly random position of the target. Pasted pixels get
 * `outlierLabel` (K), overriding any label there, ignore included. The masked region's bounding
 * box is what is positioned: it lies fully inside the target when it fits, else it is clipped.
 * Works on any arrays (e.g. 28×28 Fashion-MNIST items with `negativeShorterSide: null`).
 *
 * @param target - the inlier sample (usually a crop from {@link jitterFlipCrop}); needs a label.
 * @param negatives - one negative or several (each pasted in turn).
 * @param options - `outlierLabel` plus any of {@link PasteNegativesOptions}; others default to
 *   {@link DEFAULT_PASTE_NEGATIVES_OPTIONS}.
 * @param rng - the random source.
 * @returns the new sample, the paste mask and what was pasted where.
 * @throws DenseHybridError `INVALID_OPTION` for bad options, `INVALID_INPUT` for malformed arrays
 *   or a missing target label, `SHAPE_MISMATCH` when a label differs in size from its image.
 * @example
 * ```ts
 * const rng = createRng(1);
 * const crop = jitterFlipCrop(inlier, {}, rng).sample;
 * const { sample: mixed, pasteMask } = pasteNegatives(crop, adeSample, { outlierLabel: 19 }, rng);
 * ```
 */
export function pasteNegatives(
  target: DatasetSample,
  negatives: NegativeSource | readonly NegativeSource[],
  options: Partial<PasteNegativesOptions> & { readonly outlierLabel: number },
  rng: Rng,
): PasteNegativesResult {
  const fn = 'pasteNegatives';
  const o: PasteNegativesOptions = { ...DEFAULT_PASTE_NEGATIVES_OPTIONS, ...options };
  checkOptions(o);
  assertRgbImage(fn, 'target.image', target.image);
  if (target.label === undefined) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected target.label (a LabelMap) for ${target.id}, got undefined`,
    );
  }
  assertLabelMap(fn, 'target.label', target.label);
  const W = target.image.width;
  const H = target.image.height;
  if (target.label.width !== W || target.label.height !== H) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `${fn}: expected target.label (${target.label.width}×${target.label.height}) to match target.image (${W}×${H})`,
    );
  }
  const list: readonly NegativeSource[] = Array.isArray(negatives)
    ? negatives
    : [negatives as NegativeSource];
  const image = target.image.data.slice();
  const label = target.label.data.slice();
  const pasteMask = new Uint8Array(W * H);
  const pastes: PastedNegative[] = [];
  list.forEach((neg, k) => {
    const name = `negatives[${k}]${neg.id === undefined ? '' : ` (${neg.id})`}`;
    assertRgbImage(fn, `${name}.image`, neg.image);
    for (const key of ['label', 'instances'] as const) {
      const m = neg[key];
      if (m === undefined) continue;
      assertLabelMap(fn, `${name}.${key}`, m);
      if (m.width !== neg.image.width || m.height !== neg.image.height) {
        throw new DenseHybridError(
          'SHAPE_MISMATCH',
          `${fn}: expected ${name}.${key} (${m.width}×${m.height}) to match its image (${neg.image.width}×${neg.image.height})`,
        );
      }
    }
    const patch = preparePatch(neg, o, rng);
    const { mask, kind, ids } = drawMask(patch, o, rng);
    const pw = patch.image.width;
    const ph = patch.image.height;
    // bounding box of the mask
    let x0 = pw;
    let y0 = ph;
    let x1 = -1;
    let y1 = -1;
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        if (mask[y * pw + x] === 1) {
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
          if (y < y0) y0 = y;
          if (y > y1) y1 = y;
        }
      }
    }
    const bw = x1 - x0 + 1;
    const bh = y1 - y0 + 1;
    const place = (size: number, room: number): number =>
      size <= room ? rng.int(room - size + 1) : -rng.int(size - room + 1);
    const px = place(bw, W);
    const py = place(bh, H);
    let pixels = 0;
    const src = patch.image.data;
    for (let by = 0; by < bh; by++) {
      const ty = py + by;
      if (ty < 0 || ty >= H) continue;
      for (let bx = 0; bx < bw; bx++) {
        const tx = px + bx;
        if (tx < 0 || tx >= W) continue;
        const p = (y0 + by) * pw + (x0 + bx);
        if (mask[p] !== 1) continue;
        const t = ty * W + tx;
        image[3 * t] = src[3 * p]!;
        image[3 * t + 1] = src[3 * p + 1]!;
        image[3 * t + 2] = src[3 * p + 2]!;
        label[t] = o.outlierLabel;
        pixels++;
        pasteMask[t] = 1;
      }
    }
    pastes.push({ x: px, y: py, width: bw, height: bh, mask: kind, ids, pixels });
  });
  return {
    sample: {
      id: target.id,
      image: { data: image, width: W, height: H },
      label: { data: label, width: W, height: H },
    },
    pasteMask,
    pastes,
  };
}
