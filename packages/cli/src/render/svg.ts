import type { RgbImage } from '@densehybrid/data-mixing';

// Text in charts, legends and captions is SVG rendered by sharp (librsvg + Pango, fonts through
// fontconfig), so it is real anti-aliased type in any script the installed fonts cover.

/** An RGB colour. */
export type Rgb = readonly [number, number, number];

/** A mutable RGB raster (the render functions' working type). */
export interface Raster extends RgbImage {
  readonly data: Uint8Array;
}

/** Font stack of every text: DejaVu Sans where installed (most Linux systems), else the system's sans-serif. */
const FONT_FAMILY = "'DejaVu Sans', Arial, Helvetica, sans-serif";

/**
 * A blank raster filled with `color`.
 *
 * @example
 * ```ts
 * const img = createRaster(64, 32, [255, 255, 255]);
 * ```
 */
export function createRaster(width: number, height: number, color: Rgb = [255, 255, 255]): Raster {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) data.set(color, i);
  return { data, width, height };
}

/** `rgb(r,g,b)` for SVG attributes. */
export const rgb = (c: Rgb): string => `rgb(${c[0]},${c[1]},${c[2]})`;

function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c,
  );
}

/** Options of {@link svgText}. */
interface TextOptions {
  /** Font size in pixels. */
  readonly size: number;
  /** @default 'start' */
  readonly anchor?: 'start' | 'middle' | 'end';
  /** @default [0, 0, 0] */
  readonly color?: Rgb;
  /** Degrees clockwise around (x, y), e.g. -90 for a y-axis title. @default 0 */
  readonly rotate?: number;
}

/**
 * An SVG `<text>` whose top edge (not baseline) is at `y`: the baseline sits 0.8 em lower.
 *
 * @example
 * ```ts
 * svgText('recall', 240, 460, { size: 13, anchor: 'middle' });
 * ```
 */
export function svgText(text: string, x: number, y: number, o: TextOptions): string {
  const base = y + o.size * 0.8;
  const rotate = o.rotate ? ` transform="rotate(${o.rotate} ${x} ${y})"` : '';
  return `<text x="${x}" y="${base.toFixed(1)}" font-size="${o.size}" text-anchor="${o.anchor ?? 'start'}" fill="${rgb(o.color ?? [0, 0, 0])}"${rotate}>${escapeXml(text)}</text>`;
}

/**
 * Approximate advance width of `text` in pixels at `size` (DejaVu Sans' widths, a little wide for
 * narrower fonts), for laying out legends and margins before rendering.
 *
 * @example
 * ```ts
 * textWidth('0.0', 13); // ≈ 21
 * ```
 */
export function textWidth(text: string, size: number): number {
  let em = 0;
  for (const c of text) {
    if (/[iljI.,:;'|!()[\] ]/.test(c)) em += 0.32;
    else if (/[ftr]/.test(c)) em += 0.42;
    else if (/[mwMW]/.test(c)) em += 0.92;
    else if (/[0-9]/.test(c)) em += 0.64;
    else if (/[A-Z]/.test(c)) em += 0.74;
    else em += 0.62;
  }
  return Math.ceil(em * size);
}

/**
 * Draws SVG markup (shapes, text) over an RGB raster with sharp and returns the new raster.
 * Coordinates are the raster's pixels; pixels the markup leaves transparent keep their values.
 *
 * @param body the SVG elements, without the `<svg>` element around them
 * @example
 * ```ts
 * const labelled = await drawSvg(createRaster(120, 24), svgText('road', 4, 4, { size: 14 }));
 * ```
 */
export async function drawSvg(image: RgbImage, body: string): Promise<Raster> {
  const { width, height } = image;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${FONT_FAMILY}">${body}</svg>`;
  const { default: sharp } = await import('sharp');
  const out = await sharp(image.data, { raw: { width, height, channels: 3 } })
    .composite([{ input: Buffer.from(svg), left: 0, top: 0 }])
    .removeAlpha()
    .raw()
    .toBuffer();
  return { data: new Uint8Array(out.buffer, out.byteOffset, out.length), width, height };
}
