import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CITYSCAPES_LABEL_TABLE,
  DenseHybridError,
  STREET_HAZARDS_LABEL_TABLE,
  ade20kNegatives,
  cityscapes,
  fishyscapes,
  folderDataset,
  openFromSpec,
  smiyc,
  streetHazards,
  type SegmentationDataset,
} from '@densehybrid/data-mixing';
import { cycle, writeGrey, writeImage } from './fixtures.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dh-ds-'));
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

describe('label tables', () => {
  it('StreetHazards: 1→0 … 3→2, 4 other→ignore, 5..13→3..11, 14 anomaly→12', () => {
    const expected = [0, 1, 2, 255, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    for (let raw = 1; raw <= 14; raw++)
      expect(STREET_HAZARDS_LABEL_TABLE[raw]).toBe(expected[raw - 1]);
    expect(STREET_HAZARDS_LABEL_TABLE[0]).toBeUndefined();
  });

  it('Cityscapes: the 19 train ids and void → 255', () => {
    const trainIds = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33];
    trainIds.forEach((id, t) => expect(CITYSCAPES_LABEL_TABLE[id]).toBe(t));
    for (const v of [0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18, 29, 30])
      expect(CITYSCAPES_LABEL_TABLE[v]).toBe(255);
    expect(CITYSCAPES_LABEL_TABLE[34]).toBeUndefined();
  });
});

describe('StreetHazards', () => {
  it('reads train (nested) and test folds with the remapping, and names missing pieces', async () => {
    const r = join(root, 'sh');
    const rawValues = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
    await writeImage(join(r, 'train/images/training/t1-3/a/0001.png'), 7, 4, 1);
    await writeGrey(
      join(r, 'train/annotations/training/t1-3/a/0001.png'),
      7,
      4,
      cycle(7, 4, rawValues),
    );
    await writeImage(join(r, 'test/images/test/t5/300.png'), 5, 3, 2);
    await writeGrey(join(r, 'test/annotations/test/t5/300.png'), 5, 3, cycle(5, 3, [8, 14]));
    const train = await streetHazards({ root: r, split: 'train' });
    expect(train.size).toBe(1);
    expect(train.sampleId(0)).toBe('train/images/training/t1-3/a/0001.png');
    expect([train.numClasses, train.labelKind]).toEqual([12, 'semantic']);
    const s = await train.load(0);
    expect(Array.from(s.label!.data)).toEqual(
      Array.from(cycle(7, 4, [0, 1, 2, 255, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])),
    );
    const t5 = await streetHazards({ root: r, split: 't5' });
    expect(t5.labelKind).toBe('open-set');
    expect(Array.from((await t5.load(0)).label!.data)).toEqual(Array.from(cycle(5, 3, [6, 12])));
    await expectError(
      streetHazards({ root: r, split: 't6' }),
      'DATASET_LAYOUT',
      join(r, 'test/images/test/t6'),
    );
    await expectError(streetHazards({ root: r, split: 'x' as 't5' }), 'INVALID_OPTION', "'t5'");
    // an image without its annotation
    await writeImage(join(r, 'train/images/validation/0002.png'), 5, 3, 3);
    await mkdir(join(r, 'train/annotations/validation'), { recursive: true });
    await expectError(
      streetHazards({ root: r, split: 'validation' }),
      'DATASET_LAYOUT',
      'annotations/validation/0002.png',
    );
  });

  it('refuses raw values outside the table, naming the file', async () => {
    const r = join(root, 'sh-bad');
    await writeImage(join(r, 'test/images/test/t6/1.png'), 4, 2, 1);
    await writeGrey(join(r, 'test/annotations/test/t6/1.png'), 4, 2, cycle(4, 2, [1, 0, 15]));
    const ds = await streetHazards({ root: r, split: 't6' });
    await expectError(ds.load(0), 'INVALID_INPUT', 'annotations/test/t6/1.png', '0, 15');
  });
});

