import type { RgbImage } from '@densehybrid/data-mixing';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { createRaster, drawSvg, svgText, textWidth } from './svg.js';
import type { Raster } from './svg.js';

/** Perceptual colormaps for score maps. */
type ColormapName = 'inferno' | 'viridis' | 'gray';

/** The colormaps' names, for flag choices. */
export const COLORMAP_NAMES: readonly ColormapName[] = ['inferno', 'viridis', 'gray'];

// matplotlib's colormaps sampled at 0, 0.1, …, 1; linear interpolation between stops
// (max error < 3/255 against the 256-entry tables).
const STOPS: Readonly<Record<Exclude<ColormapName, 'gray'>, readonly string[]>> = {
  viridis: [
    '440154',
    '482475',
    '414487',
    '355f8d',
    '2a788e',
    '21918c',
    '22a884',
    '44bf70',
    '7ad151',
    'bddf26',
    'fde725',
  ],
  inferno: [
    '000004',
    '160b39',
    '420a68',
    '6a176e',
    '932667',
    'bc3754',
    'dd513a',
    'f37819',
    'fca50a',
    'f6d746',
    'fcffa4',
  ],
};

const LUTS = new Map<ColormapName, Uint8Array>();

/**
 * A 256-entry RGB lookup table (`lut[3*i .. 3*i+2]`) for `name`.
 *
 * @example
 * ```ts
 * const lut = colormapLut('inferno'); // lut[765..767] is the hottest colour
 * ```
 */
export function colormapLut(name: ColormapName): Uint8Array {
  const cached = LUTS.get(name);
  if (cached) return cached;
  if (!COLORMAP_NAMES.includes(name)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `colormapLut: expected name to be one of ${COLORMAP_NAMES.join(' | ')}, got ${describeValue(name)}`,
    );
  }
  const lut = new Uint8Array(256 * 3);
  if (name === 'gray') {
    for (let i = 0; i < 256; i++) lut.fill(i, i * 3, i * 3 + 3);
  } else {
    const stops = STOPS[name].map(
      (h) => [0, 2, 4].map((o) => parseInt(h.slice(o, o + 2), 16)) as [number, number, number],
    );
    const segments = stops.length - 1;
    for (let i = 0; i < 256; i++) {
      const t = (i / 255) * segments;
      const k = Math.min(segments - 1, Math.floor(t));
      const f = t - k;
      const a = stops[k] as [number, number, number];
      const b = stops[k + 1] as [number, number, number];
      for (let c = 0; c < 3; c++)
        lut[i * 3 + c] = Math.round((a[c] as number) + ((b[c] as number) - (a[c] as number)) * f);
    }
  }
  LUTS.set(name, lut);
  return lut;
}

/** Options of {@link anomalyHeatmap}. */
interface HeatmapOptions {
  /** @default 'inferno' */
  readonly colormap?: ColormapName;
  /**
   * How scores map to [0, 1]: `minmax` stretches this map's finite min..max (per image);
   * `fixed` uses `min`..`max` (comparable across images).
   * @default 'minmax'
   */
  readonly normalize?: 'minmax' | 'fixed';
  /** Score drawn as the coldest colour with `normalize: 'fixed'`. @default 0 */
  readonly min?: number;
  /** Score drawn as the hottest colour with `normalize: 'fixed'`. @default 1 */
  readonly max?: number;
  /** Colour of NaN scores (e.g. ignored pixels). @default [0, 0, 0] */
  readonly nanColor?: readonly [number, number, number];
}

/** Default options of {@link anomalyHeatmap}. */
const DEFAULT_HEATMAP_OPTIONS = {
  colormap: 'inferno',
  normalize: 'minmax',
  min: 0,
  max: 1,
  nanColor: [0, 0, 0],
} as const satisfies HeatmapOptions;

/** The score range a heatmap used, and the image. */
interface HeatmapResult {
  readonly image: Raster;
  /** Score drawn as the coldest colour. */
  readonly min: number;
  /** Score drawn as the hottest colour. */
  readonly max: number;
}

