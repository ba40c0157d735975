import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@densehybrid/metrics-openiou/node';
import type { ResumeKey } from '@densehybrid/metrics-openiou/node';
import { CliUsageError } from './args.js';
import { readRecord } from './resume.js';

/** One shard of an evaluation split over processes: `index` of `count` (0-based). */
export interface ShardSpec {
  readonly index: number;
  readonly count: number;
}

/**
 * Environment variables that carry a job array's task index, in the order they are read:
 * Kubernetes Indexed Jobs, Slurm job arrays, AWS Batch array jobs.
 */
export const SHARD_INDEX_VARIABLES = [
  'JOB_COMPLETION_INDEX',
  'SLURM_ARRAY_TASK_ID',
  'AWS_BATCH_JOB_ARRAY_INDEX',
] as const;

/** A shard of `eval --shard`, with where its index came from. */
export interface ResolvedShard extends ShardSpec {
  /** `--shard` or the environment variable that gave the index. */
  readonly indexFrom: '--shard' | (typeof SHARD_INDEX_VARIABLES)[number];
  /** A note for the log (an index given on the command line overrode the environment's). */
  readonly note: string | null;
}

const nonNegative = /^(0|[1-9]\d*)$/;

/**
 * The shard of `eval --shard i/n` (or `--shard /n`, or `--shards n`): `n` from the flags, `i` from
 * `--shard i/n` when given, else from {@link SHARD_INDEX_VARIABLES}. Null without either flag
 * (sharding is never implied by the environment alone).
 *
 * @param shard - `--shard`'s value: `i/n` or `/n`
 * @param shards - `--shards`'s value
 * @param env - the environment
 * @throws CliUsageError (exit 2) for a malformed value, `--shard` and `--shards` with different
 *   counts, no index anywhere, environment variables that disagree, an index outside 0..n−1, or
 *   a Slurm array whose task count is not n
 * @example
 * ```ts
 * resolveShard('2/4', undefined, {}); // { index: 2, count: 4, indexFrom: '--shard', note: null }
 * resolveShard(undefined, 4, { JOB_COMPLETION_INDEX: '1' }); // { index: 1, count: 4, indexFrom: 'JOB_COMPLETION_INDEX', … }
 * ```
 */
export function resolveShard(
  shard: string | undefined,
  shards: number | undefined,
  env: Readonly<Record<string, string | undefined>>,
): ResolvedShard | null {
  if (shard === undefined && shards === undefined) return null;
  let given: number | null = null;
  let count = shards ?? null;
  if (shard !== undefined) {
    const m = /^\s*(\d*)\s*\/\s*(\d+)\s*$/.exec(shard);
    if (
      m === null ||
      (m[1] !== '' && !nonNegative.test(m[1] as string)) ||
      !nonNegative.test(m[2] as string)
    ) {
      throw new CliUsageError(
        `--shard: expected i/n (shard i of n, 0-based) or /n (i from ${SHARD_INDEX_VARIABLES.join(', ')}), got ${JSON.stringify(shard)}`,
      );
    }
    const n = Number(m[2]);
    if (count !== null && count !== n) {
      throw new CliUsageError(
        `--shard / --shards: expected one shard count, got --shard ${shard} and --shards ${count}`,
      );
    }
    count = n;
    if (m[1] !== '') given = Number(m[1]);
  }
  const n = count as number;
  if (!(n >= 1)) throw new CliUsageError(`--shard: expected a shard count n >= 1, got ${n}`);
  const found: { name: (typeof SHARD_INDEX_VARIABLES)[number]; value: number }[] = [];
  for (const name of SHARD_INDEX_VARIABLES) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') continue;
    if (!nonNegative.test(raw.trim())) {
      if (given !== null) continue; // not needed: the command line gives the index
      throw new CliUsageError(
        `${name}: expected a non-negative integer shard index, got ${JSON.stringify(raw)}`,
      );
    }
    found.push({ name, value: Number(raw.trim()) });
  }
  let index: number;
  let indexFrom: ResolvedShard['indexFrom'];
  let note: string | null = null;
  if (given !== null) {
    index = given;
    indexFrom = '--shard';
    const other = found.filter((f) => f.value !== given);
    if (other.length > 0)
      note = `--shard ${given}/${n} overrides ${other.map((f) => `${f.name}=${f.value}`).join(', ')}`;
  } else {
    if (found.length === 0) {
      throw new CliUsageError(
        `--shard /${n}: expected the shard index from --shard i/${n} or one of ${SHARD_INDEX_VARIABLES.join(', ')}, got none of them`,
      );
    }
    const values = new Set(found.map((f) => f.value));
    if (values.size > 1) {
      throw new CliUsageError(
        `--shard: expected one shard index from the environment, got ${found.map((f) => `${f.name}=${f.value}`).join(' and ')}; give it with --shard i/${n}`,
      );
    }
    const f = found[0] as (typeof found)[number];
    index = f.value;
    indexFrom = f.name;
    const slurmCount = env['SLURM_ARRAY_TASK_COUNT'];
    if (
      f.name === 'SLURM_ARRAY_TASK_ID' &&
      slurmCount !== undefined &&
      nonNegative.test(slurmCount.trim()) &&
      Number(slurmCount) !== n
    ) {
      throw new CliUsageError(
        `--shard: expected a Slurm array of ${n} tasks (#SBATCH --array=0-${n - 1}) for ${n} shards, got SLURM_ARRAY_TASK_COUNT=${slurmCount}`,
      );
    }
  }
  if (index >= n) {
    throw new CliUsageError(
      `--shard: expected a shard index in 0..${n - 1} for ${n} shards, got ${index}${indexFrom === '--shard' ? '' : ` from ${indexFrom}`} (indices start at 0: Kubernetes completionMode Indexed, Slurm --array=0-${n - 1}, AWS Batch array jobs)`,
    );
  }
  return { index, count: n, indexFrom, note };
}

