import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DenseHybridError,
  SCORE_MAP_EXTENSIONS,
  SCORE_MAP_FORMATS,
  encodeSmiycScoreMap,
  readClosedSetMap,
  readScoreMap,
  scoreMapFormat,
  smiycScoreMapPath,
  writePng,
  writeSmiycScoreMap,
} from '@densehybrid/data-mixing';
import type { ReadScoreMapOptions } from '@densehybrid/data-mixing';
import { decodeNpy, encodeNpy } from '@densehybrid/metrics-openiou';
import { greyPng, npyBytes, npzBytes } from '../../../test-support/score-map-files.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/score-maps');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dh-score-maps-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const fail = async (p: Promise<unknown>): Promise<DenseHybridError> => {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DenseHybridError);
  return e as DenseHybridError;
};

const W = 5;
const H = 3;
// values with known float16 roundings (numpy: np.float32(v).astype(np.float16))
const VALUES = [0.1, 1 / 3, 65504, 70000, -2.5, 2 ** -24, 1e-8, -0, 0.5, 1, 2, 3, 1e-3, 12.34, -7];
const AS_FLOAT16 = [
  0.0999755859375,
  0.333251953125,
  65504,
  Infinity,
  -2.5,
  2 ** -24,
  0,
  -0,
  0.5,
  1,
  2,
  3,
  1049 * 2 ** -20,
  12.34375,
  -7,
];

describe('SCORE_MAP_FORMATS', () => {
  it('maps extensions to formats', () => {
    expect(SCORE_MAP_FORMATS).toEqual(['npy', 'npz', 'hdf5', 'png']);
    expect(scoreMapFormat('a/b.H5')).toBe('hdf5');
    expect(scoreMapFormat('x.hdf5')).toBe('hdf5');
    expect(scoreMapFormat('x.scores.npy')).toBe('npy');
    expect(scoreMapFormat('x.json')).toBeNull();
    expect(SCORE_MAP_EXTENSIONS.png).toEqual(['.png']);
  });
});

