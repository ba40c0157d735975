/**
 * NumPy `.npy` encoding and decoding (pure; the file functions `readNpy` / `writeNpy` are in the
 * `@densehybrid/metrics-openiou/node` entry). This is how score maps exported from Python come in,
 * and the repository's one `.npy` decoder (`.npz` members and HDF5 dataset bytes go through it).
 */
import { DenseHybridError, describeValue } from './errors.js';
import { float16Bits, float16Table } from './float16.js';

/** NumPy dtypes {@link encodeNpy} writes ({@link decodeNpy} reads these and {@link NpyReadDtype}). */
export type NpyDtype = '<f2' | '<f4' | '|u1';

/**
 * Every dtype {@link decodeNpy} reads, as NumPy's `dtype.str` names it: byte order `<` / `>` for
 * multi-byte types, `|` for one-byte types (a header's `=` and `|` resolve to this machine's order,
 * `<u1` to `|u1`, as NumPy does). Floats `f2 f4 f8`, signed `i1 i2 i4 i8`, unsigned
 * `u1 u2 u4 u8`, bool `b1`. Includes every {@link NpyDtype}.
 */
export type NpyReadDtype =
  | `${'<' | '>'}${'f2' | 'f4' | 'f8' | 'i2' | 'i4' | 'i8' | 'u2' | 'u4' | 'u8'}`
  | '|i1'
  | '|u1'
  | '|b1';

/** NumPy's `dtype.kind`: `f` float, `i` signed integer, `u` unsigned integer, `b` bool. */
export type NpyKind = 'f' | 'i' | 'u' | 'b';

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

/** The element type of {@link NpyResult.data}: see {@link DecodeNpyOptions.output}. */
export type NpyOutput = 'float32' | 'float64';

/** Options of {@link decodeNpy} and {@link decodeNpyElements}. */
export interface DecodeNpyOptions {
  /**
   * The array type of `data`. `'float32'`: a `Float32Array` (float16, 8/16-bit integers and bool
   * exact; float64 and integers beyond ±2^24 rounded to nearest float32, 64-bit integers via
   * float64). `'float64'`: a `Float64Array`, exact for every dtype but 64-bit integers beyond
   * ±2^53 (rounded to nearest).
   * @default 'float32'
   */
  readonly output?: NpyOutput;
}

/** Default options of {@link decodeNpy} and {@link decodeNpyElements}. */
export const DEFAULT_DECODE_NPY_OPTIONS = {
  output: 'float32',
} as const satisfies DecodeNpyOptions;

