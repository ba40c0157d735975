import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COMMANDS,
  DenseHybridError,
  createProgress,
  defineCommand,
  formatDuration,
  kebabCase,
  parseArgs,
} from '@densehybrid/cli';
import type { CliIo } from '@densehybrid/cli';
import { cli, tempDir } from './helpers.js';

const seen: unknown[] = [];
const hello = defineCommand({
  name: 'hello',
  summary: 'test command',
  flags: {
    name: { type: 'string', default: 'world', description: 'who to greet' },
    negativesRoot: { type: 'path', description: 'a folder' },
    steps: { type: 'integer', min: 1, description: 'steps' },
    tag: { type: 'string[]', description: 'tags' },
    mode: { type: 'string', choices: ['a', 'b'], default: 'a', description: 'mode' },
    fail: {
      type: 'string',
      choices: ['none', 'typed', 'plain', 'abort'],
      default: 'none',
      description: 'fail how',
    },
  },
  positionals: [{ name: 'inputs', description: 'inputs', variadic: true }],
  async run(flags, ctx) {
    seen.push({ ...flags, positionals: ctx.positionals });
    if (flags.fail === 'typed')
      throw new DenseHybridError('IO', 'readImage: expected a PNG, got "x.txt"');
    if (flags.fail === 'plain') throw new Error('boom\nsecond line');
    if (flags.fail === 'abort') {
      const e = new Error('stopped');
      e.name = 'AbortError';
      throw e;
    }
    ctx.result({ greeting: `hello ${flags.name}`, steps: flags.steps ?? null }, [
      `hello ${flags.name}`,
    ]);
  },
});
const commands = [hello];

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => tmp.cleanup());

describe('runCli', () => {
  it('lists commands and exits 0 with no arguments', async () => {
    const r = await cli([], { commands });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/hello\s+test command/);
  });

  it('rejects an unknown command with exit 2', async () => {
    const r = await cli(['helo'], { commands });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "helo"; expected one of hello/);
  });

  it('prints one usage line and exits 2 for an unknown flag, with a suggestion', async () => {
    const r = await cli(['hello', '--nmae', 'x'], { commands });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      'densehybrid hello: unknown flag --nmae (did you mean --name?); run with --help to list flags',
    ]);
  });

  it('validates types, ranges and choices', async () => {
    expect((await cli(['hello', '--steps', '1.5'], { commands })).stderr).toMatch(
      /--steps: expected an integer, got "1.5"/,
    );
    expect((await cli(['hello', '--steps', '0'], { commands })).stderr).toMatch(
      /--steps: expected a value ≥ 1/,
    );
    const c = await cli(['hello', '--mode', 'c'], { commands });
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/--mode: expected one of a \| b, got "c"/);
    expect((await cli(['hello', '--steps'], { commands })).stderr).toMatch(
      /--steps: expected a value/,
    );
  });

  it('prints help for a command with its flags and defaults', async () => {
    const r = await cli(['hello', '--help'], { commands });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--negatives-root <path>/);
    expect(r.stdout).toMatch(/default world/);
    expect(r.stdout).toMatch(/--config <file.json>/);
  });

  it('parses --flag=value, kebab case, repeated lists, positionals and --json', async () => {
    const r = await cli(
      ['hello', '--name=ann', '--steps', '3', '--tag', 'x', '--tag=y', 'in1', 'in2', '--json'],
      {
        commands,
        io: { cwd: tmp.dir },
      },
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ greeting: 'hello ann', steps: 3 });
    expect(seen.at(-1)).toMatchObject({
      name: 'ann',
      steps: 3,
      tag: ['x', 'y'],
      positionals: ['in1', 'in2'],
    });
  });

  it('reads --config (camelCase and kebab keys, paths relative to the file) and lets flags override it', async () => {
    await mkdir(join(tmp.dir, 'cfg'), { recursive: true });
    const cfg = join(tmp.dir, 'cfg', 'c.json');
    await writeFile(cfg, JSON.stringify({ name: 'cfg', 'negatives-root': 'ade', steps: 7 }));
    const r = await cli(['hello', '--config', cfg, '--steps', '9'], { commands, io: { cwd: '/' } });
    expect(r.code).toBe(0);
    expect(seen.at(-1)).toMatchObject({
      name: 'cfg',
      negativesRoot: join(tmp.dir, 'cfg', 'ade'),
      steps: 9,
    });
    await writeFile(cfg, JSON.stringify({ nmae: 'x' }));
    const bad = await cli(['hello', '--config', cfg], { commands });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown key "nmae".*did you mean "name"/);
    const missing = await cli(['hello', '--config', join(tmp.dir, 'nope.json')], { commands });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--config: expected a readable JSON file.*ENOENT/);
  });

  it('turns errors into exactly one line and exit 1; --verbose adds the stack', async () => {
    const typed = await cli(['hello', '--fail', 'typed'], { commands });
    expect(typed.code).toBe(1);
    expect(typed.stderr).toBe('densehybrid hello: readImage: expected a PNG, got "x.txt"\n');
    const plain = await cli(['hello', '--fail', 'plain'], { commands });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toBe('densehybrid hello: boom\n');
    const verbose = await cli(['hello', '--fail', 'plain', '--verbose'], { commands });
    expect(verbose.stderr).toMatch(/^densehybrid hello: boom\n[\s\S]*at /);
  });

  it('exits 130 when interrupted', async () => {
    const r = await cli(['hello', '--fail', 'abort'], { commands });
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/interrupted/);
  });
});

