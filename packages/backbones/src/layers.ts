import * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { batchNormTraining } from '@densehybrid/tfjs-wasm-training';
import type { ApplyOptions, SegmentationModel, SegmentationOutput } from './model.js';

/**
 * Building blocks shared by every backbone: named parameters (PyTorch names, tfjs layout), and a
 * tiny op interface ({@link Ops}) with two implementations — one that runs tensors, one that only
 * walks shapes and counts FLOPs — so that each architecture is written once.
 */

/** `[N, H, W, C]`. */
export type Shape4 = readonly [number, number, number, number];

/** A convolution's parameters; weight stored HWIO (`[kh, kw, in, out]`), PyTorch stores OIHW. */
export interface ConvParams {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | undefined;
  readonly kernel: number;
  readonly stride: number;
  /** Symmetric zero padding, as PyTorch's `padding=`. */
  readonly pad: number;
  readonly dilation: number;
  readonly inChannels: number;
  readonly outChannels: number;
}

/** Batch-norm parameters and running statistics (PyTorch `BatchNorm2d`). */
export interface BatchNormParams {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  readonly channels: number;
  readonly momentum: number;
  readonly epsilon: number;
}

/**
 * `prod(shape)` samples of N(0, std²): mulberry32 uniforms and Marsaglia's polar method (no
 * trigonometry; several times faster than `tf.randomNormal`, which matters for the 40 M
 * parameters of DeepLabV3+/ResNet-50).
 */
function gaussian(shape: readonly number[], std: number, seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let state = Math.imul(seed, 0x9e3779b9) >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2147483648 - 1; // in [−1, 1)
  };
  for (let i = 0; i < n; i += 2) {
    let u: number;
    let v: number;
    let r: number;
    do {
      u = uniform();
      v = uniform();
      r = u * u + v * v;
    } while (r >= 1 || r === 0);
    const f = std * Math.sqrt((-2 * Math.log(r)) / r);
    out[i] = u * f;
    if (i + 1 < n) out[i + 1] = v * f;
  }
  return out;
}

/** Creates named variables in a deterministic order; names are PyTorch `state_dict` keys. */
export class ParamStore {
  readonly variables = new Map<string, tf.Variable>();
  private readonly trainable: tf.Variable[] = [];
  private seed: number;
  private readonly scope: string;
  private static instances = 0;

  constructor(
    seed: number,
    private readonly bnMomentum: number,
    private readonly bnEpsilon: number,
  ) {
    this.seed = seed;
    ParamStore.instances += 1;
    this.scope = `densehybrid_backbone_${ParamStore.instances}`;
  }

  private add(name: string, value: tf.Tensor, trainable: boolean): tf.Variable {
    if (this.variables.has(name)) throw new Error(`ParamStore: duplicate parameter name ${name}`);
    const v = tf.variable(value, trainable, `${this.scope}/${name}`);
    value.dispose();
    this.variables.set(name, v);
    if (trainable) this.trainable.push(v);
    return v;
  }

  /** Kaiming-normal (fan-in, ReLU gain) initialised convolution, as torchvision does. */
  conv(
    name: string,
    inChannels: number,
    outChannels: number,
    kernel: number,
    options: { stride?: number; pad?: number; dilation?: number; bias?: boolean } = {},
  ): ConvParams {
    const stride = options.stride ?? 1;
    const dilation = options.dilation ?? 1;
    const pad = options.pad ?? Math.floor(kernel / 2) * dilation;
    const std = Math.sqrt(2 / (kernel * kernel * inChannels));
    this.seed += 1;
    const shape: [number, number, number, number] = [kernel, kernel, inChannels, outChannels];
    const weight = this.add(
      `${name}.weight`,
      tf.tensor4d(gaussian(shape, std, this.seed), shape),
      true,
    );
    const bias = options.bias ? this.add(`${name}.bias`, tf.zeros([outChannels]), true) : undefined;
    return { weight, bias, kernel, stride, pad, dilation, inChannels, outChannels };
  }

  /** Batch norm with weight 1, bias 0, running mean 0, running variance 1. */
  batchNorm(name: string, channels: number): BatchNormParams {
    return {
      weight: this.add(`${name}.weight`, tf.ones([channels]), true),
      bias: this.add(`${name}.bias`, tf.zeros([channels]), true),
      runningMean: this.add(`${name}.running_mean`, tf.zeros([channels]), false),
      runningVar: this.add(`${name}.running_var`, tf.ones([channels]), false),
      channels,
      momentum: this.bnMomentum,
      epsilon: this.bnEpsilon,
    };
  }

  trainableVariables(): tf.Variable[] {
    return [...this.trainable];
  }

