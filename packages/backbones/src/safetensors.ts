import {
  DenseHybridError,
  describeValue,
  float16Bits,
  float16Value,
} from '@densehybrid/metrics-openiou';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '@densehybrid/metrics-openiou/node';

/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON `{ name: { dtype, shape, data_offsets: [begin, end] },
 * "__metadata__": { string: string } }`, then the tensors' little-endian bytes; offsets are
 * relative to the end of the header.
 */

/** Element types of the safetensors format. */
export type SafetensorsDtype =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'F8_E4M3'
  | 'F8_E5M2'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U64'
  | 'U32'
  | 'U16'
  | 'U8'
  | 'BOOL';

/** Bytes per element of each dtype. */
export const SAFETENSORS_DTYPE_SIZES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

/** One tensor of a parsed safetensors file: raw little-endian bytes (a view, not a copy). */
export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

/** A parsed safetensors file. */
export interface SafetensorsFile {
  /** Tensors in header order. */
  readonly tensors: ReadonlyMap<string, SafetensorsEntry>;
  /** The optional `__metadata__` string map. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** A tensor to write: `data` holds `prod(shape)` values, converted to `dtype` on writing. */
export interface SafetensorsTensorInput {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: ArrayLike<number> | BigInt64Array | BigUint64Array;
}

const MAX_HEADER = 100_000_000;
const FN = 'parseSafetensors';

function invalid(fn: string, source: string, what: string): DenseHybridError {
  return new DenseHybridError('INVALID_INPUT', `${fn}: ${source}: ${what}`);
}

/**
 * Parses a safetensors file held in memory. Validates the header (dtypes, shapes, offsets inside
 * the data section, byte length = elements × dtype size) without copying tensor bytes.
 *
 * @param bytes - the whole file.
 * @param source - what to call the file in error messages (e.g. its path).
 * @returns the tensors (as byte views into `bytes`) and metadata.
 * @throws DenseHybridError `INVALID_INPUT` for a truncated file, a malformed header, an unknown
 *   dtype or offsets that do not fit.
 * @example
 * ```ts
 * const file = parseSafetensors(new Uint8Array(await readFile('model.safetensors')));
 * for (const [name, t] of file.tensors) console.log(name, t.dtype, t.shape);
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, source = 'buffer'): SafetensorsFile {
  if (!(bytes instanceof Uint8Array)) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${FN}: expected bytes as a Uint8Array, got ${describeValue(bytes)}`,
    );
  }
  if (bytes.length < 8) {
    throw invalid(
      FN,
      source,
      `expected at least 8 bytes (the header length), got ${bytes.length} (truncated file?)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER)) {
    throw invalid(
      FN,
      source,
      `expected a header length <= ${MAX_HEADER} bytes, got ${headerLength} (not a safetensors file?)`,
    );
  }
  const n = Number(headerLength);
  if (8 + n > bytes.length) {
    throw invalid(
      FN,
      source,
      `header says ${n} bytes of JSON but the file has only ${bytes.length - 8} after the length (truncated file)`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${FN}: ${source}: expected a JSON header, got invalid JSON`,
      {
        cause: e,
      },
    );
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw invalid(
      FN,
      source,
      `expected the header to be a JSON object, got ${describeValue(header)}`,
    );
  }
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw invalid(
          FN,
          source,
          `expected __metadata__ to be a string map, got ${describeValue(raw)}`,
        );
      }
      metadata = { ...(raw as Record<string, string>) };
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (info === null || typeof info !== 'object') {
      throw invalid(FN, source, `tensor "${name}": expected an object, got ${describeValue(raw)}`);
    }
    const dtype = info.dtype;
    if (typeof dtype !== 'string' || !(dtype in SAFETENSORS_DTYPE_SIZES)) {
      throw invalid(
        FN,
        source,
        `tensor "${name}": expected dtype one of ${Object.keys(SAFETENSORS_DTYPE_SIZES).join(', ')}, got ${describeValue(dtype)}`,
      );
    }
    const shape = info.shape;
    if (
      !Array.isArray(shape) ||
      shape.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)
    ) {
      throw invalid(
        FN,
        source,
        `tensor "${name}": expected shape as a list of integers >= 0, got ${describeValue(shape)}`,
      );
    }
    const offsets = info.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      offsets.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0) ||
      (offsets[0] as number) > (offsets[1] as number)
    ) {
      throw invalid(
        FN,
        source,
        `tensor "${name}": expected data_offsets [begin, end] with 0 <= begin <= end, got ${describeValue(offsets)}`,
      );
    }
    const [begin, end] = offsets as [number, number];
    const size = SAFETENSORS_DTYPE_SIZES[dtype as SafetensorsDtype];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * size) {
      throw invalid(
        FN,
        source,
        `tensor "${name}": expected ${count * size} bytes (${count} × ${dtype}), got data_offsets spanning ${end - begin}`,
      );
    }
    if (end > dataLength) {
      throw invalid(
        FN,
        source,
        `tensor "${name}" needs data bytes [${begin}, ${end}) but the data section has only ${dataLength} bytes (truncated file)`,
      );
    }
    tensors.set(name, {
      name,
      dtype: dtype as SafetensorsDtype,
      shape: shape as number[],
      bytes: bytes.subarray(dataStart + begin, dataStart + end),
    });
  }
  return { tensors, metadata };
}

/**
 * Reads and parses a `.safetensors` file.
 *
 * @param path - file path.
 * @returns the parsed file; see {@link parseSafetensors}.
 * @throws DenseHybridError `IO` when the file cannot be read, `INVALID_INPUT` when it is malformed.
 * @example
 * ```ts
 * const { tensors } = await readSafetensors('densenet121.safetensors');
 * ```
 */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new DenseHybridError(
      'IO',
      `readSafetensors: expected a readable file at ${JSON.stringify(path)}, got ${(e as Error).message}`,
      { cause: e },
    );
  }
  return parseSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

