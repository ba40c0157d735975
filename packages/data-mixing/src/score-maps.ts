/**
 * Score maps from any framework, one file per frame: NumPy `.npy` / `.npz`, HDF5 (SMIYC's
 * submission files: dataset `value`, float16, `anomaly_p/<method>/<dataset>/<frame>.hdf5`) and
 * 16-bit greyscale PNG with a stated scale; closed-set predictions in the same formats (8-bit PNG
 * label maps). {@link writeSmiycScoreMap} writes SMIYC's HDF5 files.
 *
 * HDF5 files are read with h5wasm (the HDF5 C library compiled to WebAssembly, loaded on the
 * first HDF5 read), so any file h5py writes reads (chunked, gzip/shuffle, any superblock).
 * h5wasm cannot write float16, so the writer here encodes the few HDF5 structures a float16 2-D
 * dataset needs itself (superblock v3, version-2 object headers, one gzip chunk), the layout
 * libhdf5 writes with `libver='latest'`; the tests read it back with h5wasm and h5py.
 */
import { open, readFile } from 'node:fs/promises';
import { extname, posix } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import {
  DenseHybridError,
  decodeNpy,
  decodeNpyElements,
  float16Bits,
  type NpyResult,
} from '@densehybrid/metrics-openiou';
import { readZip, writeFileAtomic } from '@densehybrid/metrics-openiou/node';
import type h5wasmModule from 'h5wasm/node';
import { readLabel } from './image-io.js';

/** The file formats of {@link readScoreMap} and {@link readClosedSetMap}. */
export const SCORE_MAP_FORMATS = ['npy', 'npz', 'hdf5', 'png'] as const;
/** One of {@link SCORE_MAP_FORMATS}. */
export type ScoreMapFormat = (typeof SCORE_MAP_FORMATS)[number];

/** The file extensions of each {@link ScoreMapFormat} (lower case, matched case-insensitively). */
export const SCORE_MAP_EXTENSIONS: Readonly<Record<ScoreMapFormat, readonly string[]>> = {
  npy: ['.npy'],
  npz: ['.npz'],
  hdf5: ['.hdf5', '.h5'],
  png: ['.png'],
};

/**
 * The format of a score-map file by its extension, `null` for another extension.
 *
 * @example
 * ```ts
 * scoreMapFormat('anomaly_p/DenseHybrid/AnomalyTrack-all/airplane0000.hdf5'); // 'hdf5'
 * ```
 */
export function scoreMapFormat(path: string): ScoreMapFormat | null {
  const ext = extname(path).toLowerCase();
  return SCORE_MAP_FORMATS.find((f) => SCORE_MAP_EXTENSIONS[f].includes(ext)) ?? null;
}

/** Options of {@link readScoreMap}. */
export interface ReadScoreMapOptions {
  /**
   * The array to read: the member `<key>.npy` of an `.npz`, the dataset `<key>` of an HDF5 file.
   * `null`: an `.npz`'s only array; an HDF5 file's `value` (SMIYC), else its only dataset.
   * @default null
   */
  readonly key?: string | null;
  /**
   * PNG score maps (16-bit greyscale): score = value × `pngScale` + `pngOffset`, e.g. 1/65535
   * for scores in [0, 1] saved as `(s * 65535).round().astype(np.uint16)`. `null` refuses PNG.
   * @default null
   */
  readonly pngScale?: number | null;
  /** Added to PNG scores after scaling. @default 0 */
  readonly pngOffset?: number;
}

/** Default options of {@link readScoreMap}. */
export const DEFAULT_READ_SCORE_MAP_OPTIONS = {
  key: null,
  pngScale: null,
  pngOffset: 0,
} as const satisfies ReadScoreMapOptions;

/** Options of {@link readClosedSetMap}. */
export interface ReadClosedSetMapOptions {
  /** As {@link ReadScoreMapOptions.key}. @default null */
  readonly key?: string | null;
}

/** Default options of {@link readClosedSetMap}. */
export const DEFAULT_READ_CLOSED_SET_MAP_OPTIONS = {
  key: null,
} as const satisfies ReadClosedSetMapOptions;

