export { DenseHybridError } from '@densehybrid/metrics-openiou';
export type { DenseHybridErrorCode } from '@densehybrid/metrics-openiou';

export type {
  RgbImage,
  LabelMap,
  DatasetSample,
  LabelKind,
  SegmentationDataset,
  SegmentationBatch,
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
export {
  resizeImage,
  resizeLabel,
  resampleImage,
  resampleLabel,
  scaledSize,
} from './resample.js';
export type { ResampleWindow } from './resample.js';

// mixed-content images (issue 7)
export {
  jitterFlipCrop,
  DEFAULT_JITTER_FLIP_CROP_OPTIONS,
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
