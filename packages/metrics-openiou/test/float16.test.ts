import { describe, expect, it } from 'vitest';
import {
  float16Bits,
  float16Value,
  fromFloat16Bits,
  roundToFloat16,
  toFloat16Bits,
} from '@densehybrid/metrics-openiou';

describe('float16 helpers', () => {
  it('decode → encode is the identity on every non-NaN bit pattern', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const values = fromFloat16Bits(all);
    const back = toFloat16Bits(values);
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue; // NaN
      expect(back[h]).toBe(h);
    }
  });
  it('known values and rounding half to even', () => {
    expect(Array.from(fromFloat16Bits([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00]))).toEqual([
      1,
      -2,
      65504,
      2 ** -24,
      Infinity,
    ]);
    expect(roundToFloat16(0.1)).toBe(0.0999755859375);
    expect(roundToFloat16(1 + 2 ** -11)).toBe(1); // halfway, to even
    expect(roundToFloat16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9); // halfway, to even (up)
    expect(roundToFloat16(65519)).toBe(65504);
    expect(roundToFloat16(65520)).toBe(Infinity);
    expect(roundToFloat16(3 * 2 ** -26)).toBe(2 ** -24); // subnormal 0.75 ulp → 1 ulp
    expect(roundToFloat16(2 ** -26)).toBe(0);
    expect(Object.is(roundToFloat16(-1e-10), -0)).toBe(true);
    expect(Number.isNaN(roundToFloat16(NaN))).toBe(true);
  });
  it('rounding agrees with a brute-force nearest search', () => {
    const table = Array.from(fromFloat16Bits(new Uint16Array(0x7c00).map((_, i) => i)));
    for (const x of [0.3, 1.2345, 1000.7, 3e-5, 7e-8, 12345.678, 0.000123]) {
      let best = 0;
      for (const v of table) if (Math.abs(v - x) < Math.abs(best - x)) best = v;
      expect(roundToFloat16(x)).toBe(best);
    }
  });
});

describe('scalar float16Bits / float16Value', () => {
  it('agree with the array conversions on every half value and on the midpoints between them', () => {
    const halves = new Uint16Array(65536).map((_, i) => i);
    const values = fromFloat16Bits(halves);
    const wrong: number[] = [];
    for (let b = 0; b < 65536; b++) {
      const v = float16Value(b);
      if (!(Object.is(v, values[b]) || (Number.isNaN(v) && Number.isNaN(values[b]!))))
        wrong.push(b);
      const probe = b < 0x7bff ? (v + float16Value(b + 1)) / 2 : v;
      if (!Number.isNaN(probe) && float16Bits(probe) !== toFloat16Bits([probe])[0]) wrong.push(b);
    }
    expect(wrong).toEqual([]);
    expect(float16Bits(65520)).toBe(0x7c00);
    expect(float16Bits(-0)).toBe(0x8000);
  });
});
