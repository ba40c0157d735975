import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runReadmeExample } from '../../../test-support/readme-example.js';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('README example', () => {
  it('runs as written: shapes, parameter count and a rebuild from the config', () => {
    // run from a temp folder, so that nothing the example might write lands in the package
    const cwd = mkdtempSync(join(tmpdir(), 'dh-backbones-readme-'));
    try {
      const run = runReadmeExample(pkg, { lang: 'ts', cwd });
      expect(run.status, run.stderr).toBe(0);
      const lines = run.stdout.trim().split('\n');
      expect(lines[0]).toBe('[ 1, 24, 33, 128 ] [ 1, 24, 33, 3 ]');
      const [params, gflop, unit] = (lines[1] ?? '').split(' ');
      expect(Number(params)).toBeGreaterThan(100_000);
      expect(Number(gflop)).toBeGreaterThan(1);
      expect(unit).toBe('GFLOP');
      expect(lines[2]).toBe('ladderDenseNet 1');
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
