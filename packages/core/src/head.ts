import * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';

/** Options of {@link datasetPosteriorHead}. */
export interface DatasetPosteriorHeadOptions {
  /** Channels of the pre-logits `t` the head reads (LDN-121: 128; DeepLabV3+: 304). */
  readonly channels: number;
  /** Prefix of the variable names in {@link DatasetPosteriorHead.variables}. @default 'posterior_head' */
  readonly name?: string;
  /** Batch-norm ε. @default 1e-5 (PyTorch) */
  readonly epsilon?: number;
  /** Batch-norm momentum, PyTorch convention: running = (1 − m)·running + m·batch. @default 0.1 */
  readonly momentum?: number;
  /** Seed of the convolution's initialisation (PyTorch's default uniform ±1/√channels). @default random */
  readonly seed?: number;
}

/** Default options of {@link datasetPosteriorHead}. */
export const DEFAULT_DATASET_POSTERIOR_HEAD_OPTIONS = {
  name: 'posterior_head',
  epsilon: 1e-5,
  momentum: 0.1,
} as const satisfies Partial<DatasetPosteriorHeadOptions>;

/** Options of {@link DatasetPosteriorHead.apply}. */
export interface DatasetPosteriorHeadApplyOptions {
  /**
   * Training mode: batch norm normalises with the batch statistics and updates its running
   * statistics; otherwise it uses the running statistics.
   * @default false
   */
  readonly training?: boolean;
}

/**
 * DenseHybrid's dataset-posterior head g (paper eq. 4): BatchNorm → ReLU → Conv1×1 → one logit
 * per pixel, the logit of P(d_out | x).
 */
export interface DatasetPosteriorHead {
  /** Channels it expects. */
  readonly channels: number;
  /**
   * Every variable by a stable PyTorch-style name: `<name>.bn.weight`, `<name>.bn.bias`,
   * `<name>.bn.running_mean`, `<name>.bn.running_var`, `<name>.conv.weight` (HWIO `[1,1,C,1]`),
   * `<name>.conv.bias`. (The tf.Variable objects carry engine-unique names of their own.)
   */
  readonly variables: ReadonlyMap<string, tf.Variable>;
  /**
   * Posterior logits `[N, h, w, 1]` from pre-logits `[N, h, w, channels]`. The caller owns the
   * result. In training mode the running statistics are updated as a side effect.
   */
  apply(preLogits: tf.Tensor4D, options?: DatasetPosteriorHeadApplyOptions): tf.Tensor4D;
  /** BN weight and bias, conv weight and bias (what an optimizer updates). */
  trainableVariables(): tf.Variable[];
  /** Frees every variable. */
  dispose(): void;
}

/**
 * Creates the dataset-posterior head g of DenseHybrid: BatchNorm → ReLU → Conv1×1 with one
 * output channel, on any pre-logit tensor. σ(g(t)) = P(d_out | x).
 *
 * The authors' code uses two output channels and a softmax with channel 1 = d_out; that is
 * the same model with this head's conv weight = w₁ − w₀ and bias = b₁ − b₀.
 *
 * @param options see {@link DatasetPosteriorHeadOptions}
 * @returns a {@link DatasetPosteriorHead}; call `dispose()` to free its variables
 * @throws DenseHybridError `INVALID_OPTION` for a bad channel count, ε, momentum or name;
 *   `apply` throws `INVALID_INPUT` / `SHAPE_MISMATCH` for a wrong pre-logit tensor
 * @example
 * ```ts
 * import { datasetPosteriorHead, hybridScore } from '@densehybrid/core';
 * const head = datasetPosteriorHead({ channels: 128 });
 * const score = tf.tidy(() => {
 *   const { preLogits, logits } = model.apply(images);
 *   return hybridScore(logits, head.apply(preLogits), { size: [512, 1024] });
 * });
 * ```
 */
