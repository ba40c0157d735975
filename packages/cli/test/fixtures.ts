import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import sharp from 'sharp';

/** Writes an RGB PNG (or JPEG by extension). */
async function writeRgb(
  path: string,
  w: number,
  h: number,
  pixel: (x: number, y: number) => [number, number, number],
): Promise<void> {
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(pixel(x, y), (y * w + x) * 3);
  await mkdir(dirname(path), { recursive: true });
  const img = sharp(data, { raw: { width: w, height: h, channels: 3 } });
  await (path.endsWith('.jpg') ? img.jpeg({ quality: 95 }) : img.png()).toFile(path);
}

/** Writes an 8-bit greyscale label PNG. */
async function writeGrey(
  path: string,
  w: number,
  h: number,
  value: (x: number, y: number) => number,
): Promise<void> {
  const data = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = value(x, y);
  await mkdir(dirname(path), { recursive: true });
  await sharp(data, { raw: { width: w, height: h, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(path);
}

export const W = 32;
export const H = 24;

/** Scene i: road (raw 8) below a sky/building split, an anomaly square (raw 14) in test images. */
function scene(i: number, anomaly: boolean) {
  const ax = 4 + ((i * 7) % 16);
  const ay = 10 + ((i * 3) % 6);
  const isAnomaly = (x: number, y: number): boolean =>
    anomaly && x >= ax && x < ax + 8 && y >= ay && y < ay + 6;
  const raw = (x: number, y: number): number =>
    isAnomaly(x, y) ? 14 : y >= 12 ? 8 : x < 16 ? 2 : 10;
  const rgb = (x: number, y: number): [number, number, number] => {
    if (isAnomaly(x, y)) return [250, 30 + 10 * i, 200];
    const r = raw(x, y);
    return r === 8 ? [90, 90, 100] : r === 2 ? [140, 120, 110] : [40, 150, 50];
  };
  return { raw, rgb };
}

/** A tiny StreetHazards tree: 3 training images, 2 images in each of t5 and t6. */
export async function makeStreetHazards(root: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const s = scene(i, false);
    await writeRgb(join(root, 'train/images/training/town', `${i}.png`), W, H, s.rgb);
    await writeGrey(join(root, 'train/annotations/training/town', `${i}.png`), W, H, s.raw);
  }
  for (const fold of ['t5', 't6']) {
    for (let i = 0; i < 2; i++) {
      const s = scene(i + (fold === 't6' ? 2 : 0), true);
      await writeRgb(join(root, 'test/images/test', fold, `${i}.png`), W, H, s.rgb);
      await writeGrey(join(root, 'test/annotations/test', fold, `${i}.png`), W, H, s.raw);
    }
  }
}

/** A tiny ADE20k tree: 2 images with two classes each. */
export async function makeAde(root: string): Promise<void> {
  for (let i = 0; i < 2; i++) {
    await writeRgb(
      join(root, 'ADEChallengeData2016/images/training', `ADE_train_${i}.jpg`),
      20,
      20,
      (x, y) => [x * 12, y * 12, 128 + i * 60],
    );
    await writeGrey(
      join(root, 'ADEChallengeData2016/annotations/training', `ADE_train_${i}.png`),
      20,
      20,
      (x) => (x < 10 ? 5 : 17),
    );
  }
}

/** A tiny Fishyscapes Lost & Found tree (binary labels). */
export async function makeFishyscapes(root: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const s = scene(i, true);
    await writeRgb(join(root, 'leftImg8bit/test/city', `f${i}_leftImg8bit.png`), W, H, s.rgb);
    await writeGrey(join(root, 'ood/test/city', `f${i}_ood_segmentation.png`), W, H, (x, y) =>
      s.raw(x, y) === 14 ? 1 : y < 3 ? 255 : 0,
    );
  }
}

/** A tiny Cityscapes tree (K = 19). */
export async function makeCityscapes(root: string): Promise<void> {
  await writeRgb(join(root, 'leftImg8bit/val/lindau', 'a_leftImg8bit.png'), W, H, () => [
    90, 90, 100,
  ]);
  await writeGrey(join(root, 'gtFine/val/lindau', 'a_gtFine_labelIds.png'), W, H, () => 7);
}

/** A tiny SMIYC AnomalyTrack tree (binary labels, 255 outside the region of interest). */
export async function makeSmiyc(root: string): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const s = scene(i, true);
    await writeRgb(join(root, 'dataset_AnomalyTrack/images', `validation_${i}.jpg`), W, H, s.rgb);
    await writeGrey(
      join(root, 'dataset_AnomalyTrack/labels_masks', `validation_${i}_labels_semantic.png`),
      W,
      H,
      (x, y) => (s.raw(x, y) === 14 ? 1 : y < 2 ? 255 : 0),
    );
  }
}

/** A folder dataset: images/*.png and labels/*.png with 0 inlier, 1 anomaly, 255 ignore. */
export async function makeFolder(root: string): Promise<number[]> {
  const positives: number[] = [];
  for (let i = 0; i < 3; i++) {
    const s = scene(i, true);
    await writeRgb(join(root, 'images', `img${i}.png`), W, H, s.rgb);
    let pos = 0;
    await writeGrey(join(root, 'labels', `img${i}.png`), W, H, (x, y) => {
      const v = s.raw(x, y) === 14 ? 1 : x === 0 ? 255 : 0;
      if (v === 1) pos++;
      return v;
    });
    positives.push(pos);
  }
  return positives;
}
