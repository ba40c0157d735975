import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { writeFileAtomic } from '@densehybrid/metrics-openiou/node';
import { decodeLabelPng } from './png.js';
import type { LabelMap, RgbImage } from './types.js';

/** A single-channel 8-bit image (a label map is one). */
export type GreyImage = LabelMap;

/**
 * Checks that `image` is a well-formed {@link RgbImage}.
 *
 * @throws DenseHybridError `INVALID_INPUT` naming `name` otherwise.
 * @example
 * ```ts
 * assertRgbImage('pasteNegatives', 'target.image', sample.image);
 * ```
 */
export function assertRgbImage(
  fn: string,
  name: string,
  image: unknown,
): asserts image is RgbImage {
  const im = image as Partial<RgbImage> | null;
  if (
    typeof im !== 'object' ||
    im === null ||
    !(im.data instanceof Uint8Array) ||
    !Number.isInteger(im.width) ||
    !Number.isInteger(im.height) ||
    im.width! < 1 ||
    im.height! < 1 ||
    im.data.length !== im.width! * im.height! * 3
  ) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected ${name} to be an RgbImage {data: Uint8Array(width*height*3), width, height}, got ${describeImage(im)}`,
    );
  }
}

/**
 * Checks that `label` is a well-formed {@link LabelMap}.
 *
 * @throws DenseHybridError `INVALID_INPUT` naming `name` otherwise.
 * @example
 * ```ts
 * assertLabelMap('pasteNegatives', 'target.label', sample.label);
 * ```
 */
export function assertLabelMap(
  fn: string,
  name: string,
  label: unknown,
): asserts label is LabelMap {
  const lb = label as Partial<LabelMap> | null;
  if (
    typeof lb !== 'object' ||
    lb === null ||
    !(lb.data instanceof Uint8Array) ||
    !Number.isInteger(lb.width) ||
    !Number.isInteger(lb.height) ||
    lb.width! < 1 ||
    lb.height! < 1 ||
    lb.data.length !== lb.width! * lb.height!
  ) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected ${name} to be a LabelMap {data: Uint8Array(width*height), width, height}, got ${describeImage(lb)}`,
    );
  }
}

function describeImage(x: unknown): string {
  if (typeof x !== 'object' || x === null) return describeValue(x);
  const o = x as { data?: unknown; width?: unknown; height?: unknown };
  return `{data: ${describeValue(o.data)}, width: ${describeValue(o.width)}, height: ${describeValue(o.height)}}`;
}

/**
 * Decodes an encoded image (JPEG, PNG, WebP, …) held in memory to 8-bit RGB. Alpha is dropped,
 * greyscale is expanded, 16-bit samples are reduced to 8 bits, EXIF orientation is **not**
 * applied (labels are stored unrotated).
 *
 * @param bytes - the encoded file.
 * @param name - the file name to put into error messages.
 * @returns the decoded image.
 * @throws DenseHybridError `INVALID_INPUT` for a corrupt or truncated file.
 * @example
 * ```ts
 * const img = await decodeImage(await readFile('a.jpg'), 'a.jpg');
 * ```
 */
export async function decodeImage(bytes: Uint8Array, name: string): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(bytes, { failOn: 'truncated' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw new Error(`decoded to ${info.channels} channels`);
    }
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
    };
  } catch (e) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `readImage: ${name}: expected a decodable image, got a corrupt or truncated file (${(e as Error).message})`,
      { cause: e },
    );
  }
}

async function readBytes(fn: string, path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new DenseHybridError('IO', `${fn}: cannot read ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/**
 * Reads an image file (any format sharp decodes) as 8-bit RGB.
 *
 * @param path - the file.
 * @returns the decoded image.
 * @throws DenseHybridError `IO` when the file cannot be read, `INVALID_INPUT` (naming the file)
 *   when it is corrupt or truncated.
 * @example
 * ```ts
 * const img = await readImage('leftImg8bit/val/lindau/lindau_000000_000019_leftImg8bit.png');
 * console.log(img.width, img.height); // 2048 1024
 * ```
 */
export async function readImage(path: string): Promise<RgbImage> {
  return decodeImage(await readBytes('readImage', path), path);
}

/**
 * Reads an 8-bit PNG label map: greyscale values, or palette **indices** for palette PNGs
 * (colours are ignored). Lower bit depths are unpacked; RGB, 16-bit and interlaced PNGs are refused.
 *
 * @param path - the PNG file.
 * @returns the raw label values.
 * @throws DenseHybridError `IO` when unreadable, `INVALID_INPUT` naming the file when corrupt,
 *   truncated or not a grey/palette PNG.
 * @example
 * ```ts
 * const lbl = await readLabel('gtFine/val/lindau/lindau_000000_000019_gtFine_labelIds.png');
 * ```
 */
export async function readLabel(path: string): Promise<LabelMap> {
  return decodeLabelPng(await readBytes('readLabel', path), path);
}

/**
 * Writes an RGB image, a label map or a grey image as PNG, atomically (a temporary file in the
 * same folder, fsynced, then renamed over), so readers never see a half-written file; missing
 * parent folders are created. One-channel data is written as an 8-bit greyscale PNG with the
 * exact values (a label written this way reads back identically with {@link readLabel}).
 *
 * @param path - destination file.
 * @param image - `RgbImage` (`data.length = w·h·3`) or `LabelMap`/grey (`data.length = w·h`).
 * @throws DenseHybridError `INVALID_INPUT` for malformed data, `IO` when writing fails.
 * @example
 * ```ts
 * await writePng('out/label.png', { data: new Uint8Array(4), width: 2, height: 2 });
 * ```
 */
export async function writePng(
  path: string,
  image: RgbImage | LabelMap | GreyImage,
): Promise<void> {
  const { data, width, height } = image as RgbImage;
  const okSize = Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0;
  const channels = okSize && data instanceof Uint8Array ? data.length / (width * height) : 0;
  if (channels !== 1 && channels !== 3) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `writePng: expected image to be {data: Uint8Array(width*height*(1|3)), width, height}, got ${describeImage(image)}`,
    );
  }
  let png: Uint8Array;
  try {
    const raw = sharp(data, { raw: { width, height, channels } });
    // without 'b-w' libvips would widen one channel to RGB
    png = await (channels === 1 ? raw.toColourspace('b-w') : raw)
      .png({ compressionLevel: 6, palette: false })
      .toBuffer();
  } catch (e) {
    throw new DenseHybridError(
      'IO',
      `writePng: expected to encode ${width}×${height}×${channels} as PNG, got ${(e as Error).message}`,
      { cause: e },
    );
  }
  await writeFileAtomic('writePng', path, png);
}
