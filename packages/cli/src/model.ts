import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  deeplabV3Plus,
  disposeCheckpoint,
  ladderDenseNet,
  loadCheckpoint,
  restoreVariables,
  saveCheckpoint,
} from '@densehybrid/backbones';
import type {
  DeepLabV3PlusOptions,
  LadderDenseNetOptions,
  SegmentationModel,
} from '@densehybrid/backbones';
import {
  createDenseHybridModel,
  datasetPosteriorHead,
  discriminativeScore,
  entropyScore,
  generativeScore,
  hybridScore,
  maxLogitScore,
  maxSoftmaxScore,
} from '@densehybrid/core';
import type { DenseHybridModel } from '@densehybrid/core';
import type { RgbImage } from '@densehybrid/data-mixing';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import type { FprRule } from '@densehybrid/metrics-openiou';
import type { FrameScores, MultiFrameScores } from './evaluate.js';

/** Anomaly scores `--score` can select (all higher = more anomalous). */
export const SCORE_NAMES = [
  'hybrid',
  'generative',
  'discriminative',
  'max-softmax',
  'max-logit',
  'entropy',
] as const;
/** One of {@link SCORE_NAMES}. */
export type ScoreName = (typeof SCORE_NAMES)[number];

/** Each score from the model's outputs at image size (`DenseHybridModel.predict`). */
const SCORE_FUNCTIONS: Readonly<
  Record<ScoreName, (logits: tf.Tensor4D, posteriorLogits: tf.Tensor4D) => tf.Tensor3D>
> = {
  hybrid: (logits, posteriorLogits) => hybridScore(logits, posteriorLogits),
  generative: (logits) => generativeScore(logits),
  discriminative: (_, posteriorLogits) => discriminativeScore(posteriorLogits),
  'max-softmax': (logits) => maxSoftmaxScore(logits),
  'max-logit': (logits) => maxLogitScore(logits),
  entropy: (logits) => entropyScore(logits),
};

/** The threshold `densehybrid calibrate` stores in a checkpoint's meta. */
export interface StoredThreshold {
  /** Pixels with `score >= value` are unknown. */
  readonly value: number;
  readonly score: ScoreName;
  readonly tpr: number;
  readonly tprReached: number;
  readonly fpr: number;
  readonly fprRule: FprRule;
  /** e.g. `streethazards/validation (120 images)`. */
  readonly calibratedOn: string;
}

/** What the CLI stores in a checkpoint's `meta`. */
export interface ModelMeta {
  readonly classNames: readonly string[];
  /** The training dataset, e.g. `streethazards`. */
  readonly dataset?: string;
  /** Steps trained. */
  readonly step?: number;
  readonly threshold?: StoredThreshold;
}

/**
 * The checkpoint `config` of a CLI model: backbone and head. `densehybrid/model` is what
 * `@densehybrid/core`'s `train()` stores by default (`trainingCheckpointConfig`): same fields.
 */
export interface ModelConfig {
  readonly format: 'densehybrid/cli-model' | 'densehybrid/model';
  readonly backbone: Readonly<Record<string, unknown>> & { readonly architecture: string };
  readonly head: { readonly channels: number };
}

/** Backbones `--backbone` can build: LDN presets and DeepLabV3+ encoders. */
export const BACKBONE_NAMES = [
  'tiny',
  'small',
  'densenet121',
  'deeplab-resnet18',
  'deeplab-resnet50',
] as const;
/** One of {@link BACKBONE_NAMES}. */
export type BackboneName = (typeof BACKBONE_NAMES)[number];

/**
 * A fresh backbone by `--backbone` name (DeepLabV3+: the head reads its 304-channel decoder input).
 *
 * @example
 * ```ts
 * const backbone = createBackbone('densenet121', 19, 1); // LDN-121
 * ```
 */
export function createBackbone(
  name: BackboneName,
  numClasses: number,
  seed: number,
): SegmentationModel {
  if (name === 'deeplab-resnet18' || name === 'deeplab-resnet50') {
    return deeplabV3Plus({
      encoder: name === 'deeplab-resnet18' ? 'resnet18' : 'resnet50',
      numClasses,
      seed,
    } as DeepLabV3PlusOptions);
  }
  return ladderDenseNet({ preset: name, numClasses, seed });
}

