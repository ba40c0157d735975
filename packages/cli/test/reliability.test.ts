// Issue 18's reliability suite: `kill -9` (SIGKILL) of the real `densehybrid` process at seeded
// random moments of train / eval / infer, then the command again (train: with --resume when a
// state was saved), must give the bytes of an uninterrupted run. Bounded: 3 kills per command on
// tiny fixtures. A moment is seeded: the n-th progress line of the run (one n in each third of
// the reference run's lines, so one kill is early, one in the middle, one late) plus 0–150 ms
// (which step, image or write that lands in varies a little with the machine's speed).
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, fixtureTrainArgs, tempDir } from './helpers.js';
import { makeAde, makeFolder, makeStreetHazards } from './fixtures.js';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const KILLS = 3;

/** mulberry32: the kill moments are a function of the seed. */
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

interface BinRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** A progress line on stderr (non-TTY: one per step, image or 10 %). */
const PROGRESS = /^(train|eval|infer) +\d+\/\d+/gm;
const progressLines = (stderr: string) => stderr.match(PROGRESS)?.length ?? 0;

/** Runs bin.js; with `kill`, SIGKILLs it `kill.ms` after its `kill.line`-th progress line. */
function runBin(
  args: readonly string[],
  kill?: { readonly line: number; readonly ms: number },
): Promise<BinRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, DENSEHYBRID_BACKEND: 'wasm', DENSEHYBRID_WASM_THREADS: '1' },
    });
    let stderr = '';
    let armed = kill === undefined;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!armed && kill !== undefined && progressLines(stderr) >= kill.line) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), kill.ms);
      }
    });
    child.stdout.resume();
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

/** Every file below `dir` (relative paths, sorted). */
async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (sub: string): Promise<void> => {
    for (const e of await readdir(join(dir, sub), { withFileTypes: true })) {
      const rel = sub === '' ? e.name : `${sub}/${e.name}`;
      if (e.isDirectory()) await walk(rel);
      else out.push(rel);
    }
  };
  await walk('');
  return out.sort();
}

/**
 * A file's bytes, with what differs between two identical runs taken out: write times
 * (`createdAt`), wall-clock seconds.
 */
async function comparable(path: string): Promise<string> {
  const bytes = await readFile(path);
  if (path.endsWith('checkpoint.json')) {
    const manifest = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    delete manifest['createdAt'];
    return JSON.stringify(manifest);
  }
  // timings.json: wall-clock seconds only
  if (path.endsWith('timings.json')) return '';
  if (path.endsWith('metrics.json')) {
    const doc = JSON.parse(bytes.toString('utf8')) as { context: Record<string, unknown> };
    delete doc.context['seconds'];
    return JSON.stringify(doc);
  }
  if (path.endsWith('report.md')) return bytes.toString('utf8').replace(/ in [\d.]+ s/g, ' in … s');
  return bytes.toString('base64');
}

/** `out` holds the same files as `reference`, with the same content. */
async function expectSameOutput(out: string, reference: string, what: string): Promise<void> {
  const names = await files(reference);
  expect(await files(out), what).toEqual(names);
  for (const f of names)
    expect(await comparable(join(out, f)), `${what}: ${f}`).toBe(
      await comparable(join(reference, f)),
    );
  await expect(stat(`${out}.partial`), `${what}: no ${out}.partial left`).rejects.toThrow();
}

let tmp: Awaited<ReturnType<typeof tempDir>>;
let sh: string;
let ade: string;
let folder: string;
let photos: string;
let run: string;

beforeAll(async () => {
  tmp = await tempDir('dh-reliability-');
  sh = join(tmp.dir, 'streethazards');
  ade = join(tmp.dir, 'ade');
  folder = join(tmp.dir, 'folder');
  photos = join(tmp.dir, 'photos');
  run = join(tmp.dir, 'run');
  await Promise.all([makeStreetHazards(sh), makeAde(ade), makeFolder(folder)]);
  // eval: 55 images, so that it saves its state (every 25 images) twice before it ends
  for (let i = 3; i < 55; i++) {
    for (const sub of ['images', 'labels'])
      await copyFile(join(folder, sub, `img${i % 3}.png`), join(folder, sub, `img${i}.png`));
  }
  // infer: 12 images in two subfolders
  for (let i = 0; i < 12; i++) {
    await mkdir(join(photos, `p${i % 2}`), { recursive: true });
    await copyFile(
      join(folder, 'images', `img${i % 3}.png`),
      join(photos, `p${i % 2}`, `${i}.png`),
    );
  }
  const r = await cli(fixtureTrainArgs(sh, ade, run, 1));
  if (r.code !== 0) throw new Error(`training fixture failed: ${r.stderr}`);
}, 120_000);
afterAll(async () => tmp.cleanup());

/**
 * The reference run, then KILLS runs killed at seeded moments and finished by `resume(out)`;
 * each must end with the reference's output.
 */
async function killAndResume(
  seed: number,
  command: (out: string) => string[],
  resume: (out: string) => Promise<string[]>,
  outputOf: (out: string) => string,
): Promise<void> {
  const reference = join(tmp.dir, `ref-${seed}`);
  const ref = await runBin(command(reference));
  expect(ref.code, ref.stderr).toBe(0);
  const lines = progressLines(ref.stderr);
  const next = random(seed);
  for (let k = 0; k < KILLS; k++) {
    const out = join(tmp.dir, `kill-${seed}-${k}`);
    const at = { line: Math.floor(((k + next()) / KILLS) * lines), ms: Math.floor(150 * next()) };
    const killed = await runBin(command(out), at);
    const what = `kill ${k} at progress line ${at.line}/${lines} + ${at.ms} ms`;
    if (killed.signal !== 'SIGKILL') expect(killed.code, `${what}: ${killed.stderr}`).toBe(0);
    const resumed = await runBin(await resume(out));
    expect(resumed.code, `${what}, resumed: ${resumed.stderr}`).toBe(0);
    await expectSameOutput(outputOf(out), outputOf(reference), what);
  }
}

describe('kill -9 at random points, then resume: the bytes of an uninterrupted run', () => {
  it('train (weights, Adam state, history, run.json; no temporary folders left)', async () => {
    const command = (out: string) => [
      ...fixtureTrainArgs(sh, ade, out, 6, ['--checkpoint-every', '1']),
    ];
    await killAndResume(
      1801,
      command,
      async (out) => {
        // --resume when a state (or the copy an interrupted replace set aside) exists
        const names = await readdir(out).catch(() => [] as string[]);
        const saved = names.some((n) => n === 'state' || n.startsWith('.state.old-'));
        return saved ? [...command(out), '--resume'] : command(out);
      },
      (out) => out,
    );
  }, 120_000);

  it('eval (metrics.json, report.md, pr.png, roc.png)', async () => {
    const command = (out: string) => [
      'eval',
      '--checkpoint',
      run,
      '--dataset',
      'folder',
      '--root',
      folder,
      '--out',
      out,
    ];
    await killAndResume(
      1802,
      command,
      async (out) => command(out),
      (out) => out,
    );
  }, 120_000);

  it('infer (every image file and infer.json)', async () => {
    const command = (out: string) => ['infer', '--checkpoint', run, photos, '--out', out];
    await killAndResume(
      1803,
      command,
      async (out) => command(out),
      (out) => out,
    );
  }, 120_000);
});
