import { describe, expect, it } from 'vitest';
import {
  AnomalyMetricsAccumulator,
  BENCHMARK_PROTOCOLS,
  ComponentMetricsAccumulator,
  DEFAULT_CROSS_CALIBRATED_OPTIONS,
  EvaluationSession,
  OpenIoU,
  OpenSetSweep,
  PercentileBinsAccumulator,
  anomalyMetrics,
  calibrateThreshold,
  componentMetrics,
  crossCalibrated,
  float16Value,
  metricsDocument,
  openSetPrediction,
  resampleBilinear,
  resampleNearest,
  roundToFloat16,
  type EvaluationSessionJSON,
} from '@densehybrid/metrics-openiou';
import { rng } from './helpers.js';

const K = 3;

/** Open-set frames (K known, K anomaly, 255 ignore) with float16 scores in [1, 4) and ties. */
function openFrames(seed: number, count: number) {
  const r = rng(seed);
  return Array.from({ length: count }, (_, f) => {
    const width = f % 2 ? 9 : 8;
    const height = f % 2 ? 7 : 6;
    const n = width * height;
    const labels = new Uint8Array(n);
    const closed = new Uint8Array(n);
    const scores = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const x = i % width;
      const a = f !== 1 && x >= 2 && x < 5 && Math.floor(i / width) < 3;
      labels[i] = a ? K : r() < 0.08 ? 255 : x % K;
      closed[i] = r() < 0.7 && labels[i]! < K ? labels[i]! : Math.floor(r() * K);
      scores[i] = (128 + Math.floor(r() * 200) + (a ? 150 : 0)) / 128;
    }
    return { width, height, labels, closed, scores };
  });
}

/** PyTorch's bilinear ×0.5 (align_corners=False) in float64: the mean of each 2×2 block. */
function halfBilinear(s: ArrayLike<number>, w: number, h: number) {
  const W = Math.floor(w / 2);
  const H = Math.floor(h / 2);
  const out: number[] = [];
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const at = (yy: number, xx: number) => s[yy * w + xx]!;
      out.push(
        (at(2 * y, 2 * x) +
          at(2 * y, 2 * x + 1) +
          at(2 * y + 1, 2 * x) +
          at(2 * y + 1, 2 * x + 1)) /
          4,
      );
    }
  return { data: out, W, H };
}

/** The nearest float16 of a double, by search over every half (ties to even). */
function nearestHalf(x: number): number {
  let best = NaN;
  let bits = 0;
  for (let b = 0; b < 0x7c00; b++) {
    for (const v of [float16Value(b), -float16Value(b)]) {
      const d = Math.abs(v - x);
      const e = Math.abs(best - x);
      if (Number.isNaN(best) || d < e || (d === e && (b & 1) === 0 && (bits & 1) === 1)) {
        best = v;
        bits = b;
      }
    }
  }
  return best;
}

