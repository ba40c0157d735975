// Dev-only cross-check against the benchmarks' official evaluation code (not run in CI).
//
//   node packages/metrics-openiou/scripts/official-crosscheck.mjs <official-root> [--keep]
//
// <official-root> holds checkouts, outside this repository, of SegmentMeIfYouCan's
// road-anomaly-benchmark, Fishyscapes' bdl-benchmark, StreetHazards' anomaly-seg and the
// authors' DenseHybrid (directory names as the repositories'). The script writes synthetic frames
// as .npy, runs that code unchanged in Python (official_crosscheck.py beside this file; needs
// numpy, scipy, scikit-learn, h5py, matplotlib, easydict and torch), evaluates the same frames
// with the built package and prints one table. Exit code 1 when a number differs by more than
// 1e-9. Without the root it only says so (exit 0).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  EvaluationSession,
  PercentileBinsAccumulator,
  crossCalibrated,
  roundToFloat16,
} from '../dist/index.js';
import { writeNpy } from '../dist/node.js';

const root = process.argv[2];
if (!root || !existsSync(join(root, 'road-anomaly-benchmark'))) {
  console.log(
    'official-crosscheck: skipped (pass the folder holding road-anomaly-benchmark, bdl-benchmark, anomaly-seg and DenseHybrid checkouts)',
  );
  process.exit(0);
}
const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'dh-official-'));

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random ellipses: [cx, cy, rx, ry]. */
function blobs(r, n, w, h, rMin, rMax) {
  return Array.from({ length: n }, () => [
    r() * w,
    r() * h,
    rMin + r() * (rMax - rMin),
    rMin + r() * (rMax - rMin),
  ]);
}
const inside = (bs, x, y) =>
  bs.some(([cx, cy, rx, ry]) => ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1);

const manifest = { smiyc: {}, fishyscapes: [], streethazards: { numClasses: 12, t5: [], t6: [] } };
const frames = { smiyc: {}, fishyscapes: [], streethazards: { t5: [], t6: [] } };
let fileNo = 0;
async function save(kind, data, w, h, dtype) {
  const name = `${kind}-${fileNo++}.npy`;
  await writeNpy(join(dir, name), data, [h, w], dtype);
  return name;
}

/** SMIYC frames: float16 scores with many ties, anomaly blobs, distractors, a void border. */
async function smiycFrames(seed, count, w, h, rMin, rMax, tiedMax) {
  const r = rng(seed);
  const out = [];
  const files = [];
  for (let f = 0; f < count; f++) {
    const anomalies = f === 1 ? [] : blobs(r, 1 + Math.floor(r() * 3), w, h, rMin, rMax);
    const distractors = blobs(r, 2, w, h, rMin, rMax);
    const labels = new Uint8Array(w * h);
    const scores = new Float32Array(w * h);
    for (let i = 0; i < w * h; i++) {
      const x = i % w;
      const y = Math.floor(i / w);
      const a = inside(anomalies, x, y);
      labels[i] = y < h / 6 || r() < 0.01 ? 255 : a ? 1 : 0;
      const base = a ? 0.72 : inside(distractors, x, y) ? 0.55 : 0.15;
      const v = Math.min(0.93, Math.max(0, base + (r() - 0.5) * 0.6));
      scores[i] = roundToFloat16(Math.round(v * 512) / 512);
    }
    // each frame's highest score is its own unless `tiedMax` (then all share 1.0)
    const top = w * (h - 1) + Math.floor(w / 2);
    scores[top] = tiedMax ? 1 : roundToFloat16(0.95 + f / 512);
    labels[top] = tiedMax ? f % 2 : labels[top] === 255 ? 0 : labels[top];
    const entry = {
      width: w,
      height: h,
      labels: await save('labels', labels, w, h, '|u1'),
      scores: await save('scores', scores, w, h, '<f2'),
    };
    files.push(entry);
    out.push({ width: w, height: h, labels, scores });
  }
  return { files, out };
}

