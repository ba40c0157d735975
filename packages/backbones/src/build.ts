import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { deeplabV3Plus, type DeepLabV3PlusOptions } from './deeplab.js';
import { ladderDenseNet, type LadderDenseNetOptions } from './ladder-densenet.js';
import { deeplabV3PlusWrn38, type DeepLabV3PlusWrn38Options } from './wrn38.js';
import type { SegmentationModel } from './model.js';

/**
 * Backbones by name (the CLI's `--backbone`): the LDN presets, the DeepLabV3+ encoders and the
 * authors' DeepLabV3+ on WideResNet-38 (`deeplabv3plus-wrn38`, {@link deeplabV3PlusWrn38}).
 *
 * @example
 * ```ts
 * BACKBONE_NAMES.includes('densenet121'); // true
 * ```
 */
export const BACKBONE_NAMES = [
  'tiny',
  'small',
  'densenet121',
  'deeplab-resnet18',
  'deeplab-resnet50',
  'deeplabv3plus-wrn38',
] as const;
/** One of {@link BACKBONE_NAMES}. */
export type BackboneName = (typeof BACKBONE_NAMES)[number];

/** The options each {@link BACKBONE_NAMES} entry stands for (`architecture` + preset / encoder). */
const NAMED: Readonly<
  Record<
    BackboneName,
    | { readonly architecture: 'ladderDenseNet'; readonly preset: LadderDenseNetOptions['preset'] }
    | { readonly architecture: 'deeplabV3Plus'; readonly encoder: DeepLabV3PlusOptions['encoder'] }
    | { readonly architecture: 'deeplabV3PlusWrn38' }
  >
> = {
  tiny: { architecture: 'ladderDenseNet', preset: 'tiny' },
  small: { architecture: 'ladderDenseNet', preset: 'small' },
  densenet121: { architecture: 'ladderDenseNet', preset: 'densenet121' },
  'deeplab-resnet18': { architecture: 'deeplabV3Plus', encoder: 'resnet18' },
  'deeplab-resnet50': { architecture: 'deeplabV3Plus', encoder: 'resnet50' },
  'deeplabv3plus-wrn38': { architecture: 'deeplabV3PlusWrn38' },
};

/** Architecture names a stored config may carry (`config.architecture`). */
const ARCHITECTURES = ['ladderDenseNet', 'deeplabV3Plus', 'deeplabV3PlusWrn38'] as const;

/**
 * What {@link createBackbone} builds from: a backbone by name (a fresh one with K classes), or a
 * stored configuration — `model.config` of any backbone of this package, e.g. from a checkpoint
 * (`architecture` + the options of {@link ladderDenseNet} / {@link deeplabV3Plus}).
 */
export type BackboneConfig =
  | {
      readonly name: BackboneName;
      /** Known classes K. */
      readonly numClasses: number;
      /** Seed of the weight initialisation. @default 0 */
      readonly seed?: number;
    }
  | (Readonly<Record<string, unknown>> & { readonly architecture: string });

/**
 * The backbone factory: builds a ladder DenseNet or a DeepLabV3+ by name (`{ name, numClasses,
 * seed }`, name one of {@link BACKBONE_NAMES}) or from a stored `config` (dispatching on
 * `config.architecture` to {@link ladderDenseNet} or {@link deeplabV3Plus}; `model.config`
 * rebuilds the same architecture, and with the same seed the same initial weights).
 *
 * @param config - a name with K and seed, or a model's `config` (JSON).
 * @returns a freshly initialised model; the caller disposes it.
 * @throws DenseHybridError `INVALID_OPTION` for an unknown name or architecture, or invalid fields.
 * @example
 * ```ts
 * const ldn = createBackbone({ name: 'densenet121', numClasses: 19, seed: 1 }); // LDN-121
 * const copy = createBackbone(ldn.config); // same architecture (and initial weights)
 * ```
 */
export function createBackbone(config: BackboneConfig): SegmentationModel {
  const c = (config ?? {}) as Readonly<Record<string, unknown>>;
  if (!('architecture' in c) && 'name' in c) {
    const { name, numClasses, seed } = config as Extract<BackboneConfig, { name: BackboneName }>;
    if (!Object.hasOwn(NAMED, name)) {
      throw new DenseHybridError(
        'INVALID_OPTION',
        `createBackbone: expected name to be one of ${BACKBONE_NAMES.map((n) => `'${n}'`).join(', ')}, got ${describeValue(name)}`,
      );
    }
    const named = NAMED[name];
    if (named.architecture === 'deeplabV3PlusWrn38')
      return deeplabV3PlusWrn38({ numClasses, seed } as DeepLabV3PlusWrn38Options);
    return named.architecture === 'ladderDenseNet'
      ? ladderDenseNet({ preset: named.preset, numClasses, seed } as LadderDenseNetOptions)
      : deeplabV3Plus({ encoder: named.encoder, numClasses, seed } as DeepLabV3PlusOptions);
  }
  const { architecture, ...rest } = c;
  switch (architecture) {
    case 'ladderDenseNet':
      return ladderDenseNet(rest as LadderDenseNetOptions);
    case 'deeplabV3Plus':
      return deeplabV3Plus(rest as DeepLabV3PlusOptions);
    case 'deeplabV3PlusWrn38':
      return deeplabV3PlusWrn38(rest as DeepLabV3PlusWrn38Options);
    default:
      throw new DenseHybridError(
        'INVALID_OPTION',
        `createBackbone: expected config.architecture to be one of ${ARCHITECTURES.map((a) => `'${a}'`).join(', ')} (or config.name one of ${BACKBONE_NAMES.map((n) => `'${n}'`).join(', ')}), got ${describeValue(architecture)}`,
      );
  }
}