describe('threshold rule', () => {
  it("openSetPrediction: 'greater' leaves the pixels on the threshold known", () => {
    const closed = [0, 1, 2, 0];
    const s = [0.5, 0.25, 0.75, 0.5];
    expect(Array.from(openSetPrediction(closed, s, 0.5, 3))).toEqual([3, 1, 3, 3]);
    expect(Array.from(openSetPrediction(closed, s, 0.5, 3, { thresholdRule: 'greater' }))).toEqual([
      0, 1, 3, 0,
    ]);
  });

  it('OpenSetSweep equals openSetPrediction under both rules at every threshold', () => {
    const frames = openFrames(1, 4);
    const sweep = new OpenSetSweep(K);
    for (const f of frames) sweep.add(f.labels, f.closed, f.scores);
    const values = [...new Set(frames.flatMap((f) => Array.from(f.scores)))].sort((a, b) => a - b);
    const between = values.slice(1).map((v, i) => (v + values[i]!) / 2);
    for (const t of [...values.slice(0, 40), ...between.slice(0, 40), -Infinity, Infinity]) {
      for (const thresholdRule of ['greater', 'greater-or-equal'] as const) {
        const want = new OpenIoU({ numClasses: K });
        for (const f of frames)
          want.add(
            f.labels,
            openSetPrediction(f.closed, f.scores, t, K, { thresholdRule }),
            f.closed,
          );
        const got = sweep.openIoUStateAt(t, thresholdRule);
        expect(got.confusion).toEqual(want.toJSON().confusion);
      }
    }
  });

  it("calibrateThreshold: 'greater' reports the operating point's score (histogram: its float16)", () => {
    const r = rng(3);
    const scores = Float32Array.from({ length: 400 }, () => r());
    const labels = Uint8Array.from(scores, (s) => (s + r() * 0.4 > 0.8 ? 1 : 0));
    const exact = calibrateThreshold({ scores, labels }, { thresholdRule: 'greater' });
    const ge = calibrateThreshold({ scores, labels });
    expect(exact.threshold).toBe(ge.threshold); // exact keys are the scores
    expect(Array.from(scores)).toContain(exact.threshold);
    const hist = new AnomalyMetricsAccumulator({ mode: 'histogram', thresholdRule: 'greater' });
    hist.add(scores, labels);
    const h = calibrateThreshold(hist, { thresholdRule: 'greater' });
    const hge = calibrateThreshold(hist);
    expect(h.threshold).toBe(roundToFloat16(h.threshold));
    expect(hge.threshold).toBeLessThan(h.threshold); // the bin's lower edge
    expect(roundToFloat16(hge.threshold)).toBe(h.threshold);
  });

  it('components: SMIYC predicts score > threshold', () => {
    const s = [0.5, 0.5, 0.5, 0.2, 0.9, 0.9];
    const l = [1, 1, 0, 0, 1, 1];
    const opts = { threshold: 0.5, minPredictionSize: 0, minInstanceSize: 0 };
    const gt = new ComponentMetricsAccumulator(opts).add(s, l, 6, 1).compute();
    const ge = new ComponentMetricsAccumulator({ ...opts, thresholdRule: 'greater-or-equal' })
      .add(s, l, 6, 1)
      .compute();
    // '>': GT components {0,1} missed and {4,5} found; '>=': one prediction 0..2 covers {0,1}
    expect([gt.predComponents, gt.sIoU]).toEqual([1, 0.5]);
    expect([ge.predComponents, ge.sIoU]).toEqual([2, (2 / 3 + 1) / 2]);
  });

  it('best F1 ties keep the higher threshold (the first maximum, as np.nanargmax)', () => {
    // at 0.9: tp 1, fp 0 → F1 2/3; at 0.5: tp 2, fp 2 → F1 2/3 as well
    const r = anomalyMetrics([0.9, 0.5, 0.5, 0.5], [1, 1, 0, 0]);
    expect(r.bestF1).toBeCloseTo(2 / 3, 15);
    expect(r.bestF1Threshold).toBe(0.9);
  });
});

describe('calibration resampling', () => {
  it('bilinear ×0.5 is the 2×2 mean, bit-exact for float16 maps, also for odd sizes', () => {
    for (const f of openFrames(4, 2)) {
      const got = resampleBilinear(f.scores, f.width, f.height, 0.5);
      const ref = halfBilinear(f.scores, f.width, f.height);
      expect([got.width, got.height]).toEqual([ref.W, ref.H]);
      expect(Array.from(got.data)).toEqual(ref.data);
    }
  });

  it('bilinear at other scales follows PyTorch’s source coordinates', () => {
    // 5 → 2 at scale 0.4: ratio 2.5, x = 2.5·(i + ½) − ½ → 0.75, 3.25
    const row = Float32Array.of(0, 1, 2, 3, 4);
    const r = resampleBilinear(row, 5, 1, 0.4);
    expect(r.width).toBe(2);
    expect(Array.from(r.data)).toEqual([0.75, 3.25]);
  });

  it('nearest reads input ⌊x / s⌋ (PyTorch interpolate(mode="nearest"))', () => {
    const lab = Uint8Array.from({ length: 35 }, (_, i) => i);
    const r = resampleNearest(lab, 7, 5, 0.5); // 3 × 2: columns 0, 2, 4; rows 0, 2
    expect([r.width, r.height]).toEqual([3, 2]);
    expect(Array.from(r.data)).toEqual([0, 2, 4, 14, 16, 18]);
    const t = resampleNearest(
      Uint8Array.from({ length: 10 }, (_, i) => i),
      10,
      1,
      0.3,
    );
    expect(Array.from(t.data)).toEqual([0, 3, 6]); // floor(f32(1/0.3)·x)
  });
});

