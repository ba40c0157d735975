import * as tf from '@tensorflow/tfjs-core';
import {
  createSmlAccumulator,
  discriminativeScore,
  entropyScore,
  generativeScore,
  hybridScore,
  maxLogitScore,
  maxSoftmaxScore,
  smlScore,
  standardizedMaxLogit,
  type DenseHybridModel,
  type SmlStatistics,
} from '@densehybrid/core';
import type { DigitScenes, SceneSplit } from '@densehybrid/data-mixing';
import type { DemoTrackName } from './scenes.js';
import {
  BENCHMARK_PROTOCOLS,
  OpenIoU,
  anomalyCurves,
  anomalyMetrics,
  calibrateThreshold,
  openSetPrediction,
  type AnomalyCurvesResult,
} from '@densehybrid/metrics-openiou';

/** The anomaly scores the demo compares, in the order of its tables. */
export const DEMO_SCORES = [
  'max-softmax',
  'max-logit',
  'entropy',
  'SML',
  'std-max-logit',
  'generative',
  'discriminative',
  'hybrid',
] as const;
export type DemoScoreName = (typeof DEMO_SCORES)[number];

/** What the paper calls each score (for the report). */
export const SCORE_DESCRIPTIONS: Readonly<Record<DemoScoreName, string>> = {
  'max-softmax': '1 − max softmax(s) (Hendrycks & Gimpel)',
  'max-logit': '−max s',
  entropy: 'entropy of softmax(s)',
  SML: 'full SML (Jung et al., ICCV 2021): standardized max logit, then iterative boundary suppression (width 4, 4 iterations) and dilated smoothing (7×7 Gaussian, σ 1, dilation 6), the authors’ defaults',
  'std-max-logit':
    'standardized max logit alone (SML’s first step: −(max s − μ_ĉ)/σ_ĉ, per-class μ, σ fitted on training scenes)',
  generative: '−ln p̂(x) = −logsumexp(s) (energy; DenseHybrid generative component)',
  discriminative: 'P(d_out|x) = σ(g) (DenseHybrid discriminative component)',
  hybrid: 'ln P(d_out|x) − ln p̂(x) (DenseHybrid, eq. 6)',
};

/** Scores, predictions and labels of one split, pixel-flattened in scene order. */
export interface SplitOutputs {
  readonly scores: Readonly<Record<DemoScoreName, Float32Array>>;
  /** argmax over the K known classes. */
  readonly closed: Uint8Array;
  /** Ground truth 0..K (K anomaly), 255 ignore. */
  readonly labels: Uint8Array;
  /** 0 inlier, 1 anomaly, 255 ignore. */
  readonly binary: Uint8Array;
  /** Scene side. */
  readonly size: number;
}

function splitImages(split: SceneSplit, start: number, count: number): tf.Tensor4D {
  const px = split.size * split.size * 3;
  const data = new Float32Array(count * px);
  const src = split.images.subarray(start * px, (start + count) * px);
  for (let i = 0; i < data.length; i++) data[i] = (src[i] ?? 0) / 255;
  return tf.tensor4d(data, [count, split.size, split.size, 3]);
}

/** Fits SML statistics on (clean) training scenes. */
export async function fitSml(
  model: DenseHybridModel,
  scenes: DigitScenes,
  maxScenes: number,
  batch = 32,
): Promise<SmlStatistics> {
  const acc = createSmlAccumulator(scenes.numClasses);
  const n = Math.min(maxScenes, scenes.train.count);
  for (let start = 0; start < n; start += batch) {
    const count = Math.min(batch, n - start);
    const images = splitImages(scenes.train, start, count);
    const { logits, posteriorLogits } = model.predict(images);
    await acc.update(logits);
    tf.dispose([images, logits, posteriorLogits]);
  }
  return acc.result();
}

