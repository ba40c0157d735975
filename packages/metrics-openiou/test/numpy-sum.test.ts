import { describe, expect, it } from 'vitest';
import { numpySum } from '../src/numpy-sum.js';

describe('numpySum (np.sum order of additions)', () => {
  it('adds fewer than 8 values in order', () => {
    const a = new Float64Array([2 ** 53, 1, 1, 1]);
    // in order: each +1 rounds back to 2^53 (ties to even)
    expect(numpySum(a)).toBe(2 ** 53);
  });

  it('sums 8..128 values with 8 interleaved partial sums', () => {
    const a = new Float64Array(16).fill(1);
    a[0] = 2 ** 53;
    // r0 = 2^53 + 1 → 2^53, r1..r7 = 2: ((2^53 + 2) + 4) + 8, all exact
    expect(numpySum(a)).toBe(2 ** 53 + 14);
    let sequential = 0;
    for (const v of a) sequential += v;
    expect(sequential).toBe(2 ** 53);
  });

  it('splits longer runs in halves rounded down to a multiple of 8 and buffers of 8192', () => {
    const n = 20000;
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++) a[i] = ((i * 7919) % 1000) / 7 + 1e-3 * i;
    // brute force of the documented order, written independently (recursive on index ranges)
    const pw = (lo: number, hi: number): number => {
      const m = hi - lo;
      if (m < 8) {
        let s = 0;
        for (let i = lo; i < hi; i++) s += a[i] as number;
        return s;
      }
      if (m <= 128) {
        const r = Array.from({ length: 8 }, (_, j) => a[lo + j] as number);
        let i = lo + 8;
        for (; i < hi - (m % 8); i += 8)
          for (let j = 0; j < 8; j++) r[j] = (r[j] as number) + (a[i + j] as number);
        const q = r as [number, number, number, number, number, number, number, number];
        let s = q[0] + q[1] + (q[2] + q[3]) + (q[4] + q[5] + (q[6] + q[7]));
        for (; i < hi; i++) s += a[i] as number;
        return s;
      }
      const half = Math.floor(m / 2) - (Math.floor(m / 2) % 8);
      return pw(lo, lo + half) + pw(lo + half, hi);
    };
    const expected = pw(0, 8192) + pw(8192, 16384) + pw(16384, n);
    expect(numpySum(a)).toBe(expected);
    expect(numpySum(a, 100)).toBe(pw(0, 100));
  });
});