describe('cross-calibration: the authors’ evaluate_osr.py', () => {
  const t5 = openFrames(5, 4);
  const t6 = openFrames(6, 3);
  const fold = (fs: typeof t5) => ({
    frames: fs.map((f) => ({
      gt: f.labels,
      closedPred: f.closed,
      scores: f.scores,
      width: f.width,
      height: f.height,
    })),
  });
  /** Calibration at ×0.5 (bilinear scores, nearest labels), TPR > 0.95, then score > t. */
  function reference(cal: typeof t5, test: typeof t5) {
    const s: number[] = [];
    const l: number[] = [];
    for (const f of cal) {
      const b = halfBilinear(f.scores, f.width, f.height);
      s.push(...b.data);
      for (let y = 0; y < b.H; y++)
        for (let x = 0; x < b.W; x++) {
          const g = f.labels[2 * y * f.width + 2 * x]!;
          l.push(g === 255 ? 255 : g === K ? 1 : 0);
        }
    }
    const t = anomalyMetrics(Float32Array.from(s), l, { fprRule: 'above' }).threshold!;
    const m = new OpenIoU({ numClasses: K });
    for (const f of test)
      m.add(
        f.labels,
        openSetPrediction(f.closed, f.scores, t, K, { thresholdRule: 'greater' }),
        f.closed,
      );
    return { t, r: m.compute() };
  }

  it('crossCalibrated defaults reproduce it; closed mIoU is one confusion matrix', () => {
    const cc = crossCalibrated(fold(t5), fold(t6), { numClasses: K });
    const a = reference(t6, t5);
    const b = reference(t5, t6);
    expect(cc.a.threshold).toBe(a.t);
    expect(cc.b.threshold).toBe(b.t);
    expect(cc.a.result).toEqual(a.r);
    expect(cc.openMIoU).toBeCloseTo((4 * a.r.openMIoU + 3 * b.r.openMIoU) / 7, 15);
    const closed = new OpenIoU({ numClasses: K });
    for (const f of [...t5, ...t6]) closed.add(f.labels, f.closed, f.closed);
    expect(cc.closedMIoU).toBe(closed.compute().closedMIoU);
    expect([cc.closedPooling, cc.calibrationScale]).toEqual(['pooled', 0.5]);
    const weighted = crossCalibrated(fold(t5), fold(t6), {
      numClasses: K,
      closedPooling: 'image-weighted',
    });
    expect(weighted.closedMIoU).toBeCloseTo(
      (4 * (a.r.closedMIoU as number) + 3 * (b.r.closedMIoU as number)) / 7,
      15,
    );
    expect(() =>
      crossCalibrated({ frames: [{ gt: [0], closedPred: [0], scores: [1] }] }, fold(t6), {
        numClasses: K,
      }),
    ).toThrow(/expected width and height .* for calibrationScale 0.5/);
  });

  it('the StreetHazards session equals crossCalibrated, in exact and histogram mode', () => {
    for (const mode of ['exact', 'histogram'] as const) {
      const s = new EvaluationSession({ benchmark: 'streethazards', numClasses: K, mode });
      for (const f of t5) s.addFrame({ ...f, fold: 't5', scores: { score: f.scores } });
      for (const f of t6) s.addFrame({ ...f, fold: 't6', scores: { score: f.scores } });
      const r = s.finish();
      const cc = crossCalibrated(fold(t5), fold(t6), { numClasses: K, mode });
      expect(r.openSet!.folds.map((f) => f.threshold)).toEqual([cc.a.threshold, cc.b.threshold]);
      expect(r.openSet!.folds[0]!.result.confusion).toEqual(cc.a.result.confusion);
      expect(r.openSet!.openMIoU).toBeCloseTo(cc.openMIoU, 15);
      expect(r.closed!.mIoU).toBe(cc.closedMIoU);
      expect(r.openSet).toMatchObject({
        thresholdRule: 'greater',
        calibrationFprRule: 'above',
        calibrationScale: 0.5,
        calibrationResampling: 'bilinear',
      });
    }
  });
});