/** Runs the model over a split and returns every score per pixel. Reads with `await data()`. */
export async function scoreSplit(
  model: DenseHybridModel,
  split: SceneSplit,
  numClasses: number,
  sml: SmlStatistics,
  batch = 32,
): Promise<SplitOutputs> {
  const px = split.size * split.size;
  const total = split.count * px;
  const scores = Object.fromEntries(DEMO_SCORES.map((s) => [s, new Float32Array(total)])) as Record<
    DemoScoreName,
    Float32Array
  >;
  const closed = new Uint8Array(total);
  for (let start = 0; start < split.count; start += batch) {
    const count = Math.min(batch, split.count - start);
    const images = splitImages(split, start, count);
    const { logits, posteriorLogits } = model.predict(images);
    const maps: Record<DemoScoreName, tf.Tensor3D> = {
      'max-softmax': maxSoftmaxScore(logits),
      'max-logit': maxLogitScore(logits),
      entropy: entropyScore(logits),
      SML: smlScore(logits, sml),
      'std-max-logit': standardizedMaxLogit(logits, sml),
      generative: generativeScore(logits),
      discriminative: discriminativeScore(posteriorLogits),
      hybrid: hybridScore(logits, posteriorLogits),
    };
    const argmax = tf.argMax(logits, -1);
    for (const name of DEMO_SCORES) scores[name].set(await maps[name].data(), start * px);
    closed.set(await argmax.data(), start * px);
    tf.dispose([images, logits, posteriorLogits, argmax, ...Object.values(maps)]);
  }
  const binary = new Uint8Array(total);
  for (let i = 0; i < total; i++) {
    const l = split.labels[i] ?? 255;
    binary[i] = l === 255 ? 255 : l === numClasses ? 1 : 0;
  }
  return { scores, closed, labels: split.labels, binary, size: split.size };
}

/** Metrics of one score on one track. */
export interface ScoreMetrics {
  /** Average precision (step-wise), %. */
  readonly ap: number;
  /** FPR at TPR ≥ 95 %, %. */
  readonly fpr95: number;
  /** AUROC, %. */
  readonly auroc: number;
  /** Threshold calibrated on the validation split at TPR 95 %. */
  readonly threshold: number;
  /** open-mIoU over the K known classes (nanmean), % — threshold from validation. */
  readonly openMIoU: number;
  /** IoU of the anomaly class with that threshold, %. */
  readonly anomalyIoU: number;
}

/** Metrics of one track (near-OOD, seen family, unseen family). */
export interface TrackMetrics {
  readonly track: DemoTrackName;
  /** Closed-set mIoU over K classes (anomaly pixels ignored), %. */
  readonly closedMIoU: number;
  /** Closed-set IoU per known class, %. */
  readonly closedIoU: readonly number[];
  readonly anomalyPixelFraction: number;
  readonly scores: Readonly<Record<DemoScoreName, ScoreMetrics>>;
  /**
   * Diagnostic: AP and FPR95 of ln P(d_out|x) + λ·(−ln p̂(x)) on the test split for several λ
   * (λ = 1 is the hybrid score; λ → 0 the discriminative, λ → ∞ the generative ranking).
   */
  readonly hybridWeightSweep: readonly {
    readonly lambda: number;
    readonly ap: number;
    readonly fpr95: number;
  }[];
  /**
   * Diagnostic: AP / FPR95 with pixels within {@link BOUNDARY_BAND} px of an anomaly boundary
   * ignored (what remains once the stride-4 outputs' blur at object edges is set aside).
   */
  readonly interior: Readonly<
    Record<DemoScoreName, { readonly ap: number; readonly fpr95: number }>
  >;
  /** PR curves of the test split, per score. */
  readonly curves: Readonly<Record<DemoScoreName, AnomalyCurvesResult['pr']>>;
}

/** Half-width in pixels of the band around anomaly boundaries that {@link TrackMetrics.interior} ignores. */
export const BOUNDARY_BAND = 2;

/**
 * Binary labels with every pixel within `r` (Chebyshev distance) of a pixel of the other
 * class (inlier vs anomaly, per image) set to ignore (255).
 */
export function withoutBoundaryBand(binary: Uint8Array, size: number, r: number): Uint8Array {
  const out = Uint8Array.from(binary);
  const px = size * size;
  for (let base = 0; base < binary.length; base += px) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const v = binary[base + y * size + x];
        if (v === 255) continue;
        let edge = false;
        for (let dy = Math.max(0, y - r); dy <= Math.min(size - 1, y + r) && !edge; dy++) {
          for (let dx = Math.max(0, x - r); dx <= Math.min(size - 1, x + r); dx++) {
            const w = binary[base + dy * size + dx];
            if (w !== 255 && w !== v) {
              edge = true;
              break;
            }
          }
        }
        if (edge) out[base + y * size + x] = 255;
      }
    }
  }
  return out;
}

