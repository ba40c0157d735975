// Issue 15: `eval --shard i/n` in N real processes (bin.js) + `densehybrid merge` write the
// metrics.json of one process byte for byte (SMIYC component metrics included: two passes),
// a shard killed with SIGKILL resumes, merge refuses states of other runs, and the shard index
// comes from Kubernetes / Slurm / AWS Batch environment variables.
import { spawn } from 'node:child_process';
import { cp, mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeNpy } from '@densehybrid/metrics-openiou/node';
import { resolveShard } from '../src/shard.js';
import { cli, fixtureEvalArgs, fixtureTrainArgs, tempDir } from './helpers.js';
import { H as SH_H, W as SH_W, makeAde, makeSmiyc, makeStreetHazards } from './fixtures.js';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const W = 40;
const H = 30;

/** mulberry32 */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * An SMIYC AnomalyTrack tree of `n` frames and their float16 score maps `<maps>/<frame>.scores.npy`:
 * one or two anomaly blobs per frame (none in every 5th), 255 in the top rows, scores noisy and
 * higher on the blobs (float16 values, many ties at the best-F1 threshold).
 */
async function makeFrames(root: string, maps: string, n: number, seed: number): Promise<void> {
  const r = random(seed);
  for (let f = 0; f < n; f++) {
    const labels = Buffer.alloc(W * H);
    const scores = new Float32Array(W * H);
    const blobs =
      f % 5 === 4
        ? []
        : Array.from({ length: 1 + (f % 2) }, () => ({
            x: Math.floor(r() * (W - 12)),
            y: 4 + Math.floor(r() * (H - 14)),
            w: 4 + Math.floor(r() * 8),
            h: 3 + Math.floor(r() * 7),
          }));
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        const inBlob = blobs.some((b) => x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + b.h);
        labels[i] = y < 2 ? 255 : inBlob ? 1 : 0;
        // quarter steps: float16 values with ties
        scores[i] = Math.round(4 * ((inBlob ? 1.2 : 0) + r() * 1.4)) / 4;
      }
    }
    const img = join(root, 'dataset_AnomalyTrack/images', `validation_${f}.jpg`);
    const lab = join(
      root,
      'dataset_AnomalyTrack/labels_masks',
      `validation_${f}_labels_semantic.png`,
    );
    await mkdir(dirname(img), { recursive: true });
    await mkdir(dirname(lab), { recursive: true });
    await sharp(Buffer.alloc(W * H * 3, 90), { raw: { width: W, height: H, channels: 3 } })
      .jpeg()
      .toFile(img);
    await sharp(labels, { raw: { width: W, height: H, channels: 1 } })
      .toColourspace('b-w')
      .png()
      .toFile(lab);
    await writeNpy(join(maps, `validation_${f}.scores.npy`), scores, [H, W], '<f2');
  }
}

interface BinRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs bin.js with `env` added; with `killAtLine`, SIGKILLs it at that progress line. */
function runBin(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  killAtLine?: number,
): Promise<BinRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, DENSEHYBRID_BACKEND: 'wasm', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (
        killAtLine !== undefined &&
        (stderr.match(/^eval +\d+\/\d+/gm)?.length ?? 0) >= killAtLine
      )
        child.kill('SIGKILL');
    });
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Every file of a report folder but timings.json (wall-clock), by name. */
async function reportFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await readdir(dir)).sort()) {
    if (f === 'timings.json' || f === 'component-thresholds.json') continue;
    out[f] = (await readFile(join(dir, f))).toString('base64');
  }
  return out;
}

let tmp: Awaited<ReturnType<typeof tempDir>>;
let smiyc: string;
let maps: string;
let fs: string;
let fsMaps: string;

beforeAll(async () => {
  tmp = await tempDir('dh-cli-shard-');
  smiyc = join(tmp.dir, 'smiyc');
  maps = join(tmp.dir, 'maps');
  fs = join(tmp.dir, 'smiyc-exact');
  fsMaps = join(tmp.dir, 'maps-exact');
  await makeFrames(smiyc, maps, 11, 1);
  await makeFrames(fs, fsMaps, 100, 2);
}, 60_000);
afterAll(async () => tmp.cleanup());

