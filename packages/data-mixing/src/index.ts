export { DenseHybridError } from '@densehybrid/metrics-openiou';
export type { DenseHybridErrorCode } from '@densehybrid/metrics-openiou';

export type {
  RgbImage,
  LabelMap,
  DatasetSample,
  LabelKind,
  SegmentationDataset,
  SegmentationBatch,
  ModuleSpec,
} from './types.js';

// image I/O, resampling, random numbers (issue 7)
export { createRng, deriveSeed } from './rng.js';
export type { Rng, RngState } from './rng.js';
export {
  readImage,
  readLabel,
  decodeImage,
  writePng,
  assertRgbImage,
  assertLabelMap,
} from './image-io.js';
export type { GreyImage } from './image-io.js';
export { resizeImage, resizeLabel, resampleImage, resampleLabel, scaledSize } from './resample.js';
export type { ResampleWindow } from './resample.js';

// mixed-content images (issue 7)
export {
  jitterFlipCrop,
  DEFAULT_JITTER_FLIP_CROP_OPTIONS,
  DEEPLAB_JITTER_FLIP_CROP_OPTIONS,
  MEAN_COLORS,
} from './augment.js';
export type { JitterFlipCropOptions, JitterFlipCropResult } from './augment.js';
export {
  pasteNegatives,
  DEFAULT_PASTE_NEGATIVES_OPTIONS,
  DEEPLAB_PASTE_NEGATIVES_OPTIONS,
} from './paste.js';
export type {
  NegativeSource,
  NegativeMaskSource,
  PasteNegativesOptions,
  PasteNegativesResult,
  PastedNegative,
} from './paste.js';
export {
  createMixedContentTransform,
  openMixedContentTransform,
  DEFAULT_MIXED_CONTENT_OPTIONS,
  DEEPLAB_MIXED_CONTENT_OPTIONS,
} from './mixed-content.js';
export type {
  MixedContentOptions,
  SampleTransform,
  SampleTransformContext,
} from './mixed-content.js';

// dataset adapters (issue 7)
export {
  folderDataset,
  createFileDataset,
  openFromSpec,
  DEFAULT_FOLDER_DATASET_OPTIONS,
} from './datasets.js';
export type {
  FileSegmentationDataset,
  FileDatasetInit,
  FolderDatasetOptions,
  LabelTable,
  SamplePaths,
} from './datasets.js';
export {
  streetHazards,
  cityscapes,
  ade20kNegatives,
  fishyscapes,
  smiyc,
  STREET_HAZARDS_LABEL_TABLE,
  STREET_HAZARDS_CLASSES,
  CITYSCAPES_LABEL_TABLE,
  CITYSCAPES_CLASSES,
  ADE20K_LABEL_TABLE,
  BINARY_ANOMALY_LABEL_TABLE,
} from './benchmarks.js';
export type {
  StreetHazardsOptions,
  StreetHazardsSplit,
  CityscapesOptions,
  Ade20kOptions,
  FishyscapesOptions,
  SmiycOptions,
} from './benchmarks.js';

// opening a dataset by name (issue 14)
export {
  openDataset,
  splitFolds,
  DATASET_NAMES,
  DATASET_SPLITS,
  TRAINING_DATASET_NAMES,
} from './open-dataset.js';
export type { DatasetName, FolderAdapterOptions } from './open-dataset.js';

// loader (issue 7)
export { createLoader, toTensors, DEFAULT_LOADER_OPTIONS } from './loader.js';
export type {
  Loader,
  LoaderOptions,
  LoaderStats,
  SkippedSample,
  BatchTensors,
  EpochOptions,
} from './loader.js';
export { mixedContentBatches } from './training-batches.js';
export type { MixedContentBatchesOptions, MixedContentBatchesResult } from './training-batches.js';

// built-in scenes (issue 8)
export {
  buildDigitScenes,
  resolveDigitScenesOptions,
  DEFAULT_DIGIT_SCENES_OPTIONS,
} from './scenes/digit-scenes.js';
export type {
  DigitSceneSources,
  DigitScenesOptions,
  ResolvedDigitScenesOptions,
  DigitScenes,
  SceneSplit,
} from './scenes/digit-scenes.js';
export type { GlyphSet, GlyphStyle } from './scenes/compose.js';
export {
  sceneSplitDataset,
  digitSceneBatch,
  digitSceneBatches,
  DEFAULT_DIGIT_SCENE_BATCH_OPTIONS,
} from './scenes/batches.js';
export type { DigitSceneBatchOptions } from './scenes/batches.js';
export { loadDigitScenes, DIGIT_SCENES_FORMAT_VERSION } from './scenes/cache.js';
export type { LoadDigitScenesOptions, LoadDigitScenesResult } from './scenes/cache.js';

// score maps from any framework: npy / npz / HDF5 (SMIYC) / 16-bit PNG (issue 15)
export {
  readScoreMap,
  readClosedSetMap,
  scoreMapFormat,
  encodeSmiycScoreMap,
  writeSmiycScoreMap,
  smiycScoreMapPath,
  SCORE_MAP_FORMATS,
  SCORE_MAP_EXTENSIONS,
  SMIYC_SUBMISSION_DATASETS,
  SMIYC_SCORE_KEY,
  DEFAULT_READ_SCORE_MAP_OPTIONS,
  DEFAULT_READ_CLOSED_SET_MAP_OPTIONS,
  DEFAULT_WRITE_SMIYC_SCORE_MAP_OPTIONS,
} from './score-maps.js';
export type {
  ScoreMapFormat,
  ScoreMap,
  ClosedSetMap,
  ReadScoreMapOptions,
  ReadClosedSetMapOptions,
  WriteSmiycScoreMapOptions,
} from './score-maps.js';
