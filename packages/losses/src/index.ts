export { DenseHybridError } from '@densehybrid/metrics-openiou';
export type { DenseHybridErrorCode } from '@densehybrid/metrics-openiou';

export {
  denseHybridLoss,
  DEFAULT_DENSE_HYBRID_LOSS_OPTIONS,
  DENSE_HYBRID_LOSS_VARIANTS,
} from './dense-hybrid.js';
export type {
  DenseHybridLossOptions,
  DenseHybridLossResult,
  DenseHybridLossVariant,
} from './dense-hybrid.js';

export {
  outlierExposureLoss,
  energyMarginLoss,
  entropyMaximizationLoss,
  DEFAULT_OUTLIER_EXPOSURE_LOSS_OPTIONS,
  DEFAULT_ENERGY_MARGIN_LOSS_OPTIONS,
  DEFAULT_ENTROPY_MAXIMIZATION_LOSS_OPTIONS,
} from './baselines.js';
export type {
  OutlierExposureLossOptions,
  OutlierExposureLossResult,
  EnergyMarginLossOptions,
  EnergyMarginLossResult,
  EntropyMaximizationLossOptions,
  EntropyMaximizationLossResult,
} from './baselines.js';

export { validateLossInputs, DEFAULT_PIXEL_LABEL_OPTIONS } from './validate.js';
export type {
  PixelLabelOptions,
  SegmentationLossInputs,
  DenseHybridLossInputs,
} from './validate.js';

export { upsampleBilinear } from './upsample.js';
export type { UpsampleBilinearOptions } from './upsample.js';
export { logSumExpLastAxis } from './log-sum-exp.js';