const smiycArgs = (out: string, extra: readonly string[] = []) => [
  'eval',
  '--scores',
  maps,
  '--dataset',
  'smiyc-anomaly',
  '--root',
  smiyc,
  '--min-prediction-size',
  '3',
  '--min-instance-size',
  '3',
  '--out',
  out,
  ...extra,
];

describe('eval --shard i/n + merge = one process', () => {
  it('SMIYC in 3 processes (indices from --shard, JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID), two passes: the same metrics.json bytes, report and curves', async () => {
    const single = join(tmp.dir, 'single');
    const one = await runBin(smiycArgs(single));
    expect(one.code, one.stderr).toBe(0);
    const doc = JSON.parse(await readFile(join(single, 'metrics.json'), 'utf8'));
    expect(doc.components.gtComponents).toBeGreaterThan(5);
    expect(doc.context.seconds).toBeUndefined();
    const timings = JSON.parse(await readFile(join(single, 'timings.json'), 'utf8'));
    expect(timings).toMatchObject({ format: 'densehybrid/eval-timings', images: 11 });

    const sharded = join(tmp.dir, 'sharded');
    const shardRuns = (extra: readonly string[]) =>
      Promise.all([
        runBin(smiycArgs(sharded, ['--shard', '0/3', ...extra])),
        runBin(smiycArgs(sharded, ['--shard', '/3', ...extra]), { JOB_COMPLETION_INDEX: '1' }),
        runBin(smiycArgs(sharded, ['--shards', '3', ...extra]), {
          SLURM_ARRAY_TASK_ID: '2',
          SLURM_ARRAY_TASK_COUNT: '3',
        }),
      ]);
    for (const r of await shardRuns([])) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/first pass/);
    }
    expect((await readdir(sharded)).sort()).toEqual([
      'shard-0-of-3',
      'shard-1-of-3',
      'shard-2-of-3',
    ]);
    // first merge: the component pass is still to run
    const merged = join(tmp.dir, 'merged');
    const m1 = await cli(['merge', sharded, '--out', merged, '--json']);
    expect(m1.code, m1.stderr).toBe(0);
    const pending = JSON.parse(m1.stdout);
    expect(pending.status).toBe('component-pass-needed');
    expect(await stat(join(merged, 'metrics.json')).catch(() => null)).toBeNull();
    for (const r of await shardRuns(['--component-thresholds', pending.componentThresholds]))
      expect(r.code, r.stderr).toBe(0);
    const m2 = await cli(['merge', sharded, '--out', merged]);
    expect(m2.code, m2.stderr).toBe(0);
    expect(m2.stdout).toMatch(/sIoU/);
    expect(await readFile(join(merged, 'metrics.json'), 'utf8')).toBe(
      await readFile(join(single, 'metrics.json'), 'utf8'),
    );
    expect(await reportFiles(merged)).toEqual(await reportFiles(single));
    const mt = JSON.parse(await readFile(join(merged, 'timings.json'), 'utf8'));
    expect(mt.shards).toHaveLength(3);
    expect(mt.shards[1].runs).toHaveLength(2);
  }, 120_000);

  it('exact mode: a shard killed with SIGKILL mid-run resumes; the merge is still byte-identical; the state is binary and incremental', async () => {
    const args = (out: string, extra: readonly string[] = []) => [
      'eval',
      '--scores',
      fsMaps,
      '--dataset',
      'smiyc-anomaly',
      '--root',
      fs,
      '--percentile-bins',
      '0',
      '--min-prediction-size',
      '3',
      '--min-instance-size',
      '3',
      '--exact',
      '--out',
      out,
      ...extra,
    ];
    const single = join(tmp.dir, 'exact-single');
    const sharded = join(tmp.dir, 'exact-sharded');
    const [one, s0, killed] = await Promise.all([
      runBin(args(single)),
      runBin(args(sharded, ['--shard', '0/2'])),
      // 50 images per shard, a progress line every 5: killed at image 30, after the state was
      // committed at image 25 and the scores of a few more images were appended to its files
      runBin(args(sharded, ['--shard', '1/2']), {}, 6),
    ]);
    expect(one.code, one.stderr).toBe(0);
    expect(s0.code, s0.stderr).toBe(0);
    expect(killed.signal).toBe('SIGKILL');
    const dir = join(sharded, 'shard-1-of-2');
    const index = JSON.parse(await readFile(join(dir, 'session-state.json'), 'utf8'));
    expect(index.meta.firstPass).toBe(false);
    expect(index.session.frames.test).toBe(25);
    // resumed from the state committed at image 25 (what was appended after it is cut off)
    const resumed = await runBin(args(sharded, ['--shard', '1/2', '--json']));
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ images: 25, componentPass: 'pending' });
    const done = JSON.parse(await readFile(join(dir, 'session-state.json'), 'utf8'));
    expect(done.meta.firstPass).toBe(true);
    // the index is small (no scores in it); the scores are 4 bytes each in exact/
    const pos = done.session.scores.scores.test.acc.positives;
    const neg = done.session.scores.scores.test.acc.negatives;
    expect((await stat(join(dir, 'session-state.json'))).size).toBeLessThan(40_000);
    expect((await stat(join(dir, 'exact/0-0-acc.pos.f32'))).size).toBe(4 * pos);
    expect((await stat(join(dir, 'exact/0-0-acc.neg.f32'))).size).toBe(4 * neg);
    const mt = JSON.parse(await readFile(join(dir, 'timings.json'), 'utf8'));
    expect(mt.runs.length).toBeGreaterThanOrEqual(1);

    const merged = join(tmp.dir, 'exact-merged');
    const m1 = await cli(['merge', sharded, '--out', merged, '--json']);
    expect(m1.code, m1.stderr).toBe(0);
    const file = JSON.parse(m1.stdout).componentThresholds;
    const pass2 = await Promise.all([
      runBin(args(sharded, ['--shard', '0/2', '--component-thresholds', file])),
      runBin(args(sharded, ['--shard', '1/2', '--component-thresholds', merged])),
    ]);
    for (const r of pass2) expect(r.code, r.stderr).toBe(0);
    const m2 = await cli([
      'merge',
      join(sharded, 'shard-1-of-2'),
      join(sharded, 'shard-0-of-2'),
      '--out',
      merged,
    ]);
    expect(m2.code, m2.stderr).toBe(0);
    expect(await readFile(join(merged, 'metrics.json'), 'utf8')).toBe(
      await readFile(join(single, 'metrics.json'), 'utf8'),
    );
    // a complete shard run again does nothing
    const again = await runBin(
      args(sharded, ['--shard', '1/2', '--component-thresholds', file, '--json']),
    );
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ images: 0, componentPass: 'done' });
  }, 120_000);
  it('StreetHazards (two folds, per-image, cross-calibration at ×0.5, open-mIoU) in 3 shards, one split inside a fold: the same metrics.json', async () => {
    const root = join(tmp.dir, 'sh');
    const shMaps = join(tmp.dir, 'sh-maps');
    await makeStreetHazards(root);
    const r = random(3);
    for (const fold of ['t5', 't6'])
      for (let i = 0; i < 2; i++) {
        const scores = Float32Array.from({ length: SH_W * SH_H }, () => r() * 4 - 2);
        const closed = Uint8Array.from({ length: SH_W * SH_H }, (_, p) => (p * 7 + i) % 12);
        await writeNpy(join(shMaps, fold, `${i}.scores.npy`), scores, [SH_H, SH_W], '<f4');
        await writeNpy(join(shMaps, fold, `${i}.closed.npy`), closed, [SH_H, SH_W], '|u1');
      }
    const args = (out: string, extra: readonly string[] = []) => [
      'eval',
      '--scores',
      shMaps,
      '--dataset',
      'streethazards',
      '--root',
      root,
      '--out',
      out,
      ...extra,
    ];
    const single = join(tmp.dir, 'sh-single');
    const one = await cli(args(single));
    expect(one.code, one.stderr).toBe(0);
    const doc = JSON.parse(await readFile(join(single, 'metrics.json'), 'utf8'));
    expect(doc.openSet.thresholdSource).toBe('cross-calibration');
    // float32 maps: one process counts open-mIoU at the thresholds in a second pass (no note)
    expect(JSON.stringify(doc.notes)).not.toMatch(/open-mIoU: \d+ scores/);
    const sharded = join(tmp.dir, 'sh-sharded');
    const shards = (extra: readonly string[]) =>
      Promise.all(
        [0, 1, 2].map((i) => cli(args(sharded, ['--shard', `${i}/3`, '--json', ...extra]))),
      );
    for (const s of await shards([])) {
      expect(s.code, s.stderr).toBe(0);
      expect(JSON.parse(s.stdout).componentPass).toBe('pending');
    }
    // the first merge: the open-set thresholds of the merged first pass, for the second pass
    const m1 = await cli(['merge', sharded, '--out', join(tmp.dir, 'sh-merged'), '--json']);
    expect(m1.code, m1.stderr).toBe(0);
    const pending = JSON.parse(m1.stdout);
    expect(pending.status).toBe('component-pass-needed');
    expect(Object.keys(pending.thresholds).sort()).toEqual([
      'open-set/t5/scores',
      'open-set/t6/scores',
    ]);
    expect(pending.thresholds['open-set/t5/scores']).toBe(doc.openSet.folds[0].threshold);
    for (const s of await shards(['--component-thresholds', pending.componentThresholds])) {
      expect(s.code, s.stderr).toBe(0);
      expect(JSON.parse(s.stdout).componentPass).toBe('done');
    }
    const m = await cli(['merge', sharded, '--out', join(tmp.dir, 'sh-merged')]);
    expect(m.code, m.stderr).toBe(0);
    expect(await readFile(join(tmp.dir, 'sh-merged', 'metrics.json'), 'utf8')).toBe(
      await readFile(join(single, 'metrics.json'), 'utf8'),
    );
  }, 60_000);
});