function backboneFromConfig(config: ModelConfig['backbone']): SegmentationModel {
  const { architecture, ...options } = config;
  if (architecture === 'ladderDenseNet') return ladderDenseNet(options as LadderDenseNetOptions);
  if (architecture === 'deeplabV3Plus') return deeplabV3Plus(options as DeepLabV3PlusOptions);
  throw new DenseHybridError(
    'MODEL_LOAD',
    `--checkpoint: expected backbone architecture "ladderDenseNet" or "deeplabV3Plus", got ${JSON.stringify(architecture)}`,
  );
}

/**
 * Builds a backbone + posterior head from a {@link ModelConfig}. The caller disposes the model.
 *
 * @example
 * ```ts
 * const model = buildModel(ckpt.config as ModelConfig);
 * ```
 */
export function buildModel(config: ModelConfig): DenseHybridModel {
  const backbone = backboneFromConfig(config.backbone);
  return createDenseHybridModel({
    backbone,
    head: datasetPosteriorHead({ channels: config.head.channels }),
  });
}

/**
 * The model config of a fresh LDN of `preset` with K classes.
 *
 * @example
 * ```ts
 * const config = modelConfigFor(model); // stored as the checkpoint's config
 * ```
 */
export function modelConfigFor(model: DenseHybridModel): ModelConfig {
  return {
    format: 'densehybrid/cli-model',
    backbone: model.backbone.config,
    head: { channels: model.backbone.preLogitChannels },
  };
}

async function isFile(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isFile() === true;
}

/**
 * Resolves `--checkpoint`: a run folder of `train` or the output folder of `demo` (their
 * `model/`), or a checkpoint folder itself (e.g. a run's `state/`).
 * @throws DenseHybridError `MODEL_LOAD` naming the path when neither is there
 *
 * @example
 * ```ts
 * await resolveCheckpointDir('runs/sh'); // 'runs/sh/model'
 * ```
 */
export async function resolveCheckpointDir(path: string): Promise<string> {
  if (await isFile(join(path, 'model', 'checkpoint.json'))) return join(path, 'model');
  if (await isFile(join(path, 'checkpoint.json'))) return path;
  throw new DenseHybridError(
    'MODEL_LOAD',
    `--checkpoint: expected a run folder from \`densehybrid train\` or \`densehybrid demo\` (with model/checkpoint.json) or a checkpoint folder, got ${path}`,
  );
}

/** A loaded model that scores images. */
export interface Detector {
  readonly model: DenseHybridModel;
  readonly numClasses: number;
  readonly classNames: readonly string[];
  readonly meta: ModelMeta;
  readonly config: ModelConfig;
  /** The checkpoint folder read. */
  readonly dir: string;
  /** Scores one image with `score` at its full size (plain arrays; no tensor survives). */
  score(image: RgbImage, score?: ScoreName): Promise<FrameScores>;
  /**
   * Every score of `names` from one forward pass, at the image's full size, plus the closed-set
   * prediction (plain arrays; no tensor survives).
   */
  scores(image: RgbImage, names: readonly ScoreName[]): Promise<MultiFrameScores>;
  dispose(): void;
}

/**
 * Loads a checkpoint written by `densehybrid train` or `densehybrid demo` (or any training state
 * of `@densehybrid/core`'s `train()` whose backbone is a ladder DenseNet or DeepLabV3+).
 *
 * @throws DenseHybridError `MODEL_LOAD` naming the checkpoint and what does not match
 * @example
 * ```ts
 * const det = await loadDetector('runs/sh');
 * const { scores, closed } = await det.score(image);
 * det.dispose();
 * ```
 */
