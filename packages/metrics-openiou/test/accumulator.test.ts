import { describe, expect, it } from 'vitest';
import {
  AnomalyMetricsAccumulator,
  anomalyMetrics,
  fromFloat16Bits,
  roundToFloat16,
  toFloat16Bits,
  type AnomalyMetricsResult,
} from '@densehybrid/metrics-openiou';
import { bruteForce, randomSet, rng, expectError } from './helpers.js';

function frames(seed: number, count: number, n: number, levels: number) {
  const out: { scores: Float32Array; labels: Uint8Array }[] = [];
  for (let k = 0; k < count; k++) out.push(randomSet(seed * 100 + k, n, levels));
  return out;
}

function concat(fs: { scores: Float32Array; labels: Uint8Array }[]) {
  const n = fs.reduce((s, f) => s + f.scores.length, 0);
  const scores = new Float32Array(n);
  const labels = new Uint8Array(n);
  let o = 0;
  for (const f of fs) {
    scores.set(f.scores, o);
    labels.set(f.labels, o);
    o += f.scores.length;
  }
  return { scores, labels };
}

function sameMetrics(a: AnomalyMetricsResult, b: AnomalyMetricsResult): void {
  expect(a.ap).toBeCloseTo(b.ap, 12);
  expect(a.auroc).toBeCloseTo(b.auroc, 12);
  expect(a.fpr).toBe(b.fpr);
  expect(a.bestF1).toBeCloseTo(b.bestF1, 12);
  expect([a.positives, a.negatives, a.ignored]).toEqual([b.positives, b.negatives, b.ignored]);
}

