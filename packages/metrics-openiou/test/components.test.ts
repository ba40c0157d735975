import { describe, expect, it } from 'vitest';
import {
  ComponentMetricsAccumulator,
  PercentileBinsAccumulator,
  componentMetrics,
  SMIYC_IOU_THRESHOLDS,
  anomalyMetrics,
  roundToFloat16,
} from '@densehybrid/metrics-openiou';
import { rng, expectError } from './helpers.js';

const grid = (rows: string[]) => rows.join('').split('').map(Number);
const noSizes = { minPredictionSize: 0, minInstanceSize: 0, threshold: 0.5 };

describe('component metrics on hand-made masks', () => {
  const labels = grid(['10000', '01000', '00011', '00011']);
  const scores = grid(['10000', '01000', '00000', '00011']);
  it('8-connectivity: the diagonal pair is one component', () => {
    const r = new ComponentMetricsAccumulator(noSizes).add(scores, labels, 5, 4).compute();
    expect(r.gtComponents).toBe(2);
    expect(r.predComponents).toBe(2);
    expect(r.sIoU).toBeCloseTo(0.75, 15);
    expect(r.ppv).toBe(1);
    expect(r.meanF1).toBeCloseTo(28 / 33, 15);
    expect(r.perThreshold.map((t) => t.tp)).toEqual([2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1]);
  });
  it('4-connectivity: the diagonal pair is two components', () => {
    const r = new ComponentMetricsAccumulator({ ...noSizes, connectivity: 4 })
      .add(scores, labels, 5, 4)
      .compute();
    expect(r.gtComponents).toBe(3);
    expect(r.predComponents).toBe(3);
    expect(r.sIoU).toBeCloseTo(2.5 / 3, 15);
    expect(r.meanF1).toBeCloseTo(10 / 11, 15);
  });
  it('the adjusted union does not punish a prediction for covering another GT component', () => {
    const r = new ComponentMetricsAccumulator(noSizes)
      .add([1, 1, 1, 1, 1], [1, 1, 0, 1, 1], 5, 1)
      .compute();
    expect(r.sIoU).toBeCloseTo(2 / 3, 15); // plain IoU would be 2/5
    expect(r.ppv).toBeCloseTo(4 / 5, 15);
    expect(r.sIoUPred).toBeCloseTo(4 / 5, 15);
  });
  it('ignored pixels, small predictions and small GT instances', () => {
    // a 1-pixel GT instance becomes ignored (with the prediction on it); a 1-pixel false
    // prediction is dropped; the ignored pixel (255) never predicts
    const l = [1, 0, 0, 0, 1, 1, 255];
    const s = [1, 0, 1, 0, 1, 1, 1];
    const r = new ComponentMetricsAccumulator({
      threshold: 0.5,
      minPredictionSize: 2,
      minInstanceSize: 2,
    })
      .add(s, l, 7, 1)
      .compute();
    expect(r.gtComponents).toBe(1);
    expect(r.predComponents).toBe(1);
    expect(r.sIoU).toBe(1);
    expect(r.ppv).toBe(1);
    expect(r.meanF1).toBe(1);
  });
  it('SMIYC thresholds are 0.25…0.75 in 11 steps', () => {
    expect(SMIYC_IOU_THRESHOLDS.length).toBe(11);
    expect(SMIYC_IOU_THRESHOLDS[0]).toBe(0.25);
    expect(SMIYC_IOU_THRESHOLDS[5]).toBeCloseTo(0.5, 15);
    expect(SMIYC_IOU_THRESHOLDS[10]).toBe(0.75);
  });
});

/** Component labels by repeated min-propagation (independent of the library's flood fill). */
function naiveLabels(mask: number[], w: number, h: number, conn: 4 | 8): number[] {
  const lab = mask.map((m, i) => (m ? i + 1 : 0));
  for (let changed = true; changed;) {
    changed = false;
    for (let i = 0; i < lab.length; i++) {
      if (!lab[i]) continue;
      const x = i % w;
      const y = Math.floor(i / w);
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          if (conn === 4 && dx && dy) continue;
          const xx = x + dx;
          const yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
          const q = lab[yy * w + xx]!;
          if (q && q < lab[i]!) {
            lab[i] = q;
            changed = true;
          }
        }
    }
  }
  return lab;
}

/** SMIYC's per-frame definitions, written literally over pixel lists. */
function smiycFrame(
  s: number[],
  l: number[],
  w: number,
  h: number,
  thr: number,
  conn: 4 | 8,
  minPred: number,
  minInst: number,
) {
  const gtL = naiveLabels(
    l.map((v) => (v === 1 ? 1 : 0)),
    w,
    h,
    conn,
  );
  const prL = naiveLabels(
    s.map((v, i) => (v > thr && l[i] !== 255 ? 1 : 0)), // default_instancer: anomaly_p > thresh_p
    w,
    h,
    conn,
  );
  const size = (arr: number[], c: number) => arr.filter((v) => v === c).length;
  const pr = prL.map((c) => (c && size(prL, c) < minPred ? 0 : c));
  const roi = l.map((v, i) => v !== 255 && !(gtL[i] && size(gtL, gtL[i]!) < minInst));
  const G = gtL.filter((_, i) => roi[i]);
  const Pp = pr.filter((_, i) => roi[i]);
  const sIoU: number[] = [];
  for (const i of new Set(G.filter((v) => v > 0))) {
    const seg = new Set(Pp.filter((p, k) => p && G[k] === i));
    const inter = Pp.filter((p, k) => G[k] === i && seg.has(p)).length;
    const adj = Pp.filter((p, k) => seg.has(p) && G[k] !== 0 && G[k] !== i).length;
    const union =
      Pp.filter((p) => seg.has(p)).length + G.filter((g) => g === i).length - inter - adj;
    sIoU.push(inter / union);
  }
  const ppv: number[] = [];
  for (const j of new Set(Pp.filter((v) => v > 0))) {
    const area = Pp.filter((p) => p === j).length;
    ppv.push(Pp.filter((p, k) => p === j && G[k] !== 0).length / area);
  }
  return { sIoU, ppv };
}

