import type * as tf from '@tensorflow/tfjs-core';

/**
 * What every segmentation network in this package returns for a batch of images.
 * Both tensors are owned by the caller (dispose them, or call inside `tf.tidy`).
 */
export interface SegmentationOutput {
  /** Features the classifier reads, `[N, H/s, W/s, C]` (LDN: s = 4, C = 128). */
  readonly preLogits: tf.Tensor4D;
  /** Class logits `[N, H/s', W/s', K]` at the network's output stride (not upsampled). */
  readonly logits: tf.Tensor4D;
}

/** Options of {@link SegmentationModel.apply}. */
export interface ApplyOptions {
  /**
   * Training mode: batch norm uses batch statistics and updates its running statistics.
   * @default false
   */
  readonly training?: boolean;
}

/**
 * A dense classifier that exposes its pre-logits, so that DenseHybrid's dataset-posterior
 * head can sit on top of it. Implemented by `ladderDenseNet` and `deeplabV3Plus`.
 */
export interface SegmentationModel {
  /** JSON-serialisable configuration that rebuilds this architecture (stored in checkpoints). */
  readonly config: Readonly<Record<string, unknown>> & {
    readonly architecture: string;
    readonly numClasses: number;
  };
  /** Number of known classes K. */
  readonly numClasses: number;
  /** Channels of `preLogits`. */
  readonly preLogitChannels: number;
  /** Output stride of `preLogits` (input size / pre-logit size). */
  readonly preLogitStride: number;
  /** Output stride of `logits`. */
  readonly outputStride: number;
  /**
   * Every weight by its stable name (PyTorch/torchvision-style, e.g. `features.conv0.weight`),
   * trainable ones and batch-norm running statistics alike. Stored in HWIO / tfjs layout.
   */
  readonly variables: ReadonlyMap<string, tf.Variable>;
  /**
   * Forward pass on `[N, H, W, 3]` float32 images in [0, 1]. Any H, W ≥ 1 (odd sizes allowed).
   * The caller owns the returned tensors.
   */
  apply(images: tf.Tensor4D, options?: ApplyOptions): SegmentationOutput;
  /** Trainable variables only (what an optimizer updates). */
  trainableVariables(): tf.Variable[];
  /** Number of scalar parameters (trainable + running statistics excluded: trainable only). */
  parameterCount(): number;
  /** Multiply-accumulate operations ×2 of one forward pass for one image of this size. */
  flops(height: number, width: number): number;
  /**
   * Peak bytes of the float32 tensors alive during one inference `apply` of one image of this
   * size (a shape walk of the forward pass, weights excluded; add `parameterCount()·4` plus
   * batch-norm statistics for the model itself). The package's backbones all have it.
   */
  activationBytes?(height: number, width: number): number;
  /**
   * How `logits` and the posterior logits are upsampled to label / image resolution: bilinear
   * with PyTorch's `align_corners=True` when true (the authors' DeepLabV3+ / WideResNet-38),
   * `align_corners=False` (half-pixel centres) when false or absent.
   */
  readonly upsampleAlignCorners?: boolean;
  /** Frees every variable. */
  dispose(): void;
}