describe('AnomalyMetricsAccumulator', () => {
  it('exact pooled equals anomalyMetrics on all frames together', () => {
    const fs = frames(1, 5, 300, 7);
    const acc = new AnomalyMetricsAccumulator();
    for (const f of fs) acc.add(f.scores, f.labels);
    const all = concat(fs);
    for (const fprRule of ['at-least', 'above', 'nearest'] as const) {
      const a = new AnomalyMetricsAccumulator({ fprRule });
      for (const f of fs) a.add(f.scores, f.labels);
      sameMetrics(a.compute(), anomalyMetrics(all.scores, all.labels, { fprRule }));
    }
    const r = acc.compute();
    expect(r.frames).toBe(5);
    expect(r.threshold).toBe(anomalyMetrics(all.scores, all.labels).threshold);
  });

  it('per-image: mean over frames with anomalies, skipped frames counted, never scored 0', () => {
    const fs = frames(2, 4, 200, 5);
    const noAnomaly = {
      scores: new Float32Array([0.1, 0.2, 0.3]),
      labels: new Uint8Array([0, 0, 255]),
    };
    const noInlier = { scores: new Float32Array([0.1, 0.2]), labels: new Uint8Array([1, 1]) };
    for (const mode of ['exact', 'histogram'] as const) {
      const acc = new AnomalyMetricsAccumulator({ mode });
      acc.add(fs[0]!.scores, fs[0]!.labels).add(noAnomaly.scores, noAnomaly.labels);
      for (const f of fs.slice(1)) acc.add(f.scores, f.labels);
      acc.add(noInlier.scores, noInlier.labels);
      const r = acc.compute({ protocol: 'per-image' });
      const refs = fs.map((f) => bruteForce(f.scores, f.labels));
      const mean = (k: 'ap' | 'auroc' | 'atLeast') =>
        refs.reduce((s, x) => s + x[k], 0) / refs.length;
      expect(r.ap).toBeCloseTo(mean('ap'), 12);
      expect(r.auroc).toBeCloseTo(mean('auroc'), 12);
      expect(r.fpr).toBeCloseTo(mean('atLeast'), 12);
      expect(r.threshold).toBeNull();
      expect(r.framesUsed).toBe(4);
      expect(r.framesWithoutAnomaly).toBe(1);
      expect(r.framesWithoutInlier).toBe(1);
      expect(r.frames).toBe(6);
      expect(acc.frameMetrics()[1]!.ap).toBeNull();
    }
  });

  it('histogram equals exact on float16-quantised scores (all rules, thresholds select the same pixels)', () => {
    const r = rng(5);
    const n = 20000;
    const raw = new Float32Array(n);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = r() < 0.05 ? 255 : r() < 0.2 ? 1 : 0;
      // logit-like scores spanning negative, subnormal-float16 and large magnitudes
      raw[i] = (r() - 0.5 + 0.4 * (labels[i] === 1 ? 1 : 0)) * [1e-6, 1, 300][i % 3]!;
    }
    const q = fromFloat16Bits(toFloat16Bits(raw));
    for (const fprRule of ['at-least', 'above', 'nearest'] as const) {
      const ex = new AnomalyMetricsAccumulator({ mode: 'exact', fprRule });
      const hi = new AnomalyMetricsAccumulator({ mode: 'histogram', fprRule });
      for (let k = 0; k < 4; k++) {
        const s = q.subarray(k * 5000, (k + 1) * 5000);
        const l = labels.subarray(k * 5000, (k + 1) * 5000);
        ex.add(s, l);
        hi.add(s, l);
      }
      const a = ex.compute();
      const b = hi.compute();
      sameMetrics(b, a);
      const pa = ex.compute({ protocol: 'per-image' });
      const pb = hi.compute({ protocol: 'per-image' });
      expect(pb.ap).toBeCloseTo(pa.ap, 12);
      expect(pb.auroc).toBeCloseTo(pa.auroc, 12);
      expect(pb.fpr).toBeCloseTo(pa.fpr, 12);
      // the histogram threshold is the lower edge of its float16 bin: same selection
      const sel = (t: number) =>
        q.reduce((c, v, i) => c + (v >= t && labels[i] !== 255 ? 1 : 0), 0);
      expect(sel(b.threshold as number)).toBe(sel(a.threshold as number));
    }
    // the curve points agree too
    const ex = new AnomalyMetricsAccumulator().add(q, labels).curves({ maxPoints: 100 });
    const hi = new AnomalyMetricsAccumulator({ mode: 'histogram' })
      .add(q, labels)
      .curves({ maxPoints: 100 });
    expect(hi.roc.fpr).toEqual(ex.roc.fpr);
    expect(hi.pr.precision).toEqual(ex.pr.precision);
  });

  it('histogram on raw float32 scores = exact on the same scores rounded to float16 (the documented error)', () => {
    const { scores, labels } = randomSet(8, 3000, 1e7);
    const h = new AnomalyMetricsAccumulator({ mode: 'histogram' }).add(scores, labels).compute();
    const rounded = Float32Array.from(scores, roundToFloat16);
    sameMetrics(h, anomalyMetrics(rounded, labels));
    // float64 input goes through float32 first; beyond ±65504 it lands in the ±Infinity bins
    const big = new AnomalyMetricsAccumulator({ mode: 'histogram' })
      .add([1e5, 2e5, 1, 1e300, -1e300], [1, 1, 0, 0, 1])
      .compute();
    // float16: Infinity, Infinity, 1, Infinity, -Infinity
    sameMetrics(big, anomalyMetrics([9, 9, 1, 9, -9], [1, 1, 0, 0, 1]));
  });

  it('histogram: per-image metrics of float32 scores are exact (each frame sorted), nonFloat16Scores counts the rounded ones', () => {
    const fs = frames(11, 5, 300, 1e7); // float32 scores, far from float16 values
    const f16 = frames(12, 2, 300, 64).map((f) => ({
      ...f,
      scores: Float32Array.from(f.scores, roundToFloat16),
    }));
    const hist = new AnomalyMetricsAccumulator({ mode: 'histogram' });
    const exact = new AnomalyMetricsAccumulator({ mode: 'exact' });
    for (const f of [...fs, ...f16]) {
      hist.add(f.scores, f.labels);
      exact.add(f.scores, f.labels);
    }
    // bit for bit the exact mode's per-image values, and brute force frame by frame
    expect(hist.frameMetrics()).toEqual(exact.frameMetrics());
    expect(hist.compute({ protocol: 'per-image' })).toEqual(
      exact.compute({ protocol: 'per-image' }),
    );
    fs.forEach((f, k) => {
      const bf = bruteForce(f.scores, f.labels);
      expect(hist.frameMetrics()[k]!.ap).toBeCloseTo(bf.ap, 12);
      expect(hist.frameMetrics()[k]!.auroc).toBeCloseTo(bf.auroc, 12);
    });
    // the pooled values are of the float16-rounded scores: they differ from the exact ones
    expect(Math.abs(hist.compute().ap - exact.compute().ap)).toBeGreaterThan(1e-9);
    const counted = (f: { scores: Float32Array; labels: Uint8Array }) =>
      f.scores.filter((v, i) => f.labels[i] !== 255 && roundToFloat16(v) !== v).length;
    const want = fs.reduce((a, f) => a + counted(f), 0);
    expect(want).toBeGreaterThan(1000);
    expect(hist.nonFloat16Scores).toBe(want);
    expect(exact.nonFloat16Scores).toBe(0);
    // float16 scores: none counted, and the state has no such field
    const h16 = new AnomalyMetricsAccumulator({ mode: 'histogram' });
    for (const f of f16) h16.add(f.scores, f.labels);
    expect(h16.nonFloat16Scores).toBe(0);
    expect(JSON.stringify(h16)).not.toContain('nonFloat16');
    // merges add, JSON keeps it; float64 input is compared as given
    const restored = AnomalyMetricsAccumulator.fromJSON(JSON.stringify(hist));
    expect(restored.nonFloat16Scores).toBe(want);
    restored.merge(h16).merge(hist);
    expect(restored.nonFloat16Scores).toBe(2 * want);
    const h64 = new AnomalyMetricsAccumulator({ mode: 'histogram' }).add(
      Float64Array.of(0.5, 0.1, 0.25, 0.3),
      Uint8Array.of(1, 0, 255, 0),
    );
    expect(h64.nonFloat16Scores).toBe(2); // 0.1 and 0.3; 0.25 is ignored
  });

  for (const mode of ['exact', 'histogram'] as const) {
    it(`${mode}: merge(a, b) equals adding everything to one; JSON round trip`, () => {
      const fs = frames(3, 6, 250, 9);
      const all = new AnomalyMetricsAccumulator({ mode });
      const a = new AnomalyMetricsAccumulator({ mode });
      const b = new AnomalyMetricsAccumulator({ mode });
      fs.forEach((f, k) => {
        all.add(f.scores, f.labels);
        (k % 2 === 0 ? a : b).add(f.scores, f.labels);
      });
      // b also holds one float64 frame (exact mode upgrades its storage)
      const f64 = { s: new Float64Array([0.123456789012, 0.5, 0.7]), l: new Uint8Array([1, 0, 1]) };
      b.add(f64.s, f64.l);
      all.add(f64.s, f64.l);
      a.merge(b);
      const ra = a.compute();
      const rAll = all.compute();
      sameMetrics(ra, rAll);
      expect(ra.frames).toBe(rAll.frames);
      const restored = AnomalyMetricsAccumulator.fromJSON(JSON.stringify(a));
      expect(restored.compute()).toEqual(ra);
      expect(restored.compute({ protocol: 'per-image' })).toEqual(
        a.compute({ protocol: 'per-image' }),
      );
      // and keeps accumulating
      restored.add(fs[0]!.scores, fs[0]!.labels);
      a.add(fs[0]!.scores, fs[0]!.labels);
      sameMetrics(restored.compute(), a.compute());
    });
  }

  it('histogram memory is fixed', () => {
    const acc = new AnomalyMetricsAccumulator({ mode: 'histogram' });
    const { scores, labels } = randomSet(4, 10000, 1e6);
    acc.add(scores, labels);
    const before = acc.byteLength;
    for (let k = 0; k < 5; k++) acc.add(scores, labels);
    expect(acc.byteLength).toBe(before);
    expect(before).toBe(2 * 2 * 65536 * 8);
  });
});

