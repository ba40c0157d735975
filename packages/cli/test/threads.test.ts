// --threads: the wasm convolutions' thread pool from the command line.
import { afterAll, describe, expect, it } from 'vitest';
import { setWasmThreads } from '@densehybrid/tfjs-wasm-training';
import { cli } from './helpers.js';

afterAll(() => {
  setWasmThreads(1);
});

describe('--threads', () => {
  it('sets the wasm thread pool of the convolutions and says so', async () => {
    const r = await cli([
      'bench',
      '--backend',
      'wasm',
      '--threads',
      '2',
      '--size',
      '32',
      '--iterations',
      '1',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { backend: { line: string } };
    expect(out.backend.line).toMatch(/; 2 threads\)/);
  });

  it('rejects 0 with one readable line and exit code 2', async () => {
    const r = await cli(['bench', '--backend', 'wasm', '--threads', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--threads/);
  });
});
