import { describe, expect, it } from 'vitest';
import {
  PercentileBinsAccumulator,
  anomalyMetrics,
  float16Value,
  roundToFloat16,
} from '@densehybrid/metrics-openiou';
import { expectError, rng } from './helpers.js';

interface Frame {
  scores: Float32Array;
  labels: Uint8Array;
}

/** float16 scores with ties; `levels` distinct values per class. */
function frames(seed: number, count: number, n: number, levels: number): Frame[] {
  const r = rng(seed);
  return Array.from({ length: count }, (_, f) => {
    const scores = new Float32Array(n);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const u = r();
      labels[i] = u < 0.05 ? 255 : u < 0.3 && f !== 1 ? 1 : 0; // frame 1: no anomaly
      const v = Math.floor((r() * 0.7 + (labels[i] === 1 ? 0.3 : 0)) * levels) / levels;
      scores[i] = roundToFloat16(v - 0.25);
    }
    return { scores, labels };
  });
}

/**
 * SMIYC's `PixBinaryClass` written out on sorted arrays: per frame `np.quantile` (linear; numpy
 * subtracts the two float16 neighbours in float16) of each class at `np.linspace(0, 1, m)`, the
 * range edges, `np.unique`, `np.histogram`; then the frames' bins sorted by lower edge,
 * cumulated, one point per distinct edge, and the metrics of `curves_from_cmats`.
 */
function reference(list: readonly Frame[], bins: number) {
  const f16 = (x: number) => roundToFloat16(Math.fround(x));
  const quantile = (s: number[], m: number): number[] => {
    const n = s.length;
    const out: number[] = [];
    for (let i = 0; i < m; i++) {
      const q = m === 1 ? 0 : i === m - 1 ? 1 : i * (1 / (m - 1));
      const v = (n - 1) * q;
      if (v >= n - 1) {
        out.push(s[n - 1]!);
        continue;
      }
      const p = Math.floor(v);
      const g = v - p;
      const d = f16(s[p + 1]! - s[p]!);
      out.push(g >= 0.5 ? s[p + 1]! - d * (1 - g) : s[p]! + d * g);
    }
    return out;
  };
  const all: { t: number; tp: number; fp: number }[] = [];
  let P = 0;
  let N = 0;
  for (const { scores, labels } of list) {
    const pos: number[] = [];
    const neg: number[] = [];
    labels.forEach((l, i) => {
      if (l === 1) pos.push(scores[i]!);
      else if (l === 0) neg.push(scores[i]!);
    });
    if (pos.length + neg.length === 0) continue;
    P += pos.length;
    N += neg.length;
    pos.sort((a, b) => a - b);
    neg.sort((a, b) => a - b);
    const vals = [...pos, ...neg];
    const vmin = Math.min(...vals);
    const vmax = Math.max(...vals);
    const eps = Math.max(f16(vmax - vmin) * 0.01, 0.01);
    let e = [vmin - eps, vmax + eps];
    if (pos.length) e.push(...quantile(pos, Math.min(bins / 2, pos.length)));
    if (neg.length) e.push(...quantile(neg, Math.min(bins / 2, neg.length)));
    e = [...new Set(e)].sort((a, b) => a - b);
    for (let k = 0; k + 1 < e.length; k++) {
      const last = k + 2 === e.length;
      const inBin = (v: number) => v >= e[k]! && (last ? v <= e[k + 1]! : v < e[k + 1]!);
      all.push({ t: e[k]!, tp: pos.filter(inBin).length, fp: neg.filter(inBin).length });
    }
  }
  all.sort((a, b) => b.t - a.t);
  const pts: { t: number; tp: number; fp: number }[] = [];
  let tp = 0;
  let fp = 0;
  all.forEach((b, i) => {
    tp += b.tp;
    fp += b.fp;
    if (i + 1 === all.length || all[i + 1]!.t !== b.t) pts.push({ t: b.t, tp, fp });
  });
  pts.unshift({ t: pts[0]!.t + 1, tp: 0, fp: 0 });
  let ap = 0;
  let auroc = 0;
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1]!;
    const b = pts[i]!;
    const prec = b.tp + b.fp > 0 ? b.tp / (b.tp + b.fp) : 1;
    ap += (b.tp / P - a.tp / P) * prec;
    auroc += ((b.fp / N - a.fp / N) * (b.tp / P + a.tp / P)) / 2;
  }
  const f1 = pts.map((p) => (2 * p.tp) / (2 * p.tp + p.fp + (P - p.tp)));
  const best = f1.indexOf(Math.max(...f1));
  const i95 = pts.findIndex((p) => p.tp / P >= 0.95);
  return {
    ap,
    auroc,
    fpr: pts[i95]!.fp / N,
    threshold: pts[i95]!.t,
    bestF1: f1[best]!,
    bestF1Threshold: pts[best]!.t,
    positives: P,
    negatives: N,
  };
}

