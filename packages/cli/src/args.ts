import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { DenseHybridError, describeValue } from '@densehybrid/metrics-openiou';

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
  /** Allowed values of a `string` flag. */
  readonly choices?: readonly string[];
  /** Inclusive bounds of a `number` / `integer` flag. */
  readonly min?: number;
  readonly max?: number;
  /** One-letter alias, e.g. `o` for `-o`. */
  readonly short?: string;
  /** Name of the value in `--help`, e.g. `dir`. @default the type */
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

type ValueOf<S extends { readonly type: FlagType }> = S['type'] extends 'string' | 'path'
  ? string
  : S['type'] extends 'number' | 'integer'
    ? number
    : S['type'] extends 'boolean'
      ? boolean
      : readonly string[];

/**
 * The parsed values of a command's flags. A flag with a `default`, `required: true`, a boolean
 * or a repeatable flag always has a value; the others may be `undefined`.
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
export interface ParseArgsResult<F extends FlagSpecs> {
  readonly flags: ParsedFlags<F>;
  readonly globals: GlobalFlags;
  /** Positional arguments by their spec name (variadic ones as arrays). */
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
 * message and exits with code 2.
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

/**
 * `negatives-root` → `negativesRoot`.
 *
 * @example
 * ```ts
 * camelCase('negatives-root'); // 'negativesRoot'
 * ```
 */
