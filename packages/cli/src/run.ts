import { readFileSync } from 'node:fs';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import { CliUsageError, GLOBAL_FLAGS, didYouMean, formatFlagHelp, parseArgs } from './args.js';
import type { AnyCommand, CommandContext } from './command.js';
import { COMMANDS } from './commands/index.js';
import { createProgress, processIo } from './io.js';
import type { CliIo } from './io.js';

/** Exit codes of `densehybrid`. */
export const EXIT_CODES = {
  /** Success. */
  ok: 0,
  /** A runtime failure: a file, a dataset, a checkpoint, a backend. */
  runtime: 1,
  /** A usage mistake: unknown flag, bad value, missing argument. */
  usage: 2,
  /** Stopped by Ctrl-C; the run can be resumed. */
  interrupted: 130,
} as const;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The top-level help: every command with its summary. */
function formatMainHelp(commands: readonly AnyCommand[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'densehybrid — dense anomaly detection and open-set segmentation (DenseHybrid, ECCV 2022)',
    '',
    'usage: densehybrid <command> [flags]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'every command takes --help, --json, --config <file.json> and --verbose.',
    'exit codes: 0 ok, 1 runtime error, 2 usage error, 130 interrupted (resumable).',
    '',
  ].join('\n');
}

/** The help of one command: usage line, description, arguments, flags. */
function formatCommandHelp(command: AnyCommand): string {
  const pos = (command.positionals ?? [])
    .map((p) => {
      const s = `<${p.name}>${p.variadic ? '...' : ''}`;
      return p.required ? s : `[${s}]`;
    })
    .join(' ');
  const lines = [
    `usage: densehybrid ${command.name} [flags]${pos ? ` ${pos}` : ''}`,
    '',
    command.summary,
  ];
  if (command.description) lines.push('', command.description.trimEnd());
  if (command.positionals?.length) {
    lines.push('', 'arguments:');
    for (const p of command.positionals) lines.push(`  <${p.name}>  ${p.description}`);
  }
  if (Object.keys(command.flags).length) lines.push('', 'flags:', ...formatFlagHelp(command.flags));
  lines.push('', 'global flags:', ...formatFlagHelp(GLOBAL_FLAGS), '');
  return lines.join('\n');
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim() !== '') ?? text;
  return line.trim();
}

/**
 * The message for `densehybrid <cmd>: …`: its first line, without a leading `<cmd>: ` (library
 * messages start with the function's name, which is often the command's: `infer: expected …`).
 */
function errorLine(command: string, text: string): string {
  const line = firstLine(text);
  return line.startsWith(`${command}: `) ? line.slice(command.length + 2) : line;
}

function isAbort(e: unknown): boolean {
  return (
    (DenseHybridError.is(e) && e.code === 'INTERRUPTED') ||
    (e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError'))
  );
}

/** Options of {@link runCli}. */
export interface RunCliOptions {
  /** The commands to dispatch to. @default COMMANDS */
  readonly commands?: readonly AnyCommand[];
}

/**
 * Runs `densehybrid` in-process: parses `argv` (without `node` and the script), dispatches to a
 * command and resolves to its exit code. Never throws and never calls `process.exit`: any error
 * becomes one line `densehybrid <cmd>: <message>` on stderr (with the stack under `--verbose`).
 *
 * @param argv e.g. `['eval', '--checkpoint', 'run', '--dataset', 'fishyscapes', '--root', 'fs']`
 * @param io where output goes; anything left out uses the process' streams
 * @param options which commands exist
 * @returns 0 ok, 1 runtime error, 2 usage error, 130 interrupted (see {@link EXIT_CODES})
 * @example
 * ```ts
 * import { runCli } from '@densehybrid/cli';
 * let out = '';
 * const code = await runCli(['--help'], { stdout: (t) => (out += t) });
 * ```
 */
export async function runCli(
  argv: readonly string[],
  io: Partial<CliIo> = {},
  options: RunCliOptions = {},
): Promise<number> {
  const full: CliIo = { ...processIo(), ...io };
  const commands = options.commands ?? COMMANDS;
  const [name, ...rest] = argv;
  const names = commands.map((c) => c.name);
  const unknown = (what: string): number => {
    full.stderr(
      `densehybrid: unknown command ${JSON.stringify(what)}${didYouMean(what, names)}; expected one of ${names.join(', ')} (densehybrid --help)\n`,
    );
    return EXIT_CODES.usage;
  };
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    const command = commands.find((c) => c.name === topic);
    if (topic !== undefined && command === undefined) return unknown(topic);
    full.stdout(command ? formatCommandHelp(command) : formatMainHelp(commands));
    return EXIT_CODES.ok;
  }
  if (name === '--version' || name === '-V') {
    full.stdout(`${version()}\n`);
    return EXIT_CODES.ok;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) return unknown(name);
  let verbose = rest.includes('--verbose') || rest.includes('-v');
  try {
    const parsed = await parseArgs(rest, command.flags, {
      cwd: full.cwd,
      ...(command.positionals ? { positionals: command.positionals } : {}),
    });
    verbose = parsed.globals.verbose;
    if (parsed.globals.help) {
      full.stdout(formatCommandHelp(command));
      return EXIT_CODES.ok;
    }
    const ctx: CommandContext = {
      io: full,
      globals: parsed.globals,
      positionals: parsed.positionals,
      signal: full.signal,
      log: (line) => full.stderr(`${line}\n`),
      debug: (line) => {
        if (parsed.globals.verbose) full.stderr(`${line}\n`);
      },
      progress: (o) => createProgress(full, o),
      result: (value, human) => {
        if (parsed.globals.json) full.stdout(`${JSON.stringify(value, null, 2)}\n`);
        else if (human.length) full.stdout(`${human.join('\n')}\n`);
      },
    };
    const code = await command.run(parsed.flags, ctx);
    if (full.signal.aborted) return EXIT_CODES.interrupted;
    return code ?? EXIT_CODES.ok;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (isAbort(e) || full.signal.aborted) {
      full.stderr(
        `densehybrid ${command.name}: interrupted; ${errorLine(command.name, message)}\n`,
      );
      if (verbose && e instanceof Error && e.stack) full.stderr(`${e.stack}\n`);
      return EXIT_CODES.interrupted;
    }
    full.stderr(`densehybrid ${command.name}: ${errorLine(command.name, message)}\n`);
    if (verbose && e instanceof Error && e.stack) full.stderr(`${e.stack}\n`);
    // by name too: a command loaded from another copy of this package throws its own class
    const usage =
      e instanceof CliUsageError || (DenseHybridError.is(e) && e.name === 'CliUsageError');
    return usage ? EXIT_CODES.usage : EXIT_CODES.runtime;
  }
}
