// Dev-only check of the score-map formats against h5py / numpy / PIL (not run in CI).
//
//   node packages/data-mixing/scripts/h5py-check.mjs [--official <official-root>]
//        [--checkpoint <run>] [--fixtures] [--keep]
//
// Needs the built package (`npx nx run @densehybrid/data-mixing:build`) and Python 3 with h5py,
// numpy and PIL (`$PYTHON`, default python3). Writes HDF5 files with writeSmiycScoreMap (shapes,
// compression levels, float16 edge values), then runs h5py-check.py beside this file, which reads
// them as SegmentMeIfYouCan's evaluation does (from <official-root>/road-anomaly-benchmark,
// outside this repository, when given) and writes h5py / numpy / PIL files in other frameworks'
// layouts; this script reads those back with readScoreMap / readClosedSetMap and compares them
// with the values Python expects, bit for bit.
// --checkpoint <run>: also runs the built CLI's `densehybrid infer --format smiyc` on a synthetic
//   dataset_ObstacleTrack and has the benchmark's Evaluation read its submission folder (needs
//   the CLI built and, for the Evaluation, --official).
// --fixtures: (re)writes the small files the vitest suite reads (test/fixtures/score-maps/).
// Exit code 1 when a check fails.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { decodeNpy, encodeNpy } from '@densehybrid/metrics-openiou';
import { writeFileAtomic } from '@densehybrid/metrics-openiou/node';
import { readClosedSetMap, readScoreMap, writeSmiycScoreMap } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const official = option('--official');
const checkpoint = option('--checkpoint');
const work = mkdtempSync(join(tmpdir(), 'dh-h5py-check-'));
let failed = 0;
let passed = 0;
const report = (ok, what) => {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
};

// ---- 1. our HDF5 files ----
const ours = join(work, 'ours');
mkdirSync(ours, { recursive: true });
let seed = 15;
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const cases = [
  { name: 'tiny-7x5', w: 7, h: 5, f: (i) => Math.sin(i) * 3 },
  { name: 'tiny-7x5-c0', w: 7, h: 5, f: (i) => Math.sin(i) * 3, compression: 0 },
  {
    name: 'edge-values-16x4',
    w: 16,
    h: 4,
    // zeros, subnormals, rounding ties, the largest half, overflow to infinity, negatives
    f: (i) =>
      [
        0,
        -0,
        2 ** -24,
        2 ** -25,
        3 * 2 ** -26,
        1e-8,
        65504,
        65519,
        65520,
        1e6,
        -Infinity,
        Infinity,
        1 + 2 ** -11,
        1 + 3 * 2 ** -11,
        -0.1,
        1 / 3,
      ][i % 16] *
        (i < 16 ? 1 : -1) +
      (i >= 32 ? i : 0),
  },
  { name: 'random-640x480', w: 640, h: 480, f: () => random() * 2 - 0.5 },
  { name: 'random-640x480-c0', w: 640, h: 480, f: () => random(), compression: 0 },
  { name: 'full-2048x1024', w: 2048, h: 1024, f: (i) => ((i * 7919) % 10007) / 10007 },
];
let writeMs = 0;
let writtenPx = 0;
for (const c of cases) {
  const scores = Float32Array.from({ length: c.w * c.h }, (_, i) => c.f(i));
  const t0 = performance.now();
  await writeSmiycScoreMap(join(ours, `${c.name}.hdf5`), scores, c.w, c.h, {
    ...(c.compression === undefined ? {} : { compression: c.compression }),
  });
  writeMs += performance.now() - t0;
  writtenPx += c.w * c.h;
  await writeFileAtomic(join(ours, `${c.name}.ref.npy`), encodeNpy(scores, [c.h, c.w], '<f4'));
}
console.log(
  `writeSmiycScoreMap: ${cases.length} files, ${(writtenPx / 1e6).toFixed(2)} M px in ${writeMs.toFixed(0)} ms`,
);

