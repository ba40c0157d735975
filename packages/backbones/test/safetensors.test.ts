import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DenseHybridError,
  decodeSafetensor,
  floatToHalf,
  halfToFloat,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
  type SafetensorsTensorInput,
} from '@densehybrid/backbones';

/** Builds a safetensors file by hand (independent of serializeSafetensors). */
function handMade(header: Record<string, unknown>, data: number[], padTo8 = false): Uint8Array {
  let json = new TextEncoder().encode(JSON.stringify(header));
  if (padTo8 && json.length % 8 !== 0) {
    const p = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const expectError = (f: () => unknown, code: string, pattern: RegExp): void => {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(DenseHybridError.is(caught)).toBe(true);
  expect((caught as DenseHybridError).code).toBe(code);
  expect((caught as Error).message).toMatch(pattern);
};

describe('safetensors', () => {
  it('parses a hand-written file with unusual dtypes (F16, BF16, F8, I64, U8, BOOL, F64)', () => {
    const bytes = [
      // F16 [4]: 1.0, -2.0, 65504, 2^-24 (little-endian)
      0x00,
      0x3c,
      0x00,
      0xc0,
      0xff,
      0x7b,
      0x01,
      0x00,
      // BF16 [2]: 1.0, -0.5
      0x80,
      0x3f,
      0x00,
      0xbf,
      // F8_E4M3 [3]: 1.0, 448, NaN ; F8_E5M2 [2]: 1.0, -57344
      0x38,
      0x7e,
      0x7f,
      0x3c,
      0xfb,
      // U8 [1]: 200 ; BOOL [2]
      200,
      0,
      1,
      // I64 [2]: -5, 7
      0xfb,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      7,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      // F64 [1]: 0.1
      ...new Uint8Array(new Float64Array([0.1]).buffer),
    ];
    const header = {
      __metadata__: { format: 'pt' },
      h: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 8] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [8, 12] },
      e4: { dtype: 'F8_E4M3', shape: [3], data_offsets: [12, 15] },
      e5: { dtype: 'F8_E5M2', shape: [2], data_offsets: [15, 17] },
      u: { dtype: 'U8', shape: [], data_offsets: [17, 18] },
      flag: { dtype: 'BOOL', shape: [2], data_offsets: [18, 20] },
      idx: { dtype: 'I64', shape: [2], data_offsets: [20, 36] },
      d: { dtype: 'F64', shape: [1, 1], data_offsets: [36, 44] },
    };
    const file = parseSafetensors(handMade(header, bytes));
    expect(file.metadata).toEqual({ format: 'pt' });
    expect([...file.tensors.keys()]).toEqual(['h', 'b', 'e4', 'e5', 'u', 'flag', 'idx', 'd']);
    const get = (n: string): number[] => [...decodeSafetensor(file.tensors.get(n)!)];
    expect(file.tensors.get('h')!.shape).toEqual([2, 2]);
    expect(get('h')).toEqual([1, -2, 65504, 2 ** -24]);
    expect(get('b')).toEqual([1, -0.5]);
    const e4 = get('e4');
    expect(e4.slice(0, 2)).toEqual([1, 448]);
    expect(Number.isNaN(e4[2])).toBe(true);
    expect(get('e5')).toEqual([1, -57344]);
    expect(get('u')).toEqual([200]);
    expect(get('flag')).toEqual([0, 1]);
    expect(get('idx')).toEqual([-5, 7]);
    expect(decodeSafetensor(file.tensors.get('idx')!)).toBeInstanceOf(Int32Array);
    expect(get('d')[0]).toBeCloseTo(0.1, 7);
  });

  it('round-trips every writable dtype through serialize → parse (header padded to 8 bytes)', () => {
    const tensors = new Map<string, SafetensorsTensorInput>([
      ['f32', { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-8, -7]) }],
      ['f64', { dtype: 'F64', shape: [2], data: [0.25, -1e10] }],
      ['f16', { dtype: 'F16', shape: [3], data: [0.5, -3, 1024] }],
      ['bf16', { dtype: 'BF16', shape: [2], data: [2, -0.125] }],
      ['i64', { dtype: 'I64', shape: [2], data: new BigInt64Array([-3n, 9n]) }],
      ['i32', { dtype: 'I32', shape: [2], data: new Int32Array([-2147483648, 5]) }],
      ['i16', { dtype: 'I16', shape: [1], data: [-300] }],
      ['i8', { dtype: 'I8', shape: [1], data: [-7] }],
      ['u16', { dtype: 'U16', shape: [1], data: [65535] }],
      ['u32', { dtype: 'U32', shape: [1], data: [123456] }],
      ['bool', { dtype: 'BOOL', shape: [3], data: [1, 0, 1] }],
      ['scalar', { dtype: 'F32', shape: [], data: [42] }],
    ]);
    const bytes = serializeSafetensors(tensors, { note: 'hi' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const file = parseSafetensors(bytes);
    expect(file.metadata).toEqual({ note: 'hi' });
    for (const [name, t] of tensors) {
      const e = file.tensors.get(name)!;
      expect(e.dtype).toBe(t.dtype);
      expect(e.shape).toEqual(t.shape);
      const want = Array.from(t.data as ArrayLike<number | bigint>, Number);
      const got = [...decodeSafetensor(e)];
      if (name === 'f32' || name === 'f64')
        got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
      else expect(got).toEqual(want);
    }
  });

  it('half-precision conversion: exact round trip of all finite halves, ties to even', () => {
    for (let h = 0; h < 0x10000; h++) {
      const f = halfToFloat(h);
      if (Number.isNaN(f)) continue;
      if (floatToHalf(f) !== h)
        throw new Error(`half ${h.toString(16)} → ${f} → ${floatToHalf(f).toString(16)}`);
    }
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie → even mantissa
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(floatToHalf(70000)).toBe(0x7c00); // overflow → +inf
    expect(floatToHalf(2 ** -26)).toBe(0); // below half the smallest subnormal
  });

  it('reports truncated and malformed files clearly', () => {
    const good = serializeSafetensors(
      new Map([['w', { dtype: 'F32', shape: [4], data: [1, 2, 3, 4] }]]),
    );
    expectError(
      () => parseSafetensors(good.subarray(0, good.length - 3)),
      'INVALID_INPUT',
      /tensor "w" needs data bytes \[0, 16\) but the data section has only 13 bytes \(truncated file\)/,
    );
    expectError(
      () => parseSafetensors(good.subarray(0, 20)),
      'INVALID_INPUT',
      /header says \d+ bytes of JSON but the file has only 12 .*truncated/,
    );
    expectError(
      () => parseSafetensors(good.subarray(0, 5)),
      'INVALID_INPUT',
      /at least 8 bytes.*got 5/,
    );
    expectError(
      () =>
        parseSafetensors(handMade({ w: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, [0])),
      'INVALID_INPUT',
      /tensor "w": expected dtype one of F64, F32.*got "Q4"/,
    );
    expectError(
      () =>
        parseSafetensors(
          handMade({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, [0, 0, 0, 0]),
        ),
      'INVALID_INPUT',
      /expected 8 bytes \(2 × F32\), got data_offsets spanning 4/,
    );
    const notJson = handMade({}, []);
    notJson[8] = 0x7b;
    notJson[9] = 0x7b;
    expectError(() => parseSafetensors(notJson), 'INVALID_INPUT', /expected a JSON header/);
    expectError(
      () => serializeSafetensors(new Map([['w', { dtype: 'F32', shape: [3], data: [1] }]])),
      'SHAPE_MISMATCH',
      /expected 3 values for shape \[3\], got 1/,
    );
  });

  it('writes files atomically and reads them back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'st-'));
    const path = join(dir, 'w.safetensors');
    await writeSafetensors(path, new Map([['a', { dtype: 'F16', shape: [2], data: [1.5, -4] }]]));
    const file = await readSafetensors(path);
    expect([...decodeSafetensor(file.tensors.get('a')!)]).toEqual([1.5, -4]);
    const raw = await readFile(path);
    await writeFile(path, raw.subarray(0, raw.length - 1));
    await expect(readSafetensors(path)).rejects.toThrow(/truncated file/);
    await expect(readSafetensors(join(dir, 'nope.safetensors'))).rejects.toMatchObject({
      code: 'IO',
    });
  });
});
