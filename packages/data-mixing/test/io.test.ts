import { mkdtemp, readdir, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DenseHybridError,
  createRng,
  deriveSeed,
  readImage,
  readLabel,
  resampleImage,
  resizeImage,
  resizeLabel,
  writePng,
} from '@densehybrid/data-mixing';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dh-io-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A hand-built palette PNG (colour type 3, 8 bits) with the given indices, filter `filter`. */
function palettePng(width: number, height: number, idx: Uint8Array, filter = 0): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    return Buffer.concat([len, Buffer.from(type, 'latin1'), data, Buffer.alloc(4)]); // CRC unchecked
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 3;
  const rows: number[] = [];
  for (let y = 0; y < height; y++) {
    rows.push(filter);
    for (let x = 0; x < width; x++) {
      const v = idx[y * width + x]!;
      // filter 1 (Sub): store the difference to the left neighbour
      const left = x > 0 ? idx[y * width + x - 1]! : 0;
      rows.push(filter === 1 ? (v - left) & 255 : v);
    }
  }
  const plte = Buffer.alloc(256 * 3, 7); // all colours equal: only indices carry the classes
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('PLTE', plte),
    chunk('IDAT', deflateSync(Buffer.from(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('image and label I/O', () => {
  it('round-trips labels and images through writePng exactly', async () => {
    const lbl = {
      data: Uint8Array.from({ length: 35 }, (_, i) => (i * 37) % 256),
      width: 7,
      height: 5,
    };
    await writePng(join(dir, 'l.png'), lbl);
    const back = await readLabel(join(dir, 'l.png'));
    expect(back.width).toBe(7);
    expect(Array.from(back.data)).toEqual(Array.from(lbl.data));
    const img = {
      data: Uint8Array.from({ length: 7 * 5 * 3 }, (_, i) => (i * 11) % 256),
      width: 7,
      height: 5,
    };
    await writePng(join(dir, 'i.png'), img);
    const imgBack = await readImage(join(dir, 'i.png'));
    expect(Array.from(imgBack.data)).toEqual(Array.from(img.data));
    // atomic: no temporary file left behind
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('reads palette PNG indices, not colours (filters None and Sub)', async () => {
    const idx = Uint8Array.from([0, 1, 2, 3, 14, 255, 4, 4, 9, 200, 1, 0]);
    for (const filter of [0, 1]) {
      const p = join(dir, `pal${filter}.png`);
      await writeFile(p, palettePng(4, 3, idx, filter));
      const lbl = await readLabel(p);
      expect([lbl.width, lbl.height]).toEqual([4, 3]);
      expect(Array.from(lbl.data)).toEqual(Array.from(idx));
    }
  });

  it('expands greyscale images to RGB', async () => {
    const p = join(dir, 'g.png');
    await sharp(Buffer.from([10, 20, 30, 40]), { raw: { width: 2, height: 2, channels: 1 } })
      .png()
      .toFile(p);
    const img = await readImage(p);
    expect(Array.from(img.data)).toEqual([10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40]);
  });

  it('names the file for truncated and RGB label PNGs and corrupt images', async () => {
    const good = await readFile(join(dir, 'l.png'));
    const cut = join(dir, 'cut.png');
    await writeFile(cut, good.subarray(0, good.length - 20));
    await expect(readLabel(cut)).rejects.toThrow(/cut\.png.*truncated/);
    await expect(readLabel(join(dir, 'i.png'))).rejects.toThrow(/i\.png.*colour type 2/);
    const jpg = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#3a6' } })
      .jpeg()
      .toBuffer();
    const bad = join(dir, 'bad.jpg');
    await writeFile(bad, jpg.subarray(0, jpg.length / 2));
    const err = await readImage(bad).catch((e: unknown) => e);
    expect(DenseHybridError.is(err) && err.code).toBe('INVALID_INPUT');
    expect((err as Error).message).toContain('bad.jpg');
    await expect(readImage(join(dir, 'missing.png'))).rejects.toMatchObject({ code: 'IO' });
  });

  it('refuses malformed data in writePng', async () => {
    await expect(
      writePng(join(dir, 'x.png'), { data: new Uint8Array(5), width: 2, height: 2 }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});

describe('resampling', () => {
  it('bilinear matches a float reference with half-pixel centres', () => {
    const rng = createRng(3);
    const src = {
      data: Uint8Array.from({ length: 5 * 4 * 3 }, () => rng.int(256)),
      width: 5,
      height: 4,
    };
    const out = resizeImage(src, 8, 3);
    const ref = (x: number, y: number, c: number): number => {
      const sx = Math.min(Math.max((x + 0.5) * (5 / 8) - 0.5, 0), 4);
      const sy = Math.min(Math.max((y + 0.5) * (4 / 3) - 0.5, 0), 3);
      const x0 = Math.floor(sx),
        y0 = Math.floor(sy);
      const x1 = Math.min(x0 + 1, 4),
        y1 = Math.min(y0 + 1, 3);
      const fx = sx - x0,
        fy = sy - y0;
      const v = (xx: number, yy: number): number => src.data[(yy * 5 + xx) * 3 + c]!;
      return (
        (v(x0, y0) * (1 - fx) + v(x1, y0) * fx) * (1 - fy) +
        (v(x0, y1) * (1 - fx) + v(x1, y1) * fx) * fy
      );
    };
    for (let y = 0; y < 3; y++)
      for (let x = 0; x < 8; x++)
        for (let c = 0; c < 3; c++)
          expect(Math.abs(out.data[(y * 8 + x) * 3 + c]! - ref(x, y, c))).toBeLessThanOrEqual(1.5);
  });

  it('random windows (scale, offset, flip, padding) match a per-pixel integer reference exactly', () => {
    const rng = createRng(11);
    let mismatches = 0;
    for (let t = 0; t < 60; t++) {
      const w = 1 + rng.int(20);
      const h = 1 + rng.int(15);
      const img = {
        data: Uint8Array.from({ length: w * h * 3 }, () => rng.int(256)),
        width: w,
        height: h,
      };
      const sw = 1 + rng.int(40);
      const sh = 1 + rng.int(30);
      const win = {
        scaledWidth: sw,
        scaledHeight: sh,
        x: rng.int(sw + 8) - 4,
        y: rng.int(sh + 8) - 4,
        width: 1 + rng.int(25),
        height: 1 + rng.int(25),
        flip: rng.bernoulli(0.5),
      };
      const out = resampleImage(img, win, [1, 2, 3]).data;
      const tap = (X: number, scaled: number, src: number): [number, number, number] => {
        const s = Math.min(Math.max((X + 0.5) * (src / scaled) - 0.5, 0), src - 1);
        const a = Math.floor(s);
        return [a, Math.min(a + 1, src - 1), Math.round((s - a) * 256)];
      };
      for (let oy = 0; oy < win.height; oy++)
        for (let ox = 0; ox < win.width; ox++)
          for (let c = 0; c < 3; c++) {
            const X0 = win.x + ox;
            const Y = win.y + oy;
            let expected: number;
            if (X0 < 0 || X0 >= sw || Y < 0 || Y >= sh) expected = [1, 2, 3][c]!;
            else {
              const X = win.flip ? sw - 1 - X0 : X0;
              const [x0, x1, wx] = tap(X, sw, w);
              const [y0, y1, wy] = tap(Y, sh, h);
              const v = (x: number, y: number): number => img.data[(y * w + x) * 3 + c]!;
              const top = v(x0, y0) * (256 - wx) + v(x1, y0) * wx;
              const bot = v(x0, y1) * (256 - wx) + v(x1, y1) * wx;
              expected = (top * (256 - wy) + bot * wy + 32768) >> 16;
            }
            if (out[(oy * win.width + ox) * 3 + c] !== expected) mismatches++;
          }
    }
    expect(mismatches).toBe(0);
  });

  it('nearest never invents label values and a window equals resize + flip + crop', () => {
    const lbl = {
      data: Uint8Array.from({ length: 6 * 4 }, (_, i) => [3, 7, 255][i % 3]!),
      width: 6,
      height: 4,
    };
    const big = resizeLabel(lbl, 13, 9);
    expect(new Set(big.data)).toEqual(new Set([3, 7, 255]));
    const img = {
      data: Uint8Array.from({ length: 6 * 4 * 3 }, (_, i) => (i * 13) % 256),
      width: 6,
      height: 4,
    };
    const full = resizeImage(img, 13, 9);
    const win = resampleImage(
      img,
      { scaledWidth: 13, scaledHeight: 9, x: 2, y: -1, width: 5, height: 4, flip: true },
      [1, 2, 3],
    );
    for (let y = 0; y < 4; y++)
      for (let x = 0; x < 5; x++)
        for (let c = 0; c < 3; c++) {
          const Y = y - 1;
          const X = 13 - 1 - (x + 2);
          const expected = Y < 0 ? [1, 2, 3][c] : full.data[(Y * 13 + X) * 3 + c];
          expect(win.data[(y * 5 + x) * 3 + c]).toBe(expected);
        }
  });
});

describe('createRng', () => {
  it('is reproducible, restorable from a JSON state, and seed-sensitive', () => {
    const a = createRng(42);
    const b = createRng(42);
    const xs = Array.from({ length: 5 }, () => a.uint32());
    expect(Array.from({ length: 5 }, () => b.uint32())).toEqual(xs);
    const saved = JSON.parse(JSON.stringify(a.getState())) as ReturnType<typeof a.getState>;
    const next = Array.from({ length: 5 }, () => a.next());
    const restored = createRng(saved);
    expect(Array.from({ length: 5 }, () => restored.next())).toEqual(next);
    expect(createRng(43).uint32()).not.toBe(createRng(42).uint32());
    expect(deriveSeed(1, 0, 5)).not.toBe(deriveSeed(1, 0, 6));
    expect(deriveSeed(1, 2, 5)).toBe(deriveSeed(1, 2, 5));
  });

  it('int is unbiased enough and in range; bad seeds throw', () => {
    const r = createRng(9);
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[r.int(3)]!++;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(120);
    expect(() => createRng(1.5)).toThrow(/seed/);
    expect(() => createRng({ algorithm: 'xoshiro128**', state: [0, 0, 0, 0] })).toThrow(
      DenseHybridError,
    );
  });
});