describe('per-image protocol and ignored pixels', () => {
  const frames = openFrames(7, 6);
  const binary = (l: Uint8Array, ignoreAsInlier: boolean) =>
    Uint8Array.from(l, (v) => (v === K ? 1 : v === 255 && !ignoreAsInlier ? 255 : 0));
  const session = (o: object) => {
    const s = new EvaluationSession({
      benchmark: 'streethazards',
      numClasses: K,
      folds: ['test'],
      mode: 'exact',
      ...o,
    });
    for (const f of frames) s.addFrame({ ...f, scores: { score: f.scores } });
    return s.finish().anomaly!;
  };

  it('StreetHazards (anomaly-seg): ignored pixels are inliers, frames lacking a class skipped', () => {
    const per = frames
      .map((f) => ({ s: f.scores, l: binary(f.labels, true) }))
      .filter(({ l }) => l.includes(1) && l.includes(0))
      .map(({ s, l }) => anomalyMetrics(s, l, { fprRule: 'nearest' }));
    const r = session({});
    expect(r.framesUsed).toBe(per.length);
    expect(r.framesWithoutAnomaly).toBe(1);
    for (const k of ['ap', 'auroc', 'fpr'] as const)
      expect(r[k]).toBeCloseTo(per.reduce((a, m) => a + m[k], 0) / per.length, 14);
  });

  it("'sklearn-nanmean': a frame without anomalies counts AP 0 and FPR 0 (the authors' base.py)", () => {
    const all = frames.map((f) => ({ s: f.scores, l: binary(f.labels, false) }));
    const full = all
      .filter(({ l }) => l.includes(1))
      .map(({ s, l }) => anomalyMetrics(s, l, { fprRule: 'above' }));
    const r = session({
      fprRule: 'above',
      perImageEmptyFrames: 'sklearn-nanmean',
      ignoredPixels: 'excluded',
    });
    const sum = (k: 'ap' | 'auroc' | 'fpr') => full.reduce((a, m) => a + m[k], 0);
    expect(r.ap).toBeCloseTo(sum('ap') / all.length, 14); // + 0 for the anomaly-free frame
    expect(r.fpr).toBeCloseTo(sum('fpr') / all.length, 14);
    expect(r.auroc).toBeCloseTo(sum('auroc') / full.length, 14); // NaN left out
    expect(r.framesUsed).toBe(all.length);
    // a frame of anomalies only counts AP 1, no FPR or AUROC
    const acc = new AnomalyMetricsAccumulator({ perImage: true });
    acc.add([0.5, 0.25], [1, 1]).add([0.75, 0.25], [1, 0]);
    const m = acc.compute({ protocol: 'per-image', emptyFrames: 'sklearn-nanmean' });
    expect([m.ap, m.fpr, m.auroc, m.framesWithoutInlier]).toEqual([1, 0, 1, 1]);
  });
});