/** A map read by {@link readScoreMap} or {@link readClosedSetMap}. */
interface MapInfo {
  readonly format: ScoreMapFormat;
  /** The stored element type in NumPy's names (`float16`, `float32`, `uint8`, `uint16` (PNG), …). */
  readonly dtype: string;
  /** The stored shape (before size-1 axes are dropped). */
  readonly shape: readonly number[];
  readonly width: number;
  readonly height: number;
}

/** A score map read by {@link readScoreMap}: row-major, `width × height`. */
export interface ScoreMap extends MapInfo {
  /** The scores (float16 widened exactly, float64 rounded to float32). */
  readonly data: Float32Array;
}

/** A closed-set prediction read by {@link readClosedSetMap}: class indices, row-major. */
export interface ClosedSetMap extends MapInfo {
  readonly data: Uint8Array;
}

/** An array as stored: element type, shape and values (exact for every type below 2^24). */
interface RawArray {
  readonly kind: 'float' | 'int' | 'uint' | 'bool';
  /** Bytes per element. */
  readonly size: number;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

const dtypeName = (a: Pick<RawArray, 'kind' | 'size'>): string =>
  a.kind === 'bool' ? 'bool' : `${a.kind}${8 * a.size}`;

/** NumPy's `dtype.kind` → {@link RawArray.kind}. */
const KIND = { f: 'float', i: 'int', u: 'uint', b: 'bool' } as const;

/**
 * A `.npy` (an `.npz` member too) of any numeric dtype (float16/32/64, integers, bool; either byte
 * order; C or Fortran order), decoded by metrics-openiou's `decodeNpy`; its errors are prefixed
 * with `fn` and `where`.
 */
function decodeNpyArray(fn: string, bytes: Uint8Array, where: string): RawArray {
  let npy: NpyResult;
  try {
    npy = decodeNpy(bytes);
  } catch (e) {
    throw new DenseHybridError('INVALID_INPUT', `${fn}: ${where}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return { kind: KIND[npy.kind], size: npy.itemSize, shape: npy.shape, data: npy.data };
}

async function readBytes(fn: string, path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new DenseHybridError('IO', `${fn}: cannot read ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

async function readNpz(fn: string, path: string, key: string | null): Promise<RawArray> {
  const zip = readZip(await readBytes(fn, path), {
    fn,
    source: path,
    expected: 'a NumPy .npz (zip of .npy files)',
  });
  const arrays = [...zip.entries.keys()]
    .filter((n) => n.endsWith('.npy'))
    .map((n) => n.slice(0, -4));
  const name = key ?? (arrays.length === 1 ? arrays[0] : undefined);
  if (name === undefined || !arrays.includes(name)) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected ${key === null ? 'one array' : `an array ${JSON.stringify(key)}`} in ${path}, got ${arrays.length === 0 ? 'none' : `${arrays.length === 1 ? 'the array' : 'the arrays'} ${arrays.join(', ')}`}${key === null && arrays.length > 1 ? ' (save one map per file, or pass its key)' : ''}`,
    );
  }
  return decodeNpyArray(fn, zip.read(`${name}.npy`), `${path}:${name}.npy`);
}

// ---- HDF5 reading (h5wasm) ----

type H5wasm = typeof h5wasmModule;
type H5Module = Awaited<H5wasm['ready']>;
let h5wasmLoading: Promise<{ h5: H5wasm; module: H5Module }> | undefined;

/** h5wasm, loaded once on the first HDF5 read (its wasm binary is 4 MB). */
function loadH5wasm(): Promise<{ h5: H5wasm; module: H5Module }> {
  h5wasmLoading ??= import('h5wasm/node').then(async (m) => ({
    h5: m.default,
    module: await m.default.ready,
  }));
  return h5wasmLoading;
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** Whether the file has the HDF5 signature at 0 or at a user-block boundary (512, 1024, …). */
async function hasHdf5Signature(fn: string, path: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw new DenseHybridError('IO', `${fn}: cannot read ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  try {
    const { size } = await handle.stat();
    const buf = new Uint8Array(8);
    for (let at = 0; at + 8 <= size; at = at === 0 ? 512 : 2 * at) {
      await handle.read(buf, 0, 8, at);
      if (HDF5_SIGNATURE.every((b, i) => buf[i] === b)) return true;
    }
    return false;
  } finally {
    await handle.close();
  }
}

/** The HDF5 library's error text, shortened to its innermost lines. */
const hdf5Reason = (e: unknown): string => {
  const text = String((e as Error)?.message ?? e);
  const minors = [...text.matchAll(/minor: (.*)/g)].map((m) => (m[1] as string).trim());
  return minors.length > 0 ? minors.slice(-2).join('; ') : (text.split('\n')[0] ?? text);
};

async function readHdf5(fn: string, path: string, key: string | null): Promise<RawArray> {
  if (!(await hasHdf5Signature(fn, path))) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected an HDF5 file (signature \\x89HDF) in ${path}, got other bytes`,
    );
  }
  const { h5, module } = await loadH5wasm();
  // errors throw (with HDF5's text) instead of printing HDF5-DIAG lines to stderr
  module.activate_throwing_error_handler();
  let file: InstanceType<H5wasm['File']> | undefined;
  try {
    file = new h5.File(path, 'r');
    const root = file;
    const datasets = root.keys().filter((k) => root.get(k) instanceof h5.Dataset);
    const name =
      key ??
      (datasets.includes('value') ? 'value' : datasets.length === 1 ? datasets[0] : undefined);
    const dataset = name === undefined ? null : root.get(name);
    if (!(dataset instanceof h5.Dataset)) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected ${key === null ? 'a dataset "value" (SMIYC) or one dataset' : `a dataset ${JSON.stringify(key)}`} in ${path}, got ${datasets.length === 0 ? 'no dataset' : `the datasets ${datasets.join(', ')}`} at its root`,
      );
    }
    const meta = dataset.metadata;
    const kind: RawArray['kind'] | null =
      meta.type === module.H5T_class_t.H5T_FLOAT.value
        ? 'float'
        : meta.type === module.H5T_class_t.H5T_INTEGER.value
          ? meta.signed
            ? 'int'
            : 'uint'
          : null;
    if (kind === null || !(kind === 'float' ? [2, 4, 8] : [1, 2, 4, 8]).includes(meta.size)) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected a numeric dataset in ${path}:${name}, got HDF5 type class ${meta.type} of ${meta.size} bytes (dtype ${JSON.stringify(dataset.dtype)})`,
      );
    }
    const shape = (meta.shape ?? []).map(Number);
    const count = shape.reduce((a, b) => a * b, 1);
    const nbytes = count * meta.size;
    // raw bytes in the file's type, little-endian (h5wasm's .value has no float16 array)
    const ptr = module._malloc(Math.max(1, nbytes));
    let bytes: Uint8Array;
    try {
      module.get_dataset_data(root.file_id, dataset.path, null, null, null, BigInt(ptr));
      bytes = module.HEAPU8.slice(ptr, ptr + nbytes);
    } finally {
      module._free(ptr);
    }
    return {
      kind,
      size: meta.size,
      shape,
      data: decodeNpyElements(bytes, `<${kind[0] as 'f' | 'i' | 'u'}${meta.size}`, count),
    };
  } catch (e) {
    if (e instanceof DenseHybridError) throw e;
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected a readable HDF5 file, got ${path} (${hdf5Reason(e)})`,
      { cause: e },
    );
  } finally {
    try {
      file?.close();
    } finally {
      module.deactivate_throwing_error_handler();
    }
  }
}