describe('readScoreMap round trips', () => {
  it('SMIYC HDF5 (writeSmiycScoreMap, gzip 9 and uncompressed): float16 as numpy rounds it', async () => {
    for (const compression of [9, 1, 0]) {
      const path = join(dir, `smiyc-${compression}.hdf5`);
      await writeSmiycScoreMap(path, VALUES, W, H, { compression });
      const m = await readScoreMap(path);
      expect(m).toMatchObject({
        format: 'hdf5',
        dtype: 'float16',
        shape: [H, W],
        width: W,
        height: H,
      });
      expect([...m.data]).toEqual(AS_FLOAT16);
      expect(Object.is(m.data[7], -0)).toBe(true);
    }
    // deterministic bytes; gzip shrinks a smooth map
    const smooth = Float32Array.from({ length: 64 * 48 }, (_, i) => (i % 64) / 64);
    const a = encodeSmiycScoreMap(smooth, 64, 48);
    expect(Buffer.from(a).equals(Buffer.from(encodeSmiycScoreMap(smooth, 64, 48)))).toBe(true);
    expect(a.length).toBeLessThan(encodeSmiycScoreMap(smooth, 64, 48, { compression: 0 }).length);
    // another key (the dataset's name), read with key or as the only dataset
    const keyed = join(dir, 'keyed.h5');
    await writeSmiycScoreMap(keyed, VALUES, W, H, { key: 'anomaly_score' });
    expect([...(await readScoreMap(keyed)).data]).toEqual(AS_FLOAT16);
    expect([...(await readScoreMap(keyed, { key: 'anomaly_score' })).data]).toEqual(AS_FLOAT16);
  });

  it('.npy float16 / float32 / float64 and (1, H, W)', async () => {
    const f32 = Float32Array.from(VALUES);
    const cases: [string, Uint8Array, number[]][] = [
      ['f2', encodeNpy(VALUES, [H, W], '<f2'), AS_FLOAT16],
      ['f4', encodeNpy(VALUES, [1, H, W], '<f4'), [...f32]],
      ['f8', npyBytes('<f8', [H, W], Float64Array.from(VALUES)), [...f32]],
      [
        'f8be',
        npyBytes('>f8', [H, W, 1], new Float64Array(H * W).fill(0)),
        new Array(H * W).fill(0),
      ],
    ];
    for (const [name, bytes, expected] of cases) {
      const path = join(dir, `${name}.npy`);
      await writeFile(path, bytes);
      const m = await readScoreMap(path);
      expect(m.format).toBe('npy');
      expect([m.height, m.width]).toEqual([H, W]);
      expect([...m.data]).toEqual(expected);
    }
  });

  it('.npy in Fortran order (np.save of a.T) and big-endian integers; other dtypes named', async () => {
    const fortran = (bytes: Uint8Array): Uint8Array => {
      const text = new TextDecoder('latin1').decode(bytes.subarray(0, 128));
      const at = text.indexOf("'fortran_order': False,");
      const out = Uint8Array.from(bytes);
      out.set(new TextEncoder().encode("'fortran_order': True, "), at);
      return out;
    };
    // column-major storage of the row-major VALUES: element (y, x) at x * H + y
    const columns = Float32Array.from(
      { length: W * H },
      (_, k) => VALUES[(k % H) * W + Math.floor(k / H)]!,
    );
    const be = new Uint8Array(columns.buffer.slice(0));
    for (let i = 0; i < be.length; i += 4) be.subarray(i, i + 4).reverse();
    const path = join(dir, 'fortran.npy');
    await writeFile(path, fortran(npyBytes('>f4', [H, W], be)));
    const m = await readScoreMap(path);
    expect(m).toMatchObject({
      format: 'npy',
      dtype: 'float32',
      shape: [H, W],
      width: W,
      height: H,
    });
    expect([...m.data]).toEqual([...Float32Array.from(VALUES)]);
    const ids = Int16Array.from({ length: W * H }, (_, i) => (i * 37) % 256);
    const beIds = new Uint8Array(ids.buffer.slice(0));
    for (let i = 0; i < beIds.length; i += 2) beIds.subarray(i, i + 2).reverse();
    const closed = join(dir, 'closed-be.npy');
    await writeFile(closed, npyBytes('>i2', [H, W], beIds));
    const c = await readClosedSetMap(closed);
    expect(c.dtype).toBe('int16');
    expect([...c.data]).toEqual([...ids]);
    const complex = join(dir, 'complex.npy');
    await writeFile(complex, npyBytes('<c8', [H, W], new Float32Array(2 * W * H)));
    const e = await fail(readScoreMap(complex));
    expect([e.code, e.message]).toEqual([
      'INVALID_INPUT',
      `readScoreMap: ${complex}: decodeNpy: expected a numeric dtype (f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1, byte order <, >, | or =), got descr "<c8"`,
    ]);
  });

  it('.npz (np.savez; savez_compressed in the Python fixtures below), the only array or by key', async () => {
    const f2 = encodeNpy(VALUES, [H, W], '<f2');
    const path = join(dir, 'one.npz');
    await writeFile(path, npzBytes({ arr_0: f2 }));
    const m = await readScoreMap(path);
    expect(m).toMatchObject({ format: 'npz', dtype: 'float16', width: W, height: H });
    expect([...m.data]).toEqual(AS_FLOAT16);
    const two = join(dir, 'two.npz');
    const ids = npyBytes(
      '<i8',
      [H, W],
      BigInt64Array.from(VALUES, (_, i) => BigInt(i)),
    );
    await writeFile(two, npzBytes({ hybrid: f2, closed: ids }));
    expect([...(await readScoreMap(two, { key: 'hybrid' })).data]).toEqual(AS_FLOAT16);
    expect([...(await readClosedSetMap(two, { key: 'closed' })).data]).toEqual(
      VALUES.map((_, i) => i),
    );
    const e = await fail(readScoreMap(two));
    expect(e.code).toBe('INVALID_INPUT');
    expect(e.message).toBe(
      `readScoreMap: expected one array in ${two}, got the arrays hybrid, closed (save one map per file, or pass its key)`,
    );
  });

  it('16-bit greyscale PNG: value × pngScale + pngOffset', async () => {
    const u16 = Array.from({ length: W * H }, (_, i) => (i * 4681) % 65536);
    const path = join(dir, 'scores.png');
    await writeFile(path, greyPng(W, H, u16, 16));
    const scale = 1 / 65535;
    const m = await readScoreMap(path, { pngScale: scale, pngOffset: -0.5 });
    expect(m).toMatchObject({ format: 'png', dtype: 'uint16', shape: [H, W] });
    expect([...m.data]).toEqual(u16.map((v) => Math.fround(v * scale - 0.5)));
    expect(m.data[W * H - 1]).toBeCloseTo((14 * 4681) / 65535 - 0.5, 6);
  });

  it('reads the files h5py, numpy and PIL wrote (scripts/h5py-check.py --fixtures) as Python sees them', async () => {
    const manifest = JSON.parse(await readFile(join(FIXTURES, 'manifest.json'), 'utf8')) as {
      file: string;
      ref: string;
      kind: string;
      read: ReadScoreMapOptions;
    }[];
    expect(manifest.map((m) => m.file)).toEqual([
      'h5py-gzip9-f16.hdf5',
      'h5py-chunks-shuffle-1hw.h5',
      'h5py-key-f32.h5',
      'savez-f16.npz',
      'savez-compressed-f8.npz',
      'savez-two.npz',
      'save-f8.npy',
      'pil-16bit.png',
    ]);
    for (const entry of manifest) {
      const ref = decodeNpy(await readFile(join(FIXTURES, entry.ref)));
      const m = await readScoreMap(join(FIXTURES, entry.file), entry.read);
      expect([m.height, m.width], entry.file).toEqual(ref.shape);
      expect(Buffer.from(m.data.buffer).equals(Buffer.from(ref.data.buffer)), entry.file).toBe(
        true,
      );
    }
  });
});

