import { readFile } from 'node:fs/promises';
import { DenseHybridError } from '../errors.js';
import {
  decodeNpy,
  encodeNpy,
  type DecodeNpyOptions,
  type NpyDtype,
  type NpyResult,
} from '../npy.js';
import { writeFileAtomic } from './fs-atomic.js';

/**
 * Writes a `.npy` file atomically (default float16, the format SMIYC score maps use).
 *
 * @throws DenseHybridError `SHAPE_MISMATCH` (see `encodeNpy`), `IO` naming the path
 * @example
 * ```ts
 * await writeNpy('out/img001.npy', scores, [h, w]);
 * ```
 */
export async function writeNpy(
  path: string,
  data: ArrayLike<number>,
  shape: readonly number[],
  dtype: NpyDtype = '<f2',
): Promise<void> {
  await writeFileAtomic('writeNpy', path, encodeNpy(data, shape, dtype));
}

/**
 * Reads a `.npy` file of any numeric dtype (see `decodeNpy`; e.g. a score map saved by
 * `np.save('scores.npy', s.astype(np.float16))`).
 *
 * @param options - as `decodeNpy`'s: `{ output: 'float64' }` for a `Float64Array`
 * @throws DenseHybridError `IO` when unreadable, `INVALID_INPUT` when malformed
 * @example
 * ```ts
 * const { shape, data } = await readNpy('maps/img.scores.npy');
 * ```
 */
export async function readNpy(
  path: string,
  options?: DecodeNpyOptions & { readonly output?: 'float32' },
): Promise<NpyResult<Float32Array>>;
export async function readNpy(
  path: string,
  options: DecodeNpyOptions & { readonly output: 'float64' },
): Promise<NpyResult<Float64Array>>;
export async function readNpy(
  path: string,
  options?: DecodeNpyOptions,
): Promise<NpyResult<Float32Array | Float64Array>>;
export async function readNpy(
  path: string,
  options: DecodeNpyOptions = {},
): Promise<NpyResult<Float32Array | Float64Array>> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new DenseHybridError(
      'IO',
      `readNpy: expected a readable file at ${path}, got ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      { cause: e },
    );
  }
  return decodeNpy(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), options);
}
