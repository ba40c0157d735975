import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runReadmeExample } from '../../../test-support/readme-example.js';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('README example', () => {
  it('runs as written: the contract and one detection at an odd size', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'dh-onnx-readme-'));
    try {
      const run = runReadmeExample(pkg, { cwd });
      expect(run.status, run.stderr).toBe(0);
      const lines = run.stdout
        .trim()
        .split('\n')
        .filter((l) => !/tfjs-node|^=+$|^\s*$/.test(l));
      expect(lines.slice(-2)).toEqual(['NHWC [ 0, 1 ] true', '2745 2745 2745']);
      expect(run.lines).toBeLessThanOrEqual(17);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