/** The λ values of {@link TrackMetrics.hybridWeightSweep}. */
const HYBRID_WEIGHTS = [0, 0.1, 0.25, 0.5, 1, 2, 4, 10] as const;

const pct = (x: number): number => Math.round(x * 10000) / 100;

/**
 * The demo's protocol: pooled pixels, FPR at TPR ≥ 95 %, open-mIoU nanmean, open-set maps with
 * `score > threshold` (the authors' `OpenModel.forward`).
 */
const DEMO = BENCHMARK_PROTOCOLS.demo;
const METRIC_OPTIONS = { tpr: DEMO.tpr, fprRule: DEMO.fprRule } as const;
const OPEN_SET_OPTIONS = { thresholdRule: DEMO.thresholdRule } as const;

/** Evaluates every score on a track: AP/FPR95/AUROC on test, open-mIoU with a val threshold. */
export function evaluateTrack(
  track: DemoTrackName,
  val: SplitOutputs,
  test: SplitOutputs,
  numClasses: number,
): TrackMetrics {
  const scores = {} as Record<DemoScoreName, ScoreMetrics>;
  const curves = {} as Record<DemoScoreName, AnomalyCurvesResult['pr']>;
  let closedMIoU = NaN;
  let closedIoU: number[] = [];
  for (const name of DEMO_SCORES) {
    const s = test.scores[name];
    const m = anomalyMetrics(s, test.binary, METRIC_OPTIONS);
    const { threshold } = calibrateThreshold(
      { scores: val.scores[name], labels: val.binary },
      { ...METRIC_OPTIONS, ...OPEN_SET_OPTIONS },
    );
    const open = openSetPrediction(test.closed, s, threshold, numClasses, OPEN_SET_OPTIONS);
    const iou = new OpenIoU({ numClasses })
      .add(test.labels, open, test.closed)
      .compute({ average: DEMO.average });
    closedMIoU = iou.closedMIoU ?? NaN;
    closedIoU = (iou.closedIoU ?? []).map(pct);
    scores[name] = {
      ap: pct(m.ap),
      fpr95: pct(m.fpr),
      auroc: pct(m.auroc),
      threshold,
      openMIoU: pct(iou.openMIoU),
      anomalyIoU: pct(iou.anomalyIoU),
    };
    curves[name] = anomalyCurves(s, test.binary, { maxPoints: 256 }).pr;
  }
  // ln σ(g) = hybrid − generative (both computed in a stable way by the score functions)
  const hybrid = test.scores.hybrid;
  const generative = test.scores.generative;
  const hybridWeightSweep = HYBRID_WEIGHTS.map((lambda) => {
    const w = new Float32Array(hybrid.length);
    for (let i = 0; i < w.length; i++) {
      const g = generative[i] ?? 0;
      w[i] = (hybrid[i] ?? 0) - g + lambda * g;
    }
    const m = anomalyMetrics(w, test.binary, METRIC_OPTIONS);
    return { lambda, ap: pct(m.ap), fpr95: pct(m.fpr) };
  });
  const interiorLabels = withoutBoundaryBand(test.binary, test.size, BOUNDARY_BAND);
  const interior = Object.fromEntries(
    DEMO_SCORES.map((name) => {
      const m = anomalyMetrics(test.scores[name], interiorLabels, METRIC_OPTIONS);
      return [name, { ap: pct(m.ap), fpr95: pct(m.fpr) }];
    }),
  ) as Record<DemoScoreName, { ap: number; fpr95: number }>;
  let anomalies = 0;
  let counted = 0;
  for (const b of test.binary) {
    if (b !== 255) counted++;
    if (b === 1) anomalies++;
  }
  return {
    track,
    closedMIoU: pct(closedMIoU),
    closedIoU,
    anomalyPixelFraction: anomalies / Math.max(1, counted),
    scores,
    hybridWeightSweep,
    interior,
    curves,
  };
}
