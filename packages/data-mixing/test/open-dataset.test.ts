import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DATASET_NAMES,
  DATASET_SPLITS,
  DenseHybridError,
  TRAINING_DATASET_NAMES,
  ade20kNegatives,
  mixedContentBatches,
  openDataset,
  splitFolds,
  type SegmentationBatch,
} from '@densehybrid/data-mixing';
import { cycle, writeGrey, writeImage } from './fixtures.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dh-open-'));
  // flat folder: images/ + labels/ with raw values 0, 1, 2, 255
  for (let i = 0; i < 5; i++) {
    await writeImage(join(root, `flat/images/f${i}.png`), 24, 16, i);
    await writeGrey(join(root, `flat/labels/f${i}.png`), 24, 16, cycle(24, 16, [0, 1, 2, 255]));
  }
  // nested folder: images/<split>, labels only for train
  await writeImage(join(root, 'nested/images/train/a.png'), 8, 8, 1);
  await writeGrey(join(root, 'nested/labels/train/a.png'), 8, 8, cycle(8, 8, [0, 1]));
  await writeImage(join(root, 'nested/images/test/b.png'), 8, 8, 2);
  const ade = join(root, 'ade/ADEChallengeData2016');
  await writeImage(join(ade, 'images/training/ADE_train_0.jpg'), 30, 24, 9, 'jpeg');
  await writeGrey(join(ade, 'annotations/training/ADE_train_0.png'), 30, 24, cycle(30, 24, [0, 5]));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('openDataset', () => {
  it('every name has its splits; a split the dataset lacks is refused, listing the allowed ones', async () => {
    expect(Object.keys(DATASET_SPLITS).sort()).toEqual([...DATASET_NAMES].sort());
    const e = await openDataset('streethazards', root, 'test').catch((err: unknown) => err);
    expect(DenseHybridError.is(e)).toBe(true);
    expect((e as DenseHybridError).code).toBe('INVALID_OPTION');
    expect((e as Error).message).toBe(
      '--split: expected one of train | validation | t5 | t6 for streethazards, got "test"',
    );
    await expect(openDataset('cityscapes', root, 'test')).rejects.toThrow(
      /one of train \| val for cityscapes/,
    );
  });

  it('folder: flat layout, anomaly labels by default (2 and 255 ignored)', async () => {
    const ds = await openDataset('folder', join(root, 'flat'), 'test');
    expect(ds.name).toBe('folder/test');
    expect(ds.size).toBe(5);
    const s = await ds.load(0);
    expect(s.label).toBeDefined();
    expect([...new Set(s.label!.data)].sort((a, b) => a - b)).toEqual([0, 1, 255]);
  });

  it('folder: images/<split> when present; no labels folder → unlabelled', async () => {
    const train = await openDataset('folder', join(root, 'nested'), 'train');
    expect(train.size).toBe(1);
    expect((await train.load(0)).label).toBeDefined();
    const test = await openDataset('folder', join(root, 'nested'), 'test');
    expect(test.size).toBe(1);
    expect((await test.load(0)).label).toBeUndefined();
  });
});

describe('TRAINING_DATASET_NAMES', () => {
  it('are the datasets whose training split has semantic labels; every other one has anomaly labels', async () => {
    const at: Record<string, string> = {
      streethazards: 'sh',
      cityscapes: 'cs',
      folder: 'folder',
      'fishyscapes-lostandfound': 'laf',
      'fishyscapes-static': 'static',
      'smiyc-anomaly': 'smiyc',
      'smiyc-obstacle': 'smiyc',
    };
    const r = join(root, 'kinds');
    const pair = async (image: string, label: string, values: number[]): Promise<void> => {
      await writeImage(join(r, image), 4, 2, 1);
      await writeGrey(join(r, label), 4, 2, cycle(4, 2, values));
    };
    await pair('sh/train/images/training/a.png', 'sh/train/annotations/training/a.png', [1, 2]);
    await pair(
      'cs/leftImg8bit/train/ulm/ulm_0_leftImg8bit.png',
      'cs/gtFine/train/ulm/ulm_0_gtFine_labelIds.png',
      [7],
    );
    await pair('folder/images/train/a.png', 'folder/labels/train/a.png', [0, 1]);
    await pair(
      'laf/leftImg8bit/test/c/c_0_leftImg8bit.png',
      'laf/ood/test/c/c_0_ood_segmentation.png',
      [0],
    );
    await pair('static/x_rgb.jpg', 'static/x_labels.png', [0, 1]);
    for (const track of ['Anomaly', 'Obstacle']) {
      await pair(
        `smiyc/dataset_${track}Track/images/v.jpg`,
        `smiyc/dataset_${track}Track/labels_masks/v_labels_semantic.png`,
        [0, 1],
      );
    }
    const trainSplit: Record<string, string> = {
      streethazards: 'train',
      cityscapes: 'train',
      folder: 'train',
    };
    for (const name of DATASET_NAMES) {
      const ds = await openDataset(name, join(r, at[name]!), trainSplit[name] ?? 'test', {
        labelKind: 'semantic',
        numClasses: 2,
      });
      const semantic = ds.labelKind === 'semantic' && ds.numClasses >= 1;
      expect(semantic, name).toBe((TRAINING_DATASET_NAMES as readonly string[]).includes(name));
    }
  });
});

describe('splitFolds', () => {
  it('StreetHazards test is t5 + t6; anything else is itself', () => {
    expect(splitFolds('streethazards', 'test')).toEqual(['t5', 't6']);
    expect(splitFolds('streethazards', 't5')).toEqual(['t5']);
    expect(splitFolds('cityscapes', 'test')).toEqual(['test']);
  });
});

describe('mixedContentBatches', () => {
  it('a run resumed at step s yields the batches of an uninterrupted run from s on', async () => {
    const dataset = await openDataset('folder', join(root, 'flat'), 'train');
    const negatives = await ade20kNegatives({ root: join(root, 'ade') });
    for (const neg of [undefined, negatives]) {
      const opts = {
        dataset,
        ...(neg ? { negatives: neg } : {}),
        batchSize: 2,
        cropSize: 12,
        seed: 3,
        negativeSize: 6,
        steps: 5,
        workers: 0,
      };
      const stream = mixedContentBatches(opts);
      try {
        expect(stream.batchesPerEpoch).toBe(2); // 5 images, dropLast
        const all: SegmentationBatch[] = [];
        for await (const b of stream.data(0)) all.push(b);
        expect(all).toHaveLength(5);
        expect(all[0]!.images).toHaveLength(2 * 12 * 12 * 3);
        const resumed: SegmentationBatch[] = [];
        for await (const b of stream.data(3)) resumed.push(b);
        expect(resumed).toHaveLength(2);
        for (let i = 0; i < 2; i++) {
          expect(resumed[i]!.ids).toEqual(all[i + 3]!.ids);
          expect(resumed[i]!.images).toEqual(all[i + 3]!.images);
          expect(resumed[i]!.labels).toEqual(all[i + 3]!.labels);
        }
        // epoch 1 differs from epoch 0 (reshuffled and re-augmented)
        expect(all[2]!.images).not.toEqual(all[0]!.images);
      } finally {
        await stream.close();
      }
    }
  });
});
