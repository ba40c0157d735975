import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { formatFlagHelp, kebabCase, parseArgs } from '../src/args.js';
import type { FlagSpecs, ParsedFlags } from '../src/args.js';
import { defineCommand } from '../src/command.js';
import type { AnyCommand } from '../src/command.js';
import { COMMANDS } from '../src/commands/index.js';
import { createProgress, formatDuration } from '../src/io.js';
import type { CliIo } from '../src/io.js';
import { runCli } from '../src/run.js';
import { tempDir } from './helpers.js';

/** runCli from the sources, output captured. */
async function cli(
  argv: readonly string[],
  options: { commands?: readonly AnyCommand[]; io?: Partial<CliIo> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    argv,
    { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), isTTY: false, ...options.io },
    options.commands ? { commands: options.commands } : {},
  );
  return { code, stdout, stderr };
}

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
    // choices declared inline are literal unions; flags without choices stay string
    expectTypeOf(flags.mode).toEqualTypeOf<'a' | 'b'>();
    expectTypeOf(flags.fail).toEqualTypeOf<'none' | 'typed' | 'plain' | 'abort'>();
    expectTypeOf(flags.name).toEqualTypeOf<string>();
    expectTypeOf(flags.steps).toEqualTypeOf<number | undefined>();
    expectTypeOf(flags.tag).toEqualTypeOf<readonly string[]>();
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

  it('rejects an unknown command with exit 2 and one line naming the closest command', async () => {
    const r = await cli(['helo'], { commands });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'densehybrid: unknown command "helo" (did you mean "hello"?); expected one of hello (densehybrid --help)\n',
    );
    const far = await cli(['xyzzy'], { commands });
    expect(far.stderr).not.toMatch(/did you mean/);
    expect((await cli(['evl'])).stderr).toMatch(/did you mean "eval"\?/);
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
    expect(c.stderr).toBe('densehybrid hello: --mode: expected one of a | b, got "c"\n');
    const near = await cli(['hello', '--fail', 'typd'], { commands });
    expect(near.code).toBe(2);
    expect(near.stderr).toBe(
      'densehybrid hello: --fail: expected one of none | typed | plain | abort, got "typd" (did you mean "typed"?)\n',
    );
    expect((await cli(['hello', '--steps'], { commands })).stderr).toMatch(
      /--steps: expected a value/,
    );
  });

  it('prints help for a command with its flags, value names and one parenthesis of notes', async () => {
    const r = await cli(['hello', '--help'], { commands });
    expect(r.code).toBe(0);
    const line = (flag: string): string =>
      r.stdout.split('\n').find((l) => l.includes(`--${flag} `) || l.endsWith(`--${flag}`)) ?? '';
    expect(line('negatives-root')).toMatch(/--negatives-root <path> +a folder$/);
    expect(line('name')).toMatch(/--name <string> +who to greet \(default world\)$/);
    // short choices are the value's name, so the help does not list them again
    expect(line('mode')).toMatch(/--mode <a\|b> +mode \(default a\)$/);
    expect(line('fail')).toMatch(/--fail <none\|typed\|plain\|abort> +fail how \(default none\)$/);
    expect(r.stdout).toMatch(/--config <file.json>/);
  });

  it('names values by their choices in every command\'s help, with no "(…) (…)" and no line over 100 columns', async () => {
    for (const c of COMMANDS) {
      const r = await cli([c.name, '--help']);
      for (const l of r.stdout.split('\n')) {
        expect(l.length, `${c.name}: ${l}`).toBeLessThanOrEqual(100);
        expect(l, c.name).not.toMatch(/\) \(/);
      }
      const flags = r.stdout.slice(r.stdout.indexOf('flags:'));
      for (const [name, spec] of Object.entries(c.flags as FlagSpecs)) {
        if (spec.choices === undefined) continue;
        expect(flags, `${c.name} --${name}`).not.toMatch(
          new RegExp(`--${kebabCase(name)} <string>`),
        );
      }
    }
    const infer = await cli(['infer', '--help']);
    expect(infer.stdout).toMatch(
      /--colormap <inferno\|viridis\|gray> +heatmap colormap \(default inferno\)\n/,
    );
    // long choice lists: the first choice and an ellipsis, and the list in the one parenthesis
    expect(infer.stdout.replace(/\s+/g, ' ')).toContain(
      '--score <hybrid|…> anomaly score (higher = more anomalous; one of hybrid, generative, discriminative, max-softmax, max-logit, entropy; default hybrid)',
    );
    const evalHelp = await cli(['eval', '--help']);
    expect(evalHelp.stdout.replace(/\s+/g, ' ')).toContain(
      '--protocol <pooled|per-image> pooled pixels or per-image average (default: pooled; streethazards: per-image) --fpr-rule',
    );
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
    const r = await cli(['calibrate', '--dataset', 'streethazards', '--root', '/x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'densehybrid calibrate: --checkpoint: expected a value (run-dir), got nothing; it is required\n',
    );
    // eval takes a checkpoint or precomputed score maps
    const ev = await cli(['eval', '--dataset', 'streethazards', '--root', '/x']);
    expect(ev.code).toBe(2);
    expect(ev.stderr).toBe(
      'densehybrid eval: --checkpoint / --scores: expected one of them (a checkpoint to run, or a folder of score maps), got neither\n',
    );
  });
});

