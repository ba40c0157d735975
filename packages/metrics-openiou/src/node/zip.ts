/**
 * A zip archive held in memory: the central directory, ZIP64 included, and members stored or
 * deflated (`node:zlib`), each checked against its CRC-32. The repository's one zip reader:
 * NumPy `.npz` files (`@densehybrid/data-mixing`) and PyTorch checkpoints
 * (`@densehybrid/backbones`) use it.
 */
import * as zlib from 'node:zlib';
import { DenseHybridError } from '../errors.js';

/** One member of a {@link ZipArchive}, from the central directory. */
export interface ZipEntry {
  /** Path inside the archive (UTF-8). */
  readonly name: string;
  /** 0 stored, 8 deflated. */
  readonly method: number;
  /** Bytes in the archive. */
  readonly compressedSize: number;
  /** Bytes once extracted. */
  readonly size: number;
  /** CRC-32 of the extracted bytes as the directory states it. */
  readonly crc32: number;
  /** Offset of the member's local header. */
  readonly localHeaderOffset: number;
}

/** Options of {@link readZip}. */
export interface ReadZipOptions {
  /** Function name that starts error messages. @default 'readZip' */
  readonly fn?: string;
  /** What to call the archive in error messages (e.g. its path). @default 'buffer' */
  readonly source?: string;
  /** What the archive should be, for error messages. @default 'a zip archive' */
  readonly expected?: string;
  /**
   * Check each member read against the CRC-32 of the directory. A CRC of 0 on a non-empty
   * member is taken as "not computed" (PyTorch can save without CRCs) and not checked.
   * @default true
   */
  readonly verifyCrc?: boolean;
}

/** Default options of {@link readZip}. */
export const DEFAULT_READ_ZIP_OPTIONS = {
  fn: 'readZip',
  source: 'buffer',
  expected: 'a zip archive',
  verifyCrc: true,
} as const satisfies ReadZipOptions;

