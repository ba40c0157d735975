// Dev-only cross-check of full SML against a float64 PyTorch reimplementation of the formulas of
// the authors' SML code (not run in CI; see sml_crosscheck.py beside this file):
//
//   npx nx run @densehybrid/core:build && node packages/core/scripts/sml-crosscheck.mjs [--keep]
//
// Writes smooth random logits (2 × 24 × 32 × 5, scored at 96 × 128, so the class map has
// regions and boundaries) and the library's scores for several option variants (the defaults:
// boundary width 4, 4 iterations, 7×7 Gaussian σ 1 dilation 6; other widths and kernels; each
// step alone) as .npy, runs `PATH=$(getconf PATH) python3 sml_crosscheck.py` on them and prints
// the max absolute difference per variant. Exit code 1 above 1e-4.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@densehybrid/tfjs-wasm-training';
import { writeNpy } from '@densehybrid/metrics-openiou/node';
import { smlScore } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'dh-sml-'));
await initBackend({ log: () => {} });

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

const [N, h, w, K] = [2, 24, 32, 5];
const size = [96, 128];
const r = rng(19);
// smooth fields: a coarse 6×8 grid of random values per class, interpolated to 24×32
const logits = tf.tidy(() => {
  const coarse = tf.tensor4d(
    Float32Array.from({ length: N * 6 * 8 * K }, () => 6 * r() - 3),
    [N, 6, 8, K],
  );
  const noise = tf.tensor4d(
    Float32Array.from({ length: N * h * w * K }, () => 0.3 * (r() - 0.5)),
    [N, h, w, K],
  );
  return tf.add(tf.image.resizeBilinear(coarse, [h, w], false, true), noise);
});
const stats = {
  mean: Array.from({ length: K }, () => 2 * r() - 1),
  std: Array.from({ length: K }, () => 0.5 + r()),
};
const variants = [
  {
    name: 'defaults',
    boundarySuppression: { boundaryWidth: 4, iterations: 4 },
    dilatedSmoothing: { kernelSize: 7, sigma: 1, dilation: 6 },
  },
  {
    name: 'width6-it3-k5-d2',
    boundarySuppression: { boundaryWidth: 6, iterations: 3 },
    dilatedSmoothing: { kernelSize: 5, sigma: 1, dilation: 2 },
  },
  {
    name: 'suppression-only',
    boundarySuppression: { boundaryWidth: 4, iterations: 4 },
    dilatedSmoothing: false,
  },
  {
    name: 'smoothing-only',
    boundarySuppression: false,
    dilatedSmoothing: { kernelSize: 7, sigma: 1, dilation: 6 },
  },
  { name: 'standardised-only', boundarySuppression: false, dilatedSmoothing: false },
];
await writeNpy(join(dir, 'logits.npy'), await logits.data(), logits.shape, '<f4');
for (const v of variants) {
  const { name, ...options } = v;
  const score = smlScore(logits, stats, { size, ...options });
  await writeNpy(join(dir, `tfjs-${name}.npy`), await score.data(), score.shape, '<f4');
  score.dispose();
}
writeFileSync(join(dir, 'case.json'), JSON.stringify({ ...stats, size, variants }));
const path = execFileSync('getconf', ['PATH'], { encoding: 'utf8' }).trim();
execFileSync('python3', [join(here, 'sml_crosscheck.py'), dir], {
  stdio: 'inherit',
  env: { ...process.env, PATH: path },
});
const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
let worst = 0;
console.log(`backend ${tf.getBackend()}; logits [${logits.shape}] scored at ${size.join('×')}`);
for (const [name, m] of Object.entries(result)) {
  worst = Math.max(worst, m.maxAbsDiff);
  console.log(
    `${name.padEnd(20)} max |Δ| ${m.maxAbsDiff.toExponential(2)}  (scores ${m.scoreRange.map((x) => x.toFixed(2)).join('…')}, ${m.pixelsAbove1e3 ?? m['pixelsAbove1e-3']} of ${m.pixels} px above 1e-3)`,
  );
}
if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
else console.log(`files kept in ${dir}`);
process.exit(worst > 1e-4 ? 1 : 0);
