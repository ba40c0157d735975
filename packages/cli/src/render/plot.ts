import { DenseHybridError } from '@densehybrid/metrics-openiou';
import { createRaster, drawSvg, rgb, svgText, textWidth } from './svg.js';
import type { Raster, Rgb } from './svg.js';

/** One line of a {@link plotCurves} chart. */
interface CurveSeries {
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
interface PlotOptions {
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
  /** Draw the dashed y = x chance line (ROC). @default false */
  readonly diagonal?: boolean;
  /** Interpolate with steps (PR, as step-wise AP) instead of straight segments. @default false */
  readonly steps?: boolean;
  /** Font size of labels in pixels (the title is 2 px larger). @default 13 */
  readonly fontSize?: number;
  /**
   * Corner of the legend inside the axes, where PR and ROC curves rarely run.
   * @default 'lower-left' with `steps` (PR), else 'lower-right' (ROC)
   */
  readonly legend?: 'lower-left' | 'lower-right' | 'upper-right';
}

/** Default options of {@link plotCurves}. */
const DEFAULT_PLOT_OPTIONS = {
  title: '',
  xLabel: 'x',
  yLabel: 'y',
  width: 480,
  height: 480,
  diagonal: false,
  steps: false,
  fontSize: 13,
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

/** A chart and where its axes are. */
interface PlotResult {
  readonly image: Raster;
  /** Left, top, right, bottom pixel of the axes box (x = 0 at left, y = 0 at bottom). */
  readonly box: {
    readonly left: number;
    readonly top: number;
    readonly right: number;
    readonly bottom: number;
  };
}

/**
 * Draws curves in the unit square (PR, ROC): axes, a grid and ticks at 0, 0.2, …, 1 with labels,
 * axis titles, a title and a legend, as SVG rendered by sharp. Points closer than a quarter pixel
 * are merged, so curves of 65 536 thresholds draw as fast as short ones.
 *
 * @throws DenseHybridError `SHAPE_MISMATCH` when a series' x and y lengths differ
 * @example
 * ```ts
 * const { image } = await plotCurves([{ x: fpr, y: tpr, label: 'AUROC 93.1' }], { title: 'ROC', xLabel: 'FPR', yLabel: 'TPR', diagonal: true });
 * await writePng('roc.png', image);
 * ```
 */
export async function plotCurves(
  series: readonly CurveSeries[],
  options: PlotOptions = {},
): Promise<PlotResult> {
  const o = { ...DEFAULT_PLOT_OPTIONS, ...options };
  const s = o.fontSize;
  const line = Math.ceil(s * 1.25);
  const left = 8 + line + 6 + textWidth('0.0', s) + 6;
  const top = 10 + (o.title ? line + 8 : 0);
  const right = o.width - (6 + Math.ceil(textWidth('1.0', s) / 2));
  const bottom = o.height - (8 + line + 4 + line + 6);
  const px = (v: number): number => left + Math.min(1, Math.max(0, v)) * (right - left);
  const py = (v: number): number => bottom - Math.min(1, Math.max(0, v)) * (bottom - top);
  const svg: string[] = [];
  const crisp = 'shape-rendering="crispEdges"';
  for (let t = 0; t <= 5; t++) {
    const [x, y] = [Math.round(px(t / 5)) + 0.5, Math.round(py(t / 5)) + 0.5];
    const label = (t / 5).toFixed(1);
    svg.push(
      `<path d="M${x} ${top}V${bottom}M${left} ${y}H${right}" stroke="rgb(225,225,225)" ${crisp}/>`,
      `<path d="M${x} ${bottom}v4M${left} ${y}h-4" stroke="black" ${crisp}/>`,
      svgText(label, x, bottom + 6, { size: s, anchor: 'middle' }),
      svgText(label, left - 6, y - s / 2, { size: s, anchor: 'end' }),
    );
  }
  svg.push(
    `<rect x="${left + 0.5}" y="${top + 0.5}" width="${right - left}" height="${bottom - top}" fill="none" stroke="black" ${crisp}/>`,
  );
  if (o.diagonal) {
    svg.push(
      `<path d="M${px(0)} ${py(0)}L${px(1)} ${py(1)}" stroke="rgb(150,150,150)" stroke-dasharray="4 4"/>`,
    );
  }
  if (o.title) svg.push(svgText(o.title, o.width / 2, 8, { size: s + 2, anchor: 'middle' }));
  svg.push(
    svgText(o.xLabel, (left + right) / 2, bottom + 6 + line + 4, { size: s, anchor: 'middle' }),
  );
  svg.push(svgText(o.yLabel, 8, (top + bottom) / 2, { size: s, anchor: 'middle', rotate: -90 }));

  const keyed: { color: string; label: string }[] = [];
  series.forEach((c, i) => {
    if (c.x.length !== c.y.length) {
      throw new DenseHybridError(
        'SHAPE_MISMATCH',
        `plotCurves: expected series ${i} to have x and y of equal length, got ${c.x.length} and ${c.y.length}`,
      );
    }
    const color = rgb(c.color ?? (SERIES_COLORS[i % SERIES_COLORS.length] as Rgb));
    svg.push(
      `<path d="${curvePath(c, px, py, o.steps)}" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round"/>`,
    );
    if (c.label) keyed.push({ color, label: c.label });
  });

  if (keyed.length > 0) {
    const boxW = 6 + 16 + 6 + Math.max(...keyed.map((e) => textWidth(e.label, s))) + 6;
    const boxH = 6 + keyed.length * line + 4;
    const corner = options.legend ?? (o.steps ? 'lower-left' : 'lower-right');
    const bx = corner === 'lower-left' ? left + 8 : right - 8 - boxW;
    const by = corner === 'upper-right' ? top + 8 : bottom - 8 - boxH;
    svg.push(
      `<rect x="${bx + 0.5}" y="${by + 0.5}" width="${boxW}" height="${boxH}" fill="white" fill-opacity="0.9" stroke="rgb(200,200,200)" ${crisp}/>`,
    );
    keyed.forEach((e, k) => {
      const y = by + 6 + k * line;
      svg.push(
        `<rect x="${bx + 6}" y="${y + Math.round(s / 2) - 1}" width="16" height="3" fill="${e.color}" ${crisp}/>`,
        svgText(e.label, bx + 6 + 16 + 6, y, { size: s }),
      );
    });
  }
  const image = await drawSvg(createRaster(o.width, o.height), svg.join(''));
  return { image, box: { left, top, right, bottom } };
}

/**
 * SVG path data of one curve. Each half-pixel column keeps only its first, lowest, highest and
 * last point (in their order), which draws the same pixels as every point: a curve of 65 536
 * thresholds costs about as much as one of a thousand.
 */
function curvePath(
  c: CurveSeries,
  px: (v: number) => number,
  py: (v: number) => number,
  steps: boolean,
): string {
  type Point = readonly [number, number];
  const parts: string[] = [];
  let last: Point | undefined;
  const emit = ([x, y]: Point): void => {
    if (last && x === last[0] && y === last[1]) return;
    const [lx, ly] = last ?? [x, y];
    if (!last) parts.push(`M${x} ${y}`);
    // a step smaller than a pixel both ways looks the same drawn straight
    else if (!steps || (Math.abs(x - lx) < 1 && Math.abs(y - ly) < 1)) parts.push(`L${x} ${y}`);
    else parts.push(`${x === lx ? '' : `H${x}`}${y === ly ? '' : `V${y}`}`);
    last = [x, y];
  };
  let column = NaN;
  let run: Point[] = []; // first, lowest, highest, last of the current column
  let lowFirst = true;
  const flush = (): void => {
    const [first, low, high, end] = run as [Point, Point, Point, Point];
    if (first)
      for (const p of lowFirst ? [first, low, high, end] : [first, high, low, end]) emit(p);
  };
  for (let k = 0; k < c.x.length; k++) {
    const xv = c.x[k] as number;
    const yv = c.y[k] as number;
    if (!Number.isFinite(xv) || !Number.isFinite(yv)) continue;
    const p: Point = [Math.round(px(xv) * 100) / 100, Math.round(py(yv) * 100) / 100];
    const col = Math.round(p[0] * 2);
    if (col !== column) {
      flush();
      [column, run, lowFirst] = [col, [p, p, p, p], true];
      continue;
    }
    if (p[1] < (run[1] as Point)[1]) [run[1], lowFirst] = [p, false];
    if (p[1] > (run[2] as Point)[1]) [run[2], lowFirst] = [p, true];
    run[3] = p;
  }
  flush();
  return parts.join('');
}