for (const [track, seed, rMin, rMax] of [
  ['anomaly', 11, 4, 22],
  ['obstacle', 12, 2, 9],
  ['tied', 13, 4, 22],
]) {
  const { files, out } = await smiycFrames(seed, 8, 160, 120, rMin, rMax, track === 'tied');
  manifest.smiyc[track] = files;
  frames.smiyc[track] = out;
}

// Fishyscapes: float32 scores (ties and continuous values), void pixels
{
  const r = rng(21);
  for (let f = 0; f < 6; f++) {
    const w = 120;
    const h = 90;
    const bs = blobs(r, 2, w, h, 5, 20);
    const labels = new Uint8Array(w * h);
    const scores = new Float32Array(w * h);
    for (let i = 0; i < w * h; i++) {
      const a = inside(bs, i % w, Math.floor(i / w));
      labels[i] = r() < 0.05 ? 255 : a ? 1 : 0;
      const v = (a ? 0.35 : 0) + r();
      scores[i] = f % 2 === 0 ? Math.round(v * 1000) / 1000 : v;
    }
    manifest.fishyscapes.push({
      labels: await save('labels', labels, w, h, '|u1'),
      scores: await save('scores', scores, w, h, '<f4'),
    });
    frames.fishyscapes.push({ width: w, height: h, labels, scores });
  }
}

// StreetHazards: K = 12 known classes, anomaly 12, 255 ignore ("other"); float16 scores in [1, 4)
// (their bilinear sums are exact in float32; the ×0.5 means are not float16 values)
{
  const K = 12;
  const r = rng(31);
  for (const [fold, count] of [
    ['t5', 5],
    ['t6', 4],
  ]) {
    for (let f = 0; f < count; f++) {
      const w = f % 2 === 0 ? 64 : 65;
      const h = f % 2 === 0 ? 48 : 49;
      const bs = f === 2 ? [] : blobs(r, 2, w, h, 3, 9);
      const labels = new Uint8Array(w * h);
      const closed = new Uint8Array(w * h);
      const scores = new Float32Array(w * h);
      for (let i = 0; i < w * h; i++) {
        const x = i % w;
        const y = Math.floor(i / w);
        const a = inside(bs, x, y);
        const cls = (Math.floor((x * 4) / w) + 4 * Math.floor((y * 3) / h)) % K;
        labels[i] = a ? K : r() < 0.06 ? 255 : cls;
        closed[i] = !a && r() < 0.8 ? cls : Math.floor(r() * K);
        const v = 1 + (a ? 1.1 : 0) + r() * 1.8;
        scores[i] = roundToFloat16(Math.min(3.99, f % 2 ? v : Math.floor(v * 64) / 64));
      }
      manifest.streethazards[fold].push({
        width: w,
        height: h,
        labels: await save('labels', labels, w, h, '|u1'),
        closed: await save('closed', closed, w, h, '|u1'),
        scores: await save('scores', scores, w, h, '<f2'),
      });
      frames.streethazards[fold].push({ width: w, height: h, labels, closed, scores });
    }
  }
}
writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));

// ---- the official code ---------------------------------------------------------------------
const outJson = join(dir, 'official.json');
execFileSync('python3', [join(here, 'official_crosscheck.py'), root, dir, outJson], {
  stdio: ['ignore', 'inherit', 'inherit'],
});
const off = JSON.parse(readFileSync(outJson, 'utf8'));

// ---- the library -----------------------------------------------------------------------------
const rows = [];
const TOL = 1e-9;
function row(check, metric, official, library) {
  const d = Math.abs(official - library);
  rows.push({ check, metric, official, library, d, ok: d <= TOL || official === library });
}

