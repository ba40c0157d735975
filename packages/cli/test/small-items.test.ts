// Issue 18, item 6: a read-only output folder is reported as what it is, numeric flags are
// checked before anything is written, `train --dataset` offers only what train accepts, and a
// mistyped command or help topic gets a suggestion.
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATASET_NAMES, TRAINING_DATASET_NAMES } from '@densehybrid/data-mixing';
import { COMMANDS } from '@densehybrid/cli';
import { cli, fixtureTrainArgs, tempDir } from './helpers.js';
import { makeAde, makeFishyscapes, makeStreetHazards } from './fixtures.js';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const isRoot = process.getuid?.() === 0;
/** An unprivileged account for running the bin when the tests run as root (which chmod does not stop). */
const NOBODY = 65534;
/** util-linux' unshare(1): a private mount namespace for the read-only tmpfs. */
const UNSHARE = 'unshare';

/**
 * Whether this machine lets a test mount a read-only tmpfs in a private mount namespace (root
 * with CAP_SYS_ADMIN and util-linux' unshare): the only way to get a real EROFS without touching
 * the machine's own mounts.
 */
function canMountReadOnly(): boolean {
  if (!isRoot || process.platform !== 'linux') return false;
  const dir = mkdtempSync(join(tmpdir(), 'dh-ro-probe-'));
  try {
    const r = spawnSync(
      UNSHARE,
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount -t tmpfs -o ro tmpfs "$1"',
        'sh',
        dir,
      ],
      { stdio: 'ignore', timeout: 10_000 },
    );
    return r.status === 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the built bin; `readOnly`: with that folder a read-only tmpfs; `uid`: as that user. */
function runBin(
  args: readonly string[],
  options: { readOnly?: string; uid?: number } = {},
): Promise<{ code: number | null; stderr: string }> {
  const command = options.readOnly === undefined ? process.execPath : UNSHARE;
  const argv =
    options.readOnly === undefined
      ? [bin, ...args]
      : [
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount -t tmpfs -o ro tmpfs "$1" && shift && exec "$@"',
          'sh',
          options.readOnly,
          process.execPath,
          bin,
          ...args,
        ];
  return new Promise((resolve) => {
    const child = spawn(command, argv, {
      env: { ...process.env, DENSEHYBRID_BACKEND: 'wasm' },
      ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

let tmp: Awaited<ReturnType<typeof tempDir>>;
let sh: string;
let ade: string;
let fs: string;

beforeAll(async () => {
  tmp = await tempDir('dh-small-');
  // readable by the unprivileged account the read-only test runs as under root
  await chmod(tmp.dir, 0o755);
  sh = join(tmp.dir, 'streethazards');
  ade = join(tmp.dir, 'ade');
  fs = join(tmp.dir, 'fishyscapes');
  await Promise.all([makeStreetHazards(sh), makeAde(ade), makeFishyscapes(fs)]);
}, 60_000);
afterAll(async () => tmp.cleanup());

const exists = async (p: string): Promise<boolean> =>
  (await stat(p).catch(() => undefined)) !== undefined;

describe('a read-only output folder', () => {
  it.runIf(canMountReadOnly())(
    'on a read-only file system: exit 1 and EROFS naming the folder (Node reports ENOENT for it)',
    async () => {
      const ro = join(tmp.dir, 'ro-mount');
      await mkdir(ro);
      const out = join(ro, 'run');
      const r = await runBin(fixtureTrainArgs(sh, ade, out, 1), { readOnly: ro });
      expect(r.code).toBe(1);
      const lines = r.stderr.trim().split('\n');
      const last = lines.at(-1) ?? '';
      expect(last).toMatch(/^densehybrid train: /);
      expect(last).toContain('EROFS: read-only file system');
      expect(last).toContain(out);
      expect(r.stderr).not.toContain('ENOENT');
    },
    60_000,
  );

  it('without write permission (chmod 0555): exit 1 and EACCES naming the folder', async () => {
    const locked = join(tmp.dir, 'locked');
    await mkdir(locked);
    await chmod(locked, 0o555);
    const out = join(locked, 'run');
    // root ignores permissions: run the bin as an unprivileged user there
    const r = isRoot
      ? await runBin(fixtureTrainArgs(sh, ade, out, 1), { uid: NOBODY })
      : await cli(fixtureTrainArgs(sh, ade, out, 1));
    expect(r.code).toBe(1);
    const last = r.stderr.trim().split('\n').at(-1) ?? '';
    expect(last).toMatch(/^densehybrid train: /);
    expect(last).toContain('EACCES: permission denied');
    expect(last).toContain(out);
    expect(await readdir(locked)).toEqual([]);
  }, 60_000);
});

describe('numeric flags', () => {
  it('--learning-rate 0 (or below) is a usage error, exit 2, before anything is written', async () => {
    for (const [value, shown] of [
      ['0', '"0"'],
      ['-1e-4', '"-1e-4"'],
    ] as const) {
      const out = join(tmp.dir, `lr-${value}`);
      const r = await cli(fixtureTrainArgs(sh, ade, out, 1, ['--learning-rate', value]));
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        `densehybrid train: --learning-rate: expected a value > 0, got ${shown}\n`,
      );
      expect(await exists(out)).toBe(false);
    }
    // the same from a --config file
    const config = join(tmp.dir, 'lr.json');
    await writeFile(config, JSON.stringify({ learningRate: 0 }));
    const out = join(tmp.dir, 'lr-config');
    const r = await cli([
      ...fixtureTrainArgs(sh, ade, out, 1).filter(
        (a, i, all) => a !== '--learning-rate' && all[i - 1] !== '--learning-rate',
      ),
      '--config',
      config,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `densehybrid train: --learning-rate (in ${config}): expected a value > 0, got 0\n`,
    );
    expect(await exists(out)).toBe(false);
  });
});

describe('train --dataset', () => {
  it('offers only the adapters train accepts and refuses the others as a usage error', async () => {
    const train = COMMANDS.find((c) => c.name === 'train');
    expect(train?.flags['dataset']?.choices).toEqual(TRAINING_DATASET_NAMES);
    const help = await cli(['train', '--help']);
    expect(help.stdout).toMatch(/--dataset <streethazards\|cityscapes\|folder>\s/);
    for (const name of DATASET_NAMES.filter(
      (n) => !(TRAINING_DATASET_NAMES as readonly string[]).includes(n),
    )) {
      const out = join(tmp.dir, `ds-${name}`);
      const r = await cli([
        'train',
        '--dataset',
        name,
        '--root',
        fs,
        '--negatives',
        'none',
        '--out',
        out,
      ]);
      expect(r.code, name).toBe(2);
      expect(r.stderr).toBe(
        `densehybrid train: --dataset: expected one of streethazards | cityscapes | folder, got "${name}"\n`,
      );
      expect(await exists(out)).toBe(false);
    }
  });
});

describe('suggestions and help', () => {
  it('a mistyped command or help topic gets "did you mean", exit 2', async () => {
    const typo = await cli(['trian']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/^densehybrid: unknown command "trian" \(did you mean "train"\?\)/);
    const topic = await cli(['help', 'evl']);
    expect(topic.code).toBe(2);
    expect(topic.stderr).toMatch(/^densehybrid: unknown command "evl" \(did you mean "eval"\?\)/);
    const ok = await cli(['help', 'eval']);
    expect([ok.code, ok.stdout.split('\n')[0]]).toEqual([0, 'usage: densehybrid eval [flags]']);
  });

  it('no command names a value <string> or shows two parentheses of notes', async () => {
    for (const c of COMMANDS) {
      const r = await cli([c.name, '--help']);
      const flags = r.stdout.slice(r.stdout.indexOf('flags:'));
      expect(flags, c.name).not.toContain('<string>');
      expect(flags, c.name).not.toMatch(/\) \(|\)\(/);
    }
  });
});
