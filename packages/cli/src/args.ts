import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';

// The command line is tokenised here rather than by `node:util`'s `parseArgs`: on Node 20 that
// one has no `--no-flag`, takes `--next-flag` as a value, keeps the `=` of `-o=dir`, and knows
// only the exact spelling of a flag (we accept `--negatives-root` and `--negativesRoot`), so it
// would need as much code around it as the loop below. commander and yargs cannot read a
// `--config` file whose relative paths resolve against the file's folder.

/**
 * Value kinds a flag can take:
 * - `string`, `path` (a string resolved against the working directory, or against the config
 *   file's folder when it comes from `--config`), `number`, `integer`, `boolean`;
 * - `string[]`, `path[]`: repeatable (`--negatives a --negatives b`).
 */
export type FlagType = 'string' | 'path' | 'number' | 'integer' | 'boolean' | 'string[]' | 'path[]';

/** One flag of a command. The flag's key in {@link FlagSpecs} is its camelCase name. */
export interface FlagSpec {
  readonly type: FlagType;
  /** One line shown by `--help`. */
  readonly description: string;
  /** Value when neither the command line nor the config file sets it. */
  readonly default?: string | number | boolean | readonly string[];
  /** The command fails with a usage error when this flag is missing. @default false */
  readonly required?: boolean;
  /**
   * Allowed values of a `string` / `string[]` flag. Declared inline in `defineCommand` (or
   * `as const`), the parsed value is their literal union: `choices: ['a', 'b']` gives `'a' | 'b'`.
   */
  readonly choices?: readonly string[];
  /** Inclusive bounds of a `number` / `integer` flag. */
  readonly min?: number;
  readonly max?: number;
  /** Exclusive lower bound of a `number` flag: the value must be greater (`0` for a learning rate). */
  readonly exclusiveMin?: number;
  /** One-letter alias, e.g. `o` for `-o`. */
  readonly short?: string;
  /** Name of the value in `--help`, e.g. `dir`. @default the choices (`a|b`), else the type */
  readonly placeholder?: string;
}

/** The flags of a command by camelCase name (`negativesRoot` is `--negatives-root`). */
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** One positional argument of a command. */
export interface PositionalSpec {
  readonly name: string;
  readonly description: string;
  /** Takes every remaining positional argument. @default false */
  readonly variadic?: boolean;
  /** @default false */
  readonly required?: boolean;
}

type Choice<S> = S extends { readonly choices: readonly (infer C extends string)[] } ? C : string;

type ValueOf<S extends { readonly type: FlagType }> = S['type'] extends 'string'
  ? Choice<S>
  : S['type'] extends 'path'
    ? string
    : S['type'] extends 'number' | 'integer'
      ? number
      : S['type'] extends 'boolean'
        ? boolean
        : S['type'] extends 'string[]'
          ? readonly Choice<S>[]
          : readonly string[];

/**
 * The parsed values of a command's flags: `string` flags with `choices` as their literal union.
 * A flag with a `default`, `required: true`, a boolean or a repeatable flag always has a value;
 * the others may be `undefined`.
 *
 * @example
 * ```ts
 * type F = ParsedFlags<{ mode: { type: 'string'; choices: readonly ['a', 'b']; default: 'a'; description: '' } }>;
 * // { readonly mode: 'a' | 'b' }
 * ```
 */
export type ParsedFlags<F extends FlagSpecs> = {
  readonly [K in keyof F]: F[K] extends { readonly default: unknown }
    ? ValueOf<F[K]>
    : F[K] extends { readonly required: true }
      ? ValueOf<F[K]>
      : F[K]['type'] extends 'boolean' | 'string[]' | 'path[]'
        ? ValueOf<F[K]>
        : ValueOf<F[K]> | undefined;
};

/** Flags every command understands. */
export interface GlobalFlags {
  /** `--help`, `-h`: print the command's help and exit 0. */
  readonly help: boolean;
  /** `--json`: machine-readable result on stdout (progress and logs go to stderr). */
  readonly json: boolean;
  /** `--verbose`: print stack traces of errors and more detail. */
  readonly verbose: boolean;
  /** `--config <file.json>`: flag values from a JSON file; command-line flags override it. */
  readonly config: string | undefined;
}

/** What {@link parseArgs} returns. */
interface ParseArgsResult<F extends FlagSpecs> {
  readonly flags: ParsedFlags<F>;
  readonly globals: GlobalFlags;
  /** Positional arguments in order. */
  readonly positionals: readonly string[];
}

