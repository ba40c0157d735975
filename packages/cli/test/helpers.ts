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
  const code = await runCli(
    argv,
    {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
      isTTY: false,
      ...options.io,
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