describe('Cityscapes and ADE20k', () => {
  it('maps labelIds to trainIds and checks image/label sizes', async () => {
    const r = join(root, 'cs');
    await writeImage(
      join(r, 'leftImg8bit/val/lindau/lindau_000000_000019_leftImg8bit.png'),
      6,
      3,
      4,
    );
    await writeGrey(
      join(r, 'gtFine/val/lindau/lindau_000000_000019_gtFine_labelIds.png'),
      6,
      3,
      cycle(6, 3, [0, 7, 26, 33, 9, 255]),
    );
    await writeImage(
      join(r, 'leftImg8bit/val/munster/munster_000001_000019_leftImg8bit.png'),
      6,
      3,
      5,
    );
    await writeGrey(
      join(r, 'gtFine/val/munster/munster_000001_000019_gtFine_labelIds.png'),
      5,
      3,
      cycle(5, 3, [7]),
    );
    const ds = await cityscapes({ root: r, split: 'val' });
    expect(ds.size).toBe(2);
    expect(ds.numClasses).toBe(19);
    expect(Array.from((await ds.load(0)).label!.data)).toEqual(
      Array.from(cycle(6, 3, [255, 0, 13, 18, 255, 255])),
    );
    await expectError(
      ds.load(1),
      'SHAPE_MISMATCH',
      'munster_000001_000019_gtFine_labelIds.png',
      '6×3',
      '5×3',
    );
    await expectError(
      cityscapes({ root: r, split: 'train' }),
      'DATASET_LAYOUT',
      'leftImg8bit/train',
    );
  });

  it('reads ADEChallengeData2016 from the folder or its parent; 151+ is refused', async () => {
    const r = join(root, 'ade');
    const base = join(r, 'ADEChallengeData2016');
    await writeImage(join(base, 'images/training/ADE_train_00000001.jpg'), 8, 6, 6, 'jpeg');
    await writeGrey(
      join(base, 'annotations/training/ADE_train_00000001.png'),
      8,
      6,
      cycle(8, 6, [0, 3, 150]),
    );
    await writeImage(join(base, 'images/training/ADE_train_00000002.jpg'), 8, 6, 7, 'jpeg');
    await writeGrey(
      join(base, 'annotations/training/ADE_train_00000002.png'),
      8,
      6,
      cycle(8, 6, [151]),
    );
    for (const rr of [r, base]) {
      const ds = await ade20kNegatives({ root: rr });
      expect(ds.size).toBe(2);
      expect(ds.ignoreLabel).toBe(0);
      const s = await ds.load(0);
      expect([s.image.width, s.image.height]).toEqual([8, 6]);
      expect(Array.from(s.label!.data)).toEqual(Array.from(cycle(8, 6, [0, 3, 150])));
    }
    const ds = await ade20kNegatives({ root: r });
    await expectError(ds.load(1), 'INVALID_INPUT', 'ADE_train_00000002.png', '151');
  });
});

