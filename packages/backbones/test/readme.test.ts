import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('README example', () => {
  it('runs as written: shapes, parameter count and a checkpoint on disk', () => {
    const readme = readFileSync(join(pkg, 'README.md'), 'utf8');
    const code = /## Example\s+```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(code).toBeDefined();
    const js = ts.transpileModule(code!, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    // inside the package so that `@densehybrid/backbones` resolves; run from a temp folder so
    // that the example's relative `runs/demo` lands there
    const file = join(pkg, `.readme-example-${process.pid}.mjs`);
    const cwd = mkdtempSync(join(tmpdir(), 'dh-backbones-readme-'));
    writeFileSync(file, js);
    try {
      const run = spawnSync(process.execPath, [file], { encoding: 'utf8', cwd });
      expect(run.status, run.stderr).toBe(0);
      const lines = run.stdout.trim().split('\n');
      expect(lines[0]).toBe('[ 1, 24, 33, 128 ] [ 1, 24, 33, 3 ]');
      const [params, gflop, unit] = (lines[1] ?? '').split(' ');
      expect(Number(params)).toBeGreaterThan(100_000);
      expect(Number(gflop)).toBeGreaterThan(1);
      expect(unit).toBe('GFLOP');
      expect(existsSync(join(cwd, 'runs', 'demo', 'checkpoint.json'))).toBe(true);
    } finally {
      rmSync(file, { force: true });
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
