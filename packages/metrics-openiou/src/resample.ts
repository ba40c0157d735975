import { DenseHybridError, describeValue } from './errors.js';
import { checkArray, checkInteger, type NumericArray } from './validate.js';

/** A row-major map and its size (what {@link resampleNearest} / {@link resampleBilinear} return). */
export interface ResampledMap<T extends Uint8Array | Float32Array> {
  readonly data: T;
  readonly width: number;
  readonly height: number;
}

function check(fn: string, data: unknown, width: number, height: number, scale: number): void {
  checkArray(fn, 'data', data);
  checkInteger(fn, 'width', width, 1, 1 << 30);
  checkInteger(fn, 'height', height, 1, 1 << 30);
  if ((data as NumericArray).length !== width * height) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `${fn}: expected data of length width*height = ${width * height}, got ${(data as NumericArray).length}`,
    );
  }
  if (typeof scale !== 'number' || !(scale > 0 && scale <= 1)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected scale in (0, 1], got ${describeValue(scale)}`,
    );
  }
}

/** PyTorch's output size for `interpolate(scale_factor=s)`: ⌊n·s⌋ (here at least 1). */
const outSize = (n: number, scale: number): number => Math.max(1, Math.floor(n * scale));

/** PyTorch's nearest source index (`nearest_idx`), in float32 as its CPU and CUDA kernels. */
function nearestIndex(dst: number, inSize: number, outSize: number, scale32: number): number {
  if (outSize === inSize) return dst;
  if (outSize === 2 * inSize) return dst >> 1;
  return Math.min(Math.floor(Math.fround(dst * scale32)), inSize - 1);
}

/**
 * Nearest-neighbour resampling of a row-major `width × height` map by `scale`, as PyTorch's
 * `F.interpolate(x, scale_factor=scale, mode='nearest')` (how the DenseHybrid authors resample
 * calibration labels): output `⌊w·s⌋ × ⌊h·s⌋` (at least 1), output pixel `x` reads input pixel
 * `min(⌊x · f32(1/s)⌋, w − 1)` computed in float32.
 *
 * @param data - `Uint8Array` labels or `Float32Array` scores, `width * height` long.
 * @param width - input width.
 * @param height - input height.
 * @param scale - factor in (0, 1].
 * @returns `{ data, width, height }` with a new array of the input's type.
 * @throws DenseHybridError `SHAPE_MISMATCH`, `INVALID_INPUT`, `INVALID_OPTION`.
 * @example
 * ```ts
 * resampleNearest(Uint8Array.of(1, 2, 3, 4), 2, 2, 0.5); // { data: Uint8Array [1], width: 1, height: 1 }
 * ```
 */
export function resampleNearest<T extends Uint8Array | Float32Array>(
  data: T,
  width: number,
  height: number,
  scale: number,
): ResampledMap<T> {
  check('resampleNearest', data, width, height, scale);
  const w = outSize(width, scale);
  const h = outSize(height, scale);
  const s32 = Math.fround(1 / scale);
  const out = (data instanceof Uint8Array ? new Uint8Array(w * h) : new Float32Array(w * h)) as T;
  for (let y = 0; y < h; y++) {
    const sy = nearestIndex(y, height, h, s32);
    for (let x = 0; x < w; x++)
      out[y * w + x] = data[sy * width + nearestIndex(x, width, w, s32)] as number;
  }
  return { data: out, width: w, height: h };
}

/** Source index and weights of one output coordinate (`align_corners=False`), in float32. */
function linearTaps(
  dst: number,
  inSize: number,
  scale32: number,
): [number, number, number, number] {
  const f = Math.fround;
  // src = scale·(dst + 0.5) − 0.5, clamped at 0 (area_pixel_compute_source_index)
  let src = f(f(scale32 * f(dst + 0.5)) - 0.5);
  if (src < 0) src = 0;
  const i0 = Math.trunc(src);
  const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
  const l1 = f(src - i0);
  const l0 = f(1 - l1);
  return [i0, i1, l0, l1];
}

/**
 * Bilinear resampling of a row-major `width × height` score map by `scale`, as PyTorch's
 * `F.interpolate(x, scale_factor=scale, mode='bilinear')` (`align_corners=False`; how the
 * DenseHybrid authors resample calibration scores in `evaluate_osr.py`): output
 * `⌊w·s⌋ × ⌊h·s⌋`, source coordinate `f32(1/s)·(x + ½) − ½` clamped at 0, and
 * `h₀·(w₀·a + w₁·b) + h₁·(w₀·c + w₁·d)` rounded to float32 after every operation, as PyTorch's
 * CUDA kernel. At `scale` 0.5 every weight is ½, so the result is bit-exact PyTorch on CPU and GPU
 * whenever the sums of neighbouring scores are exact in float32 (e.g. float16 scores of similar
 * magnitude); otherwise it can differ in the last float32 bit where PyTorch fuses multiply-adds.
 *
 * @param data - scores, `width * height` long (any numeric array; computed in float32).
 * @param width - input width.
 * @param height - input height.
 * @param scale - factor in (0, 1].
 * @returns `{ data: Float32Array, width, height }`.
 * @throws DenseHybridError `SHAPE_MISMATCH`, `INVALID_INPUT`, `INVALID_OPTION`.
 * @example
 * ```ts
 * resampleBilinear(Float32Array.of(1, 2, 3, 4), 2, 2, 0.5).data; // Float32Array [2.5]
 * ```
 */
export function resampleBilinear(
  data: NumericArray,
  width: number,
  height: number,
  scale: number,
): ResampledMap<Float32Array> {
  check('resampleBilinear', data, width, height, scale);
  const f = Math.fround;
  const w = outSize(width, scale);
  const h = outSize(height, scale);
  const s32 = f(1 / scale);
  const cols = Array.from({ length: w }, (_, x) => linearTaps(x, width, s32));
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const [r0, r1, h0, h1] = linearTaps(y, height, s32);
    const a0 = r0 * width;
    const a1 = r1 * width;
    for (let x = 0; x < w; x++) {
      const [c0, c1, w0, w1] = cols[x] as [number, number, number, number];
      const top = f(f(w0 * f(data[a0 + c0] as number)) + f(w1 * f(data[a0 + c1] as number)));
      const bottom = f(f(w0 * f(data[a1 + c0] as number)) + f(w1 * f(data[a1 + c1] as number)));
      out[y * w + x] = f(f(h0 * top) + f(h1 * bottom));
    }
  }
  return { data: out, width: w, height: h };
}