// ---- PNG ----

async function readPng16(fn: string, path: string): Promise<RawArray> {
  const bytes = await readBytes(fn, path);
  let meta;
  try {
    meta = await sharp(bytes).metadata();
  } catch (e) {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected a PNG file, got ${path} (${(e as Error).message})`,
      {
        cause: e,
      },
    );
  }
  if (meta.format !== 'png' || meta.channels !== 1 || meta.depth !== 'ushort' || meta.isPalette) {
    const got =
      meta.format !== 'png'
        ? `a ${meta.format} file`
        : `${meta.isPalette ? 'a palette' : `a ${meta.channels}-channel`} PNG of ${meta.bitsPerSample ?? (meta.depth === 'ushort' ? 16 : 8)} bits per sample`;
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected a 16-bit greyscale PNG score map, got ${path}: ${got} (8-bit and colour PNGs are refused: 256 levels tie far too many pixels; save (s * 65535).round().astype(np.uint16) or a float .npy)`,
    );
  }
  const { data, info } = await sharp(bytes)
    .toColourspace('grey16')
    .raw({ depth: 'ushort' })
    .toBuffer({ resolveWithObject: true });
  const values = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
  return {
    kind: 'uint',
    size: 2,
    shape: [info.height, info.width],
    data: Float32Array.from(values),
  };
}