describe('eval --checkpoint --shard', () => {
  it('SMIYC and StreetHazards from a checkpoint: the first pass caches maps in the shard folder for the second pass; merge = one process', async () => {
    const sh = join(tmp.dir, 'ck-sh');
    const ade = join(tmp.dir, 'ck-ade');
    const sm = join(tmp.dir, 'ck-smiyc');
    const run = join(tmp.dir, 'ck-run');
    await Promise.all([makeStreetHazards(sh), makeAde(ade), makeSmiyc(sm)]);
    const t = await cli(fixtureTrainArgs(sh, ade, run, 1));
    expect(t.code, t.stderr).toBe(0);
    const args = (out: string, extra: string[] = []) =>
      fixtureEvalArgs(run, 'smiyc-anomaly', sm, out, [
        '--min-prediction-size',
        '2',
        '--min-instance-size',
        '2',
        ...extra,
      ]);
    const single = join(tmp.dir, 'ck-single');
    expect((await cli(args(single))).code).toBe(0);
    const sharded = join(tmp.dir, 'ck-sharded');
    for (const i of [0, 1]) expect((await cli(args(sharded, ['--shard', `${i}/2`]))).code).toBe(0);
    expect((await readdir(join(sharded, 'shard-1-of-2', 'scores'))).length).toBe(1);
    const merged = join(tmp.dir, 'ck-merged');
    const m1 = await cli(['merge', sharded, '--out', merged, '--json']);
    expect(JSON.parse(m1.stdout).status).toBe('component-pass-needed');
    for (const i of [0, 1]) {
      const r = await cli(args(sharded, ['--shard', `${i}/2`, '--component-thresholds', merged]));
      expect(r.code, r.stderr).toBe(0);
    }
    // the cache is gone once the component pass is done
    expect(await stat(join(sharded, 'shard-1-of-2', 'scores')).catch(() => null)).toBeNull();
    const m2 = await cli(['merge', sharded, '--out', merged]);
    expect(m2.code, m2.stderr).toBe(0);
    const doc = await readFile(join(merged, 'metrics.json'), 'utf8');
    expect(doc).toBe(await readFile(join(single, 'metrics.json'), 'utf8'));
    expect(JSON.parse(doc).context.backend).toBe('wasm');
    // StreetHazards from the checkpoint: float32 scores, so open-mIoU is counted again at the
    // cross-calibrated thresholds, from the cache (maps + closed predictions); merge = one process
    const shArgs = (out: string, extra: string[] = []) =>
      fixtureEvalArgs(run, 'streethazards', sh, out, extra);
    const shSingle = join(tmp.dir, 'ck-sh-single');
    const one = await cli(shArgs(shSingle));
    expect(one.code, one.stderr).toBe(0);
    const shDoc = await readFile(join(shSingle, 'metrics.json'), 'utf8');
    expect(JSON.parse(shDoc).openSet.thresholdSource).toBe('cross-calibration');
    expect(JSON.stringify(JSON.parse(shDoc).notes)).not.toMatch(/open-mIoU: \d+ scores/);
    const shSharded = join(tmp.dir, 'ck-sh-sharded');
    for (const i of [0, 1])
      expect((await cli(shArgs(shSharded, ['--shard', `${i}/2`]))).code).toBe(0);
    expect(await readdir(join(shSharded, 'shard-1-of-2', 'scores'))).toContain('closed');
    const shMerged = join(tmp.dir, 'ck-sh-merged');
    const p1 = JSON.parse((await cli(['merge', shSharded, '--out', shMerged, '--json'])).stdout);
    expect(p1.status).toBe('component-pass-needed');
    expect(Object.keys(p1.thresholds).every((k) => k.startsWith('open-set/'))).toBe(true);
    for (const i of [0, 1]) {
      const r = await cli(
        shArgs(shSharded, ['--shard', `${i}/2`, '--component-thresholds', shMerged]),
      );
      expect(r.code, r.stderr).toBe(0);
    }
    expect((await cli(['merge', shSharded, '--out', shMerged])).code).toBe(0);
    expect(await readFile(join(shMerged, 'metrics.json'), 'utf8')).toBe(shDoc);
  }, 120_000);
});

