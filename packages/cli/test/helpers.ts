import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '@densehybrid/cli';
import type { AnyCommand, CliIo } from '@densehybrid/cli';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in-process and captures its output. */
export async function cli(
  argv: readonly string[],
  options: { commands?: readonly AnyCommand[]; io?: Partial<CliIo> } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const { stderr: tap, ...io } = options.io ?? {};
  const code = await runCli(
    argv,
    {
      stdout: (t) => (stdout += t),
      isTTY: false,
      ...io,
      stderr: (t) => {
        stderr += t;
        tap?.(t);
      },
    },
    options.commands ? { commands: options.commands } : {},
  );
  return { code, stdout, stderr };
}

export async function tempDir(
  prefix = 'dh-cli-',
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