describe('SMIYC in a session', () => {
  const r0 = rng(9);
  const W = 24;
  const H = 18;
  const frames = Array.from({ length: 4 }, (_, f) => {
    const labels = new Uint8Array(W * H);
    const scores = new Float32Array(W * H);
    for (let i = 0; i < W * H; i++) {
      const x = i % W;
      const y = Math.floor(i / W);
      const a = x >= 3 + f && x < 12 + f && y >= 4 && y < 12;
      labels[i] = r0() < 0.03 ? 255 : a ? 1 : 0;
      scores[i] = (r0() * 0.6 + (a ? 0.35 : 0)) * (1 + 1e-4 * r0()); // float32, rounded by SMIYC
    }
    return { width: W, height: H, labels, scores: { score: scores } };
  });

  it('reports the 768-bin values, the exact ones beside, and components at the float16 of the binned best-F1 threshold', () => {
    const sizes = { minPredictionSize: 8, minInstanceSize: 4 };
    const s = new EvaluationSession({
      benchmark: 'smiyc-anomaly',
      components: { ...BENCHMARK_PROTOCOLS['smiyc-anomaly'].components, ...sizes },
    });
    for (const f of frames) s.addFrame(f);
    const t = s.componentThresholds().score!;
    for (const f of frames) s.addComponentFrame(f);
    const r = s.finish();
    const half = frames.map((f) => Float32Array.from(f.scores.score, roundToFloat16));
    const bins = new PercentileBinsAccumulator();
    frames.forEach((f, i) => bins.add(half[i]!, f.labels));
    const binned = bins.compute();
    expect(r.anomaly).toEqual(binned);
    const flat = (a: ArrayLike<number>[]) => Float32Array.from(a.flatMap((x) => Array.from(x)));
    const exact = anomalyMetrics(flat(half), Uint8Array.from(flat(frames.map((f) => f.labels))), {
      thresholdRule: 'greater',
    });
    expect(r.anomalyExact).toEqual({ ...exact, frames: 4, framesUsed: 4 });
    expect(t).toBe(nearestHalf(binned.bestF1Threshold!));
    const cm = componentMetrics(
      half.map((sc, i) => ({ scores: sc, labels: frames[i]!.labels, width: W, height: H })),
      sizes,
    );
    expect(r.components).toEqual(cm);
    expect(r.conventions).toMatchObject({
      percentileBins: 768,
      scoreRounding: 'float16',
      thresholdRule: 'greater',
    });
    const doc = metricsDocument(r);
    expect(doc.conventions.officialCode.join(' ')).toMatch(
      /pixel_classification\.py.*instance_segmentation\.py/,
    );
    expect(doc.anomalyExact).toEqual(r.anomalyExact);
  });
});

describe('SMIYC sessions split and resumed', () => {
  it('merge and toJSON / fromJSON give the same results as one session', () => {
    const r = rng(10);
    const frames = Array.from({ length: 5 }, () => {
      const labels = Uint8Array.from({ length: 300 }, () => (r() < 0.2 ? 1 : r() < 0.05 ? 255 : 0));
      const scores = Float32Array.from(labels, (l) => r() + 0.4 * (l === 1 ? 1 : 0));
      return { width: 20, height: 15, labels, scores: { score: scores } };
    });
    for (const mode of ['histogram', 'exact'] as const) {
      const o = { benchmark: 'smiyc-obstacle', mode } as const;
      const all = new EvaluationSession(o);
      const a = new EvaluationSession(o);
      const b = new EvaluationSession(o);
      frames.forEach((f, i) => {
        all.addFrame(f);
        (i < 2 ? a : b).addFrame(f);
      });
      const back = EvaluationSession.fromJSON(JSON.stringify(a)).merge(b);
      expect(JSON.stringify(back.finish())).toBe(JSON.stringify(all.finish()));
      expect(back.componentThresholds()).toEqual(all.componentThresholds());
    }
  });
});

