/**
 * One array out of a NumPy `.npz` file: a zip archive of `.npy` files, stored (`np.savez`) or
 * deflated (`np.savez_compressed`), with the ZIP64 extra fields NumPy always writes. Read with
 * the zip reader of `@densehybrid/metrics-openiou/node`; Fishyscapes Static ships its blended
 * objects this way (`*_rgb.npz`).
 */
import { readFile } from 'node:fs/promises';
import { DenseHybridError, decodeNpy } from '@densehybrid/metrics-openiou';
import { readZip } from '@densehybrid/metrics-openiou/node';

/** An array read by {@link readNpzArray}: values widened to float32, row-major. */
interface NpzArray {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** The uncompressed bytes of the zip member `name` (the repository's one zip reader). */
function zipMember(bytes: Uint8Array, name: string, file: string): Uint8Array {
  return readZip(bytes, {
    fn: 'readNpzArray',
    source: file,
    expected: 'a NumPy .npz (zip of .npy files)',
  }).read(name);
}

/** An `.npz` member decoded by metrics-openiou's `decodeNpy` (its errors prefixed with `where`). */
function decodeMember(bytes: Uint8Array, where: string): NpzArray {
  try {
    const { shape, data } = decodeNpy(bytes);
    return { shape, data };
  } catch (e) {
    throw new DenseHybridError('INVALID_INPUT', `readNpzArray: ${where}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/**
 * Reads the array `key` of a NumPy `.npz` file (`np.savez` / `np.savez_compressed`), any
 * numeric dtype (float16/32/64, integers, bool; either byte order, C or Fortran order), values as
 * float32.
 *
 * @param path - the `.npz` file
 * @param key - the array's name (the member `<key>.npy`)
 * @throws DenseHybridError `IO` when the file cannot be read, `INVALID_INPUT` naming the file when
 *   it is not an `.npz`, lacks `key` or holds a malformed array
 * @example
 * ```ts
 * const { shape, data } = await readNpzArray('0000_frankfurt_000000_000294_rgb.npz', 'rgb');
 * ```
 */
export async function readNpzArray(path: string, key: string): Promise<NpzArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new DenseHybridError('IO', `readNpzArray: cannot read ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return decodeMember(zipMember(bytes, `${key}.npy`, path), `${path}:${key}.npy`);
}
