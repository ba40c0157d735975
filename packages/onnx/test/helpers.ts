import * as tf from '@tensorflow/tfjs-core';
import {
  BACKBONE_NAMES,
  createBackbone,
  type BackboneConfig,
  type BackboneName,
} from '@densehybrid/backbones';
import {
  SCORES,
  createDenseHybridModel,
  datasetPosteriorHead,
  type DenseHybridModel,
  type ScoreName,
} from '@densehybrid/core';

/** A backbone's stored config (what `createBackbone` rebuilds from). */
type ArchitectureConfig = Extract<BackboneConfig, { readonly architecture: string }>;

/** Known classes of the test models. */
export const K = 5;

/**
 * A preset's architecture for a fast test, without building the preset: the LDN presets as they
 * are; DeepLabV3+ (ResNet and WideResNet-38) with the full topology — blocks, strides, dilations,
 * ASPP rates, normalisation, `align_corners` upsampling — at reduced widths. A name added to
 * BACKBONE_NAMES later is built once for its config.
 */
export function testBackboneConfig(name: BackboneName): ArchitectureConfig {
  const narrow = { baseWidth: 16, asppChannels: 32, lowLevelChannels: 16, decoderChannels: 32 };
  const known: Partial<Record<BackboneName, ArchitectureConfig>> = {
    tiny: { architecture: 'ladderDenseNet', preset: 'tiny' },
    small: { architecture: 'ladderDenseNet', preset: 'small' },
    densenet121: { architecture: 'ladderDenseNet', preset: 'densenet121' },
    'deeplab-resnet18': { architecture: 'deeplabV3Plus', encoder: 'resnet18', ...narrow },
    'deeplab-resnet50': { architecture: 'deeplabV3Plus', encoder: 'resnet50', ...narrow },
    'deeplabv3plus-wrn38': { architecture: 'deeplabV3PlusWrn38', widthDivisor: 16 },
  };
  const config = known[name];
  if (config) return { ...config, numClasses: K };
  const fresh = createBackbone({ name, numClasses: K, seed: 1 });
  const built = { ...fresh.config };
  fresh.dispose();
  return built;
}

/**
 * A DenseHybrid model of `config` whose outputs have the scale of a trained network: the batch
 * norms' running statistics come from a training-mode forward pass (momentum 1) on test-like
 * images, BN biases are moved off zero, and the classifier and the head's conv are rescaled so
 * that logits span about ±8 and posterior logits about ±4 on those images.
 */
export function calibratedModel(config: ArchitectureConfig, seed = 2): DenseHybridModel {
  const backbone = createBackbone({ ...config, batchNormMomentum: 1, seed });
  const head = datasetPosteriorHead({
    channels: backbone.preLogitChannels,
    momentum: 1,
    seed: seed + 1,
  });
  const images = tf.tidy(() =>
    tf.div(
      tf.concat(
        [1, 2].map((s) => {
          const im = testImage(64, 48, seed + s);
          return tf.tensor4d(im.data, [1, 48, 64, 3], 'float32');
        }),
      ),
      255,
    ),
  ) as tf.Tensor4D;
  tf.tidy(() => {
    const { preLogits } = backbone.apply(images, { training: true });
    head.apply(preLogits, { training: true });
  });
  let i = 0;
  for (const [n, v] of backbone.variables) {
    i++;
    // no near-constant channel amplified by 1/√(var + ε) (two calibration images are few)
    if (n.endsWith('running_var')) tf.tidy(() => v.assign(tf.maximum(v, 0.01)));
    if (
      /(^|\.)(bn\d?|norm\d?|norm0)\.bias$|\.bn\d\.bias$/.test(n) ||
      (n.endsWith('.bias') && v.shape.length === 1 && v.shape[0] !== backbone.numClasses)
    )
      tf.tidy(() => v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', i))));
  }
  const model = createDenseHybridModel({ backbone, head });
  // rescale the layers that produce the logits ([.., K] weights, [K] bias) and the head's conv
  const peak = (t: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(t)).dataSync()[0] as number);
  const out = model.forward(images);
  const sLogits = 8 / peak(out.logits);
  const sPost = 4 / peak(out.posteriorLogits);
  tf.dispose([out.logits, out.posteriorLogits, images]);
  for (const v of backbone.variables.values()) {
    const last = v.shape[v.shape.length - 1];
    if (
      v.trainable &&
      last === backbone.numClasses &&
      (v.shape.length === 4 || v.shape.length === 1)
    )
      tf.tidy(() => v.assign(tf.mul(v, sLogits)));
  }
  for (const [n, v] of head.variables)
    if (n.endsWith('conv.weight') || n.endsWith('conv.bias'))
      tf.tidy(() => v.assign(tf.mul(v, sPost)));
  return model;
}