describe('AnomalyMetricsAccumulator errors', () => {
  for (const mode of ['exact', 'histogram'] as const) {
    it(`${mode}: bad frames throw and leave the state unchanged`, () => {
      const acc = new AnomalyMetricsAccumulator({ mode });
      acc.add(new Float32Array([0.1, 0.9]), new Uint8Array([0, 1]));
      const before = JSON.stringify(acc);
      expectError(
        () => acc.add(new Float32Array(3), new Uint8Array(2)),
        'SHAPE_MISMATCH',
        /^AnomalyMetricsAccumulator\.add: expected labels to have the length of scores \(3\), got length 2/,
      );
      expectError(
        () => acc.add(new Float32Array([0.5, NaN]), new Uint8Array([0, 1])),
        'NON_FINITE',
        /got NaN at index 1/,
      );
      expectError(
        () => acc.add(new Float32Array([0.5, Infinity]), new Uint8Array([0, 255])),
        'NON_FINITE',
        /got Infinity at index 1/,
      );
      expectError(
        () => acc.add([0.5, -Infinity], [0, 1]),
        'NON_FINITE',
        /got -Infinity at index 1/,
      );
      expectError(
        () => acc.add(new Float32Array([0.5, 0.2]), new Uint8Array([0, 3])),
        'INVALID_INPUT',
        /got 3 at index 1/,
      );
      expect(JSON.stringify(acc)).toBe(before);
    });
  }

  it('empty sets, per-image without perImage, bad options, bad JSON', () => {
    const acc = new AnomalyMetricsAccumulator({ mode: 'histogram' });
    expectError(
      () => acc.compute(),
      'EMPTY_SET',
      /^AnomalyMetricsAccumulator\.compute: expected at least one anomaly/,
    );
    acc.add([0.1, 0.2], [0, 0]);
    expectError(() => acc.compute({ protocol: 'per-image' }), 'EMPTY_SET', /1 without anomaly/);
    expectError(() => acc.curves(), 'EMPTY_SET', /got 0 anomaly and 2 inlier/);
    const np = new AnomalyMetricsAccumulator({ perImage: false }).add([0.1, 0.2], [0, 1]);
    expectError(() => np.compute({ protocol: 'per-image' }), 'INVALID_OPTION', /perImage: true/);
    expectError(() => np.compute({ protocol: 'mean' as never }), 'INVALID_OPTION', /protocol/);
    expectError(
      () => new AnomalyMetricsAccumulator({ mode: 'fast' as never }),
      'INVALID_OPTION',
      /mode to be one of "exact", "histogram", "distinct", got "fast"/,
    );
    expectError(
      () => new AnomalyMetricsAccumulator({ perImage: 1 as never }),
      'INVALID_OPTION',
      /perImage/,
    );
    expectError(
      () => acc.merge(np),
      'INVALID_INPUT',
      /^AnomalyMetricsAccumulator\.merge: expected an accumulator with options/,
    );
    expectError(() => AnomalyMetricsAccumulator.fromJSON('{'), 'INVALID_INPUT', /invalid JSON/);
    expectError(
      () => AnomalyMetricsAccumulator.fromJSON('{"format":"x"}'),
      'INVALID_INPUT',
      /format/,
    );
    const j = JSON.parse(JSON.stringify(acc));
    j.histogram[0] = 70000;
    expectError(() => AnomalyMetricsAccumulator.fromJSON(j), 'INVALID_INPUT', /histogram keys/);
    const e = JSON.parse(JSON.stringify(np));
    e.exact.pos = '***';
    expectError(() => AnomalyMetricsAccumulator.fromJSON(e), 'INVALID_INPUT', /exact\.pos/);
    const c = JSON.parse(JSON.stringify(np));
    c.positives = 5;
    expectError(() => AnomalyMetricsAccumulator.fromJSON(c), 'INVALID_INPUT', /counts equal/);
  });
});

