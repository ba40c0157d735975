/**
 * Reliability: what the disk can do to a run. A weights file corrupted in place (same size) is
 * refused by name; a full disk fails a checkpoint or evaluation-state write with an IO error,
 * leaves the previous state as it was, and once space is freed the same command resumes to the
 * bytes of an uninterrupted run. The full disk is a tiny tmpfs, mounted where root may mount one
 * (otherwise those tests are skipped, saying why).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { cp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, disposeCheckpoint } from '@densehybrid/core';
import { cli, fixtureEvalArgs, fixtureTrainArgs, tempDir } from './helpers.js';
import { makeAde, makeStreetHazards } from './fixtures.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let sh: string;
let ade: string;
/** A 4-step run, never interrupted: what every resumed run must end at. */
let reference: string;
const STEPS = 4;

const train = (out: string, extra: readonly string[] = []) =>
  fixtureTrainArgs(sh, ade, out, STEPS, ['--checkpoint-every', '1', ...extra]);

beforeAll(async () => {
  tmp = await tempDir('dh-reliability-');
  sh = join(tmp.dir, 'streethazards');
  ade = join(tmp.dir, 'ade');
  reference = join(tmp.dir, 'reference');
  await Promise.all([makeStreetHazards(sh), makeAde(ade)]);
  const r = await cli(train(reference));
  if (r.code !== 0) throw new Error(`reference run failed: ${r.stderr}`);
}, 120_000);
afterAll(async () => tmp?.cleanup());

const sha = async (path: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

/** Every file under `dir` (relative path → SHA-256). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true })) {
    const path = join(dir, entry);
    if ((await stat(path)).isFile()) out[relative(dir, path)] = await sha(path);
  }
  return out;
}

/** The lines of a command's stderr that are its error (`densehybrid <cmd>: …`). */
const errorLines = (stderr: string, command: string): string[] =>
  stderr.split('\n').filter((l) => l.startsWith(`densehybrid ${command}: `));

describe('a corrupted weights file', () => {
  it('of the same size: eval fails with MODEL_LOAD naming the file and both hashes (exit 1, one line)', async () => {
    const model = join(tmp.dir, 'corrupted');
    await cp(join(reference, 'model'), model, { recursive: true });
    const weights = join(model, 'variables.safetensors');
    const bytes = await readFile(weights);
    const good = createHash('sha256').update(bytes).digest('hex');
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] as number) ^ 0x10; // one weight, same size
    await writeFile(weights, bytes);
    const bad = createHash('sha256').update(bytes).digest('hex');
    const out = join(tmp.dir, 'eval-corrupted');
    const r = await cli(fixtureEvalArgs(model, 'streethazards', sh, out));
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr, 'eval')).toEqual([
      `densehybrid eval: loadCheckpoint: expected ${JSON.stringify(weights)} with SHA-256 ${good} (per checkpoint.json), got ${bad} (corrupted or replaced file)`,
    ]);
    expect(r.stdout).toBe('');
    // Nothing was written for it.
    await expect(stat(out)).rejects.toThrow();
    await expect(stat(`${out}.partial`)).rejects.toThrow();
  });
});

/** util-linux' mount(8) and umount(8), system tools (not npm packages). */
const [MOUNT, UMOUNT] = ['mount', 'umount'];

/** A tmpfs of `size` at a new folder, or why there cannot be one here. */
function mountTmpfs(dir: string, size: string): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root (mounting a tmpfs needs root)';
  const r = spawnSync(MOUNT, ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], {
    encoding: 'utf8',
  });
  if (r.error) return `mount: ${r.error.message}`;
  if (r.status !== 0) return `mount -t tmpfs failed: ${r.stderr.trim() || `exit ${r.status}`}`;
  return undefined;
}

