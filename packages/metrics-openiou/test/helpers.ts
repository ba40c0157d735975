import { expect } from 'vitest';
import { DenseHybridError } from '@densehybrid/metrics-openiou';

/** Seeded PRNG (mulberry32) so every random test is reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random scores with `levels` distinct values (heavy ties for small `levels`), labels 0/1/255. */
export function randomSet(
  seed: number,
  n: number,
  levels: number,
  pAnomaly = 0.3,
  pIgnore = 0.1,
): { scores: Float32Array; labels: Uint8Array } {
  const r = rng(seed);
  const scores = new Float32Array(n);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const u = r();
    const l = u < pIgnore ? 255 : u < pIgnore + pAnomaly ? 1 : 0;
    labels[i] = l;
    scores[i] = Math.floor((r() + (l === 1 ? 0.35 : 0)) * levels) / levels - 0.2;
  }
  labels[0] = 1;
  labels[1] = 0;
  return { scores, labels };
}

/** O(n²)/O(n·m) definitions used as references. */
export function bruteForce(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  tpr = 0.95,
): { ap: number; auroc: number; atLeast: number; nearest: number; above: number; bestF1: number } {
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] === 1) pos.push(scores[i] as number);
    else if (labels[i] === 0) neg.push(scores[i] as number);
  }
  const P = pos.length;
  const N = neg.length;
  // AUROC = P(s+ > s−) + ½ P(s+ = s−) over all pairs
  let wins = 0;
  for (const a of pos) for (const b of neg) wins += a > b ? 1 : a === b ? 0.5 : 0;
  const count = (arr: number[], t: number) => arr.reduce((c, v) => c + (v >= t ? 1 : 0), 0);
  // AP = mean over positives of the precision at the positive's own score
  let ap = 0;
  for (const a of pos) ap += count(pos, a) / (count(pos, a) + count(neg, a));
  ap /= P;
  // operating points at every distinct threshold, descending
  const thr = [...new Set([...pos, ...neg])].sort((x, y) => y - x);
  const pts = thr.map((t) => ({ t, tp: count(pos, t), fp: count(neg, t) }));
  const atLeast = (pts.find((p) => p.tp / P >= tpr) as (typeof pts)[number]).fp / N;
  let best = Infinity;
  let nearest = NaN;
  for (const p of pts) {
    const d = Math.abs(p.tp / P - tpr);
    if (d <= best) {
      best = d;
      nearest = p.fp / N;
    }
    if (p.tp === P) break;
  }
  // sklearn roc_curve(drop_intermediate=True): drop points with zero second differences
  const kept = pts.filter((p, i) => {
    if (i === 0 || i === pts.length - 1) return true;
    const a = pts[i - 1] as (typeof pts)[number];
    const c = pts[i + 1] as (typeof pts)[number];
    return a.fp - 2 * p.fp + c.fp !== 0 || a.tp - 2 * p.tp + c.tp !== 0;
  });
  const ab = kept.find((p) => p.tp / P > tpr);
  const above = ab === undefined ? NaN : ab.fp / N;
  let bestF1 = 0;
  for (const p of pts) bestF1 = Math.max(bestF1, (2 * p.tp) / (p.tp + p.fp + P));
  return { ap, auroc: wins / (P * N), atLeast, nearest, above, bestF1 };
}

/** Asserts that `f` throws a DenseHybridError with `code` and a message matching `pattern`. */
export function expectError(f: () => unknown, code: string, pattern: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(DenseHybridError.is(err)).toBe(true);
  expect((err as DenseHybridError).code).toBe(code);
  expect((err as Error).message).toMatch(pattern);
}