function smiycSession(benchmark, list, mode) {
  const s = new EvaluationSession({ benchmark, mode });
  for (const f of list) s.addFrame({ ...f, scores: { score: f.scores } });
  s.componentThresholds();
  for (const f of list) s.addComponentFrame({ ...f, scores: { score: f.scores } });
  return s.finish();
}
for (const [track, benchmark] of [
  ['anomaly', 'smiyc-anomaly'],
  ['obstacle', 'smiyc-obstacle'],
]) {
  for (const mode of ['histogram', 'exact']) {
    const r = smiycSession(benchmark, frames.smiyc[track], mode);
    const o = off.smiyc[track];
    const c = `SMIYC ${track} (${mode})`;
    row(c, 'AP (768 bins)', o.ap, r.anomaly.ap);
    row(c, 'AUROC (768 bins)', o.auroc, r.anomaly.auroc);
    row(c, 'FPR95 (768 bins)', o.fpr95, r.anomaly.fpr);
    row(c, 'TPR95 threshold', o.tpr95Threshold, r.anomaly.threshold);
    row(c, 'best F1', o.bestF1, r.anomaly.bestF1);
    row(c, 'best-F1 threshold', o.bestF1Threshold, r.anomaly.bestF1Threshold);
    row(c, 'components threshold (float16)', o.components.thresholdFloat16, r.components.threshold);
    row(c, 'sIoU', o.components.sIoU, r.components.sIoU);
    row(c, 'sIoU pred', o.components.sIoUPred, r.components.sIoUPred);
    row(c, 'PPV', o.components.ppv, r.components.ppv);
    row(c, 'mean F1', o.components.meanF1, r.components.meanF1);
    const at = (tau) => r.components.perThreshold.find((p) => Math.abs(p.tau - tau) < 1e-12);
    row(c, 'F1 τ=0.25', o.components.f1_25, at(0.25).f1);
    row(c, 'F1 τ=0.5', o.components.f1_50, at(0.5).f1);
    row(c, 'F1 τ=0.75', o.components.f1_75, at(0.75).f1);
    row(c, 'TP τ=0.25', o.components.tp_25, at(0.25).tp);
    row(c, 'FN τ=0.25', o.components.fn_25, at(0.25).fn);
    row(c, 'FP τ=0.25', o.components.fp_25, at(0.25).fp);
    row(c, 'GT components', o.components.gtComponents, r.components.gtComponents);
    row(c, 'predicted components', o.components.predComponents, r.components.predComponents);
    if (track === 'anomaly') {
      row(c, 'exact AP (sklearn)', off.smiyc.anomalySklearn.ap, r.anomalyExact.ap);
      row(c, 'exact AUROC (sklearn)', off.smiyc.anomalySklearn.auroc, r.anomalyExact.auroc);
    }
  }
}
{
  const bins = (list) => {
    const b = new PercentileBinsAccumulator();
    for (const f of list) b.add(f.scores, f.labels);
    return b.compute();
  };
  const fwd = bins(frames.smiyc.tied);
  const rev = bins([...frames.smiyc.tied].reverse());
  const o = off.smiyc.tied;
  rows.push({
    check: 'SMIYC tied maxima',
    metric: 'AP, frames in order / reversed',
    official: `${o.order.ap} / ${o.reversed.ap}`,
    library: `${fwd.ap} / ${rev.ap}`,
    d: NaN,
    ok: fwd.ap === rev.ap,
  });
}
{
  const s = new EvaluationSession({ benchmark: 'fishyscapes-lostandfound', mode: 'exact' });
  for (const f of frames.fishyscapes) s.addFrame({ ...f, scores: { score: f.scores } });
  const r = s.finish();
  const c = 'Fishyscapes (exact)';
  row(c, 'AP', off.fishyscapes.ap, r.anomaly.ap);
  row(c, 'AUROC', off.fishyscapes.auroc, r.anomaly.auroc);
  row(c, 'FPR95', off.fishyscapes.fpr95, r.anomaly.fpr);
}
function shSession(options) {
  const s = new EvaluationSession({ benchmark: 'streethazards', numClasses: 12, ...options });
  for (const fold of ['t5', 't6'])
    for (const f of frames.streethazards[fold])
      s.addFrame({ ...f, fold, scores: { score: f.scores } });
  return s.finish();
}
for (const mode of ['exact', 'histogram']) {
  const r = shSession({ mode });
  const c = `StreetHazards (${mode})`;
  const a = off.streethazards.anomalySeg;
  row(c, 'AP per image (anomaly-seg)', a.ap, r.anomaly.ap);
  row(c, 'AUROC per image (anomaly-seg)', a.auroc, r.anomaly.auroc);
  row(c, 'FPR95 per image (anomaly-seg)', a.fpr95, r.anomaly.fpr);
  row(c, 'frames averaged', a.frames, r.anomaly.framesUsed);
  const dh = off.streethazards.densehybrid;
  for (const fold of r.openSet.folds) {
    row(
      c,
      `${fold.name} threshold (from ${fold.calibratedOn}, ×0.5 bilinear)`,
      dh[fold.name].threshold,
      fold.threshold,
    );
    row(c, `${fold.name} open-mIoU`, dh[fold.name].openMIoU, fold.result.openMIoU);
    row(
      c,
      `${fold.name} anomaly IoU (printed ×100)`,
      dh[fold.name].anomalyIoU,
      fold.result.anomalyIoU,
    );
  }
  row(c, 'open-mIoU (image-weighted)', dh.openMIoU, r.openSet.openMIoU);
  row(c, 'closed mIoU, one matrix (printed ×100)', dh.closedMIoU, r.closed.mIoU);
}
{
  const dh = off.streethazards.densehybrid;
  const per = shSession({
    mode: 'exact',
    fprRule: 'above',
    perImageEmptyFrames: 'sklearn-nanmean',
    ignoredPixels: 'excluded',
  });
  const c = "StreetHazards, the authors' base.py";
  row(c, 'AP per image (nanmean, empty = 0)', dh.perImage.ap, per.anomaly.ap);
  row(c, 'AUROC per image', dh.perImage.auroc, per.anomaly.auroc);
  row(c, 'FPR95 per image (TPR > 0.95, empty = 0)', dh.perImage.fpr95, per.anomaly.fpr);
  const pooled = shSession({
    mode: 'exact',
    protocol: 'pooled',
    fprRule: 'above',
    ignoredPixels: 'excluded',
  });
  row(c, 'AP pooled', dh.pooled.ap, pooled.anomaly.ap);
  row(c, 'AUROC pooled', dh.pooled.auroc, pooled.anomaly.auroc);
  row(c, 'FPR95 pooled (TPR > 0.95)', dh.pooled.fpr95, pooled.anomaly.fpr);
  const fold = (list) => ({
    frames: list.map((f) => ({
      gt: f.labels,
      closedPred: f.closed,
      scores: f.scores,
      width: f.width,
      height: f.height,
    })),
  });
  const cc = crossCalibrated(fold(frames.streethazards.t5), fold(frames.streethazards.t6), {
    numClasses: 12,
  });
  const c2 = 'crossCalibrated() defaults';
  row(c2, 't5 threshold', dh.t5.threshold, cc.a.threshold);
  row(c2, 't6 threshold', dh.t6.threshold, cc.b.threshold);
  row(c2, 'open-mIoU', dh.openMIoU, cc.openMIoU);
  row(c2, 'closed mIoU (printed ×100)', dh.closedMIoU, cc.closedMIoU);
}

const fmt = (v) =>
  typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(15)) : v;
console.log('| check | metric | official | library | abs. difference |');
console.log('|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.check} | ${r.metric} | ${fmt(r.official)} | ${fmt(r.library)} | ${Number.isNaN(r.d) ? (r.ok ? 'library order-independent' : 'DIFFERS') : r.d === 0 ? '0' : r.d.toExponential(1)}${r.ok ? '' : ' ✗'} |`,
  );
console.log(
  `\nofficial code stand-ins for unused modules: ${off.stubbed.join(', ') || 'none'}; numpy ${off.numpy}`,
);
if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
else console.log(`frames kept in ${dir}`);
process.exit(rows.every((r) => r.ok) ? 0 : 1);