  parameterCount(): number {
    return this.trainable.reduce((s, v) => s + v.size, 0);
  }

  dispose(): void {
    for (const v of this.variables.values()) v.dispose();
  }
}

/**
 * The operations an architecture is written in. `T` is a tensor when running and a shape when
 * counting FLOPs, so the same code defines both.
 */
export interface Ops<T> {
  shape(x: T): Shape4;
  conv(x: T, c: ConvParams): T;
  batchNorm(x: T, b: BatchNormParams): T;
  relu(x: T): T;
  add(a: T, b: T): T;
  concat(xs: readonly T[]): T;
  /** Bilinear resize: PyTorch `align_corners=False` (half-pixel centres) unless `alignCorners`. */
  resize(x: T, height: number, width: number, alignCorners?: boolean): T;
  maxPool(x: T, kernel: number, stride: number, pad: number): T;
  /** Average pool with `count_include_pad=False`. */
  avgPool(x: T, kernel: number, stride: number, pad: number): T;
  /** PyTorch `adaptive_avg_pool2d`. */
  adaptiveAvgPool(x: T, height: number, width: number): T;
}

/**
 * Batch normalisation of `[N, H, W, C]` over N, H, W, PyTorch `BatchNorm2d` semantics.
 *
 * Inference: `y = (x − running_mean) / √(running_var + ε) · weight + bias`.
 * Training: normalises with the batch mean and biased variance and updates the running statistics
 * in place (`running = (1 − momentum)·running + momentum·batch`, the running variance taking the
 * unbiased `var·n/(n−1)`; n = 1: no correction). Its gradient is the closed form
 * `∂x = weight·invStd/n · (n·∂y − Σ∂y − x̂·Σ(∂y·x̂))`, `∂weight = Σ(∂y·x̂)`, `∂bias = Σ∂y`
 * (sums over N, H, W), one fused step instead of differentiating through `tf.moments`.
 *
 * @param x - input `[N, H, W, C]`.
 * @param params - `weight`, `bias`, `runningMean`, `runningVar` (each `[C]`), `momentum`, `epsilon`.
 * @param options - `training` (default false).
 * @returns the normalised tensor; the caller owns it.
 * @example
 * ```ts
 * const y = batchNorm2d(x, { weight, bias, runningMean, runningVar, momentum: 0.1, epsilon: 1e-5 }, { training: true });
 * ```
 */
export function batchNorm2d(
  x: tf.Tensor4D,
  params: BatchNormVariables,
  options: { readonly training?: boolean } = {},
): tf.Tensor4D {
  const b = params;
  if (!(options.training ?? false)) {
    return tf.batchNorm4d(
      x,
      b.runningMean as tf.Tensor1D,
      b.runningVar as tf.Tensor1D,
      b.bias as tf.Tensor1D,
      b.weight as tf.Tensor1D,
      b.epsilon,
    );
  }
  const n = x.shape[0] * x.shape[1] * x.shape[2];
  const { y, mean, variance } = batchNormTraining(x, b.weight, b.bias, b.epsilon);
  tf.tidy(() => {
    const m = b.momentum;
    b.runningMean.assign(tf.add(tf.mul(b.runningMean, 1 - m), tf.mul(mean, m)));
    const unbiased = n > 1 ? tf.mul(variance, n / (n - 1)) : variance;
    b.runningVar.assign(tf.add(tf.mul(b.runningVar, 1 - m), tf.mul(unbiased, m)));
  });
  mean.dispose();
  variance.dispose();
  return y as tf.Tensor4D;
}

/** The tensors and settings {@link batchNorm2d} reads (running statistics are updated in training). */
export interface BatchNormVariables {
  readonly weight: tf.Tensor1D | tf.Variable;
  readonly bias: tf.Tensor1D | tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  /** PyTorch convention: `running = (1 − momentum)·running + momentum·batch`. */
  readonly momentum: number;
  readonly epsilon: number;
}

