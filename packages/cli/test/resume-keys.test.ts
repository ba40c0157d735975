// Issue 18: every resumable output carries a key of what determines it; a rerun with other
// settings is refused (exit 2) naming the differing fields, --fresh starts over. Also infer's
// output names (clashes refused, folders named as the help says) and one-prefix messages.
import { cp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '@densehybrid/metrics-openiou/node';
import { cli, fixtureEvalArgs, fixtureTrainArgs, tempDir } from './helpers.js';
import { makeAde, makeStreetHazards } from './fixtures.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let sh: string;
let ade: string;
/** Two different models: runs with seeds 1 and 2. */
let runA: string;
let runB: string;

const TRAIN = (out: string, steps: number, extra: string[] = []) =>
  fixtureTrainArgs(sh, ade, out, steps, ['--checkpoint-every', '1', ...extra]);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const DIGEST = '[0-9a-f]{12}…';
/** The error lines of a run (its log lines, e.g. the backend's, left out). */
const errors = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('densehybrid '))
    .join('\n');

/** Runs the CLI and aborts it (as Ctrl-C) when stderr matches `when`. */
function interrupted(argv: string[], when: RegExp) {
  const controller = new AbortController();
  return cli(argv, {
    io: {
      signal: controller.signal,
      stderr: (t) => {
        if (when.test(t)) controller.abort();
      },
    },
  });
}

beforeAll(async () => {
  tmp = await tempDir('dh-resume-keys-');
  sh = join(tmp.dir, 'streethazards');
  ade = join(tmp.dir, 'ade');
  runA = join(tmp.dir, 'run-a');
  runB = join(tmp.dir, 'run-b');
  await Promise.all([makeStreetHazards(sh), makeAde(ade)]);
  for (const [run, seed] of [
    [runA, '1'],
    [runB, '2'],
  ] as const) {
    const r = await cli(TRAIN(run, 1, ['--seed', seed]));
    if (r.code !== 0) throw new Error(`training fixture failed: ${r.stderr}`);
  }
}, 120_000);
afterAll(async () => tmp.cleanup());

describe('eval resume key', () => {
  it('refuses to resume the partial evaluation of another checkpoint or score list, and --fresh starts over', async () => {
    const out = join(tmp.dir, 'eval-x');
    const first = await interrupted(
      fixtureEvalArgs(runA, 'streethazards', sh, out),
      /eval {2}1\/4/,
    );
    expect(first.code).toBe(130);
    const statePath = join(`${out}.partial`, '.eval-state/session-state.json');
    const state = await readFile(statePath, 'utf8');

    const other = await cli(fixtureEvalArgs(runB, 'streethazards', sh, out));
    expect(other.code).toBe(2);
    expect(errors(other.stderr)).toMatch(
      new RegExp(
        `^densehybrid eval: --out ${esc(out)} holds a partial evaluation of another run \\(stored vs now: checkpoint differs: ${DIGEST} vs ${DIGEST}\\); rerun with --fresh to start over$`,
      ),
    );
    const scores = await cli(
      fixtureEvalArgs(runA, 'streethazards', sh, out, ['--score', 'hybrid,max-softmax']),
    );
    expect(scores.code).toBe(2);
    expect(errors(scores.stderr)).toMatch(
      /\(stored vs now: scores differ: hybrid vs hybrid,max-softmax\)/,
    );
    const limit = await cli(fixtureEvalArgs(runA, 'streethazards', sh, out, ['--limit', '1']));
    expect(limit.code).toBe(2);
    expect(errors(limit.stderr)).toMatch(
      /images differ: 2,2 vs 1,1; samples differ: .*; limit differs: none vs 1/,
    );
    // the evaluation mode (the benchmark's: histogram here) is part of the key; --exact is --mode exact
    for (const extra of [['--mode', 'exact'], ['--exact']]) {
      const mode = await cli(fixtureEvalArgs(runA, 'streethazards', sh, out, extra));
      expect(mode.code).toBe(2);
      expect(errors(mode.stderr)).toMatch(/\(stored vs now: mode differs: histogram vs exact\)/);
    }
    const both = await cli(
      fixtureEvalArgs(runA, 'streethazards', sh, out, ['--exact', '--mode', 'histogram']),
    );
    expect(both.code).toBe(2);
    expect(errors(both.stderr)).toMatch(
      /--exact: expected no --mode or --mode exact with it \(--exact is an alias of --mode exact\), got --mode histogram/,
    );
    // the refused runs left the state as it was
    expect(await readFile(statePath, 'utf8')).toBe(state);

    const fresh = await cli(fixtureEvalArgs(runB, 'streethazards', sh, out, ['--fresh', '--json']));
    expect(fresh.code).toBe(0);
    const clean = await cli(
      fixtureEvalArgs(runB, 'streethazards', sh, join(tmp.dir, 'eval-b'), ['--json']),
    );
    expect(clean.code).toBe(0);
    const [f, c] = [JSON.parse(fresh.stdout), JSON.parse(clean.stdout)];
    expect(f.anomaly).toEqual(c.anomaly);
    expect(f.openSet).toEqual(c.openSet);
  });
});

