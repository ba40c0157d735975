import { checkFlagSpecs } from './args.js';
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

/** A `default` outside its flag's `choices` fails to type-check (and throws at run time). */
type DefaultsInChoices<F extends FlagSpecs> = {
  readonly [K in keyof F]: F[K] extends {
    readonly choices: readonly (infer C extends string)[];
    readonly default: unknown;
  }
    ? Omit<F[K], 'default'> & { readonly default: C | readonly C[] }
    : F[K];
};

/**
 * Declares a command with its flag types inferred from `flags`: `choices` written inline are
 * literal unions in `run`'s flags, so commands need no casts.
 *
 * @throws DenseHybridError `INVALID_OPTION` for a default outside its choices or a flag that
 *   redefines a global one
 * @example
 * ```ts
 * export const hello = defineCommand({
 *   name: 'hello',
 *   summary: 'greets',
 *   flags: {
 *     name: { type: 'string', default: 'world', description: 'who' },
 *     tone: { type: 'string', choices: ['plain', 'loud'], default: 'plain', description: 'how' },
 *   },
 *   async run(flags, ctx) {
 *     const text = flags.tone === 'loud' ? `HELLO ${flags.name}` : `hello ${flags.name}`; // tone: 'plain' | 'loud'
 *     ctx.result({ hello: flags.name }, [text]);
 *   },
 * });
 * ```
 */
export function defineCommand<const F extends FlagSpecs>(
  command: Command<F> & { readonly flags: DefaultsInChoices<F> },
): Command<F> {
  checkFlagSpecs(command.name, command.flags);
  return command;
}

/** A command of any flag set, as the registry stores it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = Command<any>;