// ---- reading ----

/** Drops size-1 axes while more than two remain (as `np.squeeze`, SMIYC's reader). */
function squeeze2d(fn: string, path: string, shape: readonly number[]): [number, number] {
  const dims = [...shape];
  while (dims.length > 2) {
    const one = dims.indexOf(1);
    if (one < 0) break;
    dims.splice(one, 1);
  }
  if (dims.length !== 2) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `${fn}: expected a 2-D map (height, width) in ${path} (size-1 axes are dropped, as np.squeeze), got shape (${shape.join(', ')})`,
    );
  }
  return dims as [number, number];
}

async function readRaw(
  fn: string,
  path: string,
  key: string | null,
): Promise<[ScoreMapFormat, RawArray]> {
  const format = scoreMapFormat(path);
  switch (format) {
    case 'npy':
      return [format, decodeNpyArray(fn, await readBytes(fn, path), path)];
    case 'npz':
      return [format, await readNpz(fn, path, key)];
    case 'hdf5':
      return [format, await readHdf5(fn, path, key)];
    case 'png':
      return [format, await readPng16(fn, path)];
    default:
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected a score map file (${SCORE_MAP_FORMATS.flatMap((f) => SCORE_MAP_EXTENSIONS[f]).join(', ')}), got ${path}`,
      );
  }
}

/**
 * Reads one frame's anomaly score map (higher = more anomalous) from a `.npy` or `.npz`
 * (float16/float32/float64), an HDF5 file (`.hdf5`/`.h5`: SMIYC's submission files, dataset
 * `value`, float16; any float dataset) or a 16-bit greyscale PNG with `pngScale` (score =
 * value × pngScale + pngOffset). Size-1 axes are dropped (`(1, H, W)` reads as `(H, W)`, as
 * SMIYC's `np.squeeze`). Integer arrays and 8-bit PNGs are refused (a label map or a quantised
 * picture is not a score map).
 *
 * @param path - the file; its extension picks the format ({@link SCORE_MAP_EXTENSIONS})
 * @param options - {@link ReadScoreMapOptions}
 * @throws DenseHybridError `IO` when unreadable; `INVALID_INPUT` naming the file for another
 *   extension, a malformed file, a missing key, an integer dtype, an 8-bit / colour PNG or a PNG
 *   without `pngScale`; `SHAPE_MISMATCH` for a map that is not 2-D
 * @example
 * ```ts
 * const smiyc = await readScoreMap('anomaly_p/DenseHybrid/AnomalyTrack-all/airplane0000.hdf5');
 * const png = await readScoreMap('maps/f0.png', { pngScale: 1 / 65535 });
 * png.data; // Float32Array(width * height)
 * ```
 */
export async function readScoreMap(
  path: string,
  options: ReadScoreMapOptions = {},
): Promise<ScoreMap> {
  const fn = 'readScoreMap';
  const o = { ...DEFAULT_READ_SCORE_MAP_OPTIONS, ...options };
  if (
    scoreMapFormat(path) === 'png' &&
    (o.pngScale === null || !Number.isFinite(o.pngScale) || o.pngScale === 0)
  ) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected pngScale (score = value × pngScale + pngOffset, e.g. 1/65535) for the PNG score map ${path}, got ${String(o.pngScale)}`,
    );
  }
  if (!Number.isFinite(o.pngOffset)) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected a finite pngOffset, got ${o.pngOffset}`,
    );
  }
  const [format, raw] = await readRaw(fn, path, o.key);
  if (raw.kind !== 'float' && format !== 'png') {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected a float16, float32 or float64 score map, got ${path} of dtype ${dtypeName(raw)}`,
    );
  }
  const [height, width] = squeeze2d(fn, path, raw.shape);
  let data = raw.data;
  if (format === 'png') {
    const scale = o.pngScale as number;
    data = data.map((v) => v * scale + o.pngOffset);
  }
  return { format, dtype: dtypeName(raw), shape: raw.shape, width, height, data };
}

