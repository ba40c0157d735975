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
  /**
   * Channel dropout, PyTorch `Dropout2d`: in training each (sample, channel) map is zeroed with
   * probability `rate` and the rest scaled by `1 / (1 − rate)`; the identity in inference.
   * Optional: an implementation without it is inference-only (call through {@link dropout2d}).
   */
  dropout2d?(x: T, rate: number): T;
  /**
   * Runs `f` as one stage of the forward pass. In inference the tensors `f` creates are freed when
   * it returns (except its result), and so are `release` — inputs no later stage reads — so the
   * peak memory is that of one stage, not the sum of every activation. In training it only calls
   * `f` (the gradient tape keeps what backpropagation needs). Optional: without it a stage is
   * just `f()` (call through {@link stage}).
   */
  scope?<R extends T | readonly T[]>(f: () => R, release?: readonly T[]): R;
  /**
   * `relu(batchNorm(conv(x, c), b))`; in inference one fused op with the batch norm folded into
   * the convolution (one output tensor instead of three). Optional: call through
   * {@link convBnRelu}.
   */
  convBnRelu?(x: T, c: ConvParams, b: BatchNormParams): T;
  /**
   * `relu(batchNorm(x, b))`; in inference one fused op (a per-channel scale and shift with ReLU).
   * Optional: call through {@link bnRelu}.
   */
  bnRelu?(x: T, b: BatchNormParams): T;
}

/** {@link Ops.convBnRelu} where the ops have it, else `relu(batchNorm(conv(x)))`. */
export function convBnRelu<T>(ops: Ops<T>, x: T, c: ConvParams, b: BatchNormParams): T {
  return ops.convBnRelu ? ops.convBnRelu(x, c, b) : ops.relu(ops.batchNorm(ops.conv(x, c), b));
}

/** {@link Ops.bnRelu} where the ops have it, else `relu(batchNorm(x))`. */
export function bnRelu<T>(ops: Ops<T>, x: T, b: BatchNormParams): T {
  return ops.bnRelu ? ops.bnRelu(x, b) : ops.relu(ops.batchNorm(x, b));
}

/** {@link Ops.scope} where the ops have it, else `f()`. */
export function stage<T, R extends T | readonly T[]>(
  ops: Ops<T>,
  f: () => R,
  release?: readonly T[],
): R {
  return ops.scope ? ops.scope(f, release) : f();
}

