import { describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy, float16Bits, float16Value } from '@densehybrid/metrics-openiou';

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