// --- float conversions -------------------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * IEEE half (binary16) bits → number; the same function as `float16Value` of
 * `@densehybrid/metrics-openiou`.
 */
export const halfToFloat: (h: number) => number = float16Value;

/**
 * number → IEEE half bits, round to nearest even (overflow → ±Infinity); the same function as
 * `float16Bits` of `@densehybrid/metrics-openiou`.
 */
export const floatToHalf: (value: number) => number = float16Bits;

/** float8 e4m3fn bits → number (no infinities; 0x7f/0xff are NaN). */
function e4m3ToFloat(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const exp = (b >> 3) & 0xf;
  const mant = b & 7;
  if (exp === 15 && mant === 7) return NaN;
  if (exp === 0) return sign * (mant / 8) * 2 ** -6;
  return sign * (1 + mant / 8) * 2 ** (exp - 7);
}

/**
 * Decodes an entry's bytes to numbers: float dtypes to `Float32Array`, integer dtypes to
 * `Int32Array` (64/32-bit values outside int32 throw), `BOOL` to `Uint8Array` (0/1).
 *
 * @param entry - a tensor from {@link parseSafetensors}.
 * @returns a fresh typed array of `prod(shape)` values.
 * @throws DenseHybridError `INVALID_INPUT` when an integer does not fit int32.
 * @example
 * ```ts
 * const w = decodeSafetensor(file.tensors.get('features.conv0.weight')!); // Float32Array
 * ```
 */
export function decodeSafetensor(entry: SafetensorsEntry): Float32Array | Int32Array | Uint8Array {
  const { bytes, dtype } = entry;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = bytes.byteLength / SAFETENSORS_DTYPE_SIZES[dtype];
  const asInt = (read: (i: number) => number | bigint): Int32Array => {
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const v = read(i);
      if (v < -2147483648 || v > 2147483647) {
        throw new DenseHybridError(
          'INVALID_INPUT',
          `decodeSafetensor: tensor "${entry.name}": expected ${dtype} values within int32, got ${v} at index ${i}`,
        );
      }
      out[i] = Number(v);
    }
    return out;
  };
  const asFloat = (read: (i: number) => number): Float32Array => {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = read(i);
    return out;
  };
  switch (dtype) {
    case 'F32':
      return asFloat((i) => view.getFloat32(i * 4, true));
    case 'F64':
      return asFloat((i) => view.getFloat64(i * 8, true));
    case 'F16':
      return asFloat((i) => halfToFloat(view.getUint16(i * 2, true)));
    case 'BF16':
      return asFloat((i) => {
        u32[0] = view.getUint16(i * 2, true) << 16;
        return f32[0] as number;
      });
    case 'F8_E5M2':
      return asFloat((i) => halfToFloat((bytes[i] as number) << 8));
    case 'F8_E4M3':
      return asFloat((i) => e4m3ToFloat(bytes[i] as number));
    case 'I64':
      return asInt((i) => view.getBigInt64(i * 8, true));
    case 'U64':
      return asInt((i) => view.getBigUint64(i * 8, true));
    case 'I32':
      return asInt((i) => view.getInt32(i * 4, true));
    case 'U32':
      return asInt((i) => view.getUint32(i * 4, true));
    case 'I16':
      return asInt((i) => view.getInt16(i * 2, true));
    case 'U16':
      return asInt((i) => view.getUint16(i * 2, true));
    case 'I8':
      return asInt((i) => view.getInt8(i));
    case 'U8':
      return asInt((i) => view.getUint8(i));
    case 'BOOL':
      return Uint8Array.from(bytes, (b) => (b === 0 ? 0 : 1));
  }
}