/** The folder of shard `index` of `count` in an `eval --out` folder: `shard-<i>-of-<n>`. */
export function shardDirName(shard: ShardSpec): string {
  return `shard-${shard.index}-of-${shard.count}`;
}

/** A `shard-<i>-of-<n>` folder name's shard, or null. */
export function parseShardDirName(name: string): ShardSpec | null {
  const m = /^shard-(0|[1-9]\d*)-of-([1-9]\d*)$/.exec(name);
  return m === null ? null : { index: Number(m[1]), count: Number(m[2]) };
}

/** The file `merge` writes when the component pass is still to run. */
const COMPONENT_THRESHOLDS_FILE = 'component-thresholds.json';

const THRESHOLDS_FORMAT = 'densehybrid/component-thresholds';

/** What {@link COMPONENT_THRESHOLDS_FILE} holds: the run and its component thresholds. */
export interface ComponentThresholdsRecord {
  readonly format: typeof THRESHOLDS_FORMAT;
  readonly version: 1;
  /** The run's key (every shard's), so that only its shards take these thresholds. */
  readonly key: ResumeKey;
  /** Per score, the best pooled pixel-F1 threshold of the merged first pass. */
  readonly thresholds: Readonly<Record<string, number>>;
}

/**
 * Writes the component thresholds of a merged first pass into `dir`.
 *
 * @returns the file's path
 * @example
 * ```ts
 * await writeComponentThresholds('result', key, { hybrid: 0.81 }); // result/component-thresholds.json
 * ```
 */
export async function writeComponentThresholds(
  dir: string,
  key: ResumeKey,
  thresholds: Readonly<Record<string, number>>,
): Promise<string> {
  const path = join(dir, COMPONENT_THRESHOLDS_FILE);
  const record: ComponentThresholdsRecord = {
    format: THRESHOLDS_FORMAT,
    version: 1,
    key,
    thresholds,
  };
  await writeFileAtomic('merge', path, `${JSON.stringify(record, null, 2)}\n`);
  return path;
}

/**
 * Reads `--component-thresholds` (the file, or a folder holding {@link COMPONENT_THRESHOLDS_FILE}).
 *
 * @throws CliUsageError (exit 2) when it is missing or not such a record
 * @example
 * ```ts
 * const { thresholds, key } = await readComponentThresholds('result');
 * ```
 */
export async function readComponentThresholds(path: string): Promise<ComponentThresholdsRecord> {
  const isDir = (await stat(path).catch(() => undefined))?.isDirectory() === true;
  const file = isDir ? join(path, COMPONENT_THRESHOLDS_FILE) : path;
  const r = (await readRecord(file)) as Partial<ComponentThresholdsRecord> | null | undefined;
  const ok =
    r !== null &&
    r !== undefined &&
    typeof r === 'object' &&
    r.format === THRESHOLDS_FORMAT &&
    r.version === 1 &&
    typeof r.key === 'object' &&
    r.key !== null &&
    typeof r.thresholds === 'object' &&
    r.thresholds !== null &&
    Object.values(r.thresholds).every((t) => typeof t === 'number' && Number.isFinite(t));
  if (!ok) {
    throw new CliUsageError(
      `--component-thresholds: expected the ${COMPONENT_THRESHOLDS_FILE} that densehybrid merge writes, got ${r === undefined ? 'no file' : 'another file'} at ${file}`,
    );
  }
  return r as ComponentThresholdsRecord;
}
