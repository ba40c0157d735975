import type { RgbImage } from '@densehybrid/data-mixing';
import { createRaster, drawText, textHeight, textWidth } from './font.js';
import type { Raster } from './font.js';

/** Options of {@link sideBySide}. */
export interface SideBySideOptions {
  /** Pixels between panels. @default 8 */
  readonly gap?: number;
  /** @default [255, 255, 255] */
  readonly background?: readonly [number, number, number];
  /** A caption above each panel (same order as the images). @default none */
  readonly captions?: readonly string[];
  /** Caption font scale. @default 2 */
  readonly fontScale?: number;
}

/**
 * Places images left to right on one canvas (top-aligned), with optional captions.
 *
 * @example
 * ```ts
 * const sheet = sideBySide([photo, heat.image, labels], { captions: ['input', 'score', 'open-set'] });
 * ```
 */
export function sideBySide(images: readonly RgbImage[], options: SideBySideOptions = {}): Raster {
  const gap = options.gap ?? 8;
  const bg = options.background ?? [255, 255, 255];
  const s = options.fontScale ?? 2;
  const captionH = options.captions ? textHeight(s) + 8 : 0;
  const width = images.reduce((w, im) => w + im.width, 0) + gap * Math.max(0, images.length - 1);
  const height = captionH + Math.max(0, ...images.map((im) => im.height));
  const out = createRaster(Math.max(1, width), Math.max(1, height), bg);
  let x0 = 0;
  images.forEach((im, i) => {
    const caption = options.captions?.[i];
    if (caption)
      drawText(
        out,
        caption,
        x0 + Math.max(0, Math.round((im.width - textWidth(caption, s)) / 2)),
        2,
        [0, 0, 0],
        s,
      );
    for (let y = 0; y < im.height; y++) {
      out.data.set(
        im.data.subarray(y * im.width * 3, (y + 1) * im.width * 3),
        ((captionH + y) * out.width + x0) * 3,
      );
    }
    x0 += im.width + gap;
  });
  return out;
}