describe('defineCommand', () => {
  it('rejects a default outside its choices, at compile time and at run time', () => {
    const define = () =>
      defineCommand({
        name: 'bad',
        summary: '',
        flags: {
          // @ts-expect-error 'c' is not one of the choices
          mode: { type: 'string', choices: ['a', 'b'], default: 'c', description: '' },
        },
        async run() {},
      });
    expect(define).toThrow(DenseHybridError);
    expect(define).toThrow(
      /defineCommand\(bad\): expected --mode's default to be one of a \| b, got "c"/,
    );
    expect(() =>
      defineCommand({
        name: 'clash',
        summary: '',
        flags: { json: { type: 'path', description: '' } },
        async run() {},
      }),
    ).toThrow(/expected --json not to redefine a global flag/);
  });

  it('types list flags with choices as arrays of their literals', async () => {
    const specs = {
      kinds: { type: 'string[]', choices: ['x', 'y'], description: '' },
      root: { type: 'path', required: true, description: '' },
    } as const;
    const { flags } = await parseArgs(['--kinds', 'y', '--kinds=x', '--root', 'r'], specs, {
      cwd: '/data',
    });
    expectTypeOf(flags).toEqualTypeOf<ParsedFlags<typeof specs>>();
    expectTypeOf(flags).toEqualTypeOf<{
      readonly kinds: readonly ('x' | 'y')[];
      readonly root: string;
    }>();
    expect(flags).toEqual({ kinds: ['y', 'x'], root: '/data/r' });
  });
});

describe('formatFlagHelp', () => {
  it("merges its notes into the description's own parenthesis and wraps long lines", () => {
    const lines = formatFlagHelp(
      {
        device: {
          type: 'string',
          choices: ['wasm', 'cpu'],
          required: true,
          description: 'backend (default: automatic)',
        },
        words: { type: 'string', description: Array(30).fill('word').join(' ') },
        veryLongFlagNameIndeed: {
          type: 'string',
          choices: ['first-choice', 'second-choice'],
          description: 'x',
        },
      },
      90,
    );
    expect(lines[0]).toMatch(
      /^ {6}--device <wasm\|cpu> +backend \(default: automatic; required\)$/,
    );
    expect(lines.every((l) => l.length <= 90)).toBe(true);
    expect(lines.filter((l) => l.includes('word')).length).toBeGreaterThan(2);
    expect(lines.join(' ').match(/word/g)).toHaveLength(31); // 30 + the flag name
    // a flag wider than the column gets a line of its own
    expect(lines.at(-2)).toBe('      --very-long-flag-name-indeed <first-choice|second-choice>');
    expect(lines.at(-1)?.trim()).toBe('x');
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