function checkSize(fn: string, name: string, length: number, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected width and height to be positive integers, got ${describeValue([width, height])}`,
    );
  }
  if (length !== width * height) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `${fn}: expected ${name} to have width*height = ${width * height} values, got ${length}`,
    );
  }
}

/**
 * Colours a score map (higher = more anomalous = hotter) with a perceptual colormap.
 *
 * @param scores `width*height` scores, row-major
 * @returns the RGB image and the score range used
 * @throws DenseHybridError `SHAPE_MISMATCH` when `scores.length !== width*height`
 * @example
 * ```ts
 * const { image } = anomalyHeatmap(new Float32Array([0, 1, 2, 3]), 2, 2);
 * await writePng('heat.png', image);
 * ```
 */
export function anomalyHeatmap(
  scores: ArrayLike<number>,
  width: number,
  height: number,
  options: HeatmapOptions = {},
): HeatmapResult {
  checkSize('anomalyHeatmap', 'scores', scores.length, width, height);
  const o = { ...DEFAULT_HEATMAP_OPTIONS, ...options };
  const lut = colormapLut(o.colormap);
  let lo = o.min;
  let hi = o.max;
  if (o.normalize === 'minmax') {
    lo = Infinity;
    hi = -Infinity;
    for (let i = 0; i < scores.length; i++) {
      const v = scores[i] as number;
      if (Number.isFinite(v)) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    if (lo === Infinity) {
      lo = 0;
      hi = 1;
    }
  } else if (!(hi > lo)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `anomalyHeatmap: expected options.max > options.min, got min ${lo}, max ${hi}`,
    );
  }
  const span = hi > lo ? hi - lo : 1;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i] as number;
    if (Number.isNaN(v)) {
      data.set(o.nanColor, i * 3);
      continue;
    }
    const t = Math.min(1, Math.max(0, (v - lo) / span));
    const k = Math.round(t * 255) * 3;
    data[i * 3] = lut[k] as number;
    data[i * 3 + 1] = lut[k + 1] as number;
    data[i * 3 + 2] = lut[k + 2] as number;
  }
  return { image: { data, width, height }, min: lo, max: hi };
}

/**
 * Blends `top` over `base` with opacity `alpha` (both the same size); where `mask` is given only
 * masked pixels are blended.
 *
 * @throws DenseHybridError `SHAPE_MISMATCH` when sizes differ
 * @example
 * ```ts
 * const over = overlay(photo, anomalyHeatmap(scores, w, h).image, 0.5);
 * ```
 */
export function overlay(
  base: RgbImage,
  top: RgbImage,
  alpha = 0.5,
  mask?: ArrayLike<boolean | number>,
): Raster {
  if (base.width !== top.width || base.height !== top.height) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `overlay: expected images of the same size, got ${base.width}x${base.height} and ${top.width}x${top.height}`,
    );
  }
  if (!(alpha >= 0 && alpha <= 1)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `overlay: expected alpha in [0, 1], got ${describeValue(alpha)}`,
    );
  }
  const n = base.width * base.height;
  if (mask && mask.length !== n) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `overlay: expected mask of ${n} values, got ${mask.length}`,
    );
  }
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = mask && !mask[i] ? 0 : alpha;
    for (let c = 0; c < 3; c++) {
      const k = i * 3 + c;
      data[k] = Math.round((base.data[k] as number) * (1 - a) + (top.data[k] as number) * a);
    }
  }
  return { data, width: base.width, height: base.height };
}

/** Options of {@link colorbar}. */
interface ColorbarOptions {
  /** Score at the bar's left end (the heatmap's `min`). */
  readonly min: number;
  /** Score at the bar's right end (the heatmap's `max`). */
  readonly max: number;
  /** Width of the whole scale bar in pixels, labels included (e.g. the heatmap's width). */
  readonly width: number;
  /** Height of the colour strip. @default 12 */
  readonly barHeight?: number;
  /** Tick label size in pixels. @default 11 */
  readonly fontSize?: number;
}

/**
 * About `count` tick values at a round step (1, 2 or 5 × 10^k) inside [min, max]; `[min]` when
 * the range is empty.
 *
 * @example
 * ```ts
 * niceTicks(0.03, 4.87, 4); // [1, 2, 3, 4]
 * ```
 */
export function niceTicks(
  min: number,
  max: number,
  count: number,
): { values: number[]; step: number } {
  if (!(max > min) || !Number.isFinite(max - min)) return { values: [min], step: 0 };
  const power = 10 ** Math.floor(Math.log10((max - min) / Math.max(1, count)));
  const ticksAt = (step: number): number[] => {
    const values: number[] = [];
    for (let k = Math.ceil(min / step - 1e-9); k * step <= max + step * 1e-9; k++)
      values.push(Number((k * step).toPrecision(12)));
    return values;
  };
  // the round step whose tick count is nearest `count` (the finer one on a tie)
  let best = { values: [min], step: 0 };
  for (const m of [1, 2, 5, 10]) {
    const values = ticksAt(m * power);
    if (best.step === 0 || Math.abs(values.length - count) < Math.abs(best.values.length - count))
      best = { values, step: m * power };
  }
  return best;
}

function tickLabel(v: number, step: number): string {
  if (v === 0) return '0';
  const a = Math.max(Math.abs(v), step);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return v.toFixed(Math.max(0, -Math.floor(Math.log10(step || a) + 1e-9)));
}

/**
 * A horizontal scale bar for a heatmap: the colormap from `min` (left) to `max` (right), with
 * tick marks and values at round steps under it. The strip's colour at score v is the
 * heatmap's colour for v.
 *
 * @example
 * ```ts
 * const heat = anomalyHeatmap(scores, w, h);
 * const bar = await colorbar('inferno', { min: heat.min, max: heat.max, width: w });
 * await writePng('heat-with-scale.png', stack([heat.image, bar]));
 * ```
 */
export async function colorbar(colormap: ColormapName, options: ColorbarOptions): Promise<Raster> {
  const { min, max, width } = options;
  const barHeight = options.barHeight ?? 12;
  const size = options.fontSize ?? 11;
  const lut = colormapLut(colormap);
  const widest = (t: { values: number[]; step: number }): number =>
    Math.max(...t.values.map((v) => textWidth(tickLabel(v, t.step), size)));
  // as many ticks (up to 6) as fit with a gap between their labels
  let ticks = niceTicks(min, max, 1);
  for (let count = 6; count > 1; count--) {
    const t = niceTicks(min, max, count);
    if (t.values.length * (widest(t) + 10) <= width - widest(t)) {
      ticks = t;
      break;
    }
  }
  const inset = Math.min(Math.floor(width / 4), Math.ceil(widest(ticks) / 2) + 2);
  const length = Math.max(1, width - 2 * inset);
  const top = 4;
  const height = top + barHeight + 4 + Math.ceil(size * 1.25) + 2;
  const img = createRaster(Math.max(1, width), height);
  for (let x = 0; x < length; x++) {
    const k = Math.round((x / Math.max(1, length - 1)) * 255) * 3;
    for (let y = top; y < top + barHeight; y++)
      img.data.set(lut.subarray(k, k + 3), (y * width + inset + x) * 3);
  }
  const span = max > min ? max - min : 1;
  const body = ticks.values.map((v) => {
    const x = inset + ((v - min) / span) * (length - 1) + 0.5;
    return (
      `<line x1="${x}" y1="${top + barHeight}" x2="${x}" y2="${top + barHeight + 3}" stroke="black" shape-rendering="crispEdges"/>` +
      svgText(tickLabel(v, ticks.step), x, top + barHeight + 4, { size, anchor: 'middle' })
    );
  });
  return drawSvg(img, body.join(''));
}
