// Writes tiny benchmark fixtures in each dataset's exact folder layout.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import sharp from 'sharp';

/** Deterministic pseudo-random RGB bytes. */
function rgb(width: number, height: number, seed: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  let s = seed * 2654435761 + 1;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

export async function writeImage(
  path: string,
  width: number,
  height: number,
  seed: number,
  format: 'png' | 'jpeg' | 'webp' = 'png',
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const s = sharp(rgb(width, height, seed), { raw: { width, height, channels: 3 } });
  await (
    format === 'png' ? s.png() : format === 'jpeg' ? s.jpeg({ quality: 95 }) : s.webp()
  ).toFile(path);
}

/** Writes an 8-bit greyscale PNG with exactly these values. */
export async function writeGrey(
  path: string,
  width: number,
  height: number,
  values: Uint8Array,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await sharp(values, { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(path);
}

/** A label cycling through `values`. */
export function cycle(width: number, height: number, values: readonly number[]): Uint8Array {
  return Uint8Array.from({ length: width * height }, (_, i) => values[i % values.length]!);
}
