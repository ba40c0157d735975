import { describe, expect, it } from 'vitest';
import {
  AnomalyMetricsAccumulator,
  anomalyMetrics,
  calibrateThreshold,
  crossCalibrated,
  OpenIoU,
  openSetPrediction,
} from '@densehybrid/metrics-openiou';
import { randomSet, rng, expectError } from './helpers.js';

// K = 2 known classes, anomaly = 2, ignore = 255
const gt = [0, 0, 0, 1, 1, 2, 2, 255, 0, 1];
const open = [0, 0, 1, 1, 2, 2, 0, 2, 0, 1];
const closed = [0, 0, 1, 1, 1, 0, 0, 1, 0, 0];

describe('OpenIoU', () => {
  it('matches a hand-built confusion matrix', () => {
    const r = new OpenIoU({ numClasses: 2 }).add(gt, open, closed).compute();
    expect(r.confusion).toEqual([
      [3, 1, 0],
      [0, 2, 1],
      [1, 0, 1],
    ]);
    expect(r.iou[0]).toBeCloseTo(3 / 5, 15);
    expect(r.iou[1]).toBeCloseTo(2 / 4, 15);
    expect(r.anomalyIoU).toBeCloseTo(1 / 3, 15);
    expect(r.openMIoU).toBeCloseTo(0.55, 15);
    expect(r.closedConfusion).toEqual([
      [3, 1],
      [1, 2],
    ]);
    expect(r.closedIoU![0]).toBeCloseTo(3 / 5, 15);
    expect(r.closedIoU![1]).toBeCloseTo(1 / 2, 15);
    expect(r.closedMIoU).toBeCloseTo(0.55, 15);
    expect(r.pixels).toBe(9);
  });

  it('nanmean skips an absent class, sum-over-k counts it as 0', () => {
    // K = 3, class 2 never in GT nor prediction, anomaly = 3
    const g = gt.map((v) => (v === 2 ? 3 : v));
    const p = open.map((v) => (v === 2 ? 3 : v));
    const m = new OpenIoU({ numClasses: 3 }).add(g, p);
    const a = m.compute();
    expect(Number.isNaN(a.iou[2])).toBe(true);
    expect(a.openMIoU).toBeCloseTo(0.55, 15);
    expect(m.compute({ average: 'sum-over-k' }).openMIoU).toBeCloseTo(1.1 / 3, 15);
    expect(a.closedMIoU).toBeNull();
  });

  it('random frames: per-class TP/FP/FN counted directly; merge = add-all; JSON round trip', () => {
    const r = rng(3);
    const K = 4;
    const all = new OpenIoU({ numClasses: K });
    const a = new OpenIoU({ numClasses: K });
    const b = new OpenIoU({ numClasses: K });
    const G: number[] = [];
    const P: number[] = [];
    for (let f = 0; f < 4; f++) {
      const g = Array.from({ length: 200 }, () => (r() < 0.1 ? 255 : Math.floor(r() * (K + 1))));
      const c = Array.from({ length: 200 }, () => Math.floor(r() * K));
      const p = c.map((v) => (r() < 0.2 ? K : v));
      all.add(g, p, c);
      (f % 2 ? a : b).add(g, p, c);
      G.push(...g);
      P.push(...p);
    }
    const res = all.compute();
    for (let k = 0; k <= K; k++) {
      let tp = 0;
      let fp = 0;
      let fn = 0;
      G.forEach((g, i) => {
        if (g === 255) return;
        if (g === k && P[i] === k) tp++;
        else if (P[i] === k) fp++;
        else if (g === k) fn++;
      });
      expect(res.iou[k]).toBeCloseTo(tp / (tp + fp + fn), 14);
    }
    expect(a.merge(b).compute()).toEqual(res);
    expect(OpenIoU.fromJSON(JSON.stringify(all)).compute()).toEqual(res);
  });

  it('errors', () => {
    const m = new OpenIoU({ numClasses: 2 });
    expectError(
      () => m.add([0, 1], [0]),
      'SHAPE_MISMATCH',
      /^OpenIoU\.add: expected openPred to have the length of gt \(2\), got length 1/,
    );
    expectError(
      () => m.add([0, 5], [0, 1]),
      'INVALID_INPUT',
      /expected gt values in 0\.\.2 or 255, got 5 at index 1/,
    );
    expectError(
      () => m.add([0, 1], [0, 3]),
      'INVALID_INPUT',
      /expected openPred values in 0\.\.2, got 3/,
    );
    expectError(
      () => m.add([0, 1], [0, 1], [0, 2]),
      'INVALID_INPUT',
      /expected closedPred values in 0\.\.1, got 2/,
    );
    m.add([0, 1], [0, 1], [0, 1]);
    expectError(
      () => m.add([0, 1], [0, 1]),
      'INVALID_INPUT',
      /closedPred in every call or in none/,
    );
    expectError(() => new OpenIoU({ numClasses: 0 }), 'INVALID_OPTION', /numClasses/);
    expectError(
      () => new OpenIoU({ numClasses: 3, ignoreLabel: 2 }),
      'INVALID_OPTION',
      /ignoreLabel outside 0\.\.3, got 2/,
    );
    expectError(
      () => new OpenIoU({ numClasses: 2 }).compute(),
      'EMPTY_SET',
      /non-ignored GT pixel/,
    );
    expectError(() => m.merge(new OpenIoU({ numClasses: 3 })), 'INVALID_INPUT', /numClasses 2/);
    expectError(() => m.compute({ average: 'mean' as never }), 'INVALID_OPTION', /average/);
    expectError(
      () => OpenIoU.fromJSON({ ...m.toJSON(), confusion: [1] }),
      'INVALID_INPUT',
      /confusion of 9 counts/,
    );
  });
});

