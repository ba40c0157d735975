import { DenseHybridError } from '@densehybrid/metrics-openiou';
import {
  createRaster,
  drawText,
  drawTextVertical,
  fillRect,
  setPixel,
  textHeight,
  textWidth,
} from './font.js';
import type { Raster } from './font.js';
import type { Rgb } from './labels.js';

/** One line of a {@link plotCurves} chart. */
export interface CurveSeries {
  /** x values in [0, 1]. */
  readonly x: ArrayLike<number>;
  /** y values in [0, 1], same length as x. */
  readonly y: ArrayLike<number>;
  /** Legend text, e.g. `hybrid AP 0.42`. */
  readonly label?: string;
  /** @default a distinct colour per series */
  readonly color?: Rgb;
}

/** Options of {@link plotCurves}. */
export interface PlotOptions {
  /** @default '' */
  readonly title?: string;
  /** @default 'x' */
  readonly xLabel?: string;
  /** @default 'y' */
  readonly yLabel?: string;
  /** Raster width in pixels. @default 480 */
  readonly width?: number;
  /** Raster height in pixels. @default 480 */
  readonly height?: number;
  /** Draw the y = x chance line (ROC). @default false */
  readonly diagonal?: boolean;
  /** Interpolate with steps (PR, as step-wise AP) instead of straight segments. @default false */
  readonly steps?: boolean;
  /** Font scale. @default 2 */
  readonly fontScale?: number;
}

/** Default options of {@link plotCurves}. */
export const DEFAULT_PLOT_OPTIONS = {
  title: '',
  xLabel: 'x',
  yLabel: 'y',
  width: 480,
  height: 480,
  diagonal: false,
  steps: false,
  fontScale: 2,
} as const satisfies PlotOptions;

const SERIES_COLORS: readonly Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [23, 190, 207],
  [127, 127, 127],
  [188, 189, 34],
];

/** The plot area of a chart, in pixels (for tests and annotations). */
export interface PlotResult {
  readonly image: Raster;
  /** Left, top, right, bottom pixel of the axes box (x = 0 at left, y = 0 at bottom). */
  readonly box: {
    readonly left: number;
    readonly top: number;
    readonly right: number;
    readonly bottom: number;
  };
}

function line(
  img: Raster,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  color: Rgb,
  thick = 1,
): void {
  // Bresenham
  let x = Math.round(x0);
  let y = Math.round(y0);
  const xe = Math.round(x1);
  const ye = Math.round(y1);
  const dx = Math.abs(xe - x);
  const dy = -Math.abs(ye - y);
  const sx = x < xe ? 1 : -1;
  const sy = y < ye ? 1 : -1;
  let err = dx + dy;
  for (;;) {
    if (thick > 1) fillRect(img, x - (thick >> 1), y - (thick >> 1), thick, thick, color);
    else setPixel(img, x, y, color);
    if (x === xe && y === ye) break;
    const e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y += sy;
    }
  }
}

/**
 * Draws curves in the unit square (PR, ROC) into a raster: axes, ticks at 0, 0.2, …, 1 with
 * labels, axis titles, a title and a legend, in the built-in bitmap font.
 *
 * @throws DenseHybridError `SHAPE_MISMATCH` when a series' x and y lengths differ
 * @example
 * ```ts
 * const { image } = plotCurves([{ x: fpr, y: tpr, label: 'AUROC 0.93' }], { title: 'ROC', xLabel: 'FPR', yLabel: 'TPR', diagonal: true });
 * await writePng('roc.png', image);
 * ```
 */
export function plotCurves(series: readonly CurveSeries[], options: PlotOptions = {}): PlotResult {
  const o = { ...DEFAULT_PLOT_OPTIONS, ...options };
  const s = o.fontScale;
  const img = createRaster(o.width, o.height);
  const th = textHeight(s);
  const left = 10 + th + 8 + textWidth('0.0', s) + 8;
  const top = 10 + (o.title ? th + 10 : 0);
  const right = o.width - (8 + Math.ceil(textWidth('1.0', s) / 2));
  const bottom = o.height - (10 + th + 8 + th + 10);
  const px = (v: number): number => left + Math.min(1, Math.max(0, v)) * (right - left);
  const py = (v: number): number => bottom - Math.min(1, Math.max(0, v)) * (bottom - top);
  const grid: Rgb = [225, 225, 225];
  const axis: Rgb = [0, 0, 0];
  for (let t = 0; t <= 5; t++) {
    const v = t / 5;
    line(img, px(v), top, px(v), bottom, grid);
    line(img, left, py(v), right, py(v), grid);
    const label = v.toFixed(1);
    drawText(img, label, Math.round(px(v) - textWidth(label, s) / 2), bottom + 6, axis, s);
    drawText(img, label, left - 6 - textWidth(label, s), Math.round(py(v) - th / 2), axis, s);
    line(img, px(v), bottom, px(v), bottom + 3, axis);
    line(img, left - 3, py(v), left, py(v), axis);
  }
  line(img, left, top, left, bottom, axis);
  line(img, left, bottom, right, bottom, axis);
  line(img, right, top, right, bottom, axis);
  line(img, left, top, right, top, axis);
  if (o.diagonal) {
    for (let i = 0; i <= 100; i += 2)
      line(img, px(i / 100), py(i / 100), px((i + 1) / 100), py((i + 1) / 100), [150, 150, 150]);
  }
  if (o.title)
    drawText(img, o.title, Math.round((o.width - textWidth(o.title, s)) / 2), 10, axis, s);
  drawText(
    img,
    o.xLabel,
    Math.round((left + right - textWidth(o.xLabel, s)) / 2),
    bottom + 6 + th + 8,
    axis,
    s,
  );
  drawTextVertical(
    img,
    o.yLabel,
    10,
    Math.round((top + bottom + textWidth(o.yLabel, s)) / 2),
    axis,
    s,
  );
  series.forEach((c, i) => {
    if (c.x.length !== c.y.length) {
      throw new DenseHybridError(
        'SHAPE_MISMATCH',
        `plotCurves: expected series ${i} to have x and y of equal length, got ${c.x.length} and ${c.y.length}`,
      );
    }
    const color = c.color ?? (SERIES_COLORS[i % SERIES_COLORS.length] as Rgb);
    for (let k = 1; k < c.x.length; k++) {
      const x0 = c.x[k - 1] as number;
      const y0 = c.y[k - 1] as number;
      const x1 = c.x[k] as number;
      const y1 = c.y[k] as number;
      if (o.steps) {
        line(img, px(x0), py(y0), px(x1), py(y0), color, 2);
        line(img, px(x1), py(y0), px(x1), py(y1), color, 2);
      } else {
        line(img, px(x0), py(y0), px(x1), py(y1), color, 2);
      }
    }
    if (c.label) {
      const ly = top + 8 + i * (th + 6);
      const lx = right - 8 - textWidth(c.label, s) - 18;
      fillRect(img, lx - 4, ly - 3, textWidth(c.label, s) + 30, th + 6, [255, 255, 255]);
      fillRect(img, lx, ly + (th >> 1) - 1, 12, 3, color);
      drawText(img, c.label, lx + 18, ly, axis, s);
    }
  });
  return { image: img, box: { left, top, right, bottom } };
}
