import type { RgbImage } from '@densehybrid/data-mixing';

/**
 * A 5×7 bitmap font (upper case, digits, common punctuation) so that plots and legends need no
 * canvas dependency. Lower-case letters are drawn as upper case; unknown characters as `?`.
 */
const GLYPHS: Readonly<Record<string, readonly string[]>> = {
  ' ': ['.....', '.....', '.....', '.....', '.....', '.....', '.....'],
  A: ['.###.', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  B: ['####.', '#...#', '#...#', '####.', '#...#', '#...#', '####.'],
  C: ['.###.', '#...#', '#....', '#....', '#....', '#...#', '.###.'],
  D: ['####.', '#...#', '#...#', '#...#', '#...#', '#...#', '####.'],
  E: ['#####', '#....', '#....', '####.', '#....', '#....', '#####'],
  F: ['#####', '#....', '#....', '####.', '#....', '#....', '#....'],
  G: ['.###.', '#...#', '#....', '#.###', '#...#', '#...#', '.####'],
  H: ['#...#', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  I: ['.###.', '..#..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  J: ['..###', '...#.', '...#.', '...#.', '...#.', '#..#.', '.##..'],
  K: ['#...#', '#..#.', '#.#..', '##...', '#.#..', '#..#.', '#...#'],
  L: ['#....', '#....', '#....', '#....', '#....', '#....', '#####'],
  M: ['#...#', '##.##', '#.#.#', '#.#.#', '#...#', '#...#', '#...#'],
  N: ['#...#', '#...#', '##..#', '#.#.#', '#..##', '#...#', '#...#'],
  O: ['.###.', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  P: ['####.', '#...#', '#...#', '####.', '#....', '#....', '#....'],
  Q: ['.###.', '#...#', '#...#', '#...#', '#.#.#', '#..#.', '.##.#'],
  R: ['####.', '#...#', '#...#', '####.', '#.#..', '#..#.', '#...#'],
  S: ['.####', '#....', '#....', '.###.', '....#', '....#', '####.'],
  T: ['#####', '..#..', '..#..', '..#..', '..#..', '..#..', '..#..'],
  U: ['#...#', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  V: ['#...#', '#...#', '#...#', '#...#', '#...#', '.#.#.', '..#..'],
  W: ['#...#', '#...#', '#...#', '#.#.#', '#.#.#', '#.#.#', '.#.#.'],
  X: ['#...#', '#...#', '.#.#.', '..#..', '.#.#.', '#...#', '#...#'],
  Y: ['#...#', '#...#', '.#.#.', '..#..', '..#..', '..#..', '..#..'],
  Z: ['#####', '....#', '...#.', '..#..', '.#...', '#....', '#####'],
  '0': ['.###.', '#...#', '#..##', '#.#.#', '##..#', '#...#', '.###.'],
  '1': ['..#..', '.##..', '..#..', '..#..', '..#..', '..#..', '.###.'],
  '2': ['.###.', '#...#', '....#', '...#.', '..#..', '.#...', '#####'],
  '3': ['#####', '...#.', '..#..', '...#.', '....#', '#...#', '.###.'],
  '4': ['...#.', '..##.', '.#.#.', '#..#.', '#####', '...#.', '...#.'],
  '5': ['#####', '#....', '####.', '....#', '....#', '#...#', '.###.'],
  '6': ['..##.', '.#...', '#....', '####.', '#...#', '#...#', '.###.'],
  '7': ['#####', '....#', '...#.', '..#..', '.#...', '.#...', '.#...'],
  '8': ['.###.', '#...#', '#...#', '.###.', '#...#', '#...#', '.###.'],
  '9': ['.###.', '#...#', '#...#', '.####', '....#', '...#.', '.##..'],
  '.': ['.....', '.....', '.....', '.....', '.....', '.##..', '.##..'],
  ',': ['.....', '.....', '.....', '.....', '.##..', '..#..', '.#...'],
  ':': ['.....', '.##..', '.##..', '.....', '.##..', '.##..', '.....'],
  ';': ['.....', '.##..', '.##..', '.....', '.##..', '..#..', '.#...'],
  '-': ['.....', '.....', '.....', '#####', '.....', '.....', '.....'],
  '+': ['.....', '..#..', '..#..', '#####', '..#..', '..#..', '.....'],
  '=': ['.....', '.....', '#####', '.....', '#####', '.....', '.....'],
  _: ['.....', '.....', '.....', '.....', '.....', '.....', '#####'],
  '/': ['.....', '....#', '...#.', '..#..', '.#...', '#....', '.....'],
  '(': ['...#.', '..#..', '.#...', '.#...', '.#...', '..#..', '...#.'],
  ')': ['.#...', '..#..', '...#.', '...#.', '...#.', '..#..', '.#...'],
  '[': ['.###.', '.#...', '.#...', '.#...', '.#...', '.#...', '.###.'],
  ']': ['.###.', '...#.', '...#.', '...#.', '...#.', '...#.', '.###.'],
  '%': ['##...', '##..#', '...#.', '..#..', '.#...', '#..##', '...##'],
  '#': ['.#.#.', '.#.#.', '#####', '.#.#.', '#####', '.#.#.', '.#.#.'],
  '<': ['...#.', '..#..', '.#...', '#....', '.#...', '..#..', '...#.'],
  '>': ['.#...', '..#..', '...#.', '....#', '...#.', '..#..', '.#...'],
  '?': ['.###.', '#...#', '....#', '...#.', '..#..', '.....', '..#..'],
  '!': ['..#..', '..#..', '..#..', '..#..', '..#..', '.....', '..#..'],
  "'": ['..#..', '..#..', '.#...', '.....', '.....', '.....', '.....'],
  '*': ['.....', '..#..', '#.#.#', '.###.', '#.#.#', '..#..', '.....'],
  '&': ['.##..', '#..#.', '#.#..', '.#...', '#.#.#', '#..#.', '.##.#'],
  '@': ['.###.', '#...#', '#.###', '#.#.#', '#.###', '#....', '.###.'],
  '|': ['..#..', '..#..', '..#..', '..#..', '..#..', '..#..', '..#..'],
};

/** Glyph width in font pixels (glyphs are drawn one pixel apart). */
export const GLYPH_WIDTH = 5;
/** Glyph height in font pixels. */
export const GLYPH_HEIGHT = 7;

/**
 * Width in pixels of `text` drawn at `scale`.
 *
 * @example
 * ```ts
 * textWidth('AP', 2); // 22
 * ```
 */
export function textWidth(text: string, scale = 1): number {
  return text.length === 0 ? 0 : (text.length * (GLYPH_WIDTH + 1) - 1) * scale;
}

/**
 * Height in pixels of one line of text at `scale`.
 *
 * @example
 * ```ts
 * textHeight(2); // 14
 * ```
 */
export function textHeight(scale = 1): number {
  return GLYPH_HEIGHT * scale;
}

/** A mutable RGB raster (the render functions' working type). */
export interface Raster extends RgbImage {
  readonly data: Uint8Array;
}

/**
 * A blank raster filled with `color`.
 *
 * @example
 * ```ts
 * const img = createRaster(64, 32, [255, 255, 255]);
 * ```
 */
export function createRaster(
  width: number,
  height: number,
  color: readonly [number, number, number] = [255, 255, 255],
): Raster {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    data[i * 3] = color[0];
    data[i * 3 + 1] = color[1];
    data[i * 3 + 2] = color[2];
  }
  return { data, width, height };
}

/**
 * Sets one pixel if it lies inside the raster.
 *
 * @example
 * ```ts
 * setPixel(img, 3, 4, [255, 0, 0]);
 * ```
 */
export function setPixel(
  img: Raster,
  x: number,
  y: number,
  color: readonly [number, number, number],
): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const o = (y * img.width + x) * 3;
  img.data[o] = color[0];
  img.data[o + 1] = color[1];
  img.data[o + 2] = color[2];
}

/**
 * Fills an axis-aligned rectangle (clipped to the raster).
 *
 * @example
 * ```ts
 * fillRect(img, 0, 0, 8, 8, [0, 0, 0]);
 * ```
 */
export function fillRect(
  img: Raster,
  x: number,
  y: number,
  w: number,
  h: number,
  color: readonly [number, number, number],
): void {
  for (let yy = Math.max(0, y); yy < Math.min(img.height, y + h); yy++)
    for (let xx = Math.max(0, x); xx < Math.min(img.width, x + w); xx++)
      setPixel(img, xx, yy, color);
}

/** Calls `dot(gx, gy, i)` for every set pixel of each glyph of `text` (i = character index). */
function forEachGlyphDot(text: string, dot: (gx: number, gy: number, i: number) => void): void {
  let i = 0;
  for (const ch of text) {
    const glyph = GLYPHS[ch.toUpperCase()] ?? GLYPHS['?'];
    if (glyph) {
      for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
        const row = glyph[gy] as string;
        for (let gx = 0; gx < GLYPH_WIDTH; gx++) if (row[gx] === '#') dot(gx, gy, i);
      }
    }
    i++;
  }
}

/**
 * Draws `text` with its top-left corner at (x, y) in the built-in 5×7 font.
 *
 * @example
 * ```ts
 * const img = createRaster(100, 20);
 * drawText(img, 'AP 0.42', 2, 2, [0, 0, 0], 2);
 * ```
 */
export function drawText(
  img: Raster,
  text: string,
  x: number,
  y: number,
  color: readonly [number, number, number] = [0, 0, 0],
  scale = 1,
): void {
  const advance = (GLYPH_WIDTH + 1) * scale;
  forEachGlyphDot(text, (gx, gy, i) =>
    fillRect(img, x + i * advance + gx * scale, y + gy * scale, scale, scale, color),
  );
}

/**
 * Draws `text` rotated 90° counter-clockwise (a vertical axis label, reading bottom to top);
 * (x, y) is the bottom-left corner of the rotated text box.
 *
 * @example
 * ```ts
 * drawTextVertical(img, 'TPR', 4, 200, [0, 0, 0], 2);
 * ```
 */
export function drawTextVertical(
  img: Raster,
  text: string,
  x: number,
  y: number,
  color: readonly [number, number, number] = [0, 0, 0],
  scale = 1,
): void {
  const advance = (GLYPH_WIDTH + 1) * scale;
  forEachGlyphDot(text, (gx, gy, i) =>
    fillRect(img, x + gy * scale, y - i * advance - (gx + 1) * scale, scale, scale, color),
  );
}