describe('calibrateThreshold and openSetPrediction', () => {
  it('uses the >= convention and matches anomalyMetrics', () => {
    const { scores, labels } = randomSet(21, 2000, 40);
    const c = calibrateThreshold({ scores, labels }, { tpr: 0.9 });
    const m = anomalyMetrics(scores, labels, { tpr: 0.9 });
    expect(c.threshold).toBe(m.threshold);
    const pred = openSetPrediction(new Uint8Array(scores.length), scores, c.threshold, 1);
    let tp = 0;
    labels.forEach((l, i) => {
      if (l === 1 && pred[i] === 1) tp++;
    });
    expect(tp / c.positives).toBe(c.tprReached);
    expect(c.tprReached).toBeGreaterThanOrEqual(0.9);
    expectError(
      () => calibrateThreshold({ scores, labels: labels.subarray(1) }),
      'SHAPE_MISMATCH',
      /^calibrateThreshold: /,
    );
    expectError(
      () => calibrateThreshold(42 as never),
      'INVALID_INPUT',
      /AnomalyMetricsAccumulator or \{ scores, labels \}/,
    );
  });

  it('a histogram threshold (bin lower edge) selects exactly the counted pixels of raw float32 scores', () => {
    const { scores, labels } = randomSet(22, 20000, 1e7);
    const acc = new AnomalyMetricsAccumulator({ mode: 'histogram' }).add(scores, labels);
    for (const tpr of [0.3, 0.95]) {
      const c = calibrateThreshold(acc, { tpr });
      let tp = 0;
      let fp = 0;
      scores.forEach((s, i) => {
        if (s >= c.threshold && labels[i] === 1) tp++;
        if (s >= c.threshold && labels[i] === 0) fp++;
      });
      expect(tp / c.positives).toBe(c.tprReached);
      expect(fp / c.negatives).toBe(c.fpr);
    }
  });

  it('openSetPrediction', () => {
    expect(openSetPrediction([0, 1, 2], new Float32Array([0.1, 0.9, 0.5]), 0.5, 3)).toEqual(
      new Uint8Array([0, 3, 3]),
    );
    const wide = openSetPrediction([0, 299], [1, 0], 1, 300);
    expect(wide).toBeInstanceOf(Uint16Array);
    expect(Array.from(wide)).toEqual([300, 299]);
    expectError(
      () => openSetPrediction([0, 3], [0, 0], 0.5, 3),
      'INVALID_INPUT',
      /^openSetPrediction: expected closedPred values in 0\.\.2, got 3 at index 1/,
    );
    expectError(() => openSetPrediction([0], [NaN], 0.5, 3), 'NON_FINITE', /got NaN at index 0/);
    expectError(() => openSetPrediction([0], [0], NaN, 3), 'NON_FINITE', /threshold/);
    expectError(() => openSetPrediction([0, 1], [0], 0.5, 3), 'SHAPE_MISMATCH', /scores/);
  });
});

describe('crossCalibrated (StreetHazards protocol)', () => {
  // K = 2; anomaly = 2. Fold A: anomalies score 0.9; fold B: anomalies score 0.6.
  const frame = (anomalyScore: number, inlierScore: number) => ({
    gt: [0, 1, 2, 2, 0, 255],
    closedPred: [0, 1, 1, 0, 1, 0],
    scores: [inlierScore, 0.05, anomalyScore, anomalyScore, 0.7, 0.99],
  });
  it('calibrates on one fold, evaluates the other, weights by image count', () => {
    const A = { frames: [frame(0.9, 0.1)] };
    const B = { frames: [frame(0.6, 0.2), frame(0.6, 0.2)] };
    // flat frames: calibration at full resolution (the authors' ×0.5 needs width and height)
    const r = crossCalibrated(A, B, { numClasses: 2, calibrationScale: 1 });
    expect(r.a.threshold).toBeCloseTo(0.6, 6); // A evaluated with B's threshold
    expect(r.b.threshold).toBeCloseTo(0.9, 6);
    const evalAt = (fold: typeof A, t: number) => {
      const m = new OpenIoU({ numClasses: 2 });
      for (const f of fold.frames) {
        const open = openSetPrediction(f.closedPred, f.scores, t, 2, { thresholdRule: 'greater' });
        m.add(f.gt, open, f.closedPred);
      }
      return m.compute();
    };
    const ra = evalAt(A, r.a.threshold);
    const rb = evalAt(B, r.b.threshold);
    expect(r.a.result).toEqual(ra);
    expect(r.openMIoU).toBeCloseTo((ra.openMIoU * 1 + rb.openMIoU * 2) / 3, 15);
    expect(r.anomalyIoU).toBeCloseTo((ra.anomalyIoU * 1 + rb.anomalyIoU * 2) / 3, 15);
    // with B's threshold 0.6, A's inlier at 0.7 becomes unknown; B at 0.9 misses every anomaly
    expect(ra.confusion[0]).toEqual([1, 0, 1]);
    expect(rb.anomalyIoU).toBe(0);
  });
  it('errors', () => {
    expectError(
      () => crossCalibrated({ frames: [] }, { frames: [frame(1, 0)] }, { numClasses: 2 }),
      'INVALID_INPUT',
      /foldA/,
    );
    expectError(
      () =>
        crossCalibrated(
          { frames: [frame(1, 0)] },
          { frames: [{ ...frame(1, 0), gt: [0, 1, 7, 2, 0, 255] }] },
          { numClasses: 2, calibrationScale: 1 },
        ),
      'INVALID_INPUT',
      /got 7 at index 2/,
    );
    expectError(
      () =>
        crossCalibrated({ frames: [frame(1, 0)] }, { frames: [frame(1, 0)] }, { numClasses: 0 }),
      'INVALID_OPTION',
      /numClasses/,
    );
  });
});