export async function loadDetector(path: string): Promise<Detector> {
  const dir = await resolveCheckpointDir(path);
  const ckpt = await loadCheckpoint(dir);
  let model: DenseHybridModel | undefined;
  try {
    const config = ckpt.config as unknown as ModelConfig;
    if (
      (config.format !== 'densehybrid/cli-model' && config.format !== 'densehybrid/model') ||
      typeof config.backbone !== 'object' ||
      typeof config.head?.channels !== 'number'
    ) {
      throw new DenseHybridError(
        'MODEL_LOAD',
        `--checkpoint: expected a densehybrid model (config.format "densehybrid/cli-model" or "densehybrid/model") in ${dir}, got ${JSON.stringify(config.format ?? null)}`,
      );
    }
    model = buildModel(config);
    try {
      restoreVariables(model.variables, ckpt.variables);
    } catch (e) {
      throw new DenseHybridError(
        'MODEL_LOAD',
        `--checkpoint ${dir} does not match its architecture: ${(e as Error).message}`,
        { cause: e },
      );
    }
    const meta = ckpt.meta as unknown as ModelMeta;
    const m = model;
    let disposed = false;
    const K = model.numClasses;
    const classNames =
      Array.isArray(meta.classNames) && meta.classNames.length === K
        ? meta.classNames
        : Array.from({ length: K }, (_, k) => `class ${k}`);
    const scores = async (
      image: RgbImage,
      names: readonly ScoreName[],
    ): Promise<MultiFrameScores> => {
      const out = tf.tidy(() => {
        const x = tf.div(
          tf.tensor4d(image.data, [1, image.height, image.width, 3], 'float32'),
          255,
        ) as tf.Tensor4D;
        const { logits, posteriorLogits } = m.predict(x);
        return {
          s: names.map((n) => SCORE_FUNCTIONS[n](logits, posteriorLogits)),
          c: tf.cast(tf.argMax(logits, -1), 'int32'),
        };
      });
      try {
        const [closed, ...data] = await Promise.all([
          out.c.data() as Promise<Int32Array>,
          ...out.s.map((t) => t.data() as Promise<Float32Array>),
        ]);
        const byName: Record<string, Float32Array> = {};
        names.forEach((n, i) => (byName[n] = data[i] as Float32Array));
        return {
          width: image.width,
          height: image.height,
          scores: byName,
          closed: Uint8Array.from(closed as Int32Array),
        };
      } finally {
        for (const t of out.s) t.dispose();
        out.c.dispose();
      }
    };
    return {
      model: m,
      numClasses: K,
      classNames,
      meta,
      config,
      dir,
      scores,
      async score(image, score = 'hybrid') {
        const all = await scores(image, [score]);
        return { ...all, scores: all.scores[score] as Float32Array };
      },
      dispose() {
        if (disposed) return;
        disposed = true;
        m.dispose();
      },
    };
  } catch (e) {
    model?.dispose();
    throw e;
  } finally {
    disposeCheckpoint(ckpt);
  }
}

/**
 * Saves a model as a checkpoint folder (atomic replace) with the CLI's config and meta.
 *
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
    config: modelConfigFor(model) as unknown as Record<string, unknown>,
    variables: model.variables,
    meta: meta as unknown as Record<string, unknown>,
  });
}

/**
 * Rewrites a checkpoint's meta (e.g. a calibrated threshold), keeping its weights; atomic.
 * @throws DenseHybridError `MODEL_LOAD` / `IO`
 *
 * @example
 * ```ts
 * await updateModelMeta('runs/sh', (meta) => ({ ...meta, threshold }));
 * ```
 */
export async function updateModelMeta(
  path: string,
  update: (meta: ModelMeta) => ModelMeta,
): Promise<string> {
  const dir = await resolveCheckpointDir(path);
  const ckpt = await loadCheckpoint(dir);
  try {
    await saveCheckpoint(dir, {
      config: ckpt.config,
      variables: ckpt.variables,
      ...(ckpt.optimizer ? { optimizer: ckpt.optimizer } : {}),
      meta: update(ckpt.meta as unknown as ModelMeta) as unknown as Record<string, unknown>,
    });
  } finally {
    disposeCheckpoint(ckpt);
  }
  return dir;
}
