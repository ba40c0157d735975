import type * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { deeplabV3Plus, type DeepLabV3PlusOptions } from './deeplab.js';
import { ladderDenseNet, type LadderDenseNetOptions } from './ladder-densenet.js';
import type { SegmentationModel } from './model.js';

/** Architecture names {@link buildModel} knows (`config.architecture`). */
export const ARCHITECTURES = ['ladderDenseNet', 'deeplabV3Plus'] as const;

/**
 * Rebuilds a model from its `config` (as stored in a checkpoint): dispatches on
 * `config.architecture` to {@link ladderDenseNet} or {@link deeplabV3Plus}.
 *
 * @param config - a model's `config` (JSON).
 * @returns a freshly initialised model of that architecture; the caller disposes it.
 * @throws DenseHybridError `INVALID_OPTION` for an unknown architecture or invalid fields.
 * @example
 * ```ts
 * const ckpt = await loadCheckpoint('runs/last');
 * const model = buildModel(ckpt.config);
 * restoreVariables(model, ckpt);
 * ```
 */
export function buildModel(config: Readonly<Record<string, unknown>>): SegmentationModel {
  const architecture = (config as { architecture?: unknown } | null)?.architecture;
  const { architecture: _, ...rest } = (config ?? {}) as Record<string, unknown>;
  switch (architecture) {
    case 'ladderDenseNet':
      return ladderDenseNet(rest as LadderDenseNetOptions);
    case 'deeplabV3Plus':
      return deeplabV3Plus(rest as DeepLabV3PlusOptions);
    default:
      throw new DenseHybridError(
        'INVALID_OPTION',
        `buildModel: expected config.architecture to be one of ${ARCHITECTURES.map((a) => `'${a}'`).join(', ')}, got ${describeValue(architecture)}`,
      );
  }
}

/** Names of a model's (ImageNet-pretrainable) encoder weights, by architecture. */
const ENCODER_NAME: Readonly<Record<(typeof ARCHITECTURES)[number], RegExp>> = {
  ladderDenseNet: /^backbone\./,
  deeplabV3Plus: /^(conv1|bn1|layer\d)\./,
};

/**
 * Splits a model's trainable variables into the encoder (the part ImageNet weights cover:
 * DenseNet features, ResNet) and the rest (SPP / upsampling path / ASPP / decoder / classifier),
 * e.g. for the authors' smaller learning rate on the pretrained encoder (LDN: lr/4).
 *
 * @param model - a model from this package.
 * @returns both lists, in `trainableVariables()` order.
 * @throws DenseHybridError `INVALID_OPTION` when `model.config.architecture` is unknown.
 * @example
 * ```ts
 * const { encoder, decoder } = splitEncoderVariables(model);
 * ```
 */
export function splitEncoderVariables(model: SegmentationModel): {
  readonly encoder: tf.Variable[];
  readonly decoder: tf.Variable[];
} {
  const architecture = model?.config?.architecture;
  const pattern = ENCODER_NAME[architecture as (typeof ARCHITECTURES)[number]];
  if (pattern === undefined) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `splitEncoderVariables: expected a model with config.architecture one of ${ARCHITECTURES.map((a) => `'${a}'`).join(', ')}, got ${describeValue(architecture)}`,
    );
  }
  const trainable = new Set(model.trainableVariables());
  const encoder: tf.Variable[] = [];
  const decoder: tf.Variable[] = [];
  for (const [name, v] of model.variables) {
    if (!trainable.has(v)) continue;
    (pattern.test(name) ? encoder : decoder).push(v);
  }
  return { encoder, decoder };
}
