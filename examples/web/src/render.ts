/**
 * Pixels for the page: the anomaly heatmap (inferno), its scale, the open-set label colours.
 * The colours are those of `densehybrid infer` (packages/cli/src/render), so a map looks the
 * same in the browser and in the CLI's PNGs.
 */

type Rgb = readonly [number, number, number];

// matplotlib's inferno sampled at 0, 0.1, …, 1; linear interpolation between stops (as the CLI)
const INFERNO = [
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
];

let lut: Uint8Array | undefined;

/** inferno as a 256-entry RGB table (`lut[3*i .. 3*i+2]`). */
function infernoLut(): Uint8Array {
  if (lut) return lut;
  const stops = INFERNO.map(
    (h) => [0, 2, 4].map((o) => parseInt(h.slice(o, o + 2), 16)) as unknown as Rgb,
  );
  const out = new Uint8Array(256 * 3);
  const segments = stops.length - 1;
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * segments;
    const k = Math.min(segments - 1, Math.floor(t));
    const f = t - k;
    const a = stops[k] as Rgb;
    const b = stops[k + 1] as Rgb;
    for (let c = 0; c < 3; c++) {
      const lo = a[c] as number;
      out[i * 3 + c] = Math.round(lo + ((b[c] as number) - lo) * f);
    }
  }
  lut = out;
  return out;
}

/** A score map's finite range. */
export interface ScoreRange {
  readonly min: number;
  readonly max: number;
}

/** The finite min and max of `scores` (0..1 when none is finite). */
export function scoreRange(scores: Float32Array): ScoreRange {
  let min = Infinity;
  let max = -Infinity;
  for (const s of scores) {
    if (s < min) min = s;
    if (s > max) max = s;
  }
  return Number.isFinite(min) && Number.isFinite(max) ? { min, max } : { min: 0, max: 1 };
}

/** Colours `scores` (higher = hotter), stretched over `range`; NaN is black. */
export function heatmapPixels(
  scores: Float32Array,
  range: ScoreRange,
): Uint8ClampedArray<ArrayBuffer> {
  const table = infernoLut();
  const out = new Uint8ClampedArray(scores.length * 4);
  const span = range.max - range.min || 1;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    const o = i * 4;
    out[o + 3] = 255;
    if (Number.isNaN(s)) continue;
    const k = Math.max(0, Math.min(255, Math.round(((s - range.min) / span) * 255))) * 3;
    out[o] = table[k] as number;
    out[o + 1] = table[k + 1] as number;
    out[o + 2] = table[k + 2] as number;
  }
  return out;
}

/** Cityscapes' 19 train-id colours (as the CLI). */
const CITYSCAPES_PALETTE: readonly Rgb[] = [
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

/** Colour of the unknown label K. */
export const UNKNOWN_COLOR: Rgb = [255, 255, 255];

function hsv(h: number, s: number, v: number): Rgb {
  const f = (n: number): number => {
    const k = (n + h * 6) % 6;
    return Math.round(255 * (v - v * s * Math.max(0, Math.min(k, 4 - k, 1))));
  };
  return [f(5), f(3), f(1)];
}

/** K distinct colours: Cityscapes' palette first, then golden-angle hues (as the CLI). */
export function labelPalette(numClasses: number): Rgb[] {
  const out: Rgb[] = [];
  for (let k = 0; k < numClasses; k++)
    out.push(CITYSCAPES_PALETTE[k] ?? hsv((k * 0.618033988749895) % 1, 0.65, 0.9));
  return out;
}

/** Colours an open-set map: classes by palette, K (unknown) white. */
export function labelPixels(
  labels: ArrayLike<number>,
  numClasses: number,
): Uint8ClampedArray<ArrayBuffer> {
  const palette = labelPalette(numClasses);
  const out = new Uint8ClampedArray(labels.length * 4);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i] as number;
    const c = l === numClasses ? UNKNOWN_COLOR : (palette[l] ?? ([0, 0, 0] as Rgb));
    out.set(c, i * 4);
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** 4–8 round tick values covering [min, max]. */
function niceTicks(min: number, max: number, target = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step)
    ticks.push(Math.abs(t) < step * 1e-9 ? 0 : Number(t.toPrecision(12)));
  return ticks;
}

/**
 * Draws the heatmap's scale into `canvas`: the colour ramp, round ticks between the map's min
 * and max, and the open-set threshold as a marker.
 */
export function drawColorbar(
  canvas: HTMLCanvasElement,
  range: ScoreRange,
  threshold: number | undefined,
): void {
  // drawn at the size it is shown, in device pixels: crisp text at any zoom
  const dpr = globalThis.devicePixelRatio || 1;
  const w = Math.max(120, Math.round(canvas.clientWidth || 256));
  const h = 40;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const pad = 12;
  const barH = 14;
  ctx.clearRect(0, 0, w, h);
  const table = infernoLut();
  for (let x = pad; x < w - pad; x++) {
    const k = Math.round(((x - pad) / (w - 2 * pad - 1)) * 255) * 3;
    ctx.fillStyle = `rgb(${table[k]},${table[k + 1]},${table[k + 2]})`;
    ctx.fillRect(x, 4, 1, barH);
  }
  const span = range.max - range.min || 1;
  const xOf = (v: number): number => pad + ((v - range.min) / span) * (w - 2 * pad - 1);
  ctx.fillStyle = '#ddd';
  ctx.strokeStyle = '#ddd';
  ctx.font = '11px system-ui, sans-serif';
  ctx.textAlign = 'center';
  for (const t of niceTicks(range.min, range.max)) {
    const x = Math.round(xOf(t)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(x, 4 + barH);
    ctx.lineTo(x, 4 + barH + 4);
    ctx.stroke();
    ctx.fillText(String(t), x, 4 + barH + 16);
  }
  if (threshold !== undefined && threshold >= range.min && threshold <= range.max) {
    const x = Math.round(xOf(threshold)) + 0.5;
    ctx.strokeStyle = '#4fc3f7';
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x, 1);
    ctx.lineTo(x, 4 + barH + 3);
    ctx.stroke();
    ctx.lineWidth = 1;
  }
}
