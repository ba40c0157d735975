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

export {
  parseSafetensors,
  readSafetensors,
  decodeSafetensor,
  serializeSafetensors,
  writeSafetensors,
  halfToFloat,
  floatToHalf,
  SAFETENSORS_DTYPE_SIZES,
} from './safetensors.js';
export type {
  SafetensorsDtype,
  SafetensorsEntry,
  SafetensorsFile,
  SafetensorsTensorInput,
} from './safetensors.js';

export { deeplabV3Plus, DEFAULT_DEEPLAB_V3_PLUS_OPTIONS, RESNET_ENCODERS } from './deeplab.js';
export type {
  DeepLabV3Plus,
  DeepLabV3PlusOptions,
  DeepLabV3PlusConfig,
  ResNetEncoder,
} from './deeplab.js';

export { loadWeights, DEFAULT_LOAD_WEIGHTS_OPTIONS } from './weights.js';
export type { LoadWeightsOptions, LoadWeightsResult } from './weights.js';

export { createBackbone, BACKBONE_NAMES } from './build.js';
export type { BackboneConfig, BackboneName } from './build.js';

export { batchNorm2d } from './layers.js';
export type { BatchNormVariables } from './layers.js';
