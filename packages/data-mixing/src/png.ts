import { inflateSync } from 'node:zlib';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import type { LabelMap } from './types.js';

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

/**
 * Decodes a PNG label map to its raw sample values: palette indices for palette PNGs, grey
 * values for greyscale PNGs (bit depths 1, 2, 4, 8; the grey channel of grey+alpha). Image
 * decoders such as libvips expand palettes to colours, which loses the class ids, hence this
 * small decoder (node:zlib inflate + PNG unfiltering).
 *
 * @internal used by {@link readLabel}; `name` goes into error messages.
 */
export function decodeLabelPng(buf: Uint8Array, name: string): LabelMap {
  const fail = (what: string): never => {
    throw new DenseHybridError('INVALID_INPUT', `readLabel: ${name}: ${what}`);
  };
  if (buf.length < 8 || SIGNATURE.some((b, i) => buf[i] !== b)) {
    fail('expected a PNG file (signature 89 50 4E 47), got other bytes');
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 8;
  let width = 0;
  let height = 0;
  let depth = 0;
  let colorType = -1;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (pos + 8 <= buf.length) {
    const len = view.getUint32(pos);
    const type = String.fromCharCode(buf[pos + 4]!, buf[pos + 5]!, buf[pos + 6]!, buf[pos + 7]!);
    const start = pos + 8;
    if (start + len + 4 > buf.length)
      fail(`truncated PNG: chunk ${type} runs past the end of file`);
    if (type === 'IHDR') {
      width = view.getUint32(start);
      height = view.getUint32(start + 4);
      depth = buf[start + 8]!;
      colorType = buf[start + 9]!;
      if (buf[start + 12] !== 0) fail('expected a non-interlaced PNG label, got Adam7 interlacing');
    } else if (type === 'IDAT') {
      idat.push(buf.subarray(start, start + len));
    } else if (type === 'IEND') {
      ended = true;
      break;
    }
    pos = start + len + 4;
  }
  if (!ended) fail('truncated PNG: no IEND chunk');
  if (width === 0 || height === 0) fail('expected a PNG with an IHDR chunk and non-zero size');
  const channels = colorType === 0 || colorType === 3 ? 1 : colorType === 4 ? 2 : 0;
  if (channels === 0 || (channels === 2 && depth !== 8) || depth > 8) {
    fail(
      `expected an 8-bit (or lower) greyscale or palette PNG label, got colour type ${colorType} at ${depth} bits`,
    );
  }
  let raw: Uint8Array;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch (e) {
    throw new DenseHybridError('INVALID_INPUT', `readLabel: ${name}: corrupt PNG data`, {
      cause: e,
    });
  }
  const bpp = Math.max(1, (channels * depth) >> 3);
  const stride = Math.ceil((width * channels * depth) / 8);
  if (raw.length < height * (stride + 1)) {
    fail(`truncated PNG: expected ${height * (stride + 1)} bytes of pixel data, got ${raw.length}`);
  }
  const out = new Uint8Array(width * height);
  let prev = new Uint8Array(stride);
  let cur = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const off = y * (stride + 1);
    const filter = raw[off]!;
    const line = raw.subarray(off + 1, off + 1 + stride);
    unfilter(filter, line, prev, cur, bpp, () => fail(`unknown PNG filter ${filter} in row ${y}`));
    const o = y * width;
    if (depth === 8) {
      if (channels === 1) out.set(cur.subarray(0, width), o);
      else for (let x = 0; x < width; x++) out[o + x] = cur[2 * x]!;
    } else {
      const perByte = 8 / depth;
      const mask = (1 << depth) - 1;
      for (let x = 0; x < width; x++) {
        const byte = cur[(x / perByte) | 0]!;
        const shift = 8 - depth * ((x % perByte) + 1);
        out[o + x] = (byte >> shift) & mask;
      }
    }
    const t = prev;
    prev = cur;
    cur = t;
  }
  return { data: out, width, height };
}

function unfilter(
  filter: number,
  line: Uint8Array,
  prev: Uint8Array,
  cur: Uint8Array,
  bpp: number,
  onBad: () => never,
): void {
  const n = line.length;
  switch (filter) {
    case 0:
      cur.set(line);
      return;
    case 1:
      for (let i = 0; i < n; i++) cur[i] = (line[i]! + (i >= bpp ? cur[i - bpp]! : 0)) & 255;
      return;
    case 2:
      for (let i = 0; i < n; i++) cur[i] = (line[i]! + prev[i]!) & 255;
      return;
    case 3:
      for (let i = 0; i < n; i++)
        cur[i] = (line[i]! + (((i >= bpp ? cur[i - bpp]! : 0) + prev[i]!) >> 1)) & 255;
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? cur[i - bpp]! : 0;
        const b = prev[i]!;
        const c = i >= bpp ? prev[i - bpp]! : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        cur[i] = (line[i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
      }
      return;
    default:
      onBad();
  }
}
