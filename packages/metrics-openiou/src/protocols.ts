import type { AnomalyProtocol, FprRule } from './anomaly-metrics.js';
import {
  DEFAULT_COMPONENT_METRICS_OPTIONS,
  SMIYC_OBSTACLE_TRACK,
  type ComponentMetricsOptions,
} from './components.js';
import type {
  CalibrationResampling,
  ClosedPooling,
  EmptyFrameRule,
  IgnoredPixelRule,
  ScoreRounding,
  ThresholdRule,
} from './conventions.js';
import type { OpenIoUAverage } from './open-iou.js';

/** The benchmarks {@link BENCHMARK_PROTOCOLS} describes (the CLI's `--dataset` names, and the demo). */
export type BenchmarkName =
  | 'streethazards'
  | 'cityscapes'
  | 'fishyscapes-lostandfound'
  | 'fishyscapes-static'
  | 'smiyc-anomaly'
  | 'smiyc-obstacle'
  | 'folder'
  | 'demo';

/**
 * What the ground truth of an evaluated fold holds: `anomaly` 0 inlier, 1 anomaly; `open-set`
 * 0..K−1 known classes, K anomaly; `semantic` 0..K−1 only (no anomaly class). Plus an ignore label.
 */
export type LabelKind = 'anomaly' | 'open-set' | 'semantic';

/**
 * Where the open-set threshold comes from: `cross-calibration` at the protocol's TPR on the
 * other of two folds (StreetHazards t5 ↔ t6, weighted by image count); `given` by the caller
 * (a checkpoint's calibrated threshold, `--threshold`, or a validation split as in the demo).
 */
export type OpenSetThresholdRule = 'cross-calibration' | 'given';

/**
 * How an evaluation keeps the scores for its pooled metrics: `'exact'` every non-ignored score
 * (4 bytes per pixel for float32 scores; what sorting every score, as bdlb and scikit-learn do,
 * gives), `'histogram'` one bin per float16 value (memory flat in the number of frames; exact for
 * float16 scores, float32 scores rounded to float16). Per-image metrics are exact in both.
 */
export type EvaluationMode = 'exact' | 'histogram';

/** SMIYC component metrics of a protocol: the size filters and τ values; threshold: best pooled pixel F1. */
export type BenchmarkComponents = Required<
  Omit<ComponentMetricsOptions, 'threshold' | 'thresholdRule'>
>;

/**
 * How a benchmark scores anomaly detection and open-set segmentation, each convention named as
 * its official code has it (README, "Conventions per benchmark").
 */
export interface BenchmarkProtocol {
  /** Pooled over all pixels (Fishyscapes, SMIYC) or averaged per image (StreetHazards). */
  readonly protocol: AnomalyProtocol;
  /** FPR rule of the benchmark's own evaluation code. */
  readonly fprRule: FprRule;
  /** Target TPR of FPR95 and of threshold calibration. */
  readonly tpr: number;
  /**
   * How thresholds turn scores into predictions (open-set map, component metrics): `'greater'`
   * (`score > threshold`) in SMIYC's and the DenseHybrid authors' code.
   */
  readonly thresholdRule: ThresholdRule;
  /** Per-image protocol: what frames without anomaly or inlier pixels count for. */
  readonly perImageEmptyFrames: EmptyFrameRule;
  /** What AP / AUROC / FPR do with ignored pixels (StreetHazards' `eval_ood.py`: inliers). */
  readonly ignoredPixels: IgnoredPixelRule;
  /** The precision the official code sees scores in (SMIYC: float16, Fishyscapes: float32). */
  readonly scoreRounding: ScoreRounding;
  /**
   * The evaluation mode that reproduces the official code for any score precision within
   * bounded memory: `'exact'` for Fishyscapes (bdlb sorts every float32 score; its sets are 30
   * and 100 frames), `'histogram'` elsewhere (SMIYC reads float16; StreetHazards' metrics are
   * per image, computed exactly from each frame's scores).
   */
  readonly mode: EvaluationMode;
  /**
   * SMIYC's leaderboard pixel metrics come from this many per-frame percentile bins (768); the
   * exact values are reported beside them. `null`: the exact (or histogram) values are the
   * reported ones.
   */
  readonly percentileBins: number | null;
  /** What the evaluated labels hold (the default of an {@link EvaluationSession} fold). */
  readonly labelKind: LabelKind;
  /** Where the open-set threshold comes from. */
  readonly openSetThreshold: OpenSetThresholdRule;
  /** The two test folds of cross-calibration (StreetHazards t5/t6). */
  readonly crossFolds?: readonly [string, string];
  /** FPR rule that picks the cross-calibration threshold (the authors: `'above'`). */
  readonly calibrationFprRule: FprRule;
  /**
   * Cross-calibration on score maps and labels resampled by this factor; 1 = full resolution.
   * The authors' StreetHazards code calibrates at 0.5.
   */
  readonly calibrationScale: number;
  /** How the calibration scores are resampled (labels: nearest); the authors: bilinear. */
  readonly calibrationResampling: CalibrationResampling;
  /** Closed mIoU over several folds: one confusion matrix (the authors) or image-weighted. */
  readonly closedPooling: ClosedPooling;
  /** open-mIoU mean over the K known classes. */
  readonly average: OpenIoUAverage;
  /** SMIYC component metrics (sIoU, PPV, mean F1) with their size filters, or null. */
  readonly components: BenchmarkComponents | null;
  /** The official files and functions whose conventions these are (for reports). */
  readonly officialCode: readonly string[];
}

