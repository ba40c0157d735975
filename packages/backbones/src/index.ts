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

export {
  deeplabV3PlusWrn38,
  DEFAULT_DEEPLAB_V3_PLUS_WRN38_OPTIONS,
  WRN38_WASM_MAX_PIXELS,
} from './wrn38.js';
export type {
  DeepLabV3PlusWrn38,
  DeepLabV3PlusWrn38Options,
  DeepLabV3PlusWrn38Config,
} from './wrn38.js';

export { loadWeights, DEFAULT_LOAD_WEIGHTS_OPTIONS } from './weights.js';
export type { LoadWeightsOptions, LoadWeightsResult } from './weights.js';

export { createBackbone, BACKBONE_NAMES } from './build.js';
export type { BackboneConfig, BackboneName } from './build.js';

export { batchNorm2d } from './layers.js';
export type { BatchNormVariables } from './layers.js';

export { isTraceableSegmentationModel } from './layers.js';
export type {
  Ops,
  Shape4,
  ConvParams,
  BatchNormParams,
  InputNormalization,
  TraceableSegmentationModel,
} from './layers.js';

export {
  readTorchCheckpoint,
  parseTorchCheckpoint,
  TORCH_PICKLE_GLOBALS,
  TORCH_STORAGE_DTYPES,
  STATE_DICT_KEYS,
  DEFAULT_READ_TORCH_CHECKPOINT_OPTIONS,
} from './torch-checkpoint.js';
export type {
  ReadTorchCheckpointOptions,
  StateDictFile,
  PickleValue,
  TorchStorage,
  TorchTensor,
} from './torch-checkpoint.js';
