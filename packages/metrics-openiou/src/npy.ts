/**
 * NumPy `.npy` encoding and decoding (pure; the file functions `readNpy` / `writeNpy` are in the
 * `@densehybrid/metrics-openiou/node` entry). This is how score maps exported from Python come in.
 */
import { DenseHybridError, describeValue } from './errors.js';
import { float16Bits, float16Value } from './float16.js';

/** NumPy dtypes {@link encodeNpy} writes and {@link decodeNpy} reads. */
export type NpyDtype = '<f2' | '<f4' | '|u1';

const ITEM_SIZE: Record<NpyDtype, number> = { '<f2': 2, '<f4': 4, '|u1': 1 };

/**
 * Encodes an array in NumPy's `.npy` format v1.0 (C order). Default dtype `<f2` (float16), the
 * format SMIYC submissions use for score maps.
 *
 * @param data values, row-major
 * @param shape e.g. `[height, width]`; its product must equal `data.length`
 * @throws DenseHybridError `SHAPE_MISMATCH` when the shape does not match the data
 * @example
 * ```ts
 * const bytes = encodeNpy(scores, [h, w]); // '<f2'
 * ```
 */
export function encodeNpy(
  data: ArrayLike<number>,
  shape: readonly number[],
  dtype: NpyDtype = '<f2',
): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.some((d) => !Number.isInteger(d) || d < 0) || count !== data.length) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `encodeNpy: expected shape with product ${data.length} (data length), got ${describeValue([...shape])}`,
    );
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const headerBytes = new TextEncoder().encode(header);
  const out = new Uint8Array(10 + headerBytes.length + count * ITEM_SIZE[dtype]);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  const view = new DataView(out.buffer);
  view.setUint16(8, headerBytes.length, true);
  out.set(headerBytes, 10);
  const off = 10 + headerBytes.length;
  for (let i = 0; i < count; i++) {
    const v = data[i] as number;
    if (dtype === '<f2') view.setUint16(off + 2 * i, float16Bits(v), true);
    else if (dtype === '<f4') view.setFloat32(off + 4 * i, v, true);
    else out[off + i] = v;
  }
  return out;
}

/** What {@link decodeNpy} returns. */
export interface NpyResult {
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  /** The values as float32 (float16 widened exactly). */
  readonly data: Float32Array;
}

/**
 * Decodes a `.npy` file of dtype `<f2`, `<f4` or `|u1` in C order.
 *
 * @throws DenseHybridError `INVALID_INPUT` for a file that is not such an `.npy`
 * @example
 * ```ts
 * const { shape, data } = decodeNpy(await readFile('scores.npy'));
 * ```
 */
export function decodeNpy(bytes: Uint8Array): NpyResult {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `decodeNpy: expected the \\x93NUMPY magic, got ${bytes.length} bytes without it`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6] as number;
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (
    descr === undefined ||
    !(descr in ITEM_SIZE) ||
    fortran !== 'False' ||
    shapeText === undefined
  ) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `decodeNpy: expected a C-order <f2, <f4 or |u1 array, got header ${JSON.stringify(header.trim())}`,
    );
  }
  const dtype = descr as NpyDtype;
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const off = start + headerLen;
  if (bytes.length < off + count * ITEM_SIZE[dtype]) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `decodeNpy: expected ${count * ITEM_SIZE[dtype]} data bytes, got ${bytes.length - off}`,
    );
  }
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    if (dtype === '<f2') data[i] = float16Value(view.getUint16(off + 2 * i, true));
    else if (dtype === '<f4') data[i] = view.getFloat32(off + 4 * i, true);
    else data[i] = bytes[off + i] as number;
  }
  return { dtype, shape, data };
}
