import type { AnomalyProtocol, FprRule } from './anomaly-metrics.js';
import {
  DEFAULT_COMPONENT_METRICS_OPTIONS,
  SMIYC_OBSTACLE_TRACK,
  type ComponentMetricsOptions,
} from './components.js';
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

/** SMIYC component metrics of a protocol: the size filters and τ values; threshold: best pooled pixel F1. */
export type BenchmarkComponents = Required<Omit<ComponentMetricsOptions, 'threshold'>>;

/**
 * How a benchmark scores anomaly detection and open-set segmentation (REFERENCE.md, "Metrics").
 * A pixel is unknown when `score >= threshold` ({@link openSetPrediction}); component metrics
 * predict `score >= ` the best pooled pixel-F1 threshold.
 */
export interface BenchmarkProtocol {
  /** Pooled over all pixels (Fishyscapes, SMIYC) or averaged per image (StreetHazards). */
  readonly protocol: AnomalyProtocol;
  /** FPR rule of the benchmark's own evaluation code (also picks the calibration point). */
  readonly fprRule: FprRule;
  /** Target TPR of FPR95 and of threshold calibration. */
  readonly tpr: number;
  /** What the evaluated labels hold (the default of an {@link EvaluationSession} fold). */
  readonly labelKind: LabelKind;
  /** Where the open-set threshold comes from. */
  readonly openSetThreshold: OpenSetThresholdRule;
  /** The two test folds of cross-calibration (StreetHazards t5/t6). */
  readonly crossFolds?: readonly [string, string];
  /**
   * Cross-calibration on score maps and labels resampled by this factor (nearest neighbour);
   * 1 = full resolution. The authors' StreetHazards code calibrates at 0.5.
   */
  readonly calibrationScale: number;
  /** open-mIoU mean over the K known classes. */
  readonly average: OpenIoUAverage;
  /** SMIYC component metrics (sIoU, PPV, mean F1) with their size filters, or null. */
  readonly components: BenchmarkComponents | null;
}

const POOLED: Omit<BenchmarkProtocol, 'labelKind'> = Object.freeze({
  protocol: 'pooled',
  fprRule: 'at-least',
  tpr: 0.95,
  openSetThreshold: 'given',
  calibrationScale: 1,
  average: 'nanmean',
  components: null,
});

/**
 * Every benchmark's protocol, as data:
 *
 * | benchmark | pooling | FPR rule | labels | open-set threshold | components |
 * |---|---|---|---|---|---|
 * | `streethazards` | per-image | `nearest` | open-set | cross-calibration t5 ↔ t6 | — |
 * | `cityscapes` | pooled | `at-least` | semantic | given | — |
 * | `fishyscapes-*` | pooled | `at-least` | anomaly | given | — |
 * | `smiyc-anomaly` | pooled | `at-least` | anomaly | given | sizes 500 / 100 |
 * | `smiyc-obstacle` | pooled | `at-least` | anomaly | given | sizes 50 / 10 |
 * | `folder` | pooled | `at-least` | anomaly | given | — |
 * | `demo` | pooled | `at-least` | open-set | given (validation split) | — |
 *
 * All at TPR 0.95, open-mIoU `nanmean`, calibration at full resolution. (The split layout of
 * each dataset is `@densehybrid/data-mixing`'s business.)
 *
 * @example
 * ```ts
 * const p = BENCHMARK_PROTOCOLS.streethazards;
 * p.protocol; // 'per-image'
 * p.crossFolds; // ['t5', 't6']
 * ```
 */
export const BENCHMARK_PROTOCOLS: Readonly<Record<BenchmarkName, BenchmarkProtocol>> =
  Object.freeze({
    streethazards: Object.freeze({
      ...POOLED,
      protocol: 'per-image',
      fprRule: 'nearest',
      labelKind: 'open-set',
      openSetThreshold: 'cross-calibration',
      crossFolds: Object.freeze(['t5', 't6'] as const),
    }),
    cityscapes: Object.freeze({ ...POOLED, labelKind: 'semantic' }),
    'fishyscapes-lostandfound': Object.freeze({ ...POOLED, labelKind: 'anomaly' }),
    'fishyscapes-static': Object.freeze({ ...POOLED, labelKind: 'anomaly' }),
    'smiyc-anomaly': Object.freeze({
      ...POOLED,
      labelKind: 'anomaly',
      components: DEFAULT_COMPONENT_METRICS_OPTIONS,
    }),
    'smiyc-obstacle': Object.freeze({
      ...POOLED,
      labelKind: 'anomaly',
      components: Object.freeze({ ...DEFAULT_COMPONENT_METRICS_OPTIONS, ...SMIYC_OBSTACLE_TRACK }),
    }),
    folder: Object.freeze({ ...POOLED, labelKind: 'anomaly' }),
    demo: Object.freeze({ ...POOLED, labelKind: 'open-set' }),
  } satisfies Record<BenchmarkName, BenchmarkProtocol>);