/** Output size of a conv/pool along one axis (PyTorch floor mode). */
function convOutSize(
  size: number,
  kernel: number,
  stride: number,
  pad: number,
  dilation = 1,
): number {
  return Math.floor((size + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** Walks shapes and sums conv FLOPs (2 × multiply-accumulates). */
class ShapeOps implements Ops<Shape4> {
  flops = 0;
  shape(x: Shape4): Shape4 {
    return x;
  }
  conv(x: Shape4, c: ConvParams): Shape4 {
    const h = convOutSize(x[1], c.kernel, c.stride, c.pad, c.dilation);
    const w = convOutSize(x[2], c.kernel, c.stride, c.pad, c.dilation);
    this.flops += 2 * x[0] * h * w * c.kernel * c.kernel * c.inChannels * c.outChannels;
    return [x[0], h, w, c.outChannels];
  }
  batchNorm(x: Shape4): Shape4 {
    return x;
  }
  relu(x: Shape4): Shape4 {
    return x;
  }
  add(a: Shape4): Shape4 {
    return a;
  }
  concat(xs: readonly Shape4[]): Shape4 {
    const first = xs[0] as Shape4;
    return [first[0], first[1], first[2], xs.reduce((s, x) => s + x[3], 0)];
  }
  resize(x: Shape4, height: number, width: number): Shape4 {
    return [x[0], height, width, x[3]];
  }
  maxPool(x: Shape4, kernel: number, stride: number, pad: number): Shape4 {
    return [
      x[0],
      convOutSize(x[1], kernel, stride, pad),
      convOutSize(x[2], kernel, stride, pad),
      x[3],
    ];
  }
  avgPool(x: Shape4, kernel: number, stride: number, pad: number): Shape4 {
    return this.maxPool(x, kernel, stride, pad);
  }
  adaptiveAvgPool(x: Shape4, height: number, width: number): Shape4 {
    return [x[0], height, width, x[3]];
  }
}

/**
 * `[out, size]` matrix whose row i averages input positions
 * `floor(i·size/out) … ceil((i+1)·size/out) − 1`, exactly PyTorch's adaptive pooling windows.
 */
function adaptivePoolMatrix(size: number, out: number): Float32Array {
  const m = new Float32Array(out * size);
  for (let i = 0; i < out; i++) {
    const start = Math.floor((i * size) / out);
    const end = Math.ceil(((i + 1) * size) / out);
    for (let j = start; j < end; j++) m[i * size + j] = 1 / (end - start);
  }
  return m;
}

/** Runs the ops on tensors; `training` switches batch norm to batch statistics. */
class TensorOps implements Ops<tf.Tensor4D> {
  constructor(private readonly training: boolean) {}

  shape(x: tf.Tensor4D): Shape4 {
    return x.shape;
  }

  conv(x: tf.Tensor4D, c: ConvParams): tf.Tensor4D {
    const y = tf.conv2d(
      x,
      c.weight as tf.Tensor4D,
      c.stride,
      c.pad === 0 ? 'valid' : c.pad,
      'NHWC',
      c.dilation,
    );
    return c.bias === undefined ? y : tf.add(y, c.bias);
  }

  batchNorm(x: tf.Tensor4D, b: BatchNormParams): tf.Tensor4D {
    return batchNorm2d(x, b, { training: this.training });
  }

  relu(x: tf.Tensor4D): tf.Tensor4D {
    return tf.relu(x);
  }

  add(a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D {
    return tf.add(a, b);
  }

  concat(xs: readonly tf.Tensor4D[]): tf.Tensor4D {
    return xs.length === 1 ? (xs[0] as tf.Tensor4D) : tf.concat([...xs], 3);
  }

  resize(x: tf.Tensor4D, height: number, width: number, alignCorners = false): tf.Tensor4D {
    if (x.shape[1] === height && x.shape[2] === width) return x;
    return tf.image.resizeBilinear(x, [height, width], alignCorners, !alignCorners);
  }

  maxPool(x: tf.Tensor4D, kernel: number, stride: number, pad: number): tf.Tensor4D {
    return tf.maxPool(x, kernel, stride, pad === 0 ? 'valid' : pad);
  }

  avgPool(x: tf.Tensor4D, kernel: number, stride: number, pad: number): tf.Tensor4D {
    if (pad === 0) return tf.avgPool(x, kernel, stride, 'valid');
    // count_include_pad=False, backend-independent: zero-pad explicitly, average over the full
    // window ('valid'), then rescale by k² / (number of real pixels in the window).
    const [, h, w] = x.shape;
    const padding: [number, number][] = [
      [0, 0],
      [pad, pad],
      [pad, pad],
      [0, 0],
    ];
    const mean = tf.avgPool(tf.pad(x, padding), kernel, stride, 'valid');
    const scale = tf.tidy(() => {
      const ones = tf.pad(tf.ones([1, h, w, 1]) as tf.Tensor4D, padding);
      return tf.div(1, tf.avgPool(ones, kernel, stride, 'valid'));
    });
    return tf.mul(mean, scale);
  }

  adaptiveAvgPool(x: tf.Tensor4D, height: number, width: number): tf.Tensor4D {
    const [n, h, w, c] = x.shape;
    // pooled = P_h · X · P_wᵀ with the averaging matrices of adaptivePoolMatrix.
    const ph = tf.tensor2d(adaptivePoolMatrix(h, height), [height, h]);
    const pw = tf.tensor2d(adaptivePoolMatrix(w, width), [width, w]);
    const xh = tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [h, n * w * c]);
    const yh = tf.reshape(tf.matMul(ph, xh), [height, n, w, c]);
    const xw = tf.reshape(tf.transpose(yh, [2, 1, 0, 3]), [w, n * height * c]);
    const yw = tf.reshape(tf.matMul(pw, xw), [width, n, height, c]);
    return tf.transpose(yw, [1, 2, 0, 3]) as tf.Tensor4D;
  }
}

/** Checks `images` is a float `[N, H, W, 3]` tensor; throws INVALID_INPUT otherwise. */
function checkImages(fn: string, images: unknown): asserts images is tf.Tensor4D {
  const t = images as tf.Tensor | undefined;
  if (
    t === null ||
    typeof t !== 'object' ||
    !Array.isArray((t as { shape?: unknown }).shape) ||
    t.rank !== 4 ||
    t.shape[3] !== 3 ||
    t.shape.some((d) => d < 1)
  ) {
    const got =
      t !== null && typeof t === 'object' && Array.isArray((t as { shape?: unknown }).shape)
        ? `shape ${JSON.stringify(t.shape)}`
        : describeValue(images);
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected images as a [N, H, W, 3] tensor with N, H, W >= 1, got ${got}`,
    );
  }
  if (t.dtype !== 'float32') {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected float32 images in [0, 1], got dtype ${t.dtype}`,
    );
  }
}

/** Throws INVALID_OPTION unless `value` is an integer ≥ `min`. */
export function checkInt(fn: string, name: string, value: unknown, min: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected ${name} to be an integer >= ${min}, got ${describeValue(value)}`,
    );
  }
}

/** Throws INVALID_OPTION unless `value` is a list of integers ≥ `min` of length `length`. */
export function checkIntList(
  fn: string,
  name: string,
  value: unknown,
  min: number,
  length?: number,
): void {
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    (length !== undefined && value.length !== length) ||
    value.some((v) => typeof v !== 'number' || !Number.isInteger(v) || v < min)
  ) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected ${name} to be ${length === undefined ? 'a non-empty list' : `a list of ${length}`} of integers >= ${min}, got ${describeValue(value)}`,
    );
  }
}