describe('BENCHMARK_PROTOCOLS', () => {
  it('name the official conventions of each benchmark', () => {
    const sh = BENCHMARK_PROTOCOLS.streethazards;
    expect(sh).toMatchObject({
      protocol: 'per-image',
      fprRule: 'nearest',
      perImageEmptyFrames: 'skip',
      ignoredPixels: 'inliers',
      thresholdRule: 'greater',
      calibrationFprRule: 'above',
      calibrationScale: 0.5,
      calibrationResampling: 'bilinear',
      closedPooling: 'pooled',
    });
    const { numClasses: _, ...cc } = { numClasses: 0, ...DEFAULT_CROSS_CALIBRATED_OPTIONS };
    expect(cc).toMatchObject({
      fprRule: sh.calibrationFprRule,
      thresholdRule: sh.thresholdRule,
      calibrationScale: sh.calibrationScale,
      calibrationResampling: sh.calibrationResampling,
      closedPooling: sh.closedPooling,
    });
    for (const name of ['smiyc-anomaly', 'smiyc-obstacle'] as const)
      expect(BENCHMARK_PROTOCOLS[name]).toMatchObject({
        percentileBins: 768,
        scoreRounding: 'float16',
        fprRule: 'at-least',
      });
    expect(BENCHMARK_PROTOCOLS['fishyscapes-static']).toMatchObject({
      scoreRounding: 'float32',
      percentileBins: null,
    });
    // bdlb sorts every float32 score: Fishyscapes evaluates exactly; the rest in histogram mode
    const modes = Object.fromEntries(
      Object.entries(BENCHMARK_PROTOCOLS).map(([name, p]) => [name, p.mode]),
    );
    expect(modes).toEqual({
      streethazards: 'histogram',
      cityscapes: 'histogram',
      'fishyscapes-lostandfound': 'exact',
      'fishyscapes-static': 'exact',
      'smiyc-anomaly': 'histogram',
      'smiyc-obstacle': 'histogram',
      folder: 'histogram',
      demo: 'histogram',
    });
    for (const p of Object.values(BENCHMARK_PROTOCOLS))
      expect(p.officialCode.length).toBeGreaterThan(0);
  });

  it('a version-1 session state resumes with the conventions it was started with', () => {
    const s = new EvaluationSession({
      benchmark: 'folder',
      numClasses: K,
      folds: [{ name: 'val', labelKind: 'open-set' }],
      threshold: 2,
    });
    const frames = openFrames(8, 2);
    s.addFrame({ ...frames[0]!, scores: { score: frames[0]!.scores } });
    const j = s.toJSON();
    const {
      calibrationResampling: _a,
      calibrationFprRule: _b,
      thresholdRule: _c,
      closedPooling: _d,
      perImageEmptyFrames: _e,
      ignoredPixels: _f,
      scoreRounding: _g,
      percentileBins: _h,
      ...old
    } = j.options;
    const v1 = { ...j, version: 1, options: old } as unknown as EvaluationSessionJSON;
    // v1 accumulators carry no thresholdRule: they restore with the old '>='
    const text = JSON.stringify(v1).replaceAll('"thresholdRule":"greater",', '');
    const back = EvaluationSession.fromJSON(text);
    expect(back.conventions()).toMatchObject({
      thresholdRule: 'greater-or-equal',
      calibrationResampling: 'nearest',
      percentileBins: null,
    });
    expect(s.conventions().thresholdRule).toBe('greater');
  });
});

