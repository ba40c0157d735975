// Dev-only cross-check against scikit-learn (not run in CI). Needs the built package and
// `python3-sklearn`; run: node packages/metrics-openiou/scripts/sklearn-crosscheck.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { anomalyMetrics } from '../dist/index.js';

const PY = `
import sys, json, numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve
d = sys.argv[1]; out = []
for k in range(int(sys.argv[2])):
    s = np.fromfile(f"{d}/s{k}.bin", dtype=np.float32); y = np.fromfile(f"{d}/y{k}.bin", dtype=np.uint8)
    ap = average_precision_score(y, s); auc = roc_auc_score(y, s)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False); atleast = fpr[np.argmax(tpr >= 0.95)]
    fpr2, tpr2, _ = roc_curve(y, s); above = fpr2[tpr2 > 0.95][0]
    # StreetHazards (anomaly-seg) fpr_and_fdr_at_recall
    o = np.argsort(s, kind="mergesort")[::-1]; ss = s[o]; yy = y[o].astype(np.float64)
    idx = np.r_[np.where(np.diff(ss))[0], yy.size - 1]
    tps = np.cumsum(yy)[idx]; fps = 1 + idx - tps; rec = tps / tps[-1]
    last = tps.searchsorted(tps[-1]); sl = slice(last, None, -1)
    rec = np.r_[rec[sl], 1]; fps = np.r_[fps[sl], 0]
    nearest = fps[np.argmin(np.abs(rec - 0.95))] / np.sum(1 - yy)
    out.append([ap, auc, atleast, above, nearest])
print(json.dumps(out))
`;

const dir = mkdtempSync(join(tmpdir(), 'dh-sk-'));
const cases = [];
let seed = 7;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
for (let k = 0; k < 40; k++) {
  const n = 200 + Math.floor(rand() * 20000);
  const levels = [3, 10, 50, 1000, 1e9][k % 5]; // heavy ties … none
  const s = new Float32Array(n);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = rand() < 0.1 + (0.3 * (k % 3)) / 2 ? 1 : 0;
    s[i] = Math.floor((rand() + 0.3 * y[i]) * levels) / levels;
  }
  y[0] = 1;
  y[1] = 0;
  writeFileSync(join(dir, `s${k}.bin`), s);
  writeFileSync(join(dir, `y${k}.bin`), y);
  cases.push({ s, y });
}
const env = { ...process.env, PATH: execFileSync('getconf', ['PATH']).toString().trim() };
const ref = JSON.parse(
  execFileSync('python3', ['-c', PY, dir, String(cases.length)], { env }).toString(),
);
rmSync(dir, { recursive: true });
const max = { ap: 0, auroc: 0, 'at-least': 0, above: 0, nearest: 0 };
cases.forEach(({ s, y }, k) => {
  const [ap, auc, atleast, above, nearest] = ref[k];
  const r = anomalyMetrics(s, y);
  max.ap = Math.max(max.ap, Math.abs(r.ap - ap));
  max.auroc = Math.max(max.auroc, Math.abs(r.auroc - auc));
  max['at-least'] = Math.max(max['at-least'], Math.abs(r.fpr - atleast));
  max.above = Math.max(max.above, Math.abs(anomalyMetrics(s, y, { fprRule: 'above' }).fpr - above));
  max.nearest = Math.max(
    max.nearest,
    Math.abs(anomalyMetrics(s, y, { fprRule: 'nearest' }).fpr - nearest),
  );
});
console.log(`${cases.length} random cases (3…1e9 score levels), max |ours − reference|:`);
console.log(JSON.stringify(max));
const ok = Object.values(max).every((v) => v <= 1e-9);
console.log(ok ? 'OK (all ≤ 1e-9)' : 'MISMATCH');
process.exitCode = ok ? 0 : 1;
