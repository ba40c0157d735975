// The benchmarks as their official downloads lay them out (issue 18): Fishyscapes' archives as
// bdlb fetches them (flat `<id>_<baseid>_labels.png`, Static's `*_rgb.npz` overlays written by
// NumPy) over the base datasets' `leftImg8bit/`, and SMIYC opened at either folder level.
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DenseHybridError,
  fishyscapes,
  openDataset,
  openFromSpec,
  smiyc,
  type SegmentationDataset,
} from '@densehybrid/data-mixing';
import { cycle, writeGrey, writeImage } from './fixtures.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dh-layouts-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function expectError(p: Promise<unknown>, code: string, ...parts: string[]): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(DenseHybridError.is(e), `expected a DenseHybridError, got ${String(e)}`).toBe(true);
  expect((e as DenseHybridError).code).toBe(code);
  for (const part of parts) expect((e as Error).message).toContain(part);
}

/** A 4×2 RGB PNG of one colour. */
async function writeFlat(path: string, colour: readonly [number, number, number]): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  const data = Uint8Array.from({ length: 4 * 2 * 3 }, (_, i) => colour[i % 3]!);
  await sharp(data, { raw: { width: 4, height: 2, channels: 3 } })
    .png()
    .toFile(path);
}

// The overlay of the Static fixtures: int16, shape (2, 4, 3), these values in C order, written by
// NumPy 2.4 as `np.savez(f, rgb=OVERLAY)` (stored) and `np.savez_compressed(f, rgb=OVERLAY)`
// (deflated); both carry the ZIP64 extra field NumPy always writes.
const OVERLAY = [
  -120, 0, 55, 200, -1, 3, 90, -200, 17, 0, 0, 0, 255, -255, 1, 2, -3, 4, 60, -60, 100, 0, 5, -5,
];
const NPZ_STORED =
  'UEsDBC0AAAAAAAAAIQCuJFJA//////////8HABQAcmdiLm5weQEAEACwAAAAAAAAALAAAAAAAAAAk05VTVBZAQB2AHsnZGVzY3InOiAnPGkyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDQsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAqI/wAANwDIAP//AwBaADj/EQAAAAAAAAD/AAH/AQACAP3/BAA8AMT/ZAAAAAUA+/9QSwECLQMtAAAAAAAAACEAriRSQLAAAACwAAAABwAAAAAAAAAAAAAAgAEAAAAAcmdiLm5weVBLBQYAAAAAAQABADUAAADpAAAAAAA=';
const NPZ_COMPRESSED =
  'UEsDBC0AAAAIAAAAIQCuJFJA//////////8HABQAcmdiLm5weQEAEACwAAAAAAAAAHUAAAAAAAAAm+wX6hsQychQxlCtnpJanFykbqWgbpNppK6joJ6WX1RSlJgXn1+UkgoSd0vMKU4FihdnJBakAvkaRjoKJjoKxpo6CrUK5AGujv8MDOYMJxj+/2dmiGKw+C/IAAH/GRj/MzIwMfz9z8Jgw3DkfwpQjJXh938AUEsBAi0DLQAAAAgAAAAhAK4kUkB1AAAAsAAAAAcAAAAAAAAAAAAAAIABAAAAAHJnYi5ucHlQSwUGAAAAAAEAAQA1AAAArgAAAAAA';
// np.savez_compressed(f, rgb=np.zeros((3, 4, 3), np.int16)): one row too many for a 4×2 frame
const NPZ_WRONG_SHAPE =
  'UEsDBC0AAAAIAAAAIQBg8sel//////////8HABQAcmdiLm5weQEAEADIAAAAAAAAAEwAAAAAAAAAm+wX6hsQychQxlCtnpJanFykbqWgbpNppK6joJ6WX1RSlJgXn1+UkgoSd0vMKU4FihdnJBakAvkaxjoKJjoKxpo6CrUK5AEuBioBAFBLAQItAy0AAAAIAAAAIQBg8selTAAAAMgAAAAHAAAAAAAAAAAAAACAAQAAAAByZ2IubnB5UEsFBgAAAAABAAEANQAAAIUAAAAAAA==';

