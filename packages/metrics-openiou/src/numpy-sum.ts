/**
 * `np.sum` of a float64 vector, bit for bit (numpy 1.x and 2.x on contiguous arrays): the
 * reduction runs over buffers of 8192 elements added left to right, each buffer summed
 * pairwise — below 8 elements in order, up to 128 with 8 interleaved partial sums combined as
 * `((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))` then the remainder in order, above that split at
 * `n/2 − (n/2 mod 8)`. Used where an official evaluation sums with numpy (SMIYC's AP and
 * `np.trapz` AUROC over its binned curve), so that our numbers equal theirs exactly rather than to
 * 1e-15. Checked against numpy 1.24 on 506 sizes up to 300 000 (dev check, not a unit test).
 */
export function numpySum(values: Float64Array, length: number = values.length): number {
  let total = 0;
  for (let offset = 0; offset < length; offset += 8192) {
    total += pairwiseSum(values, offset, Math.min(8192, length - offset));
  }
  return total;
}

function pairwiseSum(a: Float64Array, offset: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[offset + i] as number;
    return res;
  }
  if (n <= 128) {
    let r0 = a[offset] as number;
    let r1 = a[offset + 1] as number;
    let r2 = a[offset + 2] as number;
    let r3 = a[offset + 3] as number;
    let r4 = a[offset + 4] as number;
    let r5 = a[offset + 5] as number;
    let r6 = a[offset + 6] as number;
    let r7 = a[offset + 7] as number;
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      const p = offset + i;
      r0 += a[p] as number;
      r1 += a[p + 1] as number;
      r2 += a[p + 2] as number;
      r3 += a[p + 3] as number;
      r4 += a[p + 4] as number;
      r5 += a[p + 5] as number;
      r6 += a[p + 6] as number;
      r7 += a[p + 7] as number;
    }
    let res = r0 + r1 + (r2 + r3) + (r4 + r5 + (r6 + r7));
    for (; i < n; i++) res += a[offset + i] as number;
    return res;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return pairwiseSum(a, offset, half) + pairwiseSum(a, offset + half, n - half);
}