export function datasetPosteriorHead(options: DatasetPosteriorHeadOptions): DatasetPosteriorHead {
  const fn = 'datasetPosteriorHead';
  const channels = options?.channels;
  if (typeof channels !== 'number' || !Number.isInteger(channels) || channels < 1) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected options.channels to be a positive integer, got ${describeValue(channels)}`,
    );
  }
  const d = DEFAULT_DATASET_POSTERIOR_HEAD_OPTIONS;
  const name = options.name ?? d.name;
  if (typeof name !== 'string' || name === '') {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected options.name to be a non-empty string, got ${describeValue(name)}`,
    );
  }
  const epsilon = options.epsilon ?? d.epsilon;
  if (typeof epsilon !== 'number' || !(epsilon > 0) || !Number.isFinite(epsilon)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected options.epsilon to be a finite number > 0, got ${describeValue(epsilon)}`,
    );
  }
  const momentum = options.momentum ?? d.momentum;
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected options.momentum to be a number in [0, 1], got ${describeValue(momentum)}`,
    );
  }
  const bound = 1 / Math.sqrt(channels);
  const seed = options.seed;
  const init = tf.tidy(() => ({
    gamma: tf.ones([channels]),
    beta: tf.zeros([channels]),
    mean: tf.zeros([channels]),
    variance: tf.ones([channels]),
    kernel: tf.randomUniform([1, 1, channels, 1], -bound, bound, 'float32', seed),
    bias: tf.randomUniform(
      [1],
      -bound,
      bound,
      'float32',
      seed === undefined ? undefined : seed + 1,
    ),
  }));
  // tf.variable names must be unique in the engine: let tfjs pick them, expose stable keys.
  const gamma = tf.variable(init.gamma, true);
  const beta = tf.variable(init.beta, true);
  const runningMean = tf.variable(init.mean, false);
  const runningVar = tf.variable(init.variance, false);
  const kernel = tf.variable(init.kernel, true);
  const bias = tf.variable(init.bias, true);
  tf.dispose(Object.values(init));
  const variables = new Map<string, tf.Variable>([
    [`${name}.bn.weight`, gamma],
    [`${name}.bn.bias`, beta],
    [`${name}.bn.running_mean`, runningMean],
    [`${name}.bn.running_var`, runningVar],
    [`${name}.conv.weight`, kernel],
    [`${name}.conv.bias`, bias],
  ]);
  let disposed = false;

  function apply(
    preLogits: tf.Tensor4D,
    applyOptions: DatasetPosteriorHeadApplyOptions = {},
  ): tf.Tensor4D {
    const afn = 'datasetPosteriorHead.apply';
    if (disposed) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${afn}: expected a live head, got one that was disposed`,
      );
    }
    if (
      !(preLogits instanceof tf.Tensor) ||
      preLogits.rank !== 4 ||
      preLogits.dtype !== 'float32'
    ) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${afn}: expected preLogits to be a float32 tensor [N,h,w,${channels}], got ${preLogits instanceof tf.Tensor ? `Tensor[${preLogits.shape.join(',')}] ${preLogits.dtype}` : describeValue(preLogits)}`,
      );
    }
    if (preLogits.shape[3] !== channels) {
      throw new DenseHybridError(
        'SHAPE_MISMATCH',
        `${afn}: expected preLogits to have ${channels} channels, got [${preLogits.shape.join(',')}]`,
      );
    }
    const training = applyOptions.training ?? false;
    const [n, h, w] = preLogits.shape;
    return tf.tidy(() => {
      let mean: tf.Tensor = runningMean;
      let variance: tf.Tensor = runningVar;
      if (training) {
        // biased batch variance normalises (PyTorch); the running estimate gets the unbiased one
        const moments = tf.moments(preLogits, [0, 1, 2]);
        mean = moments.mean;
        variance = moments.variance;
        const count = n * h * w;
        const unbiased = count > 1 ? tf.mul(variance, count / (count - 1)) : variance;
        runningMean.assign(tf.add(tf.mul(runningMean, 1 - momentum), tf.mul(mean, momentum)));
        runningVar.assign(tf.add(tf.mul(runningVar, 1 - momentum), tf.mul(unbiased, momentum)));
      }
      // y = (x − μ)·γ/√(σ² + ε) + β = x·scale + (β − μ·scale): one multiply-add per element
      const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, epsilon)));
      const shift = tf.sub(beta, tf.mul(mean, scale));
      // inference: one fused pass (a 1×1 depthwise conv with bias and ReLU, 2× faster on wasm);
      // training: plain ops, differentiable on every backend
      const activated = training
        ? tf.relu(tf.add(tf.mul(preLogits, scale), shift))
        : tf.fused.depthwiseConv2d({
            x: preLogits,
            filter: tf.reshape(scale, [1, 1, channels, 1]) as tf.Tensor4D,
            strides: 1,
            pad: 'valid',
            bias: shift,
            activation: 'relu',
          });
      // Conv1×1 with one output channel = a [N·h·w, C] × [C, 1] product (no conv backprop kernel needed)
      const flat = tf.reshape(activated, [n * h * w, channels]);
      const out = tf.add(tf.matMul(flat, tf.reshape(kernel, [channels, 1])), bias);
      return tf.reshape(out, [n, h, w, 1]) as tf.Tensor4D;
    });
  }

  return {
    channels,
    variables,
    apply,
    trainableVariables: () => [gamma, beta, kernel, bias],
    dispose: () => {
      if (disposed) return;
      disposed = true;
      for (const v of variables.values()) v.dispose();
    },
  };
}