describe('binary anomaly benchmarks', () => {
  it('Fishyscapes L&F and Static: {0,1} kept, 2 and 255 → ignore', async () => {
    const r = join(root, 'fs-laf');
    await writeImage(
      join(r, 'leftImg8bit/test/04_Maurener/04_Maurener_000000_000100_leftImg8bit.png'),
      4,
      2,
      8,
    );
    await writeGrey(
      join(r, 'ood/test/04_Maurener/04_Maurener_000000_000100_ood_segmentation.png'),
      4,
      2,
      cycle(4, 2, [0, 1, 2, 255]),
    );
    const laf = await fishyscapes({ root: r, variant: 'lostandfound' });
    expect(laf.labelKind).toBe('anomaly');
    expect(Array.from((await laf.load(0)).label!.data)).toEqual(
      Array.from(cycle(4, 2, [0, 1, 255, 255])),
    );
    const s = join(root, 'fs-static');
    await writeImage(join(s, '0_rgb.jpg'), 4, 2, 9, 'jpeg');
    await writeGrey(join(s, '0_labels.png'), 4, 2, cycle(4, 2, [1, 0]));
    await writeImage(join(s, '1_rgb.jpg'), 4, 2, 10, 'jpeg');
    await writeGrey(join(s, '1_labels.png'), 4, 2, cycle(4, 2, [3]));
    const st = await fishyscapes({ root: s, variant: 'static' });
    expect(st.size).toBe(2);
    expect(Array.from((await st.load(0)).label!.data)).toEqual(Array.from(cycle(4, 2, [1, 0])));
    await expectError(st.load(1), 'INVALID_INPUT', '1_labels.png', 'got 3');
    await expectError(
      fishyscapes({ root: s, variant: 'lostandfound' }),
      'DATASET_LAYOUT',
      'leftImg8bit',
    );
  });

  it('SMIYC tracks: labelled frames only by default, unlabelled ones on request', async () => {
    const r = join(root, 'smiyc');
    await writeImage(join(r, 'dataset_AnomalyTrack/images/validation0000.jpg'), 4, 2, 11, 'jpeg');
    await writeGrey(
      join(r, 'dataset_AnomalyTrack/labels_masks/validation0000_labels_semantic.png'),
      4,
      2,
      cycle(4, 2, [0, 1, 255]),
    );
    await writeImage(join(r, 'dataset_AnomalyTrack/images/test0001.jpg'), 4, 2, 12, 'jpeg');
    await writeImage(join(r, 'dataset_ObstacleTrack/images/validation_1.webp'), 4, 2, 13, 'webp');
    await writeGrey(
      join(r, 'dataset_ObstacleTrack/labels_masks/validation_1_labels_semantic.png'),
      4,
      2,
      cycle(4, 2, [1, 0]),
    );
    const at = await smiyc({ root: r, track: 'anomaly' });
    expect(at.size).toBe(1);
    expect(Array.from((await at.load(0)).label!.data)).toEqual(
      Array.from(cycle(4, 2, [0, 1, 255])),
    );
    const all = await smiyc({ root: r, track: 'anomaly', includeUnlabeled: true });
    expect(all.size).toBe(2);
    expect((await all.load(0)).label).toBeUndefined();
    const ot = await smiyc({ root: r, track: 'obstacle' });
    expect((await ot.load(0)).image.width).toBe(4);
    await expectError(
      smiyc({ root: join(root, 'nothing'), track: 'obstacle' }),
      'DATASET_LAYOUT',
      'dataset_ObstacleTrack/images',
    );
  });
});

describe('folderDataset and specs', () => {
  it('pairs by relative path with a user label map, reopens from its spec, and names corrupt files', async () => {
    const r = join(root, 'folder');
    await writeImage(join(r, 'img/a/x.jpg'), 3, 2, 14, 'jpeg');
    await writeGrey(join(r, 'lbl/a/x_mask.png'), 3, 2, cycle(3, 2, [10, 20, 30]));
    await mkdir(join(r, 'img/b'), { recursive: true });
    await writeFile(join(r, 'img/b/y.jpg'), Buffer.from('not a jpeg at all'));
    await writeGrey(join(r, 'lbl/b/y_mask.png'), 3, 2, cycle(3, 2, [10]));
    const ds = await folderDataset({
      imagesDir: join(r, 'img'),
      labelsDir: join(r, 'lbl'),
      labelSuffix: '_mask.png',
      labelMap: { 10: 0, 20: 1, 30: 255 },
      numClasses: 2,
    });
    expect(Array.from((await ds.load(0)).label!.data)).toEqual([0, 1, 255, 0, 1, 255]);
    await expectError(ds.load(1), 'INVALID_INPUT', 'b/y.jpg');
    const again = await openFromSpec<SegmentationDataset>(ds.spec!);
    expect(again.size).toBe(2);
    expect(again.sampleId(0)).toBe('a/x.jpg');
    await expectError(ds.load(5), 'INVALID_INPUT', '[0, 2)');
  });
});
