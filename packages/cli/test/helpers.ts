import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
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

/**
 * `densehybrid train` arguments for the fixture StreetHazards + ADE20k folders: tiny LDN, batch 1,
 * 32² crops, lr 0.01, wasm.
 */
export function fixtureTrainArgs(
  streetHazards: string,
  ade: string,
  out: string,
  steps: number,
  extra: readonly string[] = [],
): string[] {
  return [
    'train',
    '--dataset',
    'streethazards',
    '--root',
    streetHazards,
    '--negatives-root',
    ade,
    '--backbone',
    'tiny',
    '--steps',
    String(steps),
    '--batch-size',
    '1',
    '--crop-size',
    '32',
    '--learning-rate',
    '0.01',
    '--backend',
    'wasm',
    '--out',
    out,
    ...extra,
  ];
}

/**
 * `densehybrid eval` arguments on the wasm backend: `--checkpoint`, `--dataset`, `--root`, and
 * `--out` when given, then `extra`.
 */
export function fixtureEvalArgs(
  checkpoint: string,
  dataset: string,
  root: string,
  out?: string,
  extra: readonly string[] = [],
): string[] {
  return [
    'eval',
    '--checkpoint',
    checkpoint,
    '--dataset',
    dataset,
    '--root',
    root,
    ...(out === undefined ? [] : ['--out', out]),
    '--backend',
    'wasm',
    ...extra,
  ];
}

/** `densehybrid eval --scores <maps>` arguments (no checkpoint): `--dataset`, `--root`, `--out`, then `extra`. */
export function scoreMapsEvalArgs(
  dataset: string,
  root: string,
  maps: string,
  out: string,
  extra: readonly string[] = [],
): string[] {
  return ['eval', '--scores', maps, '--dataset', dataset, '--root', root, '--out', out, ...extra];
}

/**
 * Runs a `densehybrid eval` with `--json`, expects it to succeed without an error line, and
 * returns its metrics.json document.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the metrics.json document
export async function evalJson(args: readonly string[]): Promise<Record<string, any>> {
  const r = await cli([...args, '--json']);
  expect(r.stderr).not.toMatch(/densehybrid eval:/);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}
