export { DenseHybridError } from '@densehybrid/metrics-openiou';
export type { DenseHybridErrorCode } from '@densehybrid/metrics-openiou';

export type { SegmentationModel, SegmentationOutput, ApplyOptions } from './model.js';

export {
  ladderDenseNet,
  DEFAULT_LADDER_DENSENET_OPTIONS,
  LADDER_DENSENET_PRESETS,
  LADDER_DENSENET_PRESET_ARCHITECTURES,
} from './ladder-densenet.js';
export type {
  LadderDenseNet,
  LadderDenseNetOptions,
  LadderDenseNetConfig,
  LadderDenseNetPreset,
  LadderDenseNetArchitecture,
} from './ladder-densenet.js';