/** A parsed zip archive: its members by name and a reader for their bytes. */
export interface ZipArchive {
  /** Members in central-directory order. */
  readonly entries: ReadonlyMap<string, ZipEntry>;
  /**
   * The extracted bytes of a member: a view into the archive for stored members (no copy), a
   * new buffer for deflated ones.
   * @throws DenseHybridError `INVALID_INPUT` for a missing member, a broken local header, a
   *   truncated or corrupt member (CRC mismatch) or an unsupported compression method
   */
  read(name: string): Uint8Array;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX16 = 0xffff;
const MAX32 = 0xffffffff;

let crcTable: Uint32Array | undefined;

/** CRC-32 (ISO-HDLC, as zip and gzip): `zlib.crc32` where Node has it (≥ 20.15), else a table. */
export function crc32(bytes: Uint8Array): number {
  const native = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;
  if (typeof native === 'function') return native(bytes) >>> 0;
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++)
    c = (crcTable[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Parses a zip archive's central directory (ZIP64 too) without copying member bytes. Refuses
 * archives that are truncated, whose directory points outside the file, that name a member
 * twice, or whose members are encrypted.
 *
 * @param bytes - the whole archive
 * @param options - see {@link ReadZipOptions}
 * @returns the members and a reader of their bytes
 * @throws DenseHybridError `INVALID_INPUT` `${fn}: ${source}: expected ${expected}, got …`
 * @example
 * ```ts
 * import { readZip } from '@densehybrid/metrics-openiou/node';
 * const zip = readZip(new Uint8Array(await readFile('arrays.npz')), { source: 'arrays.npz' });
 * const npy = zip.read('rgb.npy');
 * ```
 */
export function readZip(bytes: Uint8Array, options: ReadZipOptions = {}): ZipArchive {
  const d = DEFAULT_READ_ZIP_OPTIONS;
  const fn = options.fn ?? d.fn;
  const source = options.source ?? d.source;
  const expected = options.expected ?? d.expected;
  const verify = options.verifyCrc ?? d.verifyCrc;
  const bad = (what: string): never => {
    throw new DenseHybridError(
      'INVALID_INPUT',
      `${fn}: ${source}: expected ${expected}, got ${what}`,
    );
  };
  if (!(bytes instanceof Uint8Array)) bad('no bytes');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number): number => view.getUint16(o, true);
  const u32 = (o: number): number => view.getUint32(o, true);
  const u64 = (o: number): number => Number(view.getBigUint64(o, true));
  let eocd = -1;
  for (let o = bytes.length - 22; o >= Math.max(0, bytes.length - 22 - MAX16); o--) {
    if (u32(o) === EOCD) {
      eocd = o;
      break;
    }
  }
  if (eocd < 0) bad('no zip end-of-central-directory record (not a zip, or truncated)');
  let count = u16(eocd + 10);
  let offset = u32(eocd + 16);
  let dirSize = u32(eocd + 12);
  if (count === MAX16 || offset === MAX32 || dirSize === MAX32) {
    if (eocd < 20 || u32(eocd - 20) !== ZIP64_LOCATOR) bad('a ZIP64 archive without its locator');
    const z = u64(eocd - 20 + 8);
    if (z + 56 > bytes.length || u32(z) !== ZIP64_EOCD) bad('a broken ZIP64 record');
    count = u64(z + 32);
    dirSize = u64(z + 40);
    offset = u64(z + 48);
  }
  if (offset + dirSize > bytes.length) {
    bad(
      `a central directory at ${offset}..${offset + dirSize} beyond the ${bytes.length} bytes (truncated)`,
    );
  }
  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder();
  for (let i = 0, o = offset; i < count; i++) {
    if (o + 46 > bytes.length || u32(o) !== CENTRAL) bad('a truncated central directory');
    const flags = u16(o + 8);
    const method = u16(o + 10);
    const crc = u32(o + 16);
    let compressedSize = u32(o + 20);
    let size = u32(o + 24);
    const nameLength = u16(o + 28);
    const extraLength = u16(o + 30);
    const commentLength = u16(o + 32);
    let localHeaderOffset = u32(o + 42);
    const end = o + 46 + nameLength + extraLength;
    if (end + commentLength > bytes.length) bad('a truncated central directory');
    const name = decoder.decode(bytes.subarray(o + 46, o + 46 + nameLength));
    // ZIP64 extra field (id 1): the 64-bit values of the fields saturated at 0xffffffff, in order
    for (let e = o + 46 + nameLength; e + 4 <= end;) {
      const id = u16(e);
      const length = u16(e + 2);
      if (id === 1) {
        let p = e + 4;
        const take = (): number => {
          if (p + 8 > e + 4 + length) bad(`a short ZIP64 field of ${name}`);
          const v = u64(p);
          p += 8;
          return v;
        };
        if (size === MAX32) size = take();
        if (compressedSize === MAX32) compressedSize = take();
        if (localHeaderOffset === MAX32) localHeaderOffset = take();
      }
      e += 4 + length;
    }
    if (flags & 1) bad(`an encrypted member ${name}`);
    if (entries.has(name)) bad(`the member ${name} twice`);
    entries.set(name, { name, method, compressedSize, size, crc32: crc, localHeaderOffset });
    o = end + commentLength;
  }
  const read = (name: string): Uint8Array => {
    const entry = entries.get(name);
    if (entry === undefined) {
      const names = [...entries.keys()];
      const shown =
        names.slice(0, 10).join(', ') + (names.length > 10 ? `, … (${names.length})` : '');
      return bad(`no ${name} among ${names.length > 0 ? shown : 'no entries'}`);
    }
    const local = entry.localHeaderOffset;
    if (local + 30 > bytes.length || u32(local) !== LOCAL) bad(`a broken entry ${name}`);
    const start = local + 30 + u16(local + 26) + u16(local + 28);
    const data = bytes.subarray(start, start + entry.compressedSize);
    if (data.length !== entry.compressedSize) bad(`a truncated entry ${name}`);
    let out: Uint8Array;
    if (entry.method === 0) out = data;
    else if (entry.method === 8) {
      try {
        out = zlib.inflateRawSync(data);
      } catch (e) {
        return bad(`a corrupt deflated entry ${name} (${(e as Error).message})`);
      }
    } else
      return bad(`entry ${name} compressed with method ${entry.method} (stored or deflate only)`);
    if (out.length !== entry.size) bad(`entry ${name} of ${out.length} bytes, not ${entry.size}`);
    if (verify && !(entry.crc32 === 0 && out.length > 0)) {
      const actual = crc32(out);
      if (actual !== entry.crc32) {
        bad(
          `entry ${name} with CRC-32 ${actual.toString(16).padStart(8, '0')}, not ${entry.crc32.toString(16).padStart(8, '0')} as the directory says (corrupted file)`,
        );
      }
    }
    return out;
  };
  return { entries, read };
}