/** The global flags' specs, shown in every command's `--help`. */
export const GLOBAL_FLAGS = {
  help: { type: 'boolean', short: 'h', description: 'show this help' },
  json: { type: 'boolean', description: 'print the result as JSON on stdout' },
  verbose: { type: 'boolean', short: 'v', description: 'print stack traces and more detail' },
  config: {
    type: 'path',
    placeholder: 'file.json',
    description: 'read flag values from a JSON file (keys in camelCase or kebab-case)',
  },
} as const satisfies FlagSpecs;

/**
 * A usage mistake (unknown flag, bad value, missing required flag). `runCli` prints its one-line
 * message and exits with code 2; a command's `run` throws it for usage mistakes it finds itself.
 *
 * @example
 * ```ts
 * throw new CliUsageError('--steps: expected an integer ≥ 1, got "0"'); // exit code 2
 * ```
 */
export class CliUsageError extends DenseHybridError {
  constructor(message: string) {
    super('INVALID_OPTION', message);
    this.name = 'CliUsageError';
  }
}

/**
 * `negativesRoot` → `negatives-root`.
 *
 * @example
 * ```ts
 * kebabCase('negativesRoot'); // 'negatives-root'
 * ```
 */
export function kebabCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function camelCase(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

const isList = (type: FlagType): boolean => type === 'string[]' || type === 'path[]';

function resolvePath(base: string, p: string): string {
  if (p.startsWith('~/') && process.env['HOME']) return resolve(process.env['HOME'], p.slice(2));
  return isAbsolute(p) ? p : resolve(base, p);
}

function convert(name: string, spec: FlagSpec, raw: unknown, base: string, where: string): unknown {
  const bad = (expected: string, got: unknown = raw, hint = ''): never => {
    throw new CliUsageError(
      `--${kebabCase(name)}${where}: expected ${expected}, got ${describeValue(got)}${hint}`,
    );
  };
  const text = (item: unknown): string => {
    if (typeof item === 'number' && !isList(spec.type)) item = String(item);
    if (typeof item !== 'string')
      return bad(isList(spec.type) ? 'a string or a list of strings' : 'a string');
    if (spec.choices && !spec.choices.includes(item))
      return bad(`one of ${spec.choices.join(' | ')}`, item, didYouMean(item, spec.choices));
    return spec.type === 'path' || spec.type === 'path[]' ? resolvePath(base, item) : item;
  };
  switch (spec.type) {
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1' || raw === 'yes') return true;
      if (raw === 'false' || raw === '0' || raw === 'no') return false;
      return bad('true or false');
    case 'number':
    case 'integer': {
      const n =
        typeof raw === 'number'
          ? raw
          : typeof raw === 'string' && raw.trim() !== ''
            ? Number(raw)
            : NaN;
      const kind = spec.type === 'integer' ? 'an integer' : 'a number';
      if (!Number.isFinite(n) || (spec.type === 'integer' && !Number.isInteger(n)))
        return bad(kind);
      if (spec.min !== undefined && n < spec.min) return bad(`a value ≥ ${spec.min}`);
      if (spec.exclusiveMin !== undefined && !(n > spec.exclusiveMin))
        return bad(`a value > ${spec.exclusiveMin}`);
      if (spec.max !== undefined && n > spec.max) return bad(`a value ≤ ${spec.max}`);
      return n;
    }
    case 'string':
    case 'path':
      return text(raw);
    case 'string[]':
    case 'path[]':
      return (Array.isArray(raw) ? raw : [raw]).map(text);
  }
}

/**
 * Parses a command's arguments: `--flag value`, `--flag=value`, `-f value`, `--no-flag` for
 * booleans, repeated list flags, `--` ends flags. `--config file.json` supplies defaults whose
 * keys are flag names in camelCase or kebab-case; the command line wins over the file.
 *
 * @param argv the arguments after the command name
 * @param specs the command's flags
 * @param options `cwd` resolves relative paths; `positionals` limits positional arguments
 * @returns the typed flag values, the global flags and the positional arguments
 * @throws CliUsageError for an unknown flag, a missing value, a value of the wrong type, a missing
 *   required flag or an unknown config key; DenseHybridError `IO` when the config file cannot be read
 * @example
 * ```ts
 * const { flags } = await parseArgs(['--steps', '10'], { steps: { type: 'integer', default: 5, description: '' } }, { cwd: process.cwd() });
 * flags.steps; // 10
 * ```
 */
export async function parseArgs<F extends FlagSpecs>(
  argv: readonly string[],
  specs: F,
  options: { readonly cwd: string; readonly positionals?: readonly PositionalSpec[] },
): Promise<ParseArgsResult<F>> {
  const all: Record<string, FlagSpec> = { ...GLOBAL_FLAGS, ...specs };
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(all)) if (spec.short) byShort.set(spec.short, name);
  const lookup = (token: string): string | undefined => {
    const name = camelCase(token);
    return Object.hasOwn(all, name) ? name : undefined;
  };
  const cli = new Map<string, unknown>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    let display = arg;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const key = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      display = `--${key}`;
      if (eq >= 0) inline = arg.slice(eq + 1);
      name = lookup(key);
      const negated = key.startsWith('no-') ? lookup(key.slice(3)) : undefined;
      if (
        name === undefined &&
        inline === undefined &&
        negated &&
        all[negated]?.type === 'boolean'
      ) {
        cli.set(negated, false);
        continue;
      }
    } else if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) {
      display = arg.slice(0, 2);
      name = byShort.get(arg.slice(1, 2));
      if (arg.length > 2) inline = arg.slice(2).replace(/^=/, '');
    } else {
      positionals.push(arg);
      continue;
    }
    if (name === undefined) {
      const known = Object.keys(all).map((n) => `--${kebabCase(n)}`);
      throw new CliUsageError(
        `unknown flag ${display}${didYouMean(display, known, '')}; run with --help to list flags`,
      );
    }
    const spec = all[name] as FlagSpec;
    let raw = spec.type === 'boolean' ? (inline ?? 'true') : inline;
    if (raw === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        throw new CliUsageError(`${display}: expected a value (${placeholder(spec)}), got nothing`);
      }
      raw = next;
      i++;
    }
    const value = convert(name, spec, raw, options.cwd, '');
    const before = isList(spec.type) ? ((cli.get(name) as string[] | undefined) ?? []) : undefined;
    cli.set(name, before ? [...before, ...(value as string[])] : value);
  }

  const configPath = cli.get('config') as string | undefined;
  const fromConfig =
    configPath === undefined ? new Map() : await readConfig(configPath, all, specs);

  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(all)) {
    let value = cli.has(name) ? cli.get(name) : fromConfig.get(name);
    if (value === undefined && spec.default !== undefined) {
      value =
        spec.type === 'path' && typeof spec.default === 'string'
          ? resolvePath(options.cwd, spec.default)
          : spec.default;
    }
    if (value === undefined && spec.type === 'boolean') value = false;
    if (value === undefined && isList(spec.type)) value = [];
    out[name] = value;
  }
  const globals: GlobalFlags = {
    help: out['help'] as boolean,
    json: out['json'] as boolean,
    verbose: out['verbose'] as boolean,
    config: out['config'] as string | undefined,
  };
  if (!globals.help) checkPresence(specs, out, positionals, options.positionals ?? []);
  for (const name of Object.keys(GLOBAL_FLAGS)) delete out[name];
  return { flags: out as ParsedFlags<F>, globals, positionals };
}

