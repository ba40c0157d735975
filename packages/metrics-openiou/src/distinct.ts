/**
 * One counter pair (inliers, anomalies) per distinct float32 score, in an open-addressing hash
 * table on typed arrays (20 bytes per slot, at most half full): exact for float32 scores, memory
 * proportional to the number of distinct values — what calibration on ×0.5 bilinear means of
 * float16 maps needs (they are not float16 values, but few distinct ones).
 * @internal
 */
import type { CurveSummary } from './curve.js';
import { radixSortU32, valueOfOrderedKey } from './sort.js';

export class DistinctScores {
  /** Ordered float32 keys (0 = empty slot: finite scores never have key 0). */
  keys = new Uint32Array(1024);
  counts = new Float64Array(2 * 1024);
  size = 0;
  /** 32 − log2(slots): Fibonacci hashing takes the product's top bits (float16-valued scores
   *  have all-zero low key bits). */
  private shift = 22;

  /** Bytes held. */
  get byteLength(): number {
    return this.keys.byteLength + this.counts.byteLength;
  }

  private slot(key: number): number {
    const mask = this.keys.length - 1;
    let i = Math.imul(key, 0x9e3779b1) >>> this.shift;
    while (this.keys[i] !== 0 && this.keys[i] !== key) i = (i + 1) & mask;
    return i;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldCounts = this.counts;
    this.keys = new Uint32Array(oldKeys.length * 2);
    this.counts = new Float64Array(oldCounts.length * 2);
    this.shift--;
    for (let j = 0; j < oldKeys.length; j++) {
      const k = oldKeys[j] as number;
      if (k === 0) continue;
      const i = this.slot(k);
      this.keys[i] = k;
      this.counts[2 * i] = oldCounts[2 * j] as number;
      this.counts[2 * i + 1] = oldCounts[2 * j + 1] as number;
    }
  }

  /** Adds `n` pixels of `label` (0 inlier, 1 anomaly) at ordered key `key`. */
  addKey(key: number, label: number, n: number): void {
    let i = this.slot(key);
    if (this.keys[i] === 0) {
      if (2 * (this.size + 1) > this.keys.length) {
        this.grow();
        i = this.slot(key);
      }
      this.keys[i] = key;
      this.size++;
    }
    this.counts[2 * i + label] = (this.counts[2 * i + label] as number) + n;
  }

  /** Adds another table's counts. */
  addTable(o: DistinctScores): void {
    for (let j = 0; j < o.keys.length; j++) {
      const k = o.keys[j] as number;
      if (k === 0) continue;
      const neg = o.counts[2 * j] as number;
      const pos = o.counts[2 * j + 1] as number;
      if (neg !== 0) this.addKey(k, 0, neg);
      if (pos !== 0) this.addKey(k, 1, pos);
    }
  }

  /** Calls `f(key, inliers, anomalies)` for every distinct score. */
  forEach(f: (key: number, neg: number, pos: number) => void): void {
    for (let j = 0; j < this.keys.length; j++) {
      const k = this.keys[j] as number;
      if (k !== 0) f(k, this.counts[2 * j] as number, this.counts[2 * j + 1] as number);
    }
  }

  /** The keys in ascending order. */
  sortedKeys(): Uint32Array {
    const sorted = new Uint32Array(this.size);
    let n = 0;
    for (let j = 0; j < this.keys.length; j++) {
      const k = this.keys[j] as number;
      if (k !== 0) sorted[n++] = k;
    }
    radixSortU32(sorted);
    return sorted;
  }

  /** Slot of a key that is in the table (its counts are at `2·slot`, `2·slot + 1`). */
  slotOf(key: number): number {
    return this.slot(key);
  }

  /** Pushes the distinct scores from the top into `summary`. */
  walk(summary: CurveSummary): void {
    const sorted = this.sortedKeys();
    let tp = 0;
    let fp = 0;
    for (let i = sorted.length - 1; i >= 0; i--) {
      const k = sorted[i] as number;
      const j = this.slot(k);
      fp += this.counts[2 * j] as number;
      tp += this.counts[2 * j + 1] as number;
      summary.push(k, tp, fp);
    }
  }

  /** The float32 value of a key (the score itself). */
  valueOf(key: number): number {
    return valueOfOrderedKey(key);
  }

  /** The score a key stands for. */
  scoreOf(key: number): number {
    return valueOfOrderedKey(key);
  }
}