/** A deterministic 8-bit RGB test image with smooth structure and noise. */
export function testImage(
  width: number,
  height: number,
  seed = 0,
): { data: Uint8Array; width: number; height: number } {
  const data = new Uint8Array(width * height * 3);
  let s = seed * 7919 + 1;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < 3; c++) {
        s = (s * 1103515245 + 12345) >>> 0;
        const smooth = 127 + 100 * Math.sin((x * (c + 1)) / 7 + y / 5 + seed);
        data[(y * width + x) * 3 + c] = Math.max(
          0,
          Math.min(255, Math.round(smooth + ((s >>> 16) % 40) - 20)),
        );
      }
  return { data, width, height };
}

/** Every score of `SCORES` and the logits of the tfjs path, for an 8-bit image. */
export async function tfjsReference(
  model: DenseHybridModel,
  image: { data: Uint8Array; width: number; height: number },
): Promise<{
  logits: Float32Array;
  posteriorLogits: Float32Array;
  scores: Record<ScoreName, Float32Array>;
  closed: Int32Array;
}> {
  const x = tf.tidy(() =>
    tf.div(tf.tensor4d(image.data, [1, image.height, image.width, 3], 'float32'), 255),
  ) as tf.Tensor4D;
  const { logits, posteriorLogits } = model.predict(x);
  const scores = {} as Record<ScoreName, Float32Array>;
  for (const name of Object.keys(SCORES) as ScoreName[]) {
    const t = SCORES[name](logits, posteriorLogits);
    scores[name] = (await t.data()) as Float32Array;
    t.dispose();
  }
  const closedT = tf.argMax(logits, -1);
  const out = {
    logits: (await logits.data()) as Float32Array,
    posteriorLogits: (await posteriorLogits.data()) as Float32Array,
    scores,
    closed: (await closedT.data()) as Int32Array,
  };
  tf.dispose([x, logits, posteriorLogits, closedT]);
  return out;
}

/**
 * max |a − b| / max(1, max |b|): the error relative to the map's magnitude (∞-norm), floored at 1
 * — the range of the probability-valued scores (σ(g), 1 − max softmax), whose values near 0 carry
 * no relative precision in float32 on either runtime.
 */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths ${a.length} and ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return diff / Math.max(scale, 1);
}

/**
 * Pixels where two closed-set maps differ although the reference's top two logits are more than
 * `margin` apart (a genuine disagreement, not a near-tie that float rounding may flip).
 */
export function closedMismatches(
  closed: ArrayLike<number>,
  reference: ArrayLike<number>,
  logits: Float32Array,
  k: number,
  margin: number,
): number {
  let bad = 0;
  for (let p = 0; p < reference.length; p++) {
    if (closed[p] === reference[p]) continue;
    const row = Array.from(logits.subarray(p * k, (p + 1) * k)).sort((u, v) => v - u);
    if ((row[0] as number) - (row[1] as number) > margin) bad++;
  }
  return bad;
}

export { BACKBONE_NAMES };
