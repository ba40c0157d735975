import { describe, expect, it } from 'vitest';
import {
  DenseHybridError,
  decodeNpy,
  decodeNpyElements,
  encodeNpy,
  float16Bits,
  float16Value,
} from '@densehybrid/metrics-openiou';

describe('npy', () => {
  it('encodes a v1.0 <f2 header padded to 64 bytes and round-trips', () => {
    const values = new Float32Array([0, 1, -2, 0.5, 65504, 1e-7, Infinity, NaN]);
    const bytes = encodeNpy(values, [2, 4]);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x93, 78, 85, 77, 80, 89, 1, 0]);
    const headerLen = bytes[8]! | (bytes[9]! << 8);
    expect((10 + headerLen) % 64).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLen));
    expect(header).toMatch(/^\{'descr': '<f2', 'fortran_order': False, 'shape': \(2, 4\), \} *\n$/);
    expect(bytes.length).toBe(10 + headerLen + 16);
    const back = decodeNpy(bytes);
    expect(back.shape).toEqual([2, 4]);
    expect(Array.from(back.data.subarray(0, 5))).toEqual([0, 1, -2, 0.5, 65504]);
    expect(back.data[5]).toBeCloseTo(1.1920929e-7, 12); // nearest subnormal: 2 * 2^-24
    expect(back.data[6]).toBe(Infinity);
    expect(back.data[7]).toBeNaN();
    const f4 = decodeNpy(encodeNpy([1.5, 2.25], [2], '<f4'));
    expect(f4.shape).toEqual([2]);
    expect(Array.from(f4.data)).toEqual([1.5, 2.25]);
    const u1 = decodeNpy(encodeNpy([0, 1, 255], [3], '|u1'));
    expect([u1.dtype, ...u1.data]).toEqual(['|u1', 0, 1, 255]);
  });

  it('rounds float32 to float16 to nearest, ties to even, for every half value', () => {
    const wrong: number[] = [];
    for (let b = 0; b < 0x7c00; b++) {
      const v = float16Value(b);
      if (float16Bits(v) !== b || float16Bits(-v) !== (b | 0x8000)) wrong.push(b);
      if (b < 0x7bff) {
        const next = float16Value(b + 1);
        const midpoint = (v + next) / 2; // exactly representable in float32
        if (float16Bits(midpoint) !== (b % 2 === 0 ? b : b + 1)) wrong.push(b);
        if (float16Bits(v + (next - v) * 0.25) !== b) wrong.push(b);
        if (float16Bits(v + (next - v) * 0.75) !== b + 1) wrong.push(b);
      }
    }
    expect(wrong).toEqual([]);
    expect(float16Bits(65520)).toBe(0x7c00); // rounds to infinity
  });

  it('rejects a shape that does not match and a file that is not an npy', () => {
    expect(() => encodeNpy([1, 2, 3], [2, 2])).toThrow(/expected shape with product 3/);
    expect(() => decodeNpy(new Uint8Array(12))).toThrow(/decodeNpy: expected the \\x93NUMPY magic/);
  });
});

/**
 * An `.npy` as NumPy writes it (`np.save`, `np.lib.format.write_array(version=…)`): `descr`,
 * order and format version as given, the element bytes as given.
 */
