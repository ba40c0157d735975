/**
 * The `bin` that npm links: it must exist in a fresh clone (before any build), run the built
 * command, and say how to build when the build is missing.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  files: string[];
  version: string;
};
const binPath = manifest.bin['densehybrid'] as string;

describe('the densehybrid bin', () => {
  it('is a committed file, not build output: npm ci links it in a fresh clone', () => {
    expect(binPath).toBe('./bin/densehybrid.js');
    // git check-ignore exits 1 for a path that is not ignored (dist/ is).
    const ignored = spawnSync('git', ['check-ignore', '-q', join(pkg, binPath)]);
    expect(ignored.status).toBe(1);
    expect(manifest.files).toContain('bin');
    // npm ci links what the lockfile records, so it must name the same file.
    const lock = JSON.parse(readFileSync(join(pkg, '..', '..', 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { bin?: Record<string, string> }>;
    };
    expect(lock.packages['packages/cli']?.bin?.['densehybrid']).toBe(binPath.replace(/^\.\//, ''));
    expect(readFileSync(join(pkg, binPath), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('runs the built command', () => {
    const r = spawnSync(process.execPath, [join(pkg, binPath), '--version'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${manifest.version}\n`);
    expect(r.status).toBe(0);
  });

  it('before a build, says in one line to run `npm run build` (exit 1)', () => {
    const fresh = mkdtempSync(join(tmpdir(), 'dh-bin-'));
    try {
      mkdirSync(join(fresh, 'bin'));
      copyFileSync(join(pkg, binPath), join(fresh, 'bin', 'densehybrid.js'));
      const r = spawnSync(process.execPath, [join(fresh, 'bin', 'densehybrid.js'), '--help'], {
        encoding: 'utf8',
      });
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(
        `densehybrid: not built yet (${join(fresh, 'dist', 'bin.js')} is missing): run \`npm run build\` in the repository, then run the command again\n`,
      );
      expect(r.status).toBe(1);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });
});
