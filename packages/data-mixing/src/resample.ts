import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import type { LabelMap, RgbImage } from './types.js';

/**
 * A window into a virtually rescaled (and optionally mirrored) image: the source is resized to
 * `scaledWidth × scaledHeight`, mirrored horizontally when `flip`, and the output is the
 * `width × height` window whose top-left corner sits at (`x`, `y`) in that resized image. Parts of
 * the window outside the resized image are filled (padding). Only the window's pixels are
 * computed, so "rescale 2048×1024 by 1.7, then crop 768²" costs 768² samples, not 3.5 M.
 */
export interface ResampleWindow {
  readonly scaledWidth: number;
  readonly scaledHeight: number;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  /** Mirror the resized image horizontally before taking the window. @default false */
  readonly flip?: boolean;
}

function checkWindow(fn: string, w: ResampleWindow): void {
  for (const key of ['scaledWidth', 'scaledHeight', 'width', 'height'] as const) {
    const v = w[key];
    if (!Number.isInteger(v) || v < 1) {
      throw new DenseHybridError(
        'INVALID_OPTION',
        `${fn}: expected ${key} to be a positive integer, got ${describeValue(v)}`,
      );
    }
  }
  for (const key of ['x', 'y'] as const) {
    if (!Number.isInteger(w[key])) {
      throw new DenseHybridError(
        'INVALID_OPTION',
        `${fn}: expected window ${key} to be an integer, got ${describeValue(w[key])}`,
      );
    }
  }
}

/** Per output column (or row): source index pair, 8-bit weight, and validity. */
interface Taps {
  readonly i0: Int32Array;
  readonly i1: Int32Array;
  readonly w: Int32Array;
  readonly valid: Uint8Array;
}

/**
 * Source taps of each output column (or row) `o` of a window starting at `start` in a source of
 * length `src` rescaled to `scaled`: bilinear (two taps, 8-bit weight, half-pixel centres as
 * torch `align_corners=False`, clamped at the borders) or nearest (one tap).
 */
function computeTaps(
  mode: 'bilinear' | 'nearest',
  outLen: number,
  start: number,
  scaled: number,
  src: number,
  flip: boolean,
): Taps {
  const i0 = new Int32Array(outLen);
  const i1 = mode === 'bilinear' ? new Int32Array(outLen) : i0;
  const w = new Int32Array(mode === 'bilinear' ? outLen : 0);
  const valid = new Uint8Array(outLen);
  const ratio = src / scaled;
  for (let o = 0; o < outLen; o++) {
    let X = start + o;
    if (X < 0 || X >= scaled) continue;
    if (flip) X = scaled - 1 - X;
    valid[o] = 1;
    if (mode === 'nearest') {
      i0[o] = Math.min(Math.floor((X + 0.5) * ratio), src - 1);
      continue;
    }
    const s = Math.min(Math.max((X + 0.5) * ratio - 0.5, 0), src - 1);
    const a = Math.floor(s);
    i0[o] = a;
    i1[o] = Math.min(a + 1, src - 1);
    w[o] = Math.round((s - a) * 256);
  }
  return { i0, i1, w, valid };
}

/**
 * Bilinear resample of an RGB image through a {@link ResampleWindow} (half-pixel centres, no
 * antialiasing; 8-bit fixed-point weights), padding with `fill`.
 *
 * @param image - the source image.
 * @param window - the rescale + mirror + crop to apply.
 * @param fill - RGB colour for pixels outside the rescaled image. @default [0,0,0]
 * @returns a new image of `window.width × window.height`.
 * @throws DenseHybridError `INVALID_OPTION` for a malformed window.
 * @example
 * ```ts
 * const crop = resampleImage(img, { scaledWidth: 3000, scaledHeight: 1500, x: 100, y: 50, width: 768, height: 768 });
 * ```
 */
