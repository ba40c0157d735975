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
