import { describe, expect, it } from 'vitest';
import { anomalyCurves, anomalyMetrics } from '@densehybrid/metrics-openiou';
import { bruteForce, randomSet, rng, expectError } from './helpers.js';

describe('anomalyMetrics against O(n²) definitions', () => {
  for (const [seed, levels] of [
    [1, 3],
    [2, 5],
    [3, 20],
    [4, 1000],
    [5, 2],
  ] as const) {
    it(`seed ${seed}, ${levels} score levels (heavy ties)`, () => {
      const { scores, labels } = randomSet(seed, 600, levels);
      const ref = bruteForce(scores, labels);
      const r = anomalyMetrics(scores, labels);
      expect(r.ap).toBeCloseTo(ref.ap, 12);
      expect(r.auroc).toBeCloseTo(ref.auroc, 12);
      expect(r.fpr).toBe(ref.atLeast);
      expect(r.bestF1).toBeCloseTo(ref.bestF1, 12);
      expect(anomalyMetrics(scores, labels, { fprRule: 'nearest' }).fpr).toBe(ref.nearest);
      expect(anomalyMetrics(scores, labels, { fprRule: 'above' }).fpr).toBe(ref.above);
      // the threshold reproduces the operating point under the `score >= threshold` convention
      let tp = 0;
      let fp = 0;
      for (let i = 0; i < scores.length; i++) {
        if ((scores[i] as number) >= (r.threshold as number)) {
          if (labels[i] === 1) tp++;
          else if (labels[i] === 0) fp++;
        }
      }
      expect(tp / r.positives).toBe(r.tprReached);
      expect(fp / r.negatives).toBe(r.fpr);
      expect(r.positives + r.negatives + r.ignored).toBe(scores.length);
    });
  }

  it('other tpr targets and float64 / plain-array input', () => {
    const r = rng(9);
    const n = 400;
    const s64 = new Float64Array(n);
    const y: number[] = [];
    for (let i = 0; i < n; i++) {
      const l = r() < 0.4 ? 1 : 0;
      y.push(l);
      s64[i] = Math.floor((r() + 0.2 * l) * 7) / 7 + 1e-12 * (i % 3); // not float32-exact
    }
    for (const tpr of [0.5, 0.8, 1]) {
      const ref = bruteForce(s64, y, tpr);
      const m = anomalyMetrics(s64, y, { tpr });
      expect(m.ap).toBeCloseTo(ref.ap, 12);
      expect(m.auroc).toBeCloseTo(ref.auroc, 12);
      expect(m.fpr).toBe(ref.atLeast);
      expect(anomalyMetrics(Array.from(s64), y, { tpr, fprRule: 'nearest' }).fpr).toBe(ref.nearest);
    }
  });

  it('hand example: AP 5/6, AUROC 3/4', () => {
    const r = anomalyMetrics(new Float32Array([0.9, 0.8, 0.3, 0.1]), new Uint8Array([1, 0, 1, 0]));
    expect(r.ap).toBeCloseTo(5 / 6, 15);
    expect(r.auroc).toBe(0.75);
    expect(r.fpr).toBe(0.5);
    expect(r.threshold).toBeCloseTo(0.3, 6);
  });

  it("'above' follows scikit-learn's pruned roc_curve (collinear points dropped)", () => {
    // one anomaly and one inlier per score level: every ROC point lies on the diagonal with equal
    // steps, so roc_curve(drop_intermediate=True) keeps only (0,0), (0.2,0.2) and (1,1)
    const s = [5, 5, 4, 4, 3, 3, 2, 2, 1, 1];
    const y = [1, 0, 1, 0, 1, 0, 1, 0, 1, 0];
    expect(anomalyMetrics(s, y, { fprRule: 'above', tpr: 0.5 }).fpr).toBe(1);
    expect(anomalyMetrics(s, y, { tpr: 0.5 }).fpr).toBe(0.6);
    expect(anomalyMetrics(s, y, { fprRule: 'nearest', tpr: 0.5 }).fpr).toBe(0.6);
  });

  it('respects custom ignore labels', () => {
    const r = anomalyMetrics([0.1, 0.9, 0.5, 0.7], [0, 1, 7, 7], { ignoreLabels: [7] });
    expect(r.ignored).toBe(2);
    expect(r.auroc).toBe(1);
    expectError(
      () => anomalyMetrics([0.1, 0.9, 0.5], [0, 1, 255], { ignoreLabels: [7] }),
      'INVALID_INPUT',
      /255 at index 2/,
    );
  });
});

