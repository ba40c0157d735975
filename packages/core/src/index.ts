export { DenseHybridError } from '@densehybrid/metrics-openiou';
export type { DenseHybridErrorCode } from '@densehybrid/metrics-openiou';

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
  SCORES,
  SCORE_NAMES,
} from './scores.js';
export type {
  ScoreFunction,
  ScoreName,
  ScoreOptions,
  DiscriminativeScoreOptions,
  OdinScoreOptions,
  SmlStatistics,
  SmlAccumulator,
} from './scores.js';
export {
  smlScore,
  suppressBoundaries,
  dilatedSmoothing,
  smlGaussianKernel,
  DEFAULT_SML_SCORE_OPTIONS,
  DEFAULT_BOUNDARY_SUPPRESSION_OPTIONS,
  DEFAULT_DILATED_SMOOTHING_OPTIONS,
} from './sml.js';
export type {
  SmlScoreOptions,
  BoundarySuppressionOptions,
  DilatedSmoothingOptions,
} from './sml.js';
export { openSetSegmentation } from './open-set.js';

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
  DenseHybridDetectResult,
  PosteriorHeadLike,
} from './train/model.js';
export { cosineLearningRate } from './train/schedule.js';
export { DEFAULT_ADAM_OPTIONS } from './train/adam.js';
export type { AdamOptions } from './train/adam.js';

// model files and the detector (issue 14)
export {
  saveModel,
  updateModelMeta,
  modelConfig,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
} from './model-file.js';
export type { ModelConfig, ModelMeta, StoredThreshold } from './model-file.js';
export { loadModel, DEFAULT_DETECT_OPTIONS } from './detector.js';
export type {
  Detector,
  DetectorImage,
  DetectOptions,
  DetectResult,
  ScoreResult,
} from './detector.js';

// checkpoints (issue 14: moved from @densehybrid/backbones)
export {
  saveCheckpoint,
  loadCheckpoint,
  checkpointDigest,
  restoreVariables,
  disposeCheckpoint,
  withPrefix,
  DEFAULT_SAVE_CHECKPOINT_OPTIONS,
  DEFAULT_RESTORE_VARIABLES_OPTIONS,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
} from './checkpoint.js';
export type {
  Checkpoint,
  CheckpointInput,
  NamedTensor,
  OptimizerState,
  SaveCheckpointOptions,
  SaveCheckpointResult,
  RestoreVariablesOptions,
  RestoreVariablesResult,
} from './checkpoint.js';

// the authors' PyTorch checkpoints (issue 16)
export {
  importAuthorsCheckpoint,
  loadStateDict,
  formatAccounting,
  modelGroupOf,
  AUTHORS_ARCHITECTURES,
  MODEL_GROUPS,
  DEFAULT_SKIP_RULES,
  IMAGENET_SKIP_RULES,
  DEFAULT_LOAD_STATE_DICT_OPTIONS,
} from './import.js';
export type {
  AuthorsArchitecture,
  ModelGroup,
  SkipRule,
  GroupCount,
  LoadStateDictOptions,
  StateDictAccounting,
  ImportAuthorsCheckpointOptions,
  ImportAuthorsCheckpointResult,
} from './import.js';
