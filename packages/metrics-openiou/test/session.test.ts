import { describe, expect, it } from 'vitest';
import {
  BENCHMARK_PROTOCOLS,
  EvaluationSession,
  OpenIoU,
  anomalyMetrics,
  binaryAnomalyLabels,
  componentMetrics,
  crossCalibrated,
  float16Value,
  metricsDocument,
  openSetPrediction,
  type EvaluationFrame,
  type EvaluationSessionOptions,
} from '@densehybrid/metrics-openiou';
import { rng } from './helpers.js';

const W = 16;
const H = 12;

/** Frames of a StreetHazards-like fold: K known classes, class K anomaly blobs, 255 ignore. */
function openSetFrames(seed: number, count: number, K: number, names: readonly string[]) {
  const r = rng(seed);
  const frames: Required<Omit<EvaluationFrame, 'fold'>>[] = [];
  for (let f = 0; f < count; f++) {
    const n = W * H;
    const labels = new Uint8Array(n);
    const closed = new Uint8Array(n);
    const x0 = Math.floor(r() * (W - 5));
    const y0 = Math.floor(r() * (H - 4));
    const blob = f % 3 !== 2; // every third frame has no anomaly
    const scores: Record<string, Float32Array> = {};
    for (const name of names) scores[name] = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const x = i % W;
      const y = Math.floor(i / W);
      const anomaly = blob && x >= x0 && x < x0 + 5 && y >= y0 && y < y0 + 4;
      labels[i] = r() < 0.05 ? 255 : anomaly ? K : Math.floor((x * K) / W);
      closed[i] = r() < 0.8 && labels[i]! < K ? labels[i]! : Math.floor(r() * K);
      names.forEach((name, j) => {
        // float16-exact values (so the float16 bins of the sweep and the histogram are exact),
        // with ties, both signs
        const bits = 0x3800 + Math.floor(r() * 600) + (anomaly ? 300 : 0);
        scores[name]![i] =
          j === 1 ? -float16Value(0x4000 - Math.floor(bits / 4)) : float16Value(bits);
      });
    }
    frames.push({ width: W, height: H, scores, labels, closed });
  }
  return frames;
}

const SH: EvaluationSessionOptions = {
  benchmark: 'streethazards',
  numClasses: 3,
  scoreNames: ['hybrid', 'generative'],
};

function shFrames() {
  return {
    t5: openSetFrames(1, 5, 3, ['hybrid', 'generative']),
    t6: openSetFrames(2, 4, 3, ['hybrid', 'generative']),
  };
}

function fill(session: EvaluationSession, frames: Record<string, readonly EvaluationFrame[]>) {
  for (const [fold, list] of Object.entries(frames))
    for (const f of list) session.addFrame({ ...f, fold });
  return session;
}

