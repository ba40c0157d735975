#!/usr/bin/env node
// Proves each package installs alone from its npm tarball, outside the monorepo:
// `npm pack` every package, install the tarballs into a fresh empty project in a temp dir
// (tfjs comes from the registry as the peer dependency a user would add), then import each
// package and use it. Run after `npm run build`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'densehybrid-pack-'));
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
try {
  const dirs = readdirSync(join(root, 'packages'));
  const tarballs = {};
  for (const dir of dirs) {
    const out = run(
      'npm',
      ['pack', '--silent', '--pack-destination', work],
      join(root, 'packages', dir),
    );
    const pkg = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
    tarballs[pkg.name] = join(work, out.trim().split('\n').pop());
  }
  const check = (name, project, deps, script) => {
    const dir = join(work, project);
    run('mkdir', ['-p', dir]);
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: project, private: true, type: 'module', dependencies: deps }, null, 2),
    );
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], dir);
    writeFileSync(join(dir, 'check.mjs'), script);
    const out = run(process.execPath, ['check.mjs'], dir);
    console.log(`pack-check ${name}: ${out.trim()}`);
  };
  // metrics-openiou alone: no other package, no tfjs.
  check(
    '@densehybrid/metrics-openiou',
    'only-metrics',
    { '@densehybrid/metrics-openiou': `file:${tarballs['@densehybrid/metrics-openiou']}` },
    `import * as m from '@densehybrid/metrics-openiou';
import { readdirSync } from 'node:fs';
const installed = readdirSync('node_modules').filter((d) => !d.startsWith('.'));
if (installed.join() !== '@densehybrid') throw new Error('unexpected runtime dependencies: ' + installed);
const r = m.anomalyMetrics(new Float32Array([0.1, 0.9, 0.8, 0.2]), new Uint8Array([0, 1, 1, 0]));
if (r.ap !== 1 || r.auroc !== 1) throw new Error('wrong metrics ' + JSON.stringify(r));
console.log('ok, exports: ' + Object.keys(m).length + ', node_modules: ' + installed.join());
`,
  );
  // core with its own dependencies (as published tarballs) and the tfjs peers from the registry.
  const local = Object.fromEntries(
    ['metrics-openiou', 'losses', 'backbones', 'core'].map((d) => [
      `@densehybrid/${d}`,
      `file:${tarballs[`@densehybrid/${d}`]}`,
    ]),
  );
  check(
    '@densehybrid/core',
    'only-core',
    {
      ...local,
      '@tensorflow/tfjs-core': '4.22.0',
      '@tensorflow/tfjs-backend-wasm': '4.22.0',
      '@tensorflow/tfjs-layers': '4.22.0',
    },
    `import { initBackend } from '@densehybrid/core';
import * as tf from '@tensorflow/tfjs-core';
const report = await initBackend();
if (report.name !== 'wasm') throw new Error('expected wasm, got ' + report.name);
if (report.stockGradients === 'missing') throw new Error('tfjs stock gradients missing');
const y = tf.add(tf.scalar(1), tf.scalar(2));
const v = (await y.data())[0];
if (v !== 3) throw new Error('1 + 2 = ' + v);
console.log('ok, backend ' + report.name + ', simd ' + report.simd);
`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
