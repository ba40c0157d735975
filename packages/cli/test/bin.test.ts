import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

function run(
  args: string[],
  onStderr?: (text: string, kill: () => void) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, DENSEHYBRID_BACKEND: 'wasm' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr, () => child.kill('SIGINT'));
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('bin.js', () => {
  it('starts with a node shebang', async () => {
    expect((await readFile(bin, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('sets the exit code: 2 for a usage error', async () => {
    const r = await run(['infer', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'densehybrid infer: unknown flag --bogus; run with --help to list flags\n',
    );
  });

  it('turns Ctrl-C (SIGINT) into an abort: the command stops at the next step and exits 130', async () => {
    let sent = false;
    const r = await run(['bench', '--size', '32', '--iterations', '400'], (err, kill) => {
      if (!sent && /^bench {2}\d+\/400/m.test(err)) {
        sent = true;
        kill();
      }
    });
    expect(sent).toBe(true);
    expect(r.stderr).toMatch(/interrupt: finishing the current step/);
    expect(r.code).toBe(130);
  }, 30_000);
});
