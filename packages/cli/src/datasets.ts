import type { SegmentationDataset } from '@densehybrid/data-mixing';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import type { AnomalyProtocol, FprRule } from '@densehybrid/metrics-openiou';

/** The dataset adapters the CLI knows (`--dataset`). */
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

/** How a benchmark scores anomaly detection (REFERENCE.md, "Metrics"). */
export interface BenchmarkProtocol {
  /** Pooled over all pixels (Fishyscapes, SMIYC) or averaged per image (StreetHazards). */
  readonly protocol: AnomalyProtocol;
  /** FPR rule of the benchmark's own evaluation code. */
  readonly fprRule: FprRule;
  /** SMIYC reports component metrics (sIoU, PPV, mean F1). */
  readonly components: boolean;
  /** Test folds for cross-calibration of the open-set threshold (StreetHazards t5/t6). */
  readonly crossFolds?: readonly [string, string];
  /** The split evaluated by default. */
  readonly evalSplit: string;
  /** The split trained on by default. */
  readonly trainSplit: string;
  /** Splits the adapter accepts. */
  readonly splits: readonly string[];
}

/** Every adapter's protocol. */
export const BENCHMARK_PROTOCOLS: Readonly<Record<DatasetName, BenchmarkProtocol>> = {
  streethazards: {
    protocol: 'per-image',
    fprRule: 'nearest',
    components: false,
    crossFolds: ['t5', 't6'],
    evalSplit: 'test',
    trainSplit: 'train',
    splits: ['train', 'validation', 't5', 't6', 'test'],
  },
  cityscapes: {
    protocol: 'pooled',
    fprRule: 'at-least',
    components: false,
    evalSplit: 'val',
    trainSplit: 'train',
    splits: ['train', 'val'],
  },
  'fishyscapes-lostandfound': {
    protocol: 'pooled',
    fprRule: 'at-least',
    components: false,
    evalSplit: 'test',
    trainSplit: 'test',
    splits: ['test'],
  },
  'fishyscapes-static': {
    protocol: 'pooled',
    fprRule: 'at-least',
    components: false,
    evalSplit: 'test',
    trainSplit: 'test',
    splits: ['test'],
  },
  'smiyc-anomaly': {
    protocol: 'pooled',
    fprRule: 'at-least',
    components: true,
    evalSplit: 'test',
    trainSplit: 'test',
    splits: ['test'],
  },
  'smiyc-obstacle': {
    protocol: 'pooled',
    fprRule: 'at-least',
    components: true,
    evalSplit: 'test',
    trainSplit: 'test',
    splits: ['test'],
  },
  folder: {
    protocol: 'pooled',
    fprRule: 'at-least',
    components: false,
    evalSplit: 'test',
    trainSplit: 'train',
    splits: ['train', 'val', 'test'],
  },
};

/** Extra settings of the `folder` adapter. */
export interface FolderAdapterOptions {
  /** Folder with `images/` and `labels/` (or `images/<split>` and `labels/<split>` when present). */
  readonly labelKind?: 'semantic' | 'open-set' | 'anomaly';
  readonly numClasses?: number;
  readonly classNames?: readonly string[];
}

/**
 * Opens one split of a benchmark from its folder through the data-mixing adapters. StreetHazards'
 * `test` opens both folds: use {@link openDatasetFolds}.
 *
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
  const p = BENCHMARK_PROTOCOLS[name];
  if (!p.splits.includes(split) || (name === 'streethazards' && split === 'test')) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `--split: expected one of ${p.splits.filter((s) => !(name === 'streethazards' && s === 'test')).join(' | ')} for ${name}, got "${split}"`,
    );
  }
  const dm = await import('@densehybrid/data-mixing');
  switch (name) {
    case 'streethazards':
      return dm.streetHazards({ root, split: split as 'train' | 'validation' | 't5' | 't6' });
    case 'cityscapes':
      return dm.cityscapes({ root, split: split as 'train' | 'val' });
    case 'fishyscapes-lostandfound':
      return dm.fishyscapes({ root, variant: 'lostandfound' });
    case 'fishyscapes-static':
      return dm.fishyscapes({ root, variant: 'static' });
    case 'smiyc-anomaly':
      return dm.smiyc({ root, track: 'anomaly' });
    case 'smiyc-obstacle':
      return dm.smiyc({ root, track: 'obstacle' });
    case 'folder': {
      const { join } = await import('node:path');
      const { stat } = await import('node:fs/promises');
      const isDir = async (p: string): Promise<boolean> =>
        (await stat(p).catch(() => undefined))?.isDirectory() === true;
      const nested = await isDir(join(root, 'images', split));
      const imagesDir = nested ? join(root, 'images', split) : join(root, 'images');
      const labelsCandidate = nested ? join(root, 'labels', split) : join(root, 'labels');
      const labelsDir = (await isDir(labelsCandidate)) ? labelsCandidate : undefined;
      const labelKind = folder.labelKind ?? 'anomaly';
      return dm.folderDataset({
        imagesDir,
        ...(labelsDir ? { labelsDir } : {}),
        name: `folder/${split}`,
        labelKind,
        numClasses: folder.numClasses ?? 0,
        classNames: folder.classNames ?? [],
        ...(labelKind === 'anomaly' ? { labelMap: { 0: 0, 1: 1, 2: 255, 255: 255 } } : {}),
      });
    }
  }
}

/**
 * The folds a split expands to: StreetHazards `test` → t5 and t6; anything else → itself.
 *
 * @example
 * ```ts
 * splitFolds('streethazards', 'test'); // ['t5', 't6']
 * ```
 */
export function splitFolds(name: DatasetName, split: string): string[] {
  const folds = BENCHMARK_PROTOCOLS[name].crossFolds;
  if (folds && split === 'test') return [...folds];
  return [split];
}
