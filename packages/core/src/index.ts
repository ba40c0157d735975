export { DenseHybridError } from '@densehybrid/metrics-openiou';
export type { DenseHybridErrorCode } from '@densehybrid/metrics-openiou';

// backend setup (issue 2, 10)
export {
  initBackend,
  describeBackend,
  BACKEND_NAMES,
  DEFAULT_INIT_BACKEND_OPTIONS,
} from './backend.js';
export type { BackendName, BackendReport, InitBackendOptions } from './backend.js';
export {
  loadWebGpu,
  releaseWebGpu,
  isSoftwareAdapter,
  adapterName,
  DAWN_BACKEND_NAMES,
  DEFAULT_LOAD_WEBGPU_OPTIONS,
} from './backend-webgpu.js';
export type {
  DawnBackendName,
  LoadWebGpuOptions,
  LoadWebGpuResult,
  WebGpuAdapterReport,
} from './backend-webgpu.js';

// training kernels (issue 5)
export {
  registerTrainingKernels,
  WASM_TRAINING_KERNELS,
  TRAINING_GRADIENTS,
} from './kernels/register.js';
export type { RegisterTrainingKernelsResult } from './kernels/register.js';
export { batchNormTrain, DEFAULT_BATCH_NORM_TRAIN_OPTIONS } from './kernels/batch_norm.js';
export {
  setWasmSimdKernels,
  setWasmThreads,
  wasmFusedMultiplyAdd,
  wasmThreads,
  wasmThreadsReady,
} from './kernels/simd/options.js';
export type { WasmSimdKernels } from './kernels/simd/options.js';
export type { BatchNormTrainOptions, BatchNormTrainResult } from './kernels/batch_norm.js';
export {
  checkStepMemory,
  estimateStepMemory,
  guardWasmMemory,
  isOutOfMemory,
  microBatchSizes,
  WASM_HEAP_MAX_BYTES,
  DEFAULT_STEP_MEMORY_OPTIONS,
} from './memory.js';
export type {
  StepGeometry,
  StepMemoryModel,
  StepMemoryOptions,
  StepMemoryResult,
} from './memory.js';

// hybrid head, anomaly scores, open-set fusion (issue 4)
export { datasetPosteriorHead, DEFAULT_DATASET_POSTERIOR_HEAD_OPTIONS } from './head.js';
export type {
  DatasetPosteriorHead,
  DatasetPosteriorHeadOptions,
  DatasetPosteriorHeadApplyOptions,
} from './head.js';
export {
  hybridScore,
  generativeScore,
  discriminativeScore,
  maxSoftmaxScore,
  maxLogitScore,
  entropyScore,
  standardizedMaxLogit,
  createSmlAccumulator,
  fitSmlStatistics,
  odinScore,
  DEFAULT_SCORE_OPTIONS,
  DEFAULT_DISCRIMINATIVE_SCORE_OPTIONS,
  DEFAULT_ODIN_SCORE_OPTIONS,
} from './scores.js';
export type {
  ScoreOptions,
  DiscriminativeScoreOptions,
  OdinScoreOptions,
  SmlStatistics,
  SmlAccumulator,
} from './scores.js';
export { openSetSegmentation } from './open-set.js';

// training loop (issue 8)
export { train, trainingCheckpointConfig, DEFAULT_TRAIN_OPTIONS } from './train/train.js';
export type {
  TrainOptions,
  TrainingCheckpointConfig,
  TrainResult,
  TrainProgress,
  TrainHistoryEntry,
  TrainingBatch,
  TrainingLoss,
  TrainingLossInputs,
} from './train/train.js';
export { createDenseHybridModel } from './train/model.js';
export type {
  DenseHybridModel,
  DenseHybridModelOptions,
  DenseHybridForwardResult,
  DenseHybridDetectResult,
  PosteriorHeadLike,
} from './train/model.js';
export { cosineLearningRate } from './train/schedule.js';
export { DEFAULT_ADAM_OPTIONS } from './train/adam.js';
export type { AdamOptions } from './train/adam.js';