async function readConfig(
  path: string,
  all: Readonly<Record<string, FlagSpec>>,
  specs: FlagSpecs,
): Promise<Map<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new DenseHybridError(
      'IO',
      `--config: expected a readable JSON file, got ${JSON.stringify(path)} (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      { cause: e },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new CliUsageError(
      `--config: expected valid JSON in ${path}, got ${(e as Error).message}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CliUsageError(
      `--config: expected a JSON object of flag values in ${path}, got ${describeValue(parsed)}`,
    );
  }
  const values = new Map<string, unknown>();
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    const name = camelCase(key);
    if (!Object.hasOwn(all, name) || name === 'config' || name === 'help') {
      throw new CliUsageError(
        `--config: unknown key "${key}" in ${path}${didYouMean(key, Object.keys(specs))}`,
      );
    }
    values.set(name, convert(name, all[name] as FlagSpec, value, dirname(path), ` (in ${path})`));
  }
  return values;
}

function checkPresence(
  specs: FlagSpecs,
  out: Readonly<Record<string, unknown>>,
  positionals: readonly string[],
  pos: readonly PositionalSpec[],
): void {
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.required && out[name] === undefined) {
      throw new CliUsageError(
        `--${kebabCase(name)}: expected a value (${placeholder(spec)}), got nothing; it is required`,
      );
    }
  }
  if (!pos.some((p) => p.variadic) && positionals.length > pos.length) {
    throw new CliUsageError(
      `unexpected argument ${JSON.stringify(positionals[pos.length])}; ${pos.length === 0 ? 'this command takes no positional arguments' : `expected at most ${pos.length}`}`,
    );
  }
  if (positionals.length < pos.filter((p) => p.required).length) {
    const missing = pos[positionals.length] as PositionalSpec;
    throw new CliUsageError(
      `expected <${missing.name}>${missing.variadic ? '...' : ''}, got nothing`,
    );
  }
}