describe('anomalyCurves', () => {
  it('keeps at most maxPoints, starts and ends where it should, trapezoid = AUROC', () => {
    const { scores, labels } = randomSet(11, 5000, 100000);
    const m = anomalyMetrics(scores, labels);
    const c = anomalyCurves(scores, labels, { maxPoints: 64 });
    expect(c.roc.fpr.length).toBeLessThanOrEqual(64);
    expect(c.pr.recall.length).toBeLessThanOrEqual(64);
    expect(c.roc.fpr[0]).toBe(0);
    expect(c.roc.tpr.at(-1)).toBe(1);
    expect(c.roc.fpr.at(-1)).toBe(1);
    expect(c.pr.recall.at(-1)).toBe(1);
    for (let i = 1; i < c.roc.fpr.length; i++) {
      expect(c.roc.fpr[i]).toBeGreaterThanOrEqual(c.roc.fpr[i - 1] as number);
      expect(c.roc.thresholds[i]).toBeLessThan(c.roc.thresholds[i - 1] as number);
    }
    const full = anomalyCurves(scores, labels, { maxPoints: 1e6 });
    let area = 0;
    for (let i = 1; i < full.roc.fpr.length; i++) {
      area +=
        (((full.roc.fpr[i] as number) - (full.roc.fpr[i - 1] as number)) *
          ((full.roc.tpr[i] as number) + (full.roc.tpr[i - 1] as number))) /
        2;
    }
    expect(area).toBeCloseTo(m.auroc, 12);
    // step-wise AP from the full PR curve
    let ap = 0;
    let prev = 0;
    full.pr.recall.forEach((r, i) => {
      ap += (r - prev) * (full.pr.precision[i] as number);
      prev = r;
    });
    expect(ap).toBeCloseTo(m.ap, 12);
  });

  it('rejects a bad maxPoints', () => {
    expectError(
      () => anomalyCurves([0, 1], [0, 1], { maxPoints: 2 }),
      'INVALID_OPTION',
      /maxPoints/,
    );
  });
});

describe('anomalyMetrics errors', () => {
  const s = new Float32Array([0.1, 0.2, 0.3]);
  const y = new Uint8Array([0, 1, 0]);
  it('length mismatch', () => {
    expectError(
      () => anomalyMetrics(s, new Uint8Array(2)),
      'SHAPE_MISMATCH',
      /^anomalyMetrics: expected labels to have the length of scores \(3\), got length 2/,
    );
  });
  it('NaN and Infinity scores', () => {
    expectError(
      () => anomalyMetrics(new Float32Array([0.1, NaN, 0]), y),
      'NON_FINITE',
      /expected finite scores, got NaN at index 1/,
    );
    expectError(
      () => anomalyMetrics([0.1, 0, -Infinity], y),
      'NON_FINITE',
      /got -Infinity at index 2/,
    );
  });
  it('bad labels', () => {
    expectError(
      () => anomalyMetrics(s, [0, 2, 1]),
      'INVALID_INPUT',
      /expected labels values 0 \(inlier\), 1 \(anomaly\) or an ignore label \[255\], got 2 at index 1/,
    );
  });
  it('empty positive or negative set', () => {
    expectError(
      () => anomalyMetrics(s, [0, 0, 255]),
      'EMPTY_SET',
      /got 0 anomaly and 2 inlier pixels/,
    );
    expectError(
      () => anomalyMetrics(s, [1, 1, 1]),
      'EMPTY_SET',
      /got 3 anomaly and 0 inlier pixels/,
    );
    expectError(() => anomalyMetrics([], []), 'EMPTY_SET', /got 0 anomaly and 0 inlier/);
  });
  it('bad arguments and options', () => {
    expectError(
      () => anomalyMetrics('abc' as never, y),
      'INVALID_INPUT',
      /expected scores to be a typed array or an array of numbers, got "abc"/,
    );
    expectError(
      () => anomalyMetrics(s, y, { tpr: 1.5 }),
      'INVALID_OPTION',
      /expected tpr in \(0, 1\], got 1.5/,
    );
    expectError(
      () => anomalyMetrics(s, y, { tpr: 1, fprRule: 'above' }),
      'INVALID_OPTION',
      /expected tpr in \(0, 1\), got 1/,
    );
    expectError(
      () => anomalyMetrics(s, y, { fprRule: 'closest' as never }),
      'INVALID_OPTION',
      /fprRule.*"at-least", "above", "nearest", got "closest"/,
    );
    expectError(
      () => anomalyMetrics(s, y, { ignoreLabels: [1] }),
      'INVALID_OPTION',
      /ignoreLabels/,
    );
  });
});
