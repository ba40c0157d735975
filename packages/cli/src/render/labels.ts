import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { createRaster, drawSvg, rgb, svgText, textWidth } from './svg.js';
import type { Raster, Rgb } from './svg.js';

/** Cityscapes' 19 train-id colours (the palette everybody recognises). */
export const CITYSCAPES_PALETTE: readonly Rgb[] = [
  [128, 64, 128],
  [244, 35, 232],
  [70, 70, 70],
  [102, 102, 156],
  [190, 153, 153],
  [153, 153, 153],
  [250, 170, 30],
  [220, 220, 0],
  [107, 142, 35],
  [152, 251, 152],
  [70, 130, 180],
  [220, 20, 60],
  [255, 0, 0],
  [0, 0, 142],
  [0, 0, 70],
  [0, 60, 100],
  [0, 80, 100],
  [0, 0, 230],
  [119, 11, 32],
];

/** Colour of the unknown / anomaly label K. */
export const UNKNOWN_COLOR: Rgb = [255, 255, 255];
/** Colour of ignored pixels (label 255). */
const IGNORE_COLOR: Rgb = [0, 0, 0];

function hsv(h: number, s: number, v: number): Rgb {
  const f = (n: number): number => {
    const k = (n + h * 6) % 6;
    return Math.round(255 * (v - v * s * Math.max(0, Math.min(k, 4 - k, 1))));
  };
  return [f(5), f(3), f(1)];
}

/**
 * `numClasses` distinct colours: Cityscapes' palette first, then golden-angle hues.
 *
 * @example
 * ```ts
 * labelPalette(12)[0]; // [128, 64, 128] (road purple)
 * ```
 */
function labelPalette(numClasses: number): Rgb[] {
  const out: Rgb[] = [];
  for (let k = 0; k < numClasses; k++) {
    out.push(CITYSCAPES_PALETTE[k] ?? hsv((k * 0.618033988749895) % 1, 0.65, 0.9));
  }
  return out;
}

/** Options of {@link colorizeLabels}. */
interface ColorizeLabelsOptions {
  /** Colours of classes 0..K-1. @default labelPalette(numClasses) */
  readonly palette?: readonly Rgb[];
  /** @default UNKNOWN_COLOR */
  readonly unknownColor?: Rgb;
  /** @default 255 */
  readonly ignoreLabel?: number;
}

/**
 * Colours an open-set label map: classes `0..K-1` by palette, `K` (unknown) white, ignore black.
 *
 * @param labels `width*height` labels
 * @param numClasses K
 * @throws DenseHybridError `SHAPE_MISMATCH` for a wrong length, `INVALID_INPUT` for a label
 *   outside `0..K` and not ignore
 * @example
 * ```ts
 * const img = colorizeLabels(new Uint8Array([0, 1, 2, 255]), 2, 2, 2);
 * ```
 */
export function colorizeLabels(
  labels: ArrayLike<number>,
  width: number,
  height: number,
  numClasses: number,
  options: ColorizeLabelsOptions = {},
): Raster {
  if (labels.length !== width * height) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `colorizeLabels: expected ${width * height} labels (width*height), got ${labels.length}`,
    );
  }
  const palette = options.palette ?? labelPalette(numClasses);
  const unknown = options.unknownColor ?? UNKNOWN_COLOR;
  const ignore = options.ignoreLabel ?? 255;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i] as number;
    const color = l === ignore ? IGNORE_COLOR : l === numClasses ? unknown : palette[l];
    if (!color) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `colorizeLabels: expected labels in 0..${numClasses} or ${ignore}, got ${describeValue(l)} at pixel ${i}`,
      );
    }
    data[i * 3] = color[0];
    data[i * 3 + 1] = color[1];
    data[i * 3 + 2] = color[2];
  }
  return { data, width, height };
}

/** One legend row. */
interface LegendEntry {
  readonly name: string;
  readonly color: Rgb;
}

/** Options of {@link legend}. */
interface LegendOptions {
  /** Rows wrap into further columns below this height in pixels. @default 480 */
  readonly maxHeight?: number;
  /** Font size in pixels; swatches are as tall. @default 13 */
  readonly fontSize?: number;
}

/**
 * A colour legend of a label map: a swatch and a name per entry, in columns that fit
 * `maxHeight`.
 *
 * @example
 * ```ts
 * const panel = await legend([{ name: 'road', color: [128, 64, 128] }, { name: 'unknown', color: UNKNOWN_COLOR }]);
 * ```
 */
export async function legend(
  entries: readonly LegendEntry[],
  options: LegendOptions = {},
): Promise<Raster> {
  const size = options.fontSize ?? 13;
  const row = Math.ceil(size * 1.5);
  const pad = 6;
  const maxHeight = Math.max(options.maxHeight ?? 480, row + 2 * pad);
  const perCol = Math.max(1, Math.floor((maxHeight - 2 * pad) / row));
  const cols = Math.max(1, Math.ceil(entries.length / perCol));
  const colWidth = size + 6 + Math.max(0, ...entries.map((e) => textWidth(e.name, size))) + 12;
  const width = pad * 2 + cols * colWidth;
  const height = Math.max(1, pad * 2 + Math.min(perCol, entries.length) * row);
  const body = entries.map((e, i) => {
    const x = pad + Math.floor(i / perCol) * colWidth;
    const y = pad + (i % perCol) * row;
    return (
      `<rect x="${x + 0.5}" y="${y + 0.5}" width="${size}" height="${size}" fill="${rgb(e.color)}" stroke="rgb(60,60,60)" shape-rendering="crispEdges"/>` +
      svgText(e.name, x + size + 6, y, { size })
    );
  });
  return drawSvg(createRaster(width, height), body.join(''));
}

/**
 * Legend entries for K class names plus `unknown` (and `ignore`).
 *
 * @example
 * ```ts
 * const panel = await legend(openSetLegendEntries(['road', 'car']));
 * ```
 */
export function openSetLegendEntries(
  classNames: readonly string[],
  palette?: readonly Rgb[],
): LegendEntry[] {
  const colors = palette ?? labelPalette(classNames.length);
  return [
    ...classNames.map((name, k) => ({ name, color: colors[k] as Rgb })),
    { name: 'unknown', color: UNKNOWN_COLOR },
    { name: 'ignore', color: IGNORE_COLOR },
  ];
}