describe('merge refuses states that are not the shards of one run', () => {
  const base = () => join(tmp.dir, 'refuse');
  const shardArgs = (out: string, shard: string, extra: readonly string[] = []) =>
    smiycArgs(out, ['--shard', shard, '--percentile-bins', '0', ...extra]);

  beforeAll(async () => {
    for (const [out, shard, extra] of [
      ['a', '0/2', []],
      ['a', '1/2', []],
      ['b', '1/2', ['--score-rounding', 'float32']],
      ['c', '1/3', []],
      ['d', '1/2', ['--mode', 'exact']],
    ] as const) {
      const r = await cli(shardArgs(join(base(), out), shard, extra));
      expect(r.code, r.stderr).toBe(0);
    }
  }, 60_000);

  it('names what differs, what is missing, duplicated or unfinished', async () => {
    const merge = (...states: string[]) =>
      cli(['merge', ...states.map((s) => join(base(), s)), '--out', join(base(), 'out')]);
    let r = await merge('a/shard-0-of-2');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/expected all 2 shards, got 1; missing 1\/2 \(shard-1-of-2\)/);
    r = await merge('a/shard-0-of-2', 'b/shard-1-of-2');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /is a shard of another run .*scoreRounding differs: float32 vs float16/,
    );
    r = await merge('a/shard-0-of-2', 'd/shard-1-of-2');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is a shard of another run .*mode differs: exact vs histogram/);
    r = await merge('a/shard-0-of-2', 'c/shard-1-of-3');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/shards differ: 3 vs 2/);
    await cp(join(base(), 'a/shard-1-of-2'), join(base(), 'copy'), { recursive: true });
    r = await merge('a', 'copy');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/got shard 1\/2 twice: .*a\/shard-1-of-2 and .*copy/);
    r = await merge('nowhere');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no such folder/);
    // another run's component thresholds are refused by eval, an unfinished shard by merge
    const ok = await merge('a');
    expect(ok.code, ok.stderr).toBe(0);
    const t = join(base(), 'out', 'component-thresholds.json');
    const wrong = await cli(
      shardArgs(join(base(), 'b'), '1/2', [
        '--score-rounding',
        'float32',
        '--component-thresholds',
        t,
      ]),
    );
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(
      /--component-thresholds .* belongs to another run .*scoreRounding differs/,
    );
    const ct = await cli(smiycArgs(join(base(), 'x'), ['--component-thresholds', t]));
    expect(ct.code).toBe(2);
    expect(ct.stderr).toMatch(/expected --shard/);
    await rm(join(base(), 'a/shard-1-of-2'), { recursive: true });
    const killed = join(base(), 'a/shard-1-of-2');
    await cp(join(base(), 'copy'), killed, { recursive: true });
    const idx = JSON.parse(await readFile(join(killed, 'session-state.json'), 'utf8'));
    idx.meta.firstPass = false;
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(killed, 'session-state.json'), JSON.stringify(idx));
    r = await merge('a');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/expected finished shards, got 1\/2 .* unfinished/);
  }, 60_000);
});

