/**
 * Score-map files as other frameworks write them, built from the formats for tests that must not
 * need Python: `.npy` of any dtype (`np.save`), `.npz` (`np.savez`, stored members) and
 * greyscale PNG of 8 or 16 bits (`PIL.Image.fromarray(u16).save`). The data-mixing suite also
 * reads files h5py / numpy / PIL wrote (`packages/data-mixing/scripts/h5py-check.py --fixtures`).
 * A test helper shared by relative import; not part of any package.
 */
import { deflateSync } from 'node:zlib';
import { crc32 } from '@densehybrid/metrics-openiou/node';
import { zipStored } from './torch-zip.js';

/** A C-order `.npy` v1.0 of dtype `descr` (`<f8`, `<i2`, `>f4`, …) holding the bytes of `data`. */
export function npyBytes(
  descr: string,
  shape: readonly number[],
  data: ArrayBufferView,
): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(10 + h.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length & 0xff, h.length >> 8]);
  out.set(h, 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + h.length);
  return out;
}

/** An `.npz` as `np.savez(path, **arrays)` writes it: `<key>.npy` members, stored. */
export function npzBytes(arrays: Readonly<Record<string, Uint8Array>>): Uint8Array {
  return zipStored(
    Object.entries(arrays).map(([key, data]) => ({ name: `${key}.npy`, data })),
    false,
  );
}

/** A greyscale PNG of `depth` bits (samples big-endian, filter 0), with real CRCs. */
export function greyPng(
  width: number,
  height: number,
  values: ArrayLike<number>,
  depth: 8 | 16,
): Uint8Array {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = depth;
  ihdr[9] = 0;
  const bpp = depth / 8;
  const raw = Buffer.alloc(height * (1 + width * bpp));
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const v = values[y * width + x] as number;
      const o = y * (1 + width * bpp) + 1 + x * bpp;
      if (depth === 16) raw.writeUInt16BE(v, o);
      else raw[o] = v;
    }
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