const { thresholdRule: _componentRule, ...SMIYC_COMPONENTS } = DEFAULT_COMPONENT_METRICS_OPTIONS;

const BASE: Omit<BenchmarkProtocol, 'labelKind' | 'officialCode'> = Object.freeze({
  protocol: 'pooled',
  fprRule: 'at-least',
  tpr: 0.95,
  thresholdRule: 'greater',
  perImageEmptyFrames: 'skip',
  ignoredPixels: 'excluded',
  scoreRounding: 'as-given',
  mode: 'histogram',
  percentileBins: null,
  openSetThreshold: 'given',
  calibrationFprRule: 'above',
  calibrationScale: 1,
  calibrationResampling: 'bilinear',
  closedPooling: 'pooled',
  average: 'nanmean',
  components: null,
});

const SMIYC_CODE = [
  'SegmentMeIfYouCan/road-anomaly-benchmark road_anomaly_benchmark/metrics/pixel_classification.py: binary_confusion_matrix (bin_strategy "percentiles"), MetricPixelClassification.aggregate_dynamic_bins (config PixBinaryClass, 768 bins)',
  'road_anomaly_benchmark/metrics/pixel_classification_curves.py: curves_from_cmats',
  'road_anomaly_benchmark/metrics/instance_segmentation.py: default_instancer, segment_metrics, MetricSegment.aggregate',
];

const DENSEHYBRID_OSR = [
  'matejgrcic/DenseHybrid evaluate_osr.py: OODCalibration.calculate_ood_scores (scale 0.5) and calculate_stats, OpenModel.forward, evaluate_open_dataset, evaluate_closed_dataset',
];

/**
 * Every benchmark's protocol, as data. The defaults reproduce each benchmark's official code
 * (README, "Conventions per benchmark", names the file and function of every convention):
 *
 * | benchmark | pooling | FPR rule | threshold rule | labels | open-set threshold | mode | extra |
 * |---|---|---|---|---|---|---|---|
 * | `streethazards` | per-image (skip empty frames) | `nearest` | `>` | open-set, ignore = inlier for AP/FPR/AUROC | cross-calibration t5 ↔ t6: FPR rule `above`, ×0.5 bilinear | histogram (per-image metrics exact) | closed mIoU pooled |
 * | `cityscapes` | pooled | `at-least` | `>` | semantic | given | histogram | — |
 * | `fishyscapes-*` | pooled | `at-least` | `>` | anomaly | given | exact | float32 scores |
 * | `smiyc-anomaly` | pooled | `at-least` | `>` | anomaly | given | histogram | 768 percentile bins, float16, components 500 / 100 px |
 * | `smiyc-obstacle` | pooled | `at-least` | `>` | anomaly | given | histogram | 768 percentile bins, float16, components 50 / 10 px |
 * | `folder` | pooled | `at-least` | `>` | anomaly | given | histogram | — |
 * | `demo` | pooled | `at-least` | `>` | open-set | given (validation split) | histogram | — |
 *
 * All at TPR 0.95, open-mIoU `nanmean`. (The split layout of each dataset is
 * `@densehybrid/data-mixing`'s business.)
 *
 * @example
 * ```ts
 * const p = BENCHMARK_PROTOCOLS.streethazards;
 * p.protocol; // 'per-image'
 * p.crossFolds; // ['t5', 't6']
 * p.calibrationScale; // 0.5
 * BENCHMARK_PROTOCOLS['fishyscapes-static'].mode; // 'exact'
 * ```
 */