function npyFile(
  descr: string,
  shape: readonly number[],
  data: Uint8Array,
  { fortran = false, version = 1 }: { fortran?: boolean; version?: 1 | 2 | 3 } = {},
): Uint8Array {
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${dims}, }`;
  const pre = version === 1 ? 10 : 12;
  header += ' '.repeat((64 - ((pre + header.length + 1) % 64)) % 64) + '\n';
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(pre + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, h.length, true);
  else view.setUint32(8, h.length, true);
  out.set(h, pre);
  out.set(data, pre + h.length);
  return out;
}

/** Element bytes written one by one with DataView (the brute-force encoder). */
function elementBytes(
  size: number,
  values: readonly (number | bigint)[],
  put: (v: DataView, o: number, x: never) => void,
): Uint8Array {
  const b = new Uint8Array(size * values.length);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => put(v, i * size, x as never));
  return b;
}

/** IEEE binary16 by its definition (sign, 5-bit exponent bias 15, 10-bit fraction). */
function halfByDefinition(bits: number): number {
  const sign = bits >> 15 ? -1 : 1;
  const e = (bits >> 10) & 31;
  const f = bits & 1023;
  if (e === 31) return f === 0 ? sign * Infinity : NaN;
  return e === 0 ? sign * f * 2 ** -24 : sign * (1024 + f) * 2 ** (e - 25);
}

/** `Object.is` element by element (−0 ≠ +0, NaN = NaN); the first differences. */
function differences(got: ArrayLike<number>, want: ArrayLike<number>): string[] {
  const out: string[] = [];
  if (got.length !== want.length) out.push(`length ${got.length} vs ${want.length}`);
  for (let i = 0; i < want.length && out.length < 5; i++) {
    if (!Object.is(got[i], want[i])) out.push(`[${i}] ${got[i]} vs ${want[i]}`);
  }
  return out;
}

describe('decodeNpy: every numeric dtype, both byte orders, C and Fortran order', () => {
  it('float16: all 65536 bit patterns (subnormals, ±0, ±Infinity, NaN) match the definition, < and >', () => {
    const bits = Array.from({ length: 65536 }, (_, b) => b);
    const want = bits.map(halfByDefinition);
    expect(want[0x0001]).toBe(2 ** -24); // smallest subnormal
    expect(want[0x03ff]).toBe(1023 * 2 ** -24); // largest subnormal
    expect(Object.is(want[0x8000], -0)).toBe(true);
    for (const le of [true, false]) {
      const file = npyFile(
        le ? '<f2' : '>f2',
        [256, 256],
        elementBytes(2, bits, (v, o, x: number) => v.setUint16(o, x, le)),
      );
      const r = decodeNpy(file);
      expect([r.dtype, r.kind, r.itemSize, r.fortranOrder]).toEqual([
        le ? '<f2' : '>f2',
        'f',
        2,
        false,
      ]);
      expect(r.data).toBeInstanceOf(Float32Array);
      expect(differences(r.data, want)).toEqual([]);
      expect(differences(decodeNpy(file, { output: 'float64' }).data, want)).toEqual([]);
    }
  });

  it('big-endian float64: exact with output float64, rounded to nearest float32 by default', () => {
    const values = [0.1, -0, 1e300, -1e-300, 5e-324, 2 ** 53 + 2, Infinity, -Infinity, NaN, 1 / 3];
    const file = npyFile(
      '>f8',
      [2, 5],
      elementBytes(8, values, (v, o, x: number) => v.setFloat64(o, x, false)),
    );
    const exact = decodeNpy(file, { output: 'float64' });
    expect(exact.data).toBeInstanceOf(Float64Array);
    expect([exact.dtype, exact.kind, exact.itemSize, ...exact.shape]).toEqual([
      '>f8',
      'f',
      8,
      2,
      5,
    ]);
    expect(differences(exact.data, values)).toEqual([]);
    const f32 = decodeNpy(file);
    expect(f32.data).toBeInstanceOf(Float32Array);
    expect(differences(f32.data, values.map(Math.fround))).toEqual([]);
  });

  it('int16 and uint16 in both byte orders, with their extremes', () => {
    const i2 = [-32768, -1, 0, 1, 12345, 32767];
    const u2 = [0, 1, 255, 256, 40000, 65535];
    for (const le of [true, false]) {
      const s = decodeNpy(
        npyFile(
          le ? '<i2' : '>i2',
          [6],
          elementBytes(2, i2, (v, o, x: number) => v.setInt16(o, x, le)),
        ),
      );
      expect([s.dtype, s.kind, ...s.data]).toEqual([le ? '<i2' : '>i2', 'i', ...i2]);
      const u = decodeNpy(
        npyFile(
          le ? '<u2' : '>u2',
          [2, 3],
          elementBytes(2, u2, (v, o, x: number) => v.setUint16(o, x, le)),
        ),
      );
      expect([u.dtype, u.kind, ...u.shape, ...u.data]).toEqual([
        le ? '<u2' : '>u2',
        'u',
        2,
        3,
        ...u2,
      ]);
    }
  });

  it('8/32/64-bit integers, float32 big-endian and bool; = and | resolve to this machine (little-endian)', () => {
    type Put = (v: DataView, o: number, x: never) => void;
    const cases: [string, number, readonly (number | bigint)[], Put, readonly number[], string][] =
      [
        ['|i1', 1, [-128, -1, 127], (v, o, x: number) => v.setInt8(o, x), [-128, -1, 127], '|i1'],
        ['<u1', 1, [0, 200, 255], (v, o, x: number) => v.setUint8(o, x), [0, 200, 255], '|u1'],
        [
          '>i4',
          4,
          [-(2 ** 31), 7, 2 ** 31 - 1],
          (v, o, x: number) => v.setInt32(o, x, false),
          [-(2 ** 31), 7, 2 ** 31 - 1],
          '>i4',
        ],
        [
          '=u4',
          4,
          [0, 2 ** 32 - 1, 16777217],
          (v, o, x: number) => v.setUint32(o, x, true),
          [0, 2 ** 32 - 1, 16777217],
          '<u4',
        ],
        [
          '|f4',
          4,
          [1.5, -0, 3.4e38],
          (v, o, x: number) => v.setFloat32(o, x, true),
          [1.5, -0, Math.fround(3.4e38)],
          '<f4',
        ],
        [
          '>f4',
          4,
          [1.5, -2.25, NaN],
          (v, o, x: number) => v.setFloat32(o, x, false),
          [1.5, -2.25, NaN],
          '>f4',
        ],
        [
          '<i8',
          8,
          [-(2n ** 63n), -3n, 2n ** 53n + 1n],
          (v, o, x: bigint) => v.setBigInt64(o, x, true),
          [-(2 ** 63), -3, 2 ** 53],
          '<i8',
        ],
        [
          '>u8',
          8,
          [0n, 2n ** 64n - 1n, 9n],
          (v, o, x: bigint) => v.setBigUint64(o, x, false),
          [0, 2 ** 64, 9],
          '>u8',
        ],
        ['|b1', 1, [0, 1, 2], (v, o, x: number) => v.setUint8(o, x), [0, 1, 1], '|b1'],
      ];
    for (const [descr, size, stored, put, want, dtype] of cases) {
      const r = decodeNpy(npyFile(descr, [3], elementBytes(size, stored, put)), {
        output: 'float64',
      });
      expect([r.dtype, r.itemSize], descr).toEqual([dtype, size]);
      expect(differences(r.data, want), descr).toEqual([]);
      // float32 output: the float64 values rounded to nearest float32
      const f = decodeNpy(npyFile(descr, [3], elementBytes(size, stored, put)));
      expect(differences(f.data, want.map(Math.fround)), descr).toEqual([]);
    }
  });

  it('Fortran order gives the C-order values (2-D and 3-D, against a brute-force transpose)', () => {
    for (const shape of [
      [3, 5],
      [2, 3, 4],
      [4, 1, 3],
    ]) {
      const n = shape.reduce((a, b) => a * b, 1);
      // C-order values, stored column-major: F position of C index (i, j, k) is i + d0 (j + d1 k)
      const c = Array.from({ length: n }, (_, i) => i * 0.5 - 3);
      const f = new Array<number>(n);
      const index = (flat: number): number[] => {
        const out: number[] = [];
        for (let a = shape.length - 1; a >= 0; a--) {
          out.unshift(flat % shape[a]!);
          flat = Math.floor(flat / shape[a]!);
        }
        return out;
      };
      for (let i = 0; i < n; i++) {
        const idx = index(i);
        let pos = 0;
        for (let a = shape.length - 1; a >= 0; a--) pos = pos * shape[a]! + idx[a]!;
        f[pos] = c[i]!;
      }
      for (const descr of ['<f4', '>f8']) {
        const size = Number(descr[2]);
        const put = (v: DataView, o: number, x: number): void =>
          size === 4 ? v.setFloat32(o, x, true) : v.setFloat64(o, x, false);
        const r = decodeNpy(npyFile(descr, shape, elementBytes(size, f, put), { fortran: true }));
        expect([r.fortranOrder, ...r.shape]).toEqual([true, ...shape]);
        expect(differences(r.data, c), `${descr} ${shape}`).toEqual([]);
      }
    }
    // 1-D and 0-d: Fortran and C order are the same
    expect([
      ...decodeNpy(npyFile('<u2', [3], Uint8Array.of(1, 0, 2, 0, 3, 0), { fortran: true })).data,
    ]).toEqual([1, 2, 3]);
  });

  it('format 2.0 / 3.0, an unaligned buffer, a 0-d and an empty array', () => {
    const values = Float32Array.of(1.5, -2, 0.25);
    const payload = new Uint8Array(values.buffer);
    for (const version of [2, 3] as const) {
      expect([...decodeNpy(npyFile('<f4', [3], payload, { version })).data]).toEqual([
        1.5, -2, 0.25,
      ]);
    }
    for (const descr of ['<f2', '<f4', '<f8', '<i8']) {
      const file = encodeOrBuild(descr);
      const shifted = new Uint8Array(file.length + 1).subarray(1);
      shifted.set(file);
      expect(differences(decodeNpy(shifted).data, decodeNpy(file).data), descr).toEqual([]);
      // a Node Buffer at an odd offset (its slice() is a view, not a copy)
      const buffer = Buffer.alloc(file.length + 3).subarray(3);
      buffer.set(file);
      expect(differences(decodeNpy(buffer).data, [0, 1, 2, 3, 4, 5]), descr).toEqual([]);
    }
    const scalar = decodeNpy(npyFile('<f8', [], new Uint8Array(Float64Array.of(2.5).buffer)));
    expect([scalar.shape, [...scalar.data]]).toEqual([[], [2.5]]);
    const empty = decodeNpy(npyFile('>i2', [0, 4], new Uint8Array(0)));
    expect([empty.shape, empty.data.length]).toEqual([[0, 4], 0]);
  });

  it('decodeNpyElements decodes raw element bytes (an HDF5 dataset, a tobytes() dump)', () => {
    expect([...decodeNpyElements(Uint8Array.of(0x00, 0x3c, 0x00, 0xc0), '<f2', 2)]).toEqual([
      1, -2,
    ]);
    const be = decodeNpyElements(
      Uint8Array.of(0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a),
      '>f8',
      1,
      {
        output: 'float64',
      },
    );
    expect([...be]).toEqual([0.1]);
    expect(() => decodeNpyElements(new Uint8Array(3), '<i2', 2)).toThrow(
      'decodeNpyElements: expected 4 bytes for 2 × <i2, got 3',
    );
    expect(() => decodeNpyElements(new Uint8Array(3), '<c8', 1)).toThrow(
      /^decodeNpyElements: expected a numeric dtype \(f2 f4 f8 .*\), got "<c8"$/,
    );
  });

  it('names what it expected and what it got', () => {
    const err = (f: () => unknown): DenseHybridError => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(DenseHybridError);
        return e as DenseHybridError;
      }
      throw new Error('expected a DenseHybridError');
    };
    const ok = npyFile('<f4', [2], new Uint8Array(8));
    const cases: [Uint8Array, RegExp][] = [
      [
        Uint8Array.of(1, 2, 3),
        /^decodeNpy: expected the \\x93NUMPY magic, got 3 bytes without it$/,
      ],
      [
        Uint8Array.from(ok).fill(4, 6, 7),
        /^decodeNpy: expected \.npy format version 1\.0, 2\.0 or 3\.0, got 4\.0$/,
      ],
      [
        ok.subarray(0, 40),
        /^decodeNpy: expected a header of 118 bytes, got 30 bytes after the preamble$/,
      ],
      [
        ok.subarray(0, ok.length - 1),
        /^decodeNpy: expected 8 data bytes for shape \(2\) of <f4, got 7$/,
      ],
      [
        npyFile('<c8', [1], new Uint8Array(8)),
        /^decodeNpy: expected a numeric dtype \(f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1, byte order <, >, \| or =\), got descr "<c8"$/,
      ],
      [npyFile('<U3', [1], new Uint8Array(12)), /got descr "<U3"$/],
      [npyFile('<f1', [1], new Uint8Array(1)), /got descr "<f1"$/],
      [npyFile('|b2', [1], new Uint8Array(2)), /got descr "\|b2"$/],
      [
        npyFile('<f4', [-1], new Uint8Array(4)),
        /^decodeNpy: expected a shape of non-negative integers, got \(-1,\)$/,
      ],
      [
        new Uint8Array(
          [
            ...ok.subarray(0, 10),
            ...new TextEncoder().encode(
              "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }".padEnd(118) +
                '\n',
            ),
          ].slice(0, ok.length),
        ),
        /^decodeNpy: expected a header with a dtype string 'descr', 'fortran_order' and 'shape' \(a plain numeric array\), got "\{'descr': \[\('a', '<f4'\)\]/,
      ],
    ];
    for (const [bytes, message] of cases) {
      const e = err(() => decodeNpy(bytes));
      expect(e.code).toBe('INVALID_INPUT');
      expect(e.message).toMatch(message);
    }
    const opt = err(() => decodeNpy(ok, { output: 'float16' as 'float32' }));
    expect([opt.code, opt.message]).toEqual([
      'INVALID_OPTION',
      `decodeNpy: expected output 'float32' or 'float64', got "float16"`,
    ]);
  });
});

/** A 2 × 3 `.npy` of `descr` with the values 0…5 (via encodeNpy where it can). */
function encodeOrBuild(descr: string): Uint8Array {
  const values = [0, 1, 2, 3, 4, 5];
  if (descr === '<f2' || descr === '<f4') return encodeNpy(values, [2, 3], descr);
  if (descr === '<f8')
    return npyFile(descr, [2, 3], new Uint8Array(Float64Array.from(values).buffer));
  return npyFile(descr, [2, 3], new Uint8Array(BigInt64Array.from(values, BigInt).buffer));
}
