import { readFile } from 'node:fs/promises';
import { DenseHybridError } from '@densehybrid/metrics-openiou';
import {
  describeResumeKeyDifferences,
  resumeKeyDifferences,
  type ResumeKey,
} from '@densehybrid/metrics-openiou/node';
import { CliUsageError } from './args.js';

/**
 * A JSON record a run left beside its output (a resume key, `run.json`): `undefined` when there
 * is none, `null` when it cannot be parsed.
 *
 * @throws DenseHybridError `IO` naming the file when it exists but cannot be read
 * @example
 * ```ts
 * const stored = await readRecord(join(staged.dir, 'infer.json')); // undefined on a new run
 * ```
 */
export async function readRecord(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DenseHybridError(
      'IO',
      `expected ${JSON.stringify(path)} to be readable, got ${(e as Error).message}`,
      { cause: e },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/**
 * Refuses to continue an output that another run wrote: compares the key `stored` with it with
 * this run's and throws when a field differs (a different `format` or `version` alone is named
 * when it differs: the other fields are then not comparable).
 *
 * @param subject - what holds the output, e.g. `--out runs/x holds a partial evaluation`
 * @param stored - the key read from the output (any JSON; `null` for an unreadable one)
 * @param current - this run's key
 * @param hint - how to proceed, e.g. `rerun with --fresh to start over`
 * @throws CliUsageError (exit 2): `<subject> of another run (stored vs now: checkpoint differs:
 *   a1b2… vs c3d4…; scores differ: hybrid vs hybrid,max-softmax); <hint>`
 * @example
 * ```ts
 * checkResumeKey(`--out ${out} holds a partial evaluation`, state.key, key, 'rerun with --fresh to start over');
 * ```
 */
export function checkResumeKey(
  subject: string,
  stored: unknown,
  current: ResumeKey,
  hint: string,
): void {
  const differences = resumeKeyDifferences(stored, current);
  if (differences.length === 0) return;
  const envelope = differences.filter((d) => d.field === 'format' || d.field === 'version');
  const what =
    stored === null || typeof stored !== 'object'
      ? 'its record is unreadable'
      : `stored vs now: ${describeResumeKeyDifferences(envelope.length > 0 ? envelope : differences)}`;
  throw new CliUsageError(`${subject} of another run (${what}); ${hint}`);
}