export const BENCHMARK_PROTOCOLS: Readonly<Record<BenchmarkName, BenchmarkProtocol>> =
  Object.freeze({
    streethazards: Object.freeze({
      ...BASE,
      protocol: 'per-image',
      fprRule: 'nearest',
      ignoredPixels: 'inliers',
      labelKind: 'open-set',
      openSetThreshold: 'cross-calibration',
      crossFolds: Object.freeze(['t5', 't6'] as const),
      calibrationScale: 0.5,
      officialCode: Object.freeze([
        'hendrycks/anomaly-seg eval_ood.py: eval_ood_measure (per image; frames without anomaly or inlier pixels skipped; every non-anomaly label an inlier)',
        'anom_utils.py: get_measures (roc_auc_score, average_precision_score), fpr_and_fdr_at_recall (TPR nearest 0.95)',
        ...DENSEHYBRID_OSR,
      ]),
    }),
    cityscapes: Object.freeze({
      ...BASE,
      labelKind: 'semantic',
      officialCode: Object.freeze([
        'matejgrcic/DenseHybrid utils/iou.py: IoU (one confusion matrix, np.nanmean)',
      ]),
    }),
    'fishyscapes-lostandfound': Object.freeze({
      ...BASE,
      labelKind: 'anomaly',
      scoreRounding: 'float32',
      mode: 'exact',
      officialCode: Object.freeze([
        'hermannsblum/bdl-benchmark bdlb/fishyscapes/benchmark.py: calculate_metrics_perpixAP',
      ]),
    }),
    'fishyscapes-static': Object.freeze({
      ...BASE,
      labelKind: 'anomaly',
      scoreRounding: 'float32',
      mode: 'exact',
      officialCode: Object.freeze([
        'hermannsblum/bdl-benchmark bdlb/fishyscapes/benchmark.py: calculate_metrics_perpixAP',
      ]),
    }),
    'smiyc-anomaly': Object.freeze({
      ...BASE,
      labelKind: 'anomaly',
      scoreRounding: 'float16',
      percentileBins: 768,
      components: Object.freeze({ ...SMIYC_COMPONENTS }),
      officialCode: Object.freeze([...SMIYC_CODE, 'config SegEval-AnomalyTrack (500 / 100 px)']),
    }),
    'smiyc-obstacle': Object.freeze({
      ...BASE,
      labelKind: 'anomaly',
      scoreRounding: 'float16',
      percentileBins: 768,
      components: Object.freeze({ ...SMIYC_COMPONENTS, ...SMIYC_OBSTACLE_TRACK }),
      officialCode: Object.freeze([...SMIYC_CODE, 'config SegEval-ObstacleTrack (50 / 10 px)']),
    }),
    folder: Object.freeze({
      ...BASE,
      labelKind: 'anomaly',
      officialCode: Object.freeze([
        'pooled pixels as hermannsblum/bdl-benchmark calculate_metrics_perpixAP',
      ]),
    }),
    demo: Object.freeze({
      ...BASE,
      labelKind: 'open-set',
      officialCode: Object.freeze([
        'pooled pixels as hermannsblum/bdl-benchmark calculate_metrics_perpixAP; open-set map as matejgrcic/DenseHybrid evaluate_osr.py OpenModel.forward',
      ]),
    }),
  } satisfies Record<BenchmarkName, BenchmarkProtocol>);
