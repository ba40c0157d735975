#!/usr/bin/env node
// Issue 15 benchmark: evaluation at scale on synthetic 2048×1024 score maps.
//   node bench/eval-scale/index.mjs [--frames 100,1000] [--exact-frames 25,50] [--identity-frames 24]
//                                   [--width 2048] [--height 1024] [--benchmark fishyscapes-lostandfound]
//   npm run bench -- eval-scale --frames 100,300 --exact-frames 10,20 --identity-frames 8   (quick)
// Measured, each in a fresh child process (peak RSS = its getrusage maxRSS):
// - default histogram mode as `densehybrid eval` runs it (EvaluationSession + its state folder,
//   committed every 25 frames, one frame in memory): peak RSS at each --frames count (target
//   ≤ 300 MB and flat), throughput in M px per CPU-second of the evaluation (target ≥ 100);
//   plus SMIYC's first pass (768 percentile bins per frame) at the largest count;
// - exact mode (`eval --exact`: scores appended to the state files, read back into exactly sized
//   arrays for the metrics): bytes per pixel = Δ peak RSS / Δ pixels between the two
//   --exact-frames counts (target ≤ 6);
// - the CLI end to end on SMIYC frames written to disk (float16 .npy maps, label PNGs): one
//   `densehybrid eval --scores` process vs 4 `eval --shard i/4` processes + `merge` (two passes,
//   component metrics included): identical metrics.json (yes/no, SHA-256).
// Ratios are of numbers measured in this run. CPU seconds count the evaluation only (frame
// synthesis excluded), so they hold on a shared machine; wall seconds are printed beside.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0 && argv[i + 1] !== undefined) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  return eq !== undefined ? eq.slice(name.length + 3) : dflt;
};
const list = (s) =>
  s
    .split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n >= 0);
const WIDTH = Number(opt('width', '2048'));
const HEIGHT = Number(opt('height', '1024'));
const BENCHMARK = opt('benchmark', 'fishyscapes-lostandfound');