describe('the registered commands', () => {
  it('each prints --help with every one of its flags and exits 0', async () => {
    expect(COMMANDS.map((c) => c.name)).toEqual(
      expect.arrayContaining(['train', 'eval', 'infer', 'calibrate', 'bench']),
    );
    for (const c of COMMANDS) {
      const r = await cli([c.name, '--help']);
      expect(r.code, c.name).toBe(0);
      for (const flag of Object.keys(c.flags))
        expect(r.stdout, `${c.name} --${flag}`).toContain(`--${kebabCase(flag)}`);
    }
  });

  it('reports a missing required flag as a usage error', async () => {
    const r = await cli(['eval', '--dataset', 'streethazards', '--root', '/x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'densehybrid eval: --checkpoint: expected a value (run-dir), got nothing; it is required\n',
    );
  });
});

describe('parseArgs', () => {
  it('supports --no-flag for booleans and -- for positionals', async () => {
    const specs = { dry: { type: 'boolean', default: true, description: '' } } as const;
    const r = await parseArgs(['--no-dry', '--', '--x'], specs, {
      cwd: '/',
      positionals: [{ name: 'files', description: '', variadic: true }],
    });
    expect(r.flags.dry).toBe(false);
    expect(r.positionals).toEqual(['--x']);
  });
});

describe('createProgress', () => {
  it('prints plain lines with step/total, rate and ETA when not a TTY', () => {
    let t = 0;
    let err = '';
    const io: CliIo = {
      stdout: () => {},
      stderr: (s) => (err += s),
      isTTY: false,
      signal: new AbortController().signal,
      cwd: '/',
      env: {},
      now: () => t,
    };
    const p = createProgress(io, {
      label: 'train',
      total: 10,
      itemsPerStep: 4,
      plainIntervalMs: 1e9,
    });
    t = 1000;
    p.tick(1, { loss: 0.5 });
    // 1 step of 4 images in 1 s: 4 images/s, 9 steps left at 1 s each
    expect(err).toBe('train  1/10  4 images/s  ETA 9s  loss 0.5\n');
    t = 2000;
    p.tick(1);
    expect(err.split('\n').length).toBe(3);
    p.done();
    expect(p.step).toBe(2);
  });

  it('redraws one line on a TTY', () => {
    let err = '';
    let t = 0;
    const io: CliIo = {
      stdout: () => {},
      stderr: (s) => (err += s),
      isTTY: true,
      signal: new AbortController().signal,
      cwd: '/',
      env: {},
      now: () => (t += 200),
    };
    const p = createProgress(io, { label: 'eval', total: 4 });
    p.tick();
    p.tick();
    expect(err.startsWith(`\r\u001b[2Keval  [${'█'.repeat(6)}${'░'.repeat(18)}]  1/4`)).toBe(true);
    expect(err).not.toMatch(/\n/);
  });

  it('formats durations', () => {
    expect(formatDuration(59.6)).toBe('1m00s');
    expect(formatDuration(3725)).toBe('1h02m');
  });
});
