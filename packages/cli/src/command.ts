import type { FlagSpecs, GlobalFlags, ParsedFlags, PositionalSpec } from './args.js';
import type { CliIo, Progress, ProgressOptions } from './io.js';

/** What a command's `run` receives besides its flags. */
export interface CommandContext {
  readonly io: CliIo;
  /** Global flags (`--json`, `--verbose`, `--config`). */
  readonly globals: GlobalFlags;
  /** Positional arguments in order. */
  readonly positionals: readonly string[];
  /** Aborted on Ctrl-C: stop at the next safe point and leave a resumable state. */
  readonly signal: AbortSignal;
  /** A human line on stderr (suppressed nowhere; stdout stays clean for `--json`). */
  log(line: string): void;
  /** A line only with `--verbose`. */
  debug(line: string): void;
  /** A progress bar on stderr. */
  progress(options: ProgressOptions): Progress;
  /**
   * Prints the command's result: with `--json` as JSON on stdout; otherwise `human` (lines) on
   * stdout.
   */
  result(value: unknown, human: readonly string[]): void;
}

/**
 * One `densehybrid` sub-command. `run` resolves to an exit code (0 when undefined) and throws
 * on failure; `runCli` turns any error into one line on stderr.
 */
export interface Command<F extends FlagSpecs = FlagSpecs> {
  /** The sub-command, e.g. `eval`. */
  readonly name: string;
  /** One line for `densehybrid --help`. */
  readonly summary: string;
  /** Longer text for `densehybrid <name> --help` (examples, outputs). */
  readonly description?: string;
  readonly flags: F;
  readonly positionals?: readonly PositionalSpec[];
  run(flags: ParsedFlags<F>, ctx: CommandContext): Promise<number | void>;
}

/**
 * Declares a command with its flag types inferred from `flags`.
 *
 * @example
 * ```ts
 * export const hello = defineCommand({
 *   name: 'hello',
 *   summary: 'greets',
 *   flags: { name: { type: 'string', default: 'world', description: 'who' } },
 *   async run(flags, ctx) { ctx.result({ hello: flags.name }, [`hello ${flags.name}`]); },
 * });
 * ```
 */
export function defineCommand<const F extends FlagSpecs>(command: Command<F>): Command<F> {
  return command;
}

/** A command of any flag set, as the registry stores it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = Command<any>;
