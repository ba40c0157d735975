import * as tf from '@tensorflow/tfjs-core';
import type { SegmentationModel } from '@densehybrid/backbones';
import { upsampleBilinear } from '@densehybrid/losses';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { hybridScore } from '../scores.js';

/**
 * What the training loop needs from a dataset-posterior head g (BN → ReLU → Conv1×1 on the
 * pre-logits): `datasetPosteriorHead` from this package satisfies it.
 */
export interface PosteriorHeadLike {
  /** Posterior logits `[N, h, w, 1]` (σ = P(d_out | x)); the caller owns the result. */
  apply(preLogits: tf.Tensor4D, options?: { readonly training?: boolean }): tf.Tensor4D;
  /** Every variable by stable name (trainable ones and batch-norm statistics). */
  readonly variables: ReadonlyMap<string, tf.Variable>;
  dispose(): void;
}

/** Options of {@link createDenseHybridModel}. */
export interface DenseHybridModelOptions {
  /** The dense classifier (e.g. `ladderDenseNet({ preset: 'tiny', numClasses })`). */
  readonly backbone: SegmentationModel;
  /** The dataset-posterior head on the backbone's pre-logits. */
  readonly head: PosteriorHeadLike;
}

/** Logits and posterior logits of a batch; both owned by the caller. */
export interface DenseHybridForwardResult {
  /** Class logits s, `[N, h, w, K]`. */
  readonly logits: tf.Tensor4D;
  /** Posterior logits g(t), `[N, h', w', 1]`. */
  readonly posteriorLogits: tf.Tensor4D;
}

/** Plain-array result of {@link DenseHybridModel.detect}, pixels row-major per image. */
export interface DenseHybridDetectResult {
  readonly batchSize: number;
  readonly height: number;
  readonly width: number;
  /** Hybrid anomaly score ln P(d_out|x) − logsumexp(s), higher = more anomalous, `N·H·W`. */
  readonly score: Float32Array;
  /** Closed-set prediction argmax_k s_k, `N·H·W`. */
  readonly closed: Int32Array;
  /** Open-set map (closed, or K where score ≥ threshold); only when a threshold was given. */
  readonly openSet?: Int32Array;
}

/** A backbone with its dataset-posterior head: what {@link train} trains. */
export interface DenseHybridModel {
  readonly backbone: SegmentationModel;
  readonly head: PosteriorHeadLike;
  /** Known classes K. */
  readonly numClasses: number;
  /** Every variable by stable name: `backbone.<name>` and `head.<name>`. */
  readonly variables: ReadonlyMap<string, tf.Variable>;
  /** Trainable variables by their backbone / head name, per group (`backbone`, `head`). */
  trainableGroups(): {
    readonly backbone: Map<string, tf.Variable>;
    readonly head: Map<string, tf.Variable>;
  };
  /**
   * Forward pass at the network's output resolution (what losses take: they upsample).
   * @returns tensors the caller owns
   */
  forward(images: tf.Tensor4D, options?: { readonly training?: boolean }): DenseHybridForwardResult;
  /**
   * Inference (batch-norm in eval mode): logits and posterior logits upsampled bilinearly
   * to the image size, as the scores expect (`align_corners=True` where the backbone's
   * `upsampleAlignCorners` says so, else half-pixel centres). Synchronous; the caller owns the
   * result.
   */
  predict(images: tf.Tensor4D): DenseHybridForwardResult;
  /**
   * Inference to plain arrays (read with `await data()`): the hybrid score and the closed-set
   * prediction at image size, plus the open-set map when `threshold` is given (unknown where
   * score ≥ threshold). `images` is not disposed.
   */
  detect(
    images: tf.Tensor4D,
    options?: { readonly threshold?: number },
  ): Promise<DenseHybridDetectResult>;
  /** Frees the backbone's and the head's variables. */
  dispose(): void;
}

function trainableOf(vars: ReadonlyMap<string, tf.Variable>): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  for (const [name, v] of vars) if (v.trainable) out.set(name, v);
  return out;
}