describe('infer resume key', () => {
  const inferArgs = (run: string, out: string, inputs: string[], extra: string[] = []) => [
    'infer',
    '--checkpoint',
    run,
    ...inputs,
    '--out',
    out,
    '--backend',
    'wasm',
    ...extra,
  ];

  it('refuses a partial run with another checkpoint, --score or --colormap, and --fresh starts over', async () => {
    const out = join(tmp.dir, 'maps-x');
    const t6 = join(sh, 'test/images/test/t6');
    const first = await interrupted(inferArgs(runA, out, [t6]), /infer {2}1\/2/);
    expect(first.code).toBe(130);
    const partial = (await readdir(`${out}.partial`)).sort();
    const cases: [string[], string][] = [
      [inferArgs(runB, out, [t6]), `checkpoint differs: ${DIGEST} vs ${DIGEST}`],
      [
        inferArgs(runA, out, [t6], ['--score', 'max-softmax']),
        'score differs: hybrid vs max-softmax',
      ],
      [
        inferArgs(runA, out, [t6], ['--colormap', 'viridis']),
        'colormap differs: inferno vs viridis',
      ],
      [
        inferArgs(runB, out, [t6], ['--score', 'max-softmax', '--colormap', 'viridis']),
        `checkpoint differs: ${DIGEST} vs ${DIGEST}; score differs: hybrid vs max-softmax; colormap differs: inferno vs viridis`,
      ],
    ];
    for (const [argv, what] of cases) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(errors(r.stderr)).toMatch(
        new RegExp(
          `^densehybrid infer: --out ${esc(out)} holds the unfinished outputs of another run \\(stored vs now: ${what}\\); rerun with --fresh to start over$`,
        ),
      );
    }
    expect((await readdir(`${out}.partial`)).sort()).toEqual(partial);
    await expect(stat(out)).rejects.toThrow();

    const fresh = await cli([...inferArgs(runB, out, [t6]), '--fresh', '--json']);
    expect(fresh.code).toBe(0);
    expect(JSON.parse(fresh.stdout)).toMatchObject({ skipped: 0, images: ['0', '1'] });
    const clean = join(tmp.dir, 'maps-b');
    expect((await cli(inferArgs(runB, clean, [t6]))).code).toBe(0);
    for (const f of await readdir(clean))
      expect((await readFile(join(out, f))).equals(await readFile(join(clean, f))), f).toBe(true);
  });

  it('refuses to merge into an --out of other settings; --fresh replaces those outputs', async () => {
    const out = join(tmp.dir, 'maps-y');
    const t6 = join(sh, 'test/images/test/t6');
    expect((await cli(inferArgs(runB, out, [t6]))).code).toBe(0);
    const one = join(sh, 'test/images/test/t5/1.png');
    const refused = await cli(inferArgs(runA, out, [one]));
    expect(refused.code).toBe(2);
    expect(errors(refused.stderr)).toMatch(
      new RegExp(
        `^densehybrid infer: --out ${esc(out)} holds the outputs of another run \\(stored vs now: checkpoint differs: ${DIGEST} vs ${DIGEST}\\); rerun with --fresh to replace them$`,
      ),
    );
    // the same settings add to --out: the record lists every image
    const added = await cli(inferArgs(runB, out, [one]));
    expect(added.code).toBe(0);
    const merged = JSON.parse(await readFile(join(out, 'infer.json'), 'utf8'));
    expect(Object.keys(merged.images)).toEqual(['0', '1']);
    expect(merged.images['1'].input).toBe(one);
    expect(merged.images['0'].input).toBe(join(t6, '0.png'));
    const fresh = await cli(inferArgs(runA, out, [one], ['--fresh']));
    expect(fresh.code).toBe(0);
    // runB's 0.* are gone: nothing in --out was made with other settings
    expect((await readdir(out)).sort()).toEqual([
      '1.heatmap.png',
      '1.openset.png',
      '1.overlay.png',
      '1.scores.npy',
      'infer.json',
    ]);
    const record = JSON.parse(await readFile(join(out, 'infer.json'), 'utf8'));
    expect(record).toMatchObject({
      format: 'densehybrid/infer',
      version: 1,
      key: { score: 'hybrid', colormap: 'inferno', normalize: 'minmax', range: null, alpha: 0.5 },
    });
    expect(Object.keys(record.images)).toEqual(['1']);
    expect(record.images['1'].input).toBe(one);
  });
});

