import * as tf from '@tensorflow/tfjs-core';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';

/**
 * Resizes `[N, h, w, C]` to `[N, H, W, C]` bilinearly with PyTorch's `align_corners=False`
 * geometry (TensorFlow's `halfPixelCenters`), as the authors upsample logits and posterior
 * logits to label resolution before the loss and the score. Returns the input unchanged
 * (the same tensor object) when it already has the requested size.
 *
 * The caller owns the returned tensor; when the input already has the requested size the
 * result **is** the input, so dispose only one of them (or call inside `tf.tidy`).
 *
 * @param x `[N, h, w, C]` float32
 * @param size `[H, W]`, positive integers
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
export function upsampleBilinear(x: tf.Tensor4D, size: readonly [number, number]): tf.Tensor4D {
  if (!(x instanceof tf.Tensor) || x.rank !== 4) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `upsampleBilinear: expected x to be a rank-4 tensor [N,h,w,C], got ${describeTensor(x)}`,
    );
  }
  checkSize('upsampleBilinear', 'size', size);
  if (x.shape[1] === size[0] && x.shape[2] === size[1]) return x;
  return resizeWithGradient(x, size[0], size[1]);
}

/** How output pixels map to input coordinates (TensorFlow's ResizeBilinear attributes). */
type ResizeMode = 'half-pixel' | 'align-corners' | 'legacy';

/**
 * The name under which a backend may register a direct kernel for the exact adjoint of bilinear
 * resizing (inputs `{ images, dy }`, `images` for its shape; attrs `{ alignCorners,
 * halfPixelCenters }`). `@densehybrid/core` registers one for wasm; where the active backend has
 * one, {@link upsampleBilinear}'s gradient uses it instead of the matMul adjoint.
 */
export const RESIZE_BILINEAR_GRAD_KERNEL = 'DenseHybridResizeBilinearGrad';

/**
 * Forward: tfjs' native ResizeBilinear (halfPixelCenters). Backward: tfjs 4.22's
 * ResizeBilinearGrad ignores `halfPixelCenters` (and the cpu kernel swaps H and W), so the
 * gradient is the exact adjoint: a backend's {@link RESIZE_BILINEAR_GRAD_KERNEL} when it has
 * one, else {@link resizeBilinearAdjoint}.
 */
