import type { RgbImage } from '@densehybrid/data-mixing';
import { createRaster, drawSvg, svgText } from './svg.js';
import type { Raster, Rgb } from './svg.js';

/** Options of {@link sideBySide} and {@link stack}. */
interface PanelOptions {
  /** Pixels between panels. @default 8 */
  readonly gap?: number;
  /** @default [255, 255, 255] */
  readonly background?: Rgb;
  /** {@link sideBySide} only: a caption above each panel (same order as the images). @default none */
  readonly captions?: readonly string[];
  /** Caption font size in pixels. @default 14 */
  readonly fontSize?: number;
}

function place(
  images: readonly RgbImage[],
  across: boolean,
  offset: number,
  options: PanelOptions,
): { canvas: Raster; origins: number[] } {
  const gap = options.gap ?? 8;
  const length =
    images.reduce((s, im) => s + (across ? im.width : im.height), 0) +
    gap * Math.max(0, images.length - 1);
  const breadth = Math.max(0, ...images.map((im) => (across ? im.height : im.width)));
  const width = Math.max(1, across ? length : breadth);
  const height = Math.max(1, across ? breadth + offset : length);
  const canvas = createRaster(width, height, options.background ?? [255, 255, 255]);
  const origins: number[] = [];
  let at = 0;
  for (const im of images) {
    const [x0, y0] = across ? [at, offset] : [0, at];
    for (let y = 0; y < im.height; y++) {
      canvas.data.set(
        im.data.subarray(y * im.width * 3, (y + 1) * im.width * 3),
        ((y0 + y) * width + x0) * 3,
      );
    }
    origins.push(at);
    at += (across ? im.width : im.height) + gap;
  }
  return { canvas, origins };
}

/**
 * Places images left to right on one canvas (top-aligned), with an optional caption centred
 * above each.
 *
 * @example
 * ```ts
 * const sheet = await sideBySide([photo, heat.image, labels], { captions: ['input', 'score', 'open-set'] });
 * ```
 */
export async function sideBySide(
  images: readonly RgbImage[],
  options: PanelOptions = {},
): Promise<Raster> {
  const size = options.fontSize ?? 14;
  const captions = options.captions ?? [];
  const captionHeight = captions.length > 0 ? Math.ceil(size * 1.25) + 6 : 0;
  const { canvas, origins } = place(images, true, captionHeight, options);
  const text = images
    .map((im, i) =>
      captions[i]
        ? svgText(captions[i], (origins[i] as number) + im.width / 2, 3, { size, anchor: 'middle' })
        : '',
    )
    .join('');
  return text ? drawSvg(canvas, text) : canvas;
}

/**
 * Places images top to bottom (left-aligned), e.g. a heatmap above its {@link colorbar}.
 *
 * @example
 * ```ts
 * const panel = stack([heat.image, await colorbar('inferno', { min: heat.min, max: heat.max, width: heat.image.width })]);
 * ```
 */
export function stack(images: readonly RgbImage[], options: PanelOptions = {}): Raster {
  return place(images, false, 0, { gap: 0, ...options }).canvas;
}