/** Throws INVALID_OPTION unless `lo < value <= hi`. */
export function checkRange(fn: string, name: string, value: unknown, lo: number, hi: number): void {
  if (typeof value !== 'number' || !(value > lo && value <= hi)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected ${name} in (${lo}, ${hi}], got ${describeValue(value)}`,
    );
  }
}

/** Python's round() (half to even), used where the authors' code rounds. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** A forward pass written against {@link Ops}, run on tensors and on shapes alike. */
export type Forward = <T>(ops: Ops<T>, images: T) => { preLogits: T; logits: T };

/**
 * Assembles a {@link SegmentationModel} from its parameters and forward pass: `apply` validates the
 * images and runs in `tf.tidy`; `flops` walks the same forward pass on shapes.
 */
export function segmentationModel<C extends SegmentationModel['config']>(spec: {
  readonly fn: string;
  readonly config: C;
  readonly store: ParamStore;
  readonly preLogitChannels: number;
  readonly preLogitStride: number;
  readonly outputStride: number;
  readonly forward: Forward;
  /** Applied to the images before the forward pass (tensors only). */
  readonly preprocess?: (images: tf.Tensor4D) => tf.Tensor4D;
}): SegmentationModel & { readonly config: C } {
  const { fn, config, store, forward } = spec;
  return {
    config,
    numClasses: config.numClasses,
    preLogitChannels: spec.preLogitChannels,
    preLogitStride: spec.preLogitStride,
    outputStride: spec.outputStride,
    variables: store.variables,
    apply(images: tf.Tensor4D, options: ApplyOptions = {}): SegmentationOutput {
      checkImages(`${fn}.apply`, images);
      const ops = new TensorOps(options.training ?? false);
      return tf.tidy(() =>
        forward(ops, spec.preprocess ? spec.preprocess(images) : images),
      ) as unknown as SegmentationOutput;
    },
    trainableVariables: () => store.trainableVariables(),
    parameterCount: () => store.parameterCount(),
    flops(height: number, width: number): number {
      checkInt(`${fn}.flops`, 'height', height, 1);
      checkInt(`${fn}.flops`, 'width', width, 1);
      const ops = new ShapeOps();
      forward<Shape4>(ops, [1, height, width, 3]);
      return ops.flops;
    },
    dispose: () => store.dispose(),
  };
}
