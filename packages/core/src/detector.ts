import * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { SCORES, SCORE_NAMES, type ScoreName } from './scores.js';
import { createBackbone, type SegmentationModel } from '@densehybrid/backbones';
import { disposeCheckpoint, loadCheckpoint, restoreVariables } from './checkpoint.js';
import { datasetPosteriorHead } from './head.js';
import {
  readModelConfig,
  resolveCheckpointDir,
  type ModelConfig,
  type ModelMeta,
} from './model-file.js';
import {
  createDenseHybridModel,
  type DenseHybridForwardResult,
  type DenseHybridModel,
} from './train/model.js';

/**
 * An 8-bit RGB image, row-major (`data.length === width * height * 3`): the shape of
 * `@densehybrid/data-mixing`'s `RgbImage` and of `sharp(…).raw()` output.
 */
export interface DetectorImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** Options of {@link Detector.detect}. */
export interface DetectOptions<N extends ScoreName = ScoreName> {
  /** Scores to compute from the one forward pass (names of `SCORES`). @default ['hybrid'] */
  readonly scores?: readonly N[];
}

/**
 * Default options of {@link Detector.detect}.
 *
 * @example
 * ```ts
 * await detector.detect(image, DEFAULT_DETECT_OPTIONS); // the same as detect(image)
 * ```
 */
export const DEFAULT_DETECT_OPTIONS = { scores: ['hybrid'] } as const satisfies DetectOptions;

/** What {@link Detector.detect} returns: plain arrays at the image's full size, row-major. */
export interface DetectResult<N extends ScoreName = ScoreName> {
  readonly width: number;
  readonly height: number;
  /** Per requested score: `width * height` values, higher = more anomalous. */
  readonly scores: Readonly<Record<N, Float32Array>>;
  /** Closed-set prediction argmax_k s_k (`0..K-1`, K ≤ 255), `width * height`. */
  readonly closed: Uint8Array;
}

/** What {@link Detector.score} returns: one score map and the closed-set prediction. */
export interface ScoreResult {
  readonly width: number;
  readonly height: number;
  /** `width * height` values of the score, higher = more anomalous. */
  readonly scores: Float32Array;
  /** Closed-set prediction argmax_k s_k (`0..K-1`, K ≤ 255), `width * height`. */
  readonly closed: Uint8Array;
}

/**
 * A loaded DenseHybrid model that scores images (from `loadModel`), in the tfjs-models shape:
 * `predict` (sync, tensors the caller owns), `detect` (async, plain typed arrays; no tensor
 * survives the call), `dispose`.
 *
 * @example
 * ```ts
 * const detector = await loadModel('runs/sh');
 * const { logits, posteriorLogits } = detector.predict(images); // caller disposes both
 * const { scores, closed } = await detector.detect(image); // scores.hybrid: Float32Array
 * detector.dispose();
 * ```
 */
export interface Detector {
  /** The backbone + head; owned by the detector (freed by {@link Detector.dispose}). */
  readonly model: DenseHybridModel;
  /** Known classes K. */
  readonly numClasses: number;
  /** K class names (`meta.classNames`, or `class 0` … when the file has none that fit). */
  readonly classNames: readonly string[];
  /** The model file's meta (class names, dataset, steps, calibrated threshold …). */
  readonly meta: ModelMeta;
  /** The model file's config (older format names read as the current one). */
  readonly config: ModelConfig;
  /** The checkpoint folder read. */
  readonly dir: string;
  /**
   * Logits `[N,H,W,K]` and posterior logits `[N,H,W,1]` at the image size for images
   * `[N,H,W,3]` in [0, 1] (batch norm in eval mode). Synchronous; the caller disposes both
   * results; `images` is not disposed.
   */
  predict(images: tf.Tensor4D): DenseHybridForwardResult;
  /**
   * Scores one 8-bit RGB image (divided by 255) with every score of `options.scores` from one
   * forward pass, plus the closed-set prediction, at the image's full size.
   * @throws DenseHybridError `INVALID_INPUT` for a malformed image, `INVALID_OPTION` for an
   *   unknown score name
   */
  detect<N extends ScoreName = 'hybrid'>(
    image: DetectorImage,
    options?: DetectOptions<N>,
  ): Promise<DetectResult<N>>;
  /** One score (default `hybrid`) of one image: {@link Detector.detect} with one name. */
  score(image: DetectorImage, score?: ScoreName): Promise<ScoreResult>;
  /** Frees the model's variables (idempotent). */
  dispose(): void;
}

function checkImage(image: DetectorImage): void {
  const ok =
    image !== null &&
    typeof image === 'object' &&
    image.data instanceof Uint8Array &&
    Number.isInteger(image.width) &&
    image.width > 0 &&
    Number.isInteger(image.height) &&
    image.height > 0 &&
    image.data.length === image.width * image.height * 3;
  if (!ok) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `Detector.detect: expected an RGB image { data: Uint8Array(width·height·3), width, height }, got ${image?.data instanceof Uint8Array ? `${describeValue(image.data)} for ${image.width}×${image.height}` : describeValue(image)}`,
    );
  }
}

