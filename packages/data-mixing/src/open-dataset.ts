import { join } from 'node:path';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import {
  BINARY_ANOMALY_LABEL_TABLE,
  cityscapes,
  fishyscapes,
  smiyc,
  streetHazards,
  type StreetHazardsSplit,
} from './benchmarks.js';
import { folderDataset, isDirectory } from './datasets.js';
import type { SegmentationDataset } from './types.js';

/** The datasets {@link openDataset} opens by name (the CLI's `--dataset`). */
export const DATASET_NAMES = [
  'streethazards',
  'cityscapes',
  'fishyscapes-lostandfound',
  'fishyscapes-static',
  'smiyc-anomaly',
  'smiyc-obstacle',
  'folder',
] as const;

/** One of {@link DATASET_NAMES}. */
export type DatasetName = (typeof DATASET_NAMES)[number];

/**
 * The datasets of {@link DATASET_NAMES} with semantic labels (K known classes) to train on (the
 * CLI's `train --dataset`); Fishyscapes and SMIYC have binary anomaly labels and only evaluate.
 *
 * @example
 * ```ts
 * TRAINING_DATASET_NAMES.includes('cityscapes'); // true
 * ```
 */
export const TRAINING_DATASET_NAMES = [
  'streethazards',
  'cityscapes',
  'folder',
] as const satisfies readonly DatasetName[];

/**
 * The splits {@link openDataset} opens, per dataset. StreetHazards' `test` is not one of them: it
 * stands for the folds t5 and t6 ({@link splitFolds}), opened one at a time.
 *
 * @example
 * ```ts
 * DATASET_SPLITS.cityscapes; // ['train', 'val']
 * ```
 */
export const DATASET_SPLITS: Readonly<Record<DatasetName, readonly string[]>> = {
  streethazards: ['train', 'validation', 't5', 't6'],
  cityscapes: ['train', 'val'],
  'fishyscapes-lostandfound': ['test'],
  'fishyscapes-static': ['test'],
  'smiyc-anomaly': ['test'],
  'smiyc-obstacle': ['test'],
  folder: ['train', 'val', 'test'],
};

/** Splits made of several folds: StreetHazards `test` is t5 + t6. */
const FOLDED_SPLITS: Partial<Record<DatasetName, Readonly<Record<string, readonly string[]>>>> = {
  streethazards: { test: ['t5', 't6'] },
};

/** Extra settings of the `folder` dataset in {@link openDataset}. */
export interface FolderAdapterOptions {
  /**
   * What the label files hold.
   * @default 'anomaly' (0 inlier, 1 anomaly, 2 and 255 ignored)
   */
  readonly labelKind?: 'semantic' | 'open-set' | 'anomaly';
  /** @default 0 */
  readonly numClasses?: number;
  /** @default [] */
  readonly classNames?: readonly string[];
}

/**
 * The `folder` dataset: `images/` and `labels/` under `root`, or `images/<split>` and
 * `labels/<split>` when present; without a labels folder the images come unlabelled.
 */
async function openFolder(
  root: string,
  split: string,
  folder: FolderAdapterOptions,
): Promise<SegmentationDataset> {
  const nested = await isDirectory(join(root, 'images', split));
  const imagesDir = nested ? join(root, 'images', split) : join(root, 'images');
  const labelsCandidate = nested ? join(root, 'labels', split) : join(root, 'labels');
  const labelsDir = (await isDirectory(labelsCandidate)) ? labelsCandidate : undefined;
  const labelKind = folder.labelKind ?? 'anomaly';
  return folderDataset({
    imagesDir,
    ...(labelsDir ? { labelsDir } : {}),
    name: `folder/${split}`,
    labelKind,
    numClasses: folder.numClasses ?? 0,
    classNames: folder.classNames ?? [],
    ...(labelKind === 'anomaly' ? { labelMap: BINARY_ANOMALY_LABEL_TABLE } : {}),
  });
}

/**
 * Opens one split of a dataset from its folder through the adapter of that name. StreetHazards'
 * `test` is two folds: open each split {@link splitFolds} returns.
 *
 * @param name - one of {@link DATASET_NAMES}
 * @param root - the dataset's folder, laid out as its own download is
 * @param split - one of `DATASET_SPLITS[name]`
 * @param folder - settings of the `folder` dataset (ignored by the others)
 * @returns the split's samples, decoded on demand
 * @throws DenseHybridError `INVALID_OPTION` for a split the dataset does not have,
 *   `DATASET_LAYOUT` (from the adapter) naming the missing folder
 *
 * @example
 * ```ts
 * const t5 = await openDataset('streethazards', '/data/streethazards', 't5');
 * ```
 */
export async function openDataset(
  name: DatasetName,
  root: string,
  split: string,
  folder: FolderAdapterOptions = {},
): Promise<SegmentationDataset> {
  const splits = DATASET_SPLITS[name];
  if (!splits.includes(split)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `--split: expected one of ${splits.join(' | ')} for ${name}, got "${split}"`,
    );
  }
  switch (name) {
    case 'streethazards':
      return streetHazards({ root, split: split as StreetHazardsSplit });
    case 'cityscapes':
      return cityscapes({ root, split: split as 'train' | 'val' });
    case 'fishyscapes-lostandfound':
      return fishyscapes({ root, variant: 'lostandfound' });
    case 'fishyscapes-static':
      return fishyscapes({ root, variant: 'static' });
    case 'smiyc-anomaly':
      return smiyc({ root, track: 'anomaly' });
    case 'smiyc-obstacle':
      return smiyc({ root, track: 'obstacle' });
    case 'folder':
      return openFolder(root, split, folder);
  }
}

/**
 * The folds a split stands for: StreetHazards `test` → t5 and t6; anything else → itself.
 *
 * @example
 * ```ts
 * splitFolds('streethazards', 'test'); // ['t5', 't6']
 * splitFolds('cityscapes', 'val'); // ['val']
 * ```
 */
export function splitFolds(name: DatasetName, split: string): string[] {
  const folds = FOLDED_SPLITS[name]?.[split];
  return folds ? [...folds] : [split];
}