const concat = (parts: readonly ArrayLike<number>[]): Float32Array => {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

describe('EvaluationSession', () => {
  it('takes its defaults from the benchmark protocol', () => {
    const s = new EvaluationSession(SH);
    const o = s.toJSON().options;
    expect(o.folds.map((f) => [f.name, f.labelKind, f.ignoreLabel])).toEqual([
      ['t5', 'open-set', 255],
      ['t6', 'open-set', 255],
    ]);
    expect([o.protocol, o.fprRule, o.tpr, o.crossCalibrate, o.mode]).toEqual([
      'per-image',
      'nearest',
      0.95,
      true,
      'histogram',
    ]);
    const smiyc = new EvaluationSession({ benchmark: 'smiyc-obstacle' }).toJSON().options;
    expect(smiyc.components).toEqual(BENCHMARK_PROTOCOLS['smiyc-obstacle'].components);
    expect([smiyc.components?.minPredictionSize, smiyc.components?.minInstanceSize]).toEqual([
      50, 10,
    ]);
    expect(smiyc.folds).toEqual([{ name: 'test', labelKind: 'anomaly', ignoreLabel: 255 }]);
    expect(smiyc.mode).toBe('histogram');
    // Fishyscapes evaluates exactly by default; the option overrides it
    expect(new EvaluationSession({ benchmark: 'fishyscapes-static' }).toJSON().options.mode).toBe(
      'exact',
    );
    expect(
      new EvaluationSession({ benchmark: 'fishyscapes-static', mode: 'histogram' }).conventions()
        .mode,
    ).toBe('histogram');
    // a protocol of the caller's without a mode: histogram
    const { mode: _m, ...own } = BENCHMARK_PROTOCOLS['fishyscapes-static'];
    expect(new EvaluationSession({ benchmark: own as never }).conventions().mode).toBe('histogram');
  });

  it('merging two halves equals one session over all frames, exactly', () => {
    for (const mode of ['histogram', 'exact'] as const) {
      for (const calibrationScale of [1, 0.5]) {
        const { t5, t6 } = shFrames();
        const o = { ...SH, mode, calibrationScale };
        const all = fill(new EvaluationSession(o), { t5, t6 });
        const a = fill(new EvaluationSession(o), { t5: t5.slice(0, 2), t6: t6.slice(0, 3) });
        const b = fill(new EvaluationSession(o), { t5: t5.slice(2), t6: t6.slice(3) });
        expect(a.merge(b).frames).toBe(9);
        expect(JSON.stringify(a.finish())).toBe(JSON.stringify(all.finish()));
        expect(a.finish().openSet?.calibrationScale).toBe(calibrationScale);
      }
    }
  });

  it('round-trips through toJSON / fromJSON (also as a string) and resumes', () => {
    const { t5, t6 } = shFrames();
    const all = fill(new EvaluationSession(SH), { t5, t6 });
    const half = fill(new EvaluationSession(SH), { t5: t5.slice(0, 3) });
    const back = EvaluationSession.fromJSON(JSON.stringify(half));
    expect(back.toJSON()).toEqual(half.toJSON());
    expect(back.framesOf('t5')).toBe(3);
    fill(back, { t5: t5.slice(3), t6 });
    expect(JSON.stringify(back.finish())).toBe(JSON.stringify(all.finish()));
    expect(() => EvaluationSession.fromJSON('{"format":"other"}')).toThrow(
      /EvaluationSession.fromJSON: expected an object with format "densehybrid\/evaluation-session"/,
    );
  });

  it('equals the metric functions on the same pixels (anomaly, open-set, closed)', () => {
    const K = 3;
    const { t5, t6 } = shFrames();
    const session = fill(new EvaluationSession({ ...SH, mode: 'exact' }), { t5, t6 });
    const r = session.finish();
    const names = ['hybrid', 'generative'];
    expect(r.scores.map((s) => s.name)).toEqual(names);
    const enc = { labelKind: 'open-set', numClasses: K, ignoreLabel: 255 } as const;
    // StreetHazards' eval_ood.py has no ignore label: ignored pixels count as inliers
    const inliers = (l: ArrayLike<number>) => Uint8Array.from(l, (v) => (v === 1 ? 1 : 0));
    for (const name of names) {
      const sc = r.scores.find((s) => s.name === name)!;
      // per-image protocol: the mean of the frames' metrics over frames with both classes
      const per = [...t5, ...t6]
        .map((f) => ({ s: f.scores[name]!, l: inliers(binaryAnomalyLabels(f.labels, enc)!) }))
        .filter(({ l }) => Array.from(l).includes(1) && Array.from(l).includes(0))
        .map(({ s, l }) => anomalyMetrics(s, l, { fprRule: 'nearest' }));
      const mean = (k: 'ap' | 'auroc' | 'fpr') => per.reduce((a, m) => a + m[k], 0) / per.length;
      expect(sc.anomaly?.framesUsed).toBe(per.length);
      expect(sc.anomaly?.ap).toBeCloseTo(mean('ap'), 12);
      expect(sc.anomaly?.auroc).toBeCloseTo(mean('auroc'), 12);
      expect(sc.anomaly?.fpr).toBeCloseTo(mean('fpr'), 12);
      // cross-calibration: crossCalibrated (the authors' conventions) on the same frames
      const fold = (fs: typeof t5) => ({
        frames: fs.map((f) => ({
          gt: f.labels,
          closedPred: f.closed,
          scores: f.scores[name]!,
          width: f.width,
          height: f.height,
        })),
      });
      const cc = crossCalibrated(fold(t5), fold(t6), { numClasses: K });
      const [a, b] = sc.openSet!.folds;
      expect([a!.name, a!.calibratedOn, b!.name, b!.calibratedOn]).toEqual([
        't5',
        't6',
        't6',
        't5',
      ]);
      expect(a!.threshold).toBe(cc.a.threshold);
      expect(b!.threshold).toBe(cc.b.threshold);
      expect(a!.result.confusion).toEqual(cc.a.result.confusion);
      expect(b!.result.iou).toEqual(cc.b.result.iou);
      expect(sc.openSet!.openMIoU).toBeCloseTo(cc.openMIoU, 14);
      expect(sc.openSet!.anomalyIoU).toBeCloseTo(cc.anomalyIoU, 14);
    }
    // closed mIoU: the closed predictions of both folds, anomaly pixels ignored
    const closed = new OpenIoU({ numClasses: K });
    for (const f of [...t5, ...t6]) closed.add(f.labels, f.closed, f.closed);
    const c = closed.compute();
    expect(r.closed).toEqual({ mIoU: c.closedMIoU, iou: c.closedIoU });
  });

  it('float32 scores: the second pass counts open-mIoU at the final thresholds exactly (float16 maps need none)', () => {
    const K = 3;
    const { t5, t6 } = shFrames();
    expect(fill(new EvaluationSession(SH), { t5, t6 }).secondPassThresholds()).toEqual({});
    // the same frames off the float16 grid: a float32 offset below half a float16 step
    const r = rng(9);
    const off = (fs: typeof t5) =>
      fs.map((f) => ({
        ...f,
        scores: Object.fromEntries(
          Object.entries(f.scores).map(([k, v]) => [
            k,
            Float32Array.from(v, (x) => x + (r() - 0.5) * 2 ** -12),
          ]),
        ),
      }));
    const frames = { t5: off(t5), t6: off(t6) };
    const session = fill(new EvaluationSession(SH), frames);
    const onePass = session.finish();
    expect(onePass.notes.join(' ')).toMatch(/open-mIoU: \d+ scores are no float16 value/);
    const thresholds = session.secondPassThresholds();
    expect(Object.keys(thresholds).sort()).toEqual([
      'open-set/t5/generative',
      'open-set/t5/hybrid',
      'open-set/t6/generative',
      'open-set/t6/hybrid',
    ]);
    const json = session.toJSON();
    // two shards (one fold each), both passes at the merged first pass's thresholds, merged,
    // equal one session's passes
    const a = fill(new EvaluationSession(SH), { t5: frames.t5 });
    const b = fill(new EvaluationSession(SH), { t6: frames.t6 });
    expect(EvaluationSession.fromJSON(a.toJSON()).merge(b).secondPassThresholds()).toEqual(
      thresholds,
    );
    a.startComponentPass(thresholds);
    b.startComponentPass(thresholds);
    for (const f of frames.t5) a.addComponentFrame({ ...f, fold: 't5' });
    for (const f of frames.t6) b.addComponentFrame({ ...f, fold: 't6' });
    const merged = EvaluationSession.fromJSON(JSON.stringify(a.toJSON()));
    merged.merge(EvaluationSession.fromJSON(b.toJSON()));
    expect(merged.secondPassThresholds()).toEqual(thresholds);
    const res = merged.finish();
    for (const [fold, list] of Object.entries(frames))
      for (const f of list) session.addComponentFrame({ ...f, fold });
    expect(JSON.stringify(session.finish()) === JSON.stringify(res)).toBe(true);
    expect(res.notes.join(' ')).not.toMatch(/open-mIoU: \d+ scores/);
    let differs = false;
    for (const name of ['hybrid', 'generative']) {
      const sc = res.scores.find((s) => s.name === name)!;
      const before = onePass.scores.find((s) => s.name === name)!;
      for (const [i, fold] of (['t5', 't6'] as const).entries()) {
        const row = sc.openSet!.folds[i]!;
        expect(row.threshold).toBe(thresholds[`open-set/${fold}/${name}`]);
        // reference: OpenIoU on openSetPrediction of the unrounded scores (the authors' `>`)
        const want = new OpenIoU({ numClasses: K });
        for (const f of frames[fold])
          want.add(
            f.labels,
            openSetPrediction(f.closed, f.scores[name]!, row.threshold, K, {
              thresholdRule: 'greater',
            }),
            f.closed,
          );
        expect(row.result).toEqual(want.compute());
        differs ||= JSON.stringify(before.openSet!.folds[i]!.result) !== JSON.stringify(row.result);
      }
    }
    // the float16 bins of the first pass were off somewhere (else this test proves nothing)
    expect(differs).toBe(true);
    expect(() => a.addFrame({ ...frames.t5[0]!, fold: 't5' })).toThrow(/before the component pass/);
    expect(() =>
      EvaluationSession.fromJSON(json).startComponentPass({ 'open-set/t7/hybrid': 1 }),
    ).toThrow(/expected thresholds of "open-set\/t5\/hybrid"/);
  });

  it('at a given threshold equals OpenIoU on openSetPrediction', () => {
    const K = 3;
    const frames = openSetFrames(3, 4, K, ['score']);
    const threshold = float16Value(0x3a00); // 0.75
    const session = new EvaluationSession({
      benchmark: 'folder',
      numClasses: K,
      folds: [{ name: 'val', labelKind: 'open-set' }],
      threshold,
      average: 'sum-over-k',
    });
    for (const f of frames) session.addFrame(f);
    // the protocols' rule is the authors' `score > threshold` (float16 ties sit on 0.75)
    const want = new OpenIoU({ numClasses: K });
    const rule = { thresholdRule: 'greater' } as const;
    for (const f of frames)
      want.add(
        f.labels,
        openSetPrediction(f.closed, f.scores.score!, threshold, K, rule),
        f.closed,
      );
    const r = session.finish();
    expect(r.openSet?.thresholdSource).toBe('given');
    expect(r.openSet?.folds[0]?.result).toEqual(want.compute({ average: 'sum-over-k' }));
  });

  it('SMIYC: pooled metrics and the component pass equal anomalyMetrics and componentMetrics', () => {
    const r0 = rng(5);
    const frames = Array.from({ length: 4 }, (_, f) => {
      const n = W * H;
      const labels = new Uint8Array(n);
      const scores = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const x = i % W;
        const y = Math.floor(i / W);
        const anomaly = x >= 2 + f && x < 7 + f && y >= 3 && y < 8;
        labels[i] = r0() < 0.03 ? 255 : anomaly ? 1 : 0;
        scores[i] = float16Value(0x3400 + Math.floor(r0() * 200) + (anomaly ? 150 : 0));
      }
      return { width: W, height: H, labels, scores: { score: scores } };
    });
    const sizes = { minPredictionSize: 4, minInstanceSize: 3 };
    const session = new EvaluationSession({
      benchmark: 'smiyc-anomaly',
      mode: 'exact',
      components: { ...BENCHMARK_PROTOCOLS['smiyc-anomaly'].components, ...sizes },
    });
    for (const f of frames) session.addFrame(f);
    const t = session.componentThresholds().score;
    expect(t).toBeDefined();
    for (const f of frames) session.addComponentFrame(f);
    expect(() => session.addFrame(frames[0]!)).toThrow(/before the component pass/);
    const r = session.finish();
    const pooled = anomalyMetrics(
      concat(frames.map((f) => f.scores.score)),
      Uint8Array.from(concat(frames.map((f) => f.labels))),
    );
    // SMIYC reports its 768-bin values; the exact ones are beside them
    expect(r.anomalyExact).toEqual({ ...pooled, frames: 4, framesUsed: 4 });
    const cm = componentMetrics(
      frames.map((f) => ({ scores: f.scores.score, labels: f.labels, width: W, height: H })),
      sizes,
    );
    expect(r.components).toEqual(cm);
    expect(r.components?.threshold).toBe(t);
    // the document: single-score layout at the top, every score under `scores`
    const doc = metricsDocument(r, { dataset: 'smiyc-anomaly' });
    expect(Object.keys(doc)).toEqual([
      'format',
      'version',
      'context',
      'frames',
      'protocol',
      'conventions',
      'anomaly',
      'anomalyExact',
      'perFoldAnomaly',
      'closed',
      'openSet',
      'components',
      'scores',
      'notes',
    ]);
    expect(doc.scores.score?.components).toEqual(cm);
    expect(doc.closed).toBeNull();
  });

  it('explains what it could not compute in notes instead of failing', () => {
    const frames = openSetFrames(7, 2, 3, ['score']);
    const semantic = new EvaluationSession({
      numClasses: 3,
      folds: [{ name: 'val', labelKind: 'semantic' }],
      calibrationScale: 0.5,
    });
    for (const f of frames)
      semantic.addFrame({ ...f, labels: Uint8Array.from(f.labels, (v) => (v === 3 ? 0 : v)) });
    expect(semantic.finish().notes).toEqual([
      'calibration scale 0.5: ignored, it only applies to cross-calibration (StreetHazards test t5/t6)',
      'anomaly metrics: the labels have no anomaly class (semantic dataset)',
    ]);
    const open = new EvaluationSession({
      numClasses: 3,
      folds: [{ name: 't5', labelKind: 'open-set' }],
    });
    for (const f of frames) open.addFrame(f);
    expect(open.finish().notes).toEqual([
      'open-mIoU: no threshold; run `densehybrid calibrate` on the checkpoint or pass --threshold',
    ]);
  });

  it('rejects bad options and frames with the function name and what it got', () => {
    expect(() => new EvaluationSession({ scoreNames: ['a', 'a'] })).toThrow(
      /EvaluationSession: expected one or more distinct score names/,
    );
    expect(() => new EvaluationSession({ folds: [{ name: 'x', labelKind: 'open-set' }] })).toThrow(
      /numClasses/,
    );
    expect(() => new EvaluationSession({ ...SH, folds: ['t5'], crossCalibrate: true })).toThrow(
      /expected two folds for cross-calibration, got 1/,
    );
    const s = new EvaluationSession(SH);
    const f = shFrames().t5[0]!;
    expect(() => s.addFrame({ ...f, fold: 'nope' })).toThrow(
      /expected fold to be one of "t5" \| "t6"/,
    );
    const { closed: _, ...noClosed } = f;
    expect(() => s.addFrame({ ...noClosed, fold: 't5' })).toThrow(
      /expected closed to be a typed array/,
    );
    expect(() => s.addFrame({ ...f, fold: 't5', scores: { hybrid: f.scores.hybrid! } })).toThrow(
      /expected scores "generative"/,
    );
    expect(() => s.merge(new EvaluationSession({ ...SH, mode: 'exact' }))).toThrow(
      /EvaluationSession.merge: expected a session with settings/,
    );
  });
});

describe('binaryAnomalyLabels', () => {
  it('maps open-set and anomaly labels to 0 / 1 / 255 and has none for semantic labels', () => {
    expect(
      Array.from(
        binaryAnomalyLabels([0, 2, 3, 7], {
          labelKind: 'open-set',
          numClasses: 3,
          ignoreLabel: 7,
        })!,
      ),
    ).toEqual([0, 0, 1, 255]);
    expect(
      Array.from(
        binaryAnomalyLabels([0, 1, 2], { labelKind: 'anomaly', numClasses: 0, ignoreLabel: 2 })!,
      ),
    ).toEqual([0, 1, 255]);
    const same = Uint8Array.of(0, 1, 255);
    expect(
      binaryAnomalyLabels(same, { labelKind: 'anomaly', numClasses: 0, ignoreLabel: 255 }),
    ).toBe(same);
    expect(
      binaryAnomalyLabels([0], { labelKind: 'semantic', numClasses: 3, ignoreLabel: 255 }),
    ).toBeNull();
  });
});