// ---- synthetic frames: one in memory at a time -----------------------------------------------
// scores like a hybrid score (inliers ~ N(−3, 1.2) with a tail, anomalies ~ N(0.5, 1.5)), 1–4 %
// anomaly pixels in a blob that moves per frame, ~8 % ignored (top rows), every 10th frame
// without anomaly. A base noise field is drawn once; each frame shifts and offsets it (cheap).
function mulberry(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function frameSource(width, height) {
  const n = width * height;
  const r = mulberry(12345);
  const noise = new Float32Array(n + 4096);
  for (let i = 0; i < noise.length; i++)
    noise[i] = Math.sqrt(-2 * Math.log(r() + 1e-300)) * Math.cos(2 * Math.PI * r());
  const scores = new Float32Array(n);
  const labels = new Uint8Array(n);
  const ignoreRows = Math.round(0.08 * height);
  return (f) => {
    const shift = (f * 977) % 4096;
    const anomalous = f % 10 !== 9;
    const bw = Math.round(width * (0.1 + (0.1 * ((f * 37) % 10)) / 10));
    const bh = Math.round(height * 0.2);
    const bx = (f * 131) % (width - bw);
    const by = ignoreRows + ((f * 71) % (height - ignoreRows - bh));
    for (let y = 0; y < height; y++) {
      const row = y * width;
      const inRows = anomalous && y >= by && y < by + bh;
      for (let x = 0; x < width; x++) {
        const i = row + x;
        const z = noise[i + shift];
        if (y < ignoreRows) {
          labels[i] = 255;
          scores[i] = -3 + z;
        } else if (inRows && x >= bx && x < bx + bw) {
          labels[i] = 1;
          scores[i] = 0.5 + 1.5 * z;
        } else {
          labels[i] = 0;
          scores[i] = -3 + 1.2 * z + (((i + f) & 63) === 0 ? 3 : 0);
        }
      }
    }
    return { scores, labels };
  };
}

// ---- child: one measurement ------------------------------------------------------------------
async function child(spec) {
  const { EvaluationSession } = await import('@densehybrid/metrics-openiou');
  const { SessionStateWriter } = await import('@densehybrid/metrics-openiou/node');
  const { width, height, frames, mode, benchmark, dir } = spec;
  const next = frameSource(width, height);
  const session = new EvaluationSession({
    benchmark,
    mode,
    scoreNames: ['score'],
    components: null,
  });
  const writer = await SessionStateWriter.open(dir, session);
  let cpu = 0;
  let wall = 0;
  let nonIgnored = 0;
  const tick = () => ({ c: process.cpuUsage(), t: performance.now() });
  const add = (a) => {
    const c = process.cpuUsage(a.c);
    cpu += (c.user + c.system) / 1e6;
    wall += (performance.now() - a.t) / 1000;
  };
  for (let f = 0; f < frames; f++) {
    const { scores, labels } = next(f);
    for (let i = 0; i < labels.length; i++) if (labels[i] !== 255) nonIgnored++;
    const a = tick();
    session.addFrame({ width, height, scores: { score: scores }, labels });
    await writer.append();
    if ((f + 1) % 25 === 0) await writer.commit({ frames: f + 1 });
    add(a);
  }
  const a = tick();
  await writer.commit({ frames });
  let result = null;
  if (frames > 0) {
    await writer.restore();
    result = session.finish();
  }
  await writer.close();
  add(a);
  const rss = process.resourceUsage().maxRSS * 1024;
  const anomaly = result?.anomaly ?? null;
  process.stdout.write(
    `${JSON.stringify({ rss, cpu, wall, pixels: frames * width * height, nonIgnored, ap: anomaly?.ap ?? null, auroc: anomaly?.auroc ?? null })}\n`,
  );
}

function runChild(spec) {
  const r = spawnSync(
    process.execPath,
    [fileURLToPath(import.meta.url), '--child', JSON.stringify(spec)],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    },
  );
  if (r.status !== 0) throw new Error(`bench/eval-scale: child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

// ---- the CLI end to end: 1 process vs 4 shards + merge ----------------------------------------
function runAsync(args, env = {}) {
  return new Promise((resolve) => {
    const time = existsSync('/usr/bin/time');
    const cmd = time ? '/usr/bin/time' : process.execPath;
    const full = time ? ['-f', 'MAXRSS_KB=%M', process.execPath, ...args] : args;
    const c = spawn(cmd, full, { env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => {
      const m = /MAXRSS_KB=(\d+)/.exec(err);
      resolve({ code, out, err, rss: m ? Number(m[1]) * 1024 : null });
    });
  });
}

async function identity(frames) {
  const sharp = (await import('sharp')).default;
  const { writeNpy } = await import('@densehybrid/metrics-openiou/node');
  const bin = join(here, '../../packages/cli/dist/bin.js');
  // a fixed folder: metrics.json names the score maps' folder, so its hash is comparable run to run
  const tmp = join(tmpdir(), 'dh-bench-eval-scale');
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    const root = join(tmp, 'smiyc');
    const maps = join(tmp, 'maps');
    await mkdir(join(root, 'dataset_AnomalyTrack/images'), { recursive: true });
    await mkdir(join(root, 'dataset_AnomalyTrack/labels_masks'), { recursive: true });
    await mkdir(maps, { recursive: true });
    const next = frameSource(WIDTH, HEIGHT);
    const jpg = await sharp(Buffer.alloc(WIDTH * HEIGHT * 3, 100), {
      raw: { width: WIDTH, height: HEIGHT, channels: 3 },
    })
      .jpeg()
      .toBuffer();
    for (let f = 0; f < frames; f++) {
      const { scores, labels } = next(f);
      await writeFile(join(root, 'dataset_AnomalyTrack/images', `f${f}.jpg`), jpg);
      await sharp(Buffer.from(labels), { raw: { width: WIDTH, height: HEIGHT, channels: 1 } })
        .toColourspace('b-w')
        .png({ compressionLevel: 1 })
        .toFile(join(root, 'dataset_AnomalyTrack/labels_masks', `f${f}_labels_semantic.png`));
      await writeNpy(join(maps, `f${f}.scores.npy`), scores, [HEIGHT, WIDTH], '<f2');
    }
    const args = (out, extra = []) => [
      bin,
      'eval',
      '--scores',
      maps,
      '--dataset',
      'smiyc-anomaly',
      '--root',
      root,
      '--out',
      out,
      ...extra,
    ];
    const t0 = performance.now();
    const single = await runAsync(args(join(tmp, 'single')));
    if (single.code !== 0) throw new Error(`single eval failed: ${single.err}`);
    const tSingle = (performance.now() - t0) / 1000;
    const sharded = join(tmp, 'sharded');
    const t1 = performance.now();
    const shards = (extra) =>
      Promise.all(
        [0, 1, 2, 3].map((i) =>
          runAsync(args(sharded, ['--shard', '/4', ...extra]), { JOB_COMPLETION_INDEX: String(i) }),
        ),
      );
    const first = await shards([]);
    for (const r of first) if (r.code !== 0) throw new Error(`shard failed: ${r.err}`);
    const merged = join(tmp, 'merged');
    const m1 = await runAsync([bin, 'merge', sharded, '--out', merged, '--json']);
    if (m1.code !== 0) throw new Error(`merge failed: ${m1.err}`);
    const pending = JSON.parse(m1.out);
    let second = [];
    if (pending.status === 'component-pass-needed') {
      second = await shards(['--component-thresholds', pending.componentThresholds]);
      for (const r of second) if (r.code !== 0) throw new Error(`shard pass 2 failed: ${r.err}`);
      const m2 = await runAsync([bin, 'merge', sharded, '--out', merged]);
      if (m2.code !== 0) throw new Error(`merge failed: ${m2.err}`);
    }
    const tSharded = (performance.now() - t1) / 1000;
    const hash = async (p) =>
      createHash('sha256')
        .update(await readFile(p))
        .digest('hex');
    const a = await hash(join(tmp, 'single', 'metrics.json'));
    const b = await hash(join(merged, 'metrics.json'));
    const doc = JSON.parse(await readFile(join(merged, 'metrics.json'), 'utf8'));
    const rss = [single, ...first, ...second].map((r) => r.rss).filter((v) => v !== null);
    return {
      same: a === b,
      a,
      b,
      tSingle,
      tSharded,
      doc,
      maxRss: rss.length ? Math.max(...rss) : null,
      singleRss: single.rss,
    };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

// ---- main ------------------------------------------------------------------------------------
async function main() {
  const counts = list(opt('frames', '100,1000'));
  const exactCounts = list(opt('exact-frames', '25,50'));
  const idFrames = Number(opt('identity-frames', '24'));
  const MB = (b) => (b / 1e6).toFixed(0);
  console.log(
    `eval-scale: ${WIDTH}×${HEIGHT} synthetic frames, ${BENCHMARK}; node ${process.version}`,
  );
  const scratch = await mkdtemp(join(tmpdir(), 'dh-bench-eval-state-'));
  const spec = (frames, mode, benchmark = BENCHMARK) => ({
    width: WIDTH,
    height: HEIGHT,
    frames,
    mode,
    benchmark,
    dir: join(scratch, `${benchmark}-${mode}-${frames}`),
  });
  try {
    // histogram mode: RSS and throughput
    const hist = counts.map((n) => ({ n, ...runChild(spec(n, 'histogram')) }));
    for (const h of hist)
      console.log(
        `  histogram ${String(h.n).padStart(5)} frames: peak RSS ${MB(h.rss).padStart(4)} MB  ${(h.pixels / h.cpu / 1e6).toFixed(1).padStart(6)} M px/CPU-s  ${(h.pixels / h.wall / 1e6).toFixed(1).padStart(6)} M px/s wall  (${h.cpu.toFixed(1)} CPU-s)  AP ${h.ap?.toFixed(6)}`,
      );
    const big = hist[hist.length - 1];
    const small = hist[0];
    const smiyc = runChild(spec(big.n, 'histogram', 'smiyc-anomaly'));
    console.log(
      `  smiyc-anomaly first pass (768 percentile bins per frame, ≈ 12 KiB per frame by design) ${big.n} frames: peak RSS ${MB(smiyc.rss)} MB (${smiyc.rss <= 300e6 ? '≤' : 'ABOVE'} 300 MB)  ${(smiyc.pixels / smiyc.cpu / 1e6).toFixed(1)} M px/CPU-s`,
    );
    const worstRss = Math.max(...hist.map((h) => h.rss));
    const flat = big.rss / small.rss;
    // flat: what RSS gains from the small to the large count, per pixel added (memory that grew
    // with the pixels would show ≥ 1 byte per pixel; GC timing moves peaks by a few MB)
    const perPixel = (big.rss - small.rss) / (big.pixels - small.pixels);
    console.log(
      `  peak RSS ${small.n} → ${big.n} frames: ${MB(small.rss)} → ${MB(big.rss)} MB, ratio ${flat.toFixed(2)}×, ${(perPixel * 1000).toFixed(2)} bytes per 1000 pixels added (flat: < 50) ${perPixel < 0.05 ? 'OK' : 'NOT FLAT'}; worst ${MB(worstRss)} MB (target ≤ 300 MB) ${worstRss <= 300e6 ? 'OK' : 'ABOVE TARGET'}`,
    );
    const rate = Math.min(...hist.map((h) => h.pixels / h.cpu)) / 1e6;
    console.log(
      `  histogram throughput ${rate.toFixed(1)} M px per CPU-second (slowest run; target ≥ 100) ${rate >= 100 ? 'OK' : 'BELOW TARGET'}`,
    );
    // exact mode: bytes per pixel
    if (exactCounts.length >= 2) {
      const [e0, e1] = exactCounts.slice(0, 2).map((n) => ({ n, ...runChild(spec(n, 'exact')) }));
      const base = runChild(spec(0, 'exact'));
      const slope = (e1.rss - e0.rss) / (e1.pixels - e0.pixels);
      const perPx = (e1.rss - base.rss) / e1.pixels;
      const stored = (e1.rss - base.rss) / e1.nonIgnored;
      console.log(
        `  exact ${e0.n} / ${e1.n} frames: peak RSS ${MB(e0.rss)} / ${MB(e1.rss)} MB (process without frames ${MB(base.rss)} MB)  ${(e1.pixels / e1.cpu / 1e6).toFixed(1)} M px/CPU-s`,
      );
      console.log(
        `  exact bytes per pixel: ${slope.toFixed(2)} (Δ RSS / Δ pixels; target ≤ 6) ${slope <= 6 ? 'OK' : 'ABOVE TARGET'}; ${perPx.toFixed(2)} over the frameless process (${stored.toFixed(2)} per non-ignored pixel)`,
      );
      const dAp = Math.abs(e1.ap - (hist.find((h) => h.n === e1.n)?.ap ?? NaN));
      if (Number.isFinite(dAp))
        console.log(`  |AP exact − AP histogram| at ${e1.n} frames: ${dAp.toExponential(2)}`);
    }
    // the CLI, sharded vs one process
    if (idFrames > 0) {
      const id = await identity(idFrames);
      console.log(
        `  CLI, SMIYC ${idFrames} frames: 1 process ${id.tSingle.toFixed(1)} s, 4 shards + merge (two passes) ${id.tSharded.toFixed(1)} s wall${id.maxRss !== null ? `; peak RSS ${MB(id.singleRss)} MB (one process), ${MB(id.maxRss)} MB (largest of all)` : ''}; sIoU ${id.doc.components?.sIoU?.toFixed(4)}, AP ${id.doc.anomaly?.ap?.toFixed(4)}`,
      );
      console.log(
        `  4 shards + merge = 1 process, metrics.json byte for byte: ${id.same ? 'yes' : 'NO'} (sha256 ${id.a.slice(0, 16)}…${id.same ? '' : ` vs ${id.b.slice(0, 16)}…`})`,
      );
      if (!id.same) process.exitCode = 1;
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

if (argv[0] === '--child') await child(JSON.parse(argv[1]));
else await main();