// ---- 2. infer --format smiyc on a synthetic ObstacleTrack ----
const cliBin = join(here, '../../cli/dist/bin.js');
if (checkpoint) {
  const images = join(work, 'datasets/dataset_ObstacleTrack/images');
  const labels = join(work, 'datasets/dataset_ObstacleTrack/labels_masks');
  mkdirSync(images, { recursive: true });
  mkdirSync(labels, { recursive: true });
  for (let k = 0; k < 3; k++) {
    const w = 48 + 8 * k;
    const h = 32;
    const rgb = Buffer.from(Array.from({ length: w * h * 3 }, (_, i) => (i * (k + 3) * 37) % 256));
    const fid = `validation_${String(k).padStart(4, '0')}`;
    await sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
      .webp({ lossless: true })
      .toFile(join(images, `${fid}.webp`));
    await sharp(Buffer.alloc(w * h), { raw: { width: w, height: h, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(join(labels, `${fid}_labels_semantic.png`));
  }
  for (const [format, out] of [
    ['smiyc', join(work, 'outputs')],
    ['standard', join(work, 'infer-standard')],
  ]) {
    const r = spawnSync(
      process.execPath,
      [cliBin, 'infer', '--checkpoint', checkpoint, '--format', format, '--out', out, images],
      {
        encoding: 'utf8',
      },
    );
    report(
      r.status === 0,
      `densehybrid infer --format ${format}: exit ${r.status}${r.status === 0 ? '' : `: ${r.stderr}`}`,
    );
  }
}

// ---- 3. Python: read ours (and infer's), write theirs ----
const fixtures = join(here, '../test/fixtures/score-maps');
const py = spawnSync(
  process.env.PYTHON ?? 'python3',
  [
    join(here, 'h5py-check.py'),
    work,
    ...(official ? [official] : []),
    ...(args.includes('--fixtures') ? ['--fixtures', fixtures] : []),
  ],
  { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
);
process.stdout.write(py.stdout ?? '');
const pyLast = /h5py-check: (\d+) passed, (\d+) failed/.exec(py.stdout ?? '');
if (py.status !== 0 && pyLast === null) report(false, `h5py-check.py: exit ${py.status}`);

// ---- 4. read theirs ----
const theirs = join(work, 'theirs');
const manifest = JSON.parse(readFileSync(join(theirs, 'manifest.json'), 'utf8'));
let readMs = 0;
for (const entry of manifest) {
  const file = join(theirs, entry.file);
  if (entry.kind === 'refused') {
    const e = await readScoreMap(file, entry.read).then(
      () => null,
      (err) => err,
    );
    report(
      e?.code === 'INVALID_INPUT',
      `readScoreMap(${entry.file}) refused: ${e?.message ?? 'read without error'}`,
    );
    continue;
  }
  const ref = decodeNpy(readFileSync(join(theirs, entry.ref)));
  const t0 = performance.now();
  const got =
    entry.kind === 'closed'
      ? await readClosedSetMap(file, entry.read)
      : await readScoreMap(file, entry.read);
  readMs += performance.now() - t0;
  const same =
    got.data.length === ref.data.length && got.data.every((v, i) => Object.is(v, ref.data[i]));
  const shape = got.height === ref.shape[0] && got.width === ref.shape[1];
  report(
    same && shape,
    `${entry.kind === 'closed' ? 'readClosedSetMap' : 'readScoreMap'}(${entry.file}${entry.read.key ? `, key ${entry.read.key}` : ''}${entry.read.pngScale ? `, pngScale ${entry.read.pngScale}` : ''}): ${got.format} ${got.dtype} stored (${got.shape.join(', ')}) -> ${got.height}x${got.width}, equals Python's values bitwise`,
  );
}
console.log(`read ${manifest.length} Python-written files in ${readMs.toFixed(0)} ms`);
const total = {
  passed: passed + Number(pyLast?.[1] ?? 0),
  failed: failed + Number(pyLast?.[2] ?? 0),
};
console.log(`h5py-check (all): ${total.passed} passed, ${total.failed} failed`);
if (!args.includes('--keep')) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
process.exit(total.failed > 0 ? 1 : 0);