/**
 * Puts a dataset-posterior head on a backbone's pre-logits: the DenseHybrid model of the
 * paper (sec. 3.3, Fig. 3), with `forward` (training), `predict` (inference at image size)
 * and variable groups for per-group learning rates.
 *
 * @param options `{ backbone, head }`; the model takes ownership (its `dispose` frees both)
 * @returns a {@link DenseHybridModel}
 * @throws DenseHybridError `INVALID_INPUT` when backbone or head lack the expected members
 * @example
 * ```ts
 * const model = createDenseHybridModel({
 *   backbone: ladderDenseNet({ preset: 'tiny', numClasses: 7 }),
 *   head: datasetPosteriorHead({ channels: 128 }),
 * });
 * const { logits, posteriorLogits } = model.predict(images); // [N,H,W,7], [N,H,W,1]
 * const { score, openSet } = await model.detect(images, { threshold: 1.5 }); // plain arrays
 * ```
 */
export function createDenseHybridModel(options: DenseHybridModelOptions): DenseHybridModel {
  const { backbone, head } = options ?? ({} as DenseHybridModelOptions);
  if (!backbone || typeof backbone.apply !== 'function' || !(backbone.variables instanceof Map)) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `createDenseHybridModel: expected options.backbone to be a SegmentationModel, got ${describeValue(backbone)}`,
    );
  }
  if (!head || typeof head.apply !== 'function' || !(head.variables instanceof Map)) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `createDenseHybridModel: expected options.head to have apply() and a variables Map, got ${describeValue(head)}`,
    );
  }
  const variables = new Map<string, tf.Variable>();
  for (const [n, v] of backbone.variables) variables.set(`backbone.${n}`, v);
  for (const [n, v] of head.variables) variables.set(`head.${n}`, v);
  const forward = (
    images: tf.Tensor4D,
    o: { readonly training?: boolean } = {},
  ): DenseHybridForwardResult => {
    const training = o.training ?? false;
    return tf.tidy(() => {
      const { preLogits, logits } = backbone.apply(images, { training });
      const posteriorLogits = head.apply(preLogits, { training });
      return { logits, posteriorLogits };
    });
  };
  const predict = (images: tf.Tensor4D): DenseHybridForwardResult => {
    if (!(images instanceof tf.Tensor) || images.rank !== 4) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `DenseHybridModel.predict: expected images as a [N,H,W,3] tensor, got ${describeValue(images)}`,
      );
    }
    return tf.tidy(() => {
      const out = forward(images, { training: false });
      const size: [number, number] = [images.shape[1], images.shape[2]];
      // the backbone's choice: align_corners=True for the authors' DeepLabV3+ / WideResNet-38
      const up = { alignCorners: backbone.upsampleAlignCorners ?? false };
      return {
        logits: upsampleBilinear(out.logits, size, up),
        posteriorLogits: upsampleBilinear(out.posteriorLogits, size, up),
      };
    });
  };
  return {
    backbone,
    head,
    numClasses: backbone.numClasses,
    variables,
    trainableGroups: () => ({
      backbone: trainableOf(backbone.variables),
      head: trainableOf(head.variables),
    }),
    forward,
    predict,
    async detect(images, o = {}) {
      const threshold = o.threshold;
      if (threshold !== undefined && !Number.isFinite(threshold)) {
        throw new DenseHybridError(
          'INVALID_OPTION',
          `DenseHybridModel.detect: expected options.threshold to be a finite number, got ${describeValue(threshold)}`,
        );
      }
      const { logits, posteriorLogits } = predict(images);
      const [score, closed] = tf.tidy(() => [
        hybridScore(logits, posteriorLogits),
        tf.argMax(logits, -1),
      ]);
      try {
        const scoreData = (await score!.data()) as Float32Array;
        const closedData = (await closed!.data()) as Int32Array;
        const [batchSize, height, width] = score!.shape as [number, number, number];
        let openSet: Int32Array | undefined;
        if (threshold !== undefined) {
          openSet = new Int32Array(closedData.length);
          const k = backbone.numClasses;
          for (let i = 0; i < openSet.length; i++) {
            openSet[i] = (scoreData[i] ?? 0) >= threshold ? k : (closedData[i] ?? 0);
          }
        }
        return {
          batchSize,
          height,
          width,
          score: scoreData,
          closed: closedData,
          ...(openSet ? { openSet } : {}),
        };
      } finally {
        tf.dispose([logits, posteriorLogits, score!, closed!]);
      }
    },
    dispose() {
      backbone.dispose();
      head.dispose();
    },
  };
}
