import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { runReadmeExample } from '../../../test-support/readme-example.js';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('README example', () => {
  it('runs as written, prints the documented line and writes the files it names', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'dh-readme-'));
    try {
      const run = runReadmeExample(pkg, { cwd, env: { DENSEHYBRID_BACKEND: 'wasm' } });
      expect(run.lines).toBeLessThanOrEqual(15);
      expect(run.stderr).toBe('');
      expect(run.stdout).toBe('0 wasm true 2x4\n');
      const heat = await sharp(join(cwd, 'heat.png')).raw().toBuffer({ resolveWithObject: true });
      expect([heat.info.width, heat.info.height]).toEqual([4, 2]);
      expect([...heat.data.subarray(0, 3)]).toEqual([0, 0, 4]); // inferno at the lowest score
      const labels = await sharp(join(cwd, 'labels.png'))
        .raw()
        .toBuffer({ resolveWithObject: true });
      expect([...labels.data.subarray(6, 9)]).toEqual([255, 255, 255]); // label 2 = unknown
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
