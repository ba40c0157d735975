/** Where a command writes; `runCli` fills in the process' streams for anything left out. */
export interface CliIo {
  /** Writes text to standard output (results, JSON). */
  readonly stdout: (text: string) => void;
  /** Writes text to standard error (progress, logs, errors). */
  readonly stderr: (text: string) => void;
  /** Whether stderr is an interactive terminal (progress bars redraw in place). @default process.stderr.isTTY */
  readonly isTTY: boolean;
  /** Aborted on Ctrl-C (bin.ts wires SIGINT). @default a signal that never aborts */
  readonly signal: AbortSignal;
  /** Base for relative paths. @default process.cwd() */
  readonly cwd: string;
  /** Environment variables. @default process.env */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Milliseconds clock for rates and ETAs. @default performance.now */
  readonly now: () => number;
  /** Terminal width; a redrawn progress line is cut to fit. @default process.stderr.columns, else 120 */
  readonly columns?: number;
}

/**
 * The process' standard streams as a {@link CliIo}; `signal` never aborts unless given.
 *
 * @example
 * ```ts
 * const io = processIo(new AbortController().signal);
 * io.stdout('hello\n');
 * ```
 */
export function processIo(signal?: AbortSignal): CliIo {
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    isTTY: Boolean(process.stderr.isTTY),
    signal: signal ?? new AbortController().signal,
    cwd: process.cwd(),
    env: process.env,
    now: () => performance.now(),
    columns: process.stderr.columns || 120,
  };
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** Total steps; 0 or undefined for an open-ended count. */
  readonly total?: number;
  /** Shown before the bar, e.g. `train`. */
  readonly label: string;
  /** Items per step for the rate, e.g. the batch size. @default 1 */
  readonly itemsPerStep?: number;
  /** Unit of the rate. @default 'images' */
  readonly unit?: string;
  /** Minimum milliseconds between two plain (non-TTY) lines. @default 10000 */
  readonly plainIntervalMs?: number;
  /** Steps already done (a resumed run): the rate counts only new steps. @default 0 */
  readonly start?: number;
}

/** A progress display: a redrawn bar on a TTY, plain periodic lines otherwise. */
export interface Progress {
  /** Advances by `steps` (default 1) and shows `info` (e.g. loss terms) beside the bar. */
  tick(steps?: number, info?: Readonly<Record<string, number | string>>): void;
  /** Ends the display with a final line. */
  done(message?: string): void;
  /** Steps done so far. */
  readonly step: number;
}

/**
 * Formats seconds as `1h02m`, `3m05s`, `12s`.
 *
 * @example
 * ```ts
 * formatDuration(125); // '2m05s'
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s >= 3600)
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

function formatInfo(info: Readonly<Record<string, number | string>> | undefined): string {
  if (!info) return '';
  return Object.entries(info)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? formatNumber(v) : v}`)
    .join('  ');
}

/**
 * Four significant digits, no exponent for ordinary magnitudes.
 *
 * @example
 * ```ts
 * formatNumber(123.456); // '123.5'
 * ```
 */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2);
  return Number(v.toPrecision(4)).toString();
}

/**
 * A progress display on `io.stderr`: step/total, rate (`unit`/s), ETA and `info`. On a TTY it
 * redraws one line; otherwise it prints a line every `plainIntervalMs` and at each 10 %.
 *
 * @example
 * ```ts
 * const p = createProgress(processIo(), { label: 'eval', total: 500 });
 * for (let i = 0; i < 500; i++) p.tick(1);
 * p.done();
 * ```
 */
export function createProgress(io: CliIo, options: ProgressOptions): Progress {
  const total = options.total ?? 0;
  const unit = options.unit ?? 'images';
  const per = options.itemsPerStep ?? 1;
  const interval = options.plainIntervalMs ?? 10_000;
  const start = options.start ?? 0;
  const t0 = io.now();
  let step = start;
  let lastPlain = t0;
  let lastDecile = total > 0 ? Math.floor((start / total) * 10) : 0;
  let lastDraw = -Infinity;
  let lastInfo: Readonly<Record<string, number | string>> | undefined;
  let finished = false;
  let lastPrinted = -1;
  const line = (): string => {
    const elapsed = (io.now() - t0) / 1000;
    const rate = elapsed > 0 ? ((step - start) * per) / elapsed : 0;
    const parts = [options.label];
    if (total > 0) {
      const frac = Math.min(1, step / total);
      if (io.isTTY) {
        const width = 24;
        const full = Math.round(frac * width);
        parts.push(`[${'█'.repeat(full)}${'░'.repeat(width - full)}]`);
      }
      parts.push(`${step}/${total}`);
    } else {
      parts.push(`${step}`);
    }
    if (step > start) parts.push(`${formatNumber(rate)} ${unit}/s`);
    if (total > 0 && step > start && step < total) {
      parts.push(`ETA ${formatDuration(((total - step) * elapsed) / (step - start))}`);
    } else if (step >= total && total > 0) {
      parts.push(`in ${formatDuration(elapsed)}`);
    }
    const info = formatInfo(lastInfo);
    if (info) parts.push(info);
    return parts.join('  ');
  };
  return {
    get step() {
      return step;
    },
    tick(steps = 1, info) {
      step += steps;
      if (info) lastInfo = info;
      const now = io.now();
      if (io.isTTY) {
        if (now - lastDraw >= 100 || step >= total) {
          io.stderr(`\r\x1b[2K${line().slice(0, Math.max(20, (io.columns ?? 120) - 1))}`);
          lastDraw = now;
        }
        return;
      }
      const decile = total > 0 ? Math.floor((step / total) * 10) : 0;
      if (now - lastPlain >= interval || decile > lastDecile) {
        io.stderr(`${line()}\n`);
        lastPrinted = step;
        lastPlain = now;
        lastDecile = decile;
      }
    },
    done(message) {
      if (finished) return;
      finished = true;
      if (io.isTTY) io.stderr(`\r\x1b[2K${line()}${message ? `  ${message}` : ''}\n`);
      else if (lastPrinted !== step || message)
        io.stderr(`${line()}${message ? `  ${message}` : ''}\n`);
    },
  };
}

/**
 * Lets Node run pending macrotasks (signal handlers such as Ctrl-C, timers, I/O callbacks).
 * A loop whose awaits all resolve as microtasks (wasm/cpu `tensor.data()`) would otherwise
 * never see SIGINT; long loops call this once per step.
 *
 * @example
 * ```ts
 * for (const x of work) { await step(x); await yieldToEventLoop(); if (signal.aborted) break; }
 * ```
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