describe('readClosedSetMap', () => {
  it('reads uint8 .npy, integer HDF5 / .npz and 8-bit PNG label maps; refuses floats and values above 255', async () => {
    const ids = Uint8Array.from({ length: W * H }, (_, i) => i % 4);
    const npy = join(dir, 'closed.npy');
    await writeFile(npy, encodeNpy(ids, [H, W], '|u1'));
    expect([...(await readClosedSetMap(npy)).data]).toEqual([...ids]);
    const png = join(dir, 'closed.png');
    await writePng(png, { data: ids, width: W, height: H });
    const p = await readClosedSetMap(png);
    expect(p).toMatchObject({ format: 'png', width: W, height: H });
    expect([...p.data]).toEqual([...ids]);
    const i2 = join(dir, 'closed-i2.npy');
    await writeFile(
      i2,
      npyBytes(
        '<i2',
        [H, W],
        Int16Array.from(ids, (v, i) => (i === 4 ? 300 : v)),
      ),
    );
    const big = await fail(readClosedSetMap(i2));
    expect(big.message).toBe(
      `readClosedSetMap: expected class indices in 0..255 in ${i2}, got 300 at pixel 4 (row 0, column 4)`,
    );
    const h5 = join(dir, 'closed-float.hdf5');
    await writeSmiycScoreMap(h5, ids, W, H);
    const e = await fail(readClosedSetMap(h5));
    expect(e.message).toBe(
      `readClosedSetMap: expected an integer closed-set prediction (class indices), got ${h5} of dtype float16`,
    );
  });
});