describe('Fishyscapes as bdlb downloads it', () => {
  it('Lost & Found: the flat <id>_<baseid>_labels.png of fishyscapes_lostandfound.zip over Lost & Found leftImg8bit/', async () => {
    const r = join(root, 'fs-laf-archive');
    const frames = [
      ['0000', 'test', '04_Maurener_Weg_8', '04_Maurener_Weg_8_000000_000030'],
      ['0001', 'train', '01_Hanns_Klemm_Str_45', '01_Hanns_Klemm_Str_45_000002_000110'],
    ] as const;
    for (const [i, [id, split, city, base]] of frames.entries()) {
      await writeImage(join(r, 'leftImg8bit', split, city, `${base}_leftImg8bit.png`), 4, 2, i);
      await writeGrey(join(r, `${id}_${base}_labels.png`), 4, 2, cycle(4, 2, [0, 1, 255, i]));
    }
    // a Lost & Found frame without a Fishyscapes label is not a sample
    await writeImage(join(r, 'leftImg8bit/test/x/x_000000_000001_leftImg8bit.png'), 4, 2, 9);
    const ds = await fishyscapes({ root: r, variant: 'lostandfound' });
    expect(ds.size).toBe(2);
    expect([ds.sampleId(0), ds.sampleId(1)]).toEqual([
      '0000_04_Maurener_Weg_8_000000_000030',
      '0001_01_Hanns_Klemm_Str_45_000002_000110',
    ]);
    expect(ds.labelKind).toBe('anomaly');
    const s = await ds.load(0);
    expect(Array.from(s.label!.data)).toEqual(Array.from(cycle(4, 2, [0, 1, 255, 0])));
    const png = await sharp(
      join(r, 'leftImg8bit/test/04_Maurener_Weg_8/04_Maurener_Weg_8_000000_000030_leftImg8bit.png'),
    )
      .raw()
      .toBuffer();
    expect(Array.from(s.image.data)).toEqual(Array.from(png));
    expect(Array.from((await ds.load(1)).label!.data)).toEqual(
      Array.from(cycle(4, 2, [0, 1, 255, 1])),
    );
    // by name, as the CLI opens it, and reopened from its spec (as loader workers do)
    expect((await openDataset('fishyscapes-lostandfound', r, 'test')).size).toBe(2);
    expect((await openFromSpec<SegmentationDataset>(ds.spec!)).sampleId(1)).toBe(ds.sampleId(1));
  });

  it('Lost & Found: names the frame a label has no image for, and the folder when leftImg8bit/ is absent', async () => {
    const r = join(root, 'fs-laf-missing');
    await writeGrey(join(r, '0007_02_Hanns_000001_000070_labels.png'), 4, 2, cycle(4, 2, [0]));
    await expectError(
      fishyscapes({ root: r, variant: 'lostandfound' }),
      'DATASET_LAYOUT',
      join(r, 'leftImg8bit'),
      'fishyscapes_lostandfound.zip',
    );
    await writeImage(
      join(r, 'leftImg8bit/test/02_Other/02_Other_000001_000070_leftImg8bit.png'),
      4,
      2,
      1,
    );
    await expectError(
      fishyscapes({ root: r, variant: 'lostandfound' }),
      'DATASET_LAYOUT',
      '1 of 1 missing',
      '02_Hanns_000001_000070_leftImg8bit.png',
    );
  });

  it('Static: fs_val_v3.zip (labels + NumPy *_rgb.npz, stored or deflated) over Cityscapes leftImg8bit/val: the frame plus the overlay, clipped', async () => {
    const r = join(root, 'fs-static-archive');
    const frames = [
      ['0000', 'frankfurt', 'frankfurt_000000_000294', NPZ_STORED],
      ['0001', 'lindau', 'lindau_000000_000019', NPZ_COMPRESSED],
    ] as const;
    for (const [i, [id, city, base, npz]] of frames.entries()) {
      await writeFlat(join(r, 'leftImg8bit/val', city, `${base}_leftImg8bit.png`), [100, 150, 200]);
      await writeGrey(join(r, `${id}_${base}_labels.png`), 4, 2, cycle(4, 2, [0, 1, 255, i]));
      await writeFile(join(r, `${id}_${base}_rgb.npz`), Buffer.from(npz, 'base64'));
    }
    const ds = await fishyscapes({ root: r, variant: 'static' });
    expect(ds.size).toBe(2);
    expect(ds.sampleId(0)).toBe('0000_frankfurt_000000_000294');
    const expected = OVERLAY.map((v, i) => Math.min(255, Math.max(0, [100, 150, 200][i % 3]! + v)));
    for (let i = 0; i < 2; i++) {
      const s = await ds.load(i);
      expect([s.image.width, s.image.height]).toEqual([4, 2]);
      expect(Array.from(s.image.data)).toEqual(expected);
      expect(Array.from(s.label!.data)).toEqual(Array.from(cycle(4, 2, [0, 1, 255, i])));
    }
    expect((await openDataset('fishyscapes-static', r, 'test')).size).toBe(2);
  });

  it('Static: names a missing .npz, an overlay of the wrong shape and a file that is no .npz', async () => {
    const r = join(root, 'fs-static-bad');
    await writeFlat(join(r, 'leftImg8bit/val/ulm/ulm_000000_000019_leftImg8bit.png'), [0, 0, 0]);
    await writeGrey(join(r, '0003_ulm_000000_000019_labels.png'), 4, 2, cycle(4, 2, [0]));
    await expectError(
      fishyscapes({ root: r, variant: 'static' }),
      'DATASET_LAYOUT',
      '0003_ulm_000000_000019_rgb.npz',
    );
    const npz = join(r, '0003_ulm_000000_000019_rgb.npz');
    await writeFile(npz, Buffer.from(NPZ_WRONG_SHAPE, 'base64'));
    const ds = await fishyscapes({ root: r, variant: 'static' });
    await expectError(ds.load(0), 'SHAPE_MISMATCH', npz, '(2, 4, 3)', 'got (3, 4, 3)');
    await writeFile(npz, 'not a zip');
    await expectError(ds.load(0), 'INVALID_INPUT', npz, '.npz');
  });
});

