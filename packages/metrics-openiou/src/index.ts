export { DenseHybridError, describeValue, listNames } from './errors.js';
export type { DenseHybridErrorCode, DenseHybridErrorOptions } from './errors.js';

export {
  anomalyMetrics,
  anomalyCurves,
  FPR_RULES,
  DEFAULT_ANOMALY_METRICS_OPTIONS,
  DEFAULT_ANOMALY_CURVES_OPTIONS,
} from './anomaly-metrics.js';
export type {
  AnomalyMetricsOptions,
  AnomalyMetricsResult,
  AnomalyCurvesOptions,
  AnomalyCurvesResult,
  AnomalyProtocol,
  FprRule,
} from './anomaly-metrics.js';

export {
  AnomalyMetricsAccumulator,
  DEFAULT_ANOMALY_METRICS_ACCUMULATOR_OPTIONS,
} from './accumulator.js';
export type {
  AccumulatorMode,
  AnomalyMetricsAccumulatorOptions,
  AnomalyMetricsComputeOptions,
  AnomalyMetricsAccumulatorJSON,
  FrameMetrics,
} from './accumulator.js';

export {
  calibrateThreshold,
  openSetPrediction,
  DEFAULT_CALIBRATE_THRESHOLD_OPTIONS,
} from './calibrate.js';
export type {
  CalibrateThresholdOptions,
  CalibrationResult,
  CalibrationSet,
  OpenSetPredictionOptions,
} from './calibrate.js';

export {
  THRESHOLD_RULES,
  CALIBRATION_RESAMPLINGS,
  CLOSED_POOLINGS,
  EMPTY_FRAME_RULES,
  IGNORED_PIXEL_RULES,
  SCORE_ROUNDINGS,
} from './conventions.js';
export type {
  ThresholdRule,
  CalibrationResampling,
  ClosedPooling,
  EmptyFrameRule,
  IgnoredPixelRule,
  ScoreRounding,
} from './conventions.js';

export { resampleBilinear, resampleNearest } from './resample.js';
export type { ResampledMap } from './resample.js';

export { PercentileBinsAccumulator, DEFAULT_PERCENTILE_BINS_OPTIONS } from './percentile-bins.js';
export type { PercentileBinsOptions, PercentileBinsJSON } from './percentile-bins.js';

export { OpenIoU, DEFAULT_OPEN_IOU_OPTIONS } from './open-iou.js';
export type {
  OpenIoUOptions,
  OpenIoUComputeOptions,
  OpenIoUResult,
  OpenIoUAverage,
  OpenIoUJSON,
} from './open-iou.js';

export { crossCalibrated, DEFAULT_CROSS_CALIBRATED_OPTIONS } from './cross-calibrated.js';
export type {
  CrossCalibratedOptions,
  CrossCalibratedResult,
  CrossFold,
  CrossFoldResult,
  OpenSetFrame,
} from './cross-calibrated.js';

export {
  componentMetrics,
  ComponentMetricsAccumulator,
  DEFAULT_COMPONENT_METRICS_OPTIONS,
  SMIYC_IOU_THRESHOLDS,
  SMIYC_OBSTACLE_TRACK,
} from './components.js';
export type {
  ComponentFrame,
  ComponentMetricsOptions,
  ComponentMetricsSearchOptions,
  ComponentMetricsResult,
  ComponentMetricsJSON,
  ComponentThresholdCounts,
} from './components.js';

export {
  roundToFloat16,
  toFloat16Bits,
  float16Bits,
  float16Value,
  fromFloat16Bits,
  float16OrderKey,
  FLOAT16_BINS,
} from './float16.js';

export { OpenSetSweep } from './open-set-sweep.js';
export type { OpenSetSweepJSON } from './open-set-sweep.js';

export { BENCHMARK_PROTOCOLS } from './protocols.js';
export type {
  BenchmarkName,
  BenchmarkProtocol,
  BenchmarkComponents,
  EvaluationMode,
  LabelKind,
  OpenSetThresholdRule,
} from './protocols.js';

export { EvaluationSession, binaryAnomalyLabels, metricsDocument } from './session.js';
export { openSetPassKey } from './session.js';
export type { OpenSetPassJSON } from './session.js';
export type {
  EvaluationSessionOptions,
  EvaluationSessionJSON,
  EvaluationFoldSpec,
  EvaluationFrame,
  ComponentPassFrame,
  EvaluationResult,
  EvaluationConventions,
  ScoreEvaluation,
  OpenSetEvaluation,
  EvaluationDocument,
  OpenSetDocument,
  LabelEncoding,
} from './session.js';

export { encodeNpy, decodeNpy, decodeNpyElements, DEFAULT_DECODE_NPY_OPTIONS } from './npy.js';
export type {
  NpyDtype,
  NpyResult,
  NpyReadDtype,
  NpyKind,
  NpyOutput,
  DecodeNpyOptions,
} from './npy.js';
export type { NumericArray } from './validate.js';