export function camelCase(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function isList(type: FlagType): boolean {
  return type === 'string[]' || type === 'path[]';
}

function convert(name: string, spec: FlagSpec, raw: unknown, base: string, where: string): unknown {
  const flag = `--${kebabCase(name)}`;
  const bad = (expected: string): never => {
    throw new CliUsageError(`${flag}${where}: expected ${expected}, got ${describeValue(raw)}`);
  };
  switch (spec.type) {
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1' || raw === 'yes') return true;
      if (raw === 'false' || raw === '0' || raw === 'no') return false;
      return bad('true or false');
    }
    case 'number':
    case 'integer': {
      const n =
        typeof raw === 'number'
          ? raw
          : typeof raw === 'string' && raw.trim() !== ''
            ? Number(raw)
            : NaN;
      if (!Number.isFinite(n)) return bad(spec.type === 'integer' ? 'an integer' : 'a number');
      if (spec.type === 'integer' && !Number.isInteger(n)) return bad('an integer');
      if (spec.min !== undefined && n < spec.min) return bad(`a value ≥ ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) return bad(`a value ≤ ${spec.max}`);
      return n;
    }
    case 'string':
    case 'path': {
      if (typeof raw === 'number') raw = String(raw);
      if (typeof raw !== 'string') return bad('a string');
      if (spec.choices && !spec.choices.includes(raw))
        return bad(`one of ${spec.choices.join(' | ')}`);
      return spec.type === 'path' ? resolvePath(base, raw) : raw;
    }
    case 'string[]':
    case 'path[]': {
      const list = Array.isArray(raw) ? raw : [raw];
      return list.map((item) => {
        if (typeof item !== 'string') return bad('a string or a list of strings');
        if (spec.choices && !spec.choices.includes(item))
          return bad(`one of ${spec.choices.join(' | ')}`);
        return spec.type === 'path[]' ? resolvePath(base, item) : item;
      });
    }
  }
}

function resolvePath(base: string, p: string): string {
  if (p.startsWith('~/') && process.env['HOME']) return resolve(process.env['HOME'], p.slice(2));
  return isAbsolute(p) ? p : resolve(base, p);
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
  const cli = new Map<string, unknown>();
  const positionals: string[] = [];
  const lookup = (token: string): string | undefined => {
    const name = camelCase(token);
    return Object.hasOwn(all, name) ? name : undefined;
  };
  const unknown = (token: string): never => {
    const known = Object.keys(all).map((n) => `--${kebabCase(n)}`);
    const guess = closest(token, known);
    throw new CliUsageError(
      `unknown flag ${token}${guess ? ` (did you mean ${guess}?)` : ''}; run with --help to list flags`,
    );
  };
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
      if (name === undefined && key.startsWith('no-') && inline === undefined) {
        const neg = lookup(key.slice(3));
        if (neg !== undefined && all[neg]?.type === 'boolean') {
          cli.set(neg, false);
          continue;
        }
      }
    } else if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) {
      display = arg.slice(0, 2);
      name = byShort.get(arg.slice(1, 2));
      if (arg.length > 2) inline = arg.slice(2).replace(/^=/, '');
    } else {
      positionals.push(arg);
      continue;
    }
    if (name === undefined) return unknown(display);
    const spec = all[name] as FlagSpec;
    let raw: string;
    if (spec.type === 'boolean') {
      raw = inline ?? 'true';
    } else if (inline !== undefined) {
      raw = inline;
    } else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        throw new CliUsageError(
          `${display}: expected a value (${spec.placeholder ?? spec.type}), got nothing`,
        );
      }
      raw = next;
      i++;
    }
    const value = convert(name, spec, raw, options.cwd, '');
    if (isList(spec.type))
      cli.set(name, [...((cli.get(name) as string[] | undefined) ?? []), ...(value as string[])]);
    else cli.set(name, value);
  }

  const fromConfig = new Map<string, unknown>();
  const configPath = cli.get('config') as string | undefined;
  if (configPath !== undefined) {
    let text: string;
    try {
      text = await readFile(configPath, 'utf8');
    } catch (e) {
      throw new DenseHybridError(
        'IO',
        `--config: expected a readable JSON file, got ${JSON.stringify(configPath)} (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
        { cause: e },
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new CliUsageError(
        `--config: expected valid JSON in ${configPath}, got ${(e as Error).message}`,
      );
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new CliUsageError(
        `--config: expected a JSON object of flag values in ${configPath}, got ${describeValue(parsed)}`,
      );
    }
    const base = dirname(configPath);
    for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
      const name = lookup(key);
      if (name === undefined || name === 'config' || name === 'help') {
        const guess = closest(key, Object.keys(specs));
        throw new CliUsageError(
          `--config: unknown key "${key}" in ${configPath}${guess ? ` (did you mean "${guess}"?)` : ''}`,
        );
      }
      fromConfig.set(
        name,
        convert(name, all[name] as FlagSpec, value, base, ` (in ${configPath})`),
      );
    }
  }

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
  if (!globals.help) {
    for (const [name, spec] of Object.entries(specs)) {
      if (spec.required && out[name] === undefined) {
        throw new CliUsageError(
          `--${kebabCase(name)}: expected a value (${spec.placeholder ?? spec.type}), got nothing; it is required`,
        );
      }
    }
    const pos = options.positionals ?? [];
    const variadic = pos.some((p) => p.variadic);
    if (!variadic && positionals.length > pos.length) {
      throw new CliUsageError(
        `unexpected argument ${JSON.stringify(positionals[pos.length])}; ${pos.length === 0 ? 'this command takes no positional arguments' : `expected at most ${pos.length}`}`,
      );
    }
    const required = pos.filter((p) => p.required).length;
    if (positionals.length < required) {
      const missing = pos[positionals.length] as PositionalSpec;
      throw new CliUsageError(
        `expected <${missing.name}>${missing.variadic ? '...' : ''}, got nothing`,
      );
    }
  }
  for (const name of Object.keys(GLOBAL_FLAGS)) delete out[name];
  return { flags: out as ParsedFlags<F>, globals, positionals };
}

function closest(token: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(token.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= Math.max(2, Math.floor(token.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min(
        (row[j] as number) + 1,
        (row[j - 1] as number) + 1,
        prev + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      prev = tmp;
    }
  }
  return row[b.length] as number;
}

/**
 * Formats the flag table of `--help`.
 *
 * @example
 * ```ts
 * console.log(formatFlagHelp(evalCommand.flags).join('\n'));
 * ```
 */
export function formatFlagHelp(specs: FlagSpecs): string[] {
  const rows: [string, string][] = [];
  for (const [name, spec] of Object.entries(specs)) {
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${kebabCase(name)}${spec.type === 'boolean' ? '' : ` <${spec.placeholder ?? spec.type.replace('[]', '')}>`}${isList(spec.type) ? '...' : ''}`;
    const extra: string[] = [];
    if (spec.choices) extra.push(`one of ${spec.choices.join(' | ')}`);
    if (spec.required) extra.push('required');
    if (spec.default !== undefined && !(Array.isArray(spec.default) && spec.default.length === 0))
      extra.push(
        `default ${Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default)}`,
      );
    rows.push([flag, `${spec.description}${extra.length ? ` (${extra.join('; ')})` : ''}`]);
  }
  const width = Math.min(40, Math.max(...rows.map((r) => r[0].length)));
  return rows.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`);
}