function resizeWithGradient(x: tf.Tensor4D, height: number, width: number): tf.Tensor4D {
  const f = tf.customGrad(((input: tf.Tensor) => {
    const value = tf.image.resizeBilinear(input as tf.Tensor4D, [height, width], false, true);
    const [, h, w] = input.shape as [number, number, number, number];
    return {
      value,
      gradFunc: (dy: tf.Tensor) =>
        dy.dtype === 'float32' && tf.getKernel(RESIZE_BILINEAR_GRAD_KERNEL, tf.getBackend())
          ? (tf
              .engine()
              .runKernel(
                RESIZE_BILINEAR_GRAD_KERNEL,
                { images: input, dy } as unknown as tf.NamedTensorMap,
                { alignCorners: false, halfPixelCenters: true } as unknown as tf.NamedAttrMap,
              ) as tf.Tensor4D)
          : resizeBilinearAdjoint(dy as tf.Tensor4D, h, w, 'half-pixel'),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as tf.Tensor4D;
}

/**
 * The adjoint of bilinear resizing from [h, w] to dy's size, one axis at a time:
 * dx = M_hᵀ · dy · M_w with M the [out, in] interpolation matrix of each axis (the larger
 * axis first: it shrinks the most).
 */
function resizeBilinearAdjoint(
  dy: tf.Tensor4D,
  h: number,
  w: number,
  mode: ResizeMode,
): tf.Tensor4D {
  const [, height, width] = dy.shape;
  const alongH = (t: tf.Tensor4D): tf.Tensor4D => contractAxis(t, 1, h, mode);
  const alongW = (t: tf.Tensor4D): tf.Tensor4D => contractAxis(t, 2, w, mode);
  return height / h >= width / w ? alongW(alongH(dy)) : alongH(alongW(dy));
}

/**
 * A corrected gradient for tfjs' `ResizeBilinear` kernel (all three coordinate modes), for
 * `tf.registerGradient`. tfjs 4.22's own gradient ignores `halfPixelCenters` — wrong values on
 * every backend for PyTorch-style (`align_corners=False`) resizing, e.g. a 4×4 → 8×8 upsampling
 * is off by up to 35 % of the largest gradient — and on cpu returns [N, W, H, C] for H ≠ W.
 * Register it once to make `tf.image.resizeBilinear` (as used inside any network) differentiate
 * exactly:
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { resizeBilinearGradConfig } from '@densehybrid/losses';
 * tf.registerGradient(resizeBilinearGradConfig);
 * ```
 */
export const resizeBilinearGradConfig: tf.GradConfig = {
  kernelName: tf.ResizeBilinear,
  inputsToSave: ['images'],
  gradFunc: (dy, saved, attrs) => {
    const [images] = saved as [tf.Tensor4D];
    const { alignCorners, halfPixelCenters } = attrs as unknown as {
      alignCorners: boolean;
      halfPixelCenters: boolean;
    };
    const mode: ResizeMode = alignCorners
      ? 'align-corners'
      : halfPixelCenters
        ? 'half-pixel'
        : 'legacy';
    return {
      images: () =>
        resizeBilinearAdjoint(dy as tf.Tensor4D, images.shape[1], images.shape[2], mode),
    };
  },
};

/** Applies the adjoint of bilinear resizing along axis 1 or 2 of `t`, to size `inSize`. */
function contractAxis(t: tf.Tensor4D, axis: 1 | 2, inSize: number, mode: ResizeMode): tf.Tensor4D {
  const [n, a, b, c] = t.shape;
  const outSize = axis === 1 ? a : b;
  const m = tf.tensor2d(interpolationMatrix(inSize, outSize, mode), [outSize, inSize]);
  if (axis === 1) {
    const rows = tf.reshape(tf.transpose(t, [0, 2, 3, 1]), [n * b * c, a]);
    const r = tf.reshape(tf.matMul(rows, m), [n, b, c, inSize]);
    return tf.transpose(r, [0, 3, 1, 2]) as tf.Tensor4D;
  }
  const rows = tf.reshape(tf.transpose(t, [0, 1, 3, 2]), [n * a * c, b]);
  const r = tf.reshape(tf.matMul(rows, m), [n, a, c, inSize]);
  return tf.transpose(r, [0, 1, 3, 2]) as tf.Tensor4D;
}

const matrices = new Map<string, Float32Array>();

/**
 * [outSize, inSize] weights of bilinear resizing: source coordinate
 * half-pixel (PyTorch `align_corners=False`): src = max((y + 0.5)·in/out − 0.5, 0);
 * align-corners: src = y·(in − 1)/(out − 1); legacy: src = y·in/out;
 * then weights 1 − λ and λ on floor(src) and min(floor(src) + 1, in − 1), λ = src − floor(src).
 */
function interpolationMatrix(inSize: number, outSize: number, mode: ResizeMode): Float32Array {
  const key = `${inSize}x${outSize}x${mode}`;
  const cached = matrices.get(key);
  if (cached) return cached;
  const m = new Float32Array(outSize * inSize);
  const scale =
    mode === 'align-corners' ? (outSize > 1 ? (inSize - 1) / (outSize - 1) : 0) : inSize / outSize;
  for (let y = 0; y < outSize; y++) {
    const src = mode === 'half-pixel' ? Math.max((y + 0.5) * scale - 0.5, 0) : y * scale;
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const lambda = src - i0;
    m[y * inSize + i0] = (m[y * inSize + i0] as number) + 1 - lambda;
    m[y * inSize + i1] = (m[y * inSize + i1] as number) + lambda;
  }
  if (matrices.size > 64) matrices.clear();
  matrices.set(key, m);
  return m;
}

/** `Tensor[1,2,3] float32`, or {@link describeValue} for a non-tensor. @internal */
export function describeTensor(x: unknown): string {
  if (x instanceof tf.Tensor) return `Tensor[${x.shape.join(',')}] ${x.dtype}`;
  return describeValue(x);
}

/** Throws `INVALID_OPTION` unless `size` is `[H, W]` with positive integers. @internal */
export function checkSize(fn: string, name: string, size: unknown): void {
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
