import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import type { FprRule, ThresholdRule } from '@densehybrid/metrics-openiou';
import { disposeCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { ScoreName } from './scores.js';
import type { DenseHybridModel } from './train/model.js';

/**
 * A model file is a checkpoint folder (`saveCheckpoint`) whose `config` is a {@link ModelConfig}:
 * `config.format` is this name and `config.version` {@link MODEL_FORMAT_VERSION}.
 *
 * @example
 * ```ts
 * const ckpt = await loadCheckpoint('runs/sh/model');
 * ckpt.config['format'] === MODEL_FORMAT; // true for files of saveModel and train()
 * ```
 */
export const MODEL_FORMAT = 'densehybrid/model';
/**
 * The version of {@link MODEL_FORMAT} written. Files without a version (written before it
 * existed, as `densehybrid/model` by `train()` or `densehybrid/cli-model` by the CLI) hold the
 * same fields and load as version 1.
 *
 * @example
 * ```ts
 * modelConfig(model).version === MODEL_FORMAT_VERSION; // 1
 * ```
 */
export const MODEL_FORMAT_VERSION = 1;
/** Format names of files written before {@link MODEL_FORMAT_VERSION} (no version field). */
const UNVERSIONED_FORMATS: readonly string[] = [MODEL_FORMAT, 'densehybrid/cli-model'];

/**
 * A model file's `config`: what rebuilds the model — the backbone's config (`createBackbone`)
 * and the width of the dataset-posterior head on its pre-logits.
 */
export type ModelConfig = {
  readonly format: typeof MODEL_FORMAT;
  readonly version: typeof MODEL_FORMAT_VERSION;
  /** `model.backbone.config` (`architecture` + the backbone factory's options). */
  readonly backbone: Readonly<Record<string, unknown>> & { readonly architecture: string };
  /** The dataset-posterior head reads the backbone's pre-logits. */
  readonly head: { readonly channels: number };
};

/**
 * The model-file config of a model (what `saveModel` and `train()` store by default).
 *
 * @param model - a DenseHybrid model (`createDenseHybridModel`).
 * @returns a JSON {@link ModelConfig}.
 * @example
 * ```ts
 * const config = modelConfig(model);
 * // { format: 'densehybrid/model', version: 1, backbone: { architecture: 'ladderDenseNet', … }, head: { channels: 128 } }
 * ```
 */
export function modelConfig(model: DenseHybridModel): ModelConfig {
  return {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    backbone: model.backbone.config,
    head: { channels: model.backbone.preLogitChannels },
  };
}

/**
 * Reads and checks a model file's `config`; files of the unversioned formats come back as the
 * current format (same fields). @internal (used by `loadModel`)
 * @throws DenseHybridError `MODEL_LOAD` for another format, a newer version or missing fields
 */
export function readModelConfig(
  fn: string,
  dir: string,
  config: Readonly<Record<string, unknown>>,
): ModelConfig {
  const format = config['format'];
  const version = config['version'];
  const known =
    (format === MODEL_FORMAT && version === MODEL_FORMAT_VERSION) ||
    (version === undefined && UNVERSIONED_FORMATS.includes(format as string));
  if (!known) {
    throw new DenseHybridError(
      'MODEL_LOAD',
      `${fn}: expected a DenseHybrid model file (config.format "${MODEL_FORMAT}", version ${MODEL_FORMAT_VERSION}) in ${dir}, got ${describeValue(format ?? null)} version ${describeValue(version ?? null)}`,
    );
  }
  const backbone = config['backbone'] as ModelConfig['backbone'] | null | undefined;
  const head = config['head'] as { channels?: unknown } | null | undefined;
  if (backbone === null || typeof backbone !== 'object' || typeof head?.channels !== 'number') {
    throw new DenseHybridError(
      'MODEL_LOAD',
      `${fn}: expected config.backbone (an object) and config.head.channels (a number) in ${dir}, got ${describeValue(backbone)} and ${describeValue(head?.channels)}`,
    );
  }
  return {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    backbone,
    head: { channels: head.channels },
  };
}

/** A calibrated threshold stored in a model file's meta (`densehybrid calibrate` writes it). */
export interface StoredThreshold {
  /** Pixels with `score > value` (or `>=`, see {@link StoredThreshold.thresholdRule}) are unknown. */
  readonly value: number;
  /**
   * How the threshold applies: `greater` (`score > value`, the official benchmark code's rule) or
   * `greater-or-equal`. Files written before this field existed mean `greater-or-equal`.
   */
  readonly thresholdRule?: ThresholdRule;
  readonly score: ScoreName;
  /** The target TPR of the calibration. */
  readonly tpr: number;
  /** The TPR the threshold reaches on the calibration data. */
  readonly tprReached: number;
  /** The FPR at that threshold. */
  readonly fpr: number;
  readonly fprRule: FprRule;
  /** e.g. `streethazards/validation (120 images)`. */
  readonly calibratedOn: string;
}

/** A model file's `meta`: the keys this package reads; any other JSON is kept as is. */
export interface ModelMeta {
  /** Names of the K known classes. */
  readonly classNames: readonly string[];
  /** The training dataset, e.g. `streethazards`. */
  readonly dataset?: string;
  /** Steps trained. */
  readonly step?: number;
  readonly threshold?: StoredThreshold;
  readonly [key: string]: unknown;
}

async function isFile(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isFile() === true;
}

/**
 * Resolves a model path: a run folder (its `model/`, as `densehybrid train` and `densehybrid demo`
 * write) or a checkpoint folder itself (e.g. a run's `state/`). `fn` names the caller in the
 * error. @internal (used by `loadModel` and {@link updateModelMeta})
 * @throws DenseHybridError `MODEL_LOAD` naming the path when neither is there
 */
export async function resolveCheckpointDir(fn: string, path: string): Promise<string> {
  if (await isFile(join(path, 'model', 'checkpoint.json'))) return join(path, 'model');
  if (await isFile(join(path, 'checkpoint.json'))) return path;
  throw new DenseHybridError(
    'MODEL_LOAD',
    `${fn}: expected a run folder from \`densehybrid train\` or \`densehybrid demo\` (with model/checkpoint.json) or a checkpoint folder, got ${path}`,
  );
}

/**
 * Saves a model as a model file: a checkpoint folder (atomic replace) with {@link modelConfig}
 * as its config and `meta`. Reads the weights with async `data()`; leaves no tensor and does
 * not dispose the model.
 *
 * @param dir - the checkpoint folder (created, or replaced).
 * @param model - the model to save.
 * @param meta - class names and any other JSON (see {@link ModelMeta}).
 * @throws DenseHybridError `INVALID_INPUT` for non-JSON meta, `IO` when writing fails
 * @example
 * ```ts
 * await saveModel('runs/sh/model', model, { classNames, dataset: 'streethazards', step: 1000 });
 * ```
 */
export async function saveModel(
  dir: string,
  model: DenseHybridModel,
  meta: ModelMeta,
): Promise<void> {
  await saveCheckpoint(dir, {
    config: modelConfig(model),
    variables: model.variables,
    meta,
  });
}

/**
 * Rewrites a model file's meta (e.g. a calibrated threshold), keeping its config, weights and
 * optimizer state; atomic.
 *
 * @param path - a run folder (its `model/`) or a checkpoint folder.
 * @param update - the new meta from the old one.
 * @returns the checkpoint folder rewritten.
 * @throws DenseHybridError `MODEL_LOAD` / `IO`
 * @example
 * ```ts
 * await updateModelMeta('runs/sh', (meta) => ({ ...meta, threshold }));
 * ```
 */
export async function updateModelMeta(
  path: string,
  update: (meta: ModelMeta) => ModelMeta,
): Promise<string> {
  const dir = await resolveCheckpointDir('updateModelMeta', path);
  const ckpt = await loadCheckpoint(dir);
  try {
    await saveCheckpoint(dir, {
      config: ckpt.config,
      variables: ckpt.variables,
      ...(ckpt.optimizer ? { optimizer: ckpt.optimizer } : {}),
      meta: update(ckpt.meta as ModelMeta),
    });
  } finally {
    disposeCheckpoint(ckpt);
  }
  return dir;
}