/**
 * Reads one frame's closed-set prediction (class indices 0..255): an 8-bit greyscale or palette
 * PNG label map, or a `.npy` / `.npz` / HDF5 array of an integer dtype (values 0..255).
 *
 * @param path - the file; its extension picks the format
 * @param options - {@link ReadClosedSetMapOptions}
 * @throws DenseHybridError `IO` when unreadable; `INVALID_INPUT` naming the file for a malformed
 *   file, a float dtype or values outside 0..255; `SHAPE_MISMATCH` for a map that is not 2-D
 * @example
 * ```ts
 * const closed = await readClosedSetMap('maps/closed/t5/0.npz');
 * closed.data; // Uint8Array(width * height)
 * ```
 */
export async function readClosedSetMap(
  path: string,
  options: ReadClosedSetMapOptions = {},
): Promise<ClosedSetMap> {
  const fn = 'readClosedSetMap';
  const o = { ...DEFAULT_READ_CLOSED_SET_MAP_OPTIONS, ...options };
  if (scoreMapFormat(path) === 'png') {
    const label = await readLabel(path);
    const shape = [label.height, label.width];
    return {
      format: 'png',
      dtype: 'uint8',
      shape,
      width: label.width,
      height: label.height,
      data: Uint8Array.from(label.data),
    };
  }
  const [format, raw] = await readRaw(fn, path, o.key);
  if (raw.kind === 'float') {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: expected an integer closed-set prediction (class indices), got ${path} of dtype ${dtypeName(raw)}`,
    );
  }
  const [height, width] = squeeze2d(fn, path, raw.shape);
  const out = new Uint8Array(raw.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = raw.data[i] as number;
    if (v < 0 || v > 255) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `${fn}: expected class indices in 0..255 in ${path}, got ${v} at pixel ${i} (row ${Math.floor(i / width)}, column ${i % width})`,
      );
    }
    out[i] = v;
  }
  return { format, dtype: dtypeName(raw), shape: raw.shape, width, height, data: out };
}

// ---- SMIYC submission files ----

/**
 * The folder of each SMIYC track in a submission (`anomaly_p/<method>/<folder>/<frame>.hdf5`):
 * the benchmark's `dset_name`, its datasets' `name_for_persistence` (every AnomalyTrack split
 * reads `AnomalyTrack-all`, every ObstacleTrack split `ObstacleTrack-all`).
 */
export const SMIYC_SUBMISSION_DATASETS = {
  anomaly: 'AnomalyTrack-all',
  obstacle: 'ObstacleTrack-all',
} as const;

/** The HDF5 dataset SMIYC's `ChannelLoaderHDF5` reads. */
export const SMIYC_SCORE_KEY = 'value';

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;

/**
 * Where SMIYC's evaluation reads a frame's scores, relative to its `DIR_OUTPUTS`:
 * `anomaly_p/<method>/<dataset>/<frame>.hdf5` (`<frame>` = the image's file name without
 * extension, SMIYC's `fid`).
 *
 * @throws DenseHybridError `INVALID_INPUT` for a name with a path separator or odd characters
 * @example
 * ```ts
 * smiycScoreMapPath('DenseHybrid', 'AnomalyTrack-all', 'airplane0000');
 * // 'anomaly_p/DenseHybrid/AnomalyTrack-all/airplane0000.hdf5'
 * ```
 */
export function smiycScoreMapPath(method: string, dataset: string, frame: string): string {
  for (const [what, v] of [
    ['method', method],
    ['dataset', dataset],
    ['frame', frame],
  ] as const) {
    if (!NAME.test(v)) {
      throw new DenseHybridError(
        'INVALID_INPUT',
        `smiycScoreMapPath: expected ${what} of letters, digits, _ . + - (one path part), got ${JSON.stringify(v)}`,
      );
    }
  }
  return posix.join('anomaly_p', method, dataset, `${frame}.hdf5`);
}

/** Options of {@link writeSmiycScoreMap} and {@link encodeSmiycScoreMap}. */
export interface WriteSmiycScoreMapOptions {
  /**
   * gzip level 1–9 of the one chunk, or 0 for uncompressed contiguous storage. 9 as SMIYC's
   * `ChannelLoaderHDF5(compression=9)`.
   * @default 9
   */
  readonly compression?: number;
  /** The dataset's name. @default 'value' (SMIYC's) */
  readonly key?: string;
}

/** Default options of {@link writeSmiycScoreMap}. */
export const DEFAULT_WRITE_SMIYC_SCORE_MAP_OPTIONS = {
  compression: 9,
  key: SMIYC_SCORE_KEY,
} as const satisfies WriteSmiycScoreMapOptions;

/** Bob Jenkins' lookup3 `hashlittle` (initval 0): the checksum of HDF5's v2 metadata. */
function lookup3(bytes: Uint8Array): number {
  const rot = (x: number, k: number): number => (x << k) | (x >>> (32 - k));
  let length = bytes.length;
  let a = (0xdeadbeef + length) | 0;
  let b = a;
  let c = a;
  let k = 0;
  const word = (o: number): number =>
    (bytes[o] as number) |
    ((bytes[o + 1] as number) << 8) |
    ((bytes[o + 2] as number) << 16) |
    ((bytes[o + 3] as number) << 24);
  while (length > 12) {
    a = (a + word(k)) | 0;
    b = (b + word(k + 4)) | 0;
    c = (c + word(k + 8)) | 0;
    a = (a - c) | 0;
    a ^= rot(c, 4);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rot(a, 6);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rot(b, 8);
    b = (b + a) | 0;
    a = (a - c) | 0;
    a ^= rot(c, 16);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= rot(a, 19);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= rot(b, 4);
    b = (b + a) | 0;
    length -= 12;
    k += 12;
  }
  if (length === 0) return c >>> 0;
  // the last 1..12 bytes, zero-padded
  const tail = new Uint8Array(12);
  tail.set(bytes.subarray(k, k + length));
  const t = (o: number): number =>
    (tail[o] as number) |
    ((tail[o + 1] as number) << 8) |
    ((tail[o + 2] as number) << 16) |
    ((tail[o + 3] as number) << 24);
  a = (a + t(0)) | 0;
  b = (b + t(4)) | 0;
  c = (c + t(8)) | 0;
  c ^= b;
  c = (c - rot(b, 14)) | 0;
  a ^= c;
  a = (a - rot(c, 11)) | 0;
  b ^= a;
  b = (b - rot(a, 25)) | 0;
  c ^= b;
  c = (c - rot(b, 16)) | 0;
  a ^= c;
  a = (a - rot(c, 4)) | 0;
  b ^= a;
  b = (b - rot(a, 14)) | 0;
  c ^= b;
  c = (c - rot(b, 24)) | 0;
  return c >>> 0;
}

/** A little-endian byte writer. */
class Bytes {
  private readonly parts: number[] = [];
  u8(...v: number[]): this {
    this.parts.push(...v);
    return this;
  }
  u16(v: number): this {
    return this.u8(v & 0xff, (v >>> 8) & 0xff);
  }
  u32(v: number): this {
    return this.u16(v & 0xffff).u16((v >>> 16) & 0xffff);
  }
  /** An 8-byte offset or length (`null`: HDF5's undefined address, all ones). */
  u64(v: number | null): this {
    if (v === null) return this.u32(0xffffffff).u32(0xffffffff);
    return this.u32(v % 2 ** 32).u32(Math.floor(v / 2 ** 32));
  }
  bytes(b: Uint8Array): this {
    for (const x of b) this.parts.push(x);
    return this;
  }
  get length(): number {
    return this.parts.length;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** A version-2 object header ("OHDR") holding `messages`, with its checksum. */
function objectHeader(
  messages: readonly { type: number; flags: number; data: Uint8Array }[],
): Uint8Array {
  const size = messages.reduce((s, m) => s + 4 + m.data.length, 0);
  // flags 0x02: a 4-byte "size of chunk #0"; no times, no attribute phase change, no order
  const w = new Bytes().u8(0x4f, 0x48, 0x44, 0x52, 2, 0x02).u32(size);
  for (const m of messages) w.u8(m.type).u16(m.data.length).u8(m.flags).bytes(m.data);
  const body = w.done();
  return new Bytes().bytes(body).u32(lookup3(body)).done();
}

/**
 * A chunk's dimensions as layout v4 stores them: one byte count, the smallest that holds the
 * largest dimension (libhdf5 checks it: `(log2(max) + 8) / 8` bytes), then each dimension.
 */
function dimsEncoded(w: Bytes, dims: readonly number[]): Bytes {
  const max = Math.max(...dims);
  const length = Math.floor((31 - Math.clz32(max) + 8) / 8);
  w.u8(length);
  for (const d of dims) for (let i = 0; i < length; i++) w.u8(Math.floor(d / 2 ** (8 * i)) & 0xff);
  return w;
}

const SUPERBLOCK_SIZE = 48;
const UNDEFINED = null;

/**
 * Encodes a score map as SMIYC's HDF5 file: one float16 dataset `value` of shape
 * `(height, width)` (scores rounded to nearest as `astype(np.float16)`), gzip-compressed like the
 * benchmark's writer. Deterministic: the same scores give the same bytes.
 *
 * @param scores - `width × height` scores, row-major
 * @throws DenseHybridError `SHAPE_MISMATCH` when `scores.length` is not `width × height`,
 *   `NON_FINITE` for a NaN score, `INVALID_OPTION` for a bad compression level or key
 * @example
 * ```ts
 * const bytes = encodeSmiycScoreMap(new Float32Array(640 * 480), 640, 480);
 * ```
 */
export function encodeSmiycScoreMap(
  scores: ArrayLike<number>,
  width: number,
  height: number,
  options: WriteSmiycScoreMapOptions = {},
): Uint8Array {
  const fn = 'encodeSmiycScoreMap';
  const o = { ...DEFAULT_WRITE_SMIYC_SCORE_MAP_OPTIONS, ...options };
  if (!Number.isInteger(o.compression) || o.compression < 0 || o.compression > 9) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected compression 0 (none) to 9 (gzip level), got ${o.compression}`,
    );
  }
  if (!NAME.test(o.key) || o.key.length > 255) {
    throw new DenseHybridError(
      'INVALID_OPTION',
      `${fn}: expected key of letters, digits, _ . + - (up to 255), got ${JSON.stringify(o.key)}`,
    );
  }
  const okSize = [width, height].every((d) => Number.isInteger(d) && d > 0 && d < 2 ** 31);
  if (!okSize || scores.length !== width * height) {
    throw new DenseHybridError(
      'SHAPE_MISMATCH',
      `${fn}: expected width × height positive integers with scores.length = width × height, got ${width} × ${height} and ${scores.length} scores`,
    );
  }
  const raw = new Uint8Array(2 * scores.length);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i] as number;
    if (Number.isNaN(v)) {
      throw new DenseHybridError(
        'NON_FINITE',
        `${fn}: expected scores without NaN, got NaN at pixel ${i} (row ${Math.floor(i / width)}, column ${i % width})`,
      );
    }
    view.setUint16(2 * i, float16Bits(v), true);
  }
  const stored = o.compression === 0 ? raw : deflateSync(raw, { level: o.compression });

  const keyBytes = new TextEncoder().encode(o.key);
  // root group: compact links (link info without a fractal heap, group info, one hard link)
  const linkInfo = new Bytes().u8(0, 0).u64(UNDEFINED).u64(UNDEFINED).done();
  const groupInfo = new Bytes().u8(0, 0).done();
  const rootSize = (address: number): Uint8Array =>
    objectHeader([
      { type: 0x02, flags: 0, data: linkInfo },
      { type: 0x0a, flags: 0, data: groupInfo },
      {
        type: 0x06,
        flags: 0,
        data: new Bytes().u8(1, 0, keyBytes.length).bytes(keyBytes).u64(address).done(),
      },
    ]);
  const rootLength = rootSize(0).length;
  const datasetAddress = SUPERBLOCK_SIZE + rootLength;

  const dataspace = new Bytes().u8(2, 2, 0, 1).u64(height).u64(width).done();
  // IEEE half: little-endian, implied msb (mantissa normalisation 2), sign at bit 15;
  // precision 16, exponent at bit 10 (5 bits), mantissa at bit 0 (10 bits), bias 15
  const datatype = new Bytes()
    .u8(0x11, 0x20, 15, 0)
    .u32(2)
    .u16(0)
    .u16(16)
    .u8(10, 5, 0, 10)
    .u32(15)
    .done();
  // fill value v3: contiguous: allocated late, written if set; chunked: incremental, as libhdf5
  const fill = new Bytes().u8(3, o.compression === 0 ? 0x0a : 0x03).done();
  // deflate (id 1), optional, one client value: the level
  const filters = new Bytes().u8(2, 1).u16(1).u16(1).u16(1).u32(o.compression).done();
  const layout = (address: number): Uint8Array =>
    o.compression === 0
      ? new Bytes().u8(3, 1).u64(address).u64(raw.length).done()
      : // v4 chunked, one chunk with its filtered size (flag 0x02), dims (H, W, element size)
        dimsEncoded(new Bytes().u8(4, 2, 0x02, 3), [height, width, 2])
          .u8(1)
          .u64(stored.length)
          .u32(0)
          .u64(address)
          .done();
  const datasetHeader = (address: number): Uint8Array =>
    objectHeader([
      { type: 0x01, flags: 0, data: dataspace },
      { type: 0x03, flags: 0x01, data: datatype },
      { type: 0x05, flags: 0x01, data: fill },
      ...(o.compression === 0 ? [] : [{ type: 0x0b, flags: 0x01, data: filters }]),
      { type: 0x08, flags: 0, data: layout(address) },
    ]);
  const dataAddress = datasetAddress + datasetHeader(0).length;
  const end = dataAddress + stored.length;
  const superblock = new Bytes()
    .u8(...HDF5_SIGNATURE, 3, 8, 8, 0)
    .u64(0)
    .u64(UNDEFINED)
    .u64(end)
    .u64(SUPERBLOCK_SIZE)
    .done();
  const out = new Uint8Array(end);
  out.set(superblock, 0);
  out.set(new Bytes().u32(lookup3(superblock)).done(), superblock.length);
  out.set(rootSize(datasetAddress), SUPERBLOCK_SIZE);
  out.set(datasetHeader(dataAddress), datasetAddress);
  out.set(stored, dataAddress);
  return out;
}

/**
 * Writes a score map as SMIYC's HDF5 submission file ({@link encodeSmiycScoreMap}), atomically
 * (a temporary file fsynced and renamed over; missing folders are created). With
 * {@link smiycScoreMapPath} under SMIYC's `DIR_OUTPUTS`, the benchmark's evaluation reads it.
 *
 * @param path - e.g. `outputs/anomaly_p/DenseHybrid/AnomalyTrack-all/airplane0000.hdf5`
 * @param scores - `width × height` scores, row-major (higher = more anomalous)
 * @throws DenseHybridError as {@link encodeSmiycScoreMap}; `IO` when writing fails
 * @example
 * ```ts
 * await writeSmiycScoreMap(join('outputs', smiycScoreMapPath('DenseHybrid', 'AnomalyTrack-all', 'airplane0000')), scores, w, h);
 * ```
 */
export async function writeSmiycScoreMap(
  path: string,
  scores: ArrayLike<number>,
  width: number,
  height: number,
  options: WriteSmiycScoreMapOptions = {},
): Promise<void> {
  await writeFileAtomic(
    'writeSmiycScoreMap',
    path,
    encodeSmiycScoreMap(scores, width, height, options),
  );
}
