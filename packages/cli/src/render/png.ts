import type { RgbImage } from '@densehybrid/data-mixing';
import { DenseHybridError } from '@densehybrid/metrics-openiou';

/**
 * Encodes an 8-bit RGB raster as PNG with sharp.
 *
 * @throws DenseHybridError `SHAPE_MISMATCH` when `data.length !== width*height*3`
 * @example
 * ```ts
 * const png = await encodePng({ data: new Uint8Array(12), width: 2, height: 2 });
 * ```
 */
export async function encodePng(image: RgbImage): Promise<Buffer> {
  if (image.data.length !== image.width * image.height * 3) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `encodePng: expected width*height*3 = ${image.width * image.height * 3} bytes, got ${image.data.length}`,
    );
  }
  const { default: sharp } = await import('sharp');
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
}

/**
 * Writes an RGB raster (or a one-channel label map) as a PNG file atomically (temporary file,
 * then rename): `@densehybrid/data-mixing`'s `writePng`.
 *
 * @throws DenseHybridError `IO` when the file cannot be written
 * @example
 * ```ts
 * await writePng('out/heat.png', anomalyHeatmap(scores, w, h).image);
 * ```
 */
export { writePng } from '@densehybrid/data-mixing';