describe('shard index resolution', () => {
  it('takes n from --shard /n or --shards, i from --shard or the job array variables', () => {
    expect(resolveShard(undefined, undefined, { JOB_COMPLETION_INDEX: '3' })).toBeNull();
    expect(resolveShard('2/4', undefined, {})).toMatchObject({
      index: 2,
      count: 4,
      indexFrom: '--shard',
    });
    expect(resolveShard('/4', undefined, { JOB_COMPLETION_INDEX: '1' })).toMatchObject({
      index: 1,
      count: 4,
      indexFrom: 'JOB_COMPLETION_INDEX',
    });
    expect(resolveShard(undefined, 4, { SLURM_ARRAY_TASK_ID: '3' })).toMatchObject({
      index: 3,
      indexFrom: 'SLURM_ARRAY_TASK_ID',
    });
    expect(resolveShard('/2', 2, { AWS_BATCH_JOB_ARRAY_INDEX: '0' })).toMatchObject({
      index: 0,
      indexFrom: 'AWS_BATCH_JOB_ARRAY_INDEX',
    });
    // a given i wins, with a note
    const won = resolveShard('1/4', undefined, { JOB_COMPLETION_INDEX: '2' });
    expect(won).toMatchObject({ index: 1, note: '--shard 1/4 overrides JOB_COMPLETION_INDEX=2' });
    // the same index from two variables is fine
    expect(
      resolveShard('/4', undefined, { JOB_COMPLETION_INDEX: '2', SLURM_ARRAY_TASK_ID: '2' }),
    ).toMatchObject({ index: 2 });
  });

  it('refuses conflicts and out-of-range indices with a readable message', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err(() => resolveShard('1/4', 3, {}))).toMatch(
      /expected one shard count, got --shard 1\/4 and --shards 3/,
    );
    expect(err(() => resolveShard('/4', undefined, {}))).toMatch(
      /expected the shard index from --shard i\/4 or one of JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID, AWS_BATCH_JOB_ARRAY_INDEX, got none/,
    );
    expect(
      err(() =>
        resolveShard(undefined, 4, { JOB_COMPLETION_INDEX: '1', SLURM_ARRAY_TASK_ID: '2' }),
      ),
    ).toMatch(
      /expected one shard index from the environment, got JOB_COMPLETION_INDEX=1 and SLURM_ARRAY_TASK_ID=2/,
    );
    expect(err(() => resolveShard(undefined, 4, { SLURM_ARRAY_TASK_ID: '4' }))).toMatch(
      /expected a shard index in 0\.\.3 for 4 shards, got 4 from SLURM_ARRAY_TASK_ID .*--array=0-3/,
    );
    expect(
      err(() =>
        resolveShard(undefined, 4, { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '8' }),
      ),
    ).toMatch(
      /expected a Slurm array of 4 tasks \(#SBATCH --array=0-3\).*SLURM_ARRAY_TASK_COUNT=8/,
    );
    expect(err(() => resolveShard(undefined, 4, { JOB_COMPLETION_INDEX: 'x' }))).toMatch(
      /JOB_COMPLETION_INDEX: expected a non-negative integer shard index, got "x"/,
    );
    expect(err(() => resolveShard('4', undefined, {}))).toMatch(/--shard: expected i\/n .* or \/n/);
    expect(err(() => resolveShard('0/0', undefined, {}))).toMatch(/n >= 1/);
  });

  it('eval reads the index from the environment (in-process, JOB_COMPLETION_INDEX)', async () => {
    const out = join(tmp.dir, 'env');
    const r = await cli([...smiycArgs(out, ['--shard', '/2', '--json'])], {
      io: { env: { JOB_COMPLETION_INDEX: '1' } },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      shard: { index: 1, count: 2, start: 5, end: 11 },
      total: 11,
      componentPass: 'pending',
    });
    expect(r.stderr).toMatch(/index from JOB_COMPLETION_INDEX/);
  });
});
