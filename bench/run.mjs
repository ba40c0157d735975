#!/usr/bin/env node
// Runs every benchmark under bench/<topic>/index.mjs, one after another, in this process's
// environment. `npm run bench` runs them all; `npm run bench -- metrics head` runs the named ones;
// flags after `--` that start with `-` are passed to every benchmark (e.g. `--backend webgpu`),
// with their values (`npm run bench -- eval-scale --frames 100,300`).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const topics = readdirSync(here, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(here, d.name, 'index.mjs')))
  .map((d) => d.name)
  .sort();
// a flag's value (`--frames 100,300`) passes through with it unless it names a benchmark
const isValue = (a, i) =>
  i > 0 && args[i - 1].startsWith('--') && !a.startsWith('-') && !topics.includes(a);
const wanted = args.filter((a, i) => !a.startsWith('-') && !isValue(a, i));
const passThrough = args.filter((a, i) => a.startsWith('-') || isValue(a, i));
const unknown = wanted.filter((w) => !topics.includes(w));
if (unknown.length > 0) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')}; available: ${topics.join(', ')}`);
  process.exit(2);
}
const selected = wanted.length > 0 ? wanted : topics;
let failed = 0;
for (const topic of selected) {
  console.log(`\n=== bench/${topic} ===`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(here, topic, 'index.mjs'), ...passThrough], {
    stdio: 'inherit',
  });
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) {
    failed++;
    console.error(`bench/${topic} failed (exit ${r.status ?? r.signal}) after ${s} s`);
  } else console.log(`bench/${topic} finished in ${s} s`);
}
process.exit(failed > 0 ? 1 : 0);