export function resampleImage(
  image: RgbImage,
  window: ResampleWindow,
  fill: readonly [number, number, number] = [0, 0, 0],
): RgbImage {
  checkWindow('resampleImage', window);
  const { width: W, height: H } = window;
  const sw = image.width;
  const src = image.data;
  const cx = computeTaps(
    'bilinear',
    W,
    window.x,
    window.scaledWidth,
    image.width,
    window.flip === true,
  );
  const cy = computeTaps('bilinear', H, window.y, window.scaledHeight, image.height, false);
  const out = new Uint8Array(W * H * 3);
  const [f0, f1, f2] = fill;
  // valid output columns form one contiguous run [lo, hi)
  let lo = 0;
  while (lo < W && cx.valid[lo] === 0) lo++;
  let hi = W;
  while (hi > lo && cx.valid[hi - 1] === 0) hi--;
  // per column: byte offsets of both taps and the weight pair
  const c0s = new Int32Array(W);
  const c1s = new Int32Array(W);
  for (let ox = lo; ox < hi; ox++) {
    c0s[ox] = cx.i0[ox]! * 3;
    c1s[ox] = cx.i1[ox]! * 3;
  }
  const cw = cx.w;
  // Separable: each needed source row is blended horizontally once, a·(256−wx) + b·wx (exact
  // integers), and kept while consecutive output rows reuse it (two rows cached).
  const rows = [new Int32Array(W * 3), new Int32Array(W * 3)];
  const rowOf = [-1, -1];
  const load = (slot: number, r: number): number => {
    const h = rows[slot]!;
    rowOf[slot] = r;
    const base = r * sw * 3;
    for (let ox = lo, i = lo * 3; ox < hi; ox++, i += 3) {
      const wx = cw[ox]!;
      const wx0 = 256 - wx;
      const a = base + c0s[ox]!;
      const b = base + c1s[ox]!;
      h[i] = src[a]! * wx0 + src[b]! * wx;
      h[i + 1] = src[a + 1]! * wx0 + src[b + 1]! * wx;
      h[i + 2] = src[a + 2]! * wx0 + src[b + 2]! * wx;
    }
    return slot;
  };
  /** Slots holding source rows r0 and r1, loading what is missing without evicting the other. */
  const slotsFor = (r0: number, r1: number): [number, number] => {
    let s0 = rowOf[0] === r0 ? 0 : rowOf[1] === r0 ? 1 : -1;
    if (s0 < 0) s0 = load(rowOf[0] === r1 ? 1 : 0, r0);
    const s1 = rowOf[s0] === r1 ? s0 : rowOf[1 - s0] === r1 ? 1 - s0 : load(1 - s0, r1);
    return [s0, s1];
  };
  const padRow = (o: number, from: number, to: number): void => {
    for (let ox = from, q = o + from * 3; ox < to; ox++, q += 3) {
      out[q] = f0;
      out[q + 1] = f1;
      out[q + 2] = f2;
    }
  };
  for (let oy = 0; oy < H; oy++) {
    const o = oy * W * 3;
    if (cy.valid[oy] === 0) {
      padRow(o, 0, W);
      continue;
    }
    padRow(o, 0, lo);
    padRow(o, hi, W);
    const [s0, s1] = slotsFor(cy.i0[oy]!, cy.i1[oy]!);
    const h0 = rows[s0]!;
    const h1 = rows[s1]!;
    const wy = cy.w[oy]!;
    const wy0 = 256 - wy;
    // v = (top·(256−wy) + bottom·wy + 2^15) >> 16 with top/bottom the rows' horizontal blends
    for (let i = lo * 3, q = o + lo * 3; i < hi * 3; i++, q++) {
      out[q] = (h0[i]! * wy0 + h1[i]! * wy + 32768) >> 16;
    }
  }
  return { data: out, width: W, height: H };
}

/**
 * Nearest-neighbour resample of a label map through a {@link ResampleWindow}; never invents
 * label values. Pixels outside the rescaled map get `fill`.
 *
 * @param label - the source label map.
 * @param window - the rescale + mirror + crop to apply.
 * @param fill - label for padding. @default 255
 * @returns a new label map of `window.width × window.height`.
 * @throws DenseHybridError `INVALID_OPTION` for a malformed window.
 * @example
 * ```ts
 * const crop = resampleLabel(lbl, { scaledWidth: 3000, scaledHeight: 1500, x: 100, y: 50, width: 768, height: 768 });
 * ```
 */
export function resampleLabel(label: LabelMap, window: ResampleWindow, fill = 255): LabelMap {
  checkWindow('resampleLabel', window);
  const { width: W, height: H } = window;
  const sw = label.width;
  const src = label.data;
  const cx = computeTaps(
    'nearest',
    W,
    window.x,
    window.scaledWidth,
    label.width,
    window.flip === true,
  );
  const cy = computeTaps('nearest', H, window.y, window.scaledHeight, label.height, false);
  const out = new Uint8Array(W * H);
  for (let oy = 0; oy < H; oy++) {
    const o = oy * W;
    if (cy.valid[oy] === 0) {
      out.fill(fill, o, o + W);
      continue;
    }
    const r = cy.i0[oy]! * sw;
    for (let ox = 0; ox < W; ox++) {
      out[o + ox] = cx.valid[ox] === 0 ? fill : src[r + cx.i0[ox]!]!;
    }
  }
  return { data: out, width: W, height: H };
}

/**
 * Resizes an RGB image bilinearly (half-pixel centres, no antialiasing).
 *
 * @param image - the source image.
 * @param width - output width (positive integer).
 * @param height - output height (positive integer).
 * @returns a new image.
 * @throws DenseHybridError `INVALID_OPTION` for a non-positive size.
 * @example
 * ```ts
 * const small = resizeImage(img, 1024, 512);
 * ```
 */
export function resizeImage(image: RgbImage, width: number, height: number): RgbImage {
  return resampleImage(image, {
    scaledWidth: width,
    scaledHeight: height,
    x: 0,
    y: 0,
    width,
    height,
  });
}

/**
 * Resizes a label map with nearest-neighbour sampling (labels are never blended).
 *
 * @param label - the source label map.
 * @param width - output width (positive integer).
 * @param height - output height (positive integer).
 * @returns a new label map.
 * @throws DenseHybridError `INVALID_OPTION` for a non-positive size.
 * @example
 * ```ts
 * const small = resizeLabel(lbl, 1024, 512);
 * ```
 */
export function resizeLabel(label: LabelMap, width: number, height: number): LabelMap {
  return resampleLabel(label, {
    scaledWidth: width,
    scaledHeight: height,
    x: 0,
    y: 0,
    width,
    height,
  });
}

/**
 * The size after rescaling so that the shorter side becomes `shorterSide` (aspect kept, rounded).
 *
 * @example
 * ```ts
 * scaledSize(2048, 1024, 384); // { width: 768, height: 384 }
 * ```
 */
export function scaledSize(
  width: number,
  height: number,
  shorterSide: number,
): { width: number; height: number } {
  const s = shorterSide / Math.min(width, height);
  return {
    width: Math.max(1, Math.round(width * s)),
    height: Math.max(1, Math.round(height * s)),
  };
}