describe('component metrics against a literal SMIYC translation', () => {
  for (const conn of [8, 4] as const) {
    it(`random blobs, ${conn}-connectivity, several frames`, () => {
      const r = rng(conn);
      const frames = Array.from({ length: 4 }, () => {
        const w = 14;
        const h = 10;
        const l: number[] = [];
        const s: number[] = [];
        for (let i = 0; i < w * h; i++) {
          const u = r();
          l.push(u < 0.05 ? 255 : u < 0.4 ? 1 : 0);
          s.push(Math.round((r() * 0.8 + (l[i] === 1 ? 0.3 : 0)) * 10) / 10);
        }
        return { scores: s, labels: l, width: w, height: h };
      });
      const opts = { threshold: 0.5, connectivity: conn, minPredictionSize: 3, minInstanceSize: 2 };
      const res = componentMetrics(frames, opts);
      const refs = frames.map((f) =>
        smiycFrame(f.scores, f.labels, f.width, f.height, 0.5, conn, 3, 2),
      );
      const sI = refs.flatMap((x) => x.sIoU);
      const pv = refs.flatMap((x) => x.ppv);
      expect(res.gtComponents).toBe(sI.length);
      expect(res.predComponents).toBe(pv.length);
      expect(res.sIoU).toBeCloseTo(sI.reduce((a, b) => a + b, 0) / sI.length, 12);
      expect(res.ppv).toBeCloseTo(pv.reduce((a, b) => a + b, 0) / pv.length, 12);
      let f1 = 0;
      for (const t of SMIYC_IOU_THRESHOLDS) {
        const tp = sI.filter((x) => x >= t).length;
        const fn = sI.length - tp;
        const fp = pv.filter((x) => x < t).length;
        f1 += (2 * tp) / (2 * tp + fn + fp);
      }
      expect(res.meanF1).toBeCloseTo(f1 / 11, 12);
      // merge = add-all, JSON round trip
      const a = new ComponentMetricsAccumulator(opts);
      const b = new ComponentMetricsAccumulator(opts);
      frames.forEach((f, k) => (k < 2 ? a : b).add(f.scores, f.labels, f.width, f.height));
      const merged = a.merge(b).compute();
      expect(merged.perThreshold).toEqual(res.perThreshold);
      expect([merged.gtComponents, merged.predComponents, merged.frames]).toEqual([
        res.gtComponents,
        res.predComponents,
        4,
      ]);
      for (const k of ['sIoU', 'ppv', 'sIoUPred', 'meanF1'] as const)
        expect(merged[k]).toBeCloseTo(res[k], 14);
      expect(ComponentMetricsAccumulator.fromJSON(JSON.stringify(a)).compute()).toEqual(merged);
    });
  }

  it('default threshold = best pooled pixel F1', () => {
    const f = {
      scores: [0.9, 0.8, 0.2, 0.1, 0.7, 0.3],
      labels: [1, 1, 0, 0, 1, 0],
      width: 3,
      height: 2,
    };
    const exact = componentMetrics([f], {
      minPredictionSize: 0,
      minInstanceSize: 0,
      percentileBins: null,
    });
    expect(exact.threshold).toBe(anomalyMetrics(f.scores, f.labels).bestF1Threshold);
    expect(exact.threshold).toBe(0.7);
    // SMIYC's default: the best F1 of its percentile curve, rounded to float16
    const bins = new PercentileBinsAccumulator();
    bins.add(f.scores, f.labels);
    const r = componentMetrics([f], { minPredictionSize: 0, minInstanceSize: 0 });
    expect(r.threshold).toBe(roundToFloat16(bins.compute().bestF1Threshold!));
  });

  it('errors', () => {
    const acc = new ComponentMetricsAccumulator({ threshold: 0.5 });
    expectError(
      () => acc.add([0, 1], [0, 1], 3, 1),
      'SHAPE_MISMATCH',
      /^ComponentMetricsAccumulator\.add: expected scores of length width\*height = 3, got length 2/,
    );
    expectError(() => acc.add([0, NaN], [0, 1], 2, 1), 'NON_FINITE', /got NaN at index 1/);
    expectError(() => acc.add([0, 1], [0, 4], 2, 1), 'INVALID_INPUT', /got 4 at index 1/);
    expectError(() => acc.add([0, 1], [0, 1], 0, 2), 'INVALID_OPTION', /width/);
    expectError(() => acc.compute(), 'EMPTY_SET', /at least one GT or predicted component/);
    expectError(
      () => new ComponentMetricsAccumulator({ threshold: NaN }),
      'INVALID_OPTION',
      /threshold/,
    );
    expectError(
      () => new ComponentMetricsAccumulator({ threshold: 0.5, connectivity: 6 as never }),
      'INVALID_OPTION',
      /connectivity/,
    );
    expectError(
      () => new ComponentMetricsAccumulator({ threshold: 0.5, iouThresholds: [] }),
      'INVALID_OPTION',
      /iouThresholds/,
    );
    expectError(() => componentMetrics([]), 'INVALID_INPUT', /non-empty array of frames/);
    expectError(
      () => acc.merge(new ComponentMetricsAccumulator({ threshold: 0.4 })),
      'INVALID_INPUT',
      /merge/,
    );
  });
});