describe('SMIYC at either folder level', () => {
  it('root may be the folder holding dataset_AnomalyTrack or dataset_AnomalyTrack itself, with the same sample ids', async () => {
    const r = join(root, 'smiyc');
    const track = join(r, 'dataset_AnomalyTrack');
    await writeImage(join(track, 'images/validation0000.jpg'), 4, 2, 1, 'jpeg');
    await writeGrey(
      join(track, 'labels_masks/validation0000_labels_semantic.png'),
      4,
      2,
      cycle(4, 2, [0, 1, 255]),
    );
    await writeImage(join(r, 'dataset_ObstacleTrack/images/validation_1.webp'), 4, 2, 2, 'webp');
    await writeGrey(
      join(r, 'dataset_ObstacleTrack/labels_masks/validation_1_labels_semantic.png'),
      4,
      2,
      cycle(4, 2, [1, 0]),
    );
    for (const at of [r, track]) {
      const ds = await smiyc({ root: at, track: 'anomaly' });
      expect(ds.size).toBe(1);
      expect(ds.sampleId(0)).toBe('dataset_AnomalyTrack/images/validation0000.jpg');
      expect(Array.from((await ds.load(0)).label!.data)).toEqual(
        Array.from(cycle(4, 2, [0, 1, 255])),
      );
      expect((await openDataset('smiyc-anomaly', at, 'test')).size).toBe(1);
    }
    const obstacle = await smiyc({ root: join(r, 'dataset_ObstacleTrack'), track: 'obstacle' });
    expect(obstacle.sampleId(0)).toBe('dataset_ObstacleTrack/images/validation_1.webp');
    // the other track's folder is not taken for this one
    await expectError(
      smiyc({ root: join(r, 'dataset_ObstacleTrack'), track: 'anomaly' }),
      'DATASET_LAYOUT',
      'dataset_AnomalyTrack',
    );
  });
});