/** Wraps a model with its file's meta and config; the detector takes ownership of `model`. */
function createDetector(
  model: DenseHybridModel,
  file: { readonly meta: ModelMeta; readonly config: ModelConfig; readonly dir: string },
): Detector {
  const K = model.numClasses;
  const meta = file.meta;
  const classNames =
    Array.isArray(meta.classNames) && meta.classNames.length === K
      ? meta.classNames
      : Array.from({ length: K }, (_, k) => `class ${k}`);
  let disposed = false;
  const detect = async <N extends ScoreName>(
    image: DetectorImage,
    options: DetectOptions<N> = {},
  ): Promise<DetectResult<N>> => {
    checkImage(image);
    const names = (options.scores ?? DEFAULT_DETECT_OPTIONS.scores) as readonly N[];
    for (const n of names) {
      if (!Object.hasOwn(SCORES, n)) {
        throw new DenseHybridError(
          'INVALID_OPTION',
          `Detector.detect: expected options.scores from ${SCORE_NAMES.join(', ')}, got ${describeValue(n)}`,
        );
      }
    }
    const out = tf.tidy(() => {
      const x = tf.div(
        tf.tensor4d(image.data, [1, image.height, image.width, 3], 'float32'),
        255,
      ) as tf.Tensor4D;
      const { logits, posteriorLogits } = model.predict(x);
      return {
        s: names.map((n) => SCORES[n](logits, posteriorLogits)),
        c: tf.cast(tf.argMax(logits, -1), 'int32'),
      };
    });
    try {
      const [closed, ...data] = await Promise.all([
        out.c.data() as Promise<Int32Array>,
        ...out.s.map((t) => t.data() as Promise<Float32Array>),
      ]);
      const scores = {} as Record<N, Float32Array>;
      names.forEach((n, i) => (scores[n] = data[i] as Float32Array));
      return {
        width: image.width,
        height: image.height,
        scores,
        closed: Uint8Array.from(closed as Int32Array),
      };
    } finally {
      for (const t of out.s) t.dispose();
      out.c.dispose();
    }
  };
  return {
    model,
    numClasses: K,
    classNames,
    meta,
    config: file.config,
    dir: file.dir,
    predict: (images) => model.predict(images),
    detect,
    async score(image, score = 'hybrid') {
      const all = await detect(image, { scores: [score] });
      return { ...all, scores: all.scores[score] };
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      model.dispose();
    },
  };
}

/**
 * Loads a model file — a run folder of `densehybrid train` / `densehybrid demo` (its `model/`),
 * or a checkpoint folder written by `saveModel` or by `train()` (its training state) — as a
 * {@link Detector}. Files of the formats before `MODEL_FORMAT_VERSION`
 * (`densehybrid/cli-model`, unversioned `densehybrid/model`) load too.
 *
 * @param path - a run folder or a checkpoint folder.
 * @returns a detector that owns its model: call `dispose()` when done.
 * @throws DenseHybridError `MODEL_LOAD` naming the folder and what does not match (format,
 *   architecture, weights), `IO` when it cannot be read
 * @example
 * ```ts
 * const detector = await loadModel('runs/sh');
 * const { scores, closed } = await detector.detect(image, { scores: ['hybrid', 'max-logit'] });
 * detector.dispose();
 * ```
 */
export async function loadModel(path: string): Promise<Detector> {
  const fn = 'loadModel';
  const dir = await resolveCheckpointDir(fn, path);
  const ckpt = await loadCheckpoint(dir);
  let model: DenseHybridModel | undefined;
  try {
    const config = readModelConfig(fn, dir, ckpt.config);
    let backbone: SegmentationModel;
    try {
      backbone = createBackbone(config.backbone);
    } catch (e) {
      throw new DenseHybridError(
        'MODEL_LOAD',
        `${fn}: expected config.backbone of ${dir} to build a backbone, got ${(e as Error).message}`,
        { cause: e },
      );
    }
    try {
      model = createDenseHybridModel({
        backbone,
        head: datasetPosteriorHead({ channels: config.head.channels }),
      });
    } catch (e) {
      backbone.dispose();
      throw e;
    }
    try {
      restoreVariables(model.variables, ckpt.variables);
    } catch (e) {
      throw new DenseHybridError(
        'MODEL_LOAD',
        `${fn}: expected the weights of ${dir} to match its architecture (config), got: ${(e as Error).message}`,
        { cause: e },
      );
    }
    return createDetector(model, { meta: ckpt.meta as ModelMeta, config, dir });
  } catch (e) {
    model?.dispose();
    throw e;
  } finally {
    disposeCheckpoint(ckpt);
  }
}