describe('evaluation mode per benchmark (float32 scores)', () => {
  const r0 = rng(31);
  const W = 20;
  const H = 14;
  /** Float32 scores that are no float16 values (closer than a float16 step: rounding ties them). */
  const frames = Array.from({ length: 5 }, (_, f) => {
    const n = W * H;
    const labels = new Uint8Array(n);
    const closed = new Uint8Array(n);
    const score = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const x = i % W;
      const a = f !== 2 && x >= 4 + f && x < 10 + f && Math.floor(i / W) < 6;
      labels[i] = r0() < 0.05 ? 255 : a ? K : x % K;
      closed[i] = r0() < 0.7 && labels[i]! < K ? labels[i]! : Math.floor(r0() * K);
      score[i] = 0.5 + r0() * 0.01 + (a ? 0.004 : 0);
    }
    return { width: W, height: H, labels, closed, score };
  });
  const binary = (l: Uint8Array) => Uint8Array.from(l, (v) => (v === K ? 1 : v === 255 ? 255 : 0));
  const all = (pick: (f: (typeof frames)[number]) => ArrayLike<number>) =>
    Float32Array.from(frames.flatMap((f) => Array.from(pick(f))));
  const fishy = (o: object = {}) => {
    const s = new EvaluationSession({ benchmark: 'fishyscapes-static', ...o });
    for (const f of frames)
      s.addFrame({ width: W, height: H, labels: binary(f.labels), scores: { score: f.score } });
    return s;
  };

  it('Fishyscapes: the default is exact (as bdlb, which sorts every score); histogram rounds and says so', () => {
    const ref = anomalyMetrics(
      all((f) => f.score),
      all((f) => binary(f.labels)),
    );
    const def = fishy();
    expect(def.conventions().mode).toBe('exact');
    const r = def.finish();
    expect(r.anomaly!.ap).toBe(ref.ap);
    expect(r.anomaly!.auroc).toBe(ref.auroc);
    expect(r.anomaly!.fpr).toBe(ref.fpr);
    expect(r.notes).toEqual([]);
    const h = fishy({ mode: 'histogram' }).finish();
    expect(h.conventions.mode).toBe('histogram');
    expect(Math.abs(h.anomaly!.ap - ref.ap)).toBeGreaterThan(1e-6);
    const counted = frames.reduce(
      (a, f) => a + f.score.filter((v, i) => f.labels[i] !== 255 && roundToFloat16(v) !== v).length,
      0,
    );
    expect(h.notes).toEqual([
      expect.stringContaining(
        `histogram mode: ${counted} of ${ref.positives + ref.negatives} scores are no float16 value and were rounded to float16`,
      ),
    ]);
    // in metrics.json too
    expect(metricsDocument(h).notes).toEqual(h.notes);
    expect(metricsDocument(h).conventions.mode).toBe('histogram');
    // SMIYC rounds to float16 itself: no note
    const smiyc = new EvaluationSession({ benchmark: 'smiyc-anomaly', components: null });
    for (const f of frames)
      smiyc.addFrame({ width: W, height: H, labels: binary(f.labels), scores: { score: f.score } });
    expect(smiyc.conventions().mode).toBe('histogram');
    expect(smiyc.finish().notes).toEqual([]);
  });

  it('StreetHazards in histogram mode: per-image metrics exact from each frame, open-mIoU notes the float16 sweep', () => {
    const sh = (mode: 'exact' | 'histogram' | undefined) => {
      const s = new EvaluationSession({
        benchmark: 'streethazards',
        numClasses: K,
        calibrationScale: 1,
        ...(mode ? { mode } : {}),
      });
      frames.forEach((f, i) =>
        s.addFrame({ ...f, fold: i % 2 ? 't6' : 't5', scores: { score: f.score } }),
      );
      return s;
    };
    const def = sh(undefined);
    expect(def.conventions().mode).toBe('histogram');
    const h = def.finish();
    const e = sh('exact').finish();
    expect(h.anomaly).toEqual(e.anomaly);
    expect(h.perFoldAnomaly).toEqual(e.perFoldAnomaly);
    // = anomaly-seg's per-frame scikit-learn metrics on the float32 scores (ignored = inliers)
    const per = frames
      .filter((f) => f.labels.includes(K))
      .map((f) =>
        anomalyMetrics(
          f.score,
          Uint8Array.from(f.labels, (v) => (v === K ? 1 : 0)),
          { fprRule: 'nearest' },
        ),
      );
    expect(h.anomaly!.ap).toBeCloseTo(per.reduce((a, m) => a + m.ap, 0) / per.length, 14);
    expect(h.notes).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^histogram mode: \d+ of \d+ scores are no float16 value; the per-image AP \/ FPR \/ AUROC are exact/,
        ),
        expect.stringMatching(
          /^open-mIoU: \d+ scores are no float16 value; the open-set confusion counts them rounded to float16/,
        ),
      ]),
    );
    expect(e.notes.some((n) => n.startsWith('histogram mode'))).toBe(false);
    expect(e.notes.some((n) => n.startsWith('open-mIoU: '))).toBe(true); // the sweep is float16 in every mode
  });

  it('the mode is part of what sessions must share to merge, and of their state', () => {
    const a = fishy();
    expect(() => a.merge(fishy({ mode: 'histogram' }))).toThrow(
      /EvaluationSession.merge: expected a session with settings/,
    );
    const back = EvaluationSession.fromJSON(JSON.stringify(fishy({ mode: 'histogram' })));
    expect(back.conventions().mode).toBe('histogram');
    expect(back.finish()).toEqual(fishy({ mode: 'histogram' }).finish());
    const sweep = new OpenSetSweep(K).add([0, 1, 255], [0, 1, 0], [0.1, 0.5, 0.3]);
    expect(sweep.nonFloat16Scores).toBe(1); // 0.1 (0.5 is a float16 value, 0.3 ignored)
    expect(OpenSetSweep.fromJSON(sweep.toJSON()).merge(sweep).nonFloat16Scores).toBe(2);
  });
});