describe('errors name the file, what was expected and what was found', () => {
  it('integer scores, PNG without scale, 8-bit PNG, non-2-D, missing key, not HDF5, other extension, missing file', async () => {
    const u1 = join(dir, 'u1.npy');
    await writeFile(u1, encodeNpy(new Uint8Array(W * H), [H, W], '|u1'));
    expect((await fail(readScoreMap(u1))).message).toBe(
      `readScoreMap: expected a float16, float32 or float64 score map, got ${u1} of dtype uint8`,
    );
    const png16 = join(dir, 'noscale.png');
    await writeFile(png16, greyPng(W, H, new Array(W * H).fill(7), 16));
    const noScale = await fail(readScoreMap(png16));
    expect(noScale.code).toBe('INVALID_OPTION');
    expect(noScale.message).toMatch(
      /^readScoreMap: expected pngScale .* for the PNG score map .*noscale\.png, got null$/,
    );
    const png8 = join(dir, 'eight.png');
    await writeFile(png8, greyPng(W, H, new Array(W * H).fill(7), 8));
    expect((await fail(readScoreMap(png8, { pngScale: 1 / 255 }))).message).toMatch(
      /^readScoreMap: expected a 16-bit greyscale PNG score map, got .*eight\.png: a 1-channel PNG of 8 bits per sample/,
    );
    const cube = join(dir, 'cube.npy');
    await writeFile(cube, encodeNpy(new Float32Array(2 * W * H), [2, H, W], '<f4'));
    const c = await fail(readScoreMap(cube));
    expect(c.code).toBe('SHAPE_MISMATCH');
    expect(c.message).toBe(
      `readScoreMap: expected a 2-D map (height, width) in ${cube} (size-1 axes are dropped, as np.squeeze), got shape (2, ${H}, ${W})`,
    );
    const h5 = join(dir, 'value.hdf5');
    await writeSmiycScoreMap(h5, VALUES, W, H);
    expect((await fail(readScoreMap(h5, { key: 'scores' }))).message).toBe(
      `readScoreMap: expected a dataset "scores" in ${h5}, got the datasets value at its root`,
    );
    const fake = join(dir, 'fake.h5');
    await writeFile(fake, 'not hdf5 at all');
    expect((await fail(readScoreMap(fake))).message).toBe(
      `readScoreMap: expected an HDF5 file (signature \\x89HDF) in ${fake}, got other bytes`,
    );
    const truncated = join(dir, 'truncated.hdf5');
    await writeFile(truncated, (await readFile(h5)).subarray(0, 120));
    expect((await fail(readScoreMap(truncated))).message).toMatch(
      /^readScoreMap: expected a readable HDF5 file, got .*truncated\.hdf5 \(.+\)$/,
    );
    expect((await fail(readScoreMap(join(dir, 'x.tiff')))).message).toMatch(
      /^readScoreMap: expected a score map file \(\.npy, \.npz, \.hdf5, \.h5, \.png\), got /,
    );
    expect((await fail(readScoreMap(join(dir, 'missing.npy')))).code).toBe('IO');
    expect((await fail(readScoreMap(join(dir, 'missing.hdf5')))).code).toBe('IO');
  });

  it('the writer refuses NaN, a wrong size, a bad level or key; smiycScoreMapPath one path part per name', () => {
    const err = (f: () => unknown): DenseHybridError => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(DenseHybridError);
        return e as DenseHybridError;
      }
      throw new Error('expected a DenseHybridError');
    };
    const nan = err(() => encodeSmiycScoreMap([0, Number.NaN, 0, 0], 2, 2));
    expect(nan.code).toBe('NON_FINITE');
    expect(nan.message).toBe(
      'encodeSmiycScoreMap: expected scores without NaN, got NaN at pixel 1 (row 0, column 1)',
    );
    expect(err(() => encodeSmiycScoreMap([0, 0, 0], 2, 2)).code).toBe('SHAPE_MISMATCH');
    expect(err(() => encodeSmiycScoreMap([0], 1, 1, { compression: 10 })).code).toBe(
      'INVALID_OPTION',
    );
    expect(err(() => encodeSmiycScoreMap([0], 1, 1, { key: 'a/b' })).code).toBe('INVALID_OPTION');
    expect(smiycScoreMapPath('DenseHybrid', 'ObstacleTrack-all', 'snowstorm1_00_08_26.106')).toBe(
      'anomaly_p/DenseHybrid/ObstacleTrack-all/snowstorm1_00_08_26.106.hdf5',
    );
    expect(err(() => smiycScoreMapPath('a/b', 'AnomalyTrack-all', 'x')).message).toBe(
      'smiycScoreMapPath: expected method of letters, digits, _ . + - (one path part), got "a/b"',
    );
  });
});