/** Fills the file system holding `dir` to the last byte (a file `filler` there). */
function fillDisk(dir: string): void {
  const fd = openSync(join(dir, 'filler'), 'a');
  try {
    for (const size of [1 << 20, 1 << 12, 1]) {
      const chunk = Buffer.alloc(size, 7);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
}

describe('a full disk (tiny tmpfs)', () => {
  let disk: string;
  let unavailable: string | undefined;
  beforeAll(async () => {
    disk = join(tmp.dir, 'disk');
    await mkdir(disk);
    unavailable = mountTmpfs(disk, '16m');
    if (unavailable) console.warn(`full-disk tests skipped: ${unavailable}`);
  });
  afterAll(() => {
    if (!unavailable) spawnSync(UMOUNT, ['-l', disk]);
  });

  it('train: the checkpoint write fails with IO, the previous state stays, and --resume after freeing space ends at the uninterrupted bytes', async (ctx) => {
    if (unavailable) ctx.skip(`no tmpfs to fill: ${unavailable}`);
    const run = join(disk, 'run');
    let filled = false;
    // The disk fills up during step 2 (after its progress line, before its checkpoint).
    const full = await cli(train(run), {
      io: {
        stderr: (t) => {
          if (!filled && /train {2}2\/4/.test(t)) {
            filled = true;
            fillDisk(disk);
          }
        },
      },
    });
    expect(filled).toBe(true);
    expect(full.code).toBe(1);
    const lines = errorLines(full.stderr, 'train');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^densehybrid train: saveCheckpoint: expected to write the directory ".*state", got ENOSPC/,
    );
    // The state of step 1 is intact, and nothing half-written is left beside it.
    const state = await loadCheckpoint(join(run, 'state'));
    expect(state.meta['step']).toBe(1);
    disposeCheckpoint(state);
    expect((await readdir(run)).filter((n) => n.startsWith('.'))).toEqual([]);

    await rm(join(disk, 'filler'));
    const resumed = await cli(train(run, ['--resume']));
    expect(resumed.stderr).not.toMatch(/^densehybrid train: /m);
    expect(resumed.code).toBe(0);
    for (const file of ['model/variables.safetensors', 'state/optimizer.safetensors'])
      expect(await sha(join(run, file)), file).toBe(await sha(join(reference, file)));
    const end = await loadCheckpoint(join(run, 'state'));
    expect(end.meta['step']).toBe(STEPS);
    disposeCheckpoint(end);
  }, 120_000);

  it('eval: the state write fails with IO, the interrupted state stays, and the same command after freeing space gives the uninterrupted metrics', async (ctx) => {
    if (unavailable) ctx.skip(`no tmpfs to fill: ${unavailable}`);
    const clean = join(tmp.dir, 'eval-clean');
    expect((await cli(fixtureEvalArgs(reference, 'streethazards', sh, clean))).code).toBe(0);
    const out = join(disk, 'eval');
    const args = fixtureEvalArgs(reference, 'streethazards', sh, out);
    // Interrupted (Ctrl-C) after the first image: a resumable state in <out>.partial.
    const controller = new AbortController();
    const first = await cli(args, {
      io: {
        signal: controller.signal,
        stderr: (t) => {
          if (/eval {2}1\/4/.test(t)) controller.abort();
        },
      },
    });
    expect(first.code).toBe(130);
    const before = await snapshot(`${out}.partial`);
    expect(Object.keys(before).length).toBeGreaterThan(0);

    fillDisk(disk);
    const full = await cli(args);
    expect(full.code).toBe(1);
    const lines = errorLines(full.stderr, 'eval');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ENOSPC/);
    expect(await snapshot(`${out}.partial`)).toEqual(before);
    await expect(stat(out)).rejects.toThrow();

    await rm(join(disk, 'filler'));
    const resumed = await cli(args);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/resuming the interrupted evaluation/);
    const metrics = (dir: string) =>
      readFile(join(dir, 'metrics.json'), 'utf8').then(
        (t) => JSON.parse(t) as Record<string, unknown>,
      );
    const [a, b] = [await metrics(out), await metrics(clean)];
    for (const key of ['anomaly', 'perFoldAnomaly', 'openSet', 'closed', 'scores'])
      expect(a[key], key).toEqual(b[key]);
  }, 120_000);
});