/** {@link Ops.dropout2d} where the ops have it, else the identity (inference). */
export function dropout2d<T>(ops: Ops<T>, x: T, rate: number): T {
  return ops.dropout2d ? ops.dropout2d(x, rate) : x;
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

/**
 * Walks shapes: sums conv FLOPs (2 × multiply-accumulates) and models the float32 tensor memory
 * of an inference pass as {@link TensorOps} allocates it — every op output is a new tensor
 * (a conv with bias two), freed at the end of its {@link Ops.scope} unless returned, released
 * inputs freed after it, everything else kept to the end (`apply` runs in one `tf.tidy`).
 */
class ShapeOps implements Ops<Shape4> {
  flops = 0;
  /** Bytes of the tensors alive now / at most so far. */
  live = 0;
  peak = 0;
  private readonly bytes = new Map<Shape4, number>();
  private readonly frames: Set<Shape4>[] = [new Set()];

  private alloc(s: Shape4): Shape4 {
    const b = 4 * s[0] * s[1] * s[2] * s[3];
    this.bytes.set(s, b);
    (this.frames[this.frames.length - 1] as Set<Shape4>).add(s);
    this.live += b;
    this.peak = Math.max(this.peak, this.live);
    return s;
  }
  private free(s: Shape4): void {
    const b = this.bytes.get(s);
    if (b === undefined) return;
    this.bytes.delete(s);
    this.live -= b;
  }
  shape(x: Shape4): Shape4 {
    return x;
  }
  /** @param transientWeights - as `TensorOps`: a convolution holds a copy of its filter. */
  constructor(private readonly transientWeights = false) {}

  conv(x: Shape4, c: ConvParams): Shape4 {
    const h = convOutSize(x[1], c.kernel, c.stride, c.pad, c.dilation);
    const w = convOutSize(x[2], c.kernel, c.stride, c.pad, c.dilation);
    this.flops += 2 * x[0] * h * w * c.kernel * c.kernel * c.inChannels * c.outChannels;
    const copy = this.transientWeights
      ? this.alloc([c.kernel, c.kernel, c.inChannels, c.outChannels])
      : undefined;
    const y = this.alloc([x[0], h, w, c.outChannels]);
    if (copy) this.free(copy);
    return c.bias === undefined ? y : this.alloc([...y]);
  }
  batchNorm(x: Shape4): Shape4 {
    return this.alloc([...x]);
  }
  relu(x: Shape4): Shape4 {
    return this.alloc([...x]);
  }
  add(a: Shape4): Shape4 {
    return this.alloc([...a]);
  }
  concat(xs: readonly Shape4[]): Shape4 {
    const first = xs[0] as Shape4;
    if (xs.length === 1) return first;
    return this.alloc([first[0], first[1], first[2], xs.reduce((s, x) => s + x[3], 0)]);
  }
  resize(x: Shape4, height: number, width: number): Shape4 {
    if (x[1] === height && x[2] === width) return x;
    return this.alloc([x[0], height, width, x[3]]);
  }
  maxPool(x: Shape4, kernel: number, stride: number, pad: number): Shape4 {
    return this.alloc([
      x[0],
      convOutSize(x[1], kernel, stride, pad),
      convOutSize(x[2], kernel, stride, pad),
      x[3],
    ]);
  }
  avgPool(x: Shape4, kernel: number, stride: number, pad: number): Shape4 {
    return this.maxPool(x, kernel, stride, pad);
  }
  adaptiveAvgPool(x: Shape4, height: number, width: number): Shape4 {
    return this.alloc([x[0], height, width, x[3]]);
  }
  dropout2d(x: Shape4): Shape4 {
    return x;
  }
  // the fused ops hold the folded scale and shift (and filter, bias) while they run
  convBnRelu(x: Shape4, c: ConvParams): Shape4 {
    const h = convOutSize(x[1], c.kernel, c.stride, c.pad, c.dilation);
    const w = convOutSize(x[2], c.kernel, c.stride, c.pad, c.dilation);
    this.flops += 2 * x[0] * h * w * c.kernel * c.kernel * c.inChannels * c.outChannels;
    const o = c.outChannels;
    const folded = [
      this.alloc([1, 1, 2, o]),
      this.alloc([c.kernel, c.kernel, c.inChannels, o]),
      ...(c.bias === undefined ? [] : [this.alloc([1, 1, 2, o])]),
    ];
    const y = this.alloc([x[0], h, w, o]);
    for (const t of folded) this.free(t);
    return y;
  }
  bnRelu(x: Shape4): Shape4 {
    const folded = this.alloc([1, 1, 2, x[3]]);
    const y = this.alloc([...x]);
    this.free(folded);
    return y;
  }
  scope<R extends Shape4 | readonly Shape4[]>(f: () => R, release: readonly Shape4[] = []): R {
    this.frames.push(new Set());
    const result = f();
    const frame = this.frames.pop() as Set<Shape4>;
    const kept = new Set<Shape4>(isShape(result) ? [result] : (result as readonly Shape4[]));
    const outer = this.frames[this.frames.length - 1] as Set<Shape4>;
    for (const s of frame) {
      if (kept.has(s)) outer.add(s);
      else this.free(s);
    }
    for (const s of release) if (!kept.has(s)) this.free(s);
    return result;
  }
}

const isShape = (x: unknown): x is Shape4 =>
  Array.isArray(x) && x.length === 4 && typeof x[0] === 'number';

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

/** Inference batch norm as `x·s + shift`: `s = γ / √(σ² + ε)`, `shift = β − μ·s` (caller disposes). */
function foldBatchNorm(b: BatchNormParams): [tf.Tensor1D, tf.Tensor1D] {
  return tf.tidy(() => {
    const s = tf.div(b.weight, tf.sqrt(tf.add(b.runningVar, b.epsilon))) as tf.Tensor1D;
    return [s, tf.sub(b.bias, tf.mul(b.runningMean, s)) as tf.Tensor1D];
  });
}

/** Runs the ops on tensors; `training` switches batch norm to batch statistics. */
class TensorOps implements Ops<tf.Tensor4D> {
  /**
   * @param training - batch statistics, running statistics updated.
   * @param transientWeights - in inference, convolve with a per-call copy of each filter, freed
   *   right after: a backend then keeps no prepared copy of it between calls (wasm's XNNPACK
   *   keeps about twice the filter's size per convolution otherwise).
   */
  constructor(
    private readonly training: boolean,
    private readonly transientWeights = false,
  ) {}

  shape(x: tf.Tensor4D): Shape4 {
    return x.shape;
  }

  conv(x: tf.Tensor4D, c: ConvParams): tf.Tensor4D {
    const transient = this.transientWeights && !this.training;
    const filter = transient ? (tf.add(c.weight, 0) as tf.Tensor4D) : (c.weight as tf.Tensor4D);
    const y = tf.conv2d(x, filter, c.stride, c.pad === 0 ? 'valid' : c.pad, 'NHWC', c.dilation);
    if (transient) filter.dispose();
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
    // global pooling (DeepLab's image pooling): a mean, without the transposed copies below
    if (height === 1 && width === 1) return tf.mean(x, [1, 2], true);
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

  convBnRelu(x: tf.Tensor4D, c: ConvParams, b: BatchNormParams): tf.Tensor4D {
    if (this.training) return tf.relu(this.batchNorm(this.conv(x, c), b));
    // BN folded into the conv: relu(conv(x, W·s) + (bias − μ)·s + β), s = γ / √(σ² + ε)
    const [s, shift] = foldBatchNorm(b);
    const filter = tf.mul(c.weight, s) as tf.Tensor4D;
    const bias = c.bias === undefined ? shift : tf.add(shift, tf.mul(c.bias, s));
    const y = tf.fused.conv2d({
      x,
      filter,
      strides: c.stride,
      pad: c.pad === 0 ? 'valid' : c.pad,
      dataFormat: 'NHWC',
      dilations: c.dilation,
      bias,
      activation: 'relu',
    });
    tf.dispose([s, shift, filter, bias]); // free the folded weights (and backend caches of them)
    return y;
  }

  bnRelu(x: tf.Tensor4D, b: BatchNormParams): tf.Tensor4D {
    if (this.training) return tf.relu(this.batchNorm(x, b));
    // relu(x·s + β − μ·s) as a 1×1 depthwise conv with bias and ReLU: one output tensor
    const [s, shift] = foldBatchNorm(b);
    const filter = tf.reshape(s, [1, 1, b.channels, 1]) as tf.Tensor4D;
    const y = tf.fused.depthwiseConv2d({
      x,
      filter,
      strides: 1,
      pad: 'valid',
      bias: shift,
      activation: 'relu',
    });
    tf.dispose([s, shift, filter]);
    return y;
  }

  dropout2d(x: tf.Tensor4D, rate: number): tf.Tensor4D {
    if (!this.training || rate === 0) return x;
    const [n, , , c] = x.shape;
    // keep ~ Bernoulli(1 − rate) per sample and channel: floor(U[0, 1) + 1 − rate).
    const keep = tf.floor(tf.add(tf.randomUniform([n, 1, 1, c]), 1 - rate));
    return tf.mul(x, tf.div(keep, 1 - rate));
  }

  scope<R extends tf.Tensor4D | readonly tf.Tensor4D[]>(
    f: () => R,
    release: readonly tf.Tensor4D[] = [],
  ): R {
    if (this.training) return f();
    const result = tf.tidy(f as () => tf.Tensor4D | tf.Tensor4D[]) as unknown as R;
    const kept = new Set<tf.Tensor>(
      result instanceof tf.Tensor ? [result] : (result as readonly tf.Tensor4D[]),
    );
    for (const t of release) if (!kept.has(t) && !t.isDisposed) t.dispose();
    return result;
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
 * Per-channel normalisation `(x − mean) / std` that a network applies to its `[0, 1]` RGB input
 * before the first layer (DeepLabV3+: the ImageNet statistics). RGB order.
 */
export interface InputNormalization {
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}

/**
 * A {@link SegmentationModel} whose forward pass runs on any {@link Ops} implementation — what
 * `apply` (tensors) and `flops` (shapes) run, and what an exporter traces into a graph
 * (`@densehybrid/onnx`). Every model of this package's factories is one
 * ({@link isTraceableSegmentationModel}).
 */
export interface TraceableSegmentationModel extends SegmentationModel {
  /** The normalisation `apply` performs before the forward pass; undefined: raw `[0, 1]` RGB. */
  readonly inputNormalization: InputNormalization | undefined;
  /**
   * The forward pass on `ops` (batch norm as the ops implement it), **without**
   * {@link TraceableSegmentationModel.inputNormalization}: the caller normalises first.
   */
  applyOps<T>(ops: Ops<T>, images: T): { readonly preLogits: T; readonly logits: T };
}

/**
 * Whether a model exposes its forward pass on {@link Ops} (true for every model this package
 * builds).
 *
 * @example
 * ```ts
 * isTraceableSegmentationModel(createBackbone({ name: 'tiny', numClasses: 3 })); // true
 * ```
 */
export function isTraceableSegmentationModel(
  model: SegmentationModel,
): model is TraceableSegmentationModel {
  const m = model as Partial<TraceableSegmentationModel> | null;
  return typeof m?.applyOps === 'function' && 'inputNormalization' in m;
}

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
  /** Applied to the images before the forward pass. */
  readonly inputNormalization?: InputNormalization;
  /** See {@link SegmentationModel.upsampleAlignCorners}. @default false */
  readonly upsampleAlignCorners?: boolean;
  /**
   * Inference convolves with per-call copies of the filters (see `TensorOps`): less resident
   * memory for a very large model, some re-preparation time per call. @default false
   */
  readonly transientWeights?: boolean;
}): TraceableSegmentationModel & { readonly config: C } {
  const { fn, config, store, forward } = spec;
  const norm = spec.inputNormalization;
  const walk = (name: string, height: number, width: number): ShapeOps => {
    checkInt(`${fn}.${name}`, 'height', height, 1);
    checkInt(`${fn}.${name}`, 'width', width, 1);
    const ops = new ShapeOps(spec.transientWeights ?? false);
    forward<Shape4>(ops, [1, height, width, 3]);
    return ops;
  };
  return {
    config,
    numClasses: config.numClasses,
    preLogitChannels: spec.preLogitChannels,
    preLogitStride: spec.preLogitStride,
    outputStride: spec.outputStride,
    upsampleAlignCorners: spec.upsampleAlignCorners ?? false,
    variables: store.variables,
    apply(images: tf.Tensor4D, options: ApplyOptions = {}): SegmentationOutput {
      checkImages(`${fn}.apply`, images);
      const ops = new TensorOps(options.training ?? false, spec.transientWeights ?? false);
      return tf.tidy(() =>
        forward(
          ops,
          norm
            ? (tf.div(
                tf.sub(images, tf.tensor1d([...norm.mean])),
                tf.tensor1d([...norm.std]),
              ) as tf.Tensor4D)
            : images,
        ),
      ) as unknown as SegmentationOutput;
    },
    inputNormalization: norm,
    applyOps: (ops, images) => forward(ops, images),
    trainableVariables: () => store.trainableVariables(),
    parameterCount: () => store.parameterCount(),
    flops: (height: number, width: number): number => walk('flops', height, width).flops,
    // + the normalised input (sub, div: 2 × 3 channels) where apply normalises
    activationBytes: (height: number, width: number): number =>
      walk('activationBytes', height, width).peak + (norm ? 2 * 4 * 3 * height * width : 0),
    dispose: () => store.dispose(),
  };
}
