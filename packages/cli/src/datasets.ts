import { DATASET_NAMES } from '@densehybrid/data-mixing';
import type { DatasetName } from '@densehybrid/data-mixing';
import { BENCHMARK_PROTOCOLS } from '@densehybrid/metrics-openiou';
import type { BenchmarkProtocol } from '@densehybrid/metrics-openiou';

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

/**
 * The `--help` text of a convention's default, read from `BENCHMARK_PROTOCOLS` (so it cannot
 * drift from what runs): the most common value across the datasets, then the datasets that
 * differ, e.g. `default: at-least; streethazards: nearest`.
 *
 * @param field - a field of the protocol, e.g. `fprRule`
 * @param format - how a value reads in the help @default String
 * @example
 * ```ts
 * protocolDefaults('calibrationScale'); // 'default: 1; streethazards: 0.5'
 * ```
 */
export function protocolDefaults<K extends keyof BenchmarkProtocol>(
  field: K,
  format: (value: BenchmarkProtocol[K]) => string = String,
): string {
  const byValue = new Map<string, DatasetName[]>();
  for (const name of DATASET_NAMES) {
    const v = format(BENCHMARK_PROTOCOLS[name][field]);
    byValue.set(v, [...(byValue.get(v) ?? []), name]);
  }
  const groups = [...byValue].sort((a, b) => b[1].length - a[1].length);
  const [common, ...rest] = groups;
  if (common === undefined) return '';
  if (rest.length === 0) return `default: ${common[0]} for every benchmark`;
  return [`default: ${common[0]}`, ...rest.map(([v, names]) => `${names.join(', ')}: ${v}`)].join(
    '; ',
  );
}
