/**
 * The exact gradient of bilinear resizing (`tf.image.resizeBilinear`) with respect to its
 * images, in all three of TensorFlow's coordinate modes. tfjs 4.22's own `ResizeBilinear`
 * gradient ignores `halfPixelCenters` — wrong values on every backend for PyTorch-style
 * (`align_corners=False`) resizing — and on cpu returns `[N, W, H, C]` for `H ≠ W`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { RESIZE_BILINEAR_GRAD_KERNEL } from './kernel_names.js';

/** How output pixels map to input coordinates (TensorFlow's ResizeBilinear attributes). @internal */
export type ResizeMode = 'half-pixel' | 'align-corners' | 'legacy';

/** The {@link ResizeMode} of TensorFlow's `alignCorners` / `halfPixelCenters` attributes. @internal */
export function resizeModeOf(attrs: {
  readonly alignCorners?: boolean;
  readonly halfPixelCenters?: boolean;
}): ResizeMode {
  return attrs.alignCorners ? 'align-corners' : attrs.halfPixelCenters ? 'half-pixel' : 'legacy';
}

/** The attributes of `tf.image.resizeBilinear` that {@link resizeBilinearGrad} honours. */
export interface ResizeBilinearGradAttrs {
  /** As `tf.image.resizeBilinear`'s `alignCorners`. */
  readonly alignCorners: boolean;
  /** As `tf.image.resizeBilinear`'s `halfPixelCenters` (PyTorch's `align_corners=False`). */
  readonly halfPixelCenters: boolean;
}

/**
 * `∂images` of `tf.image.resizeBilinear(images, dy's [H, W], alignCorners, halfPixelCenters)` at
 * the output gradient `dy`: the exact adjoint of the forward resize. Where the active backend
 * registers {@link RESIZE_BILINEAR_GRAD_KERNEL} (wasm, after {@link registerWasmTrainingKernels})
 * one pass of that kernel, elsewhere `dx = M_hᵀ · dy · M_w` as matMuls with the interpolation
 * matrices `M` of each axis.
 *
 * @param images the forward input `[N, h, w, C]` (only its shape is read)
 * @param dy the output gradient `[N, H, W, C]`
 * @param attrs the forward resize's {@link ResizeBilinearGradAttrs}
 * @returns `[N, h, w, C]`; the caller owns it
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { resizeBilinearGrad } from '@densehybrid/tfjs-wasm-training';
 * const dx = tf.tidy(() => resizeBilinearGrad(tf.zeros([1, 4, 4, 3]), tf.ones([1, 8, 8, 3]), {
 *   alignCorners: false,
 *   halfPixelCenters: true,
 * })); // [1, 4, 4, 3], each value 4 (every input pixel spreads over 4 output pixels)
 * ```
 */
export function resizeBilinearGrad(
  images: tf.Tensor4D,
  dy: tf.Tensor4D,
  attrs: ResizeBilinearGradAttrs,
): tf.Tensor4D {
  if (dy.dtype === 'float32' && tf.getKernel(RESIZE_BILINEAR_GRAD_KERNEL, tf.getBackend()))
    return tf.engine().runKernel(
      RESIZE_BILINEAR_GRAD_KERNEL,
      { images, dy } as unknown as tf.NamedTensorMap,
      {
        alignCorners: attrs.alignCorners,
        halfPixelCenters: attrs.halfPixelCenters,
      } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor4D;
  return resizeBilinearAdjoint(dy, images.shape[1], images.shape[2], resizeModeOf(attrs));
}

/**
 * The exact gradient for tfjs' `ResizeBilinear` kernel (all three coordinate modes), for
 * `tf.registerGradient`: {@link resizeBilinearGrad}. {@link registerTrainingGradients}
 * registers it; register it yourself to make `tf.image.resizeBilinear` (as used inside any
 * network) differentiate exactly without the rest of this package's gradients.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { resizeBilinearGradConfig } from '@densehybrid/tfjs-wasm-training';
 * tf.registerGradient(resizeBilinearGradConfig);
 * ```
 */
export const resizeBilinearGradConfig: tf.GradConfig = {
  kernelName: tf.ResizeBilinear,
  inputsToSave: ['images'],
  gradFunc: (dy, saved, attrs) => {
    const [images] = saved as [tf.Tensor4D];
    const { alignCorners, halfPixelCenters } = attrs as unknown as ResizeBilinearGradAttrs;
    return {
      images: () =>
        resizeBilinearGrad(images, dy as tf.Tensor4D, { alignCorners, halfPixelCenters }),
    };
  },
};

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