/**
 * ` (did you mean "x"?)` for the candidate closest to `token` in edit distance, or `''` when none
 * is close (at most 2 edits or a quarter of the token's length, and fewer than either length).
 *
 * @example
 * ```ts
 * didYouMean('infernoo', ['inferno', 'viridis']); // ' (did you mean "inferno"?)'
 * didYouMean('--nmae', ['--name'], ''); // ' (did you mean --name?)'
 * ```
 */
export function didYouMean(token: string, candidates: readonly string[], quote = '"'): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(token.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  const close = Math.max(2, Math.floor(token.length / 4));
  return best !== undefined && bestD <= close && bestD < Math.min(token.length, best.length)
    ? ` (did you mean ${quote}${best}${quote}?)`
    : '';
}

/** Levenshtein distance, one row at a time. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = Math.min(
        above + 1,
        (row[j - 1] as number) + 1,
        diagonal + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

/** Choices shown in full as the placeholder (`<a|b>`) up to this length, else `<first|…>`. */
const CHOICES_IN_PLACEHOLDER = 32;

/** The value's name in help and messages: the choices (`a|b`), the placeholder, or the type. */
function placeholder(spec: FlagSpec): string {
  const all = spec.choices?.join('|');
  if (all !== undefined && all.length <= CHOICES_IN_PLACEHOLDER) return all;
  if (spec.placeholder !== undefined) return spec.placeholder;
  if (spec.choices?.[0] !== undefined) return `${spec.choices[0]}|…`;
  return spec.type.replace('[]', '');
}

/**
 * Formats the flag table of `--help`: one flag per line, with its value's name (the choices
 * `<a|b>` when they are short), its description and one parenthesis of `one of …; required;
 * default …` (merged into the description's own trailing parenthesis), wrapped at `width`.
 *
 * @example
 * ```ts
 * console.log(formatFlagHelp(evalCommand.flags).join('\n'));
 * ```
 */
export function formatFlagHelp(specs: FlagSpecs, width = 100): string[] {
  const rows = Object.entries(specs).map(([name, spec]): [string, string] => {
    const value =
      spec.type === 'boolean' ? '' : ` <${placeholder(spec)}>${isList(spec.type) ? '...' : ''}`;
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${kebabCase(name)}${value}`;
    const extra: string[] = [];
    const all = spec.choices?.join('|');
    if (all !== undefined && all.length > CHOICES_IN_PLACEHOLDER)
      extra.push(`one of ${spec.choices?.join(', ')}`);
    if (spec.required) extra.push('required');
    const d = spec.default;
    if (d !== undefined && !(Array.isArray(d) && d.length === 0))
      extra.push(`default ${Array.isArray(d) ? d.join(',') : String(d)}`);
    const text = spec.description;
    const note = extra.join('; ');
    if (!note) return [flag, text];
    return [flag, text.endsWith(')') ? `${text.slice(0, -1)}; ${note})` : `${text} (${note})`];
  });
  const column = Math.min(40, Math.max(...rows.map((r) => r[0].length)));
  const pad = ' '.repeat(2 + column + 2);
  return rows.flatMap(([flag, text]) => {
    const [first = '', ...rest] = wrap(text, Math.max(30, width - pad.length));
    const head =
      flag.length > column
        ? [`  ${flag}`, `${pad}${first}`]
        : [`  ${flag.padEnd(column)}  ${first}`];
    return [...head, ...rest.map((line) => `${pad}${line}`)];
  });
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line];
}

/**
 * Checks a command's flag specs once, when the command is defined: every `default` among the
 * `choices`, no flag named like a global flag.
 *
 * @throws DenseHybridError `INVALID_OPTION` naming the flag
 * @example
 * ```ts
 * checkFlagSpecs('hello', { mode: { type: 'string', choices: ['a'], default: 'b', description: '' } }); // throws
 * ```
 */
export function checkFlagSpecs(command: string, specs: FlagSpecs): void {
  for (const [name, spec] of Object.entries(specs)) {
    const flag = `--${kebabCase(name)}`;
    const outside = [spec.default ?? []].flat().find((d) => !spec.choices?.includes(String(d)));
    const problem = Object.hasOwn(GLOBAL_FLAGS, name)
      ? `expected ${flag} not to redefine a global flag, got it`
      : spec.choices && outside !== undefined
        ? `expected ${flag}'s default to be one of ${spec.choices.join(' | ')}, got ${describeValue(outside)}`
        : undefined;
    if (problem)
      throw new DenseHybridError('INVALID_OPTION', `defineCommand(${command}): ${problem}`);
  }
}
