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
export { registerTrainingKernels } from './kernels/register.js';

// hybrid head, anomaly scores, open-set fusion (issue 4)

// training loop (issue 8)
export { train, DEFAULT_TRAIN_OPTIONS } from './train/train.js';
export type {
  TrainOptions,
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
  PosteriorHeadLike,
} from './train/model.js';
export { cosineLearningRate } from './train/schedule.js';
export { DEFAULT_ADAM_OPTIONS } from './train/adam.js';
export type { AdamOptions } from './train/adam.js';
export { TRAINING_STATE_FORMAT_VERSION } from './train/checkpoint.js';