describe("AnomalyMetricsAccumulator mode 'distinct'", () => {
  it('equals exact mode on float32 scores, merges and round-trips', () => {
    const fs = frames(41, 4, 3000, 5000);
    const exact = new AnomalyMetricsAccumulator({ mode: 'exact', perImage: false });
    const a = new AnomalyMetricsAccumulator({ mode: 'distinct', perImage: false });
    const b = new AnomalyMetricsAccumulator({ mode: 'distinct', perImage: false });
    fs.forEach((f, i) => {
      exact.add(f.scores, f.labels);
      (i % 2 ? a : b).add(f.scores, f.labels);
    });
    a.merge(b);
    expect(a.roundedToFloat16).toBe(false);
    expect(a.compute()).toEqual(exact.compute());
    const back = AnomalyMetricsAccumulator.fromJSON(JSON.stringify(a));
    expect(back.compute()).toEqual(exact.compute());
    expect(back.curves()).toEqual(exact.curves());
  });

  it('past maxDistinct continues as the float16 histogram', () => {
    const fs = frames(42, 3, 2000, 1e9);
    const hist = new AnomalyMetricsAccumulator({ mode: 'histogram', perImage: false });
    const d = new AnomalyMetricsAccumulator({
      mode: 'distinct',
      perImage: false,
      maxDistinct: 2500,
    });
    const e = new AnomalyMetricsAccumulator({
      mode: 'distinct',
      perImage: false,
      maxDistinct: 2500,
    });
    for (const f of fs) hist.add(f.scores, f.labels);
    d.add(fs[0]!.scores, fs[0]!.labels);
    expect(d.roundedToFloat16).toBe(false);
    e.add(fs[1]!.scores, fs[1]!.labels).add(fs[2]!.scores, fs[2]!.labels);
    expect(e.roundedToFloat16).toBe(true);
    d.merge(e); // distinct + fallen back
    expect(d.roundedToFloat16).toBe(true);
    expect(d.compute()).toEqual(hist.compute());
    const back = AnomalyMetricsAccumulator.fromJSON(JSON.stringify(d));
    expect(back.roundedToFloat16).toBe(true);
    expect(back.compute()).toEqual(hist.compute());
  });
});
