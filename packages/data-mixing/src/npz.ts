/**
 * One array out of a NumPy `.npz` file: a zip archive of `.npy` files, stored (`np.savez`) or
 * deflated (`np.savez_compressed`), with the ZIP64 extra fields NumPy always writes. Read with
 * `node:zlib` alone; Fishyscapes Static ships its blended objects this way (`*_rgb.npz`).
 */
import { readFile } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';
import { DenseHybridError, decodeNpy } from '@densehybrid/metrics-openiou';

/** An array read by {@link readNpzArray}: values widened to float32, row-major. */
interface NpzArray {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX32 = 0xffffffff;

function bad(file: string, what: string): never {
  throw new DenseHybridError(
    'INVALID_INPUT',
    `readNpzArray: ${file}: expected a NumPy .npz (zip of .npy files), got ${what}`,
  );
}

/** The uncompressed bytes of the zip member `name`. */
function zipMember(bytes: Uint8Array, name: string, file: string): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number): number => view.getUint16(o, true);
  const u32 = (o: number): number => view.getUint32(o, true);
  const u64 = (o: number): number => Number(view.getBigUint64(o, true));
  let eocd = -1;
  for (let o = bytes.length - 22; o >= Math.max(0, bytes.length - 22 - 0xffff); o--) {
    if (u32(o) === EOCD) {
      eocd = o;
      break;
    }
  }
  if (eocd < 0) bad(file, 'no zip end-of-central-directory record');
  let count = u16(eocd + 10);
  let offset = u32(eocd + 16);
  if ((count === 0xffff || offset === MAX32) && eocd >= 20 && u32(eocd - 20) === ZIP64_LOCATOR) {
    const z = u64(eocd - 20 + 8);
    if (z + 56 > bytes.length || u32(z) !== ZIP64_EOCD) bad(file, 'a broken ZIP64 record');
    count = u64(z + 32);
    offset = u64(z + 48);
  }
  const names: string[] = [];
  for (let i = 0, o = offset; i < count; i++) {
    if (o + 46 > bytes.length || u32(o) !== CENTRAL) bad(file, 'a truncated central directory');
    const method = u16(o + 10);
    let compressed = u32(o + 20);
    let size = u32(o + 24);
    const nameLength = u16(o + 28);
    const extraLength = u16(o + 30);
    let local = u32(o + 42);
    const entry = new TextDecoder().decode(bytes.subarray(o + 46, o + 46 + nameLength));
    names.push(entry);
    if (entry === name) {
      // ZIP64 extra field (id 1): the 64-bit values of the fields saturated at 0xffffffff, in order
      for (let e = o + 46 + nameLength; e + 4 <= o + 46 + nameLength + extraLength;) {
        const id = u16(e);
        const length = u16(e + 2);
        if (id === 1) {
          let p = e + 4;
          if (size === MAX32) [size, p] = [u64(p), p + 8];
          if (compressed === MAX32) [compressed, p] = [u64(p), p + 8];
          if (local === MAX32) local = u64(p);
        }
        e += 4 + length;
      }
      if (local + 30 > bytes.length || u32(local) !== LOCAL) bad(file, `a broken entry ${name}`);
      const start = local + 30 + u16(local + 26) + u16(local + 28);
      const data = bytes.subarray(start, start + compressed);
      if (data.length !== compressed) bad(file, `a truncated entry ${name}`);
      let out: Uint8Array;
      if (method === 0) out = data;
      else if (method === 8) {
        try {
          out = inflateRawSync(data);
        } catch (e) {
          bad(file, `a corrupt deflated entry ${name} (${(e as Error).message})`);
        }
      } else bad(file, `entry ${name} compressed with method ${method} (stored or deflate only)`);
      if (out.length !== size) bad(file, `entry ${name} of ${out.length} bytes, not ${size}`);
      return out;
    }
    o += 46 + nameLength + extraLength + u16(o + 32);
  }
  return bad(file, `no ${name} among ${names.length > 0 ? names.join(', ') : 'no entries'}`);
}

/** `.npy` dtypes beyond {@link decodeNpy}'s float16/float32/uint8: integers, float64, bool. */
const OTHER_DTYPES: Readonly<Record<string, [number, (v: DataView, o: number) => number]>> = {
  '|b1': [1, (v, o) => v.getUint8(o)],
  '|i1': [1, (v, o) => v.getInt8(o)],
  '<i2': [2, (v, o) => v.getInt16(o, true)],
  '<u2': [2, (v, o) => v.getUint16(o, true)],
  '<i4': [4, (v, o) => v.getInt32(o, true)],
  '<u4': [4, (v, o) => v.getUint32(o, true)],
  '<i8': [8, (v, o) => Number(v.getBigInt64(o, true))],
  '<u8': [8, (v, o) => Number(v.getBigUint64(o, true))],
  '<f8': [8, (v, o) => v.getFloat64(o, true)],
};

/** Decodes a C-order `.npy` of any little-endian numeric dtype to float32. */
function decodeAnyNpy(bytes: Uint8Array, where: string): NpzArray {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const v1 = bytes[6] === 1;
  const start = v1 ? 10 : 12;
  const headerLength =
    bytes.length < 12 ? 0 : v1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1] ?? '';
  const reader = OTHER_DTYPES[descr];
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59].every((b, i) => bytes[i] === b);
  if (!magic || reader === undefined || !/'fortran_order':\s*False/.test(header)) {
    // float16, float32, uint8 or a malformed file: decodeNpy reads it or says what is wrong
    try {
      return decodeNpy(bytes);
    } catch (e) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `readNpzArray: ${where}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  }
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  const [size, read] = reader;
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLength;
  if (!shape.every((d) => Number.isInteger(d) && d >= 0) || bytes.length < offset + count * size) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `readNpzArray: ${where}: expected ${count * size} data bytes for shape (${shape.join(', ')}), got ${bytes.length - offset}`,
    );
  }
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = read(view, offset + i * size);
  return { shape, data };
}

/**
 * Reads the array `key` of a NumPy `.npz` file (`np.savez` / `np.savez_compressed`), any
 * little-endian numeric dtype, values as float32.
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
  return decodeAnyNpy(zipMember(bytes, `${key}.npy`, path), `${path}:${key}.npy`);
}
