import { availableParallelism } from 'node:os';
import { SCORE_NAMES } from '@densehybrid/core';
import { BACKEND_NAMES, initBackend } from '@densehybrid/tfjs-wasm-training';
import { DATASET_NAMES, TRAINING_DATASET_NAMES } from '@densehybrid/data-mixing';
import type { BackendName, BackendReport } from '@densehybrid/tfjs-wasm-training';
import { FPR_RULES } from '@densehybrid/metrics-openiou';
import type { CommandContext } from '../command.js';

/** `--backend`: shared by every command that runs a network. */
export const BACKEND_FLAG = {
  type: 'string',
  choices: BACKEND_NAMES,
  placeholder: 'name',
  description:
    'TensorFlow.js backend (default: DENSEHYBRID_BACKEND, else automatic: tensorflow, webgpu, wasm, cpu)',
} as const;

/** `--threads`. */
export const THREADS_FLAG = {
  type: 'integer',
  min: 1,
  placeholder: 'n',
  description:
    'wasm: threads for the convolutions, same results at any count (default: DENSEHYBRID_WASM_THREADS, else the CPU cores, up to 8)',
} as const;

/**
 * `initBackend`'s `threads` option for `--threads`: the flag, else (without
 * `DENSEHYBRID_WASM_THREADS`, which initBackend reads and checks itself) the machine's cores,
 * at most 8.
 */
export function threadsOption(flag: number | undefined): { threads?: number } {
  if (flag !== undefined) return { threads: flag };
  const env = process.env['DENSEHYBRID_WASM_THREADS'];
  if (env !== undefined && env !== '') return {};
  return { threads: Math.max(1, Math.min(8, availableParallelism())) };
}

/** `--dataset`. */
export const DATASET_FLAG = {
  type: 'string',
  choices: DATASET_NAMES,
  required: true,
  placeholder: 'adapter',
  description: 'benchmark adapter',
} as const;

/** `--dataset` of `train`: only the adapters with semantic training labels (K known classes). */
export const TRAIN_DATASET_FLAG = {
  ...DATASET_FLAG,
  choices: TRAINING_DATASET_NAMES,
  description: 'benchmark adapter with semantic labels (the anomaly benchmarks only evaluate)',
} as const;

/** `--checkpoint`. */
export const CHECKPOINT_FLAG = {
  type: 'path',
  required: true,
  placeholder: 'run-dir',
  description: 'run folder of `densehybrid train` (or a checkpoint folder)',
} as const;

/** `--root`. */
export const ROOT_FLAG = {
  type: 'path',
  required: true,
  placeholder: 'dir',
  description: 'the dataset folder',
} as const;

/** `--score`. */
export const SCORE_FLAG = {
  type: 'string',
  choices: SCORE_NAMES,
  default: 'hybrid',
  description: 'anomaly score (higher = more anomalous)',
} as const;

/** `--fpr-rule`. */
export const FPR_RULE_FLAG = {
  type: 'string',
  choices: FPR_RULES,
  placeholder: 'rule',
  description: "how FPR95 picks the operating point (default: the benchmark's own rule)",
} as const;

/**
 * Initialises the backend and logs which one (a line on stderr, or only with --verbose under --json).
 *
 * @example
 * ```ts
 * const report = await setupBackend(ctx, flags.backend, flags.threads); // logs 'backend wasm via …'
 * ```
 */
export async function setupBackend(
  ctx: CommandContext,
  backend: BackendName | undefined,
  threads?: number,
): Promise<BackendReport> {
  const report = await initBackend({
    ...(backend !== undefined ? { backend } : {}),
    ...threadsOption(threads),
    log: (line) => (ctx.globals.json ? ctx.debug(line) : ctx.log(line)),
    debug: ctx.debug,
  });
  return report;
}
