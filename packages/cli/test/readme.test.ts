import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runReadmeExample } from '../../../test-support/readme-example.js';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('README example', () => {
  it('runs as written and prints the documented line', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'dh-readme-'));
    try {
      const run = runReadmeExample(pkg, { cwd, env: { DENSEHYBRID_BACKEND: 'wasm' } });
      expect(run.lines).toBeLessThanOrEqual(15);
      expect(run.stderr).toBe('');
      expect(run.stdout).toBe('0 wasm true 2\n');
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
