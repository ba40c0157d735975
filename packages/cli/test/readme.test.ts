import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('README example', () => {
  it('runs as written, prints the documented line and writes the files it names', async () => {
    const readme = readFileSync(join(pkg, 'README.md'), 'utf8');
    const code = /## Example\s+```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(code).toBeDefined();
    expect(code!.split('\n').filter((l) => l.trim() !== '').length).toBeLessThanOrEqual(15);
    const file = join(pkg, `.readme-example-${process.pid}.mjs`);
    const cwd = mkdtempSync(join(tmpdir(), 'dh-readme-'));
    writeFileSync(file, code!);
    try {
      const env = { ...process.env, DENSEHYBRID_BACKEND: 'wasm' };
      const run = spawnSync(process.execPath, [file], { encoding: 'utf8', cwd, env });
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
      rmSync(file, { force: true });
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
