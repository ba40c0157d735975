import * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';
import { resizeBilinearGrad } from '@densehybrid/tfjs-wasm-training';

/**
 * Resizes `[N, h, w, C]` to `[N, H, W, C]` bilinearly with PyTorch's `align_corners=False`
 * geometry (TensorFlow's `halfPixelCenters`), as the authors upsample logits and posterior
 * logits to label resolution before the loss and the score. Returns the input unchanged
 * (the same tensor object) when it already has the requested size.
 *
 * The caller owns the returned tensor; when the input already has the requested size the
 * result **is** the input, so dispose only one of them (or call inside `tf.tidy`).
 *
 * With `options.alignCorners` the geometry is PyTorch's `align_corners=True` instead (corner
 * pixels aligned, `src = dst·(in − 1)/(out − 1)`), as the authors' DeepLabV3+ / WideResNet-38
 * upsamples; the gradient is exact in both modes.
 *
 * @param x `[N, h, w, C]` float32
 * @param size `[H, W]`, positive integers
 * @param options `alignCorners` (default false)
 * @returns `[N, H, W, C]`
 * @throws DenseHybridError `INVALID_INPUT` for a tensor that is not rank 4, `INVALID_OPTION`
 *   for a size that is not two positive integers
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { upsampleBilinear } from '@densehybrid/losses';
 * const big = tf.tidy(() => upsampleBilinear(tf.ones([1, 2, 2, 19]), [8, 8])); // [1, 8, 8, 19]
 * ```
 */
export function upsampleBilinear(
  x: tf.Tensor4D,
  size: readonly [number, number],
  options: UpsampleBilinearOptions = {},
): tf.Tensor4D {
  if (!(x instanceof tf.Tensor) || x.rank !== 4) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `upsampleBilinear: expected x to be a rank-4 tensor [N,h,w,C], got ${describeTensor(x)}`,
    );
  }
  checkSize('upsampleBilinear', 'size', size);
  if (x.shape[1] === size[0] && x.shape[2] === size[1]) return x;
  return resizeWithGradient(x, size[0], size[1], options.alignCorners ?? false);
}

/** Options of {@link upsampleBilinear}. */
export interface UpsampleBilinearOptions {
  /** PyTorch `align_corners=True` geometry instead of half-pixel centres. @default false */
  readonly alignCorners?: boolean;
}

/**
 * Forward: tfjs' native ResizeBilinear (halfPixelCenters). Backward: tfjs 4.22's
 * ResizeBilinearGrad ignores `halfPixelCenters` (and the cpu kernel swaps H and W), so the
 * gradient is the exact adjoint, `resizeBilinearGrad` (a backend's direct kernel when it has
 * one, else matMuls with the interpolation matrices).
 */
function resizeWithGradient(
  x: tf.Tensor4D,
  height: number,
  width: number,
  alignCorners: boolean,
): tf.Tensor4D {
  const f = tf.customGrad(((input: tf.Tensor) => {
    const value = tf.image.resizeBilinear(
      input as tf.Tensor4D,
      [height, width],
      alignCorners,
      !alignCorners,
    );
    return {
      value,
      gradFunc: (dy: tf.Tensor) =>
        resizeBilinearGrad(input as tf.Tensor4D, dy as tf.Tensor4D, {
          alignCorners,
          halfPixelCenters: !alignCorners,
        }),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as tf.Tensor4D;
}

/** `Tensor[1,2,3] float32`, or {@link describeValue} for a non-tensor. @internal */
export function describeTensor(x: unknown): string {
  if (x instanceof tf.Tensor) return `Tensor[${x.shape.join(',')}] ${x.dtype}`;
  return describeValue(x);
}

/** Throws `INVALID_OPTION` unless `size` is `[H, W]` with positive integers. @internal */
function checkSize(fn: string, name: string, size: unknown): void {
  if (
    !Array.isArray(size) ||
    size.length !== 2 ||
    !size.every((v) => typeof v === 'number' && Number.isInteger(v) && v > 0)
  ) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected ${name} to be [H, W] with positive integers, got ${describeValue(size)}`,
    );
  }
}