/** What {@link decodeNpy} returns (`D`: `Float64Array` with `output: 'float64'`). */
export interface NpyResult<D extends Float32Array | Float64Array = Float32Array> {
  /** The stored element type, as NumPy's `dtype.str` (`'<f2'`, `'>f8'`, `'|u1'`, …). */
  readonly dtype: NpyReadDtype;
  /** NumPy's `dtype.kind` of {@link dtype}. */
  readonly kind: NpyKind;
  /** Bytes per stored element (NumPy's `itemsize`). */
  readonly itemSize: number;
  /** The shape from the header (`[]` for a 0-d array, which holds one value). */
  readonly shape: readonly number[];
  /**
   * Whether the file stored the array in Fortran (column-major) order. `data` is row-major (C
   * order) either way, as `np.load(...).ravel()` reads it.
   */
  readonly fortranOrder: boolean;
  /** The values, row-major (see {@link DecodeNpyOptions.output}). */
  readonly data: D;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const DTYPE_LIST = 'f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1, byte order <, >, | or =';

/** A dtype string parsed: NumPy's `dtype.str` for it, kind, item size, byte order. */
interface ParsedDtype {
  readonly dtype: NpyReadDtype;
  readonly kind: NpyKind;
  readonly itemSize: number;
  readonly littleEndian: boolean;
}

/** Parses a NumPy dtype string (`<f2`, `>i8`, `|b1`, `=u4`, …); `null` for any other. */
function parseDtype(descr: string): ParsedDtype | null {
  const m = /^([<>|=])([fiub])([1248])$/.exec(descr);
  if (m === null) return null;
  const kind = m[2] as NpyKind;
  const itemSize = Number(m[3]);
  if (kind === 'f' ? itemSize === 1 : kind === 'b' && itemSize !== 1) return null;
  const order = m[1] as '<' | '>' | '|' | '=';
  const littleEndian = order === '<' || (order !== '>' && LITTLE_ENDIAN_HOST);
  const dtype = (
    itemSize === 1 ? `|${kind}1` : `${littleEndian ? '<' : '>'}${kind}${itemSize}`
  ) as NpyReadDtype;
  return { dtype, kind, itemSize, littleEndian };
}

/**
 * `raw` in this machine's byte order at an offset aligned to `itemSize`: `raw` itself when it
 * already is, else a copy (byte-swapped for the other byte order).
 */
function nativeAligned(raw: Uint8Array, itemSize: number, littleEndian: boolean): Uint8Array {
  const swap = itemSize > 1 && littleEndian !== LITTLE_ENDIAN_HOST;
  if (!swap && raw.byteOffset % itemSize === 0) return raw;
  // a copy at offset 0 (a Node Buffer's slice() would be a view at the same offset)
  const b = new Uint8Array(raw);
  if (swap) {
    const n = b.length;
    if (itemSize === 2) {
      for (let i = 0; i < n; i += 2) {
        const t = b[i] as number;
        b[i] = b[i + 1] as number;
        b[i + 1] = t;
      }
    } else {
      for (let i = 0; i < n; i += itemSize) {
        for (let lo = i, hi = i + itemSize - 1; lo < hi; lo++, hi--) {
          const t = b[lo] as number;
          b[lo] = b[hi] as number;
          b[hi] = t;
        }
      }
    }
  }
  return b;
}

/** Fills `out` with the `out.length` elements of `t` in `bytes` (native order, aligned). */
function fill(out: Float32Array | Float64Array, bytes: Uint8Array, t: ParsedDtype): void {
  const { buffer, byteOffset } = bytes;
  const n = out.length;
  switch (`${t.kind}${t.itemSize}`) {
    case 'f2': {
      const bits = new Uint16Array(buffer, byteOffset, n);
      const table = float16Table();
      for (let i = 0; i < n; i++) out[i] = table[bits[i] as number] as number;
      return;
    }
    case 'b1':
      for (let i = 0; i < n; i++) out[i] = bytes[i] === 0 ? 0 : 1;
      return;
    case 'i8': {
      const v = new BigInt64Array(buffer, byteOffset, n);
      for (let i = 0; i < n; i++) out[i] = Number(v[i] as bigint);
      return;
    }
    case 'u8': {
      const v = new BigUint64Array(buffer, byteOffset, n);
      for (let i = 0; i < n; i++) out[i] = Number(v[i] as bigint);
      return;
    }
    default: {
      // TypedArray#set converts between element types natively (round to nearest for float32)
      const View = {
        f4: Float32Array,
        f8: Float64Array,
        i1: Int8Array,
        i2: Int16Array,
        i4: Int32Array,
        u1: Uint8Array,
        u2: Uint16Array,
        u4: Uint32Array,
      }[`${t.kind}${t.itemSize}` as 'f4'] as Float32ArrayConstructor;
      out.set(new View(buffer, byteOffset, n));
    }
  }
}

/** Reorders column-major `src` of `shape` into row-major `dst`. */
function fortranToC(
  src: Float32Array | Float64Array,
  dst: Float32Array | Float64Array,
  shape: readonly number[],
): void {
  const rank = shape.length;
  const stride = new Array<number>(rank);
  for (let a = rank - 1, s = 1; a >= 0; a--) {
    stride[a] = s;
    s *= shape[a] as number;
  }
  const index = new Array<number>(rank).fill(0);
  let c = 0;
  for (let k = 0; k < src.length; k++) {
    dst[c] = src[k] as number;
    // next column-major position: the first axis varies fastest
    for (let a = 0; a < rank; a++) {
      c += stride[a] as number;
      if (++(index[a] as number) < (shape[a] as number)) break;
      index[a] = 0;
      c -= (stride[a] as number) * (shape[a] as number);
    }
  }
}

function invalid(message: string): never {
  throw new DenseHybridError('INVALID_INPUT', message);
}

function allocate(output: NpyOutput, count: number): Float32Array | Float64Array {
  return output === 'float64' ? new Float64Array(count) : new Float32Array(count);
}

function checkOutput(fn: string, output: unknown): NpyOutput {
  if (output !== 'float32' && output !== 'float64') {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected output 'float32' or 'float64', got ${describeValue(output)}`,
    );
  }
  return output;
}

/**
 * Decodes `count` elements of a NumPy dtype from raw bytes: the data part of an `.npy`, or any
 * buffer laid out the same way (an HDF5 dataset's bytes, a `tobytes()` dump). float16 is one table
 * lookup per element; little-endian types are read through typed-array views (bytes at an
 * unaligned offset are copied first, big-endian ones byte-swapped in that copy).
 *
 * @param bytes - at least `count × itemSize` bytes (more are ignored)
 * @param dtype - a NumPy dtype string, e.g. `'<f2'`, `'>f8'`, `'|u1'`, `'=i4'`
 * @param count - the number of elements
 * @param options - {@link DecodeNpyOptions}
 * @throws DenseHybridError `INVALID_INPUT` for another dtype or too few bytes, `INVALID_OPTION`
 *   for a bad `output`
 * @example
 * ```ts
 * decodeNpyElements(new Uint8Array([0x00, 0x3c, 0x00, 0xc0]), '<f2', 2); // Float32Array [1, -2]
 * ```
 */
export function decodeNpyElements(
  bytes: Uint8Array,
  dtype: string,
  count: number,
  options?: DecodeNpyOptions & { readonly output?: 'float32' },
): Float32Array;
export function decodeNpyElements(
  bytes: Uint8Array,
  dtype: string,
  count: number,
  options: DecodeNpyOptions & { readonly output: 'float64' },
): Float64Array;
export function decodeNpyElements(
  bytes: Uint8Array,
  dtype: string,
  count: number,
  options?: DecodeNpyOptions,
): Float32Array | Float64Array;
export function decodeNpyElements(
  bytes: Uint8Array,
  dtype: string,
  count: number,
  options: DecodeNpyOptions = {},
): Float32Array | Float64Array {
  const fn = 'decodeNpyElements';
  const output = checkOutput(fn, options.output ?? DEFAULT_DECODE_NPY_OPTIONS.output);
  const t = parseDtype(dtype);
  if (t === null)
    invalid(`${fn}: expected a numeric dtype (${DTYPE_LIST}), got ${describeValue(dtype)}`);
  if (!Number.isSafeInteger(count) || count < 0) {
    invalid(`${fn}: expected a count that is a non-negative integer, got ${describeValue(count)}`);
  }
  if (bytes.length < count * t.itemSize) {
    invalid(
      `${fn}: expected ${count * t.itemSize} bytes for ${count} × ${t.dtype}, got ${bytes.length}`,
    );
  }
  const out = allocate(output, count);
  fill(out, nativeAligned(bytes.subarray(0, count * t.itemSize), t.itemSize, t.littleEndian), t);
  return out;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/**
 * Decodes a NumPy `.npy` file (format 1.0, 2.0 or 3.0) of any numeric dtype ({@link NpyReadDtype}:
 * float16/32/64, signed and unsigned 8–64-bit integers, bool; either byte order), in C or
 * Fortran order (`data` is row-major either way). float16 costs one table lookup per element;
 * little-endian data is read through typed-array views.
 *
 * @param bytes - the whole file
 * @param options - {@link DecodeNpyOptions}: `data` as `Float32Array` (default) or `Float64Array`
 * @returns {@link NpyResult}
 * @throws DenseHybridError `INVALID_INPUT` (`decodeNpy: expected …, got …`) for a file without the
 *   `\x93NUMPY` magic, another format version, a truncated header or data, a header without
 *   `descr` / `fortran_order` / `shape`, or another dtype (structured, complex, strings, objects,
 *   datetimes); `INVALID_OPTION` for a bad `output`
 * @example
 * ```ts
 * const { dtype, shape, data } = decodeNpy(await readFile('scores.npy')); // '<f2', [h, w], Float32Array
 * const exact = decodeNpy(await readFile('reference.npy'), { output: 'float64' }).data; // Float64Array
 * ```
 */
export function decodeNpy(
  bytes: Uint8Array,
  options?: DecodeNpyOptions & { readonly output?: 'float32' },
): NpyResult<Float32Array>;
export function decodeNpy(
  bytes: Uint8Array,
  options: DecodeNpyOptions & { readonly output: 'float64' },
): NpyResult<Float64Array>;
export function decodeNpy(
  bytes: Uint8Array,
  options?: DecodeNpyOptions,
): NpyResult<Float32Array | Float64Array>;
export function decodeNpy(
  bytes: Uint8Array,
  options: DecodeNpyOptions = {},
): NpyResult<Float32Array | Float64Array> {
  const fn = 'decodeNpy';
  const output = checkOutput(fn, options.output ?? DEFAULT_DECODE_NPY_OPTIONS.output);
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    invalid(`${fn}: expected the \\x93NUMPY magic, got ${bytes.length} bytes without it`);
  }
  const major = bytes[6] as number;
  if (major < 1 || major > 3) {
    invalid(
      `${fn}: expected .npy format version 1.0, 2.0 or 3.0, got ${major}.${bytes[7] as number}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = major === 1 ? 10 : 12;
  if (bytes.length < start)
    invalid(`${fn}: expected a header length at bytes 8–11, got ${bytes.length} bytes`);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (bytes.length < start + headerLength) {
    invalid(
      `${fn}: expected a header of ${headerLength} bytes, got ${bytes.length - start} bytes after the preamble`,
    );
  }
  // 1.0 / 2.0 headers are latin-1, 3.0 UTF-8: the same for the ASCII of a numeric header
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLength));
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  const quoted = JSON.stringify(header.trim());
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    invalid(
      `${fn}: expected a header with a dtype string 'descr', 'fortran_order' and 'shape' (a plain numeric array), got ${quoted}`,
    );
  }
  const t = parseDtype(descr);
  if (t === null) {
    invalid(`${fn}: expected a numeric dtype (${DTYPE_LIST}), got descr ${JSON.stringify(descr)}`);
  }
  const dims = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const shape = dims.map((d) => (/^\d+L?$/.test(d) ? Number.parseInt(d, 10) : NaN));
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.some((d) => !Number.isSafeInteger(d)) || !Number.isSafeInteger(count * t.itemSize)) {
    invalid(`${fn}: expected a shape of non-negative integers, got (${shapeText.trim()})`);
  }
  const offset = start + headerLength;
  const nbytes = count * t.itemSize;
  if (bytes.length < offset + nbytes) {
    invalid(
      `${fn}: expected ${nbytes} data bytes for shape (${shape.join(', ')}) of ${t.dtype}, got ${bytes.length - offset}`,
    );
  }
  const fortranOrder = fortran === 'True';
  const raw = nativeAligned(bytes.subarray(offset, offset + nbytes), t.itemSize, t.littleEndian);
  let data = allocate(output, count);
  fill(data, raw, t);
  if (fortranOrder && shape.length > 1) {
    const c = allocate(output, count);
    fortranToC(data, c, shape);
    data = c;
  }
  return { dtype: t.dtype, kind: t.kind, itemSize: t.itemSize, shape, fortranOrder, data };
}
