/**
 * Exactly rounded floating-point sums that merge in any grouping: Shewchuk's non-overlapping
 * partials (the algorithm of Python's `math.fsum`). The value is the float64 nearest to the exact
 * sum of everything added, so `a.merge(b)` equals having added b's terms to a one by one, in any
 * order — which makes sums of sharded evaluations equal to a single process's, bit for bit.
 * @internal
 */
export class ExactSum {
  /** Non-overlapping partials, increasing magnitude; their exact sum is the sum so far. */
  private partials: number[] = [];

  /** Adds a finite number. */
  add(x: number): void {
    const p = this.partials;
    let i = 0;
    for (let j = 0; j < p.length; j++) {
      let y = p[j] as number;
      if (Math.abs(x) < Math.abs(y)) {
        const t = x;
        x = y;
        y = t;
      }
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) p[i++] = lo;
      x = hi;
    }
    p.length = i;
    p.push(x);
  }

  /** Adds every term of `other` (its partials: the same exact sum). */
  merge(other: ExactSum): void {
    for (const x of other.partials) this.add(x);
  }

  /** The float64 nearest to the exact sum (ties to even, as `math.fsum`). */
  value(): number {
    const p = this.partials;
    let n = p.length;
    if (n === 0) return 0;
    let hi = p[--n] as number;
    let lo = 0;
    while (n > 0) {
      const x = hi;
      const y = p[--n] as number;
      hi = x + y;
      lo = y - (hi - x);
      if (lo !== 0) break;
    }
    // half-way: round by the sign of the partials below (fsum's correction)
    if (n > 0 && ((lo < 0 && (p[n - 1] as number) < 0) || (lo > 0 && (p[n - 1] as number) > 0))) {
      const y = lo * 2;
      const x = hi + y;
      if (y === x - hi) hi = x;
    }
    return hi;
  }

  /** The partials (JSON: finite numbers round-trip exactly). */
  toJSON(): number[] {
    return this.partials.slice();
  }

  /** From {@link toJSON} output; null when it is not an array of finite numbers. */
  static fromJSON(json: unknown): ExactSum | null {
    if (!Array.isArray(json) || json.some((v) => typeof v !== 'number' || !Number.isFinite(v)))
      return null;
    const s = new ExactSum();
    for (const v of json as number[]) s.add(v);
    return s;
  }

  /** A sum holding `x` alone. */
  static of(x: number): ExactSum {
    const s = new ExactSum();
    s.add(x);
    return s;
  }
}