describe('train --resume key', () => {
  it('refuses other hyperparameters, names them, and leaves run.json and the state as they were', async () => {
    const out = join(tmp.dir, 'run-resume');
    const first = await interrupted(TRAIN(out, 2), /train {2}1\/2/);
    expect(first.code).toBe(130);
    const runJson = await readFile(join(out, 'run.json'));
    const manifest = await readFile(join(out, 'state/checkpoint.json'));
    const changed = await cli(
      TRAIN(out, 2, ['--resume', '--seed', '9', '--batch-size', '3', '--crop-size', '96']),
    );
    expect(changed.code).toBe(2);
    expect(errors(changed.stderr)).toBe(
      `densehybrid train: --resume: --out ${out} holds the state of another run (stored vs now: batchSize differs: 1 vs 3; cropSize differs: 32 vs 96; seed differs: 1 vs 9); resume with that run's flags (its run.json), or pass --fresh to start over`,
    );
    const lr = await cli(TRAIN(out, 2, ['--resume', '--learning-rate', '0.02', '--steps', '3']));
    expect(lr.code).toBe(2);
    expect(errors(lr.stderr)).toMatch(
      /\(stored vs now: steps differ: 2 vs 3; learningRate differs: 0\.01 vs 0\.02\)/,
    );
    expect((await readFile(join(out, 'run.json'))).equals(runJson)).toBe(true);
    expect((await readFile(join(out, 'state/checkpoint.json'))).equals(manifest)).toBe(true);

    // without run.json the state itself refuses (train()'s resumeKey), still exit 2
    const copy = join(tmp.dir, 'run-resume-copy');
    await cp(out, copy, { recursive: true });
    await rm(join(copy, 'run.json'));
    const state = await cli(TRAIN(copy, 2, ['--resume', '--seed', '9']));
    expect(state.code).toBe(2);
    expect(errors(state.stderr)).toMatch(
      /^densehybrid train: expected the options of the run whose state is in .*run-resume-copy.* \(stored vs now: seed differs: 1 vs 9\)/,
    );
    await expect(stat(join(copy, 'run.json'))).rejects.toThrow();

    // the same flags resume; --fresh starts over with new ones and records them
    const resumed = await cli([...TRAIN(out, 2, ['--resume']), '--json']);
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ step: 2, startStep: 1 });
    expect((await readFile(join(out, 'run.json'))).equals(runJson)).toBe(true);
    const again = await cli(TRAIN(out, 1, ['--seed', '9']));
    expect(again.code).toBe(1);
    expect(errors(again.stderr)).toMatch(/pass --resume to continue it, --fresh to start it over/);
    const fresh = await cli([...TRAIN(out, 1, ['--fresh', '--seed', '9']), '--json']);
    expect(fresh.code).toBe(0);
    expect(JSON.parse(fresh.stdout)).toMatchObject({ step: 1, startStep: 0 });
    expect(JSON.parse(await readFile(join(out, 'run.json'), 'utf8'))).toMatchObject({
      seed: 9,
      steps: 1,
    });
    const both = await cli(TRAIN(out, 1, ['--fresh', '--resume']));
    expect(both.code).toBe(2);
    // one prefix: the library's "train: " is not repeated after "densehybrid train: "
    expect(errors(first.stderr)).toMatch(/^densehybrid train: interrupted; stopped at step 1\/2;/m);
  });
});

describe('infer output names', () => {
  const args = (out: string, inputs: string[]) => [
    'infer',
    '--checkpoint',
    runA,
    ...inputs,
    '--out',
    out,
    '--backend',
    'wasm',
    '--json',
  ];

  it('refuses two images with one output name, naming both, and writes nothing', async () => {
    const a = join(sh, 'test/images/test/t5/1.png');
    const b = join(sh, 'test/images/test/t6/1.png');
    const out = join(tmp.dir, 'clash');
    const r = await cli(args(out, [a, b]));
    expect(r.code).toBe(2);
    expect(errors(r.stderr)).toBe(
      `densehybrid infer: <image|dir>: expected each image to get its own output name, got ${a} and ${b}, both written as 1.* in --out; rename one, or infer them into separate --out folders`,
    );
    await expect(stat(`${out}.partial`)).rejects.toThrow();
    // a folder and a file inside it are one image
    const same = await cli(args(join(tmp.dir, 'same'), [join(sh, 'test/images/test/t5'), a]));
    expect(same.code).toBe(0);
    expect(JSON.parse(same.stdout).images).toEqual(['0', '1']);
  });

  it("names a folder's images <name>.* by their path below the folder, as the help says", async () => {
    const out = join(tmp.dir, 'named');
    const r = await cli(args(out, [join(sh, 'test/images/test')]));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).images).toEqual(['t5/0', 't5/1', 't6/0', 't6/1']);
    expect((await readdir(out)).sort()).toEqual(['infer.json', 't5', 't6']);
    expect((await readdir(join(out, 't5'))).sort()).toEqual([
      '0.heatmap.png',
      '0.openset.png',
      '0.overlay.png',
      '0.scores.npy',
      '1.heatmap.png',
      '1.openset.png',
      '1.overlay.png',
      '1.scores.npy',
    ]);
    expect((await readNpy(join(out, 't6/1.scores.npy'))).dtype).toBe('<f2');
    const help = await cli(['infer', '--help']);
    expect(help.stdout).toMatch(
      /<name> is the file name without its extension; an image found in a folder keeps its path below\nthat folder/,
    );
  });

  it('prints one "densehybrid infer:" prefix, not the library\'s "infer:" again', async () => {
    const missing = join(tmp.dir, 'nothing.png');
    const r = await cli(args(join(tmp.dir, 'm'), [missing]));
    expect(r.code).toBe(1);
    expect(errors(r.stderr)).toBe(
      `densehybrid infer: expected an image file or folder, got ${missing} (not found)`,
    );
  });
});