function encode(name: string, t: SafetensorsTensorInput, out: DataView, offset: number): void {
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== count) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `serializeSafetensors: tensor "${name}": expected ${count} values for shape ${JSON.stringify(t.shape)}, got ${t.data.length}`,
    );
  }
  const data = t.data as ArrayLike<number | bigint>;
  const num = (i: number): number => Number(data[i]);
  const big = (i: number): bigint => {
    const v = data[i] as number | bigint;
    return typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
  };
  const size = SAFETENSORS_DTYPE_SIZES[t.dtype];
  if (t.dtype === 'F32' && t.data instanceof Float32Array) {
    new Uint8Array(out.buffer, out.byteOffset + offset, count * 4).set(
      new Uint8Array(t.data.buffer, t.data.byteOffset, count * 4),
    );
    if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) return; // little-endian host
  }
  for (let i = 0; i < count; i++) {
    const o = offset + i * size;
    switch (t.dtype) {
      case 'F32':
        out.setFloat32(o, num(i), true);
        break;
      case 'F64':
        out.setFloat64(o, num(i), true);
        break;
      case 'F16':
        out.setUint16(o, floatToHalf(num(i)), true);
        break;
      case 'BF16': {
        // round to nearest even on the upper 16 bits
        f32[0] = num(i);
        const x = u32[0] as number;
        const r = Number.isNaN(f32[0]) ? 0x7fc0 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
        out.setUint16(o, r & 0xffff, true);
        break;
      }
      case 'I64':
        out.setBigInt64(o, big(i), true);
        break;
      case 'U64':
        out.setBigUint64(o, big(i), true);
        break;
      case 'I32':
        out.setInt32(o, num(i), true);
        break;
      case 'U32':
        out.setUint32(o, num(i), true);
        break;
      case 'I16':
        out.setInt16(o, num(i), true);
        break;
      case 'U16':
        out.setUint16(o, num(i), true);
        break;
      case 'I8':
        out.setInt8(o, num(i));
        break;
      case 'U8':
        out.setUint8(o, num(i));
        break;
      case 'BOOL':
        out.setUint8(o, num(i) ? 1 : 0);
        break;
      case 'F8_E4M3':
      case 'F8_E5M2':
        throw new DenseHybridError(
          'INVALID_INPUT',
          `serializeSafetensors: tensor "${name}": expected a writable dtype (float8 is read-only here), got ${t.dtype}`,
        );
    }
  }
}

/**
 * Serialises tensors to safetensors bytes (header padded with spaces to 8 bytes, tensors in the
 * given order, contiguous).
 *
 * @param tensors - name → dtype, shape and values (converted to `dtype`, e.g. numbers → F16).
 * @param metadata - optional `__metadata__` string map.
 * @returns the file's bytes.
 * @throws DenseHybridError `SHAPE_MISMATCH` when a value count does not match its shape,
 *   `INVALID_INPUT` for an unknown or unwritable dtype.
 * @example
 * ```ts
 * const bytes = serializeSafetensors(new Map([['w', { dtype: 'F32', shape: [2], data: [1, 2] }]]));
 * ```
 */
export function serializeSafetensors(
  tensors: ReadonlyMap<string, SafetensorsTensorInput>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    if (!(t.dtype in SAFETENSORS_DTYPE_SIZES)) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `serializeSafetensors: tensor "${name}": expected dtype one of ${Object.keys(SAFETENSORS_DTYPE_SIZES).join(', ')}, got ${describeValue(t.dtype)}`,
      );
    }
    const bytes = t.shape.reduce((a, b) => a * b, 1) * SAFETENSORS_DTYPE_SIZES[t.dtype];
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let o = 8 + json.length;
  for (const [name, t] of tensors) {
    encode(name, t, view, o);
    o += t.shape.reduce((a, b) => a * b, 1) * SAFETENSORS_DTYPE_SIZES[t.dtype];
  }
  return out;
}

/**
 * Writes a safetensors file atomically (temporary file, fsync, rename).
 *
 * @param path - destination.
 * @param tensors - see {@link serializeSafetensors}.
 * @param metadata - optional `__metadata__`.
 * @throws DenseHybridError `IO` when writing fails; see {@link serializeSafetensors}.
 * @example
 * ```ts
 * await writeSafetensors('w.safetensors', new Map([['bias', { dtype: 'F16', shape: [3], data: [0, 1, 2] }]]));
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, SafetensorsTensorInput>,
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  await writeFileAtomic('writeSafetensors', path, serializeSafetensors(tensors, metadata));
}
