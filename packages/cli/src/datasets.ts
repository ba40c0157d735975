import type { DatasetName } from '@densehybrid/data-mixing';

/**
 * The commands' `--split` defaults per dataset: the split `eval` (and `calibrate`, outside
 * StreetHazards) evaluates and the one `train` trains on. The benchmark protocols themselves are
 * `BENCHMARK_PROTOCOLS` of `@densehybrid/metrics-openiou`, the splits data-mixing's `DATASET_SPLITS`.
 */
export const DEFAULT_SPLITS: Readonly<
  Record<DatasetName, { readonly eval: string; readonly train: string }>
> = {
  streethazards: { eval: 'test', train: 'train' },
  cityscapes: { eval: 'val', train: 'train' },
  'fishyscapes-lostandfound': { eval: 'test', train: 'test' },
  'fishyscapes-static': { eval: 'test', train: 'test' },
  'smiyc-anomaly': { eval: 'test', train: 'test' },
  'smiyc-obstacle': { eval: 'test', train: 'test' },
  folder: { eval: 'test', train: 'train' },
};