describe('PercentileBinsAccumulator (SMIYC PixBinaryClass)', () => {
  for (const [seed, n, levels, bins] of [
    [1, 300, 40, 768], // every value its own quantile
    [2, 900, 400, 768], // > 384 pixels per class: real percentiles
    [3, 500, 1000, 8], // coarse bins
    [4, 700, 7, 16], // heavy ties
  ] as const) {
    it(`equals the definition: ${n} px, ${levels} levels, ${bins} bins`, () => {
      const list = frames(seed, 5, n, levels);
      const acc = new PercentileBinsAccumulator({ bins });
      for (const f of list) acc.add(f.scores, f.labels);
      const r = acc.compute();
      const ref = reference(list, bins);
      for (const k of ['ap', 'auroc', 'fpr', 'bestF1'] as const)
        expect(r[k]).toBeCloseTo(ref[k], 14);
      expect(r.threshold).toBe(ref.threshold);
      expect(r.bestF1Threshold).toBe(ref.bestF1Threshold);
      expect([r.positives, r.negatives, r.frames, r.framesUsed]).toEqual([
        ref.positives,
        ref.negatives,
        5,
        5,
      ]);
    });
  }

  it('is close to the exact metrics with many bins, and rounds scores to float16', () => {
    const list = frames(5, 4, 2000, 200);
    const acc = new PercentileBinsAccumulator();
    for (const f of list)
      acc.add(
        Float64Array.from(f.scores, (v) => v + 1e-7),
        f.labels,
      );
    const r = acc.compute();
    const same = new PercentileBinsAccumulator();
    for (const f of list) same.add(f.scores, f.labels);
    expect(r).toEqual(same.compute()); // +1e-7 vanishes in float16
    const all = (k: 'scores' | 'labels') =>
      Float32Array.from(list.flatMap((f) => Array.from(f[k] as ArrayLike<number>)));
    const exact = anomalyMetrics(all('scores'), Uint8Array.from(all('labels')));
    expect(Math.abs(r.ap - exact.ap)).toBeLessThan(0.02);
    expect(Math.abs(r.auroc - exact.auroc)).toBeLessThan(0.01);
  });

  it('merges in any order and round-trips through JSON', () => {
    const list = frames(6, 6, 400, 50);
    const whole = new PercentileBinsAccumulator();
    for (const f of list) whole.add(f.scores, f.labels);
    const a = new PercentileBinsAccumulator();
    const b = new PercentileBinsAccumulator();
    list.forEach((f, i) => (i % 2 ? a : b).add(f.scores, f.labels));
    expect(a.merge(b).compute()).toEqual(whole.compute());
    const back = PercentileBinsAccumulator.fromJSON(JSON.stringify(whole));
    expect(back.compute()).toEqual(whole.compute());
    expect(back.binCount).toBe(whole.binCount);
  });

  it('counts frames without pixels in the region of interest and leaves them out', () => {
    const acc = new PercentileBinsAccumulator();
    acc.add(Float32Array.of(0.5, 0.25), Uint8Array.of(255, 255));
    acc.add(Float32Array.of(0.5, 0.25, float16Value(0x3c00)), Uint8Array.of(1, 0, 1));
    const r = acc.compute();
    expect([r.frames, r.framesUsed, r.ignored]).toEqual([2, 1, 2]);
    expect(r.ap).toBe(1);
  });

  it('errors', () => {
    expectError(() => new PercentileBinsAccumulator({ bins: 1 }), 'INVALID_OPTION', /bins/);
    const acc = new PercentileBinsAccumulator();
    expectError(() => acc.add([0.5], [7]), 'INVALID_INPUT', /got 7 at index 0/);
    expectError(() => acc.add([1e6], [1]), 'NON_FINITE', /float16's range/);
    expectError(() => acc.add([NaN], [0]), 'NON_FINITE', /got NaN at index 0/);
    expectError(() => acc.add([0.5, 1], [0]), 'SHAPE_MISMATCH', /labels/);
    expectError(() => acc.compute(), 'EMPTY_SET', /at least one anomaly/);
    expectError(
      () => acc.merge(new PercentileBinsAccumulator({ bins: 8 })),
      'INVALID_INPUT',
      /merge/,
    );
  });
});
